"""The flavour transform on small, exact inputs: each pymdown construct and its conversion."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pattern_articles.commands.render import output_path, parse_info, transform

FRONT = """---
pattern: demo
title: "Demo Pattern: Filled"
tags: ["a", "b"]
permalink: 'patterns/demo-pattern/'
image:
  path: https://example.org/cover.jpg
  width: 1200
---
"""


def chirpy(body: str, front: str = FRONT) -> str:
    return transform(front + body, "jekyll-chirpy")


def body_of(text: str) -> str:
    return text.split("\n---\n", 1)[1]


def test_mkdocs_flavor_is_the_rendered_text_itself() -> None:
    text = FRONT + '!!! tip "x"\n    y\n'
    assert transform(text, "mkdocs") == text


def test_front_matter_keeps_every_key_but_the_link_and_enables_mermaid() -> None:
    out = chirpy("## A\n\n```mermaid\nsequenceDiagram\n```\n")
    head = out.split("\n---\n", 1)[0] + "\n---\n"
    assert "pattern:" not in head
    for kept in ('title: "Demo Pattern: Filled"', 'tags: ["a", "b"]', "permalink: 'patterns/demo-pattern/'",
                 "image:\n  path: https://example.org/cover.jpg\n  width: 1200"):
        assert kept in head
    assert head.rstrip().endswith("mermaid: true\n---")


def test_no_mermaid_key_without_a_diagram_and_an_existing_key_is_left_alone() -> None:
    assert "mermaid" not in chirpy("## A\n\nText.\n")
    out = chirpy("```mermaid\ngraph TD\n```\n", FRONT.replace("tags:", "mermaid: false\ntags:"))
    assert out.count("mermaid:") == 1 and "mermaid: false" in out


def test_a_multi_line_link_value_is_removed_whole() -> None:
    front = "---\ntitle: T\npattern:\n  demo\ndate: 2024-01-02\n---\n"
    out = chirpy("Text.\n", front)
    assert out.startswith("---\ntitle: T\ndate: 2024-01-02\n---\n")


def test_code_holding_liquid_markers_is_wrapped_in_raw() -> None:
    """Jekyll runs a post through Liquid first: code holding its markers is kept from it; the
    author's own Liquid in prose is left to Liquid (tests/beyond/test_jekyll.py builds it)."""
    text = ("Site {{ site.title }}, a `{{ span }}` and `plain`.\n\n"
            '```python title="a.py"\nprint(f"{{x}}")\n```\n\n```text\nno markers\n```\n\n'
            '!!! tip "In a prompt"\n    ```text\n    {% if a %}\n    ```\n\n- item\n\n    ```\n    {{ y }}\n    ```\n')
    out = body_of(chirpy(text))
    assert "render_with_liquid" not in out
    assert out == ("Site {{ site.title }}, a {% raw %}`{{ span }}`{% endraw %} and `plain`.\n\n"
                   '{% raw %}\n```python\nprint(f"{{x}}")\n```\n{: file="a.py" }\n{% endraw %}\n\n'
                   "```text\nno markers\n```\n\n"
                   "> **In a prompt**\n>\n> {% raw %}\n> ```text\n> {% if a %}\n> ```\n> {% endraw %}\n"
                   "{: .prompt-tip }\n\n- item\n\n    {% raw %}\n    ```\n    {{ y }}\n    ```\n    {% endraw %}\n")


def test_an_endraw_in_code_does_not_end_the_raw_block() -> None:
    out = body_of(chirpy("```text\n{% raw %} and {%- endraw -%} too\n```\n"))
    assert out == ("{% raw %}\n```text\n{% raw %} and {% endraw %}{{ '{%' }}{% raw %}- endraw -%} too\n"
                   "```\n{% endraw %}\n")


def test_no_raw_where_the_author_switched_liquid_off() -> None:
    front = FRONT.replace("---\n", "---\nrender_with_liquid: false\n", 1)
    out = chirpy("```text\n{{ x }}\n```\n", front)
    assert body_of(out) == "```text\n{{ x }}\n```\n"
    assert out.count("render_with_liquid: false") == 1
    assert "{% raw %}" not in transform(FRONT + "```text\n{{ x }}\n```\n", "plain")


