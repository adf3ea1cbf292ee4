"""The result cache with real runs: hits start no process, edits invalidate, corruption heals.

Proof that a hit starts nothing: the snippet appends a line to a counter file outside its
temporary folder (named by a scenario variable), and ``Runner.workers_started`` stays 0.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pattern_articles.engine import Runner, RunnerSettings, RunResult, RunSpec
from pattern_articles.engine.cache import Cache, analyse, dependencies
from tests.core.conftest import Write


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    return tmp_path / "counter.txt"


@pytest.fixture
def run_once(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[RunResult, Runner]]]:
    """Run one spec in a brand-new Runner (as a new build would), return result and runner."""
    monkeypatch.delenv("PATTERN_ARTICLES_FRESH", raising=False)
    made: list[Runner] = []

    def _run(spec: RunSpec, **options: object) -> tuple[RunResult, Runner]:
        settings = RunnerSettings(cache_dir=cache_dir, **options)  # type: ignore[arg-type]
        runner = Runner(settings)
        made.append(runner)
        return runner.result(spec), runner

    yield _run
    for runner in made:
        runner.close()


COUNTING = textwrap.dedent("""
    import os
    with open(os.environ["COUNTER"], "a") as f:
        f.write("run\\n")
""")


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def counting_spec(path: Path, bundle: Path, counter: Path, **options: object) -> RunSpec:
    return RunSpec(snippet=path, bundle_dir=bundle, env=(("COUNTER", str(counter)),),
                   **options)  # type: ignore[arg-type]


def test_second_run_is_served_from_the_cache_without_any_process(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    path = write("flow.py", COUNTING + "print('hello')\n")
    spec = counting_spec(path, bundle, counter)
    first, _ = run_once(spec)
    second, runner = run_once(spec)
    assert (first.status, first.cached) == ("passed", False)
    assert (second.status, second.cached, second.stdout) == ("passed", True, "hello\n")
    assert runs(counter) == 1
    assert runner.workers_started == 0
    stats = runner.stats
    assert (stats.ran, stats.cached) == (0, 1)


def test_editing_an_imported_module_invalidates_transitively(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    write("shop/__init__.py", "")
    write("shop/bus.py", "from .events import NAME\n")
    write("shop/events.py", "NAME = 'OrderPlaced'\n")
    write("unrelated.py", "X = 1\n")
    path = write("flow.py", COUNTING + "from shop import bus\nprint(bus.NAME)\n")
    spec = counting_spec(path, bundle, counter)
    assert run_once(spec)[0].stdout == "OrderPlaced\n"
    write("unrelated.py", "X = 2\n")  # not imported: still a hit
    assert run_once(spec)[0].cached
    write("shop/events.py", "NAME = 'OrderShipped'\n")  # two imports away
    result, _ = run_once(spec)
    assert (result.cached, result.stdout) == (False, "OrderShipped\n")
    assert runs(counter) == 2


def test_editing_the_snippet_or_its_spec_invalidates(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    path = write("flow.py", COUNTING + "import sys\nprint(sys.argv[1:])\n")
    run_once(counting_spec(path, bundle, counter))
    assert not run_once(counting_spec(path, bundle, counter, args=("x",)))[0].cached
    assert not run_once(counting_spec(path, bundle, counter, timeout=9.0))[0].cached
    write("flow.py", COUNTING + "import sys\nprint('changed')\n")
    result, _ = run_once(counting_spec(path, bundle, counter))
    assert (result.cached, result.stdout) == (False, "changed\n")
    assert runs(counter) == 4


def test_settings_that_change_output_are_part_of_the_key(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    path = write("flow.py", COUNTING + "print('z' * 50)\n")
    spec = counting_spec(path, bundle, counter)
    run_once(spec)
    small, _ = run_once(spec, output_limit=10)
    assert not small.cached and small.truncated
    assert run_once(spec, output_limit=10)[0].cached


def test_data_files_named_in_the_code_and_declared_inputs_invalidate(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    write("data/orders.json", '["o-1"]')
    write("fixtures/a.csv", "a\n")
    path = write("flow.py", COUNTING + textwrap.dedent("""
        import json
        from pathlib import Path
        print(json.loads((Path(__file__).parent / "data" / "orders.json").read_text()))
    """))
    spec = counting_spec(path, bundle, counter, inputs=("fixtures/*.csv",))
    assert run_once(spec)[0].stdout == "['o-1']\n"
    write("data/orders.json", '["o-2"]')
    assert run_once(spec)[0].stdout == "['o-2']\n"
    write("fixtures/a.csv", "b\n")
    assert not run_once(spec)[0].cached
    assert run_once(spec)[0].cached
    assert runs(counter) == 3


def test_failures_are_not_cached(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    cache_dir: Path,
) -> None:
    path = write("flaky.py", COUNTING + "raise SystemExit(1)\n")
    spec = counting_spec(path, bundle, counter)
    assert run_once(spec)[0].status == "failed"
    assert run_once(spec)[0].status == "failed"
    assert runs(counter) == 2
    assert not list(Cache(cache_dir).stored())


def test_corrupt_entries_are_ignored_and_rebuilt(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    cache_dir: Path,
) -> None:
    path = write("flow.py", COUNTING + "print('ok')\n")
    spec = counting_spec(path, bundle, counter)
    run_once(spec)
    (log,) = (cache_dir / "results").glob("*.jsonl")  # one file per bundle
    (line,) = log.read_bytes().splitlines()
    key = line.split(b"\t")[0].decode()
    label = line.split(b"\t")[1]
    wrong = json.dumps({"format": 2, "key": key, "spec": "x", "result": {"status": "passed"}}).encode()
    for garbage in (line[:-7],  # cut by a crash: the next entry must not be glued to it
                    line.replace(b'"format": 2', b'"format": 1'),
                    key.encode() + b"\t" + label + b"\t[]",
                    key.encode() + b"\t" + label + b"\t" + wrong,
                    b"\x00\xff"):
        log.write_bytes(garbage)
        result, _ = run_once(spec)
        assert (result.status, result.cached, result.stdout) == ("passed", False, "ok\n")
        entries = list(Cache(cache_dir).stored())
        assert [(e["key"], e["result"]["stdout"]) for e in entries] == [(key, "ok\n")]  # rebuilt
        assert run_once(spec)[0].cached
    assert runs(counter) == 6
    assert sorted(p.name for p in (cache_dir / "results").iterdir()) == [".lock", log.name]  # no temp files


def test_entries_are_appended_per_bundle_and_old_ones_pruned(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: a file per entry made a cold build create a file per snippet, which ext4 makes
    # dear after many deletions; a bundle's file grows by appends and is compacted only when
    # most of it is outdated, keeping each run's latest few entries
    from pattern_articles.engine import cache as cache_mod
    path = write("flow.py", COUNTING + "print('v0')\n")
    other = write("other.py", "print('other')\n")
    spec, kept = counting_spec(path, bundle, counter), RunSpec(other, bundle)
    assert run_once(kept)[0].status == "passed"
    (log,) = (cache_dir / "results").glob("*.jsonl")
    inode = log.stat().st_ino
    for version in range(1, 12):
        write("flow.py", COUNTING + f"print('v{version}')\n")
        assert run_once(spec)[0].stdout == f"v{version}\n"
    assert log.stat().st_ino == inode, "appended, not rewritten: no compaction needed yet"
    assert len(log.read_bytes().splitlines()) == 12
    monkeypatch.setattr(cache_mod, "_KEEP_PER_RUN", 2)
    for version in range(12, 30):
        write("flow.py", COUNTING + f"print('v{version}')\n")
        assert run_once(spec)[0].stdout == f"v{version}\n"
    assert log.stat().st_ino != inode, "compacted"
    lines = log.read_bytes().splitlines()
    assert len(lines) <= 2 * 3 + 16
    outputs = [e["result"]["stdout"] for e in Cache(cache_dir).stored()]
    assert outputs[0] == "other\n" and outputs[-1] == "v29\n"
    assert run_once(kept)[0].cached, "another run's entry survives compaction"
    write("flow.py", COUNTING + "print('v29')\n")
    assert run_once(spec)[0].cached and runs(counter) == 29


def test_processes_appending_at_once_keep_every_entry(tmp_path: Path) -> None:
    """Two processes flushing into one bundle file (two builds, pytest-xdist workers): each
    append is whole, and no compaction drops the other's lines. Each round rewrites five
    entries (so compactions come often) and adds a new one, which must all survive."""
    import subprocess

    program = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from pattern_articles.engine.cache import Cache
        cache = Cache(Path({str(tmp_path / "cache")!r}))
        who = sys.argv[1]
        for round in range(150):
            for name in [f"{{who}}-{{i}}" for i in range(5)] + [f"{{who}}{{round}}"]:
                key = name.ljust(64, "0")
                cache.store(key, {{"status": "passed", "stdout": key}}, name, Path("/b"))
            cache.flush()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", program, who]) for who in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    stored = {e["key"]: e for e in Cache(tmp_path / "cache").stored()}
    expected = {name.ljust(64, "0") for who in ("a", "b")
                for name in [*(f"{who}-{i}" for i in range(5)), *(f"{who}{r}" for r in range(150))]}
    assert set(stored) == expected
    assert all(e["result"]["stdout"] == k for k, e in stored.items())
    (log,) = (tmp_path / "cache" / "results").glob("*.jsonl")
    assert len(log.read_bytes().splitlines()) < 2 * len(expected) + 17, "compacted on the way"


@pytest.mark.parametrize("memo", ["trusted", "fresh"])
def test_a_result_is_not_cached_when_its_inputs_change_while_it_runs(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    memo: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an editor saving a module mid-run must not file the new output under the old content.
    # "trusted": the key came through a memo, so the worker checks its inputs after the run;
    # "fresh": the files are too new to trust by stat, so the runner computes the key again
    from pattern_articles.engine import cache as cache_mod
    if memo == "trusted":
        monkeypatch.setattr(cache_mod, "_RACY_NS", -(10**18))
    write("helper.py", "VALUE = 1\n")
    path = write("flow.py", COUNTING + textwrap.dedent("""
        from pathlib import Path
        Path(__file__).with_name("helper.py").write_text("VALUE = 2\\n")  # saved mid-run
        import helper
        print(helper.VALUE)
    """))
    spec = counting_spec(path, bundle, counter)
    first, _ = run_once(spec)
    assert (first.status, first.stdout) == ("passed", "2\n")
    write("helper.py", "VALUE = 1\n")  # back to what the key was computed from
    second, _ = run_once(spec)
    assert not second.cached, "the output of VALUE = 2 was filed under VALUE = 1"
    assert runs(counter) == 2


def test_fresh_setting_and_environment_variable_force_runs(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write("flow.py", COUNTING + "print('ok')\n")
    spec = counting_spec(path, bundle, counter)
    run_once(spec)
    assert not run_once(spec, fresh=True)[0].cached
    monkeypatch.setenv("PATTERN_ARTICLES_FRESH", "1")
    assert not run_once(spec)[0].cached
    monkeypatch.setenv("PATTERN_ARTICLES_FRESH", "0")
    assert run_once(spec)[0].cached
    assert runs(counter) == 3


def test_cache_hits_do_not_wait_behind_running_snippets(
    bundle: Path, write: Write, counter: Path, cache_dir: Path, tmp_path: Path,
) -> None:
    fast = write("fast.py", COUNTING + "print('fast')\n")
    gate = tmp_path / "gate"
    slow = write("slow.py", """
        import os, time
        while not os.path.exists(os.environ["GATE"]):
            time.sleep(0.01)
    """)
    with Runner(RunnerSettings(cache_dir=cache_dir)) as warm:
        warm.result(counting_spec(fast, bundle, counter))
    slow_spec = RunSpec(slow, bundle, env=(("GATE", str(gate)),), timeout=30)
    with Runner(RunnerSettings(cache_dir=cache_dir, jobs=1)) as runner:
        runner.submit([slow_spec, counting_spec(fast, bundle, counter)])
        # the only job slot is blocked by slow.py until the gate opens; the hit still arrives
        hit = runner.result(counting_spec(fast, bundle, counter))
        gate.touch()
        assert hit.cached and hit.stdout == "fast\n"
        assert runner.result(slow_spec).status == "passed"


def test_trace_and_notes_survive_the_cache(
    bundle: Path, write: Write, run_once: Callable[..., tuple[RunResult, Runner]],
) -> None:
    path = write("traced.py", """
        import json, os
        with open(os.environ["PATTERN_ARTICLES_TRACE"], "a") as f:
            f.write(json.dumps({"op": "publish", "event": "E"}) + "\\nbroken\\n")
    """)
    spec = RunSpec(path, bundle)
    first, _ = run_once(spec)
    second, _ = run_once(spec)
    assert second.cached
    assert (second.trace, second.notes) == (first.trace, first.notes)
    assert second.trace == ({"op": "publish", "event": "E"},)


def test_analysis_resolves_every_import_form(bundle: Path, write: Write) -> None:
    write("shop/__init__.py", "")
    write("shop/bus.py", "from . import codec\nfrom .store import save\nimport yaml\n")
    write("shop/codec.py", "import json\n")
    write("shop/store.py", "from ..outside import nothing\ndef save(): pass\n")
    write("plugins/extra.py", "")
    write("lonely.py", "")
    path = write("flow.py", """
        import importlib
        import shop.bus
        import definitely_not_installed_pkg_xyz
        importlib.import_module("plugins.extra")
        def later():
            import lonely
    """)
    analysis = analyse(RunSpec(path, bundle))
    names = [p.relative_to(bundle).as_posix() for p in analysis.files]
    assert names == ["flow.py", "lonely.py", "plugins/extra.py", "shop/__init__.py",
                     "shop/bus.py", "shop/codec.py", "shop/store.py"]
    assert analysis.external == ("definitely_not_installed_pkg_xyz", "yaml")
    assert dependencies(RunSpec(path, bundle))[0] == path


def test_installed_package_versions_are_in_the_key(bundle: Path, write: Write,
                                                   tmp_path: Path) -> None:
    import yaml

    with_yaml = write("a.py", "import yaml\n")
    cache = Cache(tmp_path / "c")
    key = cache.key(RunSpec(with_yaml, bundle))
    versions = cache._distributions.versions(["yaml", "definitely_not_installed_pkg_xyz"])
    assert versions["yaml"] == {"PyYAML": yaml.__version__}
    assert versions["definitely_not_installed_pkg_xyz"] is None
    assert key != cache.key(RunSpec(with_yaml, bundle), {"python": "another"})


def test_cache_is_shared_across_processes(
    bundle: Path, write: Write, counter: Path, cache_dir: Path,
) -> None:
    """What pytest, the CLI and mkdocs rely on: another process's entry is a hit here."""
    import subprocess

    path = write("flow.py", COUNTING + "print('shared')\n")
    program = textwrap.dedent(f"""
        from pathlib import Path
        from pattern_articles.engine import Runner, RunnerSettings, RunSpec
        spec = RunSpec(Path({str(path)!r}), Path({str(bundle)!r}),
                       env=(("COUNTER", {str(counter)!r}),))
        with Runner(RunnerSettings(cache_dir=Path({str(cache_dir)!r}))) as runner:
            print(runner.result(spec).cached)
    """)
    outputs = [
        subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                       timeout=120, check=True).stdout
        for _ in range(2)
    ]
    assert outputs == ["False\n", "True\n"]
    assert runs(counter) == 1


