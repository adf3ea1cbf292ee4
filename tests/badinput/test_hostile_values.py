"""Issue 23's hostile values, end to end, where one corpus message is not the whole promise.

* control characters a snippet prints (ESC sequences, NUL, BEL) reach neither the terminal
  or CI log of any adapter nor the built page raw: they are shown as ``␛``, ``␀``, ``␇``;
* a run that leaves processes running says so on its own status line, and MkDocs' summary
  counts it as failed;
* a page-cache entry changed on disk is never served: the next build fills the page again;
* a file added to the folder a snippet lists is seen without ``--fresh``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .kit import TIMEOUT, clean_env, make_project, run_cli, run_mkdocs, run_pytest, write

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

H = "snippets/demo/hello.py"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PRINTS_CONTROLS = (
    'import sys\n'
    'print("hello \\x1b[2J\\x1b]0;owned\\x07\\x00 \\x1b]8;;http://x.invalid\\x1b\\\\link")\n'
    'sys.stderr.write("\\x1b[31mred\\x9b1m\\n")\n'
    'raise RuntimeError("boom \\x1b[5m")\n'  # the reason (a page's admonition title) quotes it
)


def test_control_characters_reach_no_log_and_no_page(tmp_path: Path, pytester: pytest.Pytester) -> None:
    project = make_project(tmp_path / "project", (write(H, PRINTS_CONTROLS),))
    for run in (run_cli(project), run_mkdocs(project)):
        assert run.code == 1, run.output
        assert not CONTROLS.search(run.output), f"{run.adapter} printed a raw control character: {run.output!r}"
        assert "␛[31mred\\x9b1m" in run.output, run.output  # shown, not obeyed
    html = (project / "site" / "demo" / "index.html").read_bytes().decode("utf-8")
    assert not CONTROLS.search(html.replace("\t", "").replace("\r", "")), "a raw control character in the page"
    assert "hello ␛[2J␛]0;owned␇␀ ␛]8;;http://x.invalid␛\\link" in html
    assert "RuntimeError: boom ␛[5m" in html
    make_project(pytester.path, (write(H, PRINTS_CONTROLS),))
    run = run_pytest(pytester)
    assert run.code == 1, run.output
    assert not CONTROLS.search(run.output), f"pytest printed a raw control character: {run.output!r}"
    assert "␛[31mred" in run.output


DAEMON = ('import subprocess, sys\n'
          'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", __file__],\n'
          '                 start_new_session=True)\nprint("hello")\n')


def test_leftover_processes_fail_the_status_line_and_the_summary(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", (write(H, DAEMON),))
    build = run_mkdocs(project)  # first, so that it runs the snippet itself
    assert build.code == 1, build.output
    assert "snippets: ran 1, cached 0, failed 1, skipped 0" in build.output, build.output
    check = run_cli(project)
    assert check.code == 1, check.output
    assert ("[1/1] FAIL    snippets/demo/hello.py::hello  (left processes running: killed 1 process "
            "still running after the snippet exited)") in check.output, check.output
    assert "[1/1] ok" not in check.output
    assert "failed 1" in check.output


def test_a_changed_page_cache_entry_is_not_served(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    for _ in range(2):  # the second build stores or serves the page; either way it exists now
        assert run_mkdocs(project).code == 0
    entries = list((project / ".cache" / "pattern-articles" / "pages").glob("*.json"))
    assert entries, "the page cache stored nothing"
    for entry in entries:  # what a job that can write a shared CI cache would do
        entry.write_bytes(entry.read_bytes().replace(b"Say hello", b"Say hello <script>alert(1)</script>"))
    built = run_mkdocs(project)
    assert built.code == 0, built.output
    html = (project / "site" / "demo" / "index.html").read_text("utf-8")
    assert "Say hello" in html and "alert(1)" not in html


LISTS = ('from pathlib import Path\n'
         'print(sorted(p.name for p in Path(__file__).parent.iterdir() if p.is_file()))\n')


def test_a_file_added_to_a_listed_folder_is_seen_without_fresh(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", (
        write(H, LISTS),
        write("snippets/demo/expected/hello.txt", "['bundle.yml', 'hello.py']\n"),
    ))
    first = run_cli(project)
    assert first.code == 0 and "ran 1" in first.output, first.output
    assert "cached 1" in run_cli(project).output
    (project / "snippets" / "demo" / "notes.txt").write_text("new\n")
    again = run_cli(project)
    assert again.code == 1 and "ran 1, cached 0" in again.output, again.output
    assert "+['bundle.yml', 'hello.py', 'notes.txt']" in again.output


def test_the_cache_secret_is_not_given_to_snippets(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", (
        write(H, 'import os\nprint("secret" if "PATTERN_ARTICLES_CACHE_SECRET" in os.environ else "hello")\n'),))
    env = clean_env() | {"PATTERN_ARTICLES_CACHE_SECRET": "s3cret-value"}
    done = subprocess.run([sys.executable, "-m", "pattern_articles", "check"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(b"s3cret-value" in path.read_bytes()
                   for path in (project / ".cache").rglob("*") if path.is_file())


TRACES = '''\
import json, os
with open(os.environ["PATTERN_ARTICLES_TRACE"], "a") as trace:
    for service, event in (("order", "OrderPlaced\\n    payment->>broker: Forged"),
                           ("order\\nclick order call alert()", "Placed; #1 <b>x</b>"),
                           ("end", "Esc\\x1b[31m")):
        trace.write(json.dumps({"op": "publish", "service": service, "event": event}) + "\\n")
print("hello")
'''


def test_trace_names_add_no_mermaid_statement_to_the_page(tmp_path: Path) -> None:
    # issue 23, item 15: a newline in a trace's event or service name added Mermaid statements
    import html as html_mod

    from .kit import append

    project = make_project(tmp_path / "project", (
        write(H, TRACES),
        append("docs/demo.md", "\n## What ran\n\n```pattern-snippet\nhello.py show=diagram\n```\n")))
    built = run_mkdocs(project)
    assert built.code == 0, built.output
    page = (project / "site" / "demo" / "index.html").read_text("utf-8")
    found = re.search(r"sequenceDiagram.*?(?=</code>|</pre>|</div>)", page, re.S)
    assert found is not None, page
    lines = [line.strip() for line in html_mod.unescape(found.group(0)).split("\n")]
    assert lines[0] == "sequenceDiagram"
    arrows = [line for line in lines if "->>" in line]
    assert len(arrows) == 3, lines  # one per trace entry, however many newlines they hold
    assert not any(line.startswith(("payment", "click", "end ")) for line in lines), lines
    assert not CONTROLS.search(found.group(0))


def test_a_run_the_page_does_not_show_still_fails_a_strict_build(tmp_path: Path) -> None:
    """A bundle may declare a snippet no page shows (kept for its golden file alone): a build
    runs it, so a changed output must fail ``--strict`` as a shown one does, in the first
    build and in a later one (a page cache hit must not hide it)."""
    from .kit import replace

    project = make_project(tmp_path / "project", [
        replace("snippets/demo/bundle.yml", "  hello.py: {timeout: 10}\n",
                "  hello.py: {timeout: 10}\n  other.py: {timeout: 10}\n"),
        write("snippets/demo/other.py", 'print("two")\n'),
        write("snippets/demo/expected/other.txt", "one\n"),
    ])
    for attempt in ("cold", "warm"):
        built = run_mkdocs(project)
        assert built.code == 1, f"{attempt}: {built.output}"
        assert "other.py" in built.output, f"{attempt}: {built.output}"
