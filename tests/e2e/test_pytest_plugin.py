"""A real pytest session (pytester) collecting snippet items from a small project."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

BUNDLE = """\
name: Demo
snippets:
  hello.py:
    scenarios:
      en: {args: [en]}
      fr: {args: [fr]}
  broken.py: {}
"""

HELLO = """\
import sys

GREETING = {"en": "hello", "fr": "bonjour"}
print(GREETING[sys.argv[1]], "world")
"""

ARTICLE = """\
---
pattern: demo
title: Demo
---

## Introduction
Hand-written.
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    root = pytester.path
    (root / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - pattern-articles\n")
    bundle = root / "snippets" / "demo"
    (bundle / "expected").mkdir(parents=True)
    (bundle / "bundle.yml").write_text(BUNDLE)
    (bundle / "hello.py").write_text(HELLO)
    (bundle / "broken.py").write_text("print('fine')\n")
    (bundle / "expected" / "hello.en.txt").write_text("hello world\n")
    (bundle / "expected" / "hello.fr.txt").write_text("bonjour world\n")
    (bundle / "expected" / "broken.txt").write_text("fine\n")
    (root / "docs").mkdir()
    (root / "docs" / "demo.md").write_text(ARTICLE)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def test_plugin_is_opt_in(project: pytest.Pytester) -> None:
    result = project.runpytest("snippets")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_items_have_stable_ids_and_pass(project: pytest.Pytester) -> None:
    result = project.runpytest("--pattern-articles", "snippets", "-v")
    result.stdout.fnmatch_lines([
        "*snippets/demo/broken.py::broken PASSED*",
        "*snippets/demo/hello.py::hello[[]en[]] PASSED*",
        "*snippets/demo/hello.py::hello[[]fr[]] PASSED*",
    ])
    assert result.ret == 0


def test_ini_option_enables_it(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\npattern_articles = true\naddopts = -p no:cacheprovider\n")
    result = project.runpytest("snippets")
    result.assert_outcomes(passed=3)


def test_changed_output_fails_with_diff_then_update_fixes_it(project: pytest.Pytester) -> None:
    hello = project.path / "snippets" / "demo" / "hello.py"
    hello.write_text(HELLO.replace('"bonjour"', '"salut"'))
    result = project.runpytest("--pattern-articles", "snippets")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*hello.py:1: output of snippets/demo/hello.py::hello[[]fr[]] differs from hello.fr.txt*",
        "*-bonjour world*",
        "*+salut world*",
        "*used by: demo.md*",
    ])
    assert "Traceback" not in result.stdout.str()
    updated = project.runpytest("--pattern-articles-update", "snippets")
    updated.assert_outcomes(passed=3)
    golden = project.path / "snippets" / "demo" / "expected" / "hello.fr.txt"
    assert golden.read_text() == "salut world\n"
    again = project.runpytest("--pattern-articles", "snippets")
    again.assert_outcomes(passed=3)


def test_crashing_snippet_points_at_its_line(project: pytest.Pytester) -> None:
    broken = project.path / "snippets" / "demo" / "broken.py"
    broken.write_text(textwrap.dedent("""\
        def fail():
            raise RuntimeError("payment service exploded")

        fail()
    """))
    result = project.runpytest("--pattern-articles", "snippets")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "snippets/demo/broken.py:2: snippets/demo/broken.py::broken failed" in out
    assert str(broken) not in out, "paths relative to the project (issue 20), never the local folder"
    assert "payment service exploded" in out


def test_xdist_runs_snippet_items(project: pytest.Pytester) -> None:
    result = project.runpytest("--pattern-articles", "snippets", "-n", "2")
    result.assert_outcomes(passed=3)


def test_bad_metadata_is_one_clear_failure(project: pytest.Pytester) -> None:
    (project.path / "snippets" / "demo" / "bundle.yml").write_text(BUNDLE + "colour: red\n")
    result = project.runpytest("--pattern-articles", "snippets")
    out = result.stdout.str()
    assert "bundle.yml:8: unknown key 'colour'" in out
    assert result.ret != 0


def _cached_runs(root: object) -> int:
    """Passing runs stored in the project's result cache (one entry per run)."""
    from pathlib import Path

    from pattern_articles.engine.cache import Cache

    return len(list(Cache(Path(str(root)) / ".cache" / "pattern-articles").stored()))


def test_only_selected_snippets_run(project: pytest.Pytester) -> None:
    result = project.runpytest("--pattern-articles", "snippets", "-k", "broken")
    result.assert_outcomes(passed=1, deselected=2)
    assert _cached_runs(project.path) == 1


def test_collect_only_runs_nothing(project: pytest.Pytester) -> None:
    result = project.runpytest("--pattern-articles", "snippets", "--collect-only")
    assert result.ret == 0
    assert _cached_runs(project.path) == 0


def _many(project: pytest.Pytester, count: int) -> Path:
    """A bundle ``snippets/many`` of ``count`` one-line snippets, each with its golden file."""
    bundle = project.path / "snippets" / "many"
    (bundle / "expected").mkdir(parents=True)
    names = [f"s{n:02d}" for n in range(count)]
    (bundle / "bundle.yml").write_text("name: Many\nsnippets:\n" + "".join(f"  {n}.py: {{}}\n" for n in names))
    for n in names:
        (bundle / f"{n}.py").write_text(f"print({n!r})\n")
        (bundle / "expected" / f"{n}.txt").write_text(f"{n}\n")
    return bundle


