"""Screenshots of the choreography article at desktop and phone widths, kept as test artifacts.

They land in ``test-artifacts/`` (ignored by git; CI keeps the folder): the top of the page,
the first diagram with its tabs, and the whole page, for each width. They are for people to
look at; the assertions only make sure each one is a real, complete picture of a rendered
page. With ``PATTERN_ARTICLES_UPDATE_SCREENSHOT=1`` the desktop diagram view is also copied to
``docs/assets/screenshot-desktop.png``, the picture the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO

from .helpers import ARTICLE, ARTIFACTS, offline_context, wait_for_diagrams

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

README_PICTURES = {name: REPO / "docs" / "assets" / f"screenshot-{name}.png" for name in ("desktop", "phone")}
README_LIMIT = 400 * 1024  # bytes: the README loads it on every visit

WIDTHS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def scroll_to_first_diagram(page: Page) -> None:
    """Bring the first diagram into view, with its heading or the text just above it."""
    page.evaluate(
        """() => {
            const diagram = document.querySelector("div.mermaid");
            const set = diagram.closest(".tabbed-set") || diagram;
            let heading = set.previousElementSibling;
            while (heading && !/^H[2-4]$/.test(heading.tagName)) heading = heading.previousElementSibling;
            const top = (heading || set).getBoundingClientRect().top + window.scrollY;
            // a long text between the heading and the diagram: start just above the diagram
            const near = set.getBoundingClientRect().top + window.scrollY - 0.3 * window.innerHeight;
            window.scrollTo(0, Math.max(0, top - 72, near));
        }"""
    )
    page.wait_for_timeout(300)  # let the sticky header settle; not a timing assertion


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_screenshots(chromium: Browser, site_url: str, name: str) -> None:
    width, height, phone = WIDTHS[name]
    ARTIFACTS.mkdir(exist_ok=True)
    context, offline = offline_context(chromium, width=width, height=height, phone=phone, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(ARTICLE)
        wait_for_diagrams(page, offline)
        page.evaluate("document.fonts.ready")
        scale = 2 if phone else 1

        top = ARTIFACTS / f"choreography-{name}.png"
        page.screenshot(path=str(top), timeout=60_000)
        assert png_size(top) == (width * scale, height * scale)

        diagram = ARTIFACTS / f"choreography-{name}-diagram.png"
        scroll_to_first_diagram(page)
        page.screenshot(path=str(diagram), timeout=60_000)
        assert png_size(diagram) == (width * scale, height * scale)

        full = ARTIFACTS / f"choreography-{name}-full.png"
        # one pixel per CSS pixel: a phone-width page is tens of thousands of pixels tall
        page.screenshot(path=str(full), full_page=True, scale="css", timeout=120_000)
        page_height = page.evaluate("document.documentElement.scrollHeight")
        assert png_size(full)[0] == width
        assert png_size(full)[1] >= page_height * 0.9
        assert offline.blocked == []
    finally:
        context.close()

    if os.environ.get("PATTERN_ARTICLES_UPDATE_SCREENSHOT") == "1":
        picture = README_PICTURES[name]
        picture.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(diagram, picture)



@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_diagram_labels_stay_readable(chromium: Browser, site_url: str, name: str) -> None:
    """Squeezed into the text column, a six-service diagram's labels would shrink to a few
    pixels: on a desktop the compact layout keeps them at least 12 px tall, and on a phone the
    diagram keeps its natural size and scrolls sideways instead."""
    width, height, phone = WIDTHS[name]
    context, offline = offline_context(chromium, width=width, height=height, phone=phone, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(ARTICLE)
        wait_for_diagrams(page, offline)
        first = page.evaluate(
            """() => {
                const host = document.querySelector("div.mermaid");
                const label = host.shadowRoot.querySelector("text.actor");
                const size = label.getBoundingClientRect().height;
                return {label: size, scroll: host.scrollWidth, client: host.clientWidth};
            }"""
        )
    finally:
        context.close()
    assert first["label"] >= 12, first
    if phone:
        assert first["scroll"] > first["client"], f"the diagram was squeezed to the phone's width: {first}"
    else:
        assert first["scroll"] <= first["client"] + 1, f"the diagram overflows the desktop column: {first}"
