"""The pattern catalogue: cards generated from the bundles, wherever a page asks for them."""

from __future__ import annotations

from pathlib import Path

import markdown
import pytest

from pattern_articles.errors import PatternError
from pattern_articles.pages import catalogue
from pattern_articles.project import Project
from pattern_articles.settings import Settings

FENCE = "```pattern-catalogue\n```\n"


def make_project(root: Path, bundles: dict[str, str], articles: dict[str, str] | None = None) -> Project:
    for bundle_id, metadata in bundles.items():
        folder = root / "snippets" / bundle_id
        folder.mkdir(parents=True)
        (folder / "bundle.yml").write_text(metadata, "utf-8")
    for name, text in (articles or {}).items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    (root / "docs").mkdir(exist_ok=True)
    return Project(Settings(root=root))


SAGA = (
    "name: Saga\nsubtitle: Long-lived transactions\n"
    "description: Compensate instead of rolling back.\ntags: [transactions]\n"
)
CHOREO = "name: Choreography\nsubtitle: Coordinating through events\ndescription: No coordinator.\n"
ARTICLE = "---\npattern: choreography\ntitle: x\ntags: [cloud, design]\n---\n\n## Introduction\n\nText.\n"


def test_one_card_per_bundle_with_name_subtitle_tags_and_link(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA, "choreography": CHOREO},
                           {"patterns/choreography-pattern.md": ARTICLE})
    cards, problems = catalogue.cards(project, "index.md")
    assert problems == []
    assert [c.bundle_id for c in cards] == ["choreography", "saga"]
    choreography, saga = cards
    assert choreography.name == "Choreography"
    assert choreography.subtitle == "Coordinating through events"
    assert choreography.link == "patterns/choreography-pattern.md"
    assert choreography.tags == ("cloud", "design")  # from the article's front matter
    assert saga.tags == ("transactions",)
    assert saga.link == ""  # no page shows it


def test_links_are_relative_to_the_page(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"choreography": CHOREO}, {"patterns/choreography-pattern.md": ARTICLE})
    cards, _ = catalogue.cards(project, "guide/index.md")
    assert cards[0].link == "../patterns/choreography-pattern.md"


def test_expand_replaces_only_the_fence_and_renders_material_grid_cards(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA, "choreography": CHOREO},
                           {"patterns/choreography-pattern.md": ARTICLE})
    page = "# Home\n\nBefore.\n\n" + FENCE + "\nAfter.\n"
    expanded = catalogue.expand(page, project, "index.md")
    assert expanded.markdown.startswith("# Home\n\nBefore.\n\n")
    assert expanded.markdown.endswith("\nAfter.\n")
    assert "pattern-catalogue\n" not in expanded.markdown

    html = markdown.markdown(expanded.markdown, extensions=["attr_list", "md_in_html"])
    assert '<div class="grid cards pa-catalogue">' in html
    assert html.count("<li>") == 2
    assert '<a href="patterns/choreography-pattern.md">Choreography</a>' in html
    assert '<span class="pa-card-subtitle">Long-lived transactions</span>' in html
    assert '<span class="pa-tag">transactions</span>' in html
    assert "No article shows this pattern yet." in html  # the saga card


def test_a_page_without_the_fence_is_returned_unchanged(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA})
    page = "# Home\n\n```python\nprint('pattern-catalogue')\n```\n"
    assert catalogue.expand(page, project).markdown == page


def test_fence_inside_another_block_or_of_another_kind_is_left_alone(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA})
    page = "- item\n\n    ```pattern-catalogue\n    ```\n\n````markdown\n" + FENCE + "````\n"
    assert catalogue.expand(page, project).markdown == page


def test_named_bundles_choose_and_order_the_cards(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA, "choreography": CHOREO})
    page = "```pattern-catalogue\nsaga, choreography\n```\n"
    text = catalogue.expand(page, project).markdown
    assert text.index("Saga") < text.index("Choreography")
    only = catalogue.expand("```pattern-catalogue\nsaga\n```\n", project).markdown
    assert "Choreography" not in only


def test_unknown_bundle_name_is_an_error_with_the_place(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA})
    page = "# Home\n\n```pattern-catalogue\nsgaa\n```\n"
    with pytest.raises(PatternError) as caught:
        catalogue.expand(page, project, path="docs/index.md", line_offset=3)
    assert "sgaa" in caught.value.message
    assert str(caught.value.place) == "docs/index.md:6"
    assert "saga" in caught.value.hint


def test_broken_bundle_gets_a_card_and_a_warning(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"saga": SAGA, "broken": "name: [not, a, name]\n"})
    expanded = catalogue.expand(FENCE, project)
    assert [p.level for p in expanded.problems] == ["warning"]
    assert "broken" in expanded.problems[0].message
    assert "Its metadata does not load" in expanded.markdown
    assert "Saga" in expanded.markdown


def test_text_from_metadata_cannot_inject_html(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"x": 'name: "A <b>bold</b> [link]"\nsubtitle: "<script>x</script>"\n'})
    text = catalogue.render(catalogue.cards(project)[0])
    assert "<b>" not in text and "<script>" not in text
    assert "&lt;script&gt;" in text


def test_no_bundles_renders_a_note() -> None:
    assert "No patterns yet" in catalogue.render([])
