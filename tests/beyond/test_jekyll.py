"""A real Jekyll build of ``pattern-articles render --flavor jekyll-chirpy``.

The demo site's articles, plus one article whose code, output and inline code hold Liquid's
own markers (``{{ ... }}``, ``{% ... %}``, even ``{% endraw %}``) and whose author's prose
uses Liquid on purpose, are rendered as posts and built by Debian's ``jekyll`` (4.3) with
kramdown reading GFM and Rouge highlighting with Chirpy's own kramdown settings. The built
HTML is then checked against the rendered Markdown: title, description, every section
heading, every code block (listings, outputs, Mermaid sources) character for character.

Why a minimal ``_layouts/post.html`` and not the Chirpy theme: Chirpy is a Ruby gem
(``jekyll-theme-chirpy``) that Debian does not package, and installing gems needs Bundler and
rubygems.org. What this test is about, what our Markdown becomes, does not depend on the
theme: Chirpy's post layout places the same ``content`` in its page, and its prompts
(``{: .prompt-tip }``), file names (``{: file=... }``) and Mermaid are CSS and JavaScript
over the HTML kramdown writes here.

Liquid runs with ``strict_variables``: code it ate would name variables no site has
(``user.name``) and fail the build, besides no longer matching the Markdown.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.beyond.helpers import clean_env, cli
from tests.conftest import copy_project

JEKYLL = shutil.which("jekyll")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(JEKYLL is None, reason="jekyll is not installed (Debian package 'jekyll'; .ci/run installs it)"),
]

SITE_TITLE = "A Jekyll blog"

CONFIG = f"""\
title: {SITE_TITLE}
markdown: kramdown
# Chirpy's own kramdown settings (its _config.yml), with GFM input as Jekyll's default
kramdown:
  input: GFM
  syntax_highlighter: rouge
  syntax_highlighter_opts:
    css_class: highlight
    span:
      line_numbers: false
    block:
      line_numbers: true
      start_line: 1
liquid:
  error_mode: strict
  strict_filters: true
  strict_variables: true
defaults:
  - scope: {{path: "", type: posts}}
    values: {{layout: post}}
  - scope: {{path: "", type: drafts}}
    values: {{layout: post}}
"""

LAYOUT = """\
<!DOCTYPE html>
<html><head><title>{{ page.title | escape }}</title>
<meta name="description" content="{{ page.description | escape }}"></head>
<body><h1 class="post-title">{{ page.title | escape }}</h1>
{{ content }}
</body></html>
"""

# An article of its own: Liquid's markers in code, output and inline code, and Liquid the
# author means in the prose.
LIQUID_ARTICLE = """\
---
pattern: liquid
title: 'Liquid Pattern: <TODO>'
description: <TODO>
date: 2024-05-01
permalink: 'patterns/liquid-pattern/'
---

## Introduction
A post for {{ site.title }} readers. Its code, like `{{ user.name }}`, keeps Liquid's markers.

## Implementation Details
"""

LIQUID_BUNDLE = """\
name: Liquid
subtitle: Templates Inside Code
description: A post whose code and output hold Liquid markers, which Jekyll must show as they are.
implementation:
  steps:
    - title: A template in the code
      text: The snippet keeps a template and prints it.
      code:
        - snippet: templates.py
snippets:
  templates.py: {}
