"""The code stays ruff- and mypy-clean: a real run of both, as a test, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed (pip install -e '.[test]' installs it)")
def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "plugin", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


BUNDLES = sorted(path.parent.name for path in (REPO / "snippets").glob("*/bundle.yml"))


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed (pip install -e '.[test]' installs it)")
@pytest.mark.parametrize("bundle", BUNDLES)
def test_each_bundle_is_ruff_clean_with_its_own_settings(bundle: str) -> None:
    """Every demo bundle, however many there are, each under its own ruff.toml when it has one
    (a bundle's listings are read in a blog's text column, so the demo's say 72 columns)."""
    result = run("ruff", "check", f"snippets/{bundle}")
    assert result.returncode == 0, f"snippets/{bundle}:\n" + result.stdout + result.stderr


def test_the_demo_site_has_bundles() -> None:
    assert BUNDLES, "no snippets/*/bundle.yml found: the per-bundle lint would check nothing"


def test_mypy_is_clean() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]' installs it)")
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
