"""Text fields given as Markdown files of the bundle: ``text: {file: prose/definition.md}``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from pattern_articles.content import article, bundle, prose
from pattern_articles.errors import PatternError
from pattern_articles.pages.fill import Filler
from pattern_articles.settings import Settings


def make(tmp_path: Path, metadata: str, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "bundle.yml").write_text(metadata, "utf-8")
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def error_of(folder: Path) -> str:
    with pytest.raises(PatternError) as caught:
        bundle.load(folder)
    return caught.value.format()


def test_any_text_field_may_name_a_markdown_file(tmp_path: Path) -> None:
    folder = make(tmp_path, (
        "name: Demo\n"
        "definition:\n  text: {file: prose/definition.md}\n"
        "summary:\n  takeaways:\n    - {file: prose/one.md}\n    - plain text\n"
    ), {"prose/definition.md": b"\n\nDemo is **a pattern**.\r\n\r\nSecond paragraph.\n",
        "prose/one.md": b"\xef\xbb\xbfOne thing.\n"})
    m = bundle.load(folder).model
    assert m.definition is not None
    assert m.definition.text == "Demo is **a pattern**.\n\nSecond paragraph."
    assert isinstance(m.definition.text, prose.FileText)
    assert m.definition.text.source == folder / "prose" / "definition.md"
    assert m.definition.text.first_line == 3, "leading blank lines still count"
    assert m.summary is not None and m.summary.takeaways == ["One thing.", "plain text"]
    copy = pickle.loads(pickle.dumps(m.definition.text))
    assert copy == m.definition.text and copy.first_line == 3 and isinstance(copy, prose.FileText)


def test_the_filled_section_shows_the_file_and_a_todo_in_it_names_its_line(tmp_path: Path) -> None:
    folder = make(tmp_path, "name: Demo\ndefinition: {text: {file: definition.md}}\n",
                  {"definition.md": b"Demo is a pattern.\n\nTODO: the analogy\n"})
    b = bundle.load(folder)
    out = Filler(Settings(root=tmp_path, run=False), b).fill(article.parse("## What is Demo Pattern\n", "a.md"))
    assert "Demo is a pattern." in out.markdown
    todos = [p for p in out.problems if "TODO left in definition.md" in p.message]
    assert len(todos) == 1 and todos[0].level == "warning"
    assert str(todos[0].place) == f"{folder / 'definition.md'}:3"


@pytest.mark.parametrize(("name", "expected"), [
    ("/etc/passwd.md", "is an absolute path"),
    ("../outside.md", "leaves the bundle folder demo/"),
    ("missing.md", "prose file 'missing.md' not found in demo/"),
    ("example.py", "is not a Markdown file (.md or .markdown)"),
    ("folder.md", "is not a regular file"),
])
def test_a_bad_reference_is_an_error_at_its_bundle_yml_line(tmp_path: Path, name: str, expected: str) -> None:
    folder = make(tmp_path, f"name: Demo\nproblem:\n  context:\n    file: {name}\n",
                  {"example.py": b"print(1)\n"})
    (folder / "folder.md").mkdir()
    (tmp_path / "snippets" / "outside.md").write_text("x", "utf-8")
    text = error_of(folder)
    assert f"{folder / 'bundle.yml'}:3: problem.context: " in text and expected in text


def test_a_symlink_out_of_the_bundle_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("secret", "utf-8")
    folder = make(tmp_path, "name: Demo\nsummary: {text: {file: link.md}}\n", {})
    os.symlink(secret, folder / "link.md")
    assert "leaves the bundle folder" in error_of(folder)


def test_only_file_is_accepted_beside_it(tmp_path: Path) -> None:
    folder = make(tmp_path, "name: Demo\nsummary: {text: {file: a.md, lang: en}}\n", {"a.md": b"x"})
    assert "a text given by file takes only 'file:', not lang" in error_of(folder)


def test_errors_inside_the_file_name_the_file_and_its_line(tmp_path: Path) -> None:
    folder = make(tmp_path, "name: Demo\nsummary:\n  text: {file: prose/s.md}\n",
                  {"prose/s.md": b"\nIntro.\n\n```python\nx = 1\n"})
    text = error_of(folder)
    assert f"{folder / 'prose' / 's.md'}:4: this code fence is never closed" in text
    assert f"(the file of summary.text, {folder / 'bundle.yml'}:3)" in text
    (folder / "prose" / "s.md").write_bytes(b"fine\nnot \xff utf-8\n")
    text = error_of(folder)
    assert f"{folder / 'prose' / 's.md'}:2: not UTF-8 text; save it as UTF-8" in text


def test_a_file_larger_than_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prose, "MAX_BYTES", 10)
    folder = make(tmp_path, "name: Demo\nsummary: {text: {file: big.md}}\n", {"big.md": b"x" * 11})
    assert "is larger than" in error_of(folder)


def test_fences_closed_and_inline_code_pass() -> None:
    assert prose.unclosed_fence("a\n```py\nx\n```\n~~~~\n```\n~~~~\n") == 0
    assert prose.unclosed_fence("``` not a fence ``` inline\n") == 0
    assert prose.unclosed_fence("a\n\n````\nx\n```\n") == 3


def test_the_schema_offers_a_file_for_text_fields() -> None:
    from pattern_articles.content.model import json_schema

    schema = json_schema()
    text = schema["$defs"]["Definition"]["properties"]["text"]
    assert {"type": "string"} in text["anyOf"]
    as_file = next(option for option in text["anyOf"] if option.get("type") == "object")
    assert as_file["required"] == ["file"] and as_file["additionalProperties"] is False
    assert text["description"].startswith("What the pattern is")
