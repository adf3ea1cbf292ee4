"""What a run is and what came of it: the two values every part of the engine passes around.

They live apart from the runner so that the cache (which keys a :class:`RunSpec`) and the
runner (which uses the cache) do not import each other.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunSpec:
    """One run of one snippet under one scenario (hashable: it is also a dictionary key)."""

    snippet: Path
    bundle_dir: Path
    scenario: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None
    needs: tuple[str, ...] = ()
    language: str = "python"
    inputs: tuple[str, ...] = ()
    memory_limit: int | None = None  # bytes (0: none); None: the runner's setting
    cpu_limit: float | None = None  # CPU seconds (0: none); None: the runner's setting

    @functools.cached_property
    def id(self) -> str:  # cached: the runner labels every cache entry with it (pathlib is slow)
        """Stable id, e.g. ``snippets/choreography/flow.py::flow[payment-declined]``."""
        try:
            path = self.snippet.relative_to(self.bundle_dir.parent.parent).as_posix()
        except ValueError:
            path = self.snippet.as_posix()
        scenario = f"[{self.scenario}]" if self.scenario else ""
        return f"{path}::{self.snippet.stem}{scenario}"


@dataclass(frozen=True)
class RunResult:
    """What happened. ``status`` is passed | failed | timeout | skipped | error."""

    spec: RunSpec
    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    truncated: bool
    trace: tuple[dict[str, object], ...]
    cached: bool
    reason: str
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "passed"
