"""Parse an article into front matter and sections, and reassemble it losslessly.

Why a module of its own: the author's text is sacred. Everything here works on the original
lines (line endings and a BOM kept), so reassembling an article with nothing to fill gives
back the very same bytes, and filling only ever *inserts* text into sections that hold
nothing but placeholders. Headings are found with markdown-it-py, so a ``## Heading`` inside
a code fence is not a heading and setext headings count.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PatternError, Place

#: Placeholders an author leaves for the plugin: ``<TODO>``, ``<TODO: say why>``, ``TODO``,
#: ``<!-- TODO -->``. Anything else in a section makes it authored.
TODO_RE = re.compile(r"<!--\s*TODO\b.*?-->|<TODO\b[^>]*>|\bTODO\b:?", re.DOTALL)

_FRONT_MATTER_OPEN = re.compile(r"^---[ \t]*\r?\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


def is_placeholder_only(text: str) -> bool:
    """True when ``text`` holds nothing but whitespace and TODO markers."""
    return TODO_RE.sub("", text).strip() == ""


def has_todo(text: str) -> bool:
    return TODO_RE.search(text) is not None


@dataclass
class Section:
    """A heading and everything up to the next heading of the same or a higher level.

    Line numbers are 0-based indexes into :attr:`Article.lines`; ``end`` is exclusive.
    ``body_end`` stops at the first sub-heading, so ``body`` is the section's own text.
    """

    level: int
    title: str
    start: int
    heading_end: int
    end: int
    body_end: int
    has_subsections: bool

    @property
    def line(self) -> int:
        """1-based line of the heading in the source file (front matter included)."""
        return self.start + 1


@dataclass
class Article:
    """An article split into lines, with its front matter and sections located."""

    path: Path | str
    text: str
    lines: list[str]
    bom: str = ""
    newline: str = "\n"
    front_matter: dict[str, Any] = field(default_factory=dict)
    front_matter_end: int = 0  # index of the first body line (0 when there is no front matter)
    front_matter_lines: Mapping[str, int] = field(default_factory=dict)  # key -> 1-based line
    sections: list[Section] = field(default_factory=list)
    line_offset: int = 0  # lines before ``text`` in the real file (MkDocs strips front matter)

    def place(self, index: int) -> Place:
        return Place(self.path, index + 1 + self.line_offset)

    def body(self, section: Section) -> str:
        return "".join(self.lines[section.heading_end : section.body_end])

    def whole(self, section: Section) -> str:
        """The section's body including any sub-sections."""
        return "".join(self.lines[section.heading_end : section.end])

    def is_empty(self, section: Section) -> bool:
        """A section is fillable only when it has no sub-heading and no authored text."""
        return not section.has_subsections and is_placeholder_only(self.body(section))

    def reassemble(
        self,
        fills: Mapping[int, str] | None = None,
        headings: Mapping[int, str] | None = None,
        appended: str = "",
        front_matter_lines: Mapping[int, str] | None = None,
        replacements: Mapping[int, tuple[int, str]] | None = None,
    ) -> str:
        """Rebuild the text, inserting generated bodies without touching authored bytes.

        ``fills`` maps a section index to the Markdown that replaces its placeholder body;
        ``headings`` maps a section index to a corrected heading line (the one reported
        change to authored text); ``front_matter_lines`` replaces whole front-matter lines
        (used to fill ``title: <TODO>`` outside MkDocs); ``replacements`` maps a start line
        to ``(end line, text)`` for directives that expand in place. Everything else is
        copied verbatim.
        """
        replacements = replacements or {}
        fills = fills or {}
        headings = headings or {}
        front_matter_lines = front_matter_lines or {}
        nl = self.newline
        out: list[str] = [self.bom]
        by_start = {s.start: (i, s) for i, s in enumerate(self.sections)}
        i = 0
        n = len(self.lines)
        while i < n:
            if i in front_matter_lines:
                out.append(front_matter_lines[i])
                i += 1
                continue
            if i in replacements:
                end, text = replacements[i]
                out.append(_with_newline(text, nl))
                i = end
                continue
            hit = by_start.get(i)
            if hit is None:
                out.append(self.lines[i])
                i += 1
                continue
            index, section = hit
            if index in headings:
                out.append(headings[index])
                # setext headings span two lines; the replacement is an ATX heading
                i = section.heading_end
            else:
                out.extend(self.lines[i : section.heading_end])
                i = section.heading_end
            if index in fills:
                generated = _with_newline(fills[index], nl)
                if out and not out[-1].endswith(("\n", "\r")):
                    out.append(nl)
                out.append(nl + generated)
                body = self.lines[section.heading_end : section.body_end]
                # keep trailing blank lines so spacing before the next heading survives
                kept = _without_placeholders(body)
                out.extend(kept)
                i = section.body_end
        if appended:
            if out and not out[-1].endswith(("\n", "\r")):
                out.append(nl)
            out.append(nl + _with_newline(appended, nl))
        return "".join(out)


