"""Mermaid (3.57 MB) is loaded by the pages that hold a diagram, and by no other page.

In the built HTML: the home page, the guide and the 404 page name no Mermaid script; the
article names it once, after its first diagram; the asset is copied once. In a browser,
offline: the home page and the 404 page never request it, the article does and renders its
diagrams, and with Material's instant navigation a reader who comes to the article from the
home page (no full page load) still gets its diagrams without any CDN.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import copy_project, run_mkdocs

from .helpers import ARTICLE, offline_context, wait_for_diagrams

if TYPE_CHECKING:
    from playwright.sync_api import Browser

Built = tuple[Path, subprocess.CompletedProcess[str], dict[str, bytes]]
MERMAID = "assets/pattern-articles/mermaid.min.js"


def loaders(html: str) -> list[str]:
    """The folder each inline Mermaid loader of a page loads from."""
    pattern = r'<script>/\* pattern-articles: load the bundled Mermaid.*?\}\)\("([^"]*)"\);</script>'
    return re.findall(pattern, html, re.S)


@pytest.mark.e2e
def test_only_pages_with_a_diagram_name_mermaid(built_site: Built) -> None:
    project, result, _ = built_site
    assert result.returncode == 0, result.stderr
    site = project / "site"
    article = (site / ARTICLE / "index.html").read_text("utf-8")
    assert loaders(article) == ["../../assets/pattern-articles/"]
    first_diagram = article.index('class="mermaid"')
    assert article.index("pattern-articles: load the bundled Mermaid") > first_diagram, "before the diagram"
    assert article.index("pattern-articles: load the bundled Mermaid") < article.index("assets/javascripts/bundle.")
    assert not re.search(r'<script src="[^"]*mermaid', article)  # no script Material would wait for
    without = [site / "index.html", site / "404.html", site / "guide" / "index.html",
               site / "guide" / "configuration" / "index.html"]
    for page in without:
        html = page.read_text("utf-8")
        assert 'class="mermaid"' not in html, f"{page} holds a diagram: pick another page"
        assert "mermaid.min.js" not in html and loaders(html) == [], page
    assert [p.relative_to(site).as_posix() for p in site.rglob("mermaid.min.js")] == [MERMAID]


@pytest.mark.browser
def test_home_and_404_do_not_load_mermaid_and_the_article_does(chromium: Browser, site_url: str) -> None:
    context, offline = offline_context(chromium, base_url=site_url)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        for path in ("", "404.html", "guide/"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert not [url for url in requested if "mermaid" in url], path
            assert page.evaluate("typeof window.mermaid") == "undefined", path
        page.goto(ARTICLE)
        wait_for_diagrams(page, offline)
        config = site_url + "assets/pattern-articles/mermaid-config.js"
        assert [url for url in requested if "mermaid" in url] == [config, site_url + MERMAID]  # layout first
        assert page.locator("div.mermaid").count() >= 1
        assert offline.blocked == [] and offline.errors == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def instant_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo site with Material's instant navigation (snippets not run: diagrams are
    drawn from the metadata), served on a loopback port. Instant navigation needs
    ``site_url`` (Material follows only links its sitemap lists), so the port is chosen
    before the build."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    project = copy_project(tmp_path_factory.mktemp("instant"))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(project / "site")))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    config = project / "mkdocs.yml"
    text = config.read_text("utf-8")
    assert "    - navigation.top\n" in text and "  - pattern-articles:\n" in text
    text = text.replace("    - navigation.top\n", "    - navigation.top\n    - navigation.instant\n")
    text = f"site_url: {url}\n" + text
    text = text.replace("  - pattern-articles:\n", "  - pattern-articles:\n      run: false\n")
    config.write_text(text, "utf-8")
    result = run_mkdocs(project, "-d", "site")
    assert result.returncode == 0, result.stderr
    thread = threading.Thread(target=server.serve_forever, name="instant-site", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.browser
def test_instant_navigation_to_the_article_loads_mermaid_offline(chromium: Browser, instant_site: str) -> None:
    context, offline = offline_context(chromium, base_url=instant_site)
    try:
        page = context.new_page()
        page.goto("")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.mermaid") == "undefined"
        page.evaluate("window.__stayed = true")  # gone if the browser loads a whole new page
        page.locator(".grid.cards.pa-catalogue a").first.click()
        page.wait_for_url("**/" + ARTICLE)
        wait_for_diagrams(page, offline)
        assert page.evaluate("window.__stayed") is True, "not an instant navigation: the test proves nothing"
        assert offline.blocked == [], "Material reached for its CDN"
    finally:
        context.close()
