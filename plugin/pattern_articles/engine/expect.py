"""Golden outputs: compare a run's output with its expected file, mask what may vary.

Each snippet's expected output lives in its bundle: ``expected/<stem>.txt``, or
``expected/<stem>.<scenario>.txt`` for a named scenario. A run whose output differs fails
with a unified diff labelled with the golden file's path and "actual output", so the author
sees both what changed and which file to look at.

Normalisers mask what legitimately varies between runs. They are applied to *both* sides
before comparing, so a golden may hold the real text of one run (what ``update`` writes) and
still match the next. Built-ins (:data:`BUILTIN_NORMALISERS`):

``timestamps``  ISO dates/datetimes, times of day, ``time.ctime()`` stamps -> ``<timestamp>``
``uuids``       ``8-4-4-4-12`` UUIDs and 32-hex ``uuid4().hex`` -> ``<uuid>``
``durations``   ``0.123s``, ``12 ms``, ``1.5 seconds``, ``0:00:01.5`` -> ``<duration>``
``addresses``   ``0x7f3a2c1b9e40`` (memory addresses) -> ``0x<address>``
``tmp-paths``   the system temporary folder and ``/tmp/...`` paths -> ``<tmp>``
``sort-lines``  sorts the lines, for output whose order is legitimately free

and custom ones: ``{"pattern": <regex>, "replace": <text>}`` (``re.sub`` semantics, with
``re.MULTILINE`` so ``^`` and ``$`` work per line). They run in the order given.

Comparison is exact except for line endings (CRLF = LF) and trailing newlines at the end,
which editors add or strip at will.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import marshal
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..content.goldens import BUILTIN_NORMALISERS, GOLDEN_HINT
from ..errors import PatternError, Place

UPDATE_HINT = "if the new output is right, run the update mode: pattern-articles check --update"
MISSING_HINT = (
    "there is no golden file yet: run the update mode (pattern-articles check --update) "
    "to create it from this output"
)


@dataclass(frozen=True)
class Normaliser:
    """A named text transformation applied to both sides before comparing."""

    name: str
    apply: Callable[[str], str]


@dataclass(frozen=True)
class Mismatch:
    """Why an output does not match its golden file."""

    golden: Path
    diff: str
    missing: bool = False
    hint: str = UPDATE_HINT

    def format(self) -> str:
        head = (f"{self.golden}: no golden file" if self.missing
                else f"{self.golden}: output differs")
        return f"{head}\n  hint: {self.hint}\n{self.diff}"



def read_golden(golden: Path, bundle_dir: Path | None = None,
                folders: dict[str, str] | None = None) -> str | None:
    """The text of a golden file, None when there is none yet.

    A golden lives at ``<bundle>/expected/<name>`` and may come from someone else's pull
    request: it is read only if it resolves inside its bundle folder, is a regular file and
    is at most :data:`~pattern_articles.files.GOLDEN_LIMIT` bytes (see :mod:`..files`);
    anything else is refused with the file's place, never followed, waited on or read whole.
    ``bundle_dir``: the bundle folder, resolved, and ``folders`` its memo of resolved
    folders (:meth:`Bundle.real_path`), when the caller has them: a judge reads one golden
    per run, and resolving its whole path each time cost ten times the read.
    """
    from ..files import GOLDEN_LIMIT, UnsafeFile, read_regular

    try:
        if bundle_dir is None or folders is None:
            data = read_regular(golden, bundle_dir or golden.parent.parent, GOLDEN_LIMIT)
        else:
            data = read_regular(golden, bundle_dir, GOLDEN_LIMIT, folders)
    except UnsafeFile as exc:
        raise PatternError(f"refusing to read the golden file {golden.name}: {exc}", Place(golden),
                           hint=GOLDEN_HINT) from None
    return None if data is None else data.decode("utf-8", errors="replace")


def golden_path(bundle_dir: Path, snippet: Path, scenario: str = "") -> Path:
    """``<bundle>/expected/<stem>.txt`` or ``<bundle>/expected/<stem>.<scenario>.txt``."""
    name = f"{snippet.stem}.{scenario}.txt" if scenario else f"{snippet.stem}.txt"
    return bundle_dir / "expected" / name


# --------------------------------------------------------------------------- normalisers

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?"
_ZONE = r"(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
_TIMESTAMP = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rf" [ \d]\d {_TIME} \d{{4}}\b"
    rf"|\b{_DATE}(?:[T ]{_TIME}{_ZONE})?(?!\d)"
    rf"|(?<![\d:]){_TIME}{_ZONE}(?![\d:])"
)
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b[0-9a-f]{32}\b"
)
_DURATION = re.compile(
    r"(?<![\w.:])\d+:\d{2}:\d{2}(?:\.\d+)?(?![\w:])"
    r"|(?<![\w.])\d+(?:\.\d+)?\s?"
    r"(?:ns|µs|μs|us|ms|s|secs?|seconds?|mins?|minutes?|hours?)(?![\w])"
)
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")


def _tmp_pattern() -> re.Pattern[str]:
    roots = {tempfile.gettempdir(), "/tmp", "/var/tmp", "/private/tmp"}
    roots |= {os.path.realpath(r) for r in list(roots)}
    ordered = sorted({r.rstrip("/") for r in roots if r and r != "/"}, key=len, reverse=True)
    alternatives = "|".join(re.escape(r) for r in ordered)
    # the runner's own run folder (with its work/home/tmp part) first, then any
    # "<tmp root>/<random name>"
    return re.compile(
        rf"(?<![\w/.])(?:{alternatives})/pattern-articles-run-[^/\s'\"]+(?:/(?:work|home|tmp))?"
        rf"|(?<![\w/.])(?:{alternatives})/[^/\s'\"]+"
    )


def _sub(pattern: re.Pattern[str], replacement: str) -> Callable[[str], str]:
    return lambda text: pattern.sub(replacement, text)


def _sort_lines(text: str) -> str:
    return "\n".join(sorted(text.split("\n")))


def _builtin(name: str) -> Normaliser | None:
    table: dict[str, Callable[[], Callable[[str], str]]] = {
        "timestamps": lambda: _sub(_TIMESTAMP, "<timestamp>"),
        "uuids": lambda: _sub(_UUID, "<uuid>"),
        "durations": lambda: _sub(_DURATION, "<duration>"),
        "addresses": lambda: _sub(_ADDRESS, "0x<address>"),
        "tmp-paths": lambda: _sub(_tmp_pattern(), "<tmp>"),
        "sort-lines": lambda: _sort_lines,
    }
    factory = table.get(name)
    return Normaliser(name, factory()) if factory else None


def _custom(pattern: object, replace: object) -> Normaliser:
    if not isinstance(pattern, str) or not isinstance(replace, str):
        raise PatternError(
            f"a custom normaliser needs a text 'pattern' and 'replace', not {pattern!r} / "
            f"{replace!r}",
            hint='write it as {pattern: "id=\\\\d+", replace: "id=<n>"}',
        )
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise PatternError(
            f"normaliser pattern {pattern!r} is not a valid regular expression: {exc}",
            hint="it is a Python regular expression (module re)",
        ) from exc

    try:  # a bad group reference fails here, before any output is at stake
        compiled.sub(replace, "")
    except (re.error, IndexError) as exc:
        raise PatternError(
            f"normaliser replacement {replace!r} (for {pattern!r}) is invalid: {exc}",
            hint=r"refer to groups as \1 or \g<name>, and write a literal backslash as \\",
        ) from exc

    def apply(text: str) -> str:
        # someone else's regular expression on someone else's output: it may backtrack for
        # ever (``(a+)+$`` on 36 characters), so it runs where it can be abandoned
        return _HELPER.sub(pattern, re.MULTILINE, replace, text)

    return Normaliser(f"{{pattern: {pattern}}}", apply)


def compile_normalisers(specs: Iterable[object]) -> list[Normaliser]:
    """Turn names and ``{pattern, replace}`` mappings into normalisers (validated now, so a
    typo fails before anything runs)."""
    out: list[Normaliser] = []
    for spec in specs:
        if isinstance(spec, Normaliser):
            out.append(spec)
        elif isinstance(spec, str):
            found = _builtin(spec)
            if found is None:
                raise PatternError(
                    f"unknown normaliser {spec!r}",
                    hint=f"built-in normalisers: {', '.join(BUILTIN_NORMALISERS)}; or write "
                    "{pattern: <regex>, replace: <text>}",
                )
            out.append(found)
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"pattern", "replace"}
            if unknown:
                raise PatternError(
                    f"a custom normaliser takes 'pattern' and 'replace', not {sorted(unknown)}"
                )
            out.append(_custom(spec.get("pattern"), spec.get("replace", "")))
        elif hasattr(spec, "pattern"):
            out.append(_custom(getattr(spec, "pattern"), getattr(spec, "replace", "")))  # noqa: B009
        else:
            raise PatternError(f"a normaliser is a name or {{pattern, replace}}, not {spec!r}")
    return out


def _canonical(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def normalise(text: str, normalisers: Iterable[object] = ()) -> str:
    """``text`` as compared: line endings unified, trailing newlines dropped, masked.

    Raises :class:`NormaliserOvertime` naming the normaliser (by its position in
    ``normalisers``) that ran longer than :data:`NORMALISER_TIME_LIMIT`."""
    out = _canonical(text)
    for index, normaliser in enumerate(compile_normalisers(normalisers)):
        try:
            out = normaliser.apply(out)
        except _Overtime:
            raise NormaliserOvertime(index, normaliser.name) from None
    return out


NORMALISER_TIME_LIMIT = 5.0
"""Seconds one custom normaliser may take on one output: a real one takes milliseconds on a
MiB; a pattern that backtracks catastrophically would take years."""


class NormaliserOvertime(PatternError):
    """A custom normaliser ran out of time; ``index`` is its position in the list given."""

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        super().__init__(
            f"normaliser {name} took more than {NORMALISER_TIME_LIMIT:g} s on the output and was stopped",
            hint="the pattern backtracks catastrophically (a repetition inside a repetition, such "
                 "as (a+)+, or alternatives that overlap): rewrite it so each character can match "
                 "only one way",
        )


class _Overtime(Exception):
    pass


_HELPER_CODE = """
import marshal, re, signal, sys
read, write = sys.stdin.buffer.read, sys.stdout.buffer.write
while True:
    head = read(8)
    if len(head) < 8:
        break
    pattern, flags, replace, text, limit = marshal.loads(read(int.from_bytes(head, "big")))
    signal.alarm(limit)  # bounded even if the process that asked is gone
    try:
        reply = (True, re.compile(pattern, flags).sub(replace, text))
    except Exception as exc:
        reply = (False, f"{type(exc).__name__}: {exc}")
    signal.alarm(0)
    data = marshal.dumps(reply)
    write(len(data).to_bytes(8, "big") + data)
    sys.stdout.buffer.flush()