"""

LIQUID_SNIPPET = """\
TEMPLATE = "Hello {{ user.name }}, {% if admin %}welcome back{% endif %}"
print(TEMPLATE)
print("{%- raw -%} and {% endraw %} stay text")
"""

LIQUID_OUTPUT = """\
Hello {{ user.name }}, {% if admin %}welcome back{% endif %}
{%- raw -%} and {% endraw %} stay text
"""


def _no_redis_env(tmp: Path) -> dict[str, str]:
    """No redis-server on PATH: the Redis runs show their last verified output (as in
    test_render.py's golden test), which keeps this test to one interpreter's work."""
    empty = tmp / "bin"
    empty.mkdir()
    env = clean_env(PATH=str(empty))
    for name in ("PATTERN_ARTICLES_REDIS_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the rendered posts' folder, the built Jekyll site)."""
    tmp = tmp_path_factory.mktemp("jekyll")
    project = copy_project(tmp / "project")
    (project / "docs" / "patterns" / "liquid-pattern.md").write_text(LIQUID_ARTICLE, "utf-8")
    bundle = project / "snippets" / "liquid"
    (bundle / "expected").mkdir(parents=True)
    (bundle / "bundle.yml").write_text(LIQUID_BUNDLE, "utf-8")
    (bundle / "templates.py").write_text(LIQUID_SNIPPET, "utf-8")
    (bundle / "expected" / "templates.txt").write_text(LIQUID_OUTPUT, "utf-8")
    rendered = cli(project, "render", "--out", "blog", "--flavor", "jekyll-chirpy", env=_no_redis_env(tmp))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    out = project / "blog"

    site = tmp / "site"
    (site / "_layouts").mkdir(parents=True)
    (site / "_config.yml").write_text(CONFIG, "utf-8")
    (site / "_layouts" / "post.html").write_text(LAYOUT, "utf-8")
    for folder in ("_posts", "_drafts"):
        if (out / folder).is_dir():
            shutil.copytree(out / folder, site / folder)
    assert JEKYLL is not None
    built = subprocess.run([JEKYLL, "build", "--drafts", "--source", str(site), "--destination", str(site / "_site")],
                           capture_output=True, text=True, timeout=300, env=clean_env())
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Liquid" not in built.stdout + built.stderr, built.stdout + built.stderr
    return out, site / "_site"


# -- reading the Markdown and the HTML ---------------------------------------------------------
_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "--", "—": "---", "…": "..."})


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment, with kramdown's typographic quotes and dashes undone."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).translate(_TYPOGRAPHY).strip()


def _as_liquid_leaves_it(markdown: str) -> str:
    """The post as Liquid hands it to kramdown, for what the wrapping does: ``{% raw %}`` and
    ``{% endraw %}`` go, and an ``{% endraw %}`` kept inside code comes back. (Whether Jekyll
    agrees is what the comparison with its HTML checks.)"""
    parts = markdown.split("{% endraw %}{{ '{%' }}{% raw %}")
    return "{%".join(re.sub(r"\{% (?:end)?raw %\}", "", part) for part in parts)


def _front(markdown: str) -> dict[str, object]:
    import yaml

    meta = yaml.safe_load(markdown.split("\n---\n", 1)[0].lstrip("-\n"))
    assert isinstance(meta, dict)
    return meta


def _expected(markdown: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(section headings, (language, code) of every code block) as the Markdown says."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark")
    body = _as_liquid_leaves_it(markdown.split("\n---\n", 1)[1])
    tokens = parser.parse(body)
    headings = [_text(parser.renderInline(tokens[i + 1].content))
                for i, token in enumerate(tokens) if token.type == "heading_open"]
    blocks = [(token.info.split()[0] if token.info.strip() else "", token.content.rstrip("\n"))
              for token in tokens if token.type == "fence"]
    return headings, blocks


_BLOCK = re.compile(
    # highlighted by Rouge: a div naming the language (and Chirpy's file name), line numbers
    r'<div (?:file="[^"]*" )?class="language-(?P<rouge>[\w+-]+) highlighter-rouge">(?P<chunk>.*?)</code></pre></div>'
    # a language Rouge does not know (mermaid: what Chirpy's script draws) or none at all
    r'|<pre><code(?: class="language-(?P<plain>[\w+-]+)")?>(?P<code>.*?)</code></pre>', re.S)


