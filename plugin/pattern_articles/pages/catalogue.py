"""The pattern catalogue: one card per bundle, wherever a page asks for it.

Why a directive rather than a hand-written list: a home page that lists the patterns by hand
goes stale the day someone adds a bundle. An author writes a fenced block anywhere in a page
that is not itself an article::

    ```pattern-catalogue
    ```

and the block becomes a grid of cards, one per bundle in the snippet folders: the pattern's
name linking to the article that shows it, its subtitle, its description and its tags (the
bundle's ``tags`` followed by the article's front-matter ``tags``). The block may name bundle
ids, separated by spaces, commas or new lines, to choose the cards and their order.

The Markdown is Material for MkDocs' "grid cards" (``<div class="grid cards" markdown>`` and
a list), which needs the ``attr_list`` and ``md_in_html`` extensions; other renderers still
show a readable list. Nothing here imports MkDocs: the adapter only hands over the page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PatternError, Place, Problem

if TYPE_CHECKING:
    from ..project import ArticleRef, Project

DIRECTIVE_INFO = "pattern-catalogue"


@dataclass(frozen=True)
class Card:
    """What one card shows. ``link`` is empty when no page of the site shows the bundle."""

    bundle_id: str
    name: str
    subtitle: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    link: str = ""
    broken: str = ""  # why the bundle could not be loaded, when it could not


@dataclass
class Expanded:
    """A page with its catalogue blocks replaced, and what was noticed on the way."""

    markdown: str
    problems: list[Problem] = field(default_factory=list)


def cards(project: Project, for_docs_path: str = "", only: Sequence[str] = ()) -> tuple[list[Card], list[Problem]]:
    """One card per bundle (all, or ``only`` in that order); a broken bundle gets a card and a warning."""
    from .fill import relative_url

    known = [folder.name for folder in project.bundle_dirs()]
    wanted = list(only) if only else sorted(known)
    articles: dict[str, ArticleRef] = {}
    for found in project.articles():
        articles.setdefault(found.bundle_id, found)
    out: list[Card] = []
    problems: list[Problem] = []
    for bundle_id in wanted:
        ref = articles.get(bundle_id)
        link = relative_url(for_docs_path, ref.docs_path) if ref is not None else ""
        try:
            model = project.bundle(bundle_id).model
        except PatternError as exc:
            problems.append(Problem(f"catalogue: bundle '{bundle_id}' is broken: {exc.message}",
                                    exc.place, exc.hint))
            out.append(Card(bundle_id, bundle_id, link=link, broken=exc.message))
            continue
        tags = [*model.tags, *(_article_tags(ref.path) if ref is not None else [])]
        out.append(Card(
            bundle_id,
            model.name,
            model.subtitle,
            model.description,
            tuple(dict.fromkeys(t for t in tags if t)),
            link,
        ))
    return out, problems


def render(items: Sequence[Card]) -> str:
    """Material "grid cards" Markdown for ``items`` (a plain list in other renderers)."""
    if not items:
        return '!!! note "No patterns yet"\n    No pattern bundle was found in the snippet folders.\n'
    parts = ['<div class="grid cards pa-catalogue" markdown>', ""]
    for card in items:
        title = _md_text(card.name)
        heading = f"__[{title}]({card.link})__" if card.link else f"__{title}__"
        lines = [f"-   {heading}"]
        if card.subtitle:
            lines.append(f'    <span class="pa-card-subtitle">{html.escape(card.subtitle)}</span>')
        lines += ["", "    ---", ""]
        if card.broken:
            lines.append(f"    Its metadata does not load: {_md_text(card.broken)}")
        elif card.description:
            lines.append("    " + _md_text(" ".join(card.description.split())))
        if card.tags:
            chips = " ".join(f'<span class="pa-tag">{html.escape(tag)}</span>' for tag in card.tags)
            lines += ["", f"    {chips}"]
        if not card.link:
            lines += ["", '    <span class="pa-card-note">No article shows this pattern yet.</span>']
        parts.append("\n".join(lines))
        parts.append("")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


def expand(markdown: str, project: Project, docs_path: str = "", *,
           path: Path | str = "<page>", line_offset: int = 0) -> Expanded:
    """Replace every top-level ``pattern-catalogue`` fence of a page with the cards."""
    from markdown_it import MarkdownIt

    if DIRECTIVE_INFO not in markdown:
        return Expanded(markdown)
    lines = markdown.splitlines(keepends=True)
    blocks: list[tuple[int, int, str]] = []
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type != "fence" or token.info.strip() != DIRECTIVE_INFO or not token.map or token.level:
            continue
        blocks.append((token.map[0], token.map[1], token.content))
    result = Expanded(markdown)
    for start, end, body in reversed(blocks):
        place = Place(path, start + 1 + line_offset)
        only = [name for name in re.split(r"[\s,]+", body) if name]
        known = {folder.name for folder in project.bundle_dirs()}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise PatternError(
                f"pattern-catalogue names unknown bundle(s): {', '.join(unknown)}",
                place,
                hint=f"known bundles: {', '.join(sorted(known)) or 'none'}; leave the block empty to list them all",
            )
        items, problems = cards(project, docs_path, only)
        result.problems[:0] = problems
        newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
        text = render(items).replace("\n", newline)
        lines[start:end] = [text]
    result.markdown = "".join(lines)
    return result


def _article_tags(path: Path) -> list[str]:
    """The ``tags`` of an article's front matter; a page that does not parse adds none."""
    from ..content.article import parse_front_matter, split_front_matter

    try:
        yaml_text, _, _ = split_front_matter(path.read_text(encoding="utf-8-sig"), path)
        front_matter, _ = parse_front_matter(yaml_text, path)
    except (OSError, UnicodeDecodeError, PatternError):
        return []
    tags = front_matter.get("tags")
    if isinstance(tags, str):
        return [tags]
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _md_text(text: str) -> str:
    """Plain text safe inside Markdown: no raw HTML, no accidental link brackets."""
    return html.escape(text, quote=False).replace("[", "\\[").replace("]", "\\]")


__all__ = ["DIRECTIVE_INFO", "Card", "Expanded", "cards", "expand", "render"]