def _with_newline(text: str, nl: str) -> str:
    text = text.replace("\r\n", "\n").rstrip("\n") + "\n"
    return text.replace("\n", nl) if nl != "\n" else text


def _without_placeholders(lines: list[str]) -> list[str]:
    """Blank lines of a placeholder body survive; the markers themselves are consumed."""
    kept: list[str] = []
    for line in lines:
        stripped = TODO_RE.sub("", line)
        if stripped.strip() == "":
            if line.strip() == "":
                kept.append(line)
        else:  # pragma: no cover - only called on placeholder-only bodies
            kept.append(line)
    return kept


def split_front_matter(text: str, path: Path | str = "<article>") -> tuple[str, str, int]:
    """Return ``(front_matter_yaml, rest, body_start_line_index)``; no front matter -> ``("", text, 0)``."""
    if not _FRONT_MATTER_OPEN.match(text):
        return "", text, 0
    first_nl = text.index("\n") + 1
    close = _FRONT_MATTER_CLOSE.search(text, first_nl)
    if close is None:
        raise PatternError(
            "front matter is not closed",
            Place(path, 1),
            hint="end the front matter with a line holding only '---'",
        )
    yaml_text = text[first_nl : close.start()]
    after = text.find("\n", close.end())
    body_start = len(text) if after == -1 else after + 1
    start_line = text.count("\n", 0, body_start)
    return yaml_text, text[body_start:], start_line


def parse_front_matter(yaml_text: str, path: Path | str) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse front matter YAML; return values and the 1-based line of each top-level key."""
    import yaml

    if not yaml_text.strip():
        return {}, {}
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise PatternError(
            f"front matter is not valid YAML: {problem}",
            Place(path, line),
            hint="fix the YAML between the '---' lines",
        ) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise PatternError(
            f"front matter must be a mapping of keys to values, not a {type(data).__name__}",
            Place(path, 2),
            hint="write 'key: value' lines between the '---' lines",
        )
    lines: dict[str, int] = {}
    if isinstance(node, __import__("yaml").MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 2
    return data, lines


def parse(text: str, path: Path | str = "<article>", *, line_offset: int = 0) -> Article:
    """Parse a whole article (front matter optional).

    ``line_offset`` says how many lines precede ``text`` in the real file; MkDocs hands
    plugins the body without its front matter, and messages must still name the real line.
    """
    bom = ""
    if text.startswith("\ufeff"):
        bom, text = "\ufeff", text[1:]
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    yaml_text, _, body_start = split_front_matter(text, path)
    front_matter, fm_lines = parse_front_matter(yaml_text, path) if yaml_text or body_start else ({}, {})
    article = Article(
        path=path,
        text=text,
        lines=lines,
        bom=bom,
        newline=newline,
        front_matter=front_matter,
        front_matter_end=body_start,
        front_matter_lines=fm_lines,
        line_offset=line_offset,
    )
    article.sections = find_sections(lines, body_start)
    return article


@functools.lru_cache(maxsize=1)
def block_parser() -> Any:
    """CommonMark without the inline pass: headings, fences and their text are block-level,
    and inline parsing is most of the cost (a 10 MB article: seconds, not tens of seconds).

    One parser, made once: making one costs more than parsing a typical article, and
    ``parse`` keeps no state between calls."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable("inline")


def find_sections(lines: list[str], first: int = 0) -> list[Section]:
    """Locate headings with markdown-it-py (fences and HTML blocks are not headings)."""
    body = "".join(lines[first:]).replace("\r\n", "\n").replace("\r", "\n")
    tokens = block_parser().parse(body)
    heads: list[tuple[int, int, int, str]] = []  # (start, end, level, title)
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None or token.level != 0:
            continue
        inline = tokens[index + 1]
        title = inline.content.strip() if inline.type == "inline" else ""
        start, end = token.map
        heads.append((start + first, end + first, int(token.tag[1]), title))
    sections: list[Section] = []
    total = len(lines)
    for k, (start, end, level, title) in enumerate(heads):
        stop = total
        for later in heads[k + 1 :]:
            if later[2] <= level:
                stop = later[0]
                break
        next_any = heads[k + 1][0] if k + 1 < len(heads) else total
        sections.append(
            Section(
                level=level,
                title=title,
                start=start,
                heading_end=end,
                end=stop,
                body_end=min(next_any, stop),
                has_subsections=next_any < stop,
            )
        )
    return sections


def todo_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """Return (1-based line, text) for every TODO marker outside code fences and code spans."""
    normalized = text.replace("\r\n", "\n")
    tokens = block_parser().parse(normalized)
    src = normalized.split("\n")
    code_lines: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block") and token.map:
            code_lines.update(range(token.map[0], token.map[1]))
    found: list[tuple[int, str]] = []
    for number, line in enumerate(src):
        if number in code_lines:
            continue
        without_code = re.sub(r"`[^`]*`", "", line)
        if TODO_RE.search(without_code):
            found.append((number + first_line, line.strip()))
    return found