def _built_blocks(page: str) -> list[tuple[str, str]]:
    """(language, code) of every code block kramdown wrote, in order, without line numbers."""
    blocks = []
    for match in _BLOCK.finditer(page):
        chunk = match.group("chunk")
        if chunk is None:
            language, code = match.group("plain") or "", match.group("code")
        else:
            language = match.group("rouge")
            code = chunk.split('<td class="rouge-code"><pre>', 1)[1].split("</pre></td>", 1)[0] \
                if "rouge-code" in chunk else chunk.split("<code>", 1)[1]
        blocks.append((language, html.unescape(re.sub(r"<[^>]+>", "", code)).rstrip("\n")))
    return blocks


def _pages(site: Path) -> dict[str, str]:
    pages = {}
    for path in site.rglob("*.html"):
        page = path.read_text("utf-8")
        title = re.search(r"<title>(.*?)</title>", page, re.S)
        if title:
            pages[html.unescape(title.group(1))] = page
    return pages


# -- the checks ----------------------------------------------------------------------------------
def test_every_post_is_built_with_title_description_sections_and_code(blog: tuple[Path, Path]) -> None:
    out, site = blog
    posts = sorted((out / "_posts").glob("*.md"))
    assert {p.name for p in posts} >= {"2023-09-02-choreography-pattern.md", "2024-05-01-liquid-pattern.md"}
    pages = _pages(site)
    for post in posts:
        markdown = post.read_text("utf-8")
        meta = _front(markdown)
        title, description = str(meta["title"]), str(meta["description"])
        assert "TODO" not in title + description
        assert title in pages, f"{post.name}: no page titled {title!r} in {sorted(pages)}"
        page = pages[title]
        assert f'<meta name="description" content="{html.escape(description)}">' in page, post.name

        headings, blocks = _expected(markdown)
        built_headings = [_text(h) for h in re.findall(r"<h[2-6][^>]*>(.*?)</h[2-6]>", page, re.S)]
        assert built_headings == headings, post.name

        built = _built_blocks(page)
        assert len(built) == len(blocks), f"{post.name}: {len(blocks)} code blocks, {len(built)} built"
        for (language, code), (built_language, built_code) in zip(blocks, built, strict=True):
            assert built_language in ({language} if language else {"", "plaintext"}), post.name
            assert built_code == code, f"{post.name}: a {language} block differs:\n{built_code[:400]}"


def test_the_choreography_post_shows_its_runs_and_diagrams(blog: tuple[Path, Path]) -> None:
    out, site = blog
    markdown = (out / "_posts" / "2023-09-02-choreography-pattern.md").read_text("utf-8")
    page = _pages(site)[str(_front(markdown)["title"])]
    built = _built_blocks(page)
    diagrams = [code for language, code in built if language == "mermaid"]
    assert diagrams and all(code.startswith("sequenceDiagram") for code in diagrams), "Mermaid for Chirpy's script"
    outputs = "\n".join(code for language, code in built if language == "text")
    assert "final state of order-1001: APPROVED" in outputs, "the real output"
    assert any(language == "python" for language, _ in built)
    assert 'file="choreography/flow.py"' in page, "Chirpy's file name on the listing"
    assert 'class="prompt-tip"' in page


def test_liquid_eats_nothing_in_code_and_still_runs_the_authors_liquid(blog: tuple[Path, Path]) -> None:
    _, site = blog
    page = _pages(site)["Liquid Pattern: Templates Inside Code"]
    built = _built_blocks(page)
    assert ("python", LIQUID_SNIPPET.rstrip("\n")) in built, "the code as it is in the snippet file"
    assert ("text", LIQUID_OUTPUT.rstrip("\n")) in built, "the output as it ran"
    assert "<code class=\"language-plaintext highlighter-rouge\">{{ user.name }}</code>" in page, "inline code kept"
    intro = re.search(r'<h2 id="introduction">Introduction</h2>\s*<p>(.*?)</p>', page, re.S)
    assert intro is not None
    assert _text(intro.group(1)).startswith(f"A post for {SITE_TITLE} readers."), "the author's Liquid ran"
    assert "{% raw %}" not in _text(page)
