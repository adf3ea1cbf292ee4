"""``pattern-articles new``: a skeleton that builds, guides the author field by field, and never overwrites."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.beyond.helpers import clean_env, cli
from tests.conftest import run_mkdocs

pytestmark = pytest.mark.e2e

MKDOCS_YML = """\
site_name: A pattern catalogue
theme:
  name: material
plugins:
  - search
  - pattern-articles:
      timeout: 30
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - tables
  - pymdownx.details
  - pymdownx.highlight
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.tabbed:
      alternate_style: true
"""

#: The smallest metadata that fills every section of the scaffolded article.
FILLED = """\
name: Event Sourcing
subtitle: Storing Every Change as an Event
description: How to keep the history of every change, and rebuild any state from it.
definition:
  text: Every change to the state is stored as an immutable event; the state is a fold over them.
problem:
  context: A table that holds only the current state forgets how it got there, and audits need the story.
use_case:
  text: A bank account whose balance is the sum of its deposits and withdrawals, replayed on demand.
implementation:
  intro: The example replays the steps of a request from its events.
  steps:
    - title: Run the example
      text: Each line below is one step, printed in order.
      code:
        - snippet: example.py
          region: main
benefits:
  - {title: A full audit trail, detail: Nothing is ever overwritten; every change is a fact with a time.}
considerations:
  - {title: Schema evolution, risk: Old events outlive their code., mitigation: Version events and upcast old ones.}
summary:
  text: Event sourcing keeps the history, and derives the present from it.
snippets:
  example.py:
    timeout: 10
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Catalogue\n", "utf-8")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML, "utf-8")
    return tmp_path


def test_new_scaffolds_article_bundle_snippet_and_golden(site: Path) -> None:
    result = cli(site, "new", "event-sourcing")
    assert result.returncode == 0, result.stdout + result.stderr
    article = site / "docs" / "patterns" / "event-sourcing-pattern.md"
    bundle = site / "snippets" / "event-sourcing"
    for path in (article, bundle / "bundle.yml", bundle / "example.py", bundle / "expected" / "example.txt"):
        assert path.is_file(), path
        assert f"created {path.relative_to(site).as_posix()}" in result.stdout
    text = article.read_text("utf-8")
    front = yaml.safe_load(text.split("---")[1])
    assert front["pattern"] == "event-sourcing"
    assert front["title"] == "Event Sourcing Pattern: <TODO>" and front["description"] == "<TODO>"
    assert front["permalink"] == "patterns/event-sourcing-pattern/"
    for heading in ("## Introduction", "## Problem Context", "## What is Event Sourcing Pattern", "## Use Case",
                    "## Implementation Details", "## Why use Event Sourcing Pattern", "## Important Considerations",
                    "## Summary"):
        assert f"\n{heading}\n" in text
    # the golden output is what the snippet really prints
    ran = subprocess.run([sys.executable, str(bundle / "example.py")], capture_output=True, text=True,
                         timeout=60, cwd=site)
    assert ran.returncode == 0 and ran.stdout == (bundle / "expected" / "example.txt").read_text("utf-8")
    assert yaml.safe_load((bundle / "bundle.yml").read_text("utf-8"))["name"] == "Event Sourcing"
    check = cli(site, "check", "snippets/event-sourcing")
    assert "ok      snippets/event-sourcing/example.py::example" in check.stdout, check.stdout + check.stderr


def test_new_never_overwrites(site: Path) -> None:
    bundle = site / "snippets" / "event-sourcing"
    bundle.mkdir(parents=True)
    (bundle / "bundle.yml").write_text("name: Mine\n", "utf-8")
    result = cli(site, "new", "event-sourcing")
    assert result.returncode == 2
    assert "snippets/event-sourcing/bundle.yml already exists" in result.stderr
    assert "nothing was written" in result.stderr
    assert (bundle / "bundle.yml").read_text("utf-8") == "name: Mine\n"
    assert not (site / "docs" / "patterns").exists(), "all or nothing"
    assert sorted(p.name for p in bundle.iterdir()) == ["bundle.yml"]
    again = cli(site, "new", "Event_Sourcing")
    assert again.returncode == 2 and "is not a pattern id" in again.stderr