"""


class _RegexHelper:
    """One small interpreter, started on first use, that applies custom normalisers.

    Why a process: Python's ``re`` cannot be interrupted from another thread and a signal
    reaches only the main thread, which a build or a pytest worker may not be on; a process
    can be killed. It is reused (a request costs a pipe round trip, ~0.1 ms) and replaced
    when killed. It exits when its stdin closes (this process ended, however), and its own
    alarm ends any request after the limit even if nobody waits for it any more.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def sub(self, pattern: str, flags: int, replace: str, text: str) -> str:
        request = marshal.dumps((pattern, int(flags), replace, text, int(NORMALISER_TIME_LIMIT) + 2))
        with self._lock:
            for attempt in (1, 2):
                process = self._started()
                if process is None:  # no helper can start here: unbounded, but it works
                    return re.compile(pattern, flags).sub(replace, text)
                try:
                    assert process.stdin is not None
                    process.stdin.write(len(request).to_bytes(8, "big") + request)
                    process.stdin.flush()
                    ok, value = marshal.loads(self._reply(process))
                    break
                except _Overtime:
                    self._stop()
                    raise
                except (OSError, EOFError, ValueError):  # it died: once more with a new one
                    self._stop()
                    if attempt == 2:
                        return re.compile(pattern, flags).sub(replace, text)
        if not ok:
            raise PatternError(f"normaliser {{pattern: {pattern}}} failed: {value}",
                               hint="it is a Python regular expression (module re)")
        return str(value)

    def _reply(self, process: subprocess.Popen[bytes]) -> bytes:
        import select

        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + NORMALISER_TIME_LIMIT
        data = b""
        wanted = 8
        while len(data) < wanted:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Overtime
            chunk = os.read(fd, max(wanted - len(data), 1 << 16))
            if not chunk:
                raise EOFError
            data += chunk
            if wanted == 8 and len(data) >= 8:
                wanted = 8 + int.from_bytes(data[:8], "big")
        return data[8:wanted]

    def _started(self) -> subprocess.Popen[bytes] | None:
        if self._process is not None and self._process.poll() is None:
            return self._process
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HELPER_CODE], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        except OSError:
            self._process = None
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.wait(timeout=5)
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


