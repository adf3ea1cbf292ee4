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

import contextlib
import difflib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import PatternError, Place

BUILTIN_NORMALISERS: tuple[str, ...] = (
    "timestamps", "uuids", "durations", "addresses", "tmp-paths", "sort-lines",
)
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


GOLDEN_HINT = ("a golden file must be a regular file inside its bundle folder: not a symlink leading "
               "out of it, not a FIFO or a device; delete it and run the update mode "
               "(pattern-articles check --update) to write a real one")


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

    def apply(text: str) -> str:
        try:
            return compiled.sub(replace, text)
        except (re.error, IndexError) as exc:
            raise PatternError(
                f"normaliser replacement {replace!r} (for {pattern!r}) is invalid: {exc}",
                hint=r"refer to groups as \1 or \g<name>, and write a literal backslash as \\",
            ) from exc

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
    """``text`` as compared: line endings unified, trailing newlines dropped, masked."""
    out = _canonical(text)
    for normaliser in compile_normalisers(normalisers):
        out = normaliser.apply(out)
    return out


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
