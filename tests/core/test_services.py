"""Services for snippets: a private, real redis-server per run, or a visible skip.

The redis tests start a real ``redis-server`` (installed by apt in CI); where it is absent
they are skipped with that reason, and the "not installed" path is tested separately by
hiding it from PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pattern_articles.engine import Runner, RunnerSettings, RunSpec
from pattern_articles.engine.services import (
    RedisServer,
    ServiceUnavailable,
    ping,
    provide,
)
from pattern_articles.errors import PatternError

HAVE_REDIS = shutil.which("redis-server") is not None
needs_redis = pytest.mark.skipif(not HAVE_REDIS, reason="redis-server is not installed")
pytestmark = pytest.mark.redis


@pytest.fixture(autouse=True)
def _no_external_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATTERN_ARTICLES_REDIS_URL", raising=False)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def our_redis_pids(port: int) -> set[int]:
    """Pids of the redis-servers this test process started that serve ``port`` (from /proc).

    Only these: under ``pytest -n`` other workers start their own servers, and the machine
    may run any number more, so counting every ``redis-server`` made this test flaky
    (``assert 3 == 1``). A server of ours is a child of this process (``provide`` starts it
    with Popen) whose title, which redis rewrites to ``redis-server 127.0.0.1:<port>``,
    names the port it was given; no other process can listen there at the same time.
    """
    found: set[int] = set()
    me = str(os.getpid()).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm", "rb") as handle:
                if handle.read().strip() != b"redis-server":
                    continue
            with open(f"/proc/{name}/status", "rb") as handle:
                parent = next((line.split()[1] for line in handle if line.startswith(b"PPid:")), b"")
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                title = handle.read().replace(b"\0", b" ")
        except OSError:
            continue  # it exited meanwhile, or is not ours to read
        if parent == me and f":{port}".encode() in title:
            found.add(int(name))
    return found


@needs_redis
def test_private_redis_answers_and_is_gone_afterwards() -> None:
    linux = sys.platform.startswith("linux")
    with provide(["redis"]) as env:
        url = env["REDIS_URL"]
        assert url.startswith("redis://127.0.0.1:")
        port = port_of(url)
        assert ping(port)
        started = our_redis_pids(port) if linux else set()
    assert refuses(port)
    if linux:
        assert len(started) == 1, f"one server of ours on port {port}: {started}"
        assert not our_redis_pids(port), "the server is gone (and reaped)"


@needs_redis
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_our_redis_pids_counts_only_this_processs_servers(tmp_path: Path) -> None:
    """The count above is blind to another process's server, even one on a port it names."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pidfile = tmp_path / "redis.pid"
    # --daemonize: the server forks and its first process exits, so its parent is not us
    subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--pidfile", str(pidfile), "--logfile", "", "--dir", str(tmp_path)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL, capture_output=True)
    ours = RedisServer()
    try:
        deadline = time.monotonic() + 10  # a bound for the daemon to write its pid, not a speed
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        theirs = int(pidfile.read_text())
        ours.start()
        assert ours.process is not None
        assert our_redis_pids(ours.port) == {ours.process.pid}
        assert our_redis_pids(port) == set(), f"the daemon {theirs} is not ours"
    finally:
        ours.stop()
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)


@needs_redis
def test_persistence_is_off_and_nothing_is_written(tmp_path: Path) -> None:
    server = RedisServer()
    server.start()
    folder = server.folder
    assert folder is not None
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
            conn.sendall(b"*4\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n$1\r\n*\r\n")
            reply = conn.recv(4096)
            conn.sendall(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n")
            reply += conn.recv(4096)
    finally:
        server.stop()
    assert b"$4\r\nsave\r\n$0\r\n\r\n" in reply  # save ""
    assert b"$10\r\nappendonly\r\n$2\r\nno\r\n" in reply
    assert not folder.exists()


def test_given_url_is_used_without_starting_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # a server start would fail loudly
    with provide(["redis"], {"redis": "redis://example.invalid:6379/3"}) as env:
        assert env == {"REDIS_URL": "redis://example.invalid:6379/3"}
    monkeypatch.setenv("PATTERN_ARTICLES_REDIS_URL", "redis://from-env:1/0")
    with provide(["redis"], {"redis": "redis://from-settings:2/0"}) as env:
        assert env == {"REDIS_URL": "redis://from-env:1/0"}


def test_missing_redis_server_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ServiceUnavailable) as info, provide(["redis"]):
        pass
    assert info.value.reason == "redis-server not installed"
    assert "PATTERN_ARTICLES_REDIS_URL" in info.value.hint


