"""What the plugin adds to a built site for its readers, checked in the HTML (no browser).

The browser tests show these things working; these show they are wired as documented:
the vendored Mermaid and its licence are copied in and loaded, right after the first
diagram, by the pages that hold one (so Material never asks its CDN), only when
``mermaid: bundled``; the stylesheet is linked; every shown output carries its "verified"
mark; the README's picture exists and stays small.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pattern_articles import settings as settings_mod
from tests.conftest import REPO, copy_project, run_mkdocs

pytestmark = pytest.mark.e2e

Built = tuple[Path, subprocess.CompletedProcess[str], dict[str, bytes]]
ASSETS = REPO / "plugin" / "pattern_articles" / "assets"
README_PICTURE = REPO / "docs" / "assets" / "screenshot-desktop.png"
PLUGIN_BLOCK = "  - pattern-articles:\n"


def article_html(site: Path) -> str:
    return (site / "patterns" / "choreography-pattern" / "index.html").read_text("utf-8")


def scripts(page: str) -> list[str]:
    return re.findall(r'<script src="([^"]+)"', page)


def with_plugin_settings(project: Path, lines: str) -> None:
    config = project / "mkdocs.yml"
    text = config.read_text("utf-8")
    assert text.count(PLUGIN_BLOCK) == 1
    config.write_text(text.replace(PLUGIN_BLOCK, PLUGIN_BLOCK + lines), "utf-8")


def test_bundled_mermaid_is_copied_and_loaded_by_the_page_with_diagrams(built_site: Built) -> None:
    project, result, _ = built_site
    assert result.returncode == 0, result.stderr
    site = project / "site"
    for name in ("mermaid.min.js", "mermaid-config.js", "mermaid.LICENSE.txt", "pattern-articles.css"):
        copied = site / "assets" / "pattern-articles" / name
        assert copied.read_bytes() == (ASSETS / name).read_bytes(), name
    page = article_html(site)
    # an inline loader in the content (tests/browser/test_mermaid_per_page.py), so
    # window.mermaid is defined before Material's bundle looks for it
    loader = page.index('("../../assets/pattern-articles/");</script>')
    assert loader < page.index("assets/javascripts/bundle.")
    assert 'href="../../assets/pattern-articles/pattern-articles.css"' in page
    assert not re.search(r"unpkg\.com|jsdelivr\.net|fonts\.googleapis\.com", page)


def test_vendored_mermaid_is_version_11_with_its_licence() -> None:
    script = (ASSETS / "mermaid.min.js").read_bytes()
    assert 1_000_000 < len(script) < 5_000_000
    assert b'globalThis["mermaid"]' in script
    licence = (ASSETS / "mermaid.LICENSE.txt").read_text("utf-8")
    assert licence.startswith("The MIT License (MIT)") and "Knut Sveidqvist" in licence
    assert "mermaid@11." in (ASSETS / "README.md").read_text("utf-8")


def test_every_shown_output_carries_a_verified_mark(built_site: Built) -> None:
    project, result, _ = built_site
    assert result.returncode == 0, result.stderr
    page = article_html(project / "site")
    outputs = re.findall(r'<div class="pa-output highlight">.*?</div>\s*<p>(.*?)</p>', page, re.DOTALL)
    assert outputs, "no snippet output on the page"
    assert len(outputs) == page.count('class="pa-output highlight"')
    for mark in outputs:
        status = re.search(r'class="pa-verified" data-status="([a-z-]+)"', mark)
        assert status is not None, mark
        assert status.group(1) in ("passed", "cached", "not-run")


def test_home_page_has_a_card_per_bundle(built_site: Built) -> None:
    project, result, _ = built_site
    assert result.returncode == 0, result.stderr
    home = (project / "site" / "index.html").read_text("utf-8")
    bundles = list((REPO / "snippets").glob("*/bundle.yml"))
    assert home.count('<div class="grid cards pa-catalogue">') == 1
    cards = home.split('<div class="grid cards pa-catalogue">', 1)[1].split("</div>", 1)[0]
    assert cards.count("<li>") == len(bundles)
    assert 'href="patterns/choreography-pattern/"' in cards


def test_mermaid_theme_leaves_diagrams_to_the_theme(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    with_plugin_settings(project, "      mermaid: theme\n      run: false\n")
    assert settings_mod.load(project / "mkdocs.yml").run is False  # the CLI and pytest accept the key
    result = run_mkdocs(project, "--strict", "-d", "site")
    assert result.returncode == 0, result.stderr
    site = project / "site"
    assert not (site / "assets" / "pattern-articles" / "mermaid.min.js").exists()
    assert (site / "assets" / "pattern-articles" / "pattern-articles.css").is_file()
    assert not any("mermaid" in src for src in scripts(article_html(site)))


def test_unknown_mermaid_mode_stops_the_build(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    with_plugin_settings(project, "      mermaid: cdn\n")
    result = run_mkdocs(project, "-d", "site")
    assert result.returncode != 0
    assert "mermaid" in result.stderr and "bundled" in result.stderr


def test_readme_picture_is_present_and_small() -> None:
    """The README embeds it; a missing or heavy picture is a broken or slow README."""
    data = README_PICTURE.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 400 * 1024
    assert int.from_bytes(data[16:20], "big") == 1280
    assert "docs/assets/screenshot-desktop.png" in (REPO / "README.md").read_text("utf-8")


def test_phone_picture_is_present_and_small() -> None:
    """The phone-width view of the article (test_screenshots.py makes it), for the README."""
    data = (REPO / "docs" / "assets" / "screenshot-phone.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 400 * 1024
    assert int.from_bytes(data[16:20], "big") == 390 * 2  # a 390 px phone at device scale 2
