"""Warm worker: one long-lived interpreter that forks a fresh child for each snippet.

Why a separate script and not ``python -m pattern_articles._worker``: the worker must not
import ``pattern_articles`` nor anything of a bundle. Every forked child inherits the
worker's ``sys.modules``; if a bundle module were in there, an edited module would be served
stale. So this file imports only the standard library, and it runs as a plain script
(``python _worker.py --serve``), removing its own folder from ``sys.path`` before importing
anything else.

Why fork at all: a fresh interpreter costs tens of milliseconds before the snippet's first
line; ``fork()`` of this warm process costs about one. The worker pre-imports the standard
library modules that snippets commonly use, so children start with them loaded.

The worker is also the *supervisor* of what it forks, because only a process's parent can
wait for it and only an ancestor can be its subreaper:

* it is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)`` on Linux): a grandchild that
  double-forks or calls ``setsid`` is re-parented to the worker instead of init, so after the
  snippet ends (or times out) the worker walks its descendants in ``/proc`` and kills them all;
* it enforces the wall-clock timeout and caps stdout/stderr, draining the rest so the child
  never blocks on a full pipe;
* it runs one snippet at a time, so every descendant it finds belongs to that snippet.

Protocol with ``runner.py`` (over the worker's stdin/stdout pipes, moved to private fds at
start): each message is a 4-byte big-endian length, a JSON header, then the raw payloads whose
lengths the header lists in ``"payloads"``. The worker sends ``hello`` once, then answers each
``run`` request with one ``result``. EOF on its input means "stop now": it kills whatever is
running and exits.

The same file also serves ``--exec CONFIG``: the body of a snippet run in a *fresh*
interpreter, for runs whose environment changes interpreter start-up (``PYTHONHASHSEED``,
``LANG``…), which a forked child cannot honour.
"""

from __future__ import annotations

import os
import sys

# Modules any interpreter has loaded before running a script (a bundle cannot shadow them).
_STARTUP_MODULES: frozenset[str] = frozenset(sys.modules)
_HERE = os.path.dirname(os.path.realpath(__file__))
if sys.path and sys.path[0] and os.path.realpath(sys.path[0]) == _HERE:
    # our own folder is the package folder: a module there (``trace.py``) would shadow the
    # standard library for us and for every child.
    del sys.path[0]

import _signal  # type: ignore[import-not-found]  # noqa: E402  # the C module under signal
import atexit  # noqa: E402  # built in: costs the fork nothing, saves each child an import
import builtins  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import importlib.machinery  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import marshal  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402  # the run's limits: loaded here, not in every child
import select  # noqa: E402
import signal  # noqa: E402
import stat  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from typing import Any  # noqa: E402

# The worker's own sys.path, which every child starts from (the bundle goes in front).
_BASE_SYS_PATH: list[str] = list(sys.path)
# What a fresh interpreter would pick for a piped stdout in this environment.
_STDIO_ENCODING: str = getattr(sys.stdout, "encoding", None) or "utf-8"
_START_TZ: str | None = os.environ.get("TZ")  # the worker's at start (see _use_environment)
_STDOUT_ERRORS: str = getattr(sys.stdout, "errors", None) or "strict"
# Objects a child must keep alive: the worker's sys.stdout & co. wrap fds 0-2, and if they
# were collected they would close the child's fresh stdout.
_KEEP: list[object] = []

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_SUBREAPER = False  # set in _serve: whether orphans of a run come to the worker
# Set in _isolate: the worker is the first process (pid 1) of a PID namespace of its own, so
# the kernel kills every process of it the moment the worker exits, however that happens.
_NS_INIT = False
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_SLAVE = 2, 4, 8, 0x4000, 0x80000
_CHUNK = 65536
_GRACE = 0.2  # seconds descendants get to exit by themselves after the snippet exits

# Standard-library modules worth having loaded before the fork (the child then pays
# nothing for them). Only the standard library: never a bundle or third-party module.
# Only _EAGER ones load when the worker starts; the others load the first time a snippet
# imports them (see _preload): every module in the worker makes *every* fork dearer (a
# fork of a worker holding all of them cost ~1.4 ms of CPU, of one holding _EAGER ~0.3 ms;
# threading alone adds ~0.5 ms, its at-fork hooks run in each child).
_EAGER = frozenset({
    "abc", "collections", "collections.abc", "contextlib", "copy", "enum", "functools",
    "heapq", "itertools", "json", "math", "operator", "os.path", "re", "string", "typing",
    "warnings", "weakref",
})
_PREIMPORT = (
    "abc", "argparse", "asyncio", "base64", "collections", "collections.abc", "contextlib",
    "copy", "csv", "dataclasses", "datetime", "decimal", "enum", "fractions", "functools",
    "hashlib", "heapq", "inspect", "itertools", "json", "logging", "math", "operator",
    "os.path", "pathlib", "pprint", "queue", "random", "re", "secrets", "shlex", "shutil",
    "socket", "sqlite3", "statistics", "string", "subprocess", "tempfile", "textwrap",
    "threading", "traceback", "typing", "uuid", "warnings", "weakref", "zlib",
    "concurrent.futures", "concurrent.futures.thread", "multiprocessing", "unittest.mock",
)


# --------------------------------------------------------------------------- messages


