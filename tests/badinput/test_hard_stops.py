"""Hard stops (issue 23, items 3, 4, 9 and 17): no process of a run outlives it, however the
tool, the worker or the snippet stops, and a run's memory and CPU time are bounded.

Real processes all the way: the real ``pattern-articles check``, ``mkdocs build``, ``mkdocs
serve`` and pytest on the small project of ``kit.py``, whose snippet starts a sleeping child;
then SIGTERM or SIGKILL to the tool (never to its process group: that would prove nothing),
and a bounded wait (10 s, a bound, not a speed) for every process of the run to be gone.

How the processes of a run are found: by a variable only they carry in their environment
(``/proc/<pid>/environ``, readable for one's own processes). Not by the pids a snippet
writes down: where the worker has a PID namespace of its own, those are the namespace's
numbers, which name other processes out here. A process that only forks (never execs)
keeps the worker's environment, so the fork chain is watched through a file it keeps
writing instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pattern_articles.engine import Runner, RunnerSettings, RunSpec

from .kit import TIMEOUT, append, clean_env, make_project, replace, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="finding a run's processes reads /proc (Linux)")

BOUND = 10.0  # seconds for every process of a run to be gone: a bound, not a speed


def carriers(marker: str) -> set[int]:
    """Live processes whose environment holds ``HS_MARK=<marker>``."""
    wanted = f"HS_MARK={marker}".encode()
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if wanted not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue
        except (OSError, IndexError):
            continue
        found.add(int(entry))
    return found


def all_gone(marker: str) -> bool:
    deadline = time.monotonic() + BOUND
    while carriers(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not carriers(marker)


def still_growing(path: Path) -> bool:
    """Whether something keeps appending to ``path``: it must stop growing for a whole second
    within the bound."""
    deadline = time.monotonic() + BOUND
    size = -1
    while time.monotonic() < deadline:
        now = path.stat().st_size if path.exists() else 0
        if now == size:
            return False
        size = now
        time.sleep(1.0)
    return True


def wait_for(path: Path, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists() and path.read_text(), f"the snippet never got to write {path.name}"


@pytest.fixture(scope="module")
def isolation(tmp_path_factory: pytest.TempPathFactory) -> str:
    """How this machine contains runs ("pid-namespace", "user-namespace" or "subreaper"):
    where the messages differ, the tests expect what the guide says holds here."""
    folder = tmp_path_factory.mktemp("probe")
    (folder / "ok.py").write_text("pass\n")
    with Runner(RunnerSettings(jobs=1)) as runner:
        assert runner.result(RunSpec(folder / "ok.py", folder)).status == "passed"
        return runner.isolation


SLEEPER = """\
import os, subprocess, sys, time
mark = {{**os.environ, "HS_MARK": {mark!r}}}
plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=mark)
away = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(301)"], env=mark,
                        start_new_session=True)
with open({started!r}, "w") as f:
    f.write(f"{{plain.pid}} {{away.pid}} {{os.environ.get('REDIS_URL', '')}}")