LISTING = textwrap.dedent("""
    import os
    from pathlib import Path
    print(sorted(p.name for p in Path(__file__).parent.iterdir() if p.name != "__pycache__"))
""")


@pytest.mark.parametrize("trusted", [True, False], ids=["listing-remembered", "listing-fresh"])
@pytest.mark.parametrize("where", ["flow.py", "sub/flow.py"])
def test_a_file_added_to_a_folder_the_snippet_lists_invalidates(
    bundle: Path, write: Write, counter: Path, run_once: Callable[..., tuple[RunResult, Runner]],
    trusted: bool, where: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 23, item 10: a snippet printing its folder's listing stayed "cached" after a
    # file was added there. "remembered": every folder is old enough for its listing's
    # digest to be kept by signature, which the new entry must still change.
    from pattern_articles.engine import cache as cache_mod
    if trusted:
        monkeypatch.setattr(cache_mod, "_RACY_NS", -(10**18))
        monkeypatch.setattr(cache_mod, "_LISTING_RACY_NS", -(10**18))
    path = write(where, COUNTING + LISTING)
    spec = counting_spec(path, bundle, counter)
    first, _ = run_once(spec)
    assert (first.status, first.cached) == ("passed", False), first.reason
    again, _ = run_once(spec)
    assert again.cached, "nothing changed: served from the cache"
    write(str(Path(where).parent / "new.txt"), "not read by anyone\n")
    second, _ = run_once(spec)
    assert (second.status, second.cached) == ("passed", False)
    assert "new.txt" in second.stdout and "new.txt" not in first.stdout
    assert runs(counter) == 2
    if where != "flow.py":  # the bundle folder is listed too: a run may look there
        write("top.txt", "new at the top\n")
        third, _ = run_once(spec)
        assert not third.cached