def _read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly ``size`` bytes, or None at end of file."""
    parts: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _recv(fd: int) -> tuple[dict[str, Any], list[bytes]] | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (length,) = struct.unpack(">I", head)
    body = _read_exact(fd, length)
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body.decode("utf-8"))
    payloads: list[bytes] = []
    for size in message.get("payloads", []):
        payload = _read_exact(fd, int(size))
        if payload is None:
            return None
        payloads.append(payload)
    return message, payloads


def _send(fd: int, header: dict[str, Any], *payloads: bytes) -> None:
    header = dict(header, payloads=[len(p) for p in payloads])
    body = json.dumps(header).encode("utf-8")
    data = b"".join([struct.pack(">I", len(body)), body, *payloads])
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------- Linux bits


_LIBC: Any = None
_PRCTL: Any = None  # prctl(2), or None where libc has none (macOS, BSD)
_FFLUSH: Any = None  # fflush(3)


def _libc() -> Any:
    """libc through ctypes, with prctl and fflush declared, made once in the worker.

    Why so prepared: a child calls both (the parent-death signal, the final flush), and
    every first write to a page after the fork copies it. A call through ``CDLL`` releases
    and retakes the GIL and works out its argument types anew: the final flush alone cost a
    child ~20 copied pages, and now ~3. ``PyDLL`` keeps the GIL (both calls are short), and
    declared types need no working out.
    """
    global _LIBC, _PRCTL, _FFLUSH
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.PyDLL(None)
        except (OSError, ImportError):
            _LIBC = False
            return _LIBC
        with contextlib.suppress(AttributeError):
            fflush = _LIBC.fflush
            fflush.argtypes, fflush.restype = [ctypes.c_void_p], ctypes.c_int
            _FFLUSH = fflush
        if sys.platform.startswith("linux"):
            with contextlib.suppress(AttributeError):
                prctl = _LIBC.prctl
                prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
                prctl.restype = ctypes.c_int
                _PRCTL = prctl
    return _LIBC


def _prctl(option: int, value: int) -> bool:
    """Call prctl(2); False where there is no such call (macOS, BSD)."""
    if _LIBC is None:
        _libc()
    if _PRCTL is None:
        return False
    try:
        return int(_PRCTL(option, value, 0, 0, 0)) == 0
    except OSError:
        return False


def _flush_c_stdio() -> None:
    """os._exit skips libc's exit-time flush; output a C extension printf'd must not be lost."""
    if _LIBC is None:
        _libc()
    if _FFLUSH is not None:
        with contextlib.suppress(OSError):
            _FFLUSH(None)


_PROC_MODE: str | None = None  # "children", "stat" or "" (no /proc); see _descendants


def _descendants(root: int) -> list[int]:
    """Live (non-zombie) descendants of ``root``, found through /proc.

    Prefers ``/proc/<pid>/task/<tid>/children`` (cheap); falls back to reading every
    ``/proc/<pid>/stat`` when the kernel lacks CONFIG_PROC_CHILDREN.
    """
    global _PROC_MODE
    if _PROC_MODE is None:  # the kernel does not change under us: look once, not per walk
        _PROC_MODE = ("" if not os.path.isdir("/proc") else
                      "children" if os.path.exists(f"/proc/{root}/task/{root}/children") else "stat")
    if not _PROC_MODE:
        return []
    if _PROC_MODE == "children":
        found: list[int] = []
        todo = [root]
        while todo:
            pid = todo.pop()
            if pid == root and _single_threaded():
                tids = [str(pid)]  # the worker has no other thread to hold children
            else:
                try:
                    tids = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                        kids = [int(k) for k in handle.read().split()]
                except (OSError, ValueError):
                    continue
                for kid in kids:
                    if kid not in found:
                        found.append(kid)
                        todo.append(kid)
        return [pid for pid in found if not _is_zombie(pid)]
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _stat(int(name))
        if stat is not None and stat[0] != "Z":
            parents[int(name)] = stat[1]
    result: list[int] = []
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - set(result)
        result.extend(sorted(frontier))
    return result


def _single_threaded() -> bool:
    """Whether the worker has only its main thread (it starts none; a preloaded module could)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data.rsplit(b")", 1)[-1].split()
    try:
        return fields[0].decode("ascii"), int(fields[1])
    except (IndexError, ValueError):
        return None


def _is_zombie(pid: int) -> bool:
    stat = _stat(pid)
    return stat is None or stat[0] in ("Z", "X")


