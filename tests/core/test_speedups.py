"""What the speed-ups remember must never be a stale answer.

The benchmark (``benchmarks/bench.py``) drove these changes; each remembers work between
calls, so each is checked here against the slow way:

* the dependency memo (``cache.py``) trusts file signatures instead of re-analysing a
  snippet. Its guard against files written in the last two seconds ("racy" files, whose
  next write may share their timestamp) is turned off here so the memo is written at once;
  then the bundle is changed in every way that can change an output, and the key must
  follow, always equal to the key a fresh analysis gives;
* ``Project.articles()`` is remembered while no Markdown file changed;
* the warm worker loads a pre-importable module when a snippet imports it, not before;
* ``mkdocs serve`` learns of snippet edits from file events, and reads are not edits;
* golden file names computed without resolving paths match :func:`verify.golden_path`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pattern_articles.content import bundle as bundle_mod
from pattern_articles.engine import Runner, RunnerSettings, RunSpec
from pattern_articles.engine import cache as cache_mod
from pattern_articles.engine import runner as runner_mod
from pattern_articles.engine.cache import Cache
from tests.core.conftest import Write


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as settled: the memo is written on the first analysis."""
    monkeypatch.setattr(cache_mod, "_RACY_NS", -(10**18))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], tuple[bytes, ...]]]:
    """Every message the runners send their workers, as (header, payloads)."""
    messages: list[tuple[dict[str, Any], tuple[bytes, ...]]] = []
    real_send = runner_mod._Worker._send

    def spy(worker: runner_mod._Worker, header: dict[str, Any], *payloads: bytes) -> None:
        messages.append((header, payloads))
        real_send(worker, header, *payloads)

    monkeypatch.setattr(runner_mod._Worker, "_send", spy)
    return messages


def fresh_key(spec: RunSpec, tmp_path: Path) -> str:
    """The key from a full analysis: a cache folder that holds no memo."""
    folder = tmp_path / f"fresh-{time.monotonic_ns()}"
    return Cache(folder).key(spec)


def memo_files(folder: Path) -> list[Path]:
    return sorted((folder / "deps").glob("*.json"))


def test_memo_key_equals_a_fresh_analysis_and_follows_every_dependency(
    bundle: Path, write: Write, tmp_path: Path, settled: None,
) -> None:
    write("shop/__init__.py", "NAME = 'shop'\n")
    write("shop/bus.py", "from . import events\n")
    write("shop/events.py", "KINDS = ['placed']\n")
    write("data/orders.json", "[1]\n")
    path = write("flow.py", """
        from pathlib import Path
        from shop.bus import events
        print(Path(__file__).parent / "data" / "orders.json")
    """)
    spec = RunSpec(path, bundle)
    folder = tmp_path / "cache"
    first = Cache(folder).key(spec)
    assert memo_files(folder), "the memo was written"
    assert first == fresh_key(spec, tmp_path)
    assert Cache(folder).key(spec) == first, "a new process reads the memo and gets the same key"
    keys = {first}
    for name, extra in (("flow.py", "# edited\n"), ("shop/bus.py", "# edited\n"),
                        ("shop/__init__.py", "# edited\n"), ("shop/events.py", "# edited\n"),
                        ("data/orders.json", "[2]\n")):
        target = bundle / name
        target.write_text(target.read_text() + extra)
        key = Cache(folder).key(spec)  # a new build: the memo on disk, the files changed
        assert key == fresh_key(spec, tmp_path), name
        assert key not in keys, f"editing {name} must change the key"
        keys.add(key)


