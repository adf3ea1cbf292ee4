"""The bundle that ``pattern-articles new`` writes teaches by commented examples: each block,
uncommented as written, must load without a problem, or the first thing a new author does
(uncomment a block) ends in an error that the template itself caused."""

from __future__ import annotations

import re
from pathlib import Path

from pattern_articles.commands.scaffold import BUNDLE_TEMPLATE
from pattern_articles.content import bundle as bundle_mod
from pattern_articles.content.model import interaction_styles

# a commented YAML line: "# key: ..." or an indented continuation; prose comments start
# with a capital letter, a quote or a word not followed by a colon
YAML_COMMENT = re.compile(r"^# ((?:[a-z_]+:)|(?: +\S))")


def uncommented(text: str) -> str:
    return "\n".join(line[2:] if YAML_COMMENT.match(line) else line for line in text.split("\n"))


def test_every_commented_block_of_the_new_bundle_loads(tmp_path: Path) -> None:
    folder = tmp_path / "snippets" / "pipes-and-filters"
    (folder / "expected").mkdir(parents=True)
    (folder / "example.py").write_text("print('hello')\n", "utf-8")
    (folder / "expected" / "example.txt").write_text("hello\n", "utf-8")
    text = BUNDLE_TEMPLATE.format(article="docs/patterns/pipes-and-filters-pattern.md",
                                  name_yaml="Pipes and Filters", name="Pipes and Filters",
                                  id="pipes-and-filters")
    full = uncommented(text)
    assert full.count("\n#") < text.count("\n#") - 20, "the examples were uncommented"
    (folder / "bundle.yml").write_text(full, "utf-8")
    loaded = bundle_mod.load(folder)  # raises PatternError naming every problem
    model = loaded.model
    assert [p.id for p in model.participants] == ["client", "worker"]
    assert model.flows.happy_path is not None and len(model.flows.happy_path.steps) == 2
    assert interaction_styles(model) == frozenset({"call"}), "the example is not about events"