def _reap(statuses: dict[int, int]) -> bool:
    """Collect every exited child of the worker (the snippet's and adopted orphans); True
    when the worker has no child left at all, exited or not."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False
        statuses[pid] = status


def _sweep(statuses: dict[int, int], group: int | None) -> set[int]:
    """Kill every descendant of the worker until none is left; return the pids killed.

    Repeats because a process may fork while we kill its parent; the new child is then
    re-parented to us (we are the subreaper) and found on the next pass.
    """
    if _NS_INIT:
        return _sweep_namespace(statuses)
    killed: set[int] = set()
    first = _descendants(os.getpid())  # before killpg, so the count includes its members
    for pid in first:
        try:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        except OSError:
            pass
    if group is not None:
        with contextlib.suppress(OSError):  # without /proc, the group is all we have
            os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while True:
        none_left = _reap(statuses)
        if none_left and _SUBREAPER:
            break
        alive = _descendants(os.getpid())
        if not alive and not _SUBREAPER:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        if time.monotonic() > deadline:  # e.g. a process stuck in uninterruptible sleep
            break
        time.sleep(0.001)
    _reap(statuses)
    return killed


def _sweep_namespace(statuses: dict[int, int]) -> set[int]:
    """:func:`_sweep` for a worker that is pid 1 of its own PID namespace: ``kill(-1)`` there
    reaches every process of the namespace but the worker, and nothing outside it; every
    orphan comes to the worker, so "no child left" (ECHILD) is exact. A process between
    its fork and its parent's exit (a fork chain) is a member too: no walk of /proc to miss
    it. Returns the pids reaped here that SIGKILL ended (the killed ones)."""
    killed: set[int] = set()
    deadline = time.monotonic() + 5.0
    while True:
        with contextlib.suppress(OSError):  # ESRCH: nobody left to signal
            os.kill(-1, signal.SIGKILL)
        before = set(statuses)
        none_left = _reap(statuses)
        killed.update(pid for pid in set(statuses) - before
                      if os.WIFSIGNALED(statuses[pid]) and os.WTERMSIG(statuses[pid]) == signal.SIGKILL)
        if none_left or time.monotonic() > deadline:  # e.g. uninterruptible sleep
            return killed
        time.sleep(0.001)


# --------------------------------------------------------------------------- the child


def _signal_plan(for_exec: bool) -> list[tuple[int, Any]]:
    """The (signal, handler) changes that give a child the dispositions a freshly started
    process has; worked out in the worker before the fork, so the child only applies them.

    Only those not already right: each change in the child writes to pages it shares with
    the worker, and every such first write costs a page copy. (Applied with the C-level
    ``signal.signal``: the Python wrapper converts the previous handler to an enum, which
    touched many more shared pages.)
    """
    plan: list[tuple[int, Any]] = []
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) != signal.SIG_DFL:
            plan.append((int(number), signal.SIG_DFL))
    if for_exec:
        # what subprocess's restore_signals does: a non-Python program expects defaults
        for name in ("SIGPIPE", "SIGXFSZ", "SIGINT"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) != signal.SIG_DFL:
                plan.append((int(number), signal.SIG_DFL))
    else:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            plan.append((int(signal.SIGINT), signal.default_int_handler))
        if hasattr(signal, "SIGPIPE") and signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN:
            plan.append((int(signal.SIGPIPE), signal.SIG_IGN))  # Python's own default
    return [(number, int(handler) if isinstance(handler, int) else handler)
            for number, handler in plan]


def _apply_signal_plan(plan: list[tuple[int, Any]]) -> None:
    for number, handler in plan:
        with contextlib.suppress(OSError, ValueError):
            _signal.signal(number, handler)


def _child(request: dict[str, Any], out_w: int, err_w: int, sig_w: int,
           signals: list[tuple[int, Any]], compiled: types.CodeType | None = None,
           limits: list[tuple[int, tuple[int, int]]] | None = None) -> None:
    """In the forked child: become the snippet. Never returns."""
    code = 70
    try:
        os.setpgid(0, 0)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the worker dies -> the snippet dies
        # fd 0 is already /dev/null, read-only: the worker's own (see _serve)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, sig_w)
        os.closerange(sig_w + 1, _max_fd())
        os.chdir(request["cwd"])
        _apply_limits(limits or [])
        _apply_signal_plan(signals)
        if request["mode"] == "exec":
            argv = [str(a) for a in request["argv"]]
            try:
                os.execvpe(argv[0], argv, request["env"])
            except OSError as exc:
                os.write(sig_w, f"{argv[0]}: {exc.strerror or exc}".encode())
                code = 127
        else:
            _become_snippet(request, fresh_interpreter=False)
            code = _run_main(request["path"], started=lambda: os.close(sig_w), compiled=compiled)
    except BaseException as exc:  # the snippet never started: tell the worker why
        with contextlib.suppress(OSError):
            os.write(sig_w, f"{type(exc).__name__}: {exc}".encode())
    os._exit(code)


_LIMIT_PLANS: dict[tuple[int, float], list[tuple[int, tuple[int, int]]]] = {}


def _limit_plan(request: dict[str, Any]) -> list[tuple[int, tuple[int, int]]]:
    """The ``setrlimit`` calls for a run's memory and CPU-time limits (see runner.py's
    _memory_limit for why RLIMIT_DATA), worked out in the worker, once per pair of limits,
    so the child makes only the calls. They hold across exec and are inherited by every
    process the run starts. RLIMIT_CPU's soft limit sends SIGXCPU, the hard one a second
    later SIGKILL. A limit is only ever lowered: a lower one set from outside stays."""
    memory = int(request.get("memory_limit") or 0)
    cpu = float(request.get("cpu_limit") or 0)
    known = _LIMIT_PLANS.get((memory, cpu))
    if known is not None:
        return known
    plan: list[tuple[int, tuple[int, int]]] = []
    if memory:
        plan.append((resource.RLIMIT_DATA, _lowered(resource.RLIMIT_DATA, memory, memory)))
    if cpu:
        seconds = max(1, int(-(-cpu // 1)))  # whole seconds, rounded up
        plan.append((resource.RLIMIT_CPU, _lowered(resource.RLIMIT_CPU, seconds, seconds + 1)))
    if len(_LIMIT_PLANS) > 64:
        _LIMIT_PLANS.clear()
    _LIMIT_PLANS[(memory, cpu)] = plan
    return plan


def _lowered(which: int, soft: int, hard: int) -> tuple[int, int]:
    old_soft, old_hard = resource.getrlimit(which)
    infinity = resource.RLIM_INFINITY
    hard = hard if old_hard == infinity else min(hard, old_hard)
    soft = min(soft, hard) if old_soft == infinity else min(soft, old_soft, hard)
    return soft, hard


def _apply_limits(plan: list[tuple[int, tuple[int, int]]]) -> None:
    for which, pair in plan:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, pair)


def _max_fd() -> int:
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        limit = 1024
    return limit if limit > 0 else 1024


def _become_snippet(request: dict[str, Any], fresh_interpreter: bool) -> None:
    """Make this interpreter look like ``python <snippet> <args>`` started in the run folder."""
    sys.dont_write_bytecode = True
    if not fresh_interpreter:
        # the environment (and the time zone it names) is already the snippet's: the worker
        # set it before the fork (see _use_environment), so the child copies no page for it
        _fresh_stdio()
    path = request["path"]
    sys.argv = [path, *request["args"]]
    base = list(_BASE_SYS_PATH)  # our own folder was removed from it at import
    extra = [p for p in request.get("pythonpath", []) if p not in base]
    sys.path[:] = [request["bundle_dir"], *extra, *base]
    _unshadow(request["bundle_dir"])
    # no importlib.invalidate_caches(): the bundle's folder gets a fresh finder in each child
    # (the worker never imports from it), and the worker's finders re-list a folder whose
    # mtime changed; invalidating made every child re-list the standard library and
    # site-packages on its first import
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # type: ignore[attr-defined]  # re-read TMPDIR
    # no random.seed(): the random module reseeds itself in every forked child
    # (os.register_at_fork), so sequences already differ per run
    sys.excepthook = sys.__excepthook__


def _unshadow(bundle_dir: str) -> None:
    """Forget pre-imported modules that a bundle module of the same name shadows.

    In ``python flow.py`` a bundle's ``queue.py`` wins over the standard library's, because
    nothing imported ``queue`` before the bundle came first on sys.path. Our pre-imports
    must not change that.
    """
    try:
        entries = os.listdir(bundle_dir)
    except OSError:
        return
    for entry in entries:
        name = entry[:-3] if entry.endswith(".py") else entry
        if name in sys.modules and name not in _STARTUP_MODULES:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]


_STDIO: tuple[Any, Any, Any] | None = None  # see _prepare_stdio


def _open_stdio() -> tuple[Any, Any, Any]:
    """sys.stdin/stdout/stderr objects over fds 0, 1 and 2, as a fresh interpreter makes."""
    return (
        io.open(0, "r", encoding=_STDIO_ENCODING, closefd=False),  # noqa: UP020
        io.open(  # noqa: UP020
            1, "w", encoding=_STDIO_ENCODING, errors=_STDOUT_ERRORS, closefd=False
        ),
        io.open(  # noqa: UP020
            2, "w", buffering=1, encoding=_STDIO_ENCODING, errors="backslashreplace",
            closefd=False,
        ),
    )


def _prepare_stdio() -> None:
    """Make, once in the worker, the stdio objects every child starts with.

    A child's fd 0 is /dev/null and its fds 1 and 2 are pipes, every time; so the objects
    are made over exactly that (a pipe moved onto fds 1 and 2 for the moment), and what
    they find out at creation (not seekable, not a terminal, block size) holds in every
    child. Each child gets its own copy of them with the fork, unused, instead of making
    three objects itself (~90 copied pages per run). The worker never uses them.
    """
    global _STDIO
    _KEEP.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__,
                  sys.__stderr__])
    saved = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    try:
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        _STDIO = _open_stdio()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, read_end, write_end):
            os.close(fd)


def _fresh_stdio() -> None:
    """Fresh sys.stdin/stdout/stderr objects over the child's fds 0, 1 and 2."""
    if _STDIO is None:
        _KEEP.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__,
                      sys.__stderr__])
    sys.stdin, sys.stdout, sys.stderr = _STDIO if _STDIO is not None else _open_stdio()
    sys.__stdin__ = sys.stdin  # type: ignore[misc]
    sys.__stdout__ = sys.stdout  # type: ignore[misc]
    sys.__stderr__ = sys.stderr  # type: ignore[misc]