def test_a_memo_read_back_is_trusted_without_analysing_again(
    bundle: Path, write: Write, tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write("helpers.py", "X = 1\n")
    path = write("flow.py", "import helpers\nprint(open('data.txt').read() if False else helpers.X)\n")
    spec = RunSpec(path, bundle)
    folder = tmp_path / "cache"
    first = Cache(folder).key(spec)

    def analyse(_spec: RunSpec) -> None:
        raise AssertionError("the memo on disk should have answered")

    monkeypatch.setattr(cache_mod, "analyse", analyse)
    again = Cache(folder)
    assert again.key(spec) == first
    watched = again.watch(spec)  # what the worker checks before it stores a result
    helpers = str(bundle / "helpers.py")
    assert watched is not None
    assert [helpers, list(cache_mod._signature(helpers) or ())] in [[n, list(sig)] for n, sig in watched]


def test_the_memos_of_one_bundle_hold_one_copy_of_its_folder_list(
    bundle: Path, write: Write, tmp_path: Path, settled: None,
) -> None:
    write("data/orders.json", "[1]\n")
    specs = [RunSpec(write(f"s{i}.py", f"print({i})\n"), bundle) for i in range(3)]
    cache = Cache(tmp_path / "cache")
    for spec in specs:
        cache.key(spec)
    memos = [cache._memo._known[(path, cache._memo._ident(spec))]
             for spec in specs if (path := cache._memo.path_for(spec))]
    assert len(memos) == 3
    assert len(memo_files(tmp_path / "cache")) == 1, "one memo file for the bundle"
    assert len(memos[0].folders) == 2, "the bundle and its data folder"
    assert all(memo.folders is memos[0].folders for memo in memos)


def test_forgetting_the_memos_writes_them_and_empties_memory_and_keys_stay_the_same(
    bundle: Path, write: Write, tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: a one-shot build lets go of them once every run is done (Runner.forget_keys), so
    # that the pages it fills next reuse the memory; nothing may be lost on the way
    specs = [RunSpec(write(f"s{i}.py", f"import helpers\nprint({i})\n"), bundle) for i in range(3)]
    write("helpers.py", "X = 1\n")
    cache = Cache(tmp_path / "cache")
    with cache.batch():
        keys = [cache.key(spec) for spec in specs]
        assert not memo_files(tmp_path / "cache"), "a batch holds its memos until it ends"
        cache.forget_memos()  # even inside a batch: written first, then let go
        assert len(memo_files(tmp_path / "cache")) == 1
        memo = cache._memo
        assert not (memo._known or memo._files or memo._shared or memo._real or memo._paths)

        def analyse(_spec: RunSpec) -> None:
            raise AssertionError("the memo on disk should have answered")

        monkeypatch.setattr(cache_mod, "analyse", analyse)
        assert [cache.key(spec) for spec in specs] == keys


def test_a_batch_writes_its_memos_once_and_writers_sharing_a_cache_merge(
    bundle: Path, write: Write, tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: a cold build created one memo file per snippet, which cost more than it saved
    specs = [RunSpec(write(f"s{i}.py", f"print({i})\n"), bundle) for i in range(4)]
    folder = tmp_path / "cache"
    first, second = Cache(folder), Cache(folder)  # e.g. two pytest-xdist workers
    path = second._memo.path_for(specs[0])
    assert path is not None and second._memo._entries(path) == {}, "read before the first wrote"
    with first.batch():
        keys = {spec: first.key(spec) for spec in specs[:2]}
        assert memo_files(folder) == [], "written at the end of the batch, not per key"
    assert len(memo_files(folder)) == 1
    keys |= {spec: second.key(spec) for spec in specs[2:]}  # merged with the first's on disk
    assert len(memo_files(folder)) == 1

    def analyse(_spec: RunSpec) -> None:
        raise AssertionError("every snippet's memo should be in the bundle's file")

    monkeypatch.setattr(cache_mod, "analyse", analyse)
    third = Cache(folder)
    assert {spec: third.key(spec) for spec in specs} == keys


def test_module_facts_keep_what_could_name_a_file_and_only_the_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache_mod, "_FACTS", {})
    monkeypatch.setattr(cache_mod, "_FACTS_KEPT", 4)
    module = tmp_path / "module.py"
    module.write_text('"""A docstring,\nover two lines."""\nimport json\nPATH = "data/orders.json"\n')
    facts = cache_mod._facts_and_code(module)[0]
    assert facts.strings == ("data/orders.json",)
    assert facts.imports == (("json", (), 0),)
    for i in range(6):
        other = tmp_path / f"other{i}.py"
        other.write_text(f"X = {i}\n")
        cache_mod._facts_and_code(other)
        cache_mod._facts_and_code(module)  # used again and again: stays
    assert len(cache_mod._FACTS) == 4
    assert cache_mod._facts_and_code(module)[0] is facts


@pytest.mark.parametrize(("source", "new_file", "content"), [
    ("import helpers_not_installed_anywhere\n", "helpers_not_installed_anywhere.py", "X = 1\n"),
    ("print(open('notes/today.txt').read())\n", "notes/today.txt", "hello\n"),  # a new folder too
], ids=["a new module shadowing an import", "a new data file named by a literal"])
def test_a_new_file_the_snippet_names_changes_the_key(
    bundle: Path, write: Write, tmp_path: Path, settled: None, source: str, new_file: str, content: str,
) -> None:
    path = write("flow.py", source)
    spec = RunSpec(path, bundle)
    folder = tmp_path / "cache"
    before = Cache(folder).key(spec)
    write(new_file, content)
    after = Cache(folder).key(spec)
    assert after != before
    assert after == fresh_key(spec, tmp_path)


def test_files_written_just_now_are_not_trusted_by_their_signature(
    bundle: Path, write: Write, tmp_path: Path,
) -> None:
    path = write("flow.py", "print('hi')\n")
    folder = tmp_path / "cache"
    Cache(folder).key(RunSpec(path, bundle))
    assert not memo_files(folder), "a file younger than the guard may change within its timestamp"


def test_inputs_globs_are_always_analysed(bundle: Path, write: Write, tmp_path: Path, settled: None) -> None:
    path = write("flow.py", "print('hi')\n")
    write("expected/extra.txt", "one\n")  # inside a folder the memo's signature skips
    spec = RunSpec(path, bundle, inputs=("expected/*.txt",))
    folder = tmp_path / "cache"
    before = Cache(folder).key(spec)
    assert not memo_files(folder)
    write("expected/more.txt", "two\n")
    assert Cache(folder).key(spec) != before


def test_articles_are_remembered_until_a_markdown_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pattern_articles.project import Project
    from pattern_articles.settings import Settings

    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 10**12)  # every file counts as settled
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("---\npattern: alpha\n---\n# A\n")
    project = Project(Settings(root=tmp_path))
    assert [(r.docs_path, r.bundle_id) for r in project.articles()] == [("a.md", "alpha")]
    (docs / "guide").mkdir()
    (docs / "guide" / "b.md").write_text("---\npattern: beta\n---\n# B\n")
    assert [(r.docs_path, r.bundle_id) for r in project.articles()] == [("a.md", "alpha"), ("guide/b.md", "beta")]
    (docs / "a.md").write_text("---\npattern: gamma-longer\n---\n# A\n")
    assert [r.bundle_id for r in project.articles()] == ["gamma-longer", "beta"]
    (docs / "guide" / "b.md").unlink()
    assert [r.bundle_id for r in project.articles()] == ["gamma-longer"]
    links = project.links("guide/c.md")
    assert dict(links.pages) == {"gamma-longer": "../a.md"}


def test_worker_loads_a_preimportable_module_when_a_snippet_imports_it(bundle: Path, write: Write) -> None:
    # asyncio is pre-importable but not loaded eagerly: it makes every fork dearer
    plain = write("plain.py", "import sys\nprint('asyncio' in sys.modules)\n")
    uses = write("uses.py", "import sys\nprint('asyncio' in sys.modules)\nimport asyncio\n")
    with Runner(RunnerSettings(jobs=1, timeout=60)) as runner:
        assert runner.result(RunSpec(plain, bundle)).stdout == "False\n"
        first = runner.result(RunSpec(uses, bundle))
        assert (first.status, first.stdout) == ("passed", "True\n"), first
        # loaded into the worker: a later snippet starts with it, as it did when all were eager
        assert runner.result(RunSpec(plain, bundle, scenario="again")).stdout == "True\n"


def test_a_bundle_module_shadowing_a_preimportable_one_is_not_preloaded(bundle: Path, write: Write) -> None:
    write("statistics.py", "WHO = 'bundle statistics'\n")
    path = write("stats.py", "import statistics\nprint(statistics.WHO)\n")
    with Runner(RunnerSettings(jobs=1, timeout=60)) as runner:
        result = runner.result(RunSpec(path, bundle))
    assert (result.status, result.stdout) == ("passed", "bundle statistics\n"), result


def test_serve_watcher_sees_writes_and_ignores_reads(tmp_path: Path) -> None:
    pytest.importorskip("watchdog", reason="the MkDocs extra (watchdog) is not installed")
    from pattern_articles.adapters.mkdocs_plugin import _SnippetWatcher

    root = tmp_path / "snippets"
    (root / "demo").mkdir(parents=True)
    snippet = root / "demo" / "flow.py"
    snippet.write_text("print(1)\n")
    watcher = _SnippetWatcher.start([root], None)
    if watcher is None:
        pytest.skip("no native file events on this platform: serve polls the folders as before")
    try:
        before = watcher.sentinel.read_text()
        for _ in range(20):
            snippet.read_text()  # the build reads every snippet: not a change
        time.sleep(1.0)
        assert watcher.changes == 0
        assert watcher.sentinel.read_text() == before
        snippet.write_text("print(2)\n")
        deadline = time.monotonic() + 30
        # the watcher counts the change, then replaces the sentinel: wait for both
        while (watcher.changes == 0 or watcher.sentinel.read_text() == before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.changes > 0
        assert watcher.sentinel.read_text() != before, "the file MkDocs polls changed"
    finally:
        watcher.stop()
    assert not watcher.folder.exists()


def test_golden_names_without_resolving_match_golden_path(tmp_path: Path) -> None:
    from pattern_articles.engine.verify import _golden_of, golden_path, specs_for

    folder = tmp_path / "snippets" / "demo"
    (folder / "sub").mkdir(parents=True)
    (folder / "flow.py").write_text("print(1)\n")
    (folder / "sub" / "flow.v2.py").write_text("print(2)\n")
    (folder / "bundle.yml").write_text(
        "name: Demo\nsnippets:\n  flow.py: {scenarios: {happy-path: {}}}\n  sub/flow.v2.py: {}\n")
    loaded = bundle_mod.load(folder)
    specs = specs_for(loaded)
    assert len(specs) == 2
    for spec in specs:
        assert _golden_of(loaded, spec) == golden_path(loaded.dir, spec.snippet, spec.scenario)
    assert sorted(_golden_of(loaded, s).name for s in specs) == ["flow.happy-path.txt", "sub.flow.v2.txt"]


def test_release_caches_forgets_loaded_bundles_and_module_facts(tmp_path: Path) -> None:
    # why: a one-shot build lets go of them before the search index is built (README)
    from pattern_articles.project import release_caches

    folder = tmp_path / "snippets" / "demo"
    folder.mkdir(parents=True)
    (folder / "flow.py").write_text("import json\nprint(json.dumps(1))\n")
    (folder / "bundle.yml").write_text("name: Demo\nsnippets:\n  flow.py: {}\n")
    loaded = bundle_mod.load(folder)
    assert bundle_mod.load(folder) is loaded, "remembered while nothing changed"
    cache_mod._facts_and_code(folder / "flow.py")
    assert cache_mod._FACTS
    release_caches()
    assert not cache_mod._FACTS
    again = bundle_mod.load(folder)
    assert again is not loaded and again.model == loaded.model


# ----------------------------------------------------------------------- compiled once
# The cache key compiles the snippet and reads its imports and literals off the code
# (cache._code_facts); the same code goes to the worker, so the forked child does not
# compile it again. The AST stays the reference: whatever the code says must agree.

FACTS_SOURCE = '''\
"""Docstring."""
import json, os.path
import shop.bus as bus
from shop import events, ledger as books
from . import sibling
from ..pkg.mod import name
from x import *
import importlib

def load():
    from inner import thing
    mod = importlib.import_module("shop.plugins.extra")
    here = os.path.dirname(__file__)
    return open(os.path.join(here, "data", "orders.json")), mod

CONFIG = Path(__file__).parent / "conf" / "settings.toml"
'''


def test_imports_read_off_the_code_are_the_asts(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(FACTS_SOURCE)
    code = compile(FACTS_SOURCE, str(path), "exec", dont_inherit=True)
    from_code = cache_mod._code_facts(code)
    from_ast = cache_mod._parsed_facts(FACTS_SOURCE.encode(), path)
    assert from_code is not None
    assert set(from_ast.imports) <= set(from_code.imports)
    # the only extra "imports" are the dotted-name constants of the code calling import_module
    extra = {module for module, _, _ in set(from_code.imports) - set(from_ast.imports)}
    assert extra == {"data", "orders.json", "thing"}, extra
    # every literal the AST saw, and its joined paths, are among the code's
    assert set(from_ast.strings) <= set(from_code.strings)
    assert {"data/orders.json", "conf/settings.toml"} <= set(from_code.strings)


def test_an_import_of_an_unusual_shape_falls_back_to_the_ast(tmp_path: Path) -> None:
    # 300 constants first: the import's fromlist needs an EXTENDED_ARG prefix
    source = "".join(f"c{i} = {i + 1000}\n" for i in range(300)) + "from shop import (bus)\n"
    code = compile(source, "flow.py", "exec", dont_inherit=True)
    assert cache_mod._code_facts(code) is None
    path = tmp_path / "flow.py"
    path.write_text(source)
    facts, shipped, _ = cache_mod._facts_and_code(path, str(path))
    assert ("shop", ("bus",), 0) in facts.imports
    assert shipped is not None  # it compiled cleanly: the run still gets its code


def test_a_snippet_the_compiler_warns_about_is_compiled_by_the_child(
    bundle: Path, write: Write, tmp_path: Path,
) -> None:
    """No code is handed over when compiling warns: the child compiles it and the warning
    goes where ``python snippet.py`` puts it."""
    clean = write("clean.py", "print('ok')\n")
    warns = write("warns.py", "import re\nprint(re.findall('\\d', 'a1'))\n")
    cache = Cache(tmp_path / "cache")
    compiled = cache.key_and_code(RunSpec(clean, bundle))[1]
    assert compiled is not None
    key, code = cache.key_and_code(RunSpec(warns, bundle))
    assert code is None
    assert key == Cache(tmp_path / "other").key(RunSpec(warns, bundle))


def test_the_worker_runs_the_code_the_key_compiled(
    bundle: Path, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import marshal

    path = write("flow.py", "print('from the file')\n")
    spec = RunSpec(path, bundle)

    def handed_over(source: str, name: str) -> cache_mod.Compiled:
        return cache_mod.Compiled(marshal.dumps(compile(source, name, "exec", dont_inherit=True)), ())

    cases = {
        "from the code": handed_over("print('from the code')\n", str(path)),
        "from the file": handed_over("print('from the code')\n", str(path) + ".other"),  # misnamed
    }
    for expected, shipped in cases.items():
        monkeypatch.setattr(Cache, "key_and_code", lambda self, s, c=None, code=shipped: ("k" * 64, code))
        with Runner(RunnerSettings(jobs=1, timeout=60, cache_dir=tmp_path / expected)) as runner:
            result = runner.result(spec)
        assert (result.status, result.stdout) == ("passed", f"{expected}\n"), result


def test_every_run_gets_its_code_compiled_also_when_the_facts_are_remembered(
    bundle: Path, write: Write, tmp_path: Path, sent: list[tuple[dict[str, Any], tuple[bytes, ...]]],
) -> None:
    # why: the facts of a file are remembered by content, and a remembered file used to get
    # no code, so the next scenario of a snippet (or a file of the same content) was
    # compiled in its forked child: ~0.65 ms of CPU there, with the faults, against
    # ~0.2 ms here
    import marshal

    cache_mod.forget_facts()
    source = "import sys\nprint(sys.argv[1:])\n"
    first, twin = write("flow.py", source), write("twin.py", source)
    specs = [RunSpec(first, bundle, scenario=str(i), args=(str(i),)) for i in range(3)]
    specs.append(RunSpec(twin, bundle))
    with Runner(RunnerSettings(jobs=1, timeout=60, cache_dir=tmp_path / "cache")) as runner:
        results = runner.run_all(specs)
    assert [r.stdout for r in results] == ["['0']\n", "['1']\n", "['2']\n", "[]\n"]
    shipped = [(header["path"], marshal.loads(payloads[0]).co_filename if header.get("code") else None)
               for header, payloads in sent]
    assert shipped == [(str(first), str(first))] * 3 + [(str(twin), str(twin))]


def test_a_run_whose_key_came_from_a_memo_gets_its_code_too(
    bundle: Path, write: Write, tmp_path: Path, settled: None,
    sent: list[tuple[dict[str, Any], tuple[bytes, ...]]],
) -> None:
    # a memo answers the key without compiling; a run still needs the code (a fresh run,
    # a failing snippet run again, a result pruned from the cache)
    path = write("flow.py", "import json\nprint(json.dumps([1]))\n")
    for fresh in (False, True):  # the second: the memo answers, the result is not looked up
        cache_mod.forget_facts()
        with Runner(RunnerSettings(jobs=1, timeout=60, cache_dir=tmp_path / "cache", fresh=fresh)) as runner:
            assert runner.result(RunSpec(path, bundle)).stdout == "[1]\n"
    assert [(header.get("code"), header.get("imports")) for header, _ in sent] == [(True, ["json"])] * 2


def test_the_imports_handed_over_are_the_snippets_and_its_bundle_modules(
    bundle: Path, write: Write, tmp_path: Path,
) -> None:
    """The worker preloads from them instead of scanning the files (see ``_preload``)."""
    write("shop/__init__.py", "")
    write("shop/bus.py", "import statistics\nfrom concurrent import futures\n")
    path = write("flow.py", "import json\nfrom shop import bus\nfrom . import nothing\n")
    _, compiled = Cache(tmp_path / "cache").key_and_code(RunSpec(path, bundle))
    assert compiled is not None
    assert set(compiled.imports) == {"json", "shop", "shop.bus", "statistics", "concurrent",
                                     "concurrent.futures"}


def test_a_key_reads_each_python_file_once_and_digests_the_bytes_it_compiled(
    bundle: Path, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: the key digested every file in a second read after the analysis had read (and
    # compiled) it: a read per file more, and, had the file changed between the two reads,
    # a key naming content other than the code handed to the worker
    import marshal

    write("shop/__init__.py", "")
    write("shop/bus.py", "import json\n")
    write("data.txt", "42\n")
    path = write("flow.py", "from shop import bus\nprint(open('data.txt').read())\n")
    spec = RunSpec(path, bundle)
    cache_mod.forget_facts()
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        if self.is_relative_to(bundle):  # the cache's own files aside
            reads.append(self.name)
        return real(self)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", counting)
        key, compiled = Cache(tmp_path / "cache").key_and_code(spec)
    assert sorted(reads) == ["__init__.py", "bus.py", "data.txt", "flow.py"]
    assert compiled is not None and marshal.loads(compiled.code).co_filename == str(path)
    assert key == fresh_key(spec, tmp_path)  # with the facts forgotten: every file read afresh
    cache_mod.forget_facts()
    assert key == fresh_key(spec, tmp_path)


def test_the_worker_preloads_what_the_handed_over_imports_name(bundle: Path, write: Write, tmp_path: Path) -> None:
    # asyncio is pre-importable, not loaded eagerly; the snippet hides its import from a
    # scan of the source, so only the handed-over names can have loaded it
    hidden = write("hidden.py", "import sys\nprint('asyncio' in sys.modules)\nexec('import asyncio')\n")
    plain = write("plain.py", "import sys\nprint('asyncio' in sys.modules)\n")
    code = compile(hidden.read_text(), str(hidden), "exec", dont_inherit=True)
    import marshal

    real = Cache.key_and_code

    def with_asyncio(self: Cache, spec: RunSpec, context: object = None) -> tuple[str, cache_mod.Compiled | None]:
        key, _ = real(self, spec, context)  # type: ignore[arg-type]
        return key, cache_mod.Compiled(marshal.dumps(code), ("asyncio",)) if spec.snippet == hidden else None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Cache, "key_and_code", with_asyncio)
        with Runner(RunnerSettings(jobs=1, timeout=60, cache_dir=tmp_path / "cache")) as runner:
            first = runner.result(RunSpec(hidden, bundle))
            assert (first.status, first.stdout) == ("passed", "True\n"), first
            assert runner.result(RunSpec(plain, bundle)).stdout == "True\n"


def test_a_session_writes_its_entries_once_per_bundle_and_sends_only_runs(
    bundle: Path, write: Write, tmp_path: Path, settled: None,
    sent: list[tuple[dict[str, Any], tuple[bytes, ...]]],
) -> None:
    # why: a file (or a message to the worker) per cache entry cost every run system calls
    # and wake-ups; entries now wait in memory, and a batch (a pytest session) or the last
    # outstanding run writes them with one append per bundle file
    counter = tmp_path / "counter.txt"
    path = write("flow.py", """
        import os, sys
        with open(os.environ["COUNTER"], "a") as f:
            f.write("run\\n")
        print(sys.argv[1])
    """)
    specs = [RunSpec(path, bundle, scenario=str(i), args=(str(i),), env=(("COUNTER", str(counter)),))
             for i in range(4)]
    cache = tmp_path / "cache"
    results = cache / "results"
    with Runner(RunnerSettings(cache_dir=cache, jobs=1)) as runner:
        with runner.batch():
            assert [r.status for r in runner.run_all(specs[:3])] == ["passed"] * 3
            assert runner.result(specs[0]).status == "passed"
            assert not list(results.glob("*.jsonl")), "written before the batch ended"
        (log,) = results.glob("*.jsonl")
        assert len(log.read_bytes().splitlines()) == 3
        inode = log.stat().st_ino
        assert runner.result(specs[3]).stdout == "3\n"  # outside a batch: written at once
        assert len(log.read_bytes().splitlines()) == 4 and log.stat().st_ino == inode
    assert [header["op"] for header, _ in sent] == ["run"] * 4
    with Runner(RunnerSettings(cache_dir=cache, jobs=1)) as again:
        found = again.run_all(specs)
    assert [(r.cached, r.stdout) for r in found] == [(True, f"{i}\n") for i in range(4)]
    assert len(counter.read_text().splitlines()) == 4 and again.workers_started == 0


def test_a_long_batch_holds_a_bounded_number_of_entries(
    bundle: Path, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a pytest session is one batch: its entries are appended every _FLUSH_EVERY runs,
    # not all held in memory to its end
    monkeypatch.setattr(cache_mod, "_FLUSH_EVERY", 2)
    path = write("flow.py", "import sys\nprint(sys.argv[1])\n")
    specs = [RunSpec(path, bundle, scenario=str(i), args=(str(i),)) for i in range(5)]
    results = tmp_path / "cache" / "results"
    with Runner(RunnerSettings(cache_dir=tmp_path / "cache", jobs=1)) as runner, runner.batch():
        for spec in specs:
            assert runner.result(spec).status == "passed"
        (log,) = results.glob("*.jsonl")
        assert len(log.read_bytes().splitlines()) == 4, "two appends of two, the fifth held"
    assert len(log.read_bytes().splitlines()) == 5


def test_the_analysis_resolves_paths_as_path_resolve_does(bundle: Path, write: Write, tmp_path: Path) -> None:
    # why: it resolves a file through its folder, resolved once, instead of an lstat per
    # folder of the path; symlinks must still resolve to where they point
    real = write("pkg/mod.py", "X = 1\n")
    (bundle / "linked").symlink_to(bundle / "pkg")
    (bundle / "alias.py").symlink_to(real)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (bundle / "out").symlink_to(outside)
    analyser = cache_mod._Analyser(bundle.resolve(), bundle)
    for path in (real, bundle / "alias.py", bundle / "linked" / "mod.py", bundle / "out" / "x.py",
                 bundle / "missing.py", bundle / "pkg" / ".." / "alias.py", bundle / "linked"):
        assert analyser._resolved(path) == path.resolve(), path


def test_a_cold_analysis_walks_the_bundle_folders_once_per_snippet_and_stays_exact(
    bundle: Path, write: Write, tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: the walk after one snippet's analysis serves as the walk before the next one's;
    # an earlier snapshot than needed is safe, a file created in between must still count
    specs = [RunSpec(write(f"s{i}.py", "print(open('data/orders.json').read())\n"), bundle) for i in range(3)]
    walks: list[Path] = []
    real_folders = cache_mod._folders

    def counting(folder: Path) -> list[tuple[Any, ...]]:
        walks.append(folder)
        return real_folders(folder)

    monkeypatch.setattr(cache_mod, "_folders", counting)
    folder = tmp_path / "cache"
    cache = Cache(folder)
    cache.key(specs[0])
    assert len(walks) == 2, "before and after the first analysis"
    write("data/orders.json", "[1]\n")  # a new folder and file, between two analyses
    key = cache.key(specs[1])
    assert len(walks) == 3, "the second analysis took the first one's last walk as its first"
    assert key == fresh_key(specs[1], tmp_path)
    assert Cache(folder).key(specs[1]) == key, "what was remembered, if anything, is exact"
    cache.key(specs[2])
    assert Cache(folder).key(specs[2]) == fresh_key(specs[2], tmp_path)


def test_a_folder_listing_is_remembered_until_the_folder_changes(
    bundle: Path, write: Write, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: every snippet of a bundle is analysed against its folder; listing it and folding
    # each name per snippet cost more than the stat that now stands for it
    write("a.py", "print(1)\n")
    cache_mod._LISTINGS.clear()
    first = cache_mod._listing(str(bundle))
    assert first is not None and "a.py" in first
    assert cache_mod._listing(str(bundle)) is not first, "a folder changed just now is listed again"
    monkeypatch.setattr(cache_mod, "_LISTING_RACY_NS", -(10**18))  # every folder counts as settled
    first = cache_mod._listing(str(bundle))
    assert cache_mod._listing(str(bundle)) is first, "remembered"
    time.sleep(0.02)  # past a coarse timestamp tick
    write("Data.JSON", "[]\n")  # a new entry: the folder's timestamps change
    again = cache_mod._listing(str(bundle))
    assert again is not None and {"a.py", "Data.JSON", "data.json"} <= again


@pytest.mark.parametrize("names", [
    ["data", "Orders.csv", "pkg", "flow.py"],
    [],
    ["DATA", "x"],
])
def test_the_literals_worth_probing_are_those_the_per_literal_rule_picks(names: list[str]) -> None:
    # why: the literals are matched to a listing by set operations on their first
    # components; it must pick exactly what testing each literal picked
    strings = ("data/orders.json", "Data/x", "orders.csv", "/etc/passwd", "./flow.py", "../up",
               "pkg", "pkg/mod.py", "nothing here", "x/y/z", "", "data")
    facts = cache_mod._ModuleFacts((), tuple(s for s in strings if cache_mod._may_name_file(s)))
    listing = frozenset(names) | frozenset(n.casefold() for n in names)
    per_literal = {text for text in facts.strings
                   if (first := text.partition("/")[0]) in listing or first in ("", ".", "..")
                   or first.casefold() in listing}
    firsts = (facts.by_first.keys() & listing) | (facts.by_first.keys() & cache_mod._ALWAYS_PROBED)
    assert {text for first in firsts for text in facts.by_first[first]} == per_literal


def test_a_cache_is_freed_when_let_go_not_at_a_later_collection(
    bundle: Path, write: Write, tmp_path: Path,
) -> None:
    # why: a one-shot build lets go of its runner before the templates are rendered; a
    # cache in a reference cycle kept its 2,000 memos for the collector to walk meanwhile
    import gc
    import weakref

    cache = Cache(tmp_path / "cache")
    with cache.batch():
        cache.key(RunSpec(write("flow.py", "print('hi')\n"), bundle))
    gone = weakref.ref(cache)
    gc.disable()
    try:
        del cache
        assert gone() is None
    finally:
        gc.enable()


def test_a_bundle_reached_through_a_re_pointed_symlink_is_keyed_from_its_new_target(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: the analysis resolves a bundle's paths through the bundle folder resolved once;
    # that resolution must not outlive a moment, or a serve session would key the old files
    first, second = tmp_path / "v1", tmp_path / "v2"
    for folder, text in ((first, "print('one')\n"), (second, "print('two')\n")):
        folder.mkdir()
        (folder / "flow.py").write_text(text)
    link = tmp_path / "snippets" / "demo"
    link.parent.mkdir()
    link.symlink_to(first)
    spec = RunSpec(link / "flow.py", link)
    cache = Cache(tmp_path / "cache")
    before = cache.key(spec)
    monkeypatch.setattr(cache_mod, "_RECENT_S", 0.0)  # the next build, some time later
    link.unlink()
    link.symlink_to(second)
    after = cache.key(spec)
    assert after != before
    assert after == fresh_key(spec, tmp_path)