_HELPER = _RegexHelper()
atexit.register(_HELPER.close)


# --------------------------------------------------------------------------- compare/update


def _diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.split("\n") if old else [], new.split("\n") if new else [],
        fromfile=old_label, tofile=new_label, lineterm="",
    )
    return "\n".join(lines)


def compare(actual: str, golden_path: Path, normalisers: Iterable[object] = (),
            golden_text: str | None = None) -> Mismatch | None:
    """None when ``actual`` matches the golden file (after normalising both), else why not.

    ``golden_text``: the file's text when the caller has read it already (a build judges
    every run and shows the golden too); None reads it here, and names why it cannot be.
    """
    compiled = compile_normalisers(normalisers)
    got = normalise(actual, compiled)
    expected_raw = golden_text if golden_text is not None else read_golden(golden_path)
    if expected_raw is None:
        diff = _diff("", got, f"{golden_path} (missing)", "actual output")
        return Mismatch(golden_path, diff, missing=True, hint=MISSING_HINT)
    expected = normalise(expected_raw, compiled)
    if got == expected:
        return None
    return Mismatch(golden_path, _diff(expected, got, str(golden_path), "actual output"))


def update(golden_path: Path, actual: str, normalisers: Iterable[object] = ()) -> str:
    """Make the golden file hold ``actual``; return the diff of what changed.

    Returns "" and leaves the file untouched (not even rewritten) when it already matches,
    so an update run does not churn goldens whose differences are masked. The write is
    atomic: a temporary file in the same folder, fsync, then ``os.replace``, so a crash
    leaves the old or the new file, never half of one.
    """
    text = actual.replace("\r\n", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    _check_writable(golden_path)
    old = read_golden(golden_path)
    if old is not None and (old == text or compare(actual, golden_path, normalisers) is None):
        return ""
    if old is None:
        diff = _diff("", text.rstrip("\n"), "/dev/null", str(golden_path))
    else:
        diff = _diff(old.rstrip("\n"), text.rstrip("\n"), f"{golden_path} (before)",
                     f"{golden_path} (after)")
    _atomic_write(golden_path, text.encode("utf-8"))
    return diff


def _check_writable(golden: Path) -> None:
    """Refuse to write a golden anywhere but ``<bundle>/expected/<name>``, a regular file or
    none: a scenario named ``../../tmp/victim`` or an ``expected`` folder that is a symlink
    must not let ``--update`` write outside the bundle (names are checked at load too)."""
    from ..files import outside

    bundle = golden.parent.parent
    reason = ""
    if golden.parent.name != "expected" or "/" in golden.name or golden.name in ("", ".", ".."):
        reason = "it is not a file name inside the bundle's expected/ folder"
    else:
        reason = outside(golden, bundle)
    if reason:
        raise PatternError(f"refusing to write the golden file {golden}: {reason}", Place(golden),
                           hint=GOLDEN_HINT)


def _atomic_write(path: Path, data: bytes) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PatternError(f"cannot write the golden file: {exc.strerror or exc}", Place(path)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise PatternError(f"cannot write the golden file: {exc.strerror or exc}", Place(path)) from exc
    try:  # make the rename itself durable (best effort: not every system allows it)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
