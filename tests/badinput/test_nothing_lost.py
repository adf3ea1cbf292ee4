"""Nothing the author wrote is lost or touched.

* a build, a check and a test session - passing or failing - leave ``docs/`` and the snippet
  folders exactly as they were: same files, same bytes, same modification times, no
  ``__pycache__``;
* ``check --update`` rewrites a golden file atomically: killed (SIGKILL) at random moments,
  and right while it writes, it always leaves the old file or the new one, never a mix;
* two ``mkdocs build`` at once share one cache without corrupting it: both pass, both make
  the same pages, and a third build finds every result in the cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pattern_articles.engine.cache import Cache

from .kit import (
    BASE,
    BUNDLE,
    TIMEOUT,
    append,
    clean_env,
    make_project,
    run_cli,
    run_mkdocs,
    run_pytest,
    write,
)

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

Snapshot = dict[str, tuple[str, int, int, str]]


def snapshot(project: Path) -> Snapshot:
    """Every entry under docs/ and snippets/: kind, mode, mtime (ns) and content digest."""
    found: Snapshot = {}
    for top in ("docs", "snippets"):
        for path in sorted((project / top).rglob("*")):
            info = path.lstat()
            if path.is_symlink():
                kind, digest = "link", os.readlink(path)
            elif path.is_dir():
                kind, digest = "dir", ""
            else:
                kind, digest = "file", hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(project))] = (kind, info.st_mode, info.st_mtime_ns, digest)
    return found


# the snippet imports a module of its bundle (a __pycache__ would appear next to it) and
# writes into its working folder (which must be the run's own temporary folder)
IMPORTING = (
    write("snippets/demo/greeting.py", 'WORD = "hello"\n'),
    write("snippets/demo/hello.py",
          'from pathlib import Path\n\nfrom greeting import WORD\n\nPath("scratch.txt").write_text(WORD)\n'
          "print(WORD)\n"),
)
FAILING = (*IMPORTING, append("snippets/demo/hello.py", 'raise SystemExit("failed on purpose")\n'))


@pytest.mark.parametrize("adapter", ["cli", "mkdocs", "pytest"])
@pytest.mark.parametrize("edits", [IMPORTING, FAILING], ids=["passing", "failing"])
def test_runs_never_write_into_docs_or_snippets(adapter: str, edits: tuple, tmp_path: Path,
                                                pytester: pytest.Pytester) -> None:
    project = make_project(pytester.path if adapter == "pytest" else tmp_path / "project", edits)
    before = snapshot(project)
    time.sleep(0.01)  # a rewrite with the same bytes would still move the mtime
    for _ in range(2):  # the second time from the cache
        run = {"cli": lambda: run_cli(project), "mkdocs": lambda: run_mkdocs(project),
               "pytest": lambda: run_pytest(pytester)}[adapter]()
        assert run.code == (0 if edits is IMPORTING else 1), run.output
        assert snapshot(project) == before, f"{adapter} changed docs/ or snippets/"
    assert not list(project.rglob("__pycache__")), "bytecode was written"


# --------------------------------------------------------------------------- atomic update

LINES = 8
LINE = 1 << 20  # 16 lines of 1 MiB: the golden takes a while to write


def big_project(root: Path) -> tuple[Path, Path, bytes, bytes]:
    project = make_project(root, (
        write("snippets/demo/hello.py",
              f"import sys\nfor i in range({LINES}):\n    sys.stdout.write(str(i % 10) * {LINE - 1} + '\\n')\n"),
        append("mkdocs.yml", f"      output_limit: {LINES * LINE * 2}\n"),
    ))
    golden = project / "snippets/demo/expected/hello.txt"
    old = b"".join(b"old line, shorter\n" * 3 for _ in range(LINES))
    new = b"".join(str(i % 10).encode() * (LINE - 1) + b"\n" for i in range(LINES))
    golden.write_bytes(old)
    return project, golden, old, new


def start_update(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pattern_articles", "check", "--update", "-q"], cwd=project,
                            env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_update_killed_at_any_moment_leaves_the_old_or_the_new_golden(tmp_path: Path) -> None:
    project, golden, old, new = big_project(tmp_path / "project")
    expected = golden.parent
    # one full run: how long an update takes, and that it really writes the new golden
    started = time.monotonic()
    first = start_update(project)
    assert first.wait(TIMEOUT) == 0
    duration = time.monotonic() - started
    assert golden.read_bytes() == new
    rng = random.Random(20240611)
    seen = {"old": 0, "new": 0}
    mid_write = 0
    for attempt in range(16):
        golden.write_bytes(old)
        process = start_update(project)
        if attempt % 2:  # a random moment of the run
            time.sleep(rng.uniform(0.0, duration))
        else:  # right while the golden is written: once its temporary file exists
            deadline = time.monotonic() + TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                if any(expected.glob(".hello.txt.*.tmp")):
                    time.sleep(rng.uniform(0.0, 0.004))
                    mid_write += process.poll() is None
                    break
                time.sleep(0.0002)
        process.send_signal(signal.SIGKILL)
        process.wait(TIMEOUT)
        data = golden.read_bytes()
        assert data in (old, new), f"attempt {attempt}: a torn golden of {len(data)} bytes"
        seen["old" if data == old else "new"] += 1
        for debris in expected.glob(".hello.txt.*.tmp"):  # a kill may leave the temporary file
            debris.unlink()
        assert sorted(p.name for p in expected.iterdir()) == ["hello.txt"]
    print(f"kills mid-write: {mid_write}, outcomes: {seen}")
    assert mid_write >= 3, f"only {mid_write} kills landed while the golden was being written"
    assert seen["old"] >= 1


# --------------------------------------------------------------------------- shared cache

SNIPPETS = 6
SHARED_BUNDLE = BUNDLE.replace(
    "snippets:\n  hello.py: {timeout: 10}\n",
    "snippets:\n" + "".join(
        f"  s{i}.py:\n    scenarios:\n      one: {{args: ['1']}}\n      two: {{args: ['2']}}\n"
        for i in range(SNIPPETS)),
).replace(
    "      code:\n        - snippet: hello.py\n",
    "      code:\n" + "".join(f"        - {{snippet: s{i}.py, scenarios: [one, two]}}\n" for i in range(SNIPPETS)),
)


EXTENSIONS = """\
markdown_extensions:
  - admonition
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.tabbed:
      alternate_style: true
