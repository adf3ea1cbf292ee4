"""Fixtures for the demo bundles' examples: their import paths, a private redis-server, a script runner.

The examples' scripts put their own folder first on sys.path (`from shop.bus import ...`,
`from checkout.network import ...`); the tests do the same here so they import exactly the
code the articles publish. The two bundles' packages have different names, so both folders
can be on the path at once.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BUNDLE = Path(__file__).resolve().parents[2] / "snippets" / "choreography"
EXPECTED = BUNDLE / "expected"
ORCHESTRATION = BUNDLE.parent / "orchestration"
sys.path.insert(0, str(BUNDLE))
sys.path.insert(0, str(ORCHESTRATION))

# Variables a script run must not inherit from the developer's shell by accident.
EXAMPLE_ENV = ("REDIS_URL", "PATTERN_ARTICLES_TRACE")

RunScript = Callable[..., subprocess.CompletedProcess[str]]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not answer PING within {timeout} s")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A private, memory-only redis-server on a free loopback port; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_ping(port, process, timeout=10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The private server, emptied before each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    yield redis_server


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests run on the in-process bus and trace nothing unless they say so."""
    for name in EXAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def expected() -> Path:
    """The bundle's recorded outputs, `expected/<script-stem>[.<scenario>].txt`."""
    return EXPECTED


@pytest.fixture
def run_script(tmp_path: Path) -> RunScript:
    """Run `python snippets/choreography/<script> args...` from an unrelated folder."""

    def run(
        script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, str(BUNDLE / script), *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
