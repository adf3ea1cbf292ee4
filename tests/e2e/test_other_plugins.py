"""pattern-articles among other MkDocs plugins, in real ``mkdocs build --strict`` runs.

What MkDocs builds decides what runs: a draft post of Material's blog, a page in
``exclude_docs`` and another language's copy (mkdocs-static-i18n) run no snippet and get no
catalogue link. Verified code and output reach the reader as they ran, with mkdocs-macros
listed before or after the plugin.

Each site is small: one article of the bad-input kit's ``demo`` bundle, and a second bundle,
``broken``, whose snippet fails. A page showing ``broken`` that MkDocs does not build must
not run it: if it ran, its failure would fail the strict build. The cache is off, so the
build's summary line counts every run.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.badinput.kit import ARTICLE, BASE, make_project, run_cli, run_mkdocs

pytestmark = pytest.mark.e2e

MARKDOWN = """\
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.tabbed:
      alternate_style: true
"""

BROKEN_BUNDLE = BASE["snippets/demo/bundle.yml"].replace("name: Demo", "name: Broken").replace(
    "subtitle: A small demo", "subtitle: Fails when run")

HOME = "# Home\n\n```pattern-catalogue\n```\n"


def site(root: Path, config: str, pages: dict[str, str]) -> Path:
    """The kit's project with ``config`` as mkdocs.yml, ``pages`` under docs/ and the
    ``broken`` bundle (its snippet exits 1)."""
    files = {k: v for k, v in BASE.items() if not k.startswith("docs/")}
    files["mkdocs.yml"] = config + MARKDOWN
    files["docs/index.md"] = HOME
    files |= {f"docs/{name}": text for name, text in pages.items()}
    files["snippets/broken/bundle.yml"] = BROKEN_BUNDLE
    files["snippets/broken/hello.py"] = 'raise SystemExit("this snippet must not run")\n'
    files["snippets/broken/expected/hello.txt"] = "hello\n"
    return make_project(root, base=files)


def ran(output: str) -> int:
    found = re.search(r"snippets: ran (\d+), cached (\d+), failed (\d+)", output)
    assert found, output
    assert found.group(2) == "0" and found.group(3) == "0", found.group(0)
    return int(found.group(1))


def card_links(home: str) -> dict[str, str]:
    """Card title -> its link, from the catalogue on a built page (cards without a link left out)."""
    catalogue = re.search(r'<div class="grid cards pa-catalogue">(.*?)\n</div>', home, re.S)
    assert catalogue, "no catalogue on the page"
    cards = re.findall(r'<a href="([^"]*)"[^>]*>\s*(?:<strong>)?([^<]+)', catalogue.group(1))
    return {html.unescape(title).strip(): href for href, title in cards}


def post(name: str, bundle: str, *, draft: bool = False) -> str:
    """The kit's article as a blog post: a date, a slug, an excerpt separator."""
    head = f"---\npattern: {bundle}\ntitle: '{name}: <TODO>'\ndescription: <TODO>\ndate: 2024-01-15\nslug: {bundle}\n"
    if draft:
        head += "draft: true\n"
    body = ARTICLE.split("---\n", 2)[2].replace("Hand-written introduction.\n",
                                                "Hand-written introduction.\n\n<!-- more -->\n")
    return head + "---\n" + body


BLOG = """\
site_name: blog site
theme:
  name: material
plugins:
  - blog
  - pattern-articles:
      cache: false
      timeout: 10
"""


def test_material_blog_posts_are_articles_and_drafts_run_nothing(tmp_path: Path) -> None:
    project = site(tmp_path / "blog", BLOG, {
        "blog/index.md": "# Blog\n",
        "blog/posts/demo.md": post("Demo", "demo"),
        "blog/posts/secret.md": post("Broken", "broken", draft=True),
    })
    result = run_mkdocs(project)
    assert result.code == 0, result.output
    assert ran(result.output) == 1, "the draft's snippet ran"
    built = project / "site"
    page = (built / "blog" / "2024" / "01" / "15" / "demo" / "index.html").read_text("utf-8")
    assert "TODO" not in page
    assert "Demo: A small demo" in page  # the title, filled
    assert "hello" in page and 'class="pa-verified"' in page
    assert not (built / "blog" / "2024" / "01" / "15" / "broken").exists(), "the draft was built"
    # the blog's index shows the excerpt: what comes before <!-- more -->, filled title
    index = (built / "blog" / "index.html").read_text("utf-8")
    assert "Hand-written introduction." in index and "Demo: A small demo" in index
    assert "Say hello" not in index  # the filled Implementation section is after the separator
    links = card_links((built / "index.html").read_text("utf-8"))
    assert links == {"Demo": "blog/2024/01/15/demo/"}  # resolved by MkDocs: the post's URL; no draft
    assert "No article shows this pattern yet." in (built / "index.html").read_text("utf-8")


EXCLUDED = """\
site_name: excluded pages
theme:
  name: material
exclude_docs: |
  drafts/
  *.wip.md
draft_docs: |
  wip/
not_in_nav: |
  hidden.md
plugins:
  - pattern-articles:
      cache: false
      timeout: 10
"""


