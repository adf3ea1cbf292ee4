"""Bundle metadata: each validation message names the YAML file and line."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from pattern_articles.content import bundle
from pattern_articles.content.model import json_schema
from pattern_articles.errors import PatternError

GOOD = """\
name: Demo
subtitle: A demo
participants:
  - {id: a, name: Service A}
  - {id: b, name: Service B}
events:
  - name: Started
    producer: a
    consumers: [b]
  - name: Done
    producer: b
flows:
  happy_path:
    steps:
      - {actor: a, action: starts, emits: [Started]}
      - {actor: b, reacts_to: Started, action: finishes, emits: [Done]}
"""


def make(tmp_path: Path, text: str, name: str = "demo") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "bundle.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def error_of(tmp_path: Path, text: str) -> str:
    folder = make(tmp_path, text)
    with pytest.raises(PatternError) as info:
        bundle.load(folder)
    return info.value.format()


def test_good_bundle_loads(tmp_path: Path) -> None:
    loaded = bundle.load(make(tmp_path, GOOD))
    assert loaded.id == "demo"
    assert loaded.name == "Demo"
    assert loaded.place("events", 1, "producer").line == 11


def test_unknown_key_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD + "subtitel: typo\n")
    assert "unknown key 'subtitel'" in message
    assert "bundle.yml:17" in message


def test_wrong_type_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("name: Started", "name: [Started]"))
    assert "events.0.name" in message
    assert "bundle.yml:7" in message


def test_undeclared_consumer(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("consumers: [b]", "consumers: [b, ghost]"))
    assert "consumer 'ghost', which is not a declared participant" in message
    assert "bundle.yml:9" in message


def test_event_nobody_produces(tmp_path: Path) -> None:
    text = GOOD.replace("flows:", "  - name: Orphan\n    producer: a\nflows:")
    message = error_of(tmp_path, text)
    assert "'Orphan' is declared but no flow step emits it" in message
    assert "bundle.yml:12" in message


def test_producer_not_a_participant(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("producer: b", "producer: nobody"))
    assert "produced by 'nobody'" in message


def test_duplicate_event(tmp_path: Path) -> None:
    text = GOOD.replace("flows:", "  - name: Done\n    producer: b\nflows:")
    assert "event 'Done' is declared twice" in error_of(tmp_path, text)


def test_malformed_yaml(tmp_path: Path) -> None:
    message = error_of(tmp_path, "name: Demo\nparticipants: [\n  - a\n")
    assert "invalid YAML" in message
    assert "bundle.yml:" in message
    assert "Traceback" not in message


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "must be a mapping" in error_of(tmp_path, "- just\n- a list\n")


def test_missing_name(tmp_path: Path) -> None:
    assert "missing required key 'name'" in error_of(tmp_path, "subtitle: x\n")


def test_missing_snippet_reference(tmp_path: Path) -> None:
    text = GOOD + "implementation:\n  steps:\n    - title: T\n      code: [{snippet: nope.py}]\n"
    message = error_of(tmp_path, text)
    assert "'nope.py' names a snippet that does not exist" in message
    assert "bundle.yml:20" in message


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("consumers: [b]", "consumers: [x]").replace("producer: b", "producer: y")
    message = error_of(tmp_path, text)
    assert "consumer 'x'" in message and "produced by 'y'" in message


def test_schema_is_json_and_describes_fields() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert schema["properties"]["subtitle"]["description"].startswith("Fills")
    assert "additionalProperties" in text


def test_a_deleted_snippet_is_reported_on_the_next_load(tmp_path: Path) -> None:
    """mkdocs serve loads bundles again on every rebuild; bundle.yml itself did not change."""
    folder = make(tmp_path, GOOD + "snippets:\n  s.py: {}\n")
    (folder / "s.py").write_text("print('hi')\n", encoding="utf-8")
    first = bundle.load(folder)
    assert bundle.load(folder) is first, "unchanged: the loaded bundle is reused"
    (folder / "s.py").unlink()
    with pytest.raises(PatternError) as info:
        bundle.load(folder)
    assert "snippets: 's.py' does not exist in demo/" in info.value.format()


def test_a_snippet_swapped_for_a_symlink_out_of_the_bundle_is_caught_on_the_next_load(tmp_path: Path) -> None:
    """A loaded bundle remembers where each snippet resolves to (the fill's bundle check uses
    it), so a swap that keeps the name, size and mtime must still count as a change."""
    folder = make(tmp_path, GOOD + "snippets:\n  s.py: {}\n")
    snippet = folder / "s.py"
    snippet.write_text("print('hi')\n", encoding="utf-8")
    first = bundle.load(folder)
    assert first.real_path("s.py") == snippet.resolve()
    outside = tmp_path / "outside.py"
    outside.write_text("print('hi')\n", encoding="utf-8")  # the same size
    info = snippet.stat()
    os.utime(outside, ns=(info.st_atime_ns, info.st_mtime_ns))  # the same mtime
    snippet.unlink()
    snippet.symlink_to(outside)
    with pytest.raises(PatternError) as error:
        bundle.load(folder)
    assert "'s.py' leaves the bundle folder demo/" in error.value.format()


def test_real_path_resolves_as_path_resolve_does(tmp_path: Path) -> None:
    # why: a file of the bundle folder itself resolves through the folder resolved once,
    # one lstat instead of one per folder of its path; symlinks still resolve
    real_root = tmp_path / "real"
    real_root.mkdir()
    folder = make(real_root, GOOD)
    (folder / "a.py").write_text("print('a')\n", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.py").write_text("print('b')\n", encoding="utf-8")
    (folder / "alias.py").symlink_to(folder / "sub" / "b.py")
    (folder / "out.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "linked").symlink_to(real_root)  # the bundle reached through a symlink
    loaded = bundle.load(tmp_path / "linked" / "demo")
    for relative in ("a.py", "sub/b.py", "alias.py", "out.py", "missing.py", "sub/../a.py", "."):
        assert loaded.real_path(relative) == (loaded.dir / relative).resolve(), relative


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize("depth", [100, 3000])
def test_deep_nesting_names_its_line_with_either_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, libyaml: bool, depth: int,
) -> None:
    # issue 23, item 6: "nested too deeply" had no line; 3000 levels is beyond libyaml's own
    # limit and beyond the pure-Python composer's stack
    import yaml

    if not libyaml:
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    text = GOOD + "tags:\n  - " + "[" * depth + "]" * depth + "\n"
    message = error_of(tmp_path, text)
    assert f"bundle.yml:{GOOD.count(chr(10)) + 2}: metadata is nested more than 64 levels deep" in message


def test_alias_text_bomb_names_the_anchor(tmp_path: Path) -> None:
    text = GOOD + f'x-long: &long "{"y" * 300_000}"\n' + "related:\n" + "  - {pattern: p, note: *long}\n" * 8
    message = error_of(tmp_path, text)
    anchor = GOOD.count("\n") + 1
    assert (f"bundle.yml:{anchor}: metadata expands to more than 2 MiB of text: the YAML anchor on line "
            f"{anchor} is repeated through aliases (*name) under the key on line {anchor + 1}") in message


def test_much_text_without_aliases_is_bounded_too(tmp_path: Path) -> None:
    text = GOOD + "description: " + "z" * (3 << 20) + "\n"
    assert "metadata holds more than 2 MiB of text" in error_of(tmp_path, text)