def test_admonitions_become_chirpy_prompts_by_type() -> None:
    out = body_of(chirpy('Before.\n\n!!! tip "An analogy"\n    Line one.\n\n    Line two.\n\nAfter.\n'))
    assert out == "Before.\n\n> **An analogy**\n>\n> Line one.\n>\n> Line two.\n{: .prompt-tip }\n\nAfter.\n"
    for kind, prompt in [("note", "info"), ("warning", "warning"), ("failure", "danger"), ("danger", "danger"),
                         ("success", "tip"), ("abstract", "info")]:
        assert f"{{: .prompt-{prompt} }}" in chirpy(f"!!! {kind}\n    Body.\n")


def test_tabs_and_collapsibles_are_flattened_to_labelled_blocks() -> None:
    text = ('??? example "See it run"\n\n    === "Output"\n\n        ```text\n        hello\n        ```\n\n'
            '    === "Diagram"\n\n        ```mermaid\n        graph TD\n        ```\n')
    out = body_of(chirpy(text))
    assert out == ("**See it run**\n\n**Output**\n\n```text\nhello\n```\n\n"
                   "**Diagram**\n\n```mermaid\ngraph TD\n```\n")


def test_an_admonition_inside_a_tab_keeps_its_fence_inside_the_prompt() -> None:
    text = '=== "Output"\n\n    !!! warning "Output changed"\n\n        ```diff\n        -a\n        +b\n        ```\n'
    out = body_of(chirpy(text))
    assert out == ("**Output**\n\n> **Output changed**\n>\n> ```diff\n> -a\n> +b\n> ```\n"
                   "{: .prompt-warning }\n")


def test_markers_inside_code_fences_are_code() -> None:
    text = '```markdown\n!!! tip "not an admonition"\n    body\n=== "not a tab"\n```\n'
    assert body_of(chirpy(text)) == text


def test_fence_titles_become_chirpy_file_attributes_and_linenums_go() -> None:
    text = '```python title="demo/flow.py" linenums="34"\nx = 1\n```\n\n```text {.pa-output}\nout\n```\n'
    out = body_of(chirpy(text))
    assert out == '```python\nx = 1\n```\n{: file="demo/flow.py" }\n\n```text\nout\n```\n'


def test_longer_fences_keep_their_length() -> None:
    text = '````python title="a.py"\n```\nnested\n```\n````\n'
    out = body_of(chirpy(text))
    assert out == '````python\n```\nnested\n```\n````\n{: file="a.py" }\n'


def test_plain_flavor_uses_quotes_and_puts_fence_titles_above() -> None:
    text = FRONT + '!!! note\n    Body.\n\n```python title="demo/a.py"\nx\n```\n'
    out = transform(text, "plain")
    assert out.startswith(FRONT), "plain keeps the front matter as it is"
    assert "> **Note**\n>\n> Body.\n" in out
    assert "`demo/a.py`\n```python\nx\n```\n" in out
    assert "{:" not in out


def test_verified_marks_become_words_without_build_details() -> None:
    text = ('<span class="pa-verified" data-status="cached" title="matches a.txt">'
            "Verified output · cached, code unchanged</span>\n\n"
            '<span class="pa-verified" data-status="not-run" title="redis">'
            "Not run here · last verified output</span>\n")
    out = body_of(chirpy(text))
    assert out == "*Verified output*\n\n*Not run here · last verified output*\n"


@pytest.mark.parametrize(("info", "language", "attrs"), [
    ('python title="a.py" linenums="3"', "python", {"title": "a.py", "linenums": "3"}),
    ('{ .python title="a b.py" }', "python", {"title": "a b.py"}),
    ("text {.pa-output}", "text", {}),
    ("mermaid", "mermaid", {}),
])
def test_fence_info_parsing(info: str, language: str, attrs: dict[str, str]) -> None:
    assert parse_info(info) == (language, attrs)


def test_jekyll_posts_are_named_by_date() -> None:
    assert output_path("patterns/x-pattern.md", {"date": dt.date(2023, 9, 2)}, "jekyll-chirpy") == \
        Path("_posts/2023-09-02-x-pattern.md")
    assert output_path("2023-01-01-x.md", {"date": "2024-02-03 10:00"}, "jekyll-chirpy") == \
        Path("_posts/2024-02-03-x.md")
    assert output_path("patterns/x.md", {}, "jekyll-chirpy") == Path("_drafts/x.md")
    assert output_path("patterns/x.md", {"date": dt.date(2023, 9, 2)}, "plain") == Path("patterns/x.md")
