"""Run snippets: isolated, bounded, cached, in parallel; never a traceback at the user.

How a Python snippet runs, and why:

* **Warm workers, one fork per snippet.** A fresh interpreter costs tens of milliseconds
  before the first line; forking a warm one costs about one. Each of ``jobs`` worker
  processes (``_worker.py``) is a plain interpreter that pre-imported common standard-library
  modules and *nothing else* - never a bundle module - and forks one child per snippet. The
  child imports the bundle fresh, so an edited module is never served stale.
* **Isolation.** The child gets its own process group, a fresh temporary folder as working
  folder (also ``HOME`` and ``TMPDIR``; removed afterwards), stdin from ``/dev/null``, an
  environment reduced to an allowlist (plus the scenario's variables, the services'
  ``REDIS_URL``, ``PATTERN_ARTICLES_TRACE``), the bundle folder first on ``sys.path`` and
  bytecode writing off, so nothing is written into ``snippets/``.
* **Nothing survives a run.** The worker is a child subreaper (Linux ``prctl``): whatever
  the snippet started, even with ``setsid`` or a double fork, stays its descendant, and after
  the snippet ends or times out the worker kills every descendant it finds in ``/proc``. A
  daemon left behind by a snippet that exited normally is killed too, with a note.
* **Bounded.** A wall-clock timeout (default 30 s, per spec override) and a cap on stdout and
  stderr (1 MiB each by default) with a visible ``[output truncated after 1 MiB]``; the rest
  is drained so the child never blocks. Bytes that are not UTF-8 are replaced, not fatal.
* **Fresh interpreter when it matters.** A scenario whose environment changes interpreter
  start-up (``PYTHONHASHSEED``, ``PYTHONUTF8``, ``LANG``...) cannot be honoured by a fork,
  so that run execs a fresh interpreter, under the same supervision.

Other languages run through the same worker (fork + exec, same supervision) with a command
per language, e.g. ``languages={"bash": ["bash", "{path}"]}``; ``{path}`` is the snippet,
``{bundle}`` its bundle folder, and the spec's args are appended.

Caching (``cache.py``): only *passing* runs are cached. A failure, timeout, skip or error is
re-run next time, because that is what someone fixing it wants, and because a skip caused
by a missing ``redis-server`` must not outlive installing it. ``fresh=True`` or
``PATTERN_ARTICLES_FRESH=1`` ignores stored entries (and refreshes them).

Concurrency: ``submit`` looks the specs up in the cache in the caller's thread (hits are
ready when it returns, never queued behind running snippets) and queues the misses; ``jobs``
threads, each owning one worker, run them. ``result(spec)`` moves a spec that is still
waiting to the front. Lookups are not a thread of their own: a lookup is a few small file
reads, and a thread doing them while the caller renders pages made each read hand the GIL
back and forth; in a warm build of 2,000 snippets that cost more than the lookups did.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import py_compile
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import PatternError
from . import services
from .cache import Cache, Compiled, dependencies
from .spec import RunResult, RunSpec

DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT",
)
"""Parent variables a snippet sees. ``HOME`` and ``TMPDIR`` always point into the run's
temporary folder; ``SECRET_TOKEN`` and friends stay out unless listed."""

TRACE_VARIABLE = "PATTERN_ARTICLES_TRACE"
FRESH_VARIABLE = "PATTERN_ARTICLES_FRESH"
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")

# Variables read at interpreter start-up; a forked child cannot honour a change to them.
_STARTUP_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")
_FORKABLE_PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
_TRACE_LIMIT = 64 << 20
_HELLO_TIMEOUT = 60.0
# Seconds a worker waits for work before it exits (see Runner._run_loop). Long enough that a
# build feeding runs page by page (pytest's prefetch, a serve rebuild) keeps its workers; a
# restart costs ~40 ms of CPU, so even retiring and restarting every second would be cheap.
WORKER_IDLE = 1.0
_RESULT_GRACE = 20.0  # beyond the timeout: killing, reaping and draining take a moment


def default_languages() -> dict[str, list[str]]:
    return {
        "python": [sys.executable, "{path}"],
        "bash": ["bash", "{path}"],
        "sh": ["sh", "{path}"],
        "node": ["node", "{path}"],
    }


@dataclass
class RunnerSettings:
    """How snippets run. Everything that can change an output is part of the cache key."""

    timeout: float = 30.0
    jobs: int = 0  # 0 = os.cpu_count()
    output_limit: int = 1 << 20
    env_allowlist: tuple[str, ...] = DEFAULT_ENV_ALLOWLIST
    cache_dir: Path | None = None  # None = no cache
    fresh: bool = False
    languages: dict[str, list[str]] = field(default_factory=default_languages)
    service_urls: dict[str, str] = field(default_factory=dict)
    fork: bool = True  # False: every Python snippet in a fresh interpreter (slower; a debug aid)
    sandbox: str = "off"  # off | auto | bwrap: run each snippet inside bubblewrap (see sandbox_command)
    # how a run's processes are contained (see _worker.py's _isolate): "auto" takes a PID
    # namespace where the kernel allows one; "subreaper" never does (the fallback, to test it)
    isolation: str = "auto"
    # per process of a run: bytes of writable private memory (RLIMIT_DATA; 0: none) and CPU
    # seconds (RLIMIT_CPU; None: twice the run's timeout; 0: none); see _limits
    memory_limit: int = 2 << 30
    cpu_limit: float | None = None


@dataclass
class RunnerStats:
    """Counts for the one summary line per build. ``failed`` includes timeouts and errors;
    ``seconds`` is wall-clock time with at least one snippet outstanding."""

    ran: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"ran {self.ran}, cached {self.cached}, failed {self.failed}, "
                f"skipped {self.skipped} in {self.seconds:.1f} s")


_NO_SERVICES: Mapping[str, str] = types.MappingProxyType({})


class _Job:
    """One submitted spec; done once ``result`` is set (under the runner's lock).

    Slotted and without an Event of its own: a build holds one per snippet, and an Event
    (a Condition and two locks) cost ~1 KB each; the runner's one Condition serves all."""

    __slots__ = ("awaited", "code", "key", "result", "settled", "spec")

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.key: str | None = None
        self.result: RunResult | None = None
        self.code: Compiled | None = None  # the snippet compiled by the key, until it runs
        self.awaited = False  # someone blocks in Runner.result() for it (see _finish_locked)
        # whether the worker found the files the key was computed from unchanged once the
        # run was over; None when it was not told them (see Runner._store)
        self.settled: bool | None = None


class _Idle:
    """What :meth:`_Queue.get` returns when nothing was queued for a while."""


IDLE = _Idle()


class _Queue:
    """A FIFO that can move an item to the front and be closed."""

    def __init__(self) -> None:
        self._items: collections.deque[_Job] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self._retire = 0  # bumped by retire(): whoever waits then gets IDLE at once

    def put(self, job: _Job) -> bool:
        """Queue ``job``; False when the queue is closed (the caller must finish it)."""
        with self._cv:
            if self._closed:
                return False
            self._items.append(job)
            self._cv.notify()
            return True

    def get(self, idle: float | None = None) -> _Job | _Idle | None:
        """The next job; None once closed; ``IDLE`` when nothing came for ``idle`` seconds
        (or, with ``idle`` set, as soon as :meth:`retire` is called)."""
        with self._cv:
            retire = self._retire
            while not self._items and not self._closed:
                if idle is not None and self._retire != retire:
                    return IDLE
                if not self._cv.wait(idle) and not self._items:  # timed out (never with None)
                    return IDLE
            return self._items.popleft() if self._items else None

    def retire(self) -> None:
        """Wake every :meth:`get` waiting with an idle time: it returns ``IDLE`` now."""
        with self._cv:
            self._retire += 1
            self._cv.notify_all()

    def empty(self) -> bool:
        with self._cv:
            return not self._items

    def promote(self, job: _Job) -> None:
        with self._cv:
            try:
                self._items.remove(job)
            except ValueError:
                return
            self._items.appendleft(job)

    def close(self) -> list[_Job]:
        with self._cv:
            self._closed = True
            left = list(self._items)
            self._items.clear()
            self._cv.notify_all()
            return left


class WorkerDied(Exception):
    """The worker process stopped answering or exited."""


class WorkerGone(WorkerDied):
    """The worker had exited before it got the request: nothing ran, a new one may."""


class _Worker:
    """The runner's handle on one ``_worker.py`` process (see that module).

    Each worker has a private folder (``pattern-articles-run-*``) for the run folder of the
    snippet it runs (one at a time): ``<folder>/run``, there only while a snippet runs. The
    worker makes it fresh for each run, or recycles it when the last run left it untouched
    (see ``_worker.py``); the runner only names it, and removes the whole private folder once
    the worker has exited. The name is the same for every run on purpose: the snippet's
    environment (HOME, TMPDIR, the trace file) then does not change from run to run, which
    spares the worker a ``setenv`` per variable and run (and glibc keeps every value ever set).
    """

    def __init__(self, command: list[str], env: dict[str, str], program: Path | None = None,
                 isolation: str = "auto") -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pattern-articles-run-"))
        self.run_folder = self.folder / "run"
        # its paths as strings, made once: every run's request names them (pathlib is slow)
        root = str(self.run_folder)
        self.run_paths = {name: os.path.join(root, name) for name in ("work", "home", "tmp", "trace.jsonl")}
        self.run_paths["folder"] = root
        try:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        except OSError:
            _rmtree(self.folder)
            raise
        # the compiled worker (see _compile_worker) when the command is our own interpreter
        script = (program if program is not None and _runs_our_python(command) else WORKER_SCRIPT).as_posix()
        argv = [script if a == "{path}" else a for a in command]
        if script not in argv:
            argv.append(script)
        # The worker's guard watches the read end of this pipe: only this process holds the
        # write end, so the guard sees it close when this process dies, however it dies (a
        # pipe of its own: had it watched the request pipe, a request sent to a dead worker
        # would find a reader and not fail as "gone"). See _worker.py's _guard.
        watch_r, self._watch = os.pipe()
        argv += ["--serve", "--parent", str(os.getpid()), "--isolation", isolation, "--watch", str(watch_r)]
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=env,
                cwd="/",
                close_fds=True,
                pass_fds=(watch_r,),
                start_new_session=True,  # Ctrl-C in a terminal is the runner's to handle
            )
        except OSError as exc:
            self._log.close()
            os.close(self._watch)
            _rmtree(self.folder)
            raise WorkerDied(f"could not start the Python worker ({argv[0]}): "
                             f"{exc.strerror or exc}") from exc
        finally:
            os.close(watch_r)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin.fileno()
        self._out = self.process.stdout.fileno()
        # bytes read past the part asked for: a reply comes in one write, so reading big
        # chunks gets it in one system call instead of four (each of which hands the GIL
        # to the thread rendering pages and waits to get it back)
        self._buffer = bytearray()
        # stop() may come from another thread; without this lock a write could hit a closed
        # (and already reused) fd number
        self._write_lock = threading.Lock()
        self._stopped = False
        try:
            hello, _ = self._receive(_HELLO_TIMEOUT)
        except WorkerDied:
            self.wait_stopped()
            raise
        if hello.get("op") != "hello":
            self.kill()
            self.wait_stopped()
            raise WorkerDied(f"unexpected greeting from the worker: {hello!r}")
        self.info = hello

    def run(self, request: dict[str, Any], wait: float, *payloads: bytes) -> tuple[dict[str, Any], list[bytes]]:
        self._send(request, *payloads)
        return self._receive(wait)

    def _send(self, header: dict[str, Any], *payloads: bytes) -> None:
        if payloads:
            header = dict(header, payloads=[len(p) for p in payloads])
        body = json.dumps(header).encode("utf-8")
        try:
            with self._write_lock:
                if self._stopped:
                    raise BrokenPipeError("the worker was stopped")
                _write_all(self._in, b"".join([struct.pack(">I", len(body)), body, *payloads]))
        except BrokenPipeError as exc:
            if self._stopped:
                raise WorkerDied(f"could not send the request: {exc}") from exc
            # its end of the pipe is closed: it had exited before this request
            raise WorkerGone(self._death(f"could not send the request: {exc}")) from exc
        except OSError as exc:
            raise WorkerDied(self._death(f"could not send the request: {exc}")) from exc

    def _receive(self, wait: float) -> tuple[dict[str, Any], list[bytes]]:
        deadline = time.monotonic() + wait
        head = self._read(4, deadline)
        (length,) = struct.unpack(">I", head)
        header: dict[str, Any] = json.loads(self._read(length, deadline).decode("utf-8"))
        payloads = [self._read(int(n), deadline) for n in header.get("payloads", [])]
        return header, payloads

    def _read(self, size: int, deadline: float) -> bytes:
        buffer = self._buffer
        poller = None
        while len(buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerDied("the worker stopped responding (killed it)")
            if poller is None:
                poller = select.poll()
                poller.register(self._out, select.POLLIN)
            if not poller.poll(int(left * 1000) + 1):
                continue
            try:
                # at least 64 KiB (a whole reply in one call), not 1 MiB: a read buffer over
                # 128 KiB is an mmap, an mremap and a munmap per call, thrice per run
                chunk = os.read(self._out, max(size - len(buffer), 1 << 16))
            except OSError:
                chunk = b""
            if not chunk:
                raise WorkerDied(self._death("the worker exited unexpectedly"))
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def _death(self, what: str) -> str:
        try:
            code = self.process.wait(2.0)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        tail = ""
        try:
            self._log.seek(0)
            text = self._log.read()[-2000:].decode("utf-8", "replace").strip()
            tail = text.splitlines()[-1] if text else ""
        except (OSError, ValueError):
            pass
        detail = f" (exit code {code})" if code is not None else ""
        return f"{what}{detail}" + (f": {tail}" if tail else "")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Close the worker's input: it kills whatever runs, then exits."""
        with self._write_lock:
            if self._stopped:
                return
            self._stopped = True
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
            except OSError:
                pass

    def wait_stopped(self, timeout: float = 5.0) -> None:
        """Wait for the exit (killing after ``timeout``) and release pipes and log."""
        self.stop()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(OSError):
            if self.process.stdout is not None:
                self.process.stdout.close()
        with contextlib.suppress(OSError):
            os.close(self._watch)
        self._log.close()
        # the worker is gone, and with it everything it ran (subreaper sweep, or the
        # parent-death signal when it was killed): nothing writes here any more
        _rmtree(self.folder)

    def kill(self) -> None:
        """Kill a wedged worker: SIGTERM to its guard (see ``_worker.py``), which kills the
        worker and, without a PID namespace, whatever is left below it; SIGKILL if the guard
        does not answer."""
        with contextlib.suppress(OSError):
            self.process.terminate()
        try:
            self.process.wait(5.0)
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)


