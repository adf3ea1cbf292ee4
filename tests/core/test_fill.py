"""The filling rules, with a small bundle and runs answered by a fake (no processes)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pattern_articles.content import article, bundle
from pattern_articles.engine import RunResult, RunSpec, judge
from pattern_articles.pages.fill import Filler, SiteLinks
from pattern_articles.settings import Settings

BUNDLE = """\
name: Demo
subtitle: Filled Subtitle
description: Filled description.
definition:
  text: Demo is a pattern.
  contrast_with: other
  contrast:
    - {aspect: Speed, this: fast, other: slow}
problem:
  context: A context.
benefits:
  - {title: Good, detail: It helps.}
related:
  - {pattern: other, relation: alternative}
  - {pattern: elsewhere, url: "https://example.org/elsewhere"}
references:
  - {title: A source, url: "https://example.org"}
snippets:
  hello.py:
    scenarios:
      en: {args: [en], title: English}
"""


@pytest.fixture
def demo(tmp_path: Path) -> bundle.Bundle:
    folder = tmp_path / "snippets" / "demo"
    (folder / "expected").mkdir(parents=True)
    (folder / "bundle.yml").write_text(BUNDLE)
    (folder / "hello.py").write_text("# --8<-- [start:main]\nprint('hello')\n# --8<-- [end:main]\n")
    (folder / "expected" / "hello.en.txt").write_text("hello\n")
    return bundle.load(folder)


def fake_runs(b: bundle.Bundle, stdout: str = "hello\n", status: str = "passed"):  # type: ignore[no-untyped-def]
    def outcome_for(spec: RunSpec):  # type: ignore[no-untyped-def]
        result = RunResult(spec=spec, status=status, exit_code=0 if status == "passed" else 1, stdout=stdout,
                           stderr="", duration=0.01, truncated=False, trace=(), cached=False,
                           reason="" if status == "passed" else "exit code 1")
        return judge(b, spec, result)
    return outcome_for


def fill(b: bundle.Bundle, text: str, **kwargs):  # type: ignore[no-untyped-def]
    filler = Filler(Settings(root=b.dir.parent.parent), b, outcome_for=fake_runs(b, **kwargs),
                    links=SiteLinks({"other": "other-pattern.md"}))
    return filler.fill(article.parse(textwrap.dedent(text), "a.md"))


def test_fills_empty_sections_title_and_description(demo: bundle.Bundle) -> None:
    out = fill(demo, """\
        ---
        title: 'Demo Pattern: <TODO>'
        description: <TODO>
        ---

        ## What is Other Pattern

        ## Problem Context
        Mine.

        ## Benefits
        <TODO>
        """)
    assert out.meta == {"title": "Demo Pattern: Filled Subtitle", "description": "Filled description."}
    assert "## What is Demo Pattern\n\nDemo is a pattern." in out.markdown
    assert "| **Speed** | fast | slow |" in out.markdown
    assert "[Other](other-pattern.md)" in out.markdown, "a related pattern with an article is linked"
    assert "## Problem Context\nMine.\n" in out.markdown, "authored text untouched"
    assert "- **Good.** It helps." in out.markdown
    assert [p.level for p in out.problems] == ["info"], out.problems


def test_appends_sections_without_heading_in_order(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Intro\nText.\n")
    md = out.markdown
    assert md.index("## Related patterns") < md.index("## References")
    assert "[A source](https://example.org)" in md
    assert "[Elsewhere](https://example.org/elsewhere)" in md, "no article: external link"
    assert "**Other** (alternative)" not in md


def test_empty_section_without_content_and_leftover_todo_warn(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Mystery Section\n\n## Notes\nSomething TODO later.\n")
    messages = [(p.level, str(p.place), p.message) for p in out.problems]
    assert ("warning", "a.md:1", "section 'Mystery Section' is empty and matches no bundle content") in messages
    assert any(m[0] == "warning" and m[1] == "a.md:4" and "TODO left" in m[2] for m in messages)


def test_directive_places_code_and_real_output(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Intro\nText.\n\n```pattern-snippet\nhello.py#main scenario=en\n```\n\nAfter.\n")
    md = out.markdown
    assert "pattern-snippet" not in md
    assert '=== "hello.py · main"' in md
    assert '=== "Output: English"' in md
    assert "print('hello')" in md and "    hello\n" in md
    assert md.rstrip().endswith("After.") or "After." in md


def test_failing_run_is_a_warning_and_an_admonition(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Intro\nText.\n\n```pattern-snippet\nhello.py scenario=en\n```\n", status="failed")
    assert '!!! failure "`demo/hello.py` (scenario `en`) failed: exit code 1"' in out.markdown
    assert any(p.level == "warning" and "failed" in p.message for p in out.problems)


def test_changed_output_shows_the_diff(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Intro\nText.\n\n```pattern-snippet\nhello.py scenario=en\n```\n", stdout="bye\n")
    assert "-hello" in out.markdown and "+bye" in out.markdown
    assert any("differs from hello.en.txt" in p.message for p in out.problems)


def test_fix_headings_off_makes_the_slip_a_warning(demo: bundle.Bundle) -> None:
    filler = Filler(Settings(root=demo.dir, fix_headings=False), demo)
    out = filler.fill(article.parse("## Why use Other Pattern\nText.\n", "a.md"))
    assert out.markdown.startswith("## Why use Other Pattern")
    assert [(p.level, p.hint) for p in out.problems] == [("warning", "did you mean 'Why use Demo Pattern'?")]


def test_blank_lines_are_squeezed_between_blocks_but_kept_in_code() -> None:
    from pattern_articles.pages.fill import squeeze_blank_lines

    code = "```python\ndef f():\n    pass\n\n\ndef g():\n    pass\n```"
    tabbed = "    ~~~~text\n    out\n\n\n\n    more\n    ~~~~"
    text = f"intro\n\n\n\n{code}\n\n\n{tabbed}\n\n\n\nend\n"
    assert squeeze_blank_lines(text) == f"intro\n\n{code}\n\n{tabbed}\n\nend\n"
    # a shorter or other fence inside a block does not close it
    inner = "````markdown\n```\n\n\nx\n````"
    assert squeeze_blank_lines(inner) == inner


def test_a_snippet_reference_is_placed_on_its_own_bundle_line(tmp_path: Path) -> None:
    # why: the places are looked up by identity in a table made once per bundle load (a walk
    # of every reference per snippet shown made a page quadratic in its snippets)
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "a.py").write_text("print('a')\n")
    (folder / "b.py").write_text("print('b')\n")
    (folder / "bundle.yml").write_text(textwrap.dedent("""\
        name: Demo
        implementation:
          steps:
            - title: One
              code:
                - snippet: a.py
            - title: Two
              code:
                - snippet: b.py
        considerations:
          - {title: Watch, risk: Loss, mitigation: Care, demonstrated_by: {snippet: b.py}}
        """))
    b = bundle.load(folder)
    filler = Filler(Settings(root=tmp_path), b)
    steps = b.model.implementation.steps
    assert filler._ref_place(steps[0].code[0]).line == 6
    assert filler._ref_place(steps[1].code[0]).line == 9
    assert filler._ref_place(b.model.considerations[0].demonstrated_by).line == 11
    assert filler._ref_place({"snippet": "b.py"}).line == 2, "not a reference of the bundle: its implementation"


APPLICABILITY = """\
name: CQRS
applicability:
  use_when: [reads and writes scale apart]
  prefer_instead:
    - {pattern: crud, when: when the model is simple}
    - {pattern: event-sourcing, when: the history itself is the product}
    - {pattern: cache, when: If reads are merely slow}
