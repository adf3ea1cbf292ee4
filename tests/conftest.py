"""Shared fixtures: a copy of the demo project in a temporary folder, and a built site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "tests" / "data" / "seed" / "choreography-pattern.md"
"""The author's original article, kept byte for byte (see tests/data/seed/README.md)."""

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="the project's article shows its Redis runs, which need redis-server (.ci/run installs it): "
           "without it they are skipped, so the article does not pass strict checks",
)
"""For tests that need the repository's own article to pass in full (copy_project)."""


def copy_project(target: Path) -> Path:
    """Copy the demo site (config, docs, snippets) so a test can build or break it freely."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "mkdocs.yml", target / "mkdocs.yml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "docs", target / "docs", ignore=ignore)
    shutil.copytree(REPO / "snippets", target / "snippets", ignore=ignore)
    return target


def run_mkdocs(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PATTERN_ARTICLES_FRESH", None)
    env["NO_MKDOCS_2_WARNING"] = "1"  # MkDocs' own banner, not a build warning
    return subprocess.run(
        # not -q: MkDocs then drops warnings before --strict counts them
        [sys.executable, "-m", "mkdocs", "build", *args],
        cwd=project, capture_output=True, text=True, timeout=timeout, env=env,
    )


def tree_digest(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def built_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, subprocess.CompletedProcess[str], dict[str, bytes]]]:
    """The demo site built once with --strict; yields (project dir, the run, source digest before)."""
    project = copy_project(tmp_path_factory.mktemp("demo"))
    before = tree_digest(project / "docs") | {
        "snippets/" + k: v for k, v in tree_digest(project / "snippets").items()
    }
    result = run_mkdocs(project, "--strict", "-d", "site")
    yield project, result, before


def opening_of_definition(project: Path, bundle: str = "choreography") -> str:
    """The first sentence of a bundle's ``definition.text``, as its "What is" section shows it.

    Tests of the demo article look for this rather than a sentence copied from today's prose,
    so rewriting the article's text does not break them (and what they check stays: the
    definition reached the page)."""
    import yaml

    data = yaml.safe_load((project / "snippets" / bundle / "bundle.yml").read_text("utf-8"))
    text = " ".join(str(data["definition"]["text"]).split())
    return text.split(". ")[0].rstrip(".") + "."
