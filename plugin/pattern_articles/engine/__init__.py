"""The run engine: runs snippets isolated, in parallel, under a timeout, cached by content,
and judges their output against golden files.

Its public surface is what this module names; the modules behind it (``runner``, the
``_worker`` script, ``cache``, ``services``, ``expect``, ``verify``, ``spec``) are the
engine's own. Names load lazily, so importing the package (as the pytest plugin's collection
does) costs nothing until a run is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import write_atomic
    from .expect import update as update_golden
    from .runner import Runner, RunnerSettings, RunnerStats, default_languages, interpreter_identity
    from .spec import RunResult, RunSpec
    from .verify import Outcome, describe, golden_path, judge, normalisers_for, specs_by_snippet, specs_for

# public name -> (module, name there)
_WHERE: dict[str, tuple[str, str]] = {
    "Runner": ("runner", "Runner"),
    "RunnerSettings": ("runner", "RunnerSettings"),
    "RunnerStats": ("runner", "RunnerStats"),
    "default_languages": ("runner", "default_languages"),
    "interpreter_identity": ("runner", "interpreter_identity"),
    "RunSpec": ("spec", "RunSpec"),
    "RunResult": ("spec", "RunResult"),
    "Outcome": ("verify", "Outcome"),
    "describe": ("verify", "describe"),
    "golden_path": ("verify", "golden_path"),
    "judge": ("verify", "judge"),
    "normalisers_for": ("verify", "normalisers_for"),
    "specs_by_snippet": ("verify", "specs_by_snippet"),
    "specs_for": ("verify", "specs_for"),
    "update_golden": ("expect", "update"),
    "write_atomic": ("cache", "write_atomic"),
}

__all__ = [  # noqa: RUF022  # grouped by module, as above
    "Runner", "RunnerSettings", "RunnerStats", "default_languages", "interpreter_identity",
    "RunSpec", "RunResult",
    "Outcome", "describe", "golden_path", "judge", "normalisers_for", "specs_by_snippet", "specs_for",
    "update_golden", "write_atomic",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{where[0]}", __name__), where[1])
    globals()[name] = value
    return value
