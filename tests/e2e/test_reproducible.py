"""Two cold builds of the same sources give byte-identical pages.

A page must not change when nothing changed. The demo site's Redis runs start four OS
processes whose deliveries race, so this is where an arrival-order diagram would show up:
the test builds twice from scratch (no cache), with the Redis runs, and compares every file
of the two sites byte for byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import copy_project, needs_redis, run_mkdocs, tree_digest

pytestmark = [pytest.mark.e2e, needs_redis]

#: Files that carry the build's date, not its content.
DATED = {"sitemap.xml", "sitemap.xml.gz"}


def cold_build(project: Path) -> dict[str, bytes]:
    """Build with no cache and no earlier site; return the site's files."""
    shutil.rmtree(project / ".cache", ignore_errors=True)
    shutil.rmtree(project / "site", ignore_errors=True)
    result = run_mkdocs(project, "--strict", "-d", "site")
    assert result.returncode == 0, result.stderr
    assert "skipped 0" in result.stderr, f"a run was skipped, so the build is not complete:\n{result.stderr}"
    return {name: data for name, data in tree_digest(project / "site").items() if Path(name).name not in DATED}


def test_two_cold_builds_give_identical_pages(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    first = cold_build(project)
    second = cold_build(project)
    assert "patterns/choreography-pattern/index.html" in first
    assert sorted(first) == sorted(second)
    changed = sorted(name for name in first if first[name] != second[name])
    assert changed == [], f"files that differ between two cold builds: {changed}"


def test_a_warm_build_gives_the_cold_builds_pages(tmp_path: Path) -> None:
    """The same sources give the same bytes whether a build ran the snippets or reused their
    results and whole pages from the cache (only the site is removed between the two)."""
    project = copy_project(tmp_path / "project")
    cold = cold_build(project)
    shutil.rmtree(project / "site")
    result = run_mkdocs(project, "--strict", "-d", "site")
    assert result.returncode == 0, result.stderr
    assert "ran 0," in result.stderr, f"the second build ran snippets again:\n{result.stderr}"
    warm = {name: data for name, data in tree_digest(project / "site").items() if Path(name).name not in DATED}
    assert sorted(cold) == sorted(warm)
    changed = sorted(name for name in cold if cold[name] != warm[name])
    assert changed == [], f"files that differ between a cold and a warm build: {changed}"
