"""The runner with real processes: isolation, timeouts, leftovers, caps, parallelism.

Every test runs real snippets in real forked children; process checks read /proc, so the
process-leak tests need Linux (they say so when skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pattern_articles.engine import Runner, RunnerSettings, RunResult, RunSpec
from tests.core.conftest import Write

LINUX = sys.platform.startswith("linux")
needs_proc = pytest.mark.skipif(not LINUX, reason="checks for leftover processes read /proc")
# how a run's processes are contained: a PID namespace where the kernel allows one, and the
# fallback (subreapers) that must hold too where it does not
ISOLATIONS = pytest.mark.parametrize("isolation", ["auto", "subreaper"])



@pytest.fixture
def make_runner() -> Iterator[Callable[..., Runner]]:
    made: list[Runner] = []

    def _make(**options: object) -> Runner:
        runner = Runner(RunnerSettings(**options))  # type: ignore[arg-type]
        made.append(runner)
        return runner

    yield _make
    for runner in made:
        runner.close()


def spec(path: Path, bundle: Path, **options: object) -> RunSpec:
    return RunSpec(snippet=path, bundle_dir=bundle, **options)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def gone(pids: set[int], bound: float = 10.0) -> bool:
    """Whether every process in ``pids`` exits within ``bound`` seconds (a bound, not a speed)."""
    deadline = time.monotonic() + bound
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(alive(pid) for pid in pids)


def read_pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def carriers(marker: Path) -> set[int]:
    """Live processes (host pids) whose environment holds ``PIDFILE=<marker>``: every process
    of a run that got it. Why not the pids a snippet records: in the worker's own PID
    namespace those are the namespace's numbers, which mean other processes out here."""
    wanted = f"PIDFILE={marker}".encode()
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted in handle.read().split(b"\0") and alive(int(entry)):
                    found.add(int(entry))
        except OSError:
            continue
    return found


