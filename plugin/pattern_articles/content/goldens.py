"""Where a bundle keeps its golden outputs and what they may be: the layout the author sees.

The content side needs these to check a bundle when it loads (a golden linked out of its
bundle, an unknown normaliser) before anything runs; the engine uses the same names to judge
and update runs. Defined here, they keep the content layer free of the engine.
"""

from __future__ import annotations

BUILTIN_NORMALISERS: tuple[str, ...] = (
    "timestamps", "uuids", "durations", "addresses", "tmp-paths", "sort-lines",
)
"""Normalisers a bundle names without writing a pattern (see ``engine/expect.py``)."""

GOLDEN_HINT = ("a golden file must be a regular file inside its bundle folder: not a symlink leading "
               "out of it, not a FIFO or a device; delete it and run the update mode "
               "(pattern-articles check --update) to write a real one")


def golden_name(relative: str, scenario: str) -> str:
    """The golden's file name for a snippet at ``relative`` (POSIX, inside the bundle, no
    ``..``): ``sub/flow.py`` -> ``sub.flow.txt``, with a scenario ``sub.flow.<scenario>.txt``.
    String arithmetic, as :func:`golden_path` with both paths resolved already."""
    *folders, name = relative.split("/")
    dot = name.rfind(".")
    stem = ".".join([*folders, name[:dot] if 0 < dot < len(name) - 1 else name])  # Path.stem
    return f"{stem}.{scenario}.txt" if scenario else f"{stem}.txt"
