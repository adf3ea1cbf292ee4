"""Issue 20, items 4-9, through the real commands: the heading check fixes only the slip form
and ``check`` lists it; a TODO title with no bundle fails strict builds, ``check`` and pytest;
``requires:`` is checked before any run; paths on pages and in messages are the project's.

Each test builds a small site of its own (a pattern "Alpha" contrasted with "Beta"), so none
depends on the demo site or on how many bundles it has.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.beyond.helpers import clean_env, cli
from tests.beyond.test_new import MKDOCS_YML
from tests.conftest import run_mkdocs

pytestmark = pytest.mark.e2e

BUNDLE = """\
name: Alpha
subtitle: The first letter
description: Alpha, contrasted with Beta.
definition:
  text: Alpha does things first.
  contrast_with: beta
benefits:
  - {title: Early, detail: It starts before anyone else.}
implementation:
  steps:
    - title: Run it
      text: The example prints one line.
      code:
        - snippet: example.py
snippets:
  example.py: {}
"""

ARTICLE = """\
---
pattern: alpha
title: 'Alpha Pattern: <TODO>'
description: <TODO>
---

## What is Beta Pattern

## Implementation Details

## Why use Beta Pattern

## When to prefer Beta
Beta suits the long flows, in my own words.

## Beta
A recap of Beta, written by the author.
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "patterns").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text("# Catalogue\n", "utf-8")
    (tmp_path / "docs" / "patterns" / "alpha-pattern.md").write_text(ARTICLE, "utf-8")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML, "utf-8")
    bundle = tmp_path / "snippets" / "alpha"
    (bundle / "expected").mkdir(parents=True)
    (bundle / "bundle.yml").write_text(BUNDLE, "utf-8")
    (bundle / "example.py").write_text("print('alpha ran')\n", "utf-8")
    (bundle / "expected" / "example.txt").write_text("alpha ran\n", "utf-8")
    return tmp_path


def page(site: Path) -> str:
    return (site / "site" / "patterns" / "alpha-pattern" / "index.html").read_text("utf-8")


def headings(content: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip().rstrip("¶").strip()
            for m in re.findall(r"<h2[^>]*>(.*?)</h2>", content, re.DOTALL)]


def test_only_the_slip_form_is_fixed_and_check_lists_each_fix(site: Path) -> None:
    build = run_mkdocs(site, "--strict", "-d", "site")
    assert build.returncode == 0, build.stderr
    shown = headings(page(site))
    assert "What is Alpha Pattern" in shown and "Why use Alpha Pattern" in shown
    assert "When to prefer Beta" in shown and "Beta" in shown, "the author's headings are kept as written"
    assert not any("Alpha" in h for h in shown if "prefer" in h or h in ("Alpha",))
    assert "Beta suits the long flows, in my own words." in page(site)
    log = build.stderr
    for line in (7, 11):
        assert f"docs/patterns/alpha-pattern.md:{line}: heading '" in log
    check = cli(site, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    out = check.stdout
    assert ("docs/patterns/alpha-pattern.md:7: heading 'What is Beta Pattern' names Beta where the Alpha "
            "article's own section belongs; shown as 'What is Alpha Pattern'") in out
    assert "docs/patterns/alpha-pattern.md:11: heading 'Why use Beta Pattern'" in out
    assert "When to prefer" not in out and "'Beta'" not in out
    assert "0 warnings" in out


def test_a_todo_title_without_a_bundle_fails_strict_check_and_pytest(site: Path) -> None:
    skeleton = site / "docs" / "patterns" / "gamma-pattern.md"
    skeleton.write_text("---\ndate: 2024-01-01\ntitle: 'Gamma Pattern: <TODO>'\n---\n\n## Introduction\nHi.\n",
                        "utf-8")
    build = run_mkdocs(site, "--strict", "-d", "site")
    assert build.returncode != 0
    expected = "docs/patterns/gamma-pattern.md:3: the title still says TODO"
    assert expected in build.stderr
    assert "add 'pattern: <bundle id>' to its front matter" in build.stderr
    assert "pattern-articles new gamma --link" in build.stderr
    check = cli(site, "check")
    assert check.returncode == 1 and expected in check.stdout, check.stdout + check.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "--pattern-articles", "-p", "no:cacheprovider",
                            "-q", "-n", "0", "docs"], cwd=site, capture_output=True, text=True, timeout=300,
                           env=clean_env())
    assert tests.returncode == 1, tests.stdout + tests.stderr
    assert expected in tests.stdout
    # named by the existing bundle's id when one fits: the fix is one line
    (site / "docs" / "patterns" / "alpha-pattern.md").write_text(
        ARTICLE.replace("pattern: alpha\n", ""), "utf-8")
    again = cli(site, "check")
    assert "docs/patterns/alpha-pattern.md:2: the title still says TODO" in again.stdout
    assert "add 'pattern: alpha' to its front matter to fill it from snippets/alpha/" in again.stdout


