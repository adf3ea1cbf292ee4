"""The command line as a user meets it: ``--version``, each command's help, ``-f`` anywhere,
the summary line's words and counts, the progress lines, and ``check`` refusing to pass
when it found nothing to check.

Every test runs the real command (``python -m pattern_articles``) in a small project of its
own (the bad-input corpus' base: one article, one bundle, one snippet), never the demo.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pattern_articles
from tests.badinput.kit import clean_env, delete, make_project, replace, run_mkdocs, write

REPO = Path(__file__).resolve().parents[2]
HELLO = "  hello.py: {timeout: 10}\n"  # the base bundle's one declared snippet: more are declared after it
COMMANDS = ("check", "render", "new", "eject", "schema")
SUMMARY = re.compile(r"^(\d+) snippet runs?: ran (\d+), cached (\d+), failed (\d+), skipped (\d+); "
                     r"(\d+) articles? checked, (\d+) warnings?; [\d.]+ s$", re.MULTILINE)


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pattern_articles", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120, env=clean_env(), stdin=subprocess.DEVNULL)


def summary(out: str) -> dict[str, int]:
    found = SUMMARY.findall(out)
    assert len(found) == 1, f"one summary line expected:\n{out}"
    names = ("runs", "ran", "cached", "failed", "skipped", "articles", "warnings")
    return dict(zip(names, map(int, found[0]), strict=True))


# ---------------------------------------------------------------------------- --version
def test_version_is_the_installed_one(tmp_path: Path) -> None:
    done = cli(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    declared = re.search(r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text("utf-8"), re.MULTILINE)
    assert declared is not None
    declared = declared.group(1)
    assert done.stdout.strip() == f"pattern-articles {declared}"
    assert pattern_articles.__version__ == declared  # the fallback of a never-installed source tree


# ------------------------------------------------------------------------------- --help
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_and_an_example(command: str, tmp_path: Path) -> None:
    done = cli(tmp_path, command, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    usage, description = text.split("\n\n", 2)[:2]
    assert usage.startswith(f"usage: pattern-articles {command}")
    first = description.splitlines()[0]
    assert len(description.splitlines()) == 1 or description.splitlines()[1] == "", "one line, then more"
    assert first[0].isupper() and first.endswith(".") and len(first) <= 80, first
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.startswith(f"  pattern-articles {command}") for line in examples), examples
    assert "exit status:" in text


def test_top_level_help_lists_every_command_with_its_line(tmp_path: Path) -> None:
    done = cli(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert re.search(rf"^    {command}\s+\w", done.stdout, re.MULTILINE), command
    assert "--version" in done.stdout and "examples:" in done.stdout


# ----------------------------------------------------------------------------------- -f
@pytest.mark.parametrize("where", ["before", "after"])
def test_config_file_before_or_after_the_command(where: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project / "mkdocs.yml")
    args = ["-f", config, "check", "-q"] if where == "before" else ["check", "-q", "-f", config]
    done = cli(elsewhere, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout)["articles"] == 1  # it found the site's article through -f


def test_config_file_after_the_command_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site")
    done = cli(project, "-f", str(project / "mkdocs.yml"), "check", "-f", "missing.yml")
    assert done.returncode == 2
    assert "config file missing.yml not found" in done.stderr and "hint: " in done.stderr
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------- counts and lines
def test_one_of_each_is_singular(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site")
    done = cli(project, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\n1 snippet run: ran 1, cached 0, failed 0, skipped 0; 1 article checked, 0 warnings; " in done.stdout


def test_two_runs_and_progress_lines_line_up(tmp_path: Path) -> None:
    """Ten runs: the tenth line's mark and id start in the same column as the first's."""
    names = [f"s{n:02}.py" for n in range(10)]
    declared = "".join(f"  {name}: {{timeout: 10}}\n" for name in names)
    edits = [replace("snippets/demo/bundle.yml", HELLO, HELLO + declared)]
    edits += [write(f"snippets/demo/{name}", f"print({name[1:3]!r})\n") for name in names]
    edits += [write(f"snippets/demo/expected/{name[:-3]}.txt", f"{name[1:3]}\n") for name in names]
    project = make_project(tmp_path / "site", edits)
    done = cli(project, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 11  # hello.py and the ten
    assert lines[0].startswith("[ 1/11] ok      ") and lines[-1].startswith("[11/11] ok      ")
    assert len({line.index(" ok ") for line in lines}) == 1, "\n".join(lines)
    assert {line.split()[-1] for line in lines} >= {f"snippets/demo/{n}::{n[:-3]}" for n in names}
    assert summary(done.stdout)["runs"] == 11


def test_two_of_each_is_plural(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site", [
        replace("snippets/demo/bundle.yml", HELLO, HELLO + "  other.py: {}\n"),
        write("snippets/demo/other.py", 'print("other")\n'),
        write("snippets/demo/expected/other.txt", "other\n"),
    ])
    done = cli(project, "check", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\n2 snippet runs: ran 2," in done.stdout


def test_a_changed_output_counts_as_failed_in_check_and_in_a_build(tmp_path: Path) -> None:
    """The run itself passed (exit 0) and may come from the cache; its verdict fails it,
    and the summary says so, in the CLI and in the MkDocs build's last line alike."""
    project = make_project(tmp_path / "site")
    assert cli(project, "check", "-q").returncode == 0  # the run is cached from here on
    (project / "snippets/demo/expected/hello.txt").write_text("goodbye\n", "utf-8")
    done = cli(project, "check")
    assert done.returncode == 1
    assert "] FAIL    snippets/demo/hello.py::hello" in done.stdout
    counts = summary(done.stdout)
    assert (counts["cached"], counts["failed"]) == (1, 1), done.stdout
    built = run_mkdocs(project)
    assert built.code == 1
    assert "snippets: ran 0, cached 1, failed 1, skipped 0;" in built.output, built.output


