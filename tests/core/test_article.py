"""Parsing and reassembling articles: headings found reliably, authored bytes never touched."""

from __future__ import annotations

import pytest

from pattern_articles.content import article
from pattern_articles.errors import PatternError

SEED_LIKE = """---
title: 'X Pattern: <TODO>'
description: <TODO>
---

## Introduction
Some authored text.

## Empty One

## Todo One
<TODO>

## With Sub
### Child
text

## Last
"""


def titles(text: str) -> list[str]:
    return [s.title for s in article.parse(text).sections]


def test_front_matter_and_sections_are_found() -> None:
    parsed = article.parse(SEED_LIKE, "a.md")
    assert parsed.front_matter["title"] == "X Pattern: <TODO>"
    assert parsed.front_matter_lines["description"] == 3
    assert titles(SEED_LIKE) == ["Introduction", "Empty One", "Todo One", "With Sub", "Child", "Last"]
    intro = parsed.sections[0]
    assert intro.line == 6
    assert not parsed.is_empty(intro)
    assert parsed.is_empty(parsed.sections[1])
    assert parsed.is_empty(parsed.sections[2])
    assert not parsed.is_empty(parsed.sections[3]), "a sub-heading makes a section authored"
    assert parsed.is_empty(parsed.sections[5])


def test_heading_inside_code_fence_is_not_a_heading() -> None:
    text = "## Real\n\n```markdown\n## Not a heading\n```\n\n~~~\n# nor this\n~~~\n"
    assert titles(text) == ["Real"]
    parsed = article.parse(text)
    assert not parsed.is_empty(parsed.sections[0])


def test_setext_headings_count() -> None:
    text = "Title\n=====\n\nSub\n---\n\ntext\n"
    parsed = article.parse(text)
    assert [(s.title, s.level) for s in parsed.sections] == [("Title", 1), ("Sub", 2)]
    assert parsed.sections[1].heading_end == 5


def test_section_runs_to_next_heading_of_same_or_higher_level() -> None:
    text = "## A\n### A1\nx\n#### A1a\n## B\n# C\n"
    parsed = article.parse(text)
    a, a1, a1a, b, c = parsed.sections
    assert (a.start, a.end) == (0, 4)
    assert (a1.start, a1.end) == (1, 4)
    assert a1a.end == 4
    assert (b.start, b.end) == (4, 5)
    assert c.end == 6


@pytest.mark.parametrize("marker", ["<TODO>", "TODO", "<!-- TODO -->", "<TODO: write this>", "TODO:"])
def test_todo_markers_make_a_section_fillable(marker: str) -> None:
    parsed = article.parse(f"## A\n\n{marker}\n\n## B\n")
    assert parsed.is_empty(parsed.sections[0])


@pytest.mark.parametrize("body", ["Not a TODO list", "`TODO`", "- [ ] item", "<!-- a comment -->"])
def test_other_text_makes_a_section_authored(body: str) -> None:
    parsed = article.parse(f"## A\n\n{body}\n\n## B\n")
    assert not parsed.is_empty(parsed.sections[0])


@pytest.mark.parametrize(
    "text",
    [SEED_LIKE, SEED_LIKE.replace("\n", "\r\n"), "\ufeff" + SEED_LIKE, "no headings at all", "", "## only\n"],
)
def test_reassemble_without_changes_is_byte_identical(text: str) -> None:
    assert article.parse(text).reassemble() == text


def test_fill_inserts_and_keeps_everything_else() -> None:
    parsed = article.parse(SEED_LIKE)
    out = parsed.reassemble(fills={1: "Generated one.", 2: "Generated two."})
    assert "## Empty One\n\nGenerated one.\n" in out
    assert "## Todo One\n\nGenerated two.\n" in out
    assert "<TODO>\n" not in out.split("---", 2)[2]
    assert "Some authored text." in out
    assert out.count("Generated") == 2


def test_crlf_article_keeps_crlf_when_filled() -> None:
    text = SEED_LIKE.replace("\n", "\r\n")
    out = article.parse(text).reassemble(fills={1: "line one\nline two"})
    assert "\r\n\r\nline one\r\nline two\r\n" in out
    assert "\n" not in out.replace("\r\n", "")


def test_bom_is_kept() -> None:
    out = article.parse("\ufeff## A\n").reassemble(fills={0: "x"})
    assert out.startswith("\ufeff## A\n")


def test_heading_fix_replaces_only_the_heading_line() -> None:
    parsed = article.parse("## What is Orchestration Pattern\n\n## Next\n")
    out = parsed.reassemble(headings={0: "## What is Choreography Pattern\n"})
    assert out == "## What is Choreography Pattern\n\n## Next\n"


def test_unclosed_front_matter_is_a_clear_error() -> None:
    with pytest.raises(PatternError) as info:
        article.parse("---\ntitle: x\n\n## A\n", "bad.md")
    assert "bad.md:1" in str(info.value)
    assert "not closed" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\n- a list\n---\n", "must be a mapping"),
        ("---\ntitle: [unclosed\n---\n", "not valid YAML"),
    ],
)
def test_bad_front_matter_names_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(PatternError) as info:
        article.parse(text, "x.md")
    assert expected in str(info.value)
    assert "x.md:" in str(info.value)


def test_todo_lines_skip_code() -> None:
    text = "a TODO here\n```\nTODO in code\n```\n`TODO` inline\n<TODO>\n"
    assert [n for n, _ in article.todo_lines(text)] == [1, 6]