def _runs_our_python(command: list[str]) -> bool:
    """``[this interpreter, "{path}"]``: a command that can run our compiled worker."""
    if len(command) != 2 or command[1] != "{path}":
        return False
    found = shutil.which(command[0]) or command[0]
    try:
        return os.path.realpath(found) == os.path.realpath(sys.executable)
    except OSError:
        return False


def _compile_worker(folder: Path) -> Path | None:
    """``_worker.py`` compiled into ``folder`` (private to this runner), or None.

    Why: started as a script, the worker parsed its own ~1,000 lines, and the parser's
    memory stayed in its heap (~2 KB of resident memory per line of source, measured),
    in every worker for its whole life and counted again in every child it forked (RSS).
    A ``.pyc`` file runs as a script with no parsing (``python worker.pyc``). Only for our
    own interpreter (another version could not read it); compiled once per runner.
    """
    target = folder / "_worker.pyc"  # still named like the script in process listings
    try:
        py_compile.compile(str(WORKER_SCRIPT), cfile=str(target), doraise=True)
    except (OSError, py_compile.PyCompileError):
        return None
    return target


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


_OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


def _out_of_memory(stderr: str) -> bool:
    """Whether the last words of a failed run are an allocation refused (Python's
    MemoryError, C's ENOMEM, C++'s bad_alloc, Node's "heap out of memory")."""
    lines = [line for line in stderr[-4000:].splitlines() if line.strip()]
    return bool(lines) and any(word in lines[-1] for word in _OUT_OF_MEMORY)