"""


def test_applicability_keeps_the_name_and_reads_right_with_any_phrasing(tmp_path: Path) -> None:
    folder = tmp_path / "snippets" / "cqrs"
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text(APPLICABILITY)
    b = bundle.load(folder)
    out = Filler(Settings(root=tmp_path, run=False), b).fill(article.parse("## When to use it\n", "a.md"))
    text = out.markdown
    assert "Reach for CQRS when:" in text
    assert "Prefer **Crud** when the model is simple\n" in text
    assert "Prefer **Event Sourcing**: the history itself is the product\n" in text
    assert "Prefer **Cache** If reads are merely slow" in text
    assert "\n\nPrefer **Event Sourcing**" in text, "each alternative is its own paragraph"


# -- a paragraph is shown once per page ------------------------------------------------------

def _top_paragraphs(markdown: str) -> list[str]:
    from pattern_articles.pages.fill import _paragraphs

    return [text for _, _, text, top in _paragraphs(markdown) if top]


def test_an_empty_introduction_leaves_the_definition_to_its_own_section(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Introduction\n\n## What is Demo Pattern\n\n## Problem Context\n")
    intro = out.markdown.split("## What is")[0]
    assert "Filled description." in intro and "Demo is a pattern." not in intro
    assert out.markdown.count("Demo is a pattern.") == 1
    paragraphs = _top_paragraphs(out.markdown)
    assert len(paragraphs) == len(set(paragraphs)), paragraphs


def test_an_introduction_shows_the_definition_when_no_section_does(demo: bundle.Bundle) -> None:
    out = fill(demo, "## Introduction\n\n## Problem Context\n")
    assert "## Introduction\n\nFilled description.\n\nDemo is a pattern.\n" in out.markdown


def test_the_definition_appended_is_not_in_the_introduction_too(demo: bundle.Bundle) -> None:
    filler = Filler(Settings(root=demo.dir.parent.parent, run=False, append=["definition"]), demo)
    out = filler.fill(article.parse("## Introduction\n\n## Problem Context\n", "a.md"))
    assert out.markdown.count("Demo is a pattern.") == 1
    intro = out.markdown.split("## Problem Context")[0]
    assert "Filled description." in intro and "Demo is a pattern." not in intro


REPEATS = """\
name: Demo
description: Demo keeps services apart.
problem:
  context: >-
    Services grow
    together.
  forces: [speed]