def test_unknown_service_is_a_pattern_error() -> None:
    with pytest.raises(PatternError, match="unknown service 'postgres'"), provide(["postgres"]):
        pass


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner(RunnerSettings(timeout=20)) as made:
        yield made


REDIS_CLIENT = textwrap.dedent("""
    import os, socket
    from urllib.parse import urlparse
    url = urlparse(os.environ["REDIS_URL"])
    def command(conn, *parts):
        out = f"*{len(parts)}\\r\\n".encode()
        for part in parts:
            data = part.encode()
            out += f"${len(data)}\\r\\n".encode() + data + b"\\r\\n"
        conn.sendall(out)
        return conn.recv(1024)
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        print(command(conn, "GET", "greeting"))
        print(command(conn, "SET", "greeting", "hello"))
        print(command(conn, "GET", "greeting"))
    print(url.port)
""")


@needs_redis
def test_runner_gives_each_run_its_own_working_redis(bundle: Path, runner: Runner) -> None:
    path = bundle / "client.py"
    path.write_text(REDIS_CLIENT)
    first, second = runner.run_all([
        RunSpec(path, bundle, scenario="one", needs=("redis",)),
        RunSpec(path, bundle, scenario="two", needs=("redis",)),
    ])
    for result in (first, second):
        assert result.status == "passed", result
        lines = result.stdout.splitlines()
        # a fresh server each time: the key set by the other run is not there
        assert lines[:3] == ["b'$-1\\r\\n'", "b'+OK\\r\\n'", "b'$5\\r\\nhello\\r\\n'"]
        assert refuses(int(lines[3]))  # stopped after the run


def test_runner_skips_with_the_reason_when_redis_is_missing(
    bundle: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = bundle / "client.py"
    path.write_text(REDIS_CLIENT)
    monkeypatch.setenv("PATH", "/nonexistent")
    with Runner(RunnerSettings()) as runner:
        result = runner.result(RunSpec(path, bundle, needs=("redis",)))
        assert result.status == "skipped"
        assert result.reason == "redis-server not installed"
        assert runner.stats.skipped == 1 and runner.workers_started == 0


def test_runner_reports_an_unknown_need_as_an_error(bundle: Path, runner: Runner) -> None:
    path = bundle / "x.py"
    path.write_text("print(1)\n")
    result = runner.result(RunSpec(path, bundle, needs=("kafka",)))
    assert result.status == "error" and "unknown service 'kafka'" in result.reason


KEEPER = """\
import sys, threading, time
from pattern_articles.engine.services import RedisServer
def serve() -> None:  # from a thread that lives as long as the server, as the runner's do
    server = RedisServer()
    server.start()
    print(server.port, flush=True)
    time.sleep(300)
threading.Thread(target=serve).start()
"""


@needs_redis
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_private_redis_dies_with_a_killed_build() -> None:
    # why: SIGKILL (or an unhandled SIGTERM) of the build runs no finally and no atexit;
    # servers then kept running for hours. Their parent-death signal ends them with it.
    import signal
    import subprocess
    import time

    keeper = subprocess.Popen([sys.executable, "-c", KEEPER], stdout=subprocess.PIPE, text=True)
    try:
        assert keeper.stdout is not None
        port = int(keeper.stdout.readline())
        assert ping(port)
        keeper.send_signal(signal.SIGKILL)
        keeper.wait(30)
        deadline = time.monotonic() + 10.0  # a bound, not a speed
        while not refuses(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refuses(port)
    finally:
        keeper.kill()
        keeper.wait()