def test_requires_is_checked_before_any_run(site: Path) -> None:
    bundle = site / "snippets" / "alpha" / "bundle.yml"
    bundle.write_text(BUNDLE + "requires:\n  - PyYAML\n  - not-a-real-distribution-xyz>=5\n", "utf-8")
    marker = site / "snippets" / "alpha" / "ran.txt"
    (site / "snippets" / "alpha" / "example.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nprint('alpha ran')\n", "utf-8")
    check = cli(site, "check")
    assert check.returncode == 1
    assert "snippets/alpha/bundle.yml:19: snippets/alpha/example.py::example not run: missing requirement " \
           "'not-a-real-distribution-xyz>=5' (not installed)" in check.stdout, check.stdout
    assert "pip install 'not-a-real-distribution-xyz>=5'" in check.stdout
    assert "failed 1" in check.stdout and "ran 0" in check.stdout
    build = run_mkdocs(site, "--strict", "-d", "site")
    assert build.returncode != 0 and "not-a-real-distribution-xyz" in build.stderr
    assert "not run: missing requirement" in html.unescape(page(site))
    assert not marker.exists(), "nothing ran"


def test_paths_on_the_page_and_in_messages_are_the_projects(site: Path) -> None:
    (site / "snippets" / "alpha" / "example.py").write_text("import not_a_module_xyz\n", "utf-8")
    build = run_mkdocs(site, "-d", "site")
    assert build.returncode == 0, build.stderr
    content = html.unescape(page(site))
    assert 'File "snippets/alpha/example.py", line 1' in content, "the failure box's traceback"
    for local in {str(site), str(site.resolve())}:
        assert local not in content
        assert local not in build.stderr.replace(f"directory: {site / 'site'}", "")
    assert "snippets/alpha/example.py:1: snippets/alpha/example.py::example failed" in build.stderr
    assert "declare it in bundle.yml under 'requires:'" in build.stderr
    check = cli(site, "check")
    assert str(site.resolve()) not in check.stdout and str(site) not in check.stdout
    assert "pip install not_a_module_xyz" in check.stdout


def test_prose_from_markdown_files_fills_the_page_and_its_errors_name_the_file(site: Path) -> None:
    bundle = site / "snippets" / "alpha"
    (bundle / "prose").mkdir()
    (bundle / "prose" / "definition.md").write_text(
        "Alpha does things **first**, in prose kept in a Markdown file.\n\n- one\n- two\n", "utf-8")
    (bundle / "bundle.yml").write_text(
        BUNDLE.replace("  text: Alpha does things first.\n", "  text:\n    file: prose/definition.md\n"), "utf-8")
    build = run_mkdocs(site, "--strict", "-d", "site")
    assert build.returncode == 0, build.stderr
    assert "Alpha does things <strong>first</strong>, in prose kept in a Markdown file." in page(site)
    (bundle / "prose" / "definition.md").write_text("Alpha.\n\n<TODO: an analogy>\n", "utf-8")
    check = cli(site, "check")
    assert check.returncode == 1
    assert "snippets/alpha/prose/definition.md:3: TODO left in definition.md" in check.stdout, check.stdout
    (bundle / "prose" / "definition.md").write_text("Alpha.\n\n~~~\ncode\n", "utf-8")
    strict = run_mkdocs(site, "--strict", "-d", "site")
    assert strict.returncode != 0
    assert "snippets/alpha/prose/definition.md:3: this code fence is never closed" in strict.stderr
    assert "(the file of definition.text, snippets/alpha/bundle.yml:5)" in strict.stderr
