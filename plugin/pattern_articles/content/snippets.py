"""Snippet references: resolving paths safely and cutting regions out of files.

Regions use the pymdownx.snippets markers authors already know::

    # --8<-- [start:publish]
    ...
    # --8<-- [end:publish]

Markers of other regions inside a shown region are dropped from the displayed code, and a
region keeps its first line number so the page can number lines as in the file.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..errors import PatternError, Place

_MARKER = re.compile(r"^\s*(?:#|//|--|;|<!--)?\s*-{1,}8<-{1,}\s*\[(start|end):([\w.-]+)\]\s*(?:-->)?\s*$")


@dataclass(frozen=True)
class Excerpt:
    """Code to show: text plus where it came from."""

    path: Path
    region: str
    text: str
    first_line: int  # 1-based line in the file of the excerpt's first line


def resolve(ref: str, roots: list[Path], *, place: Place | None = None) -> Path:
    """Resolve ``ref`` (relative to a snippet root) to a file that stays inside that root.

    Absolute paths, ``..`` escapes and symlinks pointing outside are refused: building a
    page must never read an arbitrary file of the machine into a public site.
    """
    path_part = ref.split("#", 1)[0].strip()
    if not path_part:
        raise PatternError("empty snippet path", place, hint="write 'bundle/file.py' or 'bundle/file.py#region'")
    candidate = Path(path_part)
    if candidate.is_absolute():
        raise PatternError(
            f"snippet path '{path_part}' is absolute",
            place,
            hint="use a path relative to a snippet folder, e.g. 'choreography/flow.py'",
        )
    for root in roots:
        root_real = root.resolve()
        target = (root / candidate).resolve()
        if not target.is_relative_to(root_real):
            raise PatternError(
                f"snippet path '{path_part}' leaves the snippet folder {root}",
                place,
                hint="snippets must live inside the configured snippet folders",
            )
        if target.is_file():
            return target
    shown = ", ".join(str(r) for r in roots) or "(none configured)"
    raise PatternError(
        f"snippet '{path_part}' not found in the snippet folders ({shown})",
        place,
        hint="check the path; it is relative to a snippet folder",
    )


def read_text(path: Path, place: Place | None = None) -> str:
    from ..files import TEXT_LIMIT, UnsafeFile, read_bounded

    try:  # never blocks on a FIFO, never reads a device or a file without end
        data = read_bounded(path, TEXT_LIMIT)
    except UnsafeFile as exc:
        raise PatternError(f"cannot read snippet {path}: {exc}", place,
                           hint="a snippet is a regular text file inside its bundle folder") from None
    if data is None:
        raise PatternError(f"cannot read snippet {path}: No such file or directory", place)
    if b"\0" in data[:8192]:
        raise PatternError(
            f"snippet {path} is a binary file", place, hint="only text files can be shown"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatternError(f"snippet {path} is not UTF-8 text", place, hint="save it as UTF-8") from None


def regions(text: str, path: Path | str = "<snippet>") -> dict[str, tuple[int, int]]:
    """Map region name -> (first content line index, end index exclusive), 0-based."""
    open_at: dict[str, int] = {}
    found: dict[str, tuple[int, int]] = {}
    for index, line in enumerate(text.splitlines()):
        match = _MARKER.match(line) if "8<" in line else None  # every marker holds "8<"
        if not match:
            continue
        kind, name = match.groups()
        if kind == "start":
            if name in open_at or name in found:
                raise PatternError(
                    f"region '{name}' is started twice",
                    Place(path, index + 1),
                    hint="region names must be unique in a file",
                )
            open_at[name] = index + 1
        else:
            if name not in open_at:
                raise PatternError(
                    f"region '{name}' ends but never starts",
                    Place(path, index + 1),
                    hint=f"add '# --8<-- [start:{name}]' above it",
                )
            found[name] = (open_at.pop(name), index)
    for name, start in open_at.items():
        raise PatternError(
            f"region '{name}' is not terminated",
            Place(path, start),
            hint=f"add '# --8<-- [end:{name}]' where it should stop",
        )
    return found


def excerpt(path: Path, region: str = "", place: Place | None = None) -> Excerpt:
    """The text of a whole file or of one region, with marker lines removed and dedented."""
    text = read_text(path, place)
    lines = text.splitlines()
    spans = regions(text, path)
    if region:
        if region not in spans:
            known = ", ".join(sorted(spans)) or "none"
            raise PatternError(
                f"region '{region}' not found in {path.name} (regions: {known})",
                place or Place(path),
                hint=f"mark it with '# --8<-- [start:{region}]' and '# --8<-- [end:{region}]'",
            )
        start, end = spans[region]
    else:
        start, end = 0, len(lines)
    chosen = [line for line in lines[start:end] if "8<" not in line or not _MARKER.match(line)]
    while chosen and not chosen[0].strip():
        chosen.pop(0)
        start += 1
    while chosen and not chosen[-1].strip():
        chosen.pop()
    body = textwrap.dedent("\n".join(chosen))
    return Excerpt(path=path, region=region, text=body, first_line=start + 1)


def split_ref(ref: str) -> tuple[str, str]:
    """``'flow.py#publish'`` -> ``('flow.py', 'publish')``."""
    path, _, region = ref.partition("#")
    return path.strip(), region.strip()