def _run_main(path: str, started: Any = None, compiled: types.CodeType | None = None) -> int:
    """Run ``path`` as ``__main__`` the way the interpreter does; return the exit code.

    ``compiled``: the file's code as the runner compiled it (see :func:`_shipped`)."""
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__spec__ = None
    sys.modules["__main__"] = main
    code = 0
    in_snippet = False
    try:
        if compiled is None:
            with open(path, "rb") as handle:
                source = handle.read()
            compiled = compile(source, path, "exec", dont_inherit=True)
        if started is not None:
            started()
        in_snippet = True
        exec(compiled, main.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:
        # the interpreter shows no frame of ours: start at the snippet's own module frame
        tb = exc.__traceback__.tb_next if (in_snippet and exc.__traceback__) else None
        exc.__traceback__ = tb  # the default hook prints the exception's own traceback
        if started is not None and not in_snippet:
            started()  # a syntax error is the snippet's failure, not a start failure
        try:
            sys.excepthook(type(exc), exc, tb)
        except BaseException:
            sys.__excepthook__(type(exc), exc, tb)
        code = 1
    return _finalise(code)


def _exit_code(exc: SystemExit) -> int:
    value = exc.code
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(BaseException):
        print(value, file=sys.stderr)
    return 1


def _finalise(code: int) -> int:
    """What interpreter shutdown does: join non-daemon threads, run atexit, flush."""
    # as CPython's own shutdown: no threading module imported, no thread to wait for
    threading = sys.modules.get("threading")
    try:
        shutdown = getattr(threading, "_shutdown", None)
        if threading is None:
            pass
        elif shutdown is not None:
            shutdown()
        else:  # pragma: no cover - every CPython has it
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            code = code or 120  # what CPython does when the final flush fails
    _flush_c_stdio()
    return code


# --------------------------------------------------------------------------- run folders
# The runner names the run folder, inside a private folder of this worker's (``<base>/run``,
# holding work/, home/ and tmp/; the trace file goes next to them). It must be fresh for
# each run and gone after it. Making and removing four folders per run cost more than the
# rest of the bookkeeping together, so a run folder the snippet left exactly as it found it
# (three empty folders, same modes and owners) stays where it is for the next run: a folder
# indistinguishable from a fresh one. (It used to be renamed aside and back, two renames a
# run for nothing: no process of the run outlives it, and nobody else writes there.)
# Anything else (a file left behind, a changed mode) and the folder is removed, the next
# one made from scratch.

_RUN_DIRS = ("home", "tmp", "work")  # sorted, as compared in _pristine
_READY: set[str] = set()  # run folders found pristine after their last run
_FRESH: dict[str, list[tuple[int, int, int]]] = {}  # base -> (mode, uid, gid) of a new folder


def _prepare_folder(folder: str) -> None:
    """Make ``folder`` a fresh run folder with empty work/, home/ and tmp/."""
    if folder in _READY:
        _READY.discard(folder)
        with contextlib.suppress(OSError):  # gone meanwhile (a tmp cleaner?): made anew
            if stat.S_ISDIR(os.lstat(folder).st_mode):
                return
    base = os.path.dirname(folder)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:  # what a failed clean-up left (it was retried): never reuse it
        _remove_tree(folder)
        os.mkdir(folder, 0o700)
    for name in _RUN_DIRS:
        os.mkdir(os.path.join(folder, name))
    _FRESH[base] = [_owner_mode(folder), *(_owner_mode(os.path.join(folder, n)) for n in _RUN_DIRS)]


def _owner_mode(path: str) -> tuple[int, int, int]:
    info = os.lstat(path)
    return info.st_mode, info.st_uid, info.st_gid


def _recycle_folder(folder: str, trace: str) -> None:
    """After a run: keep the folder for the next run if it is as it was made, else remove it."""
    with contextlib.suppress(OSError):
        os.unlink(trace)  # read already; a folder or an undeletable one: _pristine says no
    if _pristine(folder, _FRESH.get(os.path.dirname(folder))):
        _READY.add(folder)
        return
    _remove_tree(folder)


def _pristine(folder: str, fresh: list[tuple[int, int, int]] | None) -> bool:
    """Whether ``folder`` holds exactly its three empty folders, all as they were made."""
    if fresh is None:
        return False
    try:
        if _owner_mode(folder) != fresh[0]:
            return False
        with os.scandir(folder) as entries:
            if sorted(entry.name for entry in entries) != list(_RUN_DIRS):
                return False
        for name, made in zip(_RUN_DIRS, fresh[1:], strict=True):
            path = os.path.join(folder, name)
            if _owner_mode(path) != made:
                return False
            with os.scandir(path) as entries:
                if next(entries, None) is not None:
                    return False
    except OSError:
        return False
    return True


def _remove_tree(top: str) -> None:
    """Remove a folder tree, even where the snippet made parts of it read-only; never raises.

    Iterative (a snippet may nest folders deeper than the recursion limit) and without
    shutil, which the worker would otherwise import for every later fork to carry.
    """
    todo: list[tuple[str, bool]] = [(top, False)]
    while todo:
        path, listed = todo.pop()
        if listed:
            with contextlib.suppress(OSError):
                os.rmdir(path)
            continue
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode):
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        if mode & 0o700 != 0o700:
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700)  # to list it and remove what is inside
        todo.append((path, True))
        try:
            with os.scandir(path) as entries:
                todo.extend((entry.path, False) for entry in entries)
        except OSError:
            continue


