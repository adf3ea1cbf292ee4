"""Every article of the demo site as a reader meets it, at 1280 px and on a 390 px phone.

What a blog reader must never see: a listing that scrolls sideways on a desktop, an event
name broken in the middle of a word, the same diagram or output twice, a word about the
build or its cache, a clipped "verified" mark, console text smaller than the code around
it. Every code block is checked in every tab and inside every collapsible box, not only
the ones open when the page loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .helpers import ARTICLE, article_pages, offline_context, wait_for_diagrams

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WIDTHS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
ARTICLES = article_pages()

#: Words about how the page was made, which a reader of the article has no use for.
BUILD_TALK = re.compile(
    r"\bcach(e|ed|es|ing)\b|\bthis build\b|\bthe build\b|\bbuild of this page\b|\btest suite\b"
    r"|\bsuite in miniature\b|\bcode unchanged\b|\bgolden\b",
    re.IGNORECASE,
)

#: Opens every collapsible box and shows every tab of every tab set in turn, calling
#: ``measure`` once on each code block while it is visible.
OPEN_ALL = """
(measure) => {
  document.querySelectorAll("article details").forEach(d => { d.open = true; });
  const results = [];
  const sets = [...document.querySelectorAll("article .tabbed-set")];
  const seen = new Set();
  const visit = () => {
    for (const code of document.querySelectorAll("article pre > code")) {
      if (!code.checkVisibility() || seen.has(code)) continue;
      seen.add(code);
      results.push(measure(code));
    }
  };
  visit();
  for (const set of sets) {
    for (const input of set.querySelectorAll(":scope > input")) {
      input.checked = true;
      visit();
    }
  }
  return results;
}
"""


def test_the_demo_article_is_among_the_checked_ones() -> None:
    assert ARTICLE in ARTICLES, ARTICLES


@pytest.fixture(params=[(article, width) for article in ARTICLES for width in sorted(WIDTHS)],
                ids=lambda p: f"{p[0].strip('/').split('/')[-1]}-{p[1]}")
def reader(request: pytest.FixtureRequest, chromium: Browser, site_url: str) -> Iterator[tuple[Page, str]]:
    """An article at one of the two widths, diagrams rendered; yields (page, width name)."""
    article, name = request.param
    width, height, phone = WIDTHS[name]
    context, offline = offline_context(chromium, width=width, height=height, phone=phone, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(article)
        wait_for_diagrams(page, offline)
        yield page, name
    finally:
        context.close()


def every_code_block(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        f"""() => ({OPEN_ALL})(code => ({{
            scroll: code.scrollWidth,
            client: code.clientWidth,
            output: !!code.closest(".pa-output"),
            font: parseFloat(getComputedStyle(code).fontSize),
            boxed: !!code.closest(".admonition, details"),
            longest: code.innerText.split("\\n").reduce((a, l) => l.length > a.length ? l : a, ""),
        }}))"""
    )


@pytest.mark.parametrize("article", ARTICLES)
def test_no_listing_scrolls_sideways_at_1280(chromium: Browser, site_url: str, article: str) -> None:
    width, height, _ = WIDTHS["desktop"]
    context, _ = offline_context(chromium, width=width, height=height, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(article)
        blocks = every_code_block(page)
        served = page.evaluate(
            """async () => {
                const html = await (await fetch(location.href)).text();
                const doc = new DOMParser().parseFromString(html, "text/html");
                return doc.querySelectorAll("article pre:not(.mermaid) > code").length;
            }"""
        )
    finally:
        context.close()
    assert served > 0, "no code block on the page"
    assert len(blocks) == served, f"{len(blocks)} of the page's {served} code blocks measured: is every tab visited?"
    wide = [b for b in blocks if b["scroll"] > b["client"]]
    assert wide == [], "listings wider than the text column:\n" + "\n".join(
        f"  {b['scroll']} > {b['client']} px: {b['longest']!r}" for b in wide)


def test_console_text_is_as_large_as_the_code_around_it(reader: tuple[Page, str]) -> None:
    page, name = reader
    blocks = every_code_block(page)
    for boxed in (False, True):
        code = {b["font"] for b in blocks if not b["output"] and b["boxed"] == boxed}
        output = {b["font"] for b in blocks if b["output"] and b["boxed"] == boxed}
        if code and output:
            assert min(output) >= min(code), f"{name}: console {output} px, code {code} px (boxed={boxed})"
    assert any(b["output"] for b in blocks), "no output on the page"


def test_no_table_cell_breaks_an_identifier(reader: tuple[Page, str]) -> None:
    page, name = reader
    broken = page.evaluate(
        """() => [...document.querySelectorAll("article table code")]
            .filter(c => c.getClientRects().length > 1).map(c => c.textContent)"""
    )
    assert page.locator("article table code").count() > 5
    assert broken == [], f"{name}: identifiers broken across lines: {broken}"


def test_no_diagram_or_output_appears_twice(reader: tuple[Page, str]) -> None:
    """Read from the page as served (before Mermaid replaces each diagram's source)."""
    page, _ = reader
    shown = page.evaluate(
        """async () => {
            const html = await (await fetch(location.href)).text();
            const doc = new DOMParser().parseFromString(html, "text/html");
            const text = el => el.textContent.trim();
            return {
                diagrams: [...doc.querySelectorAll("article pre.mermaid")].map(text),
                outputs: [...doc.querySelectorAll("article .pa-output pre")].map(text),
            };
        }"""
    )
    for kind, items in shown.items():
        assert items, f"no {kind} on the page"
        twice = sorted({item.splitlines()[0] for item in items if items.count(item) > 1})
        assert twice == [], f"{kind} shown more than once, starting: {twice}"


def test_no_text_talks_about_the_build(reader: tuple[Page, str]) -> None:
    page, _ = reader
    texts = page.evaluate(
        """() => {
            const article = document.querySelector("article");
            const titles = [...article.querySelectorAll("[title]")].map(e => e.getAttribute("title"));
            return [article.textContent, ...titles];
        }"""
    )
    for text in texts:
        found = BUILD_TALK.search(text)
        where = text[max(0, found.start() - 80):found.end() + 80] if found else ""
        assert found is None, f"reader-facing text mentions the build: …{where}…"


@pytest.mark.parametrize("article", ARTICLES)
def test_phone_layout_holds(chromium: Browser, site_url: str, article: str) -> None:
    """No sideways page scroll, every tab row inside the screen (scrolling on its own when
    long), every verified mark whole and on top."""
    width, height, phone = WIDTHS["phone"]
    context, offline = offline_context(chromium, width=width, height=height, phone=phone, base_url=site_url)
    try:
        page = context.new_page()
        page.goto(article)
        wait_for_diagrams(page, offline)
        layout = page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                rows: [...document.querySelectorAll("article .tabbed-labels")].map(row => {
                    const r = row.getBoundingClientRect();
                    return {right: r.right, scrollable: getComputedStyle(row).overflowX,
                            wide: row.scrollWidth > row.clientWidth};
                }),
            })"""
        )
        marks = page.locator("article .pa-verified")
        covered: list[str] = []
        checked = marks.count()
        for index in range(checked):
            mark = marks.nth(index)
            page.evaluate(
                """(el) => {
                    const details = el.closest("details"); if (details) details.open = true;
                    const block = el.closest(".tabbed-block");
                    if (block) {
                        const set = block.closest(".tabbed-set");
                        const blocks = [...set.querySelector(":scope > .tabbed-content").children];
                        set.querySelectorAll(":scope > input")[blocks.indexOf(block)].checked = true;
                    }
                    el.scrollIntoView({block: "center"});
                }""",
                mark.element_handle(),
            )
            whole = page.evaluate(
                """(el) => {
                    const r = el.getBoundingClientRect();
                    const points = [];
                    for (const x of [r.left + 2, r.right - 2])
                        for (const y of [r.top + 1, r.top + r.height / 2, r.bottom - 1]) points.push([x, y]);
                    const onTop = points.every(([x, y]) => {
                        const hit = document.elementFromPoint(x, y);
                        return hit !== null && (hit === el || el.contains(hit));
                    });
                    // no ancestor that clips its overflow cuts the mark off
                    let clipped = false;
                    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
                        const style = getComputedStyle(a);
                        if (style.overflowX === "visible" && style.overflowY === "visible") continue;
                        const box = a.getBoundingClientRect();
                        if (r.top < box.top || r.bottom > box.bottom || r.left < box.left || r.right > box.right)
                            clipped = true;
                    }
                    return onTop && !clipped && r.left >= 0 && r.right <= window.innerWidth && r.height > 0;
                }""",
                mark.element_handle(),
            )
            if not whole:
                covered.append(mark.inner_text())
    finally:
        context.close()
    assert layout["page"] <= width, f"the page scrolls sideways on a phone: {layout['page']} px"
    assert layout["rows"], "no tab rows on the page"
    for row in layout["rows"]:
        assert row["right"] <= width + 1, row
        if row["wide"]:
            assert row["scrollable"] in ("auto", "scroll"), row
    assert checked > 0, "no verified mark on the page"
    assert covered == [], f"verified marks clipped or covered on a phone: {covered}"
