"""One error type for everything a user can cause.

Every adapter (MkDocs, pytest, CLI) catches :class:`PatternError` and prints
``file:line: message`` plus the hint, never a traceback: the author needs the place and the
fix, not our stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# C0 controls (but tab and newline) as their Unicode pictures (ESC is shown as "␛"), DEL as
# "␡", C1 controls (0x9b is a one-byte CSI to some terminals) spelt out as "\x9b"
_CONTROLS: dict[int, str] = {
    **{c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)},
    0x7F: "\u2421",
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
}

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character made visible and inert.

    A snippet's output, a traceback or a name from metadata is someone else's text: printed
    raw, an ANSI or OSC sequence rewrites the terminal or CI log (hides lines, sets the
    window title, makes links) and a NUL or ESC reaches the HTML. Tab and newline are kept;
    CRLF becomes a newline; a lone carriage return (which overprints a line) is shown.
    """
    if _CONTROL.search(text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_CONTROLS)


@dataclass(frozen=True)
class Place:
    """A position in an author's file; ``line`` is 1-based, 0 when unknown."""

    path: Path | str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else f"{self.path}"


@dataclass
class Problem:
    """A finding that does not stop processing (a warning or an info line)."""

    message: str
    place: Place | None = None
    hint: str = ""
    level: str = "warning"  # "warning" fails strict builds; "info" never does
    detail: str = ""  # e.g. a diff, shown under the message

    def format(self) -> str:
        head = f"{self.place}: {self.message}" if self.place else self.message
        if self.hint:
            head += f"\n  hint: {self.hint}"
        if self.detail:
            head += "\n" + self.detail
        return escape_controls(head)


class PatternError(Exception):
    """An error the author can fix; formatted as one clear message with the place."""

    def __init__(
        self,
        message: str,
        place: Place | None = None,
        hint: str = "",
        problems: list[Problem] | None = None,
    ) -> None:
        self.message = message
        self.place = place
        self.hint = hint
        self.problems: list[Problem] = problems or []
        super().__init__(self.format())

    def format(self) -> str:
        head = f"{self.place}: {self.message}" if self.place else self.message
        lines = [head]
        lines.extend(f"  {p.format()}" for p in self.problems)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return escape_controls("\n".join(lines))


@dataclass
class Report:
    """Collects problems during one build/check so adapters can log them once each."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def warn(self, message: str, place: Place | None = None, hint: str = "", detail: str = "") -> None:
        self.add(Problem(message, place, hint, "warning", detail))

    def info(self, message: str, place: Place | None = None, hint: str = "") -> None:
        self.add(Problem(message, place, hint, "info"))

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]