def _read_trace(path: str, limit: int) -> tuple[bytes, str]:
    """The first ``limit + 1`` bytes of the run's trace file (the runner notes a cut) and
    why it could not be read. Non-blocking: a snippet may have left a FIFO there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b"", ""
    except OSError as exc:
        return b"", exc.strerror or str(exc)
    parts: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except BlockingIOError:
        pass
    except OSError as exc:
        return b"", exc.strerror or str(exc)
    finally:
        os.close(fd)
    return b"".join(parts), ""


# --------------------------------------------------------------------------- cache inputs
# The runner caches a passing run only if the files its key was computed from did not change
# while it ran; the worker checks, once the run is over (see runner.py's Runner._store). The
# signature is cache.py's _signature, repeated: this file imports no module of the package.


def _signature(path: str) -> list[int] | None:
    """What changes whenever a file or folder is written: mtime, ctime, size, inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def _settled(watch: list[Any]) -> bool:
    """Whether every ``[path, signature]`` still has that signature."""
    return all(signature is not None and _signature(name) == signature for name, signature in watch)


# --------------------------------------------------------------------------- environment

_WORKER_ENV: dict[str, str] = dict(os.environ)  # the worker's own, for its own imports
_TZ: str | None = _START_TZ  # the TZ the worker's C library last read
# The environment _use_environment last set (None: unknown, e.g. after the worker imported
# modules, which may have changed os.environ).
_ENV_SET: dict[str, str] | None = None


def _use_environment(env: dict[str, str]) -> None:
    """Make the worker's environment ``env`` (changing only what differs from the last run).

    Done in the worker before the fork rather than in the child: the child then starts with
    the snippet's ``os.environ`` and C environment, and copies none of the pages clearing and
    refilling them would write (~80 page copies per run). The worker itself reads nothing
    from its environment after start-up (its imports switch back to its own first).
    """
    global _TZ, _ENV_SET
    if env == _ENV_SET:  # the usual run: the same environment as the last one
        return
    current = os.environ
    for name in [name for name in current if name not in env]:
        del current[name]
    for name, value in env.items():
        if current.get(name) != value:
            current[name] = value
    tz = env.get("TZ")
    if tz != _TZ and hasattr(time, "tzset"):
        time.tzset()  # TZ is read once per process: a child inherits what the worker read
        _TZ = tz
    _ENV_SET = env


# --------------------------------------------------------------------------- supervisor


