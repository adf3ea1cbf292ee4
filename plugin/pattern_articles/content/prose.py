"""Prose of a bundle kept in Markdown files: ``text: {file: prose/definition.md}``.

Why: long prose in YAML block scalars gets no Markdown preview, spell check or linting, and
an indentation slip ends the scalar silently. Any text field of ``bundle.yml`` may therefore
name a Markdown file of the bundle instead of holding the text. The file must be inside the
bundle folder (no absolute path, no ``..``, no symlink out), a regular file, UTF-8, at most
:data:`MAX_BYTES`; it ends with ``.md`` or ``.markdown`` so that a snippet is never read as
prose by mistake.

The text read keeps where it came from (:class:`FileText`, a ``str``), so a problem found in
it later (a TODO left in the draft) names the Markdown file and line, not ``bundle.yml``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Place, Problem

if TYPE_CHECKING:
    from pydantic import ValidationInfo, ValidatorFunctionWrapHandler

    from .bundle import Bundle

#: The largest prose file read (a page of prose is a few KiB; this bounds a mistaken target).
MAX_BYTES = 1 << 20
SUFFIXES = (".md", ".markdown")

#: What the JSON Schema says of every text field: a string, or a Markdown file of the bundle.
TEXT_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {
                "file": {
                    "type": "string",
                    "pattern": r"^[^/\\].*\.(md|markdown)$",
                    "description": "A Markdown file of the bundle, relative to its folder, e.g. "
                                   "'prose/definition.md'; its text is used as the value.",
                }
            },
            "required": ["file"],
            "additionalProperties": False,
        },
    ]
}


class FileText(str):
    """Text read from a prose file; ``source`` and ``first_line`` say where it starts."""

    source: Path
    first_line: int

    def __new__(cls, text: str, source: Path, first_line: int = 1) -> FileText:
        made = super().__new__(cls, text)
        made.source = source
        made.first_line = first_line
        return made

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (the page cache) with its origin
        return (FileText, (str(self), self.source, self.first_line))

    def place(self, offset: int = 0) -> Place:
        return Place(self.source, self.first_line + offset)


class ProseError(ValueError):
    """A prose file that cannot be used; ``place`` is in the prose file when known."""

    def __init__(self, message: str, place: Place | None = None) -> None:
        super().__init__(message)
        self.place = place


def text_or_file(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> str:
    """The pydantic wrap validator of every text field: a string, or ``{file: ...}`` read."""
    if isinstance(value, dict) and "file" in value:
        extra = sorted(str(k) for k in value if k != "file")
        if extra:
            raise ValueError(f"a text given by file takes only 'file:', not {', '.join(extra)}")
        context = info.context if isinstance(info.context, dict) else {}
        folder = context.get("bundle_dir")
        if not isinstance(folder, Path):
            raise ValueError("a text given by file needs its bundle folder (load the bundle with bundle.load)")
        text = read(folder, value["file"])
        handler(str(text))  # the string checks still apply
        return text
    result: str = handler(value)
    return result


def read(folder: Path, name: object) -> FileText:
    """Read ``name`` (relative to the bundle ``folder``) under the rules of this module."""
    from pydantic_core import PydanticCustomError

    if not isinstance(name, str) or not name.strip():
        raise ValueError("'file:' names a Markdown file of the bundle, e.g. file: prose/definition.md")
    relative = name.strip()
    hint = "a prose file lives inside its bundle folder: no absolute path, no '..', no symlink pointing outside"
    if os.path.isabs(relative) or relative.startswith(("/", "\\")):
        raise ValueError(f"'{relative}' is an absolute path; {hint}")
    if not relative.lower().endswith(SUFFIXES):
        raise ValueError(f"'{relative}' is not a Markdown file (.md or .markdown); prose files are Markdown, "
                         "so a snippet is never read as text by mistake")
    path = folder / relative
    real_folder = folder.resolve()
    real = path.resolve()
    if not real.is_relative_to(real_folder):
        raise ValueError(f"'{relative}' leaves the bundle folder {folder.name}/; {hint}")
    try:
        info = os.stat(real)
    except OSError:
        raise ValueError(f"prose file '{relative}' not found in {folder.name}/ (paths are relative to the "
                         "bundle folder)") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"'{relative}' is not a regular file")
    try:
        with open(real, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read prose file '{relative}': {exc.strerror}") from None
    shown = f"{folder.name}/{relative}"
    if len(data) > MAX_BYTES:
        raise ValueError(f"prose file '{relative}' is larger than {MAX_BYTES // 1024} KiB; split it, or name "
                         "the right file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PydanticCustomError(
            "prose_file", "{shown}:{line}: not UTF-8 text; save it as UTF-8",
            {"shown": shown, "path": str(path), "line": line}) from None
    text = text.replace("\r\n", "\n")
    stripped = text.lstrip("\n")
    first_line = 1 + len(text) - len(stripped)
    unclosed = unclosed_fence(stripped)
    if unclosed:
        line = first_line + unclosed - 1
        raise PydanticCustomError(
            "prose_file", "{shown}:{line}: this code fence is never closed, so it would swallow the rest of "
            "the page; close it with the same fence",
            {"shown": shown, "path": str(path), "line": line})
    return FileText(stripped.rstrip(), path, first_line)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def unclosed_fence(text: str) -> int:
    """The 1-based line of a code fence that is never closed, or 0."""
    opened: tuple[str, int] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        match = _FENCE.match(line)
        if match is None:
            continue
        marks = match.group(1)
        if opened is None:
            if marks[0] == "`" and "`" in match.group(2):
                continue  # inline code, not a fence
            opened = (marks, number)
        elif marks[0] == opened[0][0] and len(marks) >= len(opened[0]) and not match.group(2).strip():
            opened = None
    return opened[1] if opened else 0


def file_texts(value: object) -> Iterator[FileText]:
    """Every :class:`FileText` inside a model (for the checks that name the prose file)."""
    from pydantic import BaseModel

    if isinstance(value, FileText):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from file_texts(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from file_texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from file_texts(item)


def todo_problems(bundle: Bundle) -> list[Problem]:
    """A TODO left in a prose file: a warning naming the file and line (strict builds fail).

    Why only prose files: a draft in Markdown collects TODOs as any draft does, and the page
    would show them; the file and line is where to write the missing text.
    """
    key = "prose-todos"
    found: list[Problem] | None = bundle.derived.get(key)
    if found is None:
        from .article import todo_lines

        found = []
        seen: set[tuple[Path, int]] = set()
        for text in file_texts(bundle.model):
            for line, content in todo_lines(str(text), text.first_line):
                if (text.source, line) in seen:
                    continue
                seen.add((text.source, line))
                found.append(Problem(f"TODO left in {text.source.name}: {content[:80]}",
                                     Place(text.source, line),
                                     "write the text: this prose file fills the article"))
        bundle.derived[key] = found
    return list(found)
