"""The whole-page cache in real ``mkdocs build --strict`` runs of the demo site.

A warm build must hand back each article exactly as a fill would make it, say the same
things in its log, and miss as soon as anything the page was made from changes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from pattern_articles.pages.pagecache import seal, unsealed
from tests.conftest import copy_project, needs_redis, run_mkdocs

pytestmark = pytest.mark.e2e

PAGE = Path("site/patterns/choreography-pattern/index.html")
TITLE = "Choreography Pattern: "  # its source title, up to the <TODO>
PAGES = Path(".cache/pattern-articles/pages")
GOLDEN = Path("snippets/choreography/expected/ordering.txt")


def build(project: Path) -> subprocess.CompletedProcess[str]:
    result = run_mkdocs(project, "--strict", "-d", "site")
    return result


def plugin_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the plugin logged, less the timing of the summary line."""
    lines = [line for line in result.stderr.splitlines() if "pattern_articles" in line or line.startswith("  ")]
    return [re.sub(r"; build [\d.]+ s", "", line) for line in lines]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_project(tmp_path_factory.mktemp("pages") / "p")
    cold = build(folder)
    assert cold.returncode == 0, cold.stderr
    return folder


def entries(project: Path) -> list[Path]:
    return sorted((project / PAGES).glob("*.json"))


def read_entry(entry: Path) -> dict[str, object]:
    """An entry's content, its seal checked (see pagecache.seal)."""
    body = unsealed(entry.read_bytes(), entry.stem)
    assert body is not None, f"{entry} is not sealed for its key"
    stored = json.loads(body)
    assert isinstance(stored, dict)
    return stored


def write_entry(entry: Path, stored: dict[str, object]) -> None:
    """Rewrite an entry as the cache would (sealed), to prove what a build serves."""
    body = json.dumps(stored).encode("utf-8")
    entry.write_bytes(seal(body, entry.stem) + body)


def articles_of(project: Path) -> dict[str, str]:
    """Each article's title as its source gives it, up to the ``<TODO>`` the fill replaces,
    and its bundle. A stored page keeps the filled title in its meta, so a test finds the
    entry of the page it means however many articles the site has."""
    import yaml

    from pattern_articles import settings as settings_mod
    from pattern_articles.project import Project

    found = {}
    for ref in Project(settings_mod.load(project / "mkdocs.yml")).articles():
        text = (project / "docs" / ref.docs_path).read_text("utf-8")
        title = str(yaml.safe_load(text.split("---", 2)[1])["title"])
        found[title.split("<TODO>", 1)[0]] = ref.bundle_id
    return found


def article_of(stored: dict[str, object], articles: dict[str, str]) -> str:
    """The title prefix of the article a stored page was filled from."""
    title = str(stored["meta"]["title"])  # type: ignore[index]
    (prefix,) = [prefix for prefix in articles if title.startswith(prefix)]
    return prefix


def entry_of(project: Path, prefix: str = TITLE) -> Path:
    """The stored entry of one page: exactly one, whatever else is stored."""
    articles = articles_of(project)
    (entry,) = [e for e in entries(project) if article_of(read_entry(e), articles) == prefix]
    return entry


@needs_redis
def test_a_cold_build_stores_the_page_as_filled(project: Path) -> None:
    """A stored page is the filled page byte for byte: a reader cannot tell a run of this
    build from a reused one, so a warm build's page is the cold build's (see
    test_reproducible). It counts every run of its bundle, shown or not, as the fill does.
    Every article of the site is stored, each counting its own bundle's runs."""
    articles = articles_of(project)
    stored_pages = [read_entry(entry) for entry in entries(project)]
    assert sorted(article_of(page, articles) for page in stored_pages) == sorted(articles)
    for stored in stored_pages:
        markdown = str(stored["markdown"])
        assert 'data-status="passed"' in markdown and 'data-status="cached"' not in markdown
        bundle = articles[article_of(stored, articles)]
        scenarios = sum(1 for _ in (project / "snippets" / bundle / "expected").glob("*.txt"))
        assert int(str(stored["runs"])) == scenarios, bundle