class _Capture:
    """A capped buffer for one pipe: keeps the first ``limit`` bytes, drains the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self.open = True

    def read(self) -> None:
        try:
            chunk = os.read(self.fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.open = False
            return
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.truncated = True


def _shipped(request: dict[str, Any], data: list[bytes]) -> types.CodeType | None:
    """The snippet's code the runner sent with the request, or None (the child compiles).

    Why the runner compiles: it compiles every snippet anyway, to compute its cache key
    (cache.py), and a compile in the forked child cost ~0.35 ms of CPU, twice what it costs
    in a process that does not fork (the compiler's scratch memory is fresh pages in a
    child). Used only when it is what this worker would compile itself: a code object
    named by the path it runs, with the optimisation level of this interpreter (0).
    """
    if not request.get("code") or not data or sys.flags.optimize:
        return None
    try:
        code = marshal.loads(data[0])
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(code, types.CodeType) or code.co_filename != request["path"]:
        return None
    return code


def _run(request: dict[str, Any], ctl_in: int,
         compiled: types.CodeType | None = None) -> tuple[dict[str, Any], list[bytes], bool]:
    """Run one snippet in its run folder; returns (header, [stdout, stderr, trace], stop)."""
    # the runner's checks, made here (see runner.py's _execute)
    if not os.path.isfile(request["path"]):
        return {"op": "result", "missing": "snippet"}, [], False
    if not os.path.isdir(request["bundle_dir"]):
        return {"op": "result", "missing": "bundle"}, [], False
    folder = request.get("folder")
    if folder:
        try:
            _prepare_folder(folder)
        except OSError as exc:
            _remove_tree(folder)
            return {"op": "result", "prepare_error": f"{exc.strerror or exc}: {exc.filename or folder}"}, [], False
    if request["mode"] == "fork":
        _use_environment(request["env"])
    header, out, err, stop = _supervise(
        request, ctl_in, _signal_plan(request["mode"] == "exec"),
        compiled if request["mode"] == "fork" else None)
    payloads = [out, err]
    if folder:
        # every process of the run is gone (swept), so nothing writes the trace any more
        trace, error = _read_trace(request["trace"], int(request["trace_limit"]))
        if error:
            header["trace_error"] = error
        payloads.append(trace)
        _recycle_folder(folder, request["trace"])
    watch = request.get("watch")
    if watch is not None and header.get("exit_code") == 0 and not header.get("timed_out"):
        header["settled"] = _settled(watch)
    return header, payloads, stop


def _supervise(
    request: dict[str, Any], ctl_in: int, signals: list[tuple[int, Any]],
    compiled: types.CodeType | None = None,
) -> tuple[dict[str, Any], bytes, bytes, bool]:
    """Fork, supervise and clean up one snippet; returns (header, stdout, stderr, stop)."""
    timeout = float(request["timeout"])
    limit = int(request["limit"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sig_r, sig_w = os.pipe()  # close-on-exec: EOF with nothing written means "it started"
    limits = _limit_plan(request)
    start = time.monotonic()
    # Freeze the worker's objects for the fork: the child's garbage collector then never
    # walks them. When a child's allocations tipped an older generation's collection (which
    # depended on the worker's allocation history), it wrote to the header of every object
    # the worker holds, copying ~400 shared pages (~1.5 ms of CPU). The worker unfreezes
    # right after, so its own garbage stays collectable.
    gc.freeze()
    try:
        pid = os.fork()
    except OSError as exc:  # e.g. EAGAIN: too many processes
        gc.unfreeze()
        for fd in (out_r, out_w, err_r, err_w, sig_r, sig_w):
            os.close(fd)
        return {"op": "result", "start_error": f"fork failed: {exc.strerror or exc}"}, b"", b"", False
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(out_r)
        os.close(err_r)
        os.close(sig_r)
        _child(request, out_w, err_w, sig_w, signals, compiled, limits)
    gc.unfreeze()
    for fd in (out_w, err_w, sig_w):
        os.close(fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also from here, so killpg works whoever runs first
    statuses: dict[int, int] = {}
    # Whether the snippet started is read once the child is gone (it wrote why not to the
    # signal pipe, or closed it unwritten as it started): waiting for that here, before
    # polling, cost the worker a wake-up per run.
    captures = [_Capture(out_r, limit), _Capture(err_r, limit)]
    for fd in (out_r, err_r):
        os.set_blocking(fd, False)

    pidfd = -1
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1
    poller = select.poll()
    for cap in captures:
        poller.register(cap.fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    poller.register(ctl_in, select.POLLIN)
    deadline = start + timeout
    timed_out = stop = False
    status: int | None = None
    cpu_time = 0.0
    end = start
    while status is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        wait = remaining if pidfd >= 0 else min(remaining, 0.005)
        for fd, _event in poller.poll(max(1, int(wait * 1000) + 1)):
            if fd == ctl_in:
                stop = True  # the runner closed us (or died): abandon the run
            elif fd != pidfd:
                for cap in captures:
                    if cap.fd == fd and cap.open:
                        cap.read()
                        if not cap.open:
                            poller.unregister(fd)
        if stop:
            break
        try:
            done, raw, usage = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            done, raw, usage = pid, 0, None
        if done == pid:
            status = raw
            end = time.monotonic()
            if usage is not None:  # for a CPU-time limit's SIGKILL (see runner.py)
                cpu_time = usage.ru_utime + usage.ru_stime
    # from here on only the output pipes matter (an exited pidfd would always be "ready")
    poller.unregister(ctl_in)
    if pidfd >= 0:
        poller.unregister(pidfd)
        os.close(pidfd)
    clear = False
    if status is None:
        end = time.monotonic()
    elif not stop:
        clear = _grace(captures, poller, statuses)
    killed = set() if clear else _sweep(statuses, pid)
    if status is None:
        status = statuses.get(pid)
    failure = _failure(sig_r)
    if failure and not stop:
        for cap in captures:
            os.close(cap.fd)
        return {"op": "result", "start_error": failure.decode("utf-8", "replace")}, b"", b"", False

    notes: list[str] = []
    # every writer is dead now, so the pipes reach EOF; the bound only guards against a
    # process outside our tree that somehow holds them
    drain_deadline = time.monotonic() + 2.0
    while any(cap.open for cap in captures):
        if time.monotonic() > drain_deadline:
            notes.append("output pipes stayed open after the run; stopped reading")
            break
        ready = [fd for fd, _ in poller.poll(50)]
        for cap in captures:
            if cap.open and cap.fd in ready:
                cap.read()
                if not cap.open:
                    poller.unregister(cap.fd)
    for cap in captures:
        os.close(cap.fd)

    exit_code: int | None = None
    signal_number: int | None = None
    if status is not None and not timed_out and not stop:
        if os.WIFEXITED(status):
            exit_code = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            signal_number = os.WTERMSIG(status)
            exit_code = -signal_number
    header: dict[str, Any] = {
        "op": "result",
        "start_error": None,
        "exit_code": exit_code,
        "signal": signal_number,
        "timed_out": timed_out,
        "aborted": stop,
        "duration": end - start,
        "cpu_time": cpu_time,
        "killed": len(killed | ({pid} if timed_out else set())),
        "leftover": len(killed - {pid}) if not timed_out else 0,
        "truncated": [captures[0].truncated, captures[1].truncated],
        "notes": notes,
    }
    return header, bytes(captures[0].data), bytes(captures[1].data), stop


def _failure(sig_r: int) -> bytes:
    """Why the snippet could not start, as the child wrote it to the signal pipe (b"" when
    it started); closes the pipe. Called once the child is gone: every writer is closed."""
    os.set_blocking(sig_r, False)
    failure = b""
    try:
        while True:
            chunk = os.read(sig_r, _CHUNK)
            if not chunk:
                break
            failure += chunk
    except OSError:  # BlockingIOError: a writer somehow still open; what came is the reason
        pass
    finally:
        os.close(sig_r)
    return failure


def _grace(captures: list[_Capture], poller: Any, statuses: dict[int, int]) -> bool:
    """Give helpers a moment to exit on their own once the snippet has exited; True when
    no descendant is left (then there is nothing to sweep: only a live descendant could
    start another process). The usual run's snippet starts no process, and a subreaper
    worker then knows that from ``waitpid`` alone, without reading /proc.

    Some exit right after their parent by design (multiprocessing's resource tracker sees
    its pipe close); only what is still running after this is a leftover worth a note.
    Output keeps being read meanwhile, so nobody blocks on a full pipe.
    """
    deadline = time.monotonic() + _GRACE
    while True:
        if _reap(statuses) and _SUBREAPER:
            # no child at all: as the subreaper the worker adopts every orphan of the run
            # (before its parent can be reaped), so a live descendant would be one of its
            # children or below one; the usual run needs no look at /proc
            return True
        # Under a subreaper "no child" is the only exact answer: a walk of /proc misses a
        # process between its fork and its parent's exit, and a fork chain (fork, exit,
        # repeat) is never anywhere else, so it passed as clean and kept running.
        if not _SUBREAPER and not _descendants(os.getpid()):
            return True
        if time.monotonic() >= deadline:
            return False
        ready = {fd for fd, _ in poller.poll(5)}
        for cap in captures:
            if cap.open and cap.fd in ready:
                cap.read()
                if not cap.open:
                    poller.unregister(cap.fd)


def _preimport(names: Iterable[str] = _EAGER) -> None:
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:
            continue


_IMPORT_RE = re.compile(
    rb"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?[ \t]*([\w., \t]*)|import[ \t]+([\w., \t]+))",
    re.MULTILINE,
)
_SCANNED: dict[tuple[str, int, int], tuple[frozenset[str], frozenset[str]]] = {}


def _scan(path: str) -> tuple[frozenset[str], frozenset[str]]:
    """Dotted names a Python file imports (a quick scan, not a parse: it only decides what to
    load ahead, so a miss costs the child an import and nothing else) and their top levels."""
    try:
        info = os.stat(path)
        key = (path, info.st_mtime_ns, info.st_size)
        known = _SCANNED.get(key)
        if known is not None:
            return known
        with open(path, "rb") as handle:
            source = handle.read(1 << 20)
    except OSError:
        return frozenset(), frozenset()
    names: set[str] = set()
    for match in _IMPORT_RE.finditer(source):
        if match.group(1):  # from a.b import c, d
            module = match.group(1).decode("ascii", "replace")
            names.add(module)
            for item in match.group(2).decode("ascii", "replace").split(","):
                word = item.split()[0] if item.split() else ""
                if word and word != "*":
                    names.add(f"{module}.{word}")
        else:  # import a.b, c as d
            for item in match.group(3).decode("ascii", "replace").split(","):
                word = item.split()[0] if item.split() else ""
                if word:
                    names.add(word)
    tops = frozenset(n.split(".")[0] for n in names if n and not n.startswith("."))
    result = (frozenset(names), tops)
    if len(_SCANNED) > 4096:
        _SCANNED.clear()
    _SCANNED[key] = result
    return result


def _preload(request: dict[str, Any]) -> None:
    """Load into the worker the pre-importable modules this snippet (or a bundle module it
    imports) imports, so this child and every later one get them for free."""
    global _ENV_SET
    bundle = request.get("bundle_dir") or ""
    if "imports" in request:  # what the runner's analysis found (see _shipped): no scan
        names = frozenset(str(name) for name in request["imports"])
        tops = frozenset(name.split(".")[0] for name in names)
        todo: list[str] = []
    else:
        names, tops = _scan(request["path"])
        todo = [t for t in tops if t]
    seen = {request["path"]}
    while todo and len(seen) < 64:  # bundle modules the snippet imports, transitively
        top = todo.pop()
        for local in (os.path.join(bundle, f"{top}.py"), os.path.join(bundle, top)):
            files = [local] if local.endswith(".py") else (
                [os.path.join(local, f) for f in sorted(os.listdir(local)) if f.endswith(".py")]
                if os.path.isdir(local) else [])
            for file in files:
                if file in seen or not os.path.isfile(file):
                    continue
                seen.add(file)
                more, more_tops = _scan(file)
                names |= more
                todo.extend(t for t in more_tops - tops if t)
                tops |= more_tops
    wanted = [m for m in _PREIMPORT if m in names and m not in sys.modules
              and not _shadowed(bundle, m.split(".")[0])]
    if wanted:
        _use_environment(_WORKER_ENV)  # imported as at start, not under the last snippet's
        _preimport(wanted)
        _ENV_SET = None  # an import may have changed os.environ: the next run sets it whole


def _shadowed(bundle: str, top: str) -> bool:
    return bool(bundle) and (os.path.exists(os.path.join(bundle, f"{top}.py"))
                             or os.path.isdir(os.path.join(bundle, top)))


# --------------------------------------------------------------------------- containment
# What makes "no process of a run outlives it" hold whatever stops the build (see the
# security guide, "What holds where"). The process the runner starts is a *guard*: it forks
# the real worker and only watches it. Where the kernel allows (root, or unprivileged user
# namespaces), the worker is pid 1 of a PID namespace of its own: when it exits - killed by
# the parent-death signal because the build died, killed by a snippet or by anyone - the
# kernel kills every process of the namespace, daemons and fork chains included, and a
# snippet cannot signal anything outside it (nor the worker: pid 1 ignores what it has no
# handler for). Elsewhere both guard and worker are child subreapers: orphans come to the
# worker, and to the guard if the worker dies; the guard, which keeps no parent-death
# signal there, sees the runner's end of the pipe close (the build died) or the worker
# exit, and kills all it finds below itself. One namespace per worker, not per run: the
# worker sweeps its namespace after each run (kill(-1)), so this costs the runs nothing.


def _libc_call(name: str, argtypes: list[Any]) -> Any:
    """A libc function returning int, through ctypes (None where there is none)."""
    import ctypes

    libc = _libc()
    if not libc:
        return None
    try:
        function = getattr(libc, name)
    except AttributeError:
        return None
    function.argtypes, function.restype = argtypes, ctypes.c_int
    return function


def _unshare(flags: int) -> bool:
    import ctypes

    call = _libc_call("unshare", [ctypes.c_int])
    return call is not None and int(call(flags)) == 0


def _write_file(path: str, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, text.encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _own_proc() -> bool:
    """Give the namespace a /proc of its own (its pids, as os.getpid() says), mounted in a
    private copy of the mounts whose changes never propagate back (slave). Best effort: a
    container may forbid it; the worker then never reads /proc (see _sweep_namespace)."""
    import ctypes

    mount = _libc_call("mount", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.c_ulong, ctypes.c_void_p])
    if mount is None or int(mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None)) != 0:
        return False  # never mount with propagation on: it would cover the host's /proc
    return int(mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)) == 0


def _drop_capabilities() -> None:
    """In a user namespace of our own the worker holds every capability over it; a forked
    snippet would inherit them (and could mount over its view, say). Nothing needs them."""
    import ctypes

    capset = _libc_call("capset", [ctypes.c_void_p, ctypes.c_void_p])
    if capset is None:
        return
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all zero
    capset(ctypes.addressof(header), ctypes.addressof(data))


def _isolate(wanted: str, watch: int = -1) -> str:
    """Fork the worker under its guard; returns (in the worker) how runs are contained:
    "pid-namespace", "user-namespace" or "subreaper". The guard never returns."""
    mode = "subreaper"
    if wanted == "auto" and sys.platform.startswith("linux"):
        uid, gid = os.getuid(), os.getgid()
        if _unshare(_CLONE_NEWPID | _CLONE_NEWNS):
            mode = "pid-namespace"
        elif _unshare(_CLONE_NEWUSER | _CLONE_NEWPID | _CLONE_NEWNS):
            # the same ids inside as outside: files a snippet makes are the user's own
            _write_file("/proc/self/setgroups", "deny")
            _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
            _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
            mode = "user-namespace"
    alive_r, alive_w = os.pipe()  # the guard holds the write end while it lives
    pid = os.fork()
    if pid == 0:
        global _NS_INIT
        os.close(alive_w)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the guard dies -> the worker dies
        if select.select([alive_r], [], [], 0)[0]:  # EOF: it died before the line above
            os._exit(0)
        os.close(alive_r)
        if watch >= 0:
            os.close(watch)  # the guard's to watch
        if mode != "subreaper":
            _NS_INIT = True
            _own_proc()
            if mode == "user-namespace":
                _drop_capabilities()
        return mode
    os.close(alive_r)
    _guard(pid, mode, watch)
    os._exit(0)  # pragma: no cover - _guard exits


class _Stop(Exception):
    """SIGTERM to the guard (the runner's way to kill a wedged worker)."""


def _on_sigterm(_number: int, _frame: Any) -> None:
    raise _Stop


def _guard(child: int, mode: str, watch: int) -> None:
    """The guard's life: wait for the worker to exit, or for the runner to go (its end of
    the ``watch`` pipe closes: the build died), then make sure nothing is left."""
    null = os.open(os.devnull, os.O_RDWR)
    # the request and reply pipes are the worker's alone: a request sent to a dead worker
    # must fail (it was "gone", and the runner starts another), its death be the reply's EOF
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    ctl = watch if watch >= 0 else os.open(os.devnull, os.O_RDONLY)  # none: wait for the worker
    if mode == "subreaper":
        global _SUBREAPER
        _SUBREAPER = _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _prctl(_PR_SET_PDEATHSIG, 0)  # outlive the build by a moment: the sweep below is ours
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        pidfd = os.pidfd_open(child)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        pidfd = -1
    poller = select.poll()
    poller.register(ctl, 0)  # no events asked: only the hang-up (every writer closed) wakes us
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    status: int | None = None
    try:
        while status is None:
            events = poller.poll(-1 if pidfd >= 0 else 200)
            status = _exited(child)
            if status is None and any(fd == ctl for fd, _ in events):
                # the worker saw the same EOF: it kills what runs and exits; a moment for it
                deadline = time.monotonic() + 5.0
                while status is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                    status = _exited(child)
                if status is None:
                    os.kill(child, signal.SIGKILL)  # ends its namespace too
                    status = os.waitpid(child, 0)[1]
    except _Stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the sweep short
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
        status = status if status is not None else os.waitpid(child, 0)[1]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "subreaper":
        _sweep({}, None)  # what the worker left or adopted came to us when it died
    if os.WIFSIGNALED(status):  # exit as the worker did, so the runner tells what it saw
        number = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(number, signal.SIG_DFL)  # (SIGKILL has no handler to reset)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _exited(pid: int) -> int | None:
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if done == pid else None


def _serve(parent: int, isolation: str = "auto", watch: int = -1) -> int:
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent and os.getppid() != parent:
        return 0  # the runner died before we could ask to die with it
    mode = _isolate(isolation, watch)  # from here on, this is the worker (the guard stays behind)
    ctl_in = os.dup(0)
    ctl_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # every child's stdin too: it inherits this one
    os.close(null)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # a stray print must never corrupt the protocol
    os.close(null)
    global _SUBREAPER
    # pid 1 of a namespace adopts every orphan in it, as a subreaper does
    subreaper = _SUBREAPER = _prctl(_PR_SET_CHILD_SUBREAPER, 1) or _NS_INIT
    _preimport()
    # The first compile() in a process builds the ``ast`` node types (over a hundred
    # classes); done here once, instead of in every child that compiles its snippet
    # (measured: ~0.9 ms of CPU and ~120 copied pages per child).
    compile("", "<warm-up>", "exec", dont_inherit=True)
    _prepare_stdio()
    _send(ctl_out, {
        "op": "hello",
        "pid": os.getpid(),
        "version": sys.version,
        "subreaper": subreaper,
        "isolation": mode,
        "pidfd": hasattr(os, "pidfd_open"),
    })
    while True:
        received = _recv(ctl_in)
        if received is None:
            break
        request, data = received
        if request.get("op") == "stop":
            break
        if request.get("op") != "run":
            _send(ctl_out, {"op": "error", "message": f"unknown request {request.get('op')!r}"})
            continue
        try:
            if request.get("mode") == "fork":
                with contextlib.suppress(Exception):  # only ever a head start, never a failure
                    _preload(request)
            header, payloads, stop = _run(request, ctl_in, _shipped(request, data))
        except Exception as exc:  # a bug of ours: report it, clean up, keep serving
            _sweep({}, None)
            if request.get("folder"):
                _remove_tree(request["folder"])
            header, payloads, stop = (
                {"op": "result", "start_error": f"worker error: {type(exc).__name__}: {exc}"},
                [], False,
            )
        if stop:
            break
        _send(ctl_out, header, *payloads)
    _sweep({}, None)
    return 0


def _exec_main(config: str) -> int:
    """``--exec``: run one snippet in this (fresh) interpreter; stdio and env are set."""
    request: dict[str, Any] = json.loads(config)
    _become_snippet(request, fresh_interpreter=True)
    code = _run_main(request["path"])
    os._exit(code)


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "--exec":
        return _exec_main(argv[2])
    parent = 0
    if len(argv) >= 4 and argv[1] == "--serve" and argv[2] == "--parent":
        parent = int(argv[3])
    isolation = argv[5] if len(argv) >= 6 and argv[4] == "--isolation" else "auto"
    watch = int(argv[7]) if len(argv) >= 8 and argv[6] == "--watch" else -1
    return _serve(parent, isolation, watch)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
