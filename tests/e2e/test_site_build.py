"""A real `mkdocs build --strict` of the demo site, asserting on the HTML a reader gets."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED, tree_digest

pytestmark = pytest.mark.e2e

Built = tuple[Path, subprocess.CompletedProcess[str], dict[str, bytes]]


def page(built: Built) -> str:
    project, result, _ = built
    assert result.returncode == 0, result.stderr
    return (project / "site" / "patterns" / "choreography-pattern" / "index.html").read_text("utf-8")


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def test_strict_build_passes(built_site: Built) -> None:
    _, result, _ = built_site
    assert result.returncode == 0, result.stderr
    assert "WARNING -" not in result.stderr


def test_no_todo_left_on_the_page(built_site: Built) -> None:
    content = page(built_site)
    assert "TODO" not in content


def test_title_and_description_filled(built_site: Built) -> None:
    content = page(built_site)
    title = re.search(r"<title>(.*?)</title>", content, re.S)
    assert title and title.group(1).startswith("Choreography Pattern: ")
    assert "&lt;TODO" not in title.group(1)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", content, re.S)
    assert h1 and "Choreography Pattern: " in text_of(h1.group(1))
    description = re.search(r'<meta name="description" content="([^"]+)"', content)
    assert description and len(description.group(1)) > 40


def test_every_section_is_filled(built_site: Built) -> None:
    content = page(built_site)
    headings = re.findall(r'<h2 id="([^"]+)"', content)
    for wanted in ["introduction", "problem-context", "what-is-choreography-pattern", "use-case",
                   "implementation-details", "why-use-choreography-pattern", "important-considerations",
                   "summary", "references"]:
        assert wanted in headings, f"missing section {wanted}: {headings}"
    parts = re.split(r"<h2 ", content)[1:]
    for part in parts:
        body = text_of(part.split(">", 1)[1])
        assert len(body.split()) > 25, f"thin section: {body[:120]}"


def test_problem_context_is_byte_identical_to_the_seed(built_site: Built) -> None:
    seed = SEED.read_text("utf-8")
    paragraph = seed.split("## Problem Context\n", 1)[1].split("\n\n", 1)[0].strip()
    project, _, _ = built_site
    source = (project / "docs/patterns/choreography-pattern.md").read_text("utf-8")
    assert paragraph in source
    assert html.escape(paragraph, quote=False) in page(built_site)


def test_heading_slip_is_shown_corrected(built_site: Built) -> None:
    content = page(built_site)
    assert "What is Orchestration Pattern" not in content
    assert "What is Choreography Pattern" in text_of(content)


def test_snippet_code_and_real_output_are_present(built_site: Built) -> None:
    project, _, _ = built_site
    content = page(built_site)
    golden = (project / "snippets/choreography/expected/flow.happy-path.txt").read_text("utf-8")
    first_line = golden.strip().splitlines()[0]
    assert html.escape(first_line, quote=False) in content
    assert "def " in text_of(content)


def test_sequence_diagram_present(built_site: Built) -> None:
    content = page(built_site)
    diagrams = re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', content, re.S)
    assert diagrams, "no mermaid diagram"
    assert any("sequenceDiagram" in d and "OrderPlaced" in d for d in diagrams)


def test_sources_untouched_by_the_build(built_site: Built) -> None:
    project, result, before = built_site
    assert result.returncode == 0
    after = tree_digest(project / "docs") | {
        "snippets/" + k: v for k, v in tree_digest(project / "snippets").items()
    }
    assert after == before
    source = (project / "docs/patterns/choreography-pattern.md").read_text("utf-8")
    assert "title: 'Choreography Pattern: <TODO>'" in source
    assert "description: <TODO>" in source


def test_other_pages_pass_through(built_site: Built) -> None:
    project, _, _ = built_site
    assert (project / "site" / "guide" / "index.html").is_file()
    home = (project / "site" / "index.html").read_text("utf-8")
    assert "pattern-articles" in home


def test_a_build_finds_its_articles_once_and_lets_go_of_its_runs_before_the_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: every page asked for the site's links, and finding the articles walks and stats
    # every Markdown file under docs_dir: a build was quadratic in its pages (about 0.15 ms
    # per snippet of the benchmark's 100 pages)
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from pattern_articles import project as project_mod
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "site")
    article = (project / "docs" / "patterns" / "choreography-pattern.md").read_text("utf-8")
    for i in range(3):
        (project / "docs" / "patterns" / f"copy-{i}.md").write_text(article, "utf-8")
    calls: list[int] = []
    real = project_mod.Project.articles

    def spy(self: project_mod.Project) -> list[project_mod.ArticleRef]:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(project_mod.Project, "articles", spy)
    from pattern_articles.adapters.mkdocs_plugin import PatternArticlesPlugin

    released: list[bool] = []
    real_on_env = PatternArticlesPlugin.on_env

    def on_env(self: PatternArticlesPlugin, env: Any, **kwargs: Any) -> Any:
        out = real_on_env(self, env, **kwargs)
        released.append(self.project is None)  # before the templates are rendered
        return out

    monkeypatch.setattr(PatternArticlesPlugin, "on_env", on_env)
    # and lets go of its keys' memos once every run is done, before the first page is
    # filled (the pages reuse that memory: a lower peak, docs/guide/performance.md)
    from pattern_articles.engine import Runner

    order: list[str] = []
    real_forget, real_fill = Runner.forget_keys, project_mod.Project.fill

    def forget_keys(self: Runner) -> None:
        order.append("forget")
        real_forget(self)

    def fill(self: project_mod.Project, *args: Any, **kwargs: Any) -> Any:
        order.append("fill")
        return real_fill(self, *args, **kwargs)

    monkeypatch.setattr(Runner, "forget_keys", forget_keys)
    monkeypatch.setattr(project_mod.Project, "fill", fill)
    monkeypatch.chdir(project)
    monkeypatch.delenv("PATTERN_ARTICLES_FRESH", raising=False)
    build(load_config(str(project / "mkdocs.yml"), site_dir=str(project / "built")))
    pages = [project / "built" / "patterns" / f"copy-{i}" / "index.html" for i in range(3)]
    assert all("TODO" not in p.read_text("utf-8") for p in pages), "the copies were filled"
    assert len(calls) < 4, f"found the articles {len(calls)} times for 4 articles"
    assert released == [True], "a one-shot build lets go of its runs once the pages are filled"
    assert order[:2] == ["forget", "fill"] and order.count("forget") == 1, order