def _size(limit: int) -> str:
    if limit >= 1 << 30 and limit % (1 << 30) == 0:
        return f"{limit >> 30} GiB"
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    if limit >= 1 << 10 and limit % (1 << 10) == 0:
        return f"{limit >> 10} KiB"
    return f"{limit} bytes"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}es"


def _decode(data: bytes, truncated: bool, limit: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if truncated:
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"[output truncated after {_size(limit)}]\n"
    return text


def parse_trace(text: str) -> tuple[tuple[dict[str, object], ...], int]:
    """JSON objects, one per line; returns them and how many lines were malformed."""
    events: list[dict[str, object]] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(value, dict):
            events.append(value)
        else:
            bad += 1
    return tuple(events), bad


def _rmtree(path: Path) -> None:
    """Remove a run folder even where the snippet made things read-only."""
    try:  # the common case, a folder of empty folders and files: a few syscalls, no tree walk
        with os.scandir(path) as entries:
            found = [(entry.path, entry.is_dir(follow_symlinks=False)) for entry in entries]
        for name, is_dir in found:
            (os.rmdir if is_dir else os.unlink)(name)
        os.rmdir(path)
        return
    except OSError:
        pass

    def retry(func: Any, target: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            func(target)

    shutil.rmtree(path, onerror=retry)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


class Runner:
    """Runs :class:`RunSpec` s; thread-safe; use as a context manager or call :meth:`close`."""

    def __init__(self, settings: RunnerSettings | None = None) -> None:
        self.settings = settings or RunnerSettings()
        s = self.settings
        self._jobs_count = s.jobs if s.jobs and s.jobs > 0 else (os.cpu_count() or 1)
        self._allowlist = tuple(dict.fromkeys(s.env_allowlist))
        # snapshot now: workers started later must see what runs started earlier saw
        self._base_env = {k: os.environ[k] for k in self._allowlist if k in os.environ}
        flag = os.environ.get(FRESH_VARIABLE, "").strip().lower()
        self._fresh = s.fresh or flag not in ("", "0", "false", "no", "off")
        self._cache = Cache(s.cache_dir) if s.cache_dir is not None else None
        self._languages = {k: list(v) for k, v in s.languages.items()}
        self._languages.setdefault("python", [sys.executable, "{path}"])
        # the code the cache key compiled goes to the worker only if it is this interpreter
        # (marshal's format is per version): see _facts_and_code in cache.py
        self._ship_code = _runs_our_python(self._languages["python"]) and not sys.flags.optimize
        # the sandbox wrapper (bwrap's path) or why there is none; an unusable *requested*
        # sandbox turns every run into an error rather than silently running unconfined
        self._bwrap, self.sandbox_status = sandbox_command(s.sandbox)
        self._home: Path | None = None  # the workers' empty HOME, made with the first one
        self._program_folder: Path | None = None  # holds the compiled worker (_compile_worker)
        self._program: Path | None = None
        self._program_lock = threading.Lock()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)  # a job got its result
        self._jobs: dict[RunSpec, _Job] = {}
        self._runs = _Queue()
        self._threads: list[threading.Thread] = []
        self._workers: set[_Worker] = set()
        self._closed = False
        self._stats = RunnerStats()
        self._outstanding = 0
        self._busy_since = 0.0
        self.workers_started = 0  # how many worker processes this runner started
        # how the last worker contains its runs: "pid-namespace", "user-namespace" or
        # "subreaper" (see _worker.py's _isolate); "" before the first worker
        self.isolation = ""
        atexit.register(self.close)  # temp folders and workers go even if close is forgotten

    # ------------------------------------------------------------------ public API

    def submit(self, specs: Iterable[RunSpec]) -> None:
        """Look specs up in the cache and queue the misses; results come from :meth:`result`.

        A spec already submitted is not run again: its result is kept until :meth:`forget`.
        """
        self._submit(specs)

    def _submit(self, specs: Iterable[RunSpec]) -> list[_Job]:
        fresh: list[_Job] = []
        jobs: list[_Job] = []
        with self._lock:
            for spec in specs:
                known = self._jobs.get(spec)
                if known is not None:
                    jobs.append(known)
                    continue
                job = _Job(spec)
                jobs.append(job)
                self._jobs[spec] = job
                if self._outstanding == 0:
                    self._busy_since = time.monotonic()
                self._outstanding += 1
                if self._closed:
                    self._finish_locked(job, self._error(spec, "the runner is closed"))
                    continue
                fresh.append(job)
            if fresh:
                self._start_threads_locked()
        if not fresh:  # every page asks for its runs' results again: nothing to look up
            return jobs
        misses: list[_Job] = []
        with self._cache.batch() if self._cache is not None else contextlib.nullcontext():
            for job in fresh:
                try:
                    hit = self._lookup(job)
                except Exception as exc:  # a bug of ours: an error result, never a traceback
                    self._finish(job, self._internal(job.spec, exc))
                    continue
                if hit is not None:
                    self._finish(job, hit)
                else:
                    misses.append(job)
        # queued once every lookup is done: a run thread busy meanwhile would take the GIL
        # back at each of the lookups' file reads
        for job in misses:
            if not self._runs.put(job):
                self._finish(job, self._error(job.spec, "the runner was closed before it ran"))
        return jobs

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Hold new dependency memos until the outermost batch ends (see ``Cache.batch``).

        For a caller that submits a few runs at a time over a long session (pytest hands
        runs over a few items ahead): each submit is a batch of its own, and every one of
        them rewrote its bundle's memo file (~0.13 ms per snippet in a 2,000-snippet run).
        """
        return self._cache.batch() if self._cache is not None else contextlib.nullcontext()

    def result(self, spec: RunSpec) -> RunResult:
        """The result of ``spec``, running it first if nobody submitted it; blocks."""
        (job,) = self._submit([spec])
        if job.result is None:
            self._runs.promote(job)
            with self._lock:
                job.awaited = True
                while job.result is None:
                    self._finished.wait()
        return job.result

    def wait_all(self) -> None:
        """Block until every submitted run has its result, then retire the idle workers at
        once rather than after :data:`WORKER_IDLE` (the caller knows no run is coming)."""
        with self._lock:
            while self._outstanding:
                self._finished.wait()
        self._runs.retire()

    def forget_keys(self) -> None:
        """Let go of what computing the cache keys left in memory (the dependency memos of
        every snippet looked up; they stay on disk). A one-shot build calls this once every
        run is done, before it fills the pages: the pages then reuse that memory. Measured
        on cold builds of the benchmark's 2,000 snippets (with a full collection after it,
        as the plugin does): peak PSS 98.3-98.9 MiB without (8 builds), 91.1-96.6 MiB with
        (5 builds, median 96.5). A later lookup reads the memo files again.
        """
        if self._cache is not None:
            self._cache.forget_memos()

    def run_all(self, specs: Iterable[RunSpec]) -> list[RunResult]:
        """Run every spec (in parallel) and return the results in the same order."""
        wanted = list(specs)
        self.submit(wanted)
        return [self.result(spec) for spec in wanted]

    def dependencies(self, spec: RunSpec) -> list[Path]:
        """Files whose change re-runs ``spec`` (for ``mkdocs serve`` to watch)."""
        try:
            return dependencies(spec)
        except Exception:  # a watcher must not crash on a half-saved file
            return [spec.snippet]

    def forget(self, specs: Iterable[RunSpec] | None = None) -> None:
        """Drop finished results so the next submit looks them up again (a new build in
        ``mkdocs serve``: unchanged snippets come back from the cache, changed ones re-run)."""
        with self._lock:
            targets = list(self._jobs) if specs is None else list(specs)
            for spec in targets:
                job = self._jobs.get(spec)
                if job is not None and job.result is not None:
                    del self._jobs[spec]

    @property
    def stats(self) -> RunnerStats:
        with self._lock:
            snapshot = replace(self._stats)
            if self._outstanding:
                snapshot.seconds += time.monotonic() - self._busy_since
            return snapshot

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = RunnerStats()
            if self._outstanding:
                self._busy_since = time.monotonic()

    def close(self) -> None:
        """Stop: queued snippets end as errors, running ones are killed, workers exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for job in self._runs.close():
            self._finish(job, self._error(job.spec, "the runner was closed before it ran"))
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join()
        if self._cache is not None:
            self._cache.flush()
        if self._home is not None:
            _rmtree(self._home)
        if self._program_folder is not None:
            _rmtree(self._program_folder)
        atexit.unregister(self.close)

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ threads

    def _start_threads_locked(self) -> None:
        if self._threads:
            return
        for index in range(self._jobs_count):
            self._threads.append(threading.Thread(
                target=self._run_loop, name=f"pattern-articles-run-{index}", daemon=True))
        for thread in self._threads:
            thread.start()

    def _lookup(self, job: _Job) -> RunResult | None:
        if self._cache is None or self._problem(job.spec):
            return None
        try:
            job.key, code = self._cache.key_and_code(job.spec, self._context(job.spec))
        except (OSError, ValueError, RecursionError):
            return None  # e.g. a dependency unreadable right now: run it, do not cache it
        if not self._fresh:
            entry = self._cache.load(job.key, job.spec.bundle_dir)
            try:
                if entry is not None:
                    return self._from_entry(job.spec, entry)
            except (KeyError, TypeError, ValueError):
                pass  # malformed entry: run again, the new result overwrites it
        if self._ship_code:  # it runs: with its code compiled here, also when a memo answered
            job.code = code if code is not None else self._cache.code_for(job.spec)
        return None

    def _run_loop(self) -> None:
        worker: _Worker | None = None
        try:
            while True:
                # A worker with nothing to run retires after WORKER_IDLE seconds (or at
                # once after wait_all): an idle interpreter holds ~10 MiB for the rest of a
                # build that only renders pages now, or of an idle serve; the next run, if
                # any, starts a fresh one lazily.
                job = self._runs.get(WORKER_IDLE if worker is not None else None)
                if job is IDLE:
                    if worker is not None:
                        self._drop(worker, graceful=True)
                        worker = None
                    continue
                if job is None:
                    return
                assert isinstance(job, _Job)
                try:
                    result, worker = self._execute(job, worker)
                except Exception as exc:
                    result = self._internal(job.spec, exc)
                # The cache's entries are written once no run is outstanding (outside a
                # batch, which writes them at its end): before the last result is out, so
                # whoever has it finds them on disk; or, when two runs ended at once, just
                # after.
                self._flush_if(1)
                self._finish(job, result)
                self._flush_if(0)
        finally:
            if worker is not None:
                self._drop(worker, graceful=True)

    def _flush_if(self, outstanding: int) -> None:
        cache = self._cache
        if cache is not None and cache.pending and self._outstanding == outstanding and not cache.batched:
            cache.flush()

    def _finish(self, job: _Job, result: RunResult) -> None:
        with self._lock:
            self._finish_locked(job, result)

    def _finish_locked(self, job: _Job, result: RunResult) -> None:
        if job.result is not None:
            return
        job.result = result
        job.code = None
        stats = self._stats
        if result.cached:
            stats.cached += 1
        elif result.status in ("passed", "failed", "timeout"):
            stats.ran += 1
        if result.status in ("failed", "timeout", "error"):
            stats.failed += 1
        elif result.status == "skipped":
            stats.skipped += 1
        if self._outstanding > 0:
            self._outstanding -= 1
            if self._outstanding == 0:
                stats.seconds += time.monotonic() - self._busy_since
        # Waiters are woken only for what they wait for: a job blocked on in result(), or
        # the last outstanding one (wait_all). Waking them at every finish cost a build
        # ~60 us of GIL-held CPU per snippet, plus a wake-up of the waiting thread each time.
        if job.awaited or not self._outstanding:
            self._finished.notify_all()

    # ------------------------------------------------------------------ one run

    def _problem(self, spec: RunSpec, files: bool = True) -> str:
        """Why ``spec`` cannot run at all ("" when it can). ``files=False`` leaves out the
        file system checks, for a run: the worker makes them (see :meth:`_interpret`)."""
        if self._bwrap is None and self.settings.sandbox not in ("off", "auto", "", "false"):
            return self.sandbox_status  # requested but unusable (or unknown): never run unconfined
        if not hasattr(os, "fork"):
            return "running snippets needs a POSIX system (fork); this platform has none"
        if not spec.snippet.is_absolute() or not spec.bundle_dir.is_absolute():
            return f"snippet and bundle paths must be absolute: {spec.snippet}"
        if files and not spec.snippet.is_file():
            return _missing(spec, "snippet")
        if files and not spec.bundle_dir.is_dir():
            return _missing(spec, "bundle")
        if spec.language not in self._languages:
            known = ", ".join(sorted(self._languages))
            return f"no command for language {spec.language!r} (configured: {known})"
        timeout = self._timeout(spec)
        if not timeout > 0:
            return f"the timeout must be positive, not {timeout}"
        return ""

    def _timeout(self, spec: RunSpec) -> float:
        return float(spec.timeout if spec.timeout is not None else self.settings.timeout)

    # Why RLIMIT_DATA and not RLIMIT_AS: the address-space limit counts reservations that
    # are never backed (V8's 4 GiB pointer cage in Node, Go's and the JVM's heap arenas,
    # sanitizers' shadow memory), so a 2 GiB RLIMIT_AS stops Node before its first line.
    # RLIMIT_DATA (Linux >= 4.7) counts only writable private memory - what an allocation
    # bomb grows - and an allocation past it fails (Python: MemoryError). It is per process:
    # a snippet forking many allocators gets the limit in each; a whole-tree bound would need
    # a writable cgroup (see the security guide).
    def _memory_limit(self, spec: RunSpec) -> int:
        value = spec.memory_limit if spec.memory_limit is not None else self.settings.memory_limit
        return max(int(value or 0), 0)

    def _cpu_limit(self, spec: RunSpec) -> float:
        value = spec.cpu_limit if spec.cpu_limit is not None else self.settings.cpu_limit
        if value is None:  # the default: twice the wall-clock timeout (two busy cores)
            return 2 * self._timeout(spec)
        return max(float(value), 0.0)

    def _limit_reason(self, spec: RunSpec, signal_number: object, cpu_time: float,
                      stderr: str) -> str:
        """Why a failed run failed, when it was one of its limits ("" otherwise)."""
        cpu = self._cpu_limit(spec)
        if cpu and (signal_number == signal.SIGXCPU
                    or (signal_number == signal.SIGKILL and cpu_time >= cpu)):
            return (f"exceeded its CPU-time limit of {cpu:g} s; "
                    "raise cpu_limit in bundle.yml or mkdocs.yml")
        memory = self._memory_limit(spec)
        if memory and _out_of_memory(stderr):
            return (f"exceeded its memory limit of {_size(memory)}; "
                    "raise memory_limit in bundle.yml or mkdocs.yml")
        return ""

    def _context(self, spec: RunSpec) -> dict[str, object]:
        """Runner facts that can change an output (part of the cache key)."""
        command = self._languages[spec.language]
        context: dict[str, object] = {
            "command": command,
            "interpreter": interpreter_identity(command),
            "output_limit": self.settings.output_limit,
            "allowlist": sorted(self._allowlist),
            # PATH is left out on purpose: it differs between an activated venv and a
            # direct call of its mkdocs/pytest, and rarely changes what a snippet prints
            "env": {k: v for k, v in sorted(self._base_env.items()) if k != "PATH"},
            "timeout": self._timeout(spec),
            # a limit can turn a pass into a failure, and a snippet can print its limits
            "limits": [self._memory_limit(spec), self._cpu_limit(spec)],
        }
        if self._bwrap is not None:
            context["sandbox"] = "bwrap"  # a pass outside the sandbox proves nothing inside it
        if spec.needs:
            context["services"] = {
                name: services.configured_url(name, self.settings.service_urls) or "private"
                for name in spec.needs
            }
        return context

    def _execute(self, job: _Job, worker: _Worker | None) -> tuple[RunResult, _Worker | None]:
        # Every system call in a run thread hands the GIL to the thread rendering pages and
        # waits to get it back, which cost more CPU than the calls: so the worker checks the
        # files, makes the run folder, reads the trace and checks the key's inputs.
        spec = job.spec
        problem = self._problem(spec, files=False)
        if problem:
            return self._error(spec, problem), worker
        try:
            if not spec.needs:  # the usual run: no service to start, nor a context for none
                result, worker = self._in_folder(job, _NO_SERVICES, worker)
            else:
                with services.provide(spec.needs, self.settings.service_urls) as service_env:
                    result, worker = self._in_folder(job, service_env, worker)
        except services.ServiceUnavailable as exc:
            notes = (exc.hint,) if exc.hint else ()
            return self._make(spec, "skipped", reason=exc.reason, notes=notes), worker
        except services.ServiceError as exc:
            return self._error(spec, str(exc)), worker
        except PatternError as exc:
            return self._error(spec, exc.format()), worker
        except OSError as exc:  # e.g. no space left for the run folder
            return self._error(spec, f"could not prepare the run: {exc}"), worker
        if result.status == "passed" and self._cache is not None and job.key is not None:
            self._store(job, job.key, result)
        return result, worker

    def _store(self, job: _Job, key: str, result: RunResult) -> None:
        """Cache a passing result, only if its inputs did not change while it ran (an editor
        saving a file mid-run must not file the new output under the old content).

        The worker checks that when it was told what the key was computed from (its answer
        is ``job.settled``): a system call here hands the GIL to the thread rendering pages
        and waits to get it back. Otherwise the key is computed again."""
        cache = self._cache
        assert cache is not None
        spec = job.spec
        if job.settled is not None:
            unchanged = job.settled
        else:
            try:
                unchanged = cache.key(spec, self._context(spec)) == key
            except (OSError, ValueError, RecursionError):
                unchanged = False
        if unchanged:
            cache.store(key, self._to_entry(result), spec.id, spec.bundle_dir)

    def _in_folder(
        self, job: _Job, service_env: Mapping[str, str], worker: _Worker | None,
    ) -> tuple[RunResult, _Worker | None]:
        """Run ``spec`` in a fresh run folder, which the worker makes, reads the trace file
        from and removes (or recycles) once every process of the run is gone: that costs
        the build process no file system call at all."""
        spec = job.spec
        code, job.code = job.code, None
        for attempt in (1, 2):
            if worker is None:
                try:
                    worker = self._new_worker()
                except WorkerDied as exc:
                    return self._error(spec, str(exc)), None
            try:
                return self._on(worker, job, service_env, code), worker
            except WorkerGone:
                # it had exited between runs (nothing of this one ran): a new one, once
                self._drop(worker)
                worker = None
                if attempt == 2 or self._closed:
                    reason = ("the runner was closed while it ran" if self._closed
                              else "the worker exited unexpectedly")
                    return self._error(spec, reason), None
            except (WorkerDied, ValueError, struct.error) as exc:
                # a dead worker, or one whose reply made no sense: never reuse it
                self._drop(worker)
                reason = str(exc) if isinstance(exc, WorkerDied) else (
                    f"garbled reply from the worker: {exc}")
                if self._closed:
                    reason = "the runner was closed while it ran"
                return self._error(spec, reason), None
        raise AssertionError("unreachable")  # pragma: no cover

    def _on(self, worker: _Worker, job: _Job, service_env: Mapping[str, str],
            code: Compiled | None = None) -> RunResult:
        """One run of ``job`` on ``worker``; raises what :meth:`_Worker.run` raises.
        ``code``: the snippet compiled by its cache key, which a forked run uses as is."""
        spec = job.spec
        paths = worker.run_paths
        trace = paths["trace.jsonl"]
        env = dict(self._base_env)
        env.update(HOME=paths["home"], TMPDIR=paths["tmp"], PYTHONDONTWRITEBYTECODE="1")
        env.update(service_env)
        env.update(dict(spec.env))
        env[TRACE_VARIABLE] = trace
        request = self._request(spec, env, paths["work"])
        request.update(folder=paths["folder"], trace=trace, trace_limit=_TRACE_LIMIT)
        timeout = self._timeout(spec)
        shipped = [code.code] if code is not None and request["mode"] == "fork" else []
        if code is not None and shipped:
            request.update(code=True, imports=list(code.imports))
        # what the key was computed from, made here rather than at the lookup: 2,000 lists
        # held from the lookups to the runs left the build's memory more fragmented
        watch = self._cache.watch(spec) if self._cache is not None and job.key is not None else None
        if watch is not None:
            request["watch"] = watch
        header, payloads = worker.run(request, timeout + _RESULT_GRACE, *shipped)
        job.settled = header.get("settled") is True if watch is not None else None
        return self._interpret(spec, header, payloads, timeout)

    def _drop(self, worker: _Worker, graceful: bool = False) -> None:
        """Forget a worker. ``graceful``: let it finish killing what it ran (it exits on
        EOF after its sweep); otherwise it is dead or wedged, so kill it now."""
        if not graceful:
            worker.kill()
        worker.wait_stopped()
        with self._lock:
            self._workers.discard(worker)

    def _new_worker(self) -> _Worker:
        with self._lock:
            if self._home is None:
                self._home = Path(tempfile.mkdtemp(prefix="pattern-articles-home-"))
            home = self._home
        env = dict(self._base_env)
        env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
        command = self._languages["python"]
        worker = _Worker(command, env, self._worker_program(command), self.settings.isolation)
        with self._lock:
            self._workers.add(worker)
            self.workers_started += 1
            self.isolation = str(worker.info.get("isolation") or "subreaper")
            closed = self._closed
        if closed:  # close() raced with us: do not leave this one running
            worker.stop()
        return worker

    def _worker_program(self, command: list[str]) -> Path | None:
        """The compiled worker, made with the first worker (None: run the script)."""
        if not _runs_our_python(command):
            return None
        with self._program_lock:
            if self._program_folder is None:
                try:
                    self._program_folder = Path(tempfile.mkdtemp(prefix="pattern-articles-worker-"))
                except OSError:
                    return None
                self._program = _compile_worker(self._program_folder)
            return self._program

    def _request(self, spec: RunSpec, env: dict[str, str], work: str) -> dict[str, Any]:
        path = str(spec.snippet)
        bundle = str(spec.bundle_dir)
        request: dict[str, Any] = {
            "op": "run",
            "cwd": work,
            "env": env,
            "timeout": self._timeout(spec),
            "limit": self.settings.output_limit,
            "memory_limit": self._memory_limit(spec),
            "cpu_limit": self._cpu_limit(spec),
            "path": path,
            "args": list(spec.args),
            "bundle_dir": bundle,
            "pythonpath": [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p],
        }
        command = self._languages[spec.language]
        if spec.language == "python":
            if self.settings.fork and self._bwrap is None and not self._needs_fresh_interpreter(spec):
                request["mode"] = "fork"
                return request
            config = {k: request[k] for k in ("path", "args", "bundle_dir", "pythonpath")}
            argv = [WORKER_SCRIPT.as_posix() if a == "{path}" else a for a in command]
            argv += ["--exec", json.dumps(config)]
        else:
            argv = [a.replace("{path}", path).replace("{bundle}", bundle) for a in command]
            if "{path}" not in command:
                argv.append(path)
            argv += list(spec.args)
        if self._bwrap is not None:
            # the warm worker cannot fork into a sandbox, so a sandboxed run execs a fresh
            # interpreter (or the language's command) inside bwrap: see docs/guide/security.md
            argv = [*sandbox_argv(self._bwrap, Path(work).parent), *argv]
        request["mode"] = "exec"
        request["argv"] = argv
        return request

    def _needs_fresh_interpreter(self, spec: RunSpec) -> bool:
        for name, value in spec.env:
            if name.startswith("PYTHON") and name not in _FORKABLE_PYTHON_VARIABLES:
                return True
            if name in _STARTUP_VARIABLES and self._base_env.get(name) != value:
                return True
        return False

    def _interpret(
        self, spec: RunSpec, header: dict[str, Any], payloads: list[bytes], timeout: float,
    ) -> RunResult:
        if header.get("op") != "result":
            return self._error(spec, f"the worker answered {header.get('op')!r}")
        if header.get("missing"):
            return self._error(spec, _missing(spec, str(header["missing"])))
        if header.get("prepare_error"):
            return self._error(spec, f"could not prepare the run: {header['prepare_error']}")
        if header.get("start_error"):
            return self._error(spec, f"could not start: {header['start_error']}")
        limit = self.settings.output_limit
        out_cut, err_cut = (bool(x) for x in header.get("truncated", [False, False]))
        stdout = _decode(payloads[0] if payloads else b"", out_cut, limit)
        stderr = _decode(payloads[1] if len(payloads) > 1 else b"", err_cut, limit)
        notes = [str(n) for n in header.get("notes", [])]
        if out_cut:
            notes.append(f"stdout truncated after {_size(limit)}")
        if err_cut:
            notes.append(f"stderr truncated after {_size(limit)}")
        leftover = int(header.get("leftover") or 0)
        if leftover:
            notes.append(f"killed {_plural(leftover, 'process')} still running after the "
                         "snippet exited")
        events, trace_notes = self._trace(payloads[2] if len(payloads) > 2 else b"",
                                          str(header.get("trace_error") or ""))
        notes.extend(trace_notes)
        exit_code = header.get("exit_code")
        duration = float(header.get("duration") or 0.0)
        if header.get("aborted"):
            status, reason = "error", "the runner was closed while it ran"
        elif header.get("timed_out"):
            killed = int(header.get("killed") or 0)
            status = "timeout"
            reason = f"timed out after {timeout:g} s; killed {_plural(killed, 'process')}"
        elif exit_code == 0:
            status, reason = "passed", ""
        else:
            signal_number = header.get("signal")
            if self._bwrap is not None and isinstance(exit_code, int) and 128 < exit_code < 160:
                signal_number = exit_code - 128  # bwrap reports a child killed by a signal so
            status = "failed"
            reason = (self._limit_reason(spec, signal_number, float(header.get("cpu_time") or 0.0), stderr)
                      or _failure_reason(exit_code, signal_number, stderr))
        return RunResult(
            spec=spec, status=status, exit_code=exit_code if isinstance(exit_code, int) else None,
            stdout=stdout, stderr=stderr, duration=duration, truncated=out_cut or err_cut,
            trace=events, cached=False, reason=reason, notes=tuple(notes),
        )

    def _trace(self, data: bytes, error: str) -> tuple[tuple[dict[str, object], ...], list[str]]:
        """Events of the trace file the worker read (at most ``_TRACE_LIMIT`` + 1 bytes)."""
        notes: list[str] = []
        if error:
            return (), [f"could not read the trace: {error}"]
        if not data:
            return (), notes
        if len(data) > _TRACE_LIMIT:
            data = data[:_TRACE_LIMIT]
            notes.append(f"trace truncated after {_size(_TRACE_LIMIT)}")
        events, bad = parse_trace(data.decode("utf-8", errors="replace"))
        if bad:
            notes.append(f"ignored {bad} malformed trace line{'s' if bad != 1 else ''}")
        return events, notes

    # ------------------------------------------------------------------ results

    def _make(self, spec: RunSpec, status: str, reason: str = "",
              notes: tuple[str, ...] = ()) -> RunResult:
        return RunResult(spec=spec, status=status, exit_code=None, stdout="", stderr="",
                         duration=0.0, truncated=False, trace=(), cached=False, reason=reason,
                         notes=notes)

    def _error(self, spec: RunSpec, reason: str) -> RunResult:
        return self._make(spec, "error", reason)

    def _internal(self, spec: RunSpec, exc: BaseException) -> RunResult:
        """A bug of ours, shown as a clear error rather than a traceback."""
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        return self._make(
            spec, "error", f"internal error in the runner: {type(exc).__name__}: {exc}",
            notes=(f"please report this{where}",),
        )

    @staticmethod
    def _to_entry(result: RunResult) -> dict[str, object]:
        return {
            "status": result.status,
            "exit_code": result.exit_code,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "duration": result.duration,
            "truncated": result.truncated,
            "trace": list(result.trace),
            "reason": result.reason,
            "notes": list(result.notes),
        }

    @staticmethod
    def _from_entry(spec: RunSpec, entry: Mapping[str, Any]) -> RunResult:
        status = entry["status"]
        if status != "passed":
            raise ValueError("only passing runs are cached")
        trace = entry["trace"]
        if not isinstance(trace, list) or not all(isinstance(e, dict) for e in trace):
            raise ValueError("bad trace")
        exit_code = entry["exit_code"]
        for name in ("stdout", "stderr", "reason"):
            if not isinstance(entry[name], str):
                raise TypeError(name)
        return RunResult(
            spec=spec, status=status, exit_code=int(exit_code),
            stdout=entry["stdout"], stderr=entry["stderr"], duration=float(entry["duration"]),
            truncated=bool(entry["truncated"]), trace=tuple(trace), cached=True,
            reason=entry["reason"], notes=tuple(str(n) for n in entry["notes"]),
        )