def test_a_hit_is_the_page_a_fill_makes_and_logs_the_same(project: Path) -> None:
    hit = build(project)
    assert hit.returncode == 0, hit.stderr
    served = (project / PAGE).read_bytes()
    assert "snippets: ran 0, cached" in hit.stderr
    for entry in entries(project):
        entry.unlink()
    filled = build(project)  # every run from the result cache, the page filled again
    assert filled.returncode == 0, filled.stderr
    assert served == (project / PAGE).read_bytes()
    assert plugin_lines(hit) == plugin_lines(filled)
    assert any("names Orchestration" in line for line in plugin_lines(hit)), "problems are reported on a hit too"


@needs_redis
def test_the_hit_really_comes_from_the_cache(project: Path) -> None:
    build(project)
    entry = entry_of(project)
    stored = read_entry(entry)
    stored["markdown"] = str(stored["markdown"]) + "\n\nPAGE-CACHE-SENTINEL\n"
    write_entry(entry, stored)
    result = build(project)
    assert result.returncode == 0, result.stderr
    assert "PAGE-CACHE-SENTINEL" in (project / PAGE).read_text("utf-8")


def test_a_changed_golden_file_misses_and_fails_strict(project: Path) -> None:
    golden = project / GOLDEN
    original = golden.read_bytes()
    try:
        golden.write_bytes(original.replace(b"\n", b" (edited)\n", 1))
        result = build(project)
        assert result.returncode != 0
        assert "ordering.py" in result.stderr and "differs from ordering.txt" in result.stderr
        assert "PAGE-CACHE-SENTINEL" not in (project / PAGE).read_text("utf-8")
    finally:
        golden.write_bytes(original)
    again = build(project)
    assert again.returncode == 0, again.stderr


@needs_redis
def test_a_changed_article_misses(project: Path) -> None:
    article = project / "docs/patterns/choreography-pattern.md"
    original = article.read_text("utf-8")
    before = set(entries(project))
    try:
        article.write_text(original + "\nA closing line the author added.\n", "utf-8")
        result = build(project)
        assert result.returncode == 0, result.stderr
        assert "A closing line the author added." in (project / PAGE).read_text("utf-8")
        assert set(entries(project)) - before, "the edited page was stored under a new key"
    finally:
        article.write_text(original, "utf-8")


def test_a_failing_run_is_never_stored(tmp_path: Path) -> None:
    folder = copy_project(tmp_path / "p")
    snippet = folder / "snippets/choreography/ordering.py"
    snippet.write_text("raise SystemExit(3)\n" + snippet.read_text("utf-8"), "utf-8")
    for _ in range(2):
        result = build(folder)
        assert result.returncode != 0
        assert "ordering.py" in result.stderr
    articles = articles_of(folder)
    stored = [article_of(read_entry(entry), articles) for entry in entries(folder)]
    assert TITLE not in stored, "the page whose run failed is not stored (other articles may be)"


HOOK = '''
import json, os

def on_page_markdown(markdown, page, config, files):
    project = config.plugins["pattern-articles"].project
    runner = project._runner if project is not None else None
    stats = runner.stats if runner is not None else None
    with open(os.environ["PA_TEST_PAGES"], "a", encoding="utf-8") as out:
        out.write(json.dumps([page.file.src_uri, stats.ran if stats else None]) + "\\n")
    return markdown


def on_post_build(config):  # priority 0, as the search plugin's
    with open(os.environ["PA_TEST_PAGES"] + ".post", "w", encoding="utf-8") as out:
        out.write("released" if config.plugins["pattern-articles"].project is None else "held")
'''


@needs_redis
def test_every_run_is_done_before_the_first_page_is_filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # why: the peak memory of a cold build is then the larger of the runs' and the pages',
    # not their sum (README, performance); the pages would wait for their runs anyway.
    # And a build lets go of its data before the search plugin builds its index.
    folder = copy_project(tmp_path / "p")
    (folder / "hook.py").write_text(HOOK, "utf-8")
    config = folder / "mkdocs.yml"
    config.write_text(config.read_text("utf-8") + "\nhooks:\n  - hook.py\n", "utf-8")
    record = tmp_path / "pages.jsonl"
    monkeypatch.setenv("PA_TEST_PAGES", str(record))
    result = build(folder)
    assert result.returncode == 0, result.stderr
    ran = int(re.search(r"snippets: ran (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    assert ran >= 10, "a cold build: everything ran"
    pages = [json.loads(line) for line in record.read_text("utf-8").splitlines()]
    assert any(src.endswith("choreography-pattern.md") for src, _ in pages)
    assert {count for _, count in pages} == {ran}, pages
    assert Path(f"{record}.post").read_text("utf-8") == "released"
