"""Services for snippets: a private, real redis-server per run, or a visible skip.

The redis tests start a real ``redis-server`` (installed by apt in CI); where it is absent
they are skipped with that reason, and the "not installed" path is tested separately by
hiding it from PATH.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import textwrap
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


def redis_pids() -> set[int]:
    """Pids of running redis-server processes (from /proc, Linux)."""
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm", "rb") as handle:  # redis rewrites argv
                    if handle.read().strip() == b"redis-server":
                        found.add(int(name))
            except OSError:
                continue
    return found


@needs_redis
def test_private_redis_answers_and_is_gone_afterwards() -> None:
    before = redis_pids() if sys.platform.startswith("linux") else set()
    with provide(["redis"]) as env:
        url = env["REDIS_URL"]
        assert url.startswith("redis://127.0.0.1:")
        port = port_of(url)
        assert ping(port)
        started = (redis_pids() - before) if sys.platform.startswith("linux") else set()
    assert refuses(port)
    if sys.platform.startswith("linux"):
        assert len(started) == 1
        assert not (redis_pids() & started)


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