SANDBOX_HINT = ("install bubblewrap (Debian package 'bubblewrap'); without root it needs unprivileged "
                "user namespaces (sysctl kernel.unprivileged_userns_clone=1)")


def sandbox_argv(bwrap: str, run_folder: Path) -> list[str]:
    """bubblewrap arguments: the whole file system read-only, the run's own folder (its
    working folder, HOME, TMPDIR and trace file) writable, a private /dev and /dev/shm
    (multiprocessing needs it), and its own process namespace, so it cannot read the
    environment of the build that started it in /proc. Network and reading files are not
    restricted: services such as a private redis-server are reached over loopback, and a
    snippet reads its bundle. A process the snippet leaves behind dies with it (the
    namespace ends), so inside the sandbox it is not reported as left running."""
    folder = str(run_folder)
    return [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/dev/shm", "--unshare-pid",
            "--proc", "/proc", "--bind", folder, folder, "--die-with-parent", "--"]


_SANDBOX_LOCK = threading.Lock()
_SANDBOX_PROBES: dict[str, tuple[str | None, str]] = {}


def sandbox_command(mode: str) -> tuple[str | None, str]:
    """``(bwrap path, status)`` for a sandbox mode; the path is None when runs are unconfined.

    ``bwrap`` is probed once per process by running ``true`` inside it: being installed is
    not enough (a container may forbid the user namespaces it needs).
    """
    if mode in ("off", "", "false"):
        return None, "off"
    if mode not in ("auto", "bwrap"):
        return None, f"unknown sandbox {mode!r}: use off, auto or bwrap"
    with _SANDBOX_LOCK:
        if "probe" not in _SANDBOX_PROBES:
            _SANDBOX_PROBES["probe"] = _probe_bwrap()
        found, why = _SANDBOX_PROBES["probe"]
    if found is not None:
        return found, "bwrap"
    if mode == "auto":
        return None, f"off (auto: {why})"
    return None, f"the sandbox 'bwrap' was requested but {why}; {SANDBOX_HINT}"


