"""Services a snippet declares it needs (``needs: [redis]``), provided for one run.

Why a private server per run and not one shared server: snippets run in parallel, and a
shared server would let one run's keys, streams and consumer groups leak into another's
(``FLUSHALL`` between runs is not safe when runs overlap). A ``redis-server`` starts in about
ten milliseconds, so isolation is cheap. It listens on a free loopback port only, with
persistence off (``--save ""``, ``--appendonly no``) and its working folder in a temporary
directory that is removed afterwards, so it writes nothing anywhere else.

Where a URL is given instead (environment ``PATTERN_ARTICLES_REDIS_URL``, which wins, or the
``services`` setting), that server is used as it is: keeping runs apart on it is then the
user's business.

Where ``redis-server`` is not installed, :class:`ServiceUnavailable` says so; the runner turns
it into a *skipped* result with that reason, never a silent pass.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from ..errors import PatternError

KNOWN_SERVICES: tuple[str, ...] = ("redis",)
URL_VARIABLES: dict[str, str] = {"redis": "PATTERN_ARTICLES_REDIS_URL"}
"""Environment variables that point a service at an existing server."""
SNIPPET_VARIABLES: dict[str, str] = {"redis": "REDIS_URL"}
"""The variable a snippet reads to find the service."""

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class ServiceUnavailable(Exception):
    """A needed service cannot be provided on this machine (the run is skipped, visibly)."""

    def __init__(self, reason: str, hint: str = "") -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(reason)


class ServiceError(Exception):
    """A service that is installed failed to start or answer (the run is an error)."""


def configured_url(name: str, urls: Mapping[str, str] | None = None) -> str | None:
    """The URL of an existing server to use for ``name``, if one was given."""
    from_env = os.environ.get(URL_VARIABLES.get(name, ""), "") if name in URL_VARIABLES else ""
    if from_env:
        return from_env
    if urls and urls.get(name):
        return urls[name]
    return None


@contextmanager
def provide(needs: Iterable[str], urls: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Start (or point at) every needed service; yield the variables the snippet gets.

    Raises :class:`ServiceUnavailable` (skip), :class:`ServiceError` (broken), or
    :class:`PatternError` for a service name nobody knows (a typo in the metadata).
    """
    wanted = list(dict.fromkeys(needs))
    for name in wanted:
        if name not in KNOWN_SERVICES:
            raise PatternError(
                f"unknown service {name!r} in 'needs'",
                hint=f"known services: {', '.join(KNOWN_SERVICES)}",
            )
    env: dict[str, str] = {}
    with ExitStack() as stack:
        for name in wanted:
            url = configured_url(name, urls)
            if url is None:
                server = RedisServer()
                stack.callback(server.stop)
                server.start()
                url = server.url
            env[SNIPPET_VARIABLES[name]] = url
        yield env


def redis_server_path() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise ServiceUnavailable(
            "redis-server not installed",
            hint="install it (Debian/Ubuntu: apt-get install redis-server) or set "
            "PATTERN_ARTICLES_REDIS_URL to a server to use",
        )
    return found


_LIVE: set[RedisServer] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all() -> None:
    """At interpreter exit, stop servers whose ``with`` block never ended (e.g. Ctrl-C)."""
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for server in servers:
        server.stop()


atexit.register(_stop_all)


class RedisServer:
    """One private ``redis-server`` on a free loopback port, persistence off."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.folder: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        executable = self.executable or redis_server_path()
        self.folder = Path(tempfile.mkdtemp(prefix="pattern-articles-redis-"))
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._start(executable, self.folder, timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, executable: str, folder: Path, timeout: float) -> None:
        log = folder / "redis.log"
        problem = ""
        for _attempt in range(5):  # another process may take the port between probe and bind
            self.port = _free_port()
            with open(log, "wb") as handle:
                self.process = subprocess.Popen(
                    [
                        executable,
                        "--port", str(self.port),
                        "--bind", "127.0.0.1",
                        "--protected-mode", "yes",
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", str(folder),
                        "--daemonize", "no",
                        "--logfile", "",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                    start_new_session=True,  # a terminal's Ctrl-C is for the runner to handle
                    preexec_fn=die_with_this_thread(),
                )
            if self._wait_ready(timeout):
                return
            problem = _tail(log)
            self._halt()
            if "in use" not in problem:
                break
        raise ServiceError(f"redis-server did not start: {problem or 'no output'}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if ping(self.port):
                return True
            time.sleep(0.003)
        return False

    def _halt(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # with --save "" it exits without writing
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call twice."""
        self._halt()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        with _LIVE_LOCK:
            _LIVE.discard(self)


_PRCTL: Any = None


def die_with_this_thread() -> Callable[[], None] | None:
    """What a server runs between fork and exec: the parent-death signal (Linux), so it dies
    with the build even when that is SIGKILLed and no ``finally`` or atexit runs (an hour
    after such stops, a dozen servers were still running). The signal fires when the
    *thread* that started it exits, so a server is started (and stopped) by the thread that
    needs it: the runner's run thread, which outlives the run. The ctypes function is made
    here, before the fork: the child then only calls it (nothing that takes a lock)."""
    global _PRCTL
    if not sys.platform.startswith("linux"):
        return None
    if _PRCTL is None:
        try:
            import ctypes

            prctl = ctypes.CDLL(None).prctl
            prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
            prctl.restype = ctypes.c_int
            _PRCTL = prctl
        except (OSError, AttributeError):
            _PRCTL = False
    if not _PRCTL:
        return None
    prctl, parent = _PRCTL, os.getpid()

    def apply() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the build died before the line above
            os._exit(1)

    return apply


def ping(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on ``host:port`` (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = conn.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