SKELETON = (
    "---\r\ntitle: 'Orchestration Pattern: <TODO>'\r\ndescription: <TODO>\r\n---\r\n\r\n"
    "## Introduction\r\nMy own words, \u00e9 and all.\r\n\r\n## What is Orchestration Pattern\r\n"
)


def test_new_on_an_existing_article_adds_only_the_bundle(site: Path) -> None:
    article = site / "docs" / "patterns" / "orchestration-pattern.md"
    article.parent.mkdir(parents=True)
    article.write_bytes(SKELETON.encode("utf-8"))
    result = cli(site, "new", "orchestration")
    assert result.returncode == 0, result.stdout + result.stderr
    assert article.read_bytes() == SKELETON.encode("utf-8"), "without --link the article is not touched"
    assert "found docs/patterns/orchestration-pattern.md: adding its bundle" in result.stdout
    assert "add 'pattern: orchestration' to its front matter, or run 'pattern-articles new orchestration " \
           "--link'" in result.stdout
    bundle = site / "snippets" / "orchestration"
    for path in (bundle / "bundle.yml", bundle / "example.py", bundle / "expected" / "example.txt"):
        assert path.is_file(), path
    assert "created docs/patterns" not in result.stdout
    # the name comes from the skeleton's title
    assert yaml.safe_load((bundle / "bundle.yml").read_text("utf-8"))["name"] == "Orchestration"


def test_new_link_adds_the_key_and_keeps_every_other_byte(site: Path) -> None:
    article = site / "docs" / "patterns" / "orchestration-pattern.md"
    article.parent.mkdir(parents=True)
    article.write_bytes(SKELETON.encode("utf-8"))
    article.chmod(0o640)
    result = cli(site, "new", "orchestration", "--link")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = SKELETON.replace("---\r\n", "---\r\npattern: orchestration\r\n", 1)
    assert article.read_bytes() == expected.encode("utf-8")
    assert article.stat().st_mode & 0o777 == 0o640
    assert "linked docs/patterns/orchestration-pattern.md: added 'pattern: orchestration'" in result.stdout
    assert not [p for p in article.parent.iterdir() if p.name.endswith(".tmp")], "atomic: no temporary left"
    # linked now: the build finds it and fills it from the new bundle
    check = cli(site, "check", "docs/patterns/orchestration-pattern.md")
    assert "docs/patterns/orchestration-pattern.md" in check.stdout, check.stdout + check.stderr
    # a second run finds the linked article by its key and refuses: its bundle exists
    again = cli(site, "new", "orchestration", "--link")
    assert again.returncode == 2 and "snippets/orchestration/bundle.yml" in again.stderr
    assert article.read_bytes() == expected.encode("utf-8")


def test_new_link_refuses_an_article_linked_to_another_bundle(site: Path) -> None:
    article = site / "docs" / "mine.md"
    article.write_text("---\npattern: saga\ntitle: x\n---\n", "utf-8")
    result = cli(site, "new", "orchestration", "--article", "docs/mine.md", "--link")
    assert result.returncode == 2
    assert "docs/mine.md:2" in result.stderr and "names the bundle 'saga', not 'orchestration'" in result.stderr
    assert not (site / "snippets").exists()
    assert article.read_text("utf-8") == "---\npattern: saga\ntitle: x\n---\n"


def test_pattern_is_never_doubled(site: Path) -> None:
    result = cli(site, "new", "demo-pattern")
    assert result.returncode == 0, result.stdout + result.stderr
    article = site / "docs" / "patterns" / "demo-pattern.md"
    assert article.is_file() and not (site / "docs" / "patterns" / "demo-pattern-pattern.md").exists()
    text = article.read_text("utf-8")
    front = yaml.safe_load(text.split("---")[1])
    assert front["title"] == "Demo Pattern: <TODO>" and front["pattern"] == "demo-pattern"
    assert front["permalink"] == "patterns/demo-pattern/"
    assert "## What is Demo Pattern\n" in text and "Pattern Pattern" not in text
    named = cli(site, "new", "cqrs", "--name", "CQRS Pattern")
    assert named.returncode == 0, named.stdout + named.stderr
    assert "title: 'CQRS Pattern: <TODO>'" in (site / "docs" / "patterns" / "cqrs-pattern.md").read_text("utf-8")


