"""Browser test helpers: the system Chromium, an offline browser context, a static server.

Why the system Chromium (Debian package ``chromium``) through Playwright for Python: the
tests must never download a browser. Why a stdlib ``http.server`` thread: a built site is
static files, and serving them from the test process needs no other program.

Every request a page makes to a host other than the loopback is aborted and recorded, so a
page that reaches for a CDN (Mermaid, web fonts) fails the test that looks at it, the same
way it would fail for a reader behind a firewall.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
ARTICLE = "patterns/choreography-pattern/"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

#: Material replaces each ``pre.mermaid`` with a ``div.mermaid`` whose *closed* shadow root
#: holds the SVG. Forcing every shadow root open lets a test read the diagram.
OPEN_SHADOW_ROOTS = """
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    return attach.call(this, Object.assign({}, init, { mode: "open" }));
  };
})();
"""

#: True once Material has rendered every diagram of the page.
DIAGRAMS_RENDERED = """
() => !document.querySelector("pre.mermaid")
  && [...document.querySelectorAll("div.mermaid")].every(d => d.shadowRoot && d.shadowRoot.querySelector("svg"))
"""


def missing_browser() -> str:
    """Why browser tests cannot run here, or "" when they can."""
    if not CHROMIUM.exists():
        return f"no system Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return ""


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port; yields the base URL (ending in '/')."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Offline:
    """What a browser context tried to fetch from outside the loopback (all aborted)."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught page errors

    def route(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")


def offline_context(browser: Browser, *, width: int = 1280, height: int = 900, phone: bool = False,
                    base_url: str = "") -> tuple[BrowserContext, Offline]:
    """A fresh context (fresh storage: Material remembers tabs) that can reach only the loopback."""
    options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
    if phone:
        options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
    if base_url:
        options["base_url"] = base_url
    context = browser.new_context(**options)
    offline = Offline()
    context.route("**/*", offline.route)
    context.add_init_script(OPEN_SHADOW_ROOTS)
    context.on("weberror", lambda error: offline.errors.append(str(error.error)))
    return context, offline


def wait_for_diagrams(page: Page, offline: Offline, timeout_ms: float = 30_000) -> None:
    """Wait until Material has rendered every diagram; say what was blocked when it never does."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(DIAGRAMS_RENDERED, timeout=timeout_ms)
    except PlaywrightTimeout:
        raise AssertionError(
            f"diagrams not rendered within {timeout_ms / 1000:.0f} s; requests blocked (outside the site): "
            f"{offline.blocked or 'none'}; page errors: {offline.errors or 'none'}"
        ) from None


def article_pages() -> list[str]:
    """Every article the demo site publishes (a page whose front matter names a bundle), as
    its URL relative to the site root: the reader's standards hold for each of them."""
    from pattern_articles import settings as settings_mod
    from pattern_articles.project import Project

    pages = []
    for ref in Project(settings_mod.load(REPO / "mkdocs.yml")).articles():
        stem = ref.docs_path.removesuffix(".md")
        pages.append((stem.removesuffix("index") if stem.endswith("index") else stem + "/").lstrip("/"))
    return pages
