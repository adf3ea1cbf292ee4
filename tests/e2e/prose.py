"""Count the words of prose a reader reads on a built page.

Prose is the article's running text: headings, paragraphs, lists, admonitions, inline code.
Not prose: code listings, outputs (both ``pre``), diagrams (``.mermaid``), tables, tab labels,
the permalink signs and the small "verified" marks. A length budget is about what a reader
must read, so what a reader skims or looks at is left out.

Run it on a built page: ``python -m tests.e2e.prose site/patterns/choreography-pattern/index.html``.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

#: Elements whose whole subtree is not prose.
SKIP_TAGS = {"pre", "table", "script", "style", "svg", "nav"}
#: Classes whose whole subtree is not prose.
SKIP_CLASSES = {"mermaid", "highlight", "tabbed-labels", "headerlink", "pa-verified", "md-source-file"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[\w’'][\w’'.\-/]*")


class _Prose(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0  # open elements inside the article
        self.skip_at: int | None = None  # depth where a skipped subtree began
        self.inside = False
        self.done = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done or tag in VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        if not self.inside:
            if tag == "article" and "md-content__inner" in classes:
                self.inside, self.depth = True, 1
            return
        self.depth += 1
        if self.skip_at is None and (tag in SKIP_TAGS or classes & SKIP_CLASSES):
            self.skip_at = self.depth

    def handle_endtag(self, tag: str) -> None:
        if not self.inside or self.done or tag in VOID:
            return
        if self.skip_at is not None and self.depth == self.skip_at:
            self.skip_at = None
        self.depth -= 1
        if self.depth == 0:
            self.done = True
        self.parts.append(" ")  # a block's end is a word boundary

    def handle_data(self, data: str) -> None:
        if self.inside and not self.done and self.skip_at is None:
            self.parts.append(data)


def prose_text(page_html: str) -> str:
    """The article's prose, as text with the non-prose parts removed."""
    parser = _Prose()
    parser.feed(page_html)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def prose_words(page_html: str) -> int:
    """How many words of prose the page's article holds."""
    return len(WORD.findall(prose_text(page_html)))


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{prose_words(Path(name).read_text('utf-8')):6d}  {name}")
