"""The Python-Markdown extension: plain ``markdown.Markdown`` and a real Zensical build of the source site."""

from __future__ import annotations

import html
import logging
import re
import time
from pathlib import Path

import markdown
import pytest

from pattern_articles.adapters.markdown_ext import PatternArticlesExtension
from pattern_articles.errors import PatternError
from tests.beyond.helpers import NO_ZENSICAL, zensical, zensical_build
from tests.conftest import copy_project, opening_of_definition

EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "pymdownx.details", "pymdownx.superfences",
              "pymdownx.tabbed", "pymdownx.highlight"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def convert(project: Path, text: str, *extra: object, **options: object) -> tuple[str, markdown.Markdown]:
    md = markdown.Markdown(extensions=[PatternArticlesExtension(root=str(project), **options), *EXTENSIONS,
                                       *extra])
    return md.convert(text), md


def words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def code(page: str) -> str:
    """Text with the tags removed in place (highlighted code is split into many spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_fills_an_article_from_its_front_matter(project: Path) -> None:
    source = (project / "docs/patterns/choreography-pattern.md").read_text("utf-8")
    page, md = convert(project, source)
    assert "TODO" not in page
    assert "pattern: choreography" not in page, "the front matter is not printed"
    assert md.front_matter["title"] == "Choreography Pattern: Coordinating Microservices Through Events"  # type: ignore[attr-defined]
    assert md.front_matter["permalink"] == "patterns/choreography-pattern/"  # type: ignore[attr-defined]
    text = words(page)
    assert opening_of_definition(project) in text
    assert "final state of order-1001: APPROVED" in text
    assert "sequenceDiagram" in page
    assert "What is Choreography Pattern" in text


def test_found_by_its_entry_point_name(project: Path) -> None:
    md = markdown.Markdown(extensions=["pattern_articles", *EXTENSIONS],
                           extension_configs={"pattern_articles": {"root": str(project)}})
    page = md.convert((project / "docs/patterns/choreography-pattern.md").read_text("utf-8"))
    assert opening_of_definition(project) in words(page)


def test_with_the_meta_extension_the_front_matter_is_left_for_it(project: Path) -> None:
    source = (project / "docs/patterns/choreography-pattern.md").read_text("utf-8")
    page, md = convert(project, source, "meta")
    meta = md.Meta  # type: ignore[attr-defined]
    assert meta["pattern"] == ["choreography"]
    assert "Coordinating Microservices Through Events" in meta["title"][0]
    assert opening_of_definition(project) in words(page)


def test_expands_snippet_fences_on_any_page(project: Path) -> None:
    page, _ = convert(project, "# Notes\n\n```pattern-snippet\nchoreography/flow.py#wiring scenario=happy-path\n```\n")
    text = code(page)
    assert "place_order(bus, order_id, scenario)" in text
    assert "final state of order-1001: APPROVED" in text


def test_a_changed_snippet_is_re_run_on_the_next_page(project: Path) -> None:
    """A long-lived process (``zensical serve``) must not keep showing old output."""
    text = "```pattern-snippet\nchoreography/ordering.py show=output\n```\n"
    first, _ = convert(project, text)
    script = project / "snippets/choreography/ordering.py"
    golden = project / "snippets/choreography/expected/ordering.txt"
    time.sleep(0.01)
    script.write_text(script.read_text("utf-8") + "\nprint('one more line')\n", "utf-8")
    golden.write_text(golden.read_text("utf-8") + "one more line\n", "utf-8")
    second, _ = convert(project, text)
    assert "one more line" not in first and "one more line" in second


def test_problems_are_logged_or_raised_in_strict_mode(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "---\npattern: choreography\n---\n\n## Epilogue\n\n<TODO>\n"
    with caplog.at_level(logging.WARNING, logger="pattern_articles"):
        convert(project, text)
    assert "section 'Epilogue' is empty and matches no bundle content" in caplog.text
    with pytest.raises(PatternError, match="Epilogue"):
        convert(project, text, strict=True)
    page, _ = convert(project, "---\npattern: nosuch\n---\n\nText.\n")
    assert "pattern-articles could not complete this page" in page and "no bundle 'nosuch'" in page


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown option 'snipets'"):
        PatternArticlesExtension(snipets="snippets")


ZENSICAL_TOML = """\
[project]
site_name = "Pattern catalogue"
watch = ["snippets"]

[project.markdown_extensions.admonition]
[project.markdown_extensions.attr_list]
[project.markdown_extensions.md_in_html]
[project.markdown_extensions.tables]
[project.markdown_extensions.pymdownx.details]
[project.markdown_extensions.pymdownx.highlight]
anchor_linenums = true
[project.markdown_extensions.pymdownx.superfences]
custom_fences = [{ name = "mermaid", class = "mermaid", format = "pymdownx.superfences.fence_code_format" }]
[project.markdown_extensions.pymdownx.tabbed]
alternate_style = true
[project.markdown_extensions.pattern_articles]
snippets = "snippets"
timeout = 30
"""


@pytest.mark.e2e
@pytest.mark.parametrize("config", ["mkdocs.yml", "zensical.toml"])
def test_zensical_builds_the_source_site_with_the_extension(project: Path, config: str) -> None:
    if zensical() is None:
        pytest.skip(NO_ZENSICAL)
    if config == "mkdocs.yml":
        # The MkDocs plugin block stays (Zensical ignores plugins it does not know; the extension
        # reads its settings from it); the extension is added, and 'watch' makes Zensical re-render
        # pages when a snippet changes.
        yml = project / "mkdocs.yml"
        yml.write_text(yml.read_text("utf-8") + "  - pattern_articles\nwatch:\n  - snippets\n", "utf-8")
    else:
        (project / "mkdocs.yml").unlink()
        (project / "zensical.toml").write_text(ZENSICAL_TOML, "utf-8")
    built = zensical_build(project)
    assert built.returncode == 0, built.stdout + built.stderr
    page = (project / "site" / "patterns" / "choreography-pattern" / "index.html").read_text("utf-8")
    filled = "Choreography Pattern: Coordinating Microservices Through Events"
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title and html.unescape(title.group(1)).startswith(filled), "title metadata filled in Zensical"
    assert re.search(r'<meta name="description" content="How microservices', page)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S)
    assert h1 and filled in words(h1.group(1))
    assert "TODO" not in words(page.split("<article", 1)[1])
    assert "final state of order-1001: APPROVED" in words(page)
    assert page.count('class="mermaid"') >= 4
    assert "What is Choreography Pattern" in words(page)
    other = (project / "site" / "guide" / "index.html").read_text("utf-8")
    nav = re.search(r'<a href="\.\./patterns/choreography-pattern/" class="md-nav__link">(.*?)</a>', other, re.S)
    assert nav and filled in " ".join(words(nav.group(1)).split()), "the navigation shows the filled title"