summary:
  text: Demo keeps services apart.
  takeaways: [keep them apart]
benefits:
  - {title: Apart, detail: Services stay apart.}
"""


def _repeats(tmp_path: Path) -> bundle.Bundle:
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text(REPEATS)
    return bundle.load(folder)


def test_a_fill_drops_a_paragraph_the_author_wrote_and_keeps_the_rest(tmp_path: Path) -> None:
    b = _repeats(tmp_path)
    # the author's paragraph sits AFTER the section (line-wrapped differently): still theirs
    text = "## Problem Context\n\n## Notes\nServices grow together.\n"
    out = Filler(Settings(root=tmp_path, run=False, append=[]), b).fill(article.parse(text, "a.md"))
    assert out.markdown.count("grow") == 1, out.markdown
    assert "## Notes\nServices grow together.\n" in out.markdown, "the author's text is untouched"
    assert "The forces at play:\n\n- speed" in out.markdown, "the rest of the fill stays"


def test_a_later_fill_drops_what_an_earlier_fill_showed(tmp_path: Path) -> None:
    b = _repeats(tmp_path)
    text = "## Introduction\n\n## Summary\n"
    out = Filler(Settings(root=tmp_path, run=False, append=[]), b).fill(article.parse(text, "a.md"))
    md = out.markdown
    assert md.count("Demo keeps services apart.") == 1
    assert md.index("Demo keeps services apart.") < md.index("## Summary"), "the first one stays"
    assert "## Summary\n\n- keep them apart" in md
    assert out.filled == ["introduction", "summary"]


def test_a_fill_emptied_by_repeats_is_reported_empty(tmp_path: Path) -> None:
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text("name: Demo\nsummary:\n  text: Demo keeps services apart.\n")
    b = bundle.load(folder)
    text = "## Introduction\nDemo keeps services apart.\n\n## Summary\n<TODO>\n"
    out = Filler(Settings(root=tmp_path, run=False, append=[]), b).fill(article.parse(text, "a.md"))
    assert out.markdown.count("Demo keeps services apart.") == 1
    assert out.filled == []
    [problem] = [p for p in out.problems if p.level == "warning"]
    assert str(problem.place) == "a.md:4", "reported once, on its heading; its TODO is not a second warning"
    assert problem.message == ("section 'Summary' is empty: every paragraph the bundle has for 'summary' "
                               "is shown elsewhere on the page")


def test_only_prose_paragraphs_are_dropped() -> None:
    from pattern_articles.pages.fill import drop_repeated_paragraphs

    seen = {"Think twice when:", '!!! note "No trace" This run recorded no events.', "Said once."}
    generated = ("Think twice when:\n\n- it is small\n\n"
                 '!!! note "No trace"\n    This run recorded no events.\n\nSaid once.\n\nNew here.\n')
    out = drop_repeated_paragraphs(generated, seen)
    assert out == ("Think twice when:\n\n- it is small\n\n"
                   '!!! note "No trace"\n    This run recorded no events.\n\nNew here.\n')
    assert "New here." in seen
    # a paragraph twice within one fill: the second goes
    assert drop_repeated_paragraphs("Twice.\n\nTwice.\n", set()) == "Twice.\n"


def test_the_authors_paragraphs_are_found_between_headings_fences_and_blank_lines() -> None:
    from pattern_articles.pages.fill import authored_paragraphs

    text = ("## Notes\nFirst line\n  wrapped.\n\n```text\nIn a fence.\n```\nSetext\n======\n"
            "- a list item\n")
    found = authored_paragraphs(text.splitlines(keepends=True))
    assert "First line wrapped." in found
    assert "In a fence." not in found, "code is not prose"
    assert "Setext" not in found, "a heading is not a paragraph"
    assert "- a list item" in found and "a list item" not in found, "a list item keeps its marker"
