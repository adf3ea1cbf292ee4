"""docs/guide/bad-input.md holds the corpus table, generated from ``corpus.py``: it cannot drift.

The page's table is the rendering of the very data ``test_corpus`` asserts in all three
adapters. After changing the corpus, regenerate the page with::

    PATTERN_ARTICLES_UPDATE_DOCS=1 python -m pytest tests/badinput/test_docs_table.py
"""

from __future__ import annotations

import os
from pathlib import Path

from .corpus import TABLE_END, TABLE_START, markdown_table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "bad-input.md"


def test_docs_page_shows_the_generated_table() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, f"{PAGE} lost its table markers"
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END + "\n", 1)
    wanted = head + markdown_table() + tail
    if wanted != text and os.environ.get("PATTERN_ARTICLES_UPDATE_DOCS"):
        PAGE.write_text(wanted, encoding="utf-8")
        return
    assert text == wanted, (
        f"{PAGE} does not show the corpus table; regenerate it with "
        "PATTERN_ARTICLES_UPDATE_DOCS=1 python -m pytest tests/badinput/test_docs_table.py"
    )