def test_update_accepts_the_output_and_then_nothing_failed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site")
    (project / "snippets/demo/expected/hello.txt").write_text("goodbye\n", "utf-8")
    done = cli(project, "check", "--update")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "] updated snippets/demo/hello.py::hello" in done.stdout
    assert summary(done.stdout)["failed"] == 0
    assert (project / "snippets/demo/expected/hello.txt").read_text("utf-8") == "hello\n"


# ----------------------------------------------------------------------- nothing to check
def test_check_in_an_empty_folder_fails_and_says_where_it_looked(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = cli(empty, "check")
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr
    assert f"error: nothing to check in {empty.resolve()}\n" in err
    assert "no bundle (a folder with a bundle.yml) in snippets/" in err
    assert "no article (a page whose front matter says 'pattern: <bundle>') in docs/" in err
    assert "settings: the defaults (no mkdocs.yml in" in err
    assert "hint: run it in your site's folder" in err and "pattern-articles new" in err
    assert "snippet run" not in done.stdout  # no summary that looks like a pass
    assert "Traceback" not in err


def test_check_with_settings_that_point_nowhere_fails_naming_them(tmp_path: Path) -> None:
    """A site whose mkdocs.yml points the plugin at folders holding nothing."""
    project = make_project(tmp_path / "site", [
        write("mkdocs.yml", "site_name: x\ndocs_dir: pages\nplugins:\n  - pattern-articles:\n"
                            "      snippets: [examples]\n      article_key: bundle\n"),
    ])
    done = cli(project / "docs", "check")  # from a sub-folder: the mkdocs.yml above is found
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"nothing to check in {project.resolve()}\n" in done.stderr
    assert "in examples/\n" in done.stderr and "'bundle: <bundle>') in pages/\n" in done.stderr
    assert f"settings: {project.resolve() / 'mkdocs.yml'}\n" in done.stderr


def test_check_of_a_named_folder_without_bundles_fails(tmp_path: Path) -> None:
    """The snippet folder named, holding no bundle: its article (of a missing bundle) is not
    selected by it, so there is nothing to check."""
    project = make_project(tmp_path / "site", [delete("snippets/demo/bundle.yml")])
    done = cli(project, "check", "snippets")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nothing to check in snippets: no bundle and no article there" in done.stderr


def test_a_site_with_only_articles_or_only_bundles_is_checked(tmp_path: Path) -> None:
    """Nothing-to-check is exactly that: an article alone (its bundle missing) is reported
    as the article's problem, and a bundle alone is run."""
    only_bundle = make_project(tmp_path / "bundle", [write("docs/demo.md", "# Not an article any more\n")])
    done = cli(only_bundle, "check", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done.stdout)["articles"] == 0
    only_article = make_project(tmp_path / "article", [delete("snippets/demo/bundle.yml")])
    done = cli(only_article, "check", "-q")
    assert "nothing to check" not in done.stdout + done.stderr
    assert done.returncode != 0


# ---------------------------------------------------------------------------- the hints
def test_no_message_points_at_a_file_an_installed_user_lacks() -> None:
    """Hints name ``pattern-articles <command> --help`` or a guide page by its name: an
    installed package has no docs/guide/ folder to open. Every string of the package's
    code but its docstrings (which are for us, read in the source) is a possible message."""
    package = Path(pattern_articles.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(package)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                  and re.search(r"docs/guide|guide/\w+\.md", node.value)]
    assert not found, "\n".join(found)