def none_carry(marker: Path, bound: float = 10.0) -> bool:
    """Whether no process carries ``marker`` within ``bound`` seconds (a bound, not a speed)."""
    deadline = time.monotonic() + bound
    while carriers(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not carriers(marker)


WHO = "import os\nprint(os.getppid(), os.readlink('/proc/self/ns/pid'))\n"
"""A snippet line naming its worker: the parent's pid and the PID namespace (see worker_pid)."""


def worker_pid(line: str) -> int:
    """The host pid of the worker that printed :data:`WHO`: its parent; or, where the worker
    is pid 1 of a namespace of its own, the process out here that is that namespace's 1."""
    ppid, namespace = line.split()
    if namespace == os.readlink("/proc/self/ns/pid"):
        return int(ppid)
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                with open(f"/proc/{entry}/status") as handle:
                    nspid = next(line for line in handle if line.startswith("NSpid:")).split()
                if nspid[-1] == "1":
                    return int(entry)
        except (OSError, StopIteration):
            continue
    raise AssertionError(f"no worker in {namespace}")


def test_carriers_finds_a_process_of_ours(tmp_path: Path) -> None:
    # the helper the leak tests rely on sees a live process and stops seeing it once gone
    marker = tmp_path / "marker"
    sleeper = subprocess.Popen(["sleep", "30"], env={**os.environ, "PIDFILE": str(marker)})
    try:
        # until the child has exec'd, /proc shows the parent's environment (no marker): wait
        # for the exec, within a generous bound, rather than read it at once (that raced)
        deadline = time.monotonic() + 10
        while carriers(marker) != {sleeper.pid} and time.monotonic() < deadline:
            time.sleep(0.01)
        assert carriers(marker) == {sleeper.pid}
    finally:
        sleeper.kill()
        sleeper.wait()
    assert carriers(marker) == set()


# --------------------------------------------------------------------------- basics


def test_passing_snippet_output_and_metadata(bundle: Path, write: Write,
                                             make_runner: Callable[..., Runner]) -> None:
    path = write("hello.py", """
        import sys
        print("hello", sys.argv[1:])
        print("to stderr", file=sys.stderr)
    """)
    result = make_runner().result(spec(path, bundle, scenario="loud", args=("a", "b c")))
    assert result.status == "passed", result
    assert result.exit_code == 0
    assert result.stdout == "hello ['a', 'b c']\n"
    assert result.stderr == "to stderr\n"
    assert result.reason == ""
    assert not result.cached and not result.truncated
    assert result.spec.id == "snippets/demo/hello.py::hello[loud]"
    assert spec(path, bundle).id == "snippets/demo/hello.py::hello"


def test_exception_is_a_failure_with_the_snippets_traceback(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("boom.py", """
        def explode():
            return 1 / 0
        explode()
    """)
    result = make_runner().result(spec(path, bundle))
    assert result.status == "failed"
    assert result.exit_code == 1
    assert "ZeroDivisionError: division by zero" in result.reason
    assert f'File "{path}", line 3, in explode' in result.stderr
    assert "_worker.py" not in result.stderr  # no frame of ours in the author's traceback


def test_exit_codes_and_syntax_errors(bundle: Path, write: Write,
                                      make_runner: Callable[..., Runner]) -> None:
    three = write("three.py", "import sys\nsys.exit(3)\n")
    message = write("message.py", "raise SystemExit('bad input')\n")
    syntax = write("syntax.py", "def (:\n")
    runner = make_runner()
    r3, rm, rs = runner.run_all([spec(three, bundle), spec(message, bundle), spec(syntax, bundle)])
    assert (r3.status, r3.exit_code, r3.reason) == ("failed", 3, "exit code 3")
    assert (rm.status, rm.exit_code) == ("failed", 1) and rm.stderr == "bad input\n"
    assert rs.status == "failed" and "SyntaxError" in rs.stderr and "Traceback" not in rs.stderr


def test_bundle_is_importable_and_nothing_is_written_into_it(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    write("shop/__init__.py", "")
    write("shop/bus.py", "from .events import NAME\ndef hello():\n    return 'bus:' + NAME\n")
    write("shop/events.py", "NAME = 'OrderPlaced'\n")
    top = write("flow.py", "import sys\nfrom shop.bus import hello\nprint(hello(), sys.path[0])\n")
    nested = write("deeper/nested.py", "from shop import bus\nprint(bus.hello())\n")
    before = sorted(p.relative_to(bundle) for p in bundle.rglob("*"))
    results = make_runner().run_all([spec(top, bundle), spec(nested, bundle)])
    assert [r.status for r in results] == ["passed", "passed"], results
    assert results[0].stdout == f"bus:OrderPlaced {bundle}\n"
    assert results[1].stdout == "bus:OrderPlaced\n"
    assert sorted(p.relative_to(bundle) for p in bundle.rglob("*")) == before
    assert not list(bundle.rglob("__pycache__"))


def test_working_folder_home_and_tmp_are_private_and_removed(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("where.py", """
        import os, sys, tempfile
        open("made-here.txt", "w").write("x")
        print(os.getcwd())
        print(os.environ["HOME"])
        print(tempfile.gettempdir())
        print(repr(sys.stdin.read()))
    """)
    result = make_runner().result(spec(path, bundle))
    assert result.status == "passed", result
    cwd, home, tmp, stdin = result.stdout.splitlines()
    assert stdin == "''"  # stdin is /dev/null
    for folder in (cwd, home, tmp):
        assert "pattern-articles-run-" in folder
        assert not Path(folder).exists()  # removed after the run
    assert not (bundle / "made-here.txt").exists()


def test_environment_is_reduced_to_the_allowlist(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    path = write("env.py", """
        import os
        print(os.environ.get("SECRET_TOKEN"))
        print(os.environ.get("SCENARIO_VAR"))
        print(b"hunter2" in open("/proc/self/environ", "rb").read()
              if os.path.exists("/proc/self/environ") else False)
    """)
    hidden = make_runner().result(spec(path, bundle, env=(("SCENARIO_VAR", "declared"),)))
    assert hidden.stdout == "None\ndeclared\nFalse\n", hidden
    shown = make_runner(env_allowlist=("PATH", "SECRET_TOKEN")).result(spec(path, bundle))
    assert shown.stdout.splitlines()[0] == "hunter2"


def test_each_run_in_one_worker_sees_its_own_environment(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    # why: the worker skips setting an environment equal to the last one it set; a run
    # with other variables, or after one with other variables, must still get exactly its own
    path = write("scenario_var.py", """
        import os
        print(os.environ.get("SCENARIO_VAR"), os.getppid())
    """)
    runner = make_runner(jobs=1)
    envs = [(("SCENARIO_VAR", "a"),), (), (("SCENARIO_VAR", "a"),), (("SCENARIO_VAR", "a"),),
            (("SCENARIO_VAR", "b"),), ()]
    results = [runner.result(spec(path, bundle, scenario=str(i), env=env))
               for i, env in enumerate(envs)]
    seen = [r.stdout.split() for r in results]
    assert [value for value, _ in seen] == ["a", "None", "a", "a", "b", "None"], results
    assert len({worker for _, worker in seen}) == 1  # all in the same worker


def test_non_utf8_output_is_replaced_not_fatal(bundle: Path, write: Write,
                                              make_runner: Callable[..., Runner]) -> None:
    path = write("bytes.py", """
        import sys
        sys.stdout.buffer.write(b"ok \\xff\\xfe end\\n")
        sys.stderr.buffer.write(b"\\xc3(\\n")
    """)
    result = make_runner().result(spec(path, bundle))
    assert result.status == "passed"
    assert result.stdout == "ok \ufffd\ufffd end\n"
    assert result.stderr == "\ufffd(\n"


def test_fresh_modules_each_run_no_stale_imports(bundle: Path, write: Write,
                                                 make_runner: Callable[..., Runner]) -> None:
    write("shop.py", "VALUE = 1\n")
    path = write("show.py", "import shop\nprint(shop.VALUE)\n")
    runner = make_runner(jobs=1)  # the same warm worker serves both runs
    first = runner.result(spec(path, bundle))
    write("shop.py", "VALUE = 2\n")
    runner.forget()
    second = runner.result(spec(path, bundle))
    assert (first.stdout, second.stdout) == ("1\n", "2\n")
    assert runner.workers_started == 1


def test_bundle_module_shadows_a_preimported_stdlib_module(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    # the worker pre-imports "queue"; as in `python flow.py`, the bundle's queue.py must win
    write("queue.py", "WHO = 'bundle queue'\n")
    path = write("q.py", "import queue\nprint(queue.WHO)\n")
    assert make_runner().result(spec(path, bundle)).stdout == "bundle queue\n"


def test_random_state_differs_between_forked_runs(bundle: Path, write: Write,
                                                  make_runner: Callable[..., Runner]) -> None:
    path = write("rand.py", "import random\nprint(random.getrandbits(64))\n")
    runner = make_runner(jobs=1)
    first = runner.result(spec(path, bundle, scenario="a"))
    second = runner.result(spec(path, bundle, scenario="b"))
    assert first.stdout != second.stdout


def test_interpreter_shutdown_runs_threads_and_atexit(bundle: Path, write: Write,
                                                      make_runner: Callable[..., Runner]) -> None:
    path = write("pool.py", """
        import atexit
        from concurrent.futures import ThreadPoolExecutor
        atexit.register(lambda: print("atexit ran"))
        pool = ThreadPoolExecutor(2)  # never shut down: interpreter exit must still end it
        print(pool.submit(lambda: 40 + 2).result())
    """)
    result = make_runner(timeout=20).result(spec(path, bundle))
    assert (result.status, result.stdout) == ("passed", "42\natexit ran\n")


def test_startup_variables_get_a_fresh_interpreter(bundle: Path, write: Write,
                                                   make_runner: Callable[..., Runner]) -> None:
    path = write("seed.py", "import sys\nprint(sys.flags.hash_randomization, sys.path[0])\n")
    result = make_runner().result(spec(path, bundle, env=(("PYTHONHASHSEED", "0"),)))
    assert result.status == "passed", result
    assert result.stdout == f"0 {bundle}\n"
    assert not list(bundle.rglob("__pycache__"))


def test_fork_disabled_runs_fresh_interpreters(bundle: Path, write: Write,
                                               make_runner: Callable[..., Runner]) -> None:
    write("shop.py", "NAME = 'shop'\n")
    path = write("f.py", "import shop, sys\nprint(shop.NAME, sys.argv[1:])\n")
    result = make_runner(fork=False).result(spec(path, bundle, args=("x",)))
    assert (result.status, result.stdout) == ("passed", "shop ['x']\n")


def test_trace_lines_are_parsed_and_malformed_ones_counted(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("traced.py", """
        import json, os
        target = os.environ["PATTERN_ARTICLES_TRACE"]
        assert not target.startswith(os.getcwd() + os.sep + "snippets")
        with open(target, "a") as f:
            f.write(json.dumps({"op": "publish", "event": "OrderPlaced"}) + "\\n")
            f.write("not json\\n")
            f.write("[1, 2]\\n")
            f.write(json.dumps({"op": "consume", "event": "OrderPlaced"}) + "\\n")
    """)
    result = make_runner().result(spec(path, bundle))
    assert [e["op"] for e in result.trace] == ["publish", "consume"]
    assert "ignored 2 malformed trace lines" in result.notes


def test_other_languages_run_through_a_command(bundle: Path, write: Write,
                                               make_runner: Callable[..., Runner]) -> None:
    path = write("greet.sh", 'echo "hello $1 from $(basename "$PWD")"\necho oops >&2\nexit 4\n')
    result = make_runner().result(spec(path, bundle, language="sh", args=("you",)))
    assert result.status == "failed" and result.exit_code == 4
    assert result.stdout == "hello you from work\n" and result.stderr == "oops\n"


def test_problems_become_error_results_not_exceptions(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("ok.py", "print(1)\n")
    runner = make_runner(languages={"python": [sys.executable, "{path}"],
                                    "nowhere": ["/no/such/program-xyz", "{path}"]})
    missing, language, program, timeout = runner.run_all([
        spec(bundle / "missing.py", bundle),
        spec(path, bundle, language="cobol"),
        spec(path, bundle, language="nowhere"),
        spec(path, bundle, timeout=0.0),
    ])
    assert (missing.status, missing.reason) == ("error", f"snippet file not found: {bundle / 'missing.py'}")
    assert language.status == "error" and "no command for language 'cobol'" in language.reason
    assert program.status == "error" and program.reason.startswith("could not start:")
    assert "/no/such/program-xyz" in program.reason
    assert timeout.status == "error" and "timeout must be positive" in timeout.reason


def test_a_broken_python_command_is_an_error_result(bundle: Path, write: Write,
                                                     make_runner: Callable[..., Runner]) -> None:
    path = write("ok.py", "print(1)\n")
    runner = make_runner(languages={"python": ["/no/such/python-xyz", "{path}"]})
    result = runner.result(spec(path, bundle))
    assert result.status == "error"
    assert "could not start the Python worker" in result.reason


# --------------------------------------------------------------------------- bounds


@needs_proc
@ISOLATIONS
def test_infinite_loop_times_out_and_leaves_no_process(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path, isolation: str,
) -> None:
    pids = tmp_path / "pids"
    path = write("spin.py", """
        import os, subprocess, sys
        kids = [
            subprocess.Popen(["sleep", "300"]),
            subprocess.Popen(["sleep", "301"], start_new_session=True),
        ]
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(" ".join(str(p) for p in [os.getpid()] + [k.pid for k in kids]))
        while True:
            pass
    """)
    started = time.monotonic()
    result = make_runner(isolation=isolation).result(
        spec(path, bundle, timeout=1.0, env=(("PIDFILE", str(pids)),)))
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert result.exit_code is None
    assert result.reason == "timed out after 1 s; killed 3 processes"
    assert elapsed < 1.0 + 2.0
    found = read_pids(pids)
    assert len(found) == 3
    assert none_carry(pids)


@needs_proc
@ISOLATIONS
def test_children_and_setsid_daemons_do_not_outlive_a_passing_snippet(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path, isolation: str,
) -> None:
    pids = tmp_path / "pids"
    path = write("daemon.py", """
        import os, subprocess, sys, time
        plain = subprocess.Popen(["sleep", "300"])
        escaped = subprocess.Popen(["sleep", "301"], start_new_session=True)
        # a classic double-forked daemon: its parent exits, it calls setsid
        r, w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(w, str(os.getpid()).encode())
                time.sleep(302)
            os._exit(0)
        os.waitpid(middle, 0)  # so exactly three are left: the count below is exact
        daemon = int(os.read(r, 32))
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(f"{plain.pid} {escaped.pid} {daemon}")
        print("done")
    """)
    result = make_runner(isolation=isolation).result(spec(path, bundle, env=(("PIDFILE", str(pids)),)))
    assert (result.status, result.stdout) == ("passed", "done\n")
    assert "killed 3 processes still running after the snippet exited" in result.notes
    found = read_pids(pids)
    assert len(found) == 3
    assert none_carry(pids)


@needs_proc
@ISOLATIONS
def test_a_fork_chain_is_a_leftover_and_stops(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path, isolation: str,
) -> None:
    # why: fork, parent exits, repeat - a walk of /proc misses the process between its fork
    # and its parent's exit, so the chain passed as clean and kept running (issue 23, item 9)
    beat = tmp_path / "beat.txt"
    path = write("chain.py", f"""
        import os
        if os.fork() == 0:
            n = 0
            while True:
                if os.fork():
                    os._exit(0)
                n += 1
                if n % 20 == 0:
                    with open({str(beat)!r}, "a") as f:
                        f.write(".")
        print("done")
    """)
    result = make_runner(isolation=isolation).result(spec(path, bundle))
    assert (result.status, result.stdout) == ("passed", "done\n"), result
    assert any("still running after the snippet exited" in note for note in result.notes), result.notes
    size, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline and (beat.stat().st_size if beat.exists() else 0) != size:
        size = beat.stat().st_size if beat.exists() else 0
        time.sleep(1.0)
    assert (beat.stat().st_size if beat.exists() else 0) == size  # it stopped for a whole second


@needs_proc
@ISOLATIONS
def test_a_daemon_killing_its_adopter_is_swept(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path, isolation: str,
) -> None:
    # issue 23, item 4: double fork, setsid, then kill the process that adopted it
    pids = tmp_path / "pids"
    path = write("evil.py", """
        import os, subprocess, time
        if os.fork() == 0:
            os.setsid()
            middle = os.getpid()
            if os.fork() == 0:
                while os.getppid() == middle:
                    time.sleep(0.01)
                try:
                    os.kill(os.getppid(), 9)
                except OSError:
                    pass
                os.execvp("sleep", ["sleep", "300"])
            os._exit(0)
        time.sleep(1.0)
        print("done")
    """)
    runner = make_runner(isolation=isolation)
    result = runner.result(spec(path, bundle, env=(("PIDFILE", str(pids)),)))
    if runner.isolation == "subreaper":
        assert (result.status, result.reason.split(" (")[0]) == ("error", "the worker exited unexpectedly")
    else:
        assert result.status == "passed", result
        assert "killed 1 process still running after the snippet exited" in result.notes
    assert none_carry(pids)


def test_memory_and_cpu_limits_are_reported_like_the_timeout(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    hog = write("hog.py", "data = bytearray(1 << 30)\n")
    # C's ENOMEM (an OSError), not MemoryError; private: shared memory is not counted
    nomem = write("nomem.py", "import mmap\nmmap.mmap(-1, 1 << 30, flags=mmap.MAP_PRIVATE)\n")
    spin = write("spin.py", "while True:\n    pass\n")
    own = write("own.py", "raise MemoryError\n")
    runner = make_runner(memory_limit=256 << 20, timeout=20)
    memory = ("exceeded its memory limit of 256 MiB; raise memory_limit in bundle.yml or mkdocs.yml")
    assert runner.result(spec(hog, bundle)).reason == memory
    assert runner.result(spec(nomem, bundle)).reason == memory
    cpu = runner.result(spec(spin, bundle, cpu_limit=1))
    assert (cpu.status, cpu.reason) == (
        "failed", "exceeded its CPU-time limit of 1 s; raise cpu_limit in bundle.yml or mkdocs.yml")
    # a limit of 0 is none: the same allocation passes
    assert runner.result(spec(hog, bundle, memory_limit=0)).status == "passed"
    unlimited = make_runner(memory_limit=0).result(spec(own, bundle))
    assert unlimited.reason.startswith("exit code 1 (MemoryError")  # no limit, no limit message


def test_limits_reach_the_run_and_its_cache_key(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path,
) -> None:
    path = write("limits.py", """
        import resource
        print(resource.getrlimit(resource.RLIMIT_DATA)[0] >> 20, resource.getrlimit(resource.RLIMIT_CPU))
    """)
    cache = tmp_path / "cache"
    first = make_runner(cache_dir=cache, timeout=7).result(spec(path, bundle))
    assert first.stdout == "2048 (14, 15)\n", first  # the defaults: 2 GiB, twice the timeout
    second = make_runner(cache_dir=cache, timeout=7, memory_limit=512 << 20, cpu_limit=3).result(spec(path, bundle))
    assert (second.cached, second.stdout) == (False, "512 (3, 4)\n")
    per_spec = make_runner(cache_dir=cache, timeout=7).result(spec(path, bundle, memory_limit=0, cpu_limit=0))
    assert per_spec.stdout.startswith(f"{resource_unlimited()} ")


def resource_unlimited() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_DATA)[0]
    return soft >> 20 if soft != resource.RLIM_INFINITY else resource.RLIM_INFINITY >> 20


@needs_proc
def test_a_waited_for_child_is_not_reported(bundle: Path, write: Write,
                                            make_runner: Callable[..., Runner]) -> None:
    path = write("tidy.py", "import subprocess\nsubprocess.run(['true'], check=True)\nprint('ok')\n")
    result = make_runner().result(spec(path, bundle))
    assert (result.status, result.notes) == ("passed", ())


def test_ten_megabytes_of_output_are_capped_with_a_note(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("flood.py", """
        import sys
        chunk = "x" * 1023 + "\\n"
        for _ in range(10 * 1024):
            sys.stdout.write(chunk)
        sys.stderr.write("e" * (3 << 20))
        print("still running after the flood", file=sys.stderr)
    """)
    result = make_runner().result(spec(path, bundle, timeout=60))
    assert result.status == "passed"  # the child never blocked on a full pipe
    assert result.truncated
    assert result.stdout.endswith("\n[output truncated after 1 MiB]\n")
    assert len(result.stdout.encode()) < (1 << 20) + 100
    assert result.stderr.endswith("[output truncated after 1 MiB]\n")
    assert "stdout truncated after 1 MiB" in result.notes


def test_output_limit_is_configurable(bundle: Path, write: Write,
                                      make_runner: Callable[..., Runner]) -> None:
    path = write("some.py", "print('y' * 5000)\n")
    result = make_runner(output_limit=1000).result(spec(path, bundle))
    assert result.stdout == "y" * 1000 + "\n[output truncated after 1000 bytes]\n"


def test_per_spec_timeout_overrides_the_default(bundle: Path, write: Write,
                                                make_runner: Callable[..., Runner]) -> None:
    path = write("nap.py", "import time\ntime.sleep(1.5)\nprint('woke')\n")
    runner = make_runner(timeout=0.5)
    short, long = runner.run_all([spec(path, bundle), spec(path, bundle, timeout=20.0)])
    assert short.status == "timeout" and "timed out after 0.5 s" in short.reason
    assert (long.status, long.stdout) == ("passed", "woke\n")


# --------------------------------------------------------------------------- concurrency


def test_independent_snippets_run_in_parallel(bundle: Path, write: Write,
                                              make_runner: Callable[..., Runner],
                                              tmp_path: Path) -> None:
    # each waits for the other's flag file: both pass only if they run at the same time
    rendezvous = """
        import os, sys, time
        me, other = sys.argv[1], sys.argv[2]
        folder = os.environ["FLAGS"]
        open(os.path.join(folder, me), "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(folder, other)):
            if time.monotonic() > deadline:
                sys.exit("never met " + other)
            time.sleep(0.01)
        print("met", other)
    """
    path = write("meet.py", rendezvous)
    env = (("FLAGS", str(tmp_path)),)
    runner = make_runner(jobs=2)
    a, b = runner.run_all([
        spec(path, bundle, scenario="a", args=("a", "b"), env=env),
        spec(path, bundle, scenario="b", args=("b", "a"), env=env),
    ])
    assert (a.status, b.status) == ("passed", "passed"), (a, b)


def test_submit_returns_before_the_snippets_finish(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    path = write("wait.py", """
        import os, time
        while not os.path.exists(os.environ["GATE"]):
            time.sleep(0.01)
        print("through")
    """)
    runner = make_runner(timeout=20)
    the_spec = spec(path, bundle, env=(("GATE", str(gate)),))
    runner.submit([the_spec])  # if this waited for the run, it would wait for ever
    gate.touch()
    assert runner.result(the_spec).stdout == "through\n"


def test_results_from_many_threads(bundle: Path, write: Write,
                                   make_runner: Callable[..., Runner]) -> None:
    path = write("n.py", "import sys\nprint(sys.argv[1])\n")
    specs = [spec(path, bundle, scenario=str(i), args=(str(i),)) for i in range(12)]
    runner = make_runner(jobs=3)
    found: dict[int, RunResult] = {}

    def fetch(i: int) -> None:
        found[i] = runner.result(specs[i])

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [found[i].stdout for i in range(12)] == [f"{i}\n" for i in range(12)]
    stats = runner.stats
    assert (stats.ran, stats.cached, stats.failed, stats.skipped) == (12, 0, 0, 0)
    assert runner.workers_started <= 3


def test_stats_count_each_outcome(bundle: Path, write: Write,
                                  make_runner: Callable[..., Runner]) -> None:
    ok = write("ok.py", "print(1)\n")
    bad = write("bad.py", "raise SystemExit(2)\n")
    runner = make_runner()
    runner.run_all([spec(ok, bundle), spec(bad, bundle), spec(bundle / "gone.py", bundle)])
    stats = runner.stats
    assert (stats.ran, stats.cached, stats.failed, stats.skipped) == (2, 0, 2, 0)
    assert stats.seconds > 0
    assert stats.summary().startswith("ran 2, cached 0, failed 2, skipped 0 in ")


def test_close_ends_queued_and_running_snippets(bundle: Path, write: Write,
                                                tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    path = write("forever.py", """
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        while True:
            time.sleep(1)
    """)
    runner = Runner(RunnerSettings(jobs=1, timeout=60))
    specs = [spec(path, bundle, scenario=str(i), env=(("PIDFILE", str(pids)),))
             for i in range(3)]
    runner.submit(specs)
    deadline = time.monotonic() + 30
    while not pids.exists() and time.monotonic() < deadline:  # wait for the first to start
        time.sleep(0.02)
    runner.close()
    results = [runner.result(s) for s in specs]
    assert {r.status for r in results} == {"error"}
    assert all("closed" in r.reason for r in results)
    if LINUX:
        found = read_pids(pids)
        assert len(found) == 2 and none_carry(pids)
    after = runner.result(spec(path, bundle, scenario="late"))
    assert after.status == "error" and "closed" in after.reason


@needs_proc
def test_context_manager_closes_workers(bundle: Path, write: Write) -> None:
    path = write("ok.py", WHO)
    with Runner(RunnerSettings(jobs=1)) as runner:
        worker = worker_pid(runner.result(spec(path, bundle)).stdout)
        assert alive(worker)
    assert gone({worker})


@needs_proc
def test_an_idle_worker_retires_and_the_next_run_starts_a_fresh_one(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: a build whose runs are done keeps rendering pages; idle interpreters would hold
    # their memory to the end (the memory target counts the whole process tree)
    monkeypatch.setattr("pattern_articles.engine.runner.WORKER_IDLE", 1.0)
    path = write("ppid.py", WHO)
    runner = make_runner(jobs=1)
    first = worker_pid(runner.result(spec(path, bundle, scenario="1")).stdout)
    assert gone({first})  # it retires after ~1 s
    second = runner.result(spec(path, bundle, scenario="2"))
    assert second.status == "passed", second
    assert worker_pid(second.stdout) != first and runner.workers_started == 2


def test_a_busy_worker_does_not_retire(bundle: Path, write: Write,
                                       make_runner: Callable[..., Runner],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pattern_articles.engine.runner.WORKER_IDLE", 0.2)
    path = write("slow.py", "import os, sys, time\ntime.sleep(float(sys.argv[1]))\nprint(os.getppid())\n")
    runner = make_runner(jobs=1)
    # runs longer than the idle time, queued back to back: one worker serves them all
    specs = [spec(path, bundle, scenario=str(i), args=("0.3",)) for i in range(3)]
    assert len({r.stdout for r in runner.run_all(specs)}) == 1
    assert runner.workers_started == 1


@needs_proc
def test_wait_all_returns_once_every_run_is_done_and_retires_the_workers(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: the MkDocs plugin runs everything before the pages grow the build process, so the
    # workers must be gone when wait_all returns, not a WORKER_IDLE later
    monkeypatch.setattr("pattern_articles.engine.runner.WORKER_IDLE", 600.0)
    path = write("ppid.py", "import os, sys, time\ntime.sleep(float(sys.argv[1]))\n" + WHO)
    runner = make_runner(jobs=2)
    specs = [spec(path, bundle, scenario=str(i), args=("0.2",)) for i in range(4)]
    started = runner.workers_started
    seen: set[int] = set()
    for s in specs[:2]:  # while they run, to know the workers out here before they retire
        seen.add(worker_pid(runner.result(s).stdout))
    runner.submit(specs)
    runner.wait_all()
    results = [runner.result(s) for s in specs]  # all there already: no run is started
    assert [r.status for r in results] == ["passed"] * 4
    assert gone(seen)  # far sooner than the 600 s idle time
    assert runner.workers_started - started == len({r.stdout for r in results})
    again = runner.result(spec(path, bundle, scenario="after", args=("0",)))
    assert again.status == "passed" and worker_pid(again.stdout) not in seen


def test_waiters_are_woken_only_when_what_they_wait_for_is_done(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    # why: wait_all() and result() were woken at every finished run; in a 2,000-snippet build
    # that was 2,000 wake-ups of the thread in wait_all, each taking the GIL from the run
    # threads (~0.1 ms of CPU per snippet, measured with benchmarks/runner_cpu.py)
    path = write("echo.py", "import sys\nprint(sys.argv[1])\n")
    runner = make_runner(jobs=2)
    real = runner._finished
    wakes: list[int] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def notify_all(self) -> None:
            wakes.append(1)
            real.notify_all()

    runner._finished = Counting()  # type: ignore[assignment]
    specs = [spec(path, bundle, scenario=str(i), args=(str(i),)) for i in range(12)]
    runner.submit(specs)
    runner.wait_all()
    assert len(wakes) == 1  # the last run to finish, not each of the twelve
    assert [runner.result(s).stdout for s in specs] == [f"{i}\n" for i in range(12)]
    assert len(wakes) == 1  # results already in: nobody waited
    assert runner.result(spec(path, bundle, scenario="late", args=("late",))).stdout == "late\n"
    assert len(wakes) == 2


def test_dependencies_for_a_watcher(bundle: Path, write: Write,
                                    make_runner: Callable[..., Runner]) -> None:
    write("shop/__init__.py", "")
    bus = write("shop/bus.py", "X = 1\n")
    path = write("flow.py", "from shop.bus import X\n")
    deps = make_runner().dependencies(spec(path, bundle))
    assert deps == [path, bundle / "shop" / "__init__.py", bus]
    assert os.path.isabs(deps[0])


def test_multiprocessing_spawn_works_and_its_helpers_are_not_leftovers(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    write("shop.py", "def double(x):\n    return 2 * x\n")
    path = write("pool.py", """
        import multiprocessing
        from shop import double
        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                print(pool.map(double, [1, 2, 3]))
    """)
    result = make_runner(timeout=60).result(spec(path, bundle))
    assert (result.status, result.stdout) == ("passed", "[2, 4, 6]\n"), result
    assert result.notes == ()  # the resource tracker exits by itself: no "killed" note


def test_c_level_output_is_flushed(bundle: Path, write: Write,
                                   make_runner: Callable[..., Runner]) -> None:
    path = write("c.py", "import ctypes\nctypes.CDLL(None).printf(b'from C\\n')\n")
    assert make_runner().result(spec(path, bundle)).stdout == "from C\n"


def test_death_by_signal_is_reported(bundle: Path, write: Write,
                                     make_runner: Callable[..., Runner]) -> None:
    path = write("sig.py", "import os, signal\nprint('before', flush=True)\n"
                           "os.kill(os.getpid(), signal.SIGTERM)\n")
    result = make_runner().result(spec(path, bundle))
    assert (result.status, result.exit_code, result.reason) == ("failed", -15, "killed by SIGTERM")
    assert result.stdout == "before\n"


def test_a_run_folder_removed_between_runs_is_made_anew(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    # why: a pristine run folder stays in place for the next run; something else (a cleaner
    # of /tmp during a long mkdocs serve) may remove it meanwhile
    path = write("where.py", """
        import os
        print(os.getcwd(), os.path.isdir(os.environ["HOME"]), os.path.isdir(os.environ["TMPDIR"]))
    """)
    runner = make_runner(jobs=1)
    first = runner.result(spec(path, bundle, scenario="first"))
    work, *flags = first.stdout.split()
    assert flags == ["True", "True"], first
    shutil.rmtree(Path(work).parent)  # the whole run folder, between two runs of one worker
    second = runner.result(spec(path, bundle, scenario="second"))
    assert (second.status, second.stdout) == ("passed", first.stdout), second


def test_a_run_folder_left_dirty_is_never_handed_to_the_next_run(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    # the worker recycles a run folder only when the snippet left it exactly as it was made
    dirty = write("dirty.py", """
        import os
        for folder in (".", os.environ["HOME"], os.environ["TMPDIR"]):
            os.makedirs(os.path.join(folder, "sub", "deeper"))
            open(os.path.join(folder, "sub", "left.txt"), "w").write("x")
            os.chmod(os.path.join(folder, "sub"), 0o500)  # read-only: removal must cope
        os.chmod(".", 0o500)
    """)
    look = write("look.py", """
        import os
        for folder in (".", os.environ["HOME"], os.environ["TMPDIR"]):
            print(sorted(os.listdir(folder)), oct(os.stat(folder).st_mode & 0o777))
    """)
    runner = make_runner(jobs=1)
    clean = runner.result(spec(look, bundle, scenario="before"))
    assert clean.status == "passed", clean
    assert runner.result(spec(dirty, bundle)).status == "passed"
    after = runner.result(spec(look, bundle, scenario="after"))
    assert after.status == "passed", after
    assert after.stdout == clean.stdout
    assert all(line.startswith("[] ") for line in after.stdout.splitlines())


def test_a_worker_gone_between_runs_is_replaced_without_an_error(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("ppid.py", WHO)
    runner = make_runner(jobs=1)
    first = worker_pid(runner.result(spec(path, bundle, scenario="1")).stdout)
    os.kill(first, 9)
    assert gone({first})
    second = runner.result(spec(path, bundle, scenario="2"))
    assert second.status == "passed", second
    assert worker_pid(second.stdout) != first


@needs_proc
@ISOLATIONS
def test_a_snippet_dies_with_its_worker(
    bundle: Path, write: Write, make_runner: Callable[..., Runner], tmp_path: Path, isolation: str,
) -> None:
    # why: a worker killed outright (OOM killer, kill -9) cannot sweep; its namespace ending
    # (or, without one, the guard's sweep) must end the snippet and what it started
    pids = tmp_path / "pids.txt"
    who = tmp_path / "who.txt"
    path = write("long.py", f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"], start_new_session=True)
        with open({str(who)!r}, "w") as f:
            f.write(f"{{os.getppid()}} {{os.readlink('/proc/self/ns/pid')}}")
        time.sleep(60)
    """)
    runner = make_runner(jobs=1, timeout=120, isolation=isolation)
    runner.submit([spec(path, bundle, env=(("PIDFILE", str(pids)),))])
    deadline = time.monotonic() + 30
    while not (who.exists() and who.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    # its sleeping child (a forked snippet's /proc environ is the worker's, so not itself)
    assert len(carriers(pids)) == 1
    os.kill(worker_pid(who.read_text()), 9)
    assert none_carry(pids)  # long before its 60 s sleep ends
    result = runner.result(spec(path, bundle, env=(("PIDFILE", str(pids)),)))
    assert result.status == "error", result


def test_compile_warnings_and_gc_behave_as_in_a_fresh_interpreter(
    bundle: Path, write: Write, make_runner: Callable[..., Runner],
) -> None:
    path = write("warn.py", """
        import gc
        assert (1, 2)
        class Cycle:
            pass
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        print(gc.collect() >= 2)
    """)
    result = make_runner().result(spec(path, bundle))
    assert result.status == "passed", result
    assert result.stdout == "True\n"
    assert "SyntaxWarning: assertion is always true" in result.stderr
