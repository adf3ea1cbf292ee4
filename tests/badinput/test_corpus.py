"""Every bad input of the corpus, in the three adapters, against its exact expected result.

For each case and adapter the test asserts: the exit code; the one expected message (its
fragment, naming the file and line, appears exactly once); a hint saying what to do when the
message is ours; no Python traceback of our code (see ``kit.traceback_problem`` for the
precise rule: only a failing snippet's own traceback may appear, every frame of it inside
the snippet folder); no hang (every run is bounded by ``kit.TIMEOUT``); and nothing left
running (no process of the snippet survives the run).
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from .corpus import CASES, Case, Expect
from .kit import Run, make_project, run_cli, run_mkdocs, run_pytest, traceback_problem

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e


def _pattern(fragment: str) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(part) for part in fragment.split("…")))


def judge(case: Case, expect: Expect, run: Run, project: Path) -> None:
    out = run.output
    where = f"{case.id} in {run.adapter}:\n{out[-4000:]}"
    problem = traceback_problem(run, project / "snippets", case.snippet_traceback)
    assert not problem, f"{problem}: {where}"
    assert run.code == expect.code, f"exit {run.code}, expected {expect.code}: {where}"
    if expect.fragment is None:
        assert "WARNING" not in out and "ERROR" not in out, where
        return
    found = _pattern(expect.fragment).findall(out)
    assert len(found) == 1, f"{expect.fragment!r} found {len(found)} times, expected once: {where}"
    if expect.ours:
        assert "hint: " in out, f"no hint saying what to do: {where}"


def no_leftovers(marker: str) -> None:
    """A snippet's processes (here: a daemon started with setsid) must not outlive the run."""
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            os.kill(int(entry.name), signal.SIGKILL)
            pytest.fail(f"a process of the snippet survived the run: {cmdline}")


def _id(case: Case) -> str:
    return case.id


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_cli(case: Case, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", case.edits)
    judge(case, case.cli, run_cli(project, case.args), project)
    no_leftovers(str(project))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_mkdocs_build(case: Case, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", case.edits)
    judge(case, case.mkdocs, run_mkdocs(project), project)
    no_leftovers(str(project))


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_pytest_plugin(case: Case, pytester: pytest.Pytester) -> None:
    project = make_project(pytester.path, case.edits)
    judge(case, case.pytest, run_pytest(pytester, case.args), project)
    no_leftovers(str(project))


def test_the_base_project_is_clean(tmp_path: Path, pytester: pytest.Pytester) -> None:
    """Every case breaks one thing: the project it starts from passes in all three adapters."""
    project = make_project(tmp_path / "project")
    for run in (run_cli(project), run_mkdocs(project)):
        assert run.code == 0, run.output
        assert "WARNING" not in run.output and "ERROR" not in run.output, run.output
    tested = make_project(pytester.path)
    run = run_pytest(pytester)
    assert run.code == 0, run.output
    assert "3 passed" in run.output or "passed" in run.output, run.output
    assert tested.is_dir()


def test_corpus_is_large_and_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 40