time.sleep(300)
print("hello")
"""


def sleeper_project(root: Path, marker: str, *more: object) -> tuple[Path, Path]:
    started = root / "started.txt"
    edits = [write("snippets/demo/hello.py", SLEEPER.format(mark=marker, started=str(started))),
             replace("snippets/demo/bundle.yml", "hello.py: {timeout: 10}", "hello.py: {timeout: 100}"),
             *more]
    return make_project(root / "project", edits), started  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ADAPTERS = {
    "check": lambda: [sys.executable, "-m", "pattern_articles", "check"],
    "build": lambda: [sys.executable, "-m", "mkdocs", "build", "-d", "site"],
    "serve": lambda: [sys.executable, "-m", "mkdocs", "serve", "--no-livereload",
                      "-a", f"127.0.0.1:{_free_port()}"],
    "pytest": lambda: [sys.executable, "-m", "pytest", "--pattern-articles", "-q", "-p", "no:xdist"],
}


def start(adapter: str, project: Path) -> subprocess.Popen[bytes]:
    """The tool in a session of its own, so a signal to it reaches it alone."""
    return subprocess.Popen(ADAPTERS[adapter](), cwd=project, env=clean_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def tools() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Tools a test started: whatever happens, none outlives it (a process-group kill)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for tool in started:
        if tool.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(tool.pid, signal.SIGKILL)
        tool.communicate()


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_the_tool_mid_run_leaves_no_process(
    tmp_path: Path, adapter: str, stop: signal.Signals, tools: list[subprocess.Popen[bytes]],
) -> None:
    marker = f"{tmp_path}/{adapter}-{stop.name}"
    project, started = sleeper_project(tmp_path, marker)
    tool = start(adapter, project)
    tools.append(tool)
    wait_for(started)
    assert len(carriers(marker)) == 2  # its two children, running (the finder works)
    os.kill(tool.pid, stop)
    tool.wait(TIMEOUT)
    assert all_gone(marker), f"left running after {stop.name} to {adapter}: {carriers(marker)}"


def redis_servers_on(port: str) -> set[int]:
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                line = handle.read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"redis-server" in line and (f":{port}".encode() in line or f"--port {port}".encode() in line):
            found.add(int(entry))
    return found


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_private_redis_server_dies_with_the_tool(
    tmp_path: Path, stop: signal.Signals, tools: list[subprocess.Popen[bytes]],
) -> None:
    marker = f"{tmp_path}/redis-{stop.name}"
    project, started = sleeper_project(
        tmp_path, marker,
        replace("snippets/demo/bundle.yml", "hello.py: {timeout: 100}", "hello.py: {timeout: 100, needs: [redis]}"))
    tool = start("check", project)
    tools.append(tool)
    wait_for(started)
    port = started.read_text().split()[2].rsplit(":", 1)[1].split("/")[0]
    assert redis_servers_on(port)  # its private server is up (the finder works)
    os.kill(tool.pid, stop)
    tool.wait(TIMEOUT)
    assert all_gone(marker)
    deadline = time.monotonic() + BOUND
    while redis_servers_on(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not redis_servers_on(port)


def workers_of(tool: int) -> tuple[set[int], set[int]]:
    """(guards, workers) a tool started: the guard is the tool's child, the worker the guard's."""
    serving: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"--serve" in argv and str(tool).encode() in argv:
            serving[int(entry)] = ppid
    guards = {pid for pid, ppid in serving.items() if ppid == tool}
    return guards, {pid for pid, ppid in serving.items() if ppid in guards}


def test_killing_the_worker_mid_run_leaves_no_process(
    tmp_path: Path, tools: list[subprocess.Popen[bytes]],
) -> None:
    marker = f"{tmp_path}/worker"
    project, started = sleeper_project(tmp_path, marker)
    tool = start("check", project)
    tools.append(tool)
    wait_for(started)
    guards, workers = workers_of(tool.pid)
    assert len(guards) == 1 and len(workers) == 1, (guards, workers)
    os.kill(workers.pop(), signal.SIGKILL)
    output = tool.communicate(timeout=TIMEOUT)[0].decode()
    assert tool.returncode == 1
    assert "snippets/demo/hello.py::hello error: the worker exited unexpectedly" in output
    assert all_gone(marker)


DAEMON = """\
import os, sys, time
parent = os.getpid()
if os.fork() == 0:
    os.setsid()
    middle = os.getpid()
    if os.fork() == 0:
        while os.getppid() == middle:  # until re-parented (to the worker)
            time.sleep(0.01)
        try:
            os.kill(os.getppid(), 9)  # the process that adopted it
        except OSError:
            pass
        os.execvpe(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)"],
                   {{**os.environ, "HS_MARK": {mark!r}}})
    os._exit(0)
time.sleep(1.0)
print("hello")
"""


def test_a_daemon_that_kills_its_adopter_leaves_no_process(tmp_path: Path, isolation: str) -> None:
    marker = f"{tmp_path}/daemon"
    project = make_project(tmp_path / "project", [write("snippets/demo/hello.py", DAEMON.format(mark=marker))])
    done = subprocess.run(ADAPTERS["check"](), cwd=project, env=clean_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    if isolation == "subreaper":  # it could kill the worker; the guard swept what was left
        assert "snippets/demo/hello.py::hello error: the worker exited unexpectedly" in output
    else:  # pid 1 of the namespace ignores it; the daemon is a leftover, killed and reported
        assert ("snippets/demo/hello.py::hello failed: left processes running: killed 1 process still "
                "running after the snippet exited") in output
    assert all_gone(marker)


CHAIN = """\
import os
if os.fork() == 0:
    n = 0
    while True:  # fork, parent exits, repeat: never two at once, never still
        if os.fork():
            os._exit(0)
        n += 1
        if n % 20 == 0:
            with open({beat!r}, "a") as f:
                f.write(".")