def test_with_front_matter_key_is_byte_preserving() -> None:
    from pattern_articles.commands.scaffold import with_front_matter_key

    assert with_front_matter_key("---\ntitle: x\n---\nbody", "pattern", "p") == "---\npattern: p\ntitle: x\n---\nbody"
    assert with_front_matter_key("\ufeff---\r\na: 1\r\n---\r\n", "pattern", "p") == \
        "\ufeff---\r\npattern: p\r\na: 1\r\n---\r\n"
    assert with_front_matter_key("# Title\n", "pattern", "p") == "---\npattern: p\n---\n# Title\n"


def test_stub_builds_and_names_each_missing_field(site: Path) -> None:
    assert cli(site, "new", "event-sourcing").returncode == 0
    result = run_mkdocs(site, "-d", "site")
    assert result.returncode == 0, result.stderr
    assert (site / "site" / "patterns" / "event-sourcing-pattern" / "index.html").is_file()
    log = result.stderr
    for section, hint in [
        ("Introduction", "add 'description'"),
        ("Problem Context", "add 'problem' (problem: {context: ..."),
        ("What is Event Sourcing Pattern", "add 'definition' (definition: {text: ..."),
        ("Use Case", "add 'use_case' (use_case: {text: ...})"),
        ("Implementation Details", "add 'implementation' (implementation: {steps: [{title: ..."),
        ("Why use Event Sourcing Pattern", "add 'benefits'"),
        ("Important Considerations", "add 'considerations'"),
        ("Summary", "add 'summary'"),
    ]:
        assert f"section '{section}' is empty and the bundle has no" in log, section
        assert hint in log, hint
    assert "front matter 'title' still holds a TODO and the bundle has no 'subtitle'" in log
    assert "add 'subtitle: ...' to bundle.yml" in log
    assert log.count("TODO left in the article") == 0, "an empty section is reported once, not twice"
    strict = run_mkdocs(site, "--strict", "-d", "site")
    assert strict.returncode != 0


def test_filled_stub_builds_strict(site: Path) -> None:
    assert cli(site, "new", "event-sourcing").returncode == 0
    (site / "snippets" / "event-sourcing" / "bundle.yml").write_text(FILLED, "utf-8")
    result = run_mkdocs(site, "--strict", "-d", "site")
    assert result.returncode == 0, result.stderr
    page = (site / "site" / "patterns" / "event-sourcing-pattern" / "index.html").read_text("utf-8")
    assert "Event Sourcing Pattern: Storing Every Change as an Event" in page
    assert "TODO" not in page
    assert "3. the result is reported" in page, "the snippet's real output"
    check = cli(site, "check", env=clean_env())
    assert check.returncode == 0, check.stdout + check.stderr


def test_new_finds_an_article_linked_by_its_key_anywhere(site: Path) -> None:
    article = site / "docs" / "blog" / "2023-09-02-orchestration.md"
    article.parent.mkdir(parents=True)
    text = "---\npattern: orchestration\ntitle: 'Service Orchestration Pattern: <TODO>'\n---\n\n## Introduction\n"
    article.write_text(text, "utf-8")
    result = cli(site, "new", "orchestration", "--link")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "found docs/blog/2023-09-02-orchestration.md: adding its bundle" in result.stdout
    assert "linked" not in result.stdout and "does not name its bundle" not in result.stdout
    assert article.read_text("utf-8") == text
    assert not (site / "docs" / "patterns").exists()
    bundle = yaml.safe_load((site / "snippets" / "orchestration" / "bundle.yml").read_text("utf-8"))
    assert bundle["name"] == "Service Orchestration"