def test_stop_at_first_failure_hands_no_more_runs_over(project: pytest.Pytester) -> None:
    """Runs are handed to the runner a few items ahead, not all at once: after ``-x`` stops
    the session, the snippets far behind the failing one never run."""
    bundle = _many(project, 80)
    (bundle / "expected" / "s00.txt").write_text("not what it prints\n")
    # one worker: at most 1 + 32 + 4 runs are handed over before the first item fails
    (project.path / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - pattern-articles:\n      jobs: 1\n")
    result = project.runpytest("--pattern-articles", "snippets/many", "-x")
    result.assert_outcomes(failed=1)
    assert _cached_runs(project.path) < 60


def test_memos_are_written_once_per_session(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are handed over a few items at a time; the dependency memos of the whole session
    are still written once per bundle, at its end, not once per hand-over."""
    from pattern_articles.engine import cache
    _many(project, 40)
    written: list[str] = []
    real = cache.write_atomic

    def counting(path: object, data: bytes) -> None:
        if getattr(path, "parent", None) is not None and path.parent.name == "deps":  # type: ignore[attr-defined]
            written.append(str(path))
        real(path, data)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "write_atomic", counting)
    monkeypatch.setattr(cache, "_RACY_NS", 0)  # the files were just written: memoise them anyway
    result = project.runpytest_inprocess("--pattern-articles", "snippets/many")
    result.assert_outcomes(passed=40)
    assert len(written) == 1, written
    memo = json.loads(Path(written[0]).read_text())
    assert len(memo["memos"]) == 40


def test_golden_folders_are_not_walked_unless_named(project: pytest.Pytester) -> None:
    """A site has as many golden files as snippets; pytest would ask every plugin about
    each. The plugin tells it to skip ``<bundle>/expected``, unless something in it is named."""
    project.makeconftest("""
        offered = []

        def pytest_sessionstart(session):
            offered.clear()

        def pytest_collect_file(file_path, parent):
            offered.append(file_path.name)

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line("OFFERED " + " ".join(sorted(offered)))
    """)
    result = project.runpytest("--pattern-articles", "snippets")
    result.assert_outcomes(passed=3)
    offered = next(line for line in result.outlines if line.startswith("OFFERED ")).split()[1:]
    assert "hello.py" in offered and "bundle.yml" in offered
    assert not [name for name in offered if name.endswith(".txt")], offered
    named = project.runpytest("--pattern-articles", "snippets/demo/expected/hello.en.txt")
    offered = next(line for line in named.outlines if line.startswith("OFFERED ")).split()[1:]
    assert "hello.en.txt" in offered, "a golden file the user names is still collected"


OWN_REDIS_TEST = """\
import pytest


@pytest.mark.redis
def test_uses_its_own_marker():
    pass
"""


def test_off_it_registers_no_marker(project: pytest.Pytester) -> None:
    """Installed but off, the plugin leaves a project's markers as the project wrote them: a
    project's own unregistered ``redis`` marker fails ``--strict-markers`` as it would
    without pattern-articles installed. (In a subprocess: pytest remembers the markers it
    has seen in a process, and this one's pytest registers the repository's ``redis``.)"""
    project.makepyfile(test_own=OWN_REDIS_TEST)
    result = project.runpytest_subprocess("--strict-markers", "test_own.py")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'redis' not found in `markers` configuration option*"])
    listed = project.runpytest_subprocess("--markers").stdout.str()
    assert "pattern_articles" not in listed and "redis:" not in listed


def test_on_its_markers_are_in_its_own_namespace(project: pytest.Pytester) -> None:
    """Turned on, the plugin's markers all start with ``pattern_articles_``: still not the
    project's ``redis``, and its own work with ``--strict-markers`` and ``-m``."""
    project.makepyfile(test_own=OWN_REDIS_TEST)
    result = project.runpytest_subprocess("--pattern-articles", "--strict-markers", "test_own.py")
    result.stdout.fnmatch_lines(["*'redis' not found in `markers` configuration option*"])
    listed = project.runpytest_subprocess("--pattern-articles", "--markers").stdout.str()
    assert "@pytest.mark.pattern_articles_snippet:" in listed
    assert "@pytest.mark.pattern_articles_redis:" in listed
    assert "@pytest.mark.redis:" not in listed
    bundle = project.path / "snippets" / "demo" / "bundle.yml"
    bundle.write_text(BUNDLE.replace("      fr: {args: [fr]}", "      fr: {args: [fr], needs: [redis]}"))
    chosen = project.runpytest_subprocess("--pattern-articles", "--strict-markers", "snippets", "--collect-only", "-q",
                               "-m", "pattern_articles_snippet and not pattern_articles_redis")
    assert chosen.ret == 0, chosen.stdout.str()
    chosen.stdout.fnmatch_lines(["*broken.py::broken", "*hello.py::hello[[]en[]]", "*1 deselected*"])
    assert "hello[fr]" not in chosen.stdout.str()


def test_every_need_has_a_marker() -> None:
    """The plugin names the services a run may need without importing the bundle model (it
    is imported by every pytest run); these must be the model's."""
    from typing import get_args

    from pattern_articles.adapters.pytest_plugin import NEEDS
    from pattern_articles.content.model import Scenario, SnippetSpec

    for model in (Scenario, SnippetSpec):
        (literal,) = get_args(model.model_fields["needs"].annotation)
        assert set(get_args(literal)) == set(NEEDS)