print("hello")
"""


def test_a_fork_chain_fails_as_left_running_and_stops(tmp_path: Path) -> None:
    beat = tmp_path / "beat.txt"
    project = make_project(tmp_path / "project", [write("snippets/demo/hello.py", CHAIN.format(beat=str(beat)))])
    done = subprocess.run(ADAPTERS["check"](), cwd=project, env=clean_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "snippets/demo/hello.py::hello failed: left processes running: killed " in output
    assert "still running after the snippet exited" in output
    assert not still_growing(beat)


FINISHING = {  # each adapter run to its end, failing on a failed snippet
    "check": lambda: ADAPTERS["check"](),
    "build": lambda: [*ADAPTERS["build"](), "--strict"],
    "pytest": lambda: ADAPTERS["pytest"](),
}


def run_tool(project: Path, adapter: str = "check") -> tuple[int, str]:
    done = subprocess.run(FINISHING[adapter](), cwd=project, env=clean_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


def run_check(project: Path) -> tuple[int, str]:
    return run_tool(project)


@pytest.mark.parametrize("adapter", list(FINISHING))
def test_memory_limit_from_the_bundle(tmp_path: Path, adapter: str) -> None:
    project = make_project(tmp_path / "project", [
        write("snippets/demo/hello.py", "data = bytearray(1 << 30)\nprint('hello')\n"),
        replace("snippets/demo/bundle.yml", "hello.py: {timeout: 10}",
                "hello.py: {timeout: 10, memory_limit: 256 MiB}"),
    ])
    code, output = run_tool(project, adapter)
    assert code == 1
    assert ("snippets/demo/hello.py:1: snippets/demo/hello.py::hello failed: exceeded its memory "
            "limit of 256 MiB; raise memory_limit in bundle.yml or mkdocs.yml") in output, output


def test_memory_limit_default_lets_a_gibibyte_through(tmp_path: Path) -> None:
    # mapped, not touched: the limit counts what is mapped, and this machine need not fill it
    project = make_project(tmp_path / "project", [
        write("snippets/demo/hello.py",
              "import mmap\ndata = mmap.mmap(-1, 1 << 30, flags=mmap.MAP_PRIVATE)\nprint('hello')\n"),
    ])
    code, output = run_check(project)
    assert code == 0, output


@pytest.mark.parametrize("adapter", list(FINISHING))
def test_cpu_limit_from_mkdocs_yml(tmp_path: Path, adapter: str) -> None:
    project = make_project(tmp_path / "project", [
        write("snippets/demo/hello.py", "while True:\n    pass\n"),
        append("mkdocs.yml", "      cpu_limit: 1\n"),
    ])
    code, output = run_tool(project, adapter)
    assert code == 1
    assert ("snippets/demo/hello.py:1: snippets/demo/hello.py::hello failed: exceeded its CPU-time "
            "limit of 1 s; raise cpu_limit in bundle.yml or mkdocs.yml") in output, output


@pytest.mark.parametrize(("line", "message"), [
    ("memory_limit: lots", "setting 'memory_limit' must be a size such as 2 GiB or 512 MiB, or 0 for none, "
                           "not 'lots'"),
    ("cpu_limit: -1", "setting 'cpu_limit' must be a number of CPU seconds, or 0 for none, not -1"),
])
def test_a_bad_limit_names_its_line(tmp_path: Path, line: str, message: str) -> None:
    project = make_project(tmp_path / "project", [append("mkdocs.yml", f"      {line}\n")])
    code, output = run_check(project)
    assert code != 0
    assert f"mkdocs.yml:5: {message}" in output, output


def test_a_bad_limit_in_the_bundle_names_its_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", [
        replace("snippets/demo/bundle.yml", "hello.py: {timeout: 10}", "hello.py: {timeout: 10, memory_limit: lots}"),
    ])
    code, output = run_check(project)
    assert code != 0
    assert ("snippets/demo/bundle.yml:15: snippets.hello.py.memory_limit: must be a size such as "
            "512 MiB or 2 GiB, or 0 for none") in output, output
    assert "Traceback" not in output
