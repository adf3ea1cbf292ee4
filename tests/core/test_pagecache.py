"""The whole-page cache's key and entries (pagecache.py) and the mark rewrite it relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from pattern_articles.errors import Place, Problem
from pattern_articles.pages.pagecache import PageCache, PageEntry, cacheable, folder_digest
from pattern_articles.settings import Settings


def make_bundle(root: Path) -> Path:
    bundle = root / "b"
    (bundle / "expected").mkdir(parents=True)
    (bundle / "bundle.yml").write_text("name: B\n")
    (bundle / "s.py").write_text("print('hi')\n")
    (bundle / "expected" / "s.txt").write_text("hi\n")
    return bundle


def test_folder_digest_sees_every_content_change(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    first = folder_digest(bundle)
    assert folder_digest(bundle) == first
    (bundle / "expected" / "s.txt").write_text("ho\n")
    changed = folder_digest(bundle)
    assert changed != first
    (bundle / "new.py").write_text("")
    added = folder_digest(bundle)
    assert added != changed
    (bundle / "new.py").unlink()
    assert folder_digest(bundle) == changed
    (bundle / "s.py").rename(bundle / "t.py")  # same bytes under another name
    assert folder_digest(bundle) != changed


def test_folder_digest_ignores_bytecode_and_mtimes(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    first = folder_digest(bundle)
    (bundle / "__pycache__").mkdir()
    (bundle / "__pycache__" / "s.cpython-311.pyc").write_bytes(b"\0")
    import os

    os.utime(bundle / "s.py", (1, 1))
    assert folder_digest(bundle) == first


@pytest.fixture
def pages(tmp_path: Path) -> PageCache:
    return PageCache(tmp_path / "cache", Settings(root=tmp_path))


def test_key_depends_on_source_bundle_and_links(tmp_path: Path, pages: PageCache) -> None:
    bundle = make_bundle(tmp_path)
    page = tmp_path / "docs" / "a.md"
    key = pages.key(b"---\npattern: b\n---\n", page, bundle, {"b": "a.md"})
    assert pages.key(b"---\npattern: b\n---\n", page, bundle, {"b": "a.md"}) == key
    assert pages.key(b"---\npattern: b\n---\n\nmore", page, bundle, {"b": "a.md"}) != key
    assert pages.key(b"---\npattern: b\n---\n", page, bundle, {"b": "a.md", "c": "c.md"}) != key
    assert pages.key(b"---\npattern: b\n---\n", tmp_path / "docs" / "z.md", bundle, {"b": "a.md"}) != key
    (bundle / "s.py").write_text("print('changed')\n")
    fresh = PageCache(tmp_path / "cache", Settings(root=tmp_path))  # a new build
    assert fresh.key(b"---\npattern: b\n---\n", page, bundle, {"b": "a.md"}) != key


def test_key_depends_on_settings_and_allowlisted_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = make_bundle(tmp_path)

    def key(settings: Settings) -> str:
        return PageCache(tmp_path / "cache", settings).key(b"x", tmp_path / "a.md", bundle, {})

    base = key(Settings(root=tmp_path))
    assert key(Settings(root=tmp_path, timeout=5.0)) != base
    assert key(Settings(root=tmp_path, fix_headings=False)) != base
    monkeypatch.setenv("LANG", "xx_XX.UTF-8")  # allowlisted: it reaches every run
    with_lang = key(Settings(root=tmp_path))
    assert with_lang != base
    monkeypatch.setenv("PATTERN_ARTICLES_REDIS_URL", "redis://127.0.0.1:1/0")  # where services run
    assert key(Settings(root=tmp_path)) != with_lang


def test_round_trip_keeps_markdown_meta_problems(pages: PageCache) -> None:
    problem = Problem("heading names X", Place("docs/a.md", 12), "fix it", "info", "detail\nlines")
    unplaced = Problem("a warning without a place")
    digest = pages.input_digest("# A\n", {"pattern": "b", "date": "2026-01-01"})
    pages.store("k" * 64, digest, PageEntry("# A filled\n", {"title": "T"}, [problem, unplaced], 3))
    assert pages.has("k" * 64)
    entry = pages.load("k" * 64, digest)
    assert entry is not None
    assert entry.markdown == "# A filled\n" and entry.meta == {"title": "T"} and entry.runs == 3
    assert [p.format() for p in entry.problems] == [problem.format(), unplaced.format()]
    assert entry.problems[0].level == "info" and entry.problems[1].level == "warning"


def test_other_input_text_or_a_damaged_entry_is_a_miss(pages: PageCache) -> None:
    digest = pages.input_digest("# A\n", {})
    pages.store("k" * 64, digest, PageEntry("filled"))
    assert pages.load("k" * 64, pages.input_digest("# A, changed by another plugin\n", {})) is None
    assert pages.load("k" * 64, pages.input_digest("# A\n", {"extra": 1})) is None
    path = pages.folder / ("k" * 64 + ".json")
    for damaged in ("", "{", "[]", '{"format": 1}', path.read_text("utf-8")[:-20]):
        path.write_text(damaged, "utf-8")
        assert pages.load("k" * 64, digest) is None
    assert pages.load("m" * 64, digest) is None


def test_only_all_passed_pages_are_cacheable() -> None:
    assert cacheable(["passed", "passed"]) and cacheable([])
    for bad in ("mismatch", "failed", "timeout", "skipped", "error"):
        assert not cacheable(["passed", bad])


def _tamper(path: Path) -> None:
    """What a job that can write the cache folder would do: inject HTML into the page."""
    data = path.read_bytes()
    path.write_bytes(data.replace(b"# A filled", b"# A filled <script>alert(1)</script>"))


def test_an_entry_changed_on_disk_or_moved_to_another_key_is_a_miss(pages: PageCache) -> None:
    # issue 23, item 16: entries were served without an integrity check
    digest = pages.input_digest("# A\n", {})
    pages.store("k" * 64, digest, PageEntry("# A filled\n"))
    path = pages.folder / ("k" * 64 + ".json")
    assert pages.load("k" * 64, digest) is not None
    original = path.read_bytes()
    _tamper(path)
    assert path.read_bytes() != original
    assert pages.load("k" * 64, digest) is None, "a changed entry was served"
    other = pages.folder / ("m" * 64 + ".json")
    other.write_bytes(original)  # a valid entry copied under another key
    assert pages.load("m" * 64, digest) is None
    path.write_bytes(original.split(b"\n", 1)[1])  # the seal line dropped
    assert pages.load("k" * 64, digest) is None


def test_with_a_secret_only_entries_sealed_with_it_are_served(
    pages: PageCache, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hashlib

    digest = pages.input_digest("# A\n", {})
    pages.store("k" * 64, digest, PageEntry("# A filled\n"))  # sealed by digest only
    monkeypatch.setenv("PATTERN_ARTICLES_CACHE_SECRET", "s3cret")
    assert pages.load("k" * 64, digest) is None, "a digest anyone can compute is not enough"
    pages.store("k" * 64, digest, PageEntry("# A filled\n"))
    path = pages.folder / ("k" * 64 + ".json")
    assert path.read_bytes().startswith(b"pattern-articles-page hmac-sha256 ")
    assert pages.load("k" * 64, digest) is not None
    # an attacker who rewrites the body and its plain digest, without the secret
    _tamper(path)
    body = path.read_bytes().split(b"\n", 1)[1]
    forged = hashlib.sha256(b"k" * 64 + b"\0" + body).hexdigest().encode()
    for kind in (b"sha256", b"hmac-sha256"):
        path.write_bytes(b"pattern-articles-page " + kind + b" " + forged + b"\n" + body)
        assert pages.load("k" * 64, digest) is None
    monkeypatch.setenv("PATTERN_ARTICLES_CACHE_SECRET", "another")
    pages.store("k" * 64, digest, PageEntry("# A filled\n"))
    monkeypatch.setenv("PATTERN_ARTICLES_CACHE_SECRET", "s3cret")
    assert pages.load("k" * 64, digest) is None, "sealed with another secret"


def test_the_secret_is_not_part_of_any_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = make_bundle(tmp_path)

    def key() -> str:
        return PageCache(tmp_path / "cache", Settings(root=tmp_path)).key(b"x", tmp_path / "a.md", bundle, {})

    monkeypatch.delenv("PATTERN_ARTICLES_CACHE_SECRET", raising=False)
    plain = key()
    monkeypatch.setenv("PATTERN_ARTICLES_CACHE_SECRET", "s3cret")
    assert key() == plain  # file names are public: no hash of the secret in them