def _probe_bwrap() -> tuple[str | None, str]:
    found = shutil.which("bwrap")
    if found is None:
        return None, "bwrap is not installed"
    try:
        probe = subprocess.run(
            [found, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-pid", "--proc", "/proc", "--", "true"],
            capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap cannot run here ({exc})"
    if probe.returncode != 0:
        detail = probe.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"bwrap cannot run here ({detail[-1] if detail else f'exit code {probe.returncode}'})"
    return found, ""


def _missing(spec: RunSpec, what: str) -> str:
    if what == "snippet":
        return f"snippet file not found: {spec.snippet}"
    return f"bundle folder not found: {spec.bundle_dir}"


def _failure_reason(exit_code: object, signal_number: object, stderr: str) -> str:
    if isinstance(signal_number, int) and signal_number:
        try:
            name = signal.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
        return f"killed by {name}"
    reason = f"exit code {exit_code}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if lines and "Traceback (most recent call last):" in stderr and not lines[-1][0].isspace():
        reason += f" ({lines[-1].strip()[:200]})"  # e.g. "ZeroDivisionError: division by zero"
    return reason


_IDENTITY_LOCK = threading.Lock()
_IDENTITIES: dict[tuple[str, ...], object] = {}


def interpreter_identity(command: list[str]) -> object:
    """Which interpreter a command runs, without starting it (a cache hit starts nothing):
    our own ``sys.version`` when it is our executable, else the file's size and mtime."""
    key = tuple(command)
    with _IDENTITY_LOCK:
        if key in _IDENTITIES:
            return _IDENTITIES[key]
    program = command[0] if command else ""
    found = shutil.which(program) or program
    try:
        same = os.path.realpath(found) == os.path.realpath(sys.executable)
    except OSError:
        same = False
    identity: object
    if same:
        identity = {"python": sys.version, "implementation": sys.implementation.name}
    else:
        try:
            info = os.stat(found)
            identity = {"program": os.path.realpath(found), "size": info.st_size,
                        "mtime": info.st_mtime_ns}
        except OSError:
            identity = {"program": program, "missing": True}
    with _IDENTITY_LOCK:
        _IDENTITIES[key] = identity
    return identity


@contextlib.contextmanager
def running(settings: RunnerSettings | None = None) -> Iterator[Runner]:
    """``with running(settings) as runner:`` - a Runner that is always closed."""
    runner = Runner(settings)
    try:
        yield runner
    finally:
        runner.close()