def test_exclude_docs_pages_run_nothing_and_get_no_link(tmp_path: Path) -> None:
    broken = ARTICLE.replace("pattern: demo", "pattern: broken")
    project = site(tmp_path / "excluded", EXCLUDED, {
        "demo.md": ARTICLE,
        "drafts/broken.md": broken,
        "notes/broken.wip.md": broken,
        "wip/broken.md": broken,  # draft_docs: built by `mkdocs serve` only
        "hidden.md": ARTICLE,  # not_in_nav: built, so an article
    })
    result = run_mkdocs(project)
    assert result.code == 0, result.output
    assert ran(result.output) == 1
    built = project / "site"
    assert not (built / "drafts").exists() and not (built / "notes").exists() and not (built / "wip").exists()
    hidden = (built / "hidden" / "index.html").read_text("utf-8")
    assert "TODO" not in hidden and "Demo: A small demo" in hidden
    links = card_links((built / "index.html").read_text("utf-8"))
    assert links == {"Demo": "demo/"}
    # the CLI finds its articles by walking docs_dir: it skips the same pages
    from pattern_articles import settings as settings_mod
    from pattern_articles.project import Project

    found = Project(settings_mod.load(project / "mkdocs.yml")).articles()
    assert [ref.docs_path for ref in found] == ["demo.md", "hidden.md"]
    check = run_cli(project, ["docs/demo.md"])
    assert check.code == 0, check.output


I18N = """\
site_name: two languages
theme:
  name: material
plugins:
  - i18n:
      docs_structure: suffix
      languages:
        - locale: en
          name: English
          default: true
          build: true
        - locale: fr
          name: Français
          build: true
  - pattern-articles:
      cache: false
      timeout: 10
"""


def test_static_i18n_copies_are_their_language_s_pages(tmp_path: Path) -> None:
    french = ARTICLE.replace("Hand-written introduction.", "Introduction écrite à la main.")
    project = site(tmp_path / "i18n", I18N, {"demo.md": ARTICLE, "demo.fr.md": french})
    result = run_mkdocs(project)
    assert result.code == 0, result.output  # --strict: no link to an unbuilt page
    built = project / "site"
    english = card_links((built / "index.html").read_text("utf-8"))
    assert english == {"Demo": "demo/"}, english  # the default language's page, not demo.fr.md
    assert "Hand-written introduction." in (built / "demo" / "index.html").read_text("utf-8")
    french_page = (built / "fr" / "demo" / "index.html").read_text("utf-8")
    assert "Introduction écrite à la main." in french_page and "TODO" not in french_page
    assert card_links((built / "fr" / "index.html").read_text("utf-8")) == {"Demo": "demo/"}  # fr/demo/


@pytest.mark.parametrize(("path", "built"), [
    ("demo.md", True), (".hidden/demo.md", False), ("a/.draft.md", False), ("templates/x.md", False),
    ("guide/templates/x.md", True), ("drafts/x.md", False), ("a/b.wip.md", False), ("wip/x.md", False),
])
def test_the_walk_skips_what_mkdocs_skips(path: str, built: bool) -> None:
    from pattern_articles.settings import Settings

    settings = Settings(exclude_docs="drafts/\n*.wip.md\n", draft_docs="wip/\n")
    assert settings.is_built(path) is built


def test_placeholders_restore_every_block_exactly() -> None:
    # why: with ten blocks or more, the placeholder of block 1 was the start of block 10's
    from pattern_articles.adapters.mkdocs_plugin import _protect, _restore

    author = "# Page\n\n```python\nprint('{{ mine }}')\n```\n"
    ours = "".join(f'=== "Output {i}"\n\n    ```text\n    {{{{ out {i} }}}}\n    ```\n\n' for i in range(12))
    filled = author + "\n" + ours + "~~~~mermaid\nsequenceDiagram\n~~~~\n"
    hidden, blocks = _protect(filled, author)
    assert len(blocks) == 13  # ours and the diagram, not the author's block
    assert "{{ out" not in hidden and "sequenceDiagram" not in hidden and "{{ mine }}" in hidden
    restored, lost = _restore(hidden, blocks)
    assert restored == filled and lost == []
    del_one = hidden.replace(next(iter(blocks)).strip(), "")
    assert len(_restore(del_one, blocks)[1]) == 1


MACRO_SNIPPET = 'print("{{ config.site_name }} {% raw %}")\n'


@pytest.mark.parametrize("order", ["macros-first", "macros-last"])
def test_macros_never_rewrites_verified_code_or_output(order: str, tmp_path: Path) -> None:
    plugins = ["  - macros\n", "  - pattern-articles:\n      cache: false\n      timeout: 10\n"]
    if order == "macros-last":
        plugins.reverse()
    config = "site_name: Macro Site\ntheme:\n  name: material\nplugins:\n" + "".join(plugins)
    project = site(tmp_path / order, config, {
        "demo.md": ARTICLE,
        "about.md": "# About\n\nThis is {{ config.site_name }}.\n",
    })
    (project / "snippets/demo/hello.py").write_text(MACRO_SNIPPET, "utf-8")
    (project / "snippets/demo/expected/hello.txt").write_text("{{ config.site_name }} {% raw %}\n", "utf-8")
    result = run_mkdocs(project)
    assert result.code == 0, result.output
    built = project / "site"
    assert "This is Macro Site." in (built / "about" / "index.html").read_text("utf-8"), "macros did not run"
    page = html.unescape(re.sub(r"<[^>]+>", "", (built / "demo" / "index.html").read_text("utf-8")))
    assert 'print("{{ config.site_name }} {% raw %}")' in page  # the code as it is in the file
    assert "\n{{ config.site_name }} {% raw %}\n" in page  # the output as it ran
    assert 'print("Macro Site' not in page


def test_no_placeholder_reaches_the_demo_site(built_site: tuple[Path, object, dict[str, bytes]]) -> None:
    project, _, _ = built_site
    for page in (project / "site").rglob("*.html"):
        assert "pattern-articles-verified-" not in page.read_text("utf-8"), page
