"""``pattern-articles render``: the completed article as Markdown, built by Zensical, and as a Chirpy post."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.beyond.helpers import EXTENSIONS_YAML, NO_ZENSICAL, clean_env, cli, zensical, zensical_build
from tests.conftest import copy_project

pytestmark = pytest.mark.e2e

GOLDENS = Path(__file__).parent / "golden"
GOLDEN_SUFFIX = ".jekyll-chirpy.md"
UPDATE = os.environ.get("PATTERN_ARTICLES_UPDATE_GOLDEN", "") not in ("", "0")
ARTICLE = "patterns/choreography-pattern.md"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """The demo project rendered once (mkdocs flavour) into <project>/out."""
    project = copy_project(tmp_path_factory.mktemp("render"))
    result = cli(project, "render", "--out", "out")
    yield project, result


def test_render_writes_the_article_completed(rendered: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    project, result = rendered
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / "out" / ARTICLE).read_text("utf-8")
    assert "TODO" not in text
    assert re.search(r'^title: "Choreography Pattern: \S.+"$', text, re.MULTILINE)
    assert re.search(r'^description: "\S.{40,}"$', text, re.MULTILINE)
    assert "## What is Choreography Pattern" in text, "the heading slip is shown corrected"
    assert "```mermaid" in text and "sequenceDiagram" in text
    assert "final state of order-1001: APPROVED" in text, "real output in place"
    source = (project / "docs" / ARTICLE).read_text("utf-8")
    problem = source.split("## Problem Context\n", 1)[1].split("\n\n", 1)[0]
    assert problem in text, "authored text copied byte for byte"


def test_rendered_markdown_builds_with_zensical(rendered: tuple[Path, subprocess.CompletedProcess[str]],
                                                tmp_path: Path) -> None:
    if zensical() is None:
        pytest.skip(NO_ZENSICAL)
    project, result = rendered
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "zsite"
    shutil.copytree(project / "out", site / "docs")
    # no plugin at all: Zensical reads mkdocs.yml and needs only the Markdown extensions
    (site / "mkdocs.yml").write_text("site_name: Rendered by pattern-articles\n" + EXTENSIONS_YAML, "utf-8")
    built = zensical_build(site)
    assert built.returncode == 0, built.stdout + built.stderr
    page = (site / "site" / "patterns" / "choreography-pattern" / "index.html").read_text("utf-8")
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title and html.unescape(title.group(1)).startswith(
        "Choreography Pattern: Coordinating Microservices Through Events")
    assert re.search(r'<meta name="description" content="How microservices', page)
    assert "TODO" not in page
    assert page.count('class="mermaid"') >= 4, "diagrams drawn from the real runs"
    assert "tabbed-set" in page and 'class="admonition tip"' in page
    assert "final state of order-1001: APPROVED" in html.unescape(re.sub(r"<[^>]+>", "", page))


def _chirpy_env(tmp: Path) -> dict[str, str]:
    """No redis-server on PATH: the Redis runs are then shown from their golden files.

    Why: the Redis examples run several processes at once, so the diagram drawn from their real
    trace differs from run to run (that is the point of drawing it from the trace). Without a
    server they are "not run here" and show their last verified output: deterministic, and the
    golden file can be compared exactly.
    """
    empty = tmp / "bin"
    empty.mkdir()
    env = clean_env(PATH=str(empty))
    for name in ("PATTERN_ARTICLES_REDIS_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


def test_chirpy_flavor_matches_its_golden_files(tmp_path: Path) -> None:
    """Every article of the demo site, rendered as a Chirpy post, equals its golden file
    (``golden/<article>.jekyll-chirpy.md``, the post's name without its date), and every
    golden file belongs to an article: a new article needs its golden, a removed one takes
    its golden along."""
    project = copy_project(tmp_path / "project")
    result = cli(project, "render", "--out", "blog", "--flavor", "jekyll-chirpy", env=_chirpy_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    posts = {re.sub(r"^\d{4}-\d{2}-\d{2}-", "", post.stem): post
             for post in sorted((project / "blog" / "_posts").glob("*.md"))}
    assert "choreography-pattern" in posts, sorted(p.name for p in (project / "blog").rglob("*"))
    if UPDATE:
        GOLDENS.mkdir(exist_ok=True)
        for stale in GOLDENS.glob("*" + GOLDEN_SUFFIX):
            stale.unlink()
        for name, post in posts.items():
            (GOLDENS / f"{name}{GOLDEN_SUFFIX}").write_text(post.read_text("utf-8"), "utf-8")
        pytest.skip(f"golden files rewritten in {GOLDENS}: {sorted(posts)}")
    goldens = {path.name.removesuffix(GOLDEN_SUFFIX): path for path in GOLDENS.glob("*" + GOLDEN_SUFFIX)}
    assert sorted(goldens) == sorted(posts), "one golden file per rendered post; rewrite them with " \
        "PATTERN_ARTICLES_UPDATE_GOLDEN=1 pytest tests/beyond -k golden"
    import difflib

    for name, post in posts.items():
        text, expected = post.read_text("utf-8"), goldens[name].read_text("utf-8")
        if text != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                                str(goldens[name]), "rendered", n=2))
            pytest.fail(f"the jekyll-chirpy rendering of {name} changed; if the change is intended, rewrite the "
                        "golden files with PATTERN_ARTICLES_UPDATE_GOLDEN=1 pytest tests/beyond -k golden\n"
                        + diff[:6000])


def test_chirpy_post_is_valid_for_jekyll(tmp_path: Path) -> None:
    """Structure, on a render with every snippet run (Redis too, when redis-server is installed)."""
    project = copy_project(tmp_path / "project")
    result = cli(project, "render", "--out", "blog", "--flavor", "jekyll-chirpy")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / "blog" / "_posts" / "2023-09-02-choreography-pattern.md").read_text("utf-8")
    head, body = text.split("\n---\n", 1)
    import yaml

    meta = yaml.safe_load(head.lstrip("-\n"))
    source = yaml.safe_load((project / "docs" / ARTICLE).read_text("utf-8").split("---")[1])
    for key in ("permalink", "counterlink", "image", "tags", "category", "date"):
        assert meta[key] == source[key], key
    assert "pattern" not in meta and meta["mermaid"] is True
    assert meta["title"].startswith("Choreography Pattern: ") and "TODO" not in meta["title"]
    assert "TODO" not in body
    outside_code = re.sub(r"^(`{3,}).*?^\1\s*$", "", body, flags=re.S | re.M)
    assert not re.search(r"^\s*(!!!|\?\?\?|===)", outside_code, re.M), "no pymdown container is left"
    assert not re.search(r"^\s*`{3,}.*(title=|linenums=|\{)", body, re.M), "fence options Rouge cannot read"
    assert re.search(r"^\{: \.prompt-tip \}$", body, re.M)
    assert re.search(r'^\{: file="choreography/flow.py" \}$', body, re.M)
    assert "**Output: Happy path**" in body and "```mermaid" in body
    assert 'class="pa-verified"' not in body
