"""The distribution as a user gets it: the sdist and the wheel built with ``python -m build``,
the wheel installed into a fresh virtual environment, and a new site made there with
``pattern-articles new`` and built with ``mkdocs build --strict``; the sdist's own tests run
against that install.

Why a copy of the repository is built, not the repository: building writes ``build/`` and
``*.egg-info`` next to the sources, and tests never write into the checkout. The wheel is
built from the sdist (what ``python -m build`` does by default), so an sdist missing a file
the wheel needs fails here too.

The fresh environment has no site packages of this one: pip installs the wheel with its
``mkdocs`` and ``redis`` extras (and pytest, for the sdist's tests) from the configured index or pip's cache.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.beyond.helpers import clean_env
from tests.beyond.test_new import FILLED, MKDOCS_YML

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# where the tests and the demo live: all of it must be in the sdist
SHIPPED = ("tests", "snippets", "docs", "benchmarks", ".ci", "examples")
SKIPPED_PARTS = {"__pycache__", ".cache", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _run(argv: list[str], cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", **env))
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _source_files() -> list[str]:
    """The repository's files under SHIPPED (and the top-level ones the sdist needs)."""
    files = ["pyproject.toml", "README.md", "LICENSE", "mkdocs.yml", "MANIFEST.in"]
    for folder in SHIPPED:
        for path in sorted((REPO / folder).rglob("*")):
            relative = path.relative_to(REPO)
            if path.is_file() and not SKIPPED_PARTS.intersection(relative.parts) and path.suffix != ".pyc":
                files.append(relative.as_posix())
    return files


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel), built from a copy of the repository."""
    pytest.importorskip("build", reason="the 'build' package builds the distributions (the test extra installs it)")
    tmp = tmp_path_factory.mktemp("dist")
    source = tmp / "source"
    ignore = shutil.ignore_patterns(".git", ".venv*", "site", "build", "dist", "*.egg-info", "test-artifacts",
                                    *SKIPPED_PARTS, "*.pyc")
    shutil.copytree(REPO, source, ignore=ignore)
    _run([sys.executable, "-m", "build", "--outdir", str(tmp / "out"), str(source)], cwd=tmp)
    (sdist,) = (tmp / "out").glob("*.tar.gz")
    (wheel,) = (tmp / "out").glob("*.whl")
    return sdist, wheel


def test_the_sdist_holds_everything_the_tests_need(dist: tuple[Path, Path]) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if "/" in m.name}
    missing = [name for name in _source_files() if name not in members]
    assert not missing, f"not in the sdist: {missing[:20]}"
    assert members[".ci/run"].mode & 0o111, ".ci/run stays executable"
    assert not [name for name in members if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_holds_the_package_data_and_the_metadata(dist: tuple[Path, Path]) -> None:
    _, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()
    package = REPO / "plugin" / "pattern_articles"
    for folder in ("templates", "assets"):
        for path in (package / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"pattern_articles/{path.relative_to(package).as_posix()}" in names, path
    assert "pattern_articles/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "snippets/", "docs/"))], "the wheel is the package only"
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    classifiers = set(metadata.get_all("Classifier") or [])
    for wanted in ("Framework :: MkDocs", "Framework :: Pytest", "Typing :: Typed",
                   *(f"Programming Language :: Python :: 3.{minor}" for minor in range(10, 14))):
        assert wanted in classifiers, wanted
    assert not [c for c in classifiers if c.startswith("License ::")], "PEP 639: the SPDX expression replaces them"
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("Markdown") for r in requires), "markdown_ext imports it"
    assert any(r.startswith("zensical") and 'python_version >= "3.11"' in r for r in requires)
    for line in ("pattern-articles = pattern_articles.adapters.cli:main",
                 "pattern-articles = pattern_articles.adapters.mkdocs_plugin:PatternArticlesPlugin",
                 "pattern_articles = pattern_articles.adapters.pytest_plugin"):
        assert line in entry_points, line


@pytest.fixture(scope="module")
def venv(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel with its mkdocs and redis extras (the demo's
    snippets import redis-py), and pytest."""
    _, wheel = dist
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
    _run([str(root / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[mkdocs,redis]", "pytest"],
         cwd=root.parent)
    return root


def test_a_new_site_builds_strict_with_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs" / "index.md").write_text("# A catalogue\n", "utf-8")
    (site / "mkdocs.yml").write_text(MKDOCS_YML, "utf-8")
    where = _run([str(venv / "bin" / "python"), "-c", "import pattern_articles; print(pattern_articles.__file__)"],
                 cwd=site)
    assert where.stdout.startswith(str(venv)), "the wheel's package, not this checkout's"
    _run([str(venv / "bin" / "pattern-articles"), "new", "demo"], cwd=site)
    filled = FILLED.replace("name: Event Sourcing", "name: Demo")
    (site / "snippets" / "demo" / "bundle.yml").write_text(filled, "utf-8")
    _run([str(venv / "bin" / "mkdocs"), "build", "--strict", "-d", "built"], cwd=site, NO_MKDOCS_2_WARNING="1")
    page = (site / "built" / "patterns" / "demo-pattern" / "index.html").read_text("utf-8")
    assert "Demo Pattern: Storing Every Change as an Event" in page
    assert "TODO" not in page
    assert "3. the result is reported" in page, "the snippet's real output"


def test_the_sdists_tests_run_against_the_installed_wheel(dist: tuple[Path, Path], venv: Path,
                                                          tmp_path: Path) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(tmp_path, filter="data")
        else:  # 3.10 before 3.10.12 has no extraction filters; the archive is our own
            archive.extractall(tmp_path)
    (unpacked,) = tmp_path.iterdir()
    # unit tests of the core, and the pytest plugin (from the wheel) running the demo's snippets
    done = _run([str(venv / "bin" / "python"), "-m", "pytest", "-v", "-p", "no:cacheprovider",
                 "tests/core/test_article.py", "tests/core/test_bundle.py", "snippets/choreography/flow.py"],
                cwd=unpacked, PYTHONDONTWRITEBYTECODE="1", PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert "snippets/choreography/flow.py::flow" in done.stdout and " PASSED" in done.stdout, done.stdout[-2000:]
    assert not [line for line in done.stdout.splitlines() if line.endswith(("FAILED", "ERROR"))]
