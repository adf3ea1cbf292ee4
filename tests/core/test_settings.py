"""Settings come from the plugin block of mkdocs.yml, read without MkDocs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pattern_articles import settings
from pattern_articles.errors import PatternError

CONFIG = """\
site_name: x
markdown_extensions:
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
plugins:
  - search
  - pattern-articles:
      snippets: [examples]
      timeout: 5
      fix_headings: false
      env_allowlist: [MY_VAR]
extra:
  secret: !ENV [NOPE, "default"]
"""


def test_reads_plugin_block_with_custom_tags(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text(CONFIG)
    loaded = settings.load(tmp_path / "mkdocs.yml")
    assert loaded.snippet_roots == [tmp_path / "examples"]
    assert loaded.timeout == 5.0
    assert loaded.fix_headings is False
    assert "MY_VAR" in loaded.env_allowlist


def test_finds_config_in_parent(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text(CONFIG)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert settings.find_config(sub) == tmp_path / "mkdocs.yml"


@pytest.mark.parametrize(
    ("block", "expected"),
    [("timeout: -1", "positive number"), ("colour: red", "unknown setting 'colour'"),
     ("fix_headings: maybe", "true or false"),
     # issue 23, item 12: each overflowed or exhausted something at run time
     ("jobs: 100000", "'jobs' must be a whole number, at most 256"),
     ("timeout: .inf", "at most 86400 (a day), not inf"), ("timeout: 1.0e+300", "at most 86400"),
     ("timeout: .nan", "a positive number of seconds, not nan"), ("output_limit: 99999999999", "at most 268435456")],
)
def test_bad_settings_are_clear(tmp_path: Path, block: str, expected: str) -> None:
    (tmp_path / "mkdocs.yml").write_text(f"plugins:\n  - pattern-articles:\n      {block}\n")
    with pytest.raises(PatternError) as info:
        settings.load(tmp_path / "mkdocs.yml")
    assert expected in str(info.value)
    assert "mkdocs.yml:3" in str(info.value)  # the line of the setting itself


def test_aliases_extend_defaults() -> None:
    custom = settings.Settings(sections={"use_case": ["Scenario walk-through"]})
    assert custom.aliases()["use_case"][0] == "Scenario walk-through"
    assert "use case" in custom.aliases()["use_case"]