"""


def shared_project(root: Path) -> Path:
    files = {k: v for k, v in BASE.items() if not k.startswith("snippets/demo/")}
    files["snippets/demo/bundle.yml"] = SHARED_BUNDLE
    files["mkdocs.yml"] += EXTENSIONS
    for i in range(SNIPPETS):
        files[f"snippets/demo/s{i}.py"] = (f"import sys, time\ntime.sleep(0.2)\n"
                                           f"print('snippet {i}, scenario', sys.argv[1])\n")
        for n, scenario in ((1, "one"), (2, "two")):
            files[f"snippets/demo/expected/s{i}.{scenario}.txt"] = f"snippet {i}, scenario {n}\n"
    return make_project(root, base=files)


def build_twice_at_once(project: Path, round_: int, env: dict[str, str]) -> list[str]:
    argv = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    procs = [subprocess.Popen([*argv, "-d", f"site-{round_}-{n}"], cwd=project, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True) for n in (1, 2)]
    logs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log
        assert "WARNING" not in log, log
    return logs


def article_html(project: Path, site: str) -> str:
    page = (project / site / "demo" / "index.html").read_text(encoding="utf-8")
    # the one line that may differ: whether this build ran the snippet or found it cached
    return re.sub(r'<span class="pa-verified"[^>]*>[^<]*</span>', "<verified/>", page)


def test_two_builds_at_once_share_the_cache(tmp_path: Path) -> None:
    project = shared_project(tmp_path / "project")
    fresh = clean_env() | {"PATTERN_ARTICLES_FRESH": "1"}  # both run everything and store at once
    build_twice_at_once(project, 1, fresh)
    first = article_html(project, "site-1-1")
    assert "snippet 5, scenario 2" in first
    assert article_html(project, "site-1-2") == first
    logs = build_twice_at_once(project, 2, clean_env())
    for log in logs:
        assert f"cached {SNIPPETS * 2}" in log and "ran 0" in log, log
    assert article_html(project, "site-2-1") == article_html(project, "site-2-2") == first
    cache = project / ".cache" / "pattern-articles"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")], "temporary files left in the cache"
    entries = list(Cache(cache).stored())
    assert len(entries) == SNIPPETS * 2  # both builds' entries, each key once
    assert all(entry["result"]["status"] == "passed" for entry in entries)
