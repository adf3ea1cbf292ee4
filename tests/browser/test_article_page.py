"""The choreography article as a reader's browser shows it: the built site, served offline.

Each test opens the page in a fresh Chromium context that can reach only the loopback, with
Material's diagrams rendered (see conftest.py). Expectations come from the sources (the
article's headings, the bundle's participants, the golden outputs, the snippet files), not
from a copy of the page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from pattern_articles import settings as settings_mod
from pattern_articles.content.article import parse
from pattern_articles.content.bundle import load as load_bundle
from pattern_articles.content.checks import heading_slip
from tests.conftest import REPO

from .helpers import Offline, offline_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SOURCE = REPO / "docs" / "patterns" / "choreography-pattern.md"
BUNDLE = REPO / "snippets" / "choreography"

Article = tuple["Page", Offline]


def expected_headings() -> list[str]:
    """The article's own level-2 headings (slips shown corrected), then the appended sections
    the bundle has content for."""
    bundle = load_bundle(BUNDLE)
    own = [bundle.model.name, *bundle.model.aliases]
    others = [r.name or r.pattern.replace("-", " ").title() for r in bundle.model.related]
    if bundle.model.definition and bundle.model.definition.contrast_with:
        others.append(bundle.model.definition.contrast_with.replace("-", " ").title())
    titles = []
    for section in parse(SOURCE.read_text("utf-8"), SOURCE).sections:
        if section.level != 2:
            continue
        slip = heading_slip(section.title, own, others)
        titles.append(slip.fixed if slip else section.title)
    settings = settings_mod.load(REPO / "mkdocs.yml")
    # an appended section shows only when the bundle has content for it
    return titles + [settings.title_for(key) for key in settings.append if getattr(bundle.model, key, None)]


def golden_first_line(name: str) -> str:
    return (BUNDLE / "expected" / name).read_text("utf-8").splitlines()[0].strip()


def tab_set_with(page: Page, label: str) -> Locator:
    """The first tab set that has a label starting with ``label``."""
    sets = page.locator(".tabbed-set").filter(has=page.locator(".tabbed-labels > label", has_text=label))
    assert sets.count() >= 1, f"no tab set with a '{label}' tab"
    return sets.first


def panel(tabs: Locator, index: int) -> Locator:
    return tabs.locator(":scope > .tabbed-content > .tabbed-block").nth(index)


def label_index(tabs: Locator, text: str) -> int:
    labels = [t.strip() for t in tabs.locator(":scope > .tabbed-labels > label").all_inner_texts()]
    matches = [i for i, t in enumerate(labels) if t.startswith(text)]
    assert matches, f"no tab labelled '{text}…' in {labels}"
    return matches[0]


def test_title_is_filled(article: Article) -> None:
    page, _ = article
    bundle = load_bundle(BUNDLE)
    expected = f"{bundle.model.name} Pattern: {bundle.model.subtitle}"
    assert page.locator("article h1").first.inner_text().strip() == expected
    assert page.title().startswith(expected)
    assert "TODO" not in page.locator("article").inner_text()


def test_every_section_is_visible_and_has_content(article: Article) -> None:
    page, _ = article
    sections = page.evaluate(
        """() => [...document.querySelectorAll("article h2")].map(h => {
            let text = "", node = h.nextElementSibling;
            while (node && node.tagName !== "H2") {
                if (node.checkVisibility()) text += node.innerText;
                node = node.nextElementSibling;
            }
            const title = h.textContent.replace("¶", "").trim();
            return {title, visible: h.checkVisibility(), length: text.trim().length};
        })"""
    )
    assert [s["title"] for s in sections] == expected_headings()
    for section in sections:
        assert section["visible"], section
        assert section["length"] > 200, f"section '{section['title']}' shows almost nothing: {section}"


def test_tabs_switch_between_code_output_and_diagram(article: Article) -> None:
    page, _ = article
    tabs = tab_set_with(page, "Diagram")
    output_index = label_index(tabs, "Output")
    code, output = panel(tabs, 0), panel(tabs, output_index)
    assert code.locator(".highlight .filename").first.is_visible()  # the first tab shows code
    script = code.locator(".highlight .filename").first.inner_text().strip().split("/")[-1]
    assert not output.is_visible()

    tabs.locator(".tabbed-labels > label").nth(output_index).click()
    output.wait_for(state="visible", timeout=5_000)
    assert not code.is_visible()
    assert golden_first_line(script.removesuffix(".py") + ".txt") in output.inner_text()
    assert output.locator(".pa-verified").is_visible()

    diagram = panel(tabs, label_index(tabs, "Diagram"))
    tabs.locator(".tabbed-labels > label", has_text="Diagram").first.click()
    diagram.wait_for(state="visible", timeout=5_000)
    assert not output.is_visible()
    assert diagram.locator("div.mermaid").first.is_visible()


def test_tabs_switch_between_scenarios(article: Article) -> None:
    page, _ = article
    tabs = tab_set_with(page, "Output: Payment declined")
    declined = panel(tabs, label_index(tabs, "Output: Payment declined"))
    out_of_stock = panel(tabs, label_index(tabs, "Output: Out of stock"))
    tabs.locator(".tabbed-labels > label", has_text="Output: Payment declined").first.click()
    declined.wait_for(state="visible", timeout=5_000)
    assert golden_first_line("flow.payment-declined.txt") in declined.inner_text()
    assert not out_of_stock.is_visible()

    tabs.locator(".tabbed-labels > label", has_text="Output: Out of stock").first.click()
    out_of_stock.wait_for(state="visible", timeout=5_000)
    assert not declined.is_visible()
    assert golden_first_line("flow.out-of-stock.txt") in out_of_stock.inner_text()


def test_copy_button_copies_the_code(article: Article) -> None:
    page, _ = article
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    block = page.locator("article .highlight").filter(has=page.locator(".filename")).first
    block.scroll_into_view_if_needed()
    title = block.locator(".filename").first.inner_text().strip()
    source = REPO / "snippets" / title
    assert source.is_file(), f"code block titled {title!r} names no snippet file"

    block.hover()
    block.locator("button[data-clipboard-target]").first.click()  # Material's copy button
    copied = page.evaluate("navigator.clipboard.readText()")

    lines = [line.strip() for line in copied.splitlines() if line.strip()]
    assert len(lines) >= 2, copied
    source_lines = {line.strip() for line in source.read_text("utf-8").splitlines()}
    assert all(line in source_lines for line in lines), f"copied text is not the code of {title}:\n{copied}"
    assert not re.match(r"^\s*\d+\s", copied), "line numbers were copied with the code"


def test_diagram_rendered_with_the_services_as_participants(article: Article) -> None:
    page, _ = article
    diagrams = page.evaluate(
        """() => [...document.querySelectorAll("div.mermaid")].map(d => {
            const svg = d.shadowRoot.querySelector("svg");
            return {
                actors: [...svg.querySelectorAll("text.actor")].map(t => t.textContent.trim()),
                text: svg.textContent,
                width: svg.getBoundingClientRect().width,
                visible: d.checkVisibility(),
            };
        })"""
    )
    assert diagrams, "no diagram on the page"
    services = [p.name for p in load_bundle(BUNDLE).model.participants]
    first = diagrams[0]
    assert first["visible"]
    assert first["width"] > 300, first
    assert set(services) <= set(first["actors"]), (services, first["actors"])
    for diagram in diagrams:
        assert diagram["actors"], "a diagram without participants (not a sequence diagram?)"
        assert "Syntax error" not in diagram["text"]


def test_page_makes_no_request_outside_the_site(article: Article) -> None:
    page, offline = article
    page.wait_for_load_state("networkidle")
    assert offline.blocked == [], "the page reached for the network (a CDN?)"
    assert offline.errors == []
    scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    assert any(src.endswith("/assets/pattern-articles/mermaid.min.js") for src in scripts), scripts


def test_home_page_lists_every_bundle_as_a_card(chromium: Browser, site_url: str) -> None:
    bundles = sorted(p.parent.name for p in (REPO / "snippets").glob("*/bundle.yml"))
    context, offline = offline_context(chromium, base_url=site_url)
    try:
        page = context.new_page()
        page.goto("")
        cards = page.locator(".grid.cards.pa-catalogue > ul > li")
        assert cards.count() == len(bundles)
        for bundle_id in bundles:
            model = load_bundle(REPO / "snippets" / bundle_id).model
            card = cards.filter(has_text=model.name).first
            assert card.is_visible()
            assert model.subtitle in card.inner_text()
            for tag in model.tags:
                assert card.locator(".pa-tag", has_text=tag).count() == 1
        choreography = cards.filter(has_text=load_bundle(BUNDLE).model.name).first
        assert choreography.locator(".pa-tag").count() >= 1  # the article's front-matter tags
        choreography.locator("a").first.click()
        page.wait_for_url("**/patterns/choreography-pattern/")
        assert page.locator("article h1").first.inner_text().startswith(load_bundle(BUNDLE).model.name)
        assert offline.blocked == []
    finally:
        context.close()

