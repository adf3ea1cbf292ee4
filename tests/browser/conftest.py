"""Browser fixtures: the demo site served on a loopback port, and the system Chromium.

Browser tests skip, with the reason, when /usr/bin/chromium or Playwright is missing; the
skip is decided at collection, so no site is built for nothing. See helpers.py for why the
browser and the server are what they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .helpers import (
    ARTICLE,
    CHROMIUM,
    CHROMIUM_ARGS,
    Offline,
    missing_browser,
    offline_context,
    serve_folder,
    wait_for_diagrams,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests, with the reason, before their fixtures build anything."""
    reason = missing_browser()
    if not reason:
        return
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """The system Chromium, headless, started once per test process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def site_url(built_site: tuple[Path, Any, dict[str, bytes]]) -> Iterator[str]:
    """The demo site, built once per session with --strict, served on a free loopback port."""
    project, result, _ = built_site
    if result.returncode != 0:
        pytest.fail(f"the demo site did not build:\n{result.stdout}\n{result.stderr}")
    with serve_folder(project / "site") as url:
        yield url


@pytest.fixture
def article(chromium: Browser, site_url: str) -> Iterator[tuple[Page, Offline]]:
    """The choreography article open in a desktop-sized offline context, diagrams rendered."""
    context, offline = offline_context(chromium, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(ARTICLE)
        wait_for_diagrams(page, offline)
        yield page, offline
    finally:
        context.close()
