"""Live preview: ``mkdocs serve`` on a copy of the demo project, the article open in Chromium.

The author's loop, end to end: change the text a snippet prints (and its golden file), and
the open page reloads by itself with the new output, with only that snippet re-run; break
the snippet, and the page shows the failure; fix it, and the page recovers. The server runs
in its own process group and is always killed. Waits are generous bounds, never speed
assertions.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest

from pattern_articles import settings as settings_mod
from pattern_articles.engine.services import die_with_this_thread
from pattern_articles.project import Project
from tests.conftest import copy_project

from .helpers import ARTICLE, offline_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

BOUND = 90.0  # seconds; a rebuild runs snippets, on a busy machine too
SUMMARY = re.compile(r"snippets: ran (\d+), cached (\d+), failed (\d+), skipped (\d+)")
BROKEN = 'raise RuntimeError("broken on purpose by the live preview test")\n'
MAIN_GUARD = 'if __name__ == "__main__":'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mkdocs_serve(project: Path, port: int, log: IO[str]) -> Iterator[subprocess.Popen[str]]:
    """``mkdocs serve`` in its own process group, killed (group and all) on the way out; and,
    should pytest itself be killed (a CI timeout's SIGTERM or SIGKILL runs no ``finally``),
    by the parent-death signal the server gets from this thread, which waits for it."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONUNBUFFERED="1")
    for name in ("PATTERN_ARTICLES_FRESH", "PATTERN_ARTICLES_NO_CACHE"):
        env.pop(name, None)  # the test is about the cache answering unchanged snippets
    process = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{port}"],
        cwd=project, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
        preexec_fn=die_with_this_thread(),
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


class Server:
    """Reads the serve log: startup and the one summary line per (re)build."""

    def __init__(self, process: subprocess.Popen[str], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def summaries(self) -> list[tuple[int, int, int, int]]:
        return [tuple(int(n) for n in m.groups()) for m in SUMMARY.finditer(self.log())]  # type: ignore[misc]

    def wait_for(self, what: str, predicate: object, bound: float = BOUND) -> None:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if callable(predicate) and predicate():
                return
            if self.process.poll() is not None:
                pytest.fail(f"mkdocs serve exited ({self.process.returncode}) while waiting for {what}:\n{self.log()}")
            time.sleep(0.25)
        pytest.fail(f"no {what} within {bound:.0f} s; serve log:\n{self.log()[-6000:]}")


def wait_for_page(page: Page, server: Server, what: str, condition: str) -> None:
    """Poll a JS condition across the page's own reloads (evaluating during one may fail)."""
    from playwright.sync_api import Error as PlaywrightError

    def holds() -> bool:
        try:
            return bool(page.evaluate(condition))
        except PlaywrightError:
            return False  # the page is reloading

    server.wait_for(what, holds)


def mark_page(page: Page) -> None:
    """A flag the page loses when it reloads, so a test can tell live reload from stale DOM."""
    page.evaluate("window.__paNotReloaded = true")


def flow_spec_count(project: Path) -> int:
    settings = settings_mod.load(project / "mkdocs.yml")
    return sum(1 for _, spec in Project(settings).specs() if spec.snippet.name == "flow.py")


def test_edit_break_and_fix_a_snippet_while_serving(chromium: Browser, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    bundle = project / "snippets" / "choreography"
    script = bundle / "flow.py"
    goldens = sorted((bundle / "expected").glob("flow.*.txt"))
    assert goldens, "flow.py has no golden outputs"
    original = script.read_text("utf-8")
    assert original.count('print(f"scenario {name}:') == 1, "flow.py no longer prints its scenario line"
    assert original.count(MAIN_GUARD) == 1
    flow_runs = flow_spec_count(project)
    port = free_port()
    log_path = tmp_path / "serve.log"

    with log_path.open("w", encoding="utf-8") as log, mkdocs_serve(project, port, log) as process:
        server = Server(process, log_path)
        server.wait_for("server start", lambda: f"Serving on http://127.0.0.1:{port}/" in server.log(), bound=180)
        server.wait_for("first build summary", lambda: bool(server.summaries()))
        cold_ran, cold_cached, cold_failed, _ = server.summaries()[-1]
        assert cold_failed == 0, server.log()
        assert cold_ran >= flow_runs

        context, _offline = offline_context(chromium, base_url=f"http://127.0.0.1:{port}/")
        try:
            page = context.new_page()
            page.goto(ARTICLE)
            assert "live-edited scenario" not in page.content()

            # 1. change what the snippet prints, and its verified output with it
            mark_page(page)
            builds = len(server.summaries())
            for golden in goldens:
                text = golden.read_text("utf-8")
                edited = re.sub(r"^scenario ", "live-edited scenario ", text, flags=re.MULTILINE)
                assert edited != text, f"{golden.name} has no scenario line"
                golden.write_text(edited, "utf-8")
            working = original.replace('print(f"scenario {name}:', 'print(f"live-edited scenario {name}:')
            script.write_text(working, "utf-8")
            wait_for_page(
                page, server, "reload with the new output",
                """() => !window.__paNotReloaded
                    && document.body.textContent.includes("live-edited scenario happy-path")
                    && !document.querySelector(".admonition.failure")
                    && ![...document.querySelectorAll(".admonition")]
                        .some(a => a.textContent.includes("Output changed"))
                    && document.querySelector(".pa-verified") !== null""",
            )  # one evaluation of the page: a later query could land in yet another reload

            # only flow.py ran again; every other run came from the cache
            server.wait_for("a rebuild that re-ran flow.py",
                            lambda: any(ran > 0 for ran, *_ in server.summaries()[builds:]))
            ran, cached, failed, _ = next(s for s in server.summaries()[builds:] if s[0] > 0)
            assert failed == 0
            assert 1 <= ran <= flow_runs, server.summaries()
            assert ran + cached == cold_ran + cold_cached, server.summaries()

            # 2. break it: the page shows the failure, naming the snippet
            mark_page(page)
            script.write_text(working.replace(MAIN_GUARD, BROKEN + "\n\n" + MAIN_GUARD), "utf-8")
            wait_for_page(
                page, server, "the error admonition",
                """() => !window.__paNotReloaded && [...document.querySelectorAll(".admonition.failure")]
                    .some(a => a.textContent.includes("broken on purpose")
                               && a.querySelector(".admonition-title").textContent.includes("flow.py"))""",
            )

            # 3. fix it: the page recovers
            mark_page(page)
            script.write_text(working, "utf-8")
            wait_for_page(
                page, server, "recovery",
                """() => !window.__paNotReloaded
                    && document.body.textContent.includes("live-edited scenario happy-path")
                    && ![...document.querySelectorAll(".admonition")]
                        .some(a => /Output changed|broken on purpose/.test(a.textContent))""",
            )
            assert server.summaries()[-1][2] == 0, server.summaries()
        finally:
            context.close()
