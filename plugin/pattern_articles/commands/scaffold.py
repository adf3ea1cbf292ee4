"""Authoring commands: ``pattern-articles new`` (start an article) and ``eject`` (take over the prose).

Why both live here: they are the two commands that write into the author's own files, and
they share one promise — nothing the author wrote is ever overwritten. ``new`` creates files
only where none exist (exclusive create, all or nothing); on an existing article it adds the
bundle and, only when asked (``--link``), one front-matter line; ``eject`` writes generated text only
into sections that are empty or hold nothing but TODO markers, atomically (a temporary file
and ``os.replace``), and refuses when the article changed on disk while it worked.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import PatternError, Place

if TYPE_CHECKING:
    from ..project import ArticleRef, Project
    from ..settings import Settings

PATTERN_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# -- new --------------------------------------------------------------------------------------
ARTICLE_TEMPLATE = """\
---
{key}: {id}
title: '{name_q} Pattern: <TODO>'
description: <TODO>
tags: ["design"]
category: ["architecture", "patterns"]
date: {today}
permalink: 'patterns/{stem}/'
counterlink: 'patterns-{stem}/'
---

## Introduction
<TODO>

## Problem Context
<TODO>

## What is {name} Pattern

## Use Case

## Implementation Details

## Why use {name} Pattern

## Important Considerations

## Summary
"""

BUNDLE_TEMPLATE = """\
# Pattern metadata for {article}.
#
# The plugin fills every empty or <TODO> section of the article from this file and runs the
# snippets declared at the end, showing their real output. Build the site or run
# 'pattern-articles check': every field still missing is reported, with the key to add here.
# Uncomment a block and write your text; 'pattern-articles schema' prints the JSON Schema of
# every key (point your editor's YAML support at it for completion).

name: {name_yaml}
# aliases: [Another name for it]

# Replaces the <TODO> in the title ("{name} Pattern: <TODO>") and the description.
# subtitle: What the pattern does, in a few words
# description: >-
#   Two sentences for search results and link previews.

# "What is {name} Pattern" (and, with the description, the Introduction).
# definition:
#   text: |-
#     What the pattern is, in a paragraph or two (Markdown).
#   analogy: An everyday analogy that makes the idea stick.

# "Problem Context"
# problem:
#   context: |-
#     The situation that calls for the pattern.
#   forces:
#     - A pressure that a solution must balance.

# "Use Case": the scenario, who takes part, what they exchange, and the flows.
# use_case:
#   title: A short name for the scenario
#   text: |-
#     The business scenario, told as a story.
# participants:
#   - {{id: client, name: Client, owns: nothing, responsibility: Asks for the work.}}
#   - {{id: worker, name: Worker, owns: its results, responsibility: Does the work and answers.}}
# What they exchange. 'events' lists every kind of message; 'via' says how each travels:
# broker (published to every subscriber; the default), call (a request its receiver answers
# with a reply), send (a one-way hand-off, as from one pipeline stage to the next).
# events:
#   - {{name: DoWork, via: call, kind: request, producer: client, consumers: [worker], replies: [WorkDone]}}
#   - {{name: WorkDone, via: call, kind: reply, producer: worker, consumers: [client]}}
# flows:
#   happy_path:
#     title: The happy path
#     steps:
#       - {{actor: client, action: asks the worker for the work., emits: [DoWork]}}
#       - {{actor: worker, reacts_to: DoWork, action: does it and answers., emits: [WorkDone]}}

# "Implementation Details": your prose around real code from this folder.
# implementation:
#   intro: What the example shows.
#   steps:
#     - title: Run the example
#       text: What to look at in the code below.
#       code:
#         - snippet: example.py
#           region: main

# "Why use {name} Pattern"
# benefits:
#   - {{title: A benefit, detail: Why it matters.}}

# "Important Considerations"
# considerations:
#   - {{title: A risk, risk: What can go wrong., mitigation: What to do about it.}}

# "Summary"
# summary:
#   text: The pattern in a paragraph.
#   takeaways:
#     - One thing to remember.

# Appended after the last section when present: applicability, related, references.
# references:
#   - {{title: A source, url: "https://example.org/"}}

# How to run each snippet. Its golden output lives in expected/<name>.txt; after changing
# the code, refresh it with 'pattern-articles check --update snippets/{id}'.
snippets:
  example.py:
    timeout: 10
"""

SNIPPET_TEMPLATE = '''\
"""A runnable example for the {name} pattern (replace it with code that shows the pattern).

Run it with ``python {snippet}``: the article shows this file's code and its real output,
and 'pattern-articles check' fails when the output no longer matches
expected/example.txt. Keep the output deterministic: no times, no random ids.
"""


# --8<-- [start:main]
def main() -> None:
    steps = ["a request arrives", "the pattern does its work", "the result is reported"]
    for number, step in enumerate(steps, 1):
        print(f"{{number}}. {{step}}")
# --8<-- [end:main]


if __name__ == "__main__":
    main()
'''


@dataclass
class Created:
    files: list[Path] = field(default_factory=list)
    golden: Path | None = None
    nav_hint: str = ""


def display_name(pattern_id: str) -> str:
    """``event-sourcing`` -> ``Event Sourcing``; ``demo-pattern`` -> ``Demo`` (the article says
    "Pattern" after the name, and "Demo Pattern Pattern" is what a literal reading gave)."""
    from ..pages.fill import display_name as name_of

    return name_of(pattern_id)


def _without_pattern_word(name: str) -> str:
    """``Demo Pattern`` -> ``Demo``: the templates add the word themselves."""
    stripped = re.sub(r"\s+pattern\s*$", "", name, flags=re.IGNORECASE).strip()
    return stripped or name


def article_stem(pattern_id: str) -> str:
    """The article's file name (no ``.md``): ``cqrs-pattern``, and ``demo-pattern`` stays itself."""
    return pattern_id if pattern_id.endswith("-pattern") else f"{pattern_id}-pattern"


def new(settings: Settings, pattern_id: str, name: str = "", *, today: _dt.date | None = None,
        out: TextIO | None = None, link: bool = False, article: Path | None = None) -> Created:
    """Scaffold a bundle stub, a runnable snippet, its golden output and, when none exists, the article.

    The usual case is an author with a skeleton already written: then only the bundle is
    added, and the article is touched only with ``link`` (one ``pattern: <id>`` line added to
    its front matter, every other byte kept, written atomically). All or nothing: every
    target is checked first, files are created exclusively, and when the snippet cannot
    produce its golden output everything created is removed again.
    """
    out = out or sys.stdout
    if not PATTERN_ID.match(pattern_id):
        raise PatternError(
            f"'{pattern_id}' is not a pattern id",
            hint="use lower-case words joined by hyphens, e.g. 'event-sourcing'",
        )
    if not settings.snippet_roots:
        raise PatternError("no snippet folder is configured", hint="set 'snippets:' in the plugin block")
    docs = settings.absolute(settings.docs_dir)
    existing_article = _existing_article(settings, pattern_id, article)
    target = existing_article or docs / "patterns" / f"{article_stem(pattern_id)}.md"
    source = _read_text(existing_article) if existing_article is not None else None
    name = _without_pattern_word((name or (_title_name(source) if source is not None else "")
                                  or display_name(pattern_id)).strip())
    if not name or "\n" in name or '"' in name or "\\" in name:
        raise PatternError("the pattern name must be one line of text without \" or \\",
                           hint="e.g. --name 'Event Sourcing'")
    bundle_dir = settings.snippet_roots[0] / pattern_id
    snippet = bundle_dir / "example.py"
    golden = bundle_dir / "expected" / "example.txt"
    from ..content.bundle import METADATA_NAMES

    bundle_files = (snippet, golden, *(bundle_dir / m for m in METADATA_NAMES))
    existing = [p for p in (*(() if existing_article is not None else (target,)), *bundle_files) if p.exists()]
    if existing:
        raise PatternError(
            f"not creating the '{pattern_id}' pattern: {', '.join(_show(p) for p in existing)} already exist"
            + ("s" if len(existing) == 1 else ""),
            hint="nothing was written; pick another id, or remove those files yourself",
        )
    linked_text = None
    linked_to = ""
    if source is not None and existing_article is not None:
        linked_to, line = _front_matter_value(source, settings.article_key)
        if linked_to and linked_to != pattern_id:
            raise PatternError(
                f"{_show(existing_article, settings.root)} names the bundle '{linked_to}', not '{pattern_id}'",
                Place(_show_path(existing_article, settings.root), line),
                hint="nothing was written; run 'pattern-articles new' with that id, or name another article "
                     "with --article",
            )
        if not linked_to and link:
            linked_text = with_front_matter_key(source, settings.article_key, pattern_id)
    day = (today or _dt.date.today()).isoformat()
    values = {
        "key": settings.article_key,
        "id": pattern_id,
        "stem": target.stem,
        "name": name,
        "name_q": name.replace("'", "''"),
        "name_yaml": name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ()/&.-]*", name) else json.dumps(name),
        "today": day,
        "article": _show(target, settings.root),
        "snippet": _show(snippet, settings.root),
    }
    files = [
        *(((target, ARTICLE_TEMPLATE.format(**values)),) if existing_article is None else ()),
        (bundle_dir / "bundle.yml", BUNDLE_TEMPLATE.format(**values)),
        (snippet, SNIPPET_TEMPLATE.format(**values)),
    ]
    created = Created()
    new_folders: list[Path] = []
    for folder in (target.parent, bundle_dir, golden.parent):
        for candidate in (folder, *folder.parents):
            if candidate.exists():
                break
            new_folders.append(candidate)
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8", newline="\n") as handle:  # never overwrite
                handle.write(text)
            created.files.append(path)
        created.golden = _record_golden(settings, pattern_id)
        created.files.append(created.golden)
        if linked_text is not None and existing_article is not None:
            _replace_if_unchanged(existing_article, source or "", linked_text)
    except FileExistsError as exc:  # appeared between the check and the write
        _remove(created.files, new_folders)
        raise PatternError(f"{exc.filename} appeared while scaffolding; nothing was kept") from None
    except BaseException:
        _remove(created.files, new_folders)
        raise
    created.nav_hint = _nav_hint(settings, target)
    if existing_article is not None:
        print(f"found {_show(target, settings.root)}: adding its bundle, the article is yours", file=out)
    for path in created.files:
        print(f"created {_show(path, settings.root)}", file=out)
    if linked_text is not None:
        print(f"linked {_show(target, settings.root)}: added '{settings.article_key}: {pattern_id}' to its "
              "front matter", file=out)
    elif existing_article is not None and not linked_to:
        print(f"\n{_show(target, settings.root)} does not name its bundle yet: add '{settings.article_key}: "
              f"{pattern_id}' to its front matter, or run 'pattern-articles new {pattern_id} --link'", file=out)
    print(
        f"\nnext: describe the pattern in {_show(bundle_dir / 'bundle.yml', settings.root)} (uncomment a block "
        f"per section), replace example.py with real code, then run 'pattern-articles check "
        f"{_show(bundle_dir, settings.root)}' or 'mkdocs serve'.",
        file=out,
    )
    if created.nav_hint:
        print(created.nav_hint, file=out)
    return created


def _existing_article(settings: Settings, pattern_id: str, named: Path | None) -> Path | None:
    """The article the new bundle is for: the one named, one already linked to the id, or the
    one at the scaffold's own path."""
    if named is not None:
        if not named.is_file():
            raise PatternError(f"{named}: no such file", hint="name the article's Markdown file with --article")
        return named
    from ..project import Project

    for ref in Project(settings).articles():
        if ref.bundle_id == pattern_id:
            return ref.path
    default = settings.absolute(settings.docs_dir) / "patterns" / f"{article_stem(pattern_id)}.md"
    return default if default.is_file() else None


def _read_text(path: Path) -> str:
    from ..project import read_article

    return read_article(path)


def _title_name(text: str) -> str:
    """"Orchestration" from a skeleton titled 'Orchestration Pattern: <TODO>'."""
    value, _ = _front_matter_value(text, "title")
    found = re.match(r"\s*(.+?)\s+pattern\b", value, re.IGNORECASE)
    return found.group(1) if found else ""


_FRONT_MATTER_OPEN = re.compile(r"\A(\ufeff?---[ \t]*)(\r\n|\n)")


def _front_matter_value(text: str, key: str) -> tuple[str, int]:
    """A top-level ``key: value`` of the front matter, and its line (``("", 0)`` when absent)."""
    if not _FRONT_MATTER_OPEN.match(text):
        return "", 0
    for number, line in enumerate(text.splitlines()[1:], 2):
        if line.strip() in ("---", "..."):
            break
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip().strip("'\""), number
    return "", 0


def with_front_matter_key(text: str, key: str, value: str) -> str:
    """``text`` with ``key: value`` as the first front-matter line; every other byte kept.

    The line ending is the file's own; a file without front matter gets one.
    """
    opened = _FRONT_MATTER_OPEN.match(text)
    if opened is not None:
        newline = opened.group(2)
        return text[: opened.end()] + f"{key}: {value}{newline}" + text[opened.end():]
    newline = "\r\n" if "\r\n" in text else "\n"
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return f"{bom}---{newline}{key}: {value}{newline}---{newline}" + text[len(bom):]


def _replace_if_unchanged(path: Path, before: str, after: str) -> None:
    """Atomic, and only if nobody changed the file since it was read."""
    from .render import atomic_write, file_mode

    if _read_text(path) != before:
        raise PatternError(f"{path} changed while scaffolding; nothing was written", Place(path),
                           hint="run the command again")
    atomic_write(path, after, mode=file_mode(path))


def _show_path(path: Path, root: Path) -> Path:
    shown = _show(path, root)
    return Path(shown)


def _record_golden(settings: Settings, pattern_id: str) -> Path:
    """Run the new snippet exactly as ``check`` will, and store what it printed."""
    from ..engine import golden_path, specs_for, update_golden
    from ..project import Project

    project = Project(settings)
    try:
        bundle = project.bundle(pattern_id)
        (spec,) = [s for s in specs_for(bundle, settings.timeout) if s.snippet.name == "example.py"]
        result = project.runner.result(spec)
        if result.status != "passed":
            detail = (result.stderr or result.stdout).strip()[-2000:]
            raise PatternError(
                f"the new example snippet did not run ({result.status}: {result.reason})",
                Place(spec.snippet),
                hint=detail or "run it by hand to see why",
            )
        golden = golden_path(bundle.dir, spec.snippet, spec.scenario)
        update_golden(golden, result.stdout)
        return golden
    finally:
        project.close()


def _remove(paths: list[Path], folders: list[Path]) -> None:
    """Undo a half-finished scaffold: our files, then the folders we created (when empty)."""
    for path in reversed(paths):
        path.unlink(missing_ok=True)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass


def _nav_hint(settings: Settings, article: Path) -> str:
    from ..settings import find_config

    config = find_config(settings.root)
    if config is None:
        return ""
    try:
        text = config.read_text(encoding="utf-8-sig")
    except OSError:
        return ""
    if not re.search(r"^nav:", text, re.MULTILINE):
        return ""
    docs = settings.absolute(settings.docs_dir)
    relative = article.relative_to(docs).as_posix() if article.is_relative_to(docs) else str(article)
    if relative in text:
        return ""
    return f"{config.name} has a nav: add '{relative}' to it so the page appears in the navigation."


def _show(path: Path, root: Path | None = None) -> str:
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


# -- eject ------------------------------------------------------------------------------------
@dataclass
class Ejected:
    written: list[str] = field(default_factory=list)  # what was written, for the report
    skipped: list[str] = field(default_factory=list)  # named but authored: left alone


def find_ref(project: Project, article: Path) -> ArticleRef:
    if not article.is_file():
        raise PatternError(f"{article}: no such file", hint="name the article's Markdown file")
    return project.article_ref(article)


def eject(project: Project, article: Path, names: Sequence[str] = (), out: TextIO | None = None) -> Ejected:
    """Write the generated text into the article's empty and TODO sections, atomically."""
    from ..content import article as article_mod
    from ..content import checks
    from ..pages.fill import front_matter_replacements
    from ..project import read_article
    from .render import atomic_write, file_mode

    out = out or sys.stdout
    ref = find_ref(project, article)
    source = read_article(ref.path)
    bundle = project.bundle(ref.bundle_id, Place(ref.path, ref.line))
    project.start([bundle])
    rendered = project.fill(source, ref.path, ref.bundle_id, links=project.links(ref.docs_path),
                            place=Place(ref.path, ref.line))
    _refuse_unverified(project, rendered.specs, ref)
    parsed = article_mod.parse(source, ref.path)
    own = [bundle.model.name, *bundle.model.aliases]
    aliases = project.settings.aliases()

    def names_of(title: str) -> set[str]:
        """A heading answers to its text, its corrected text (a slip) and its section key."""
        slip = checks.heading_slip(title, own, [])
        fixed = slip.fixed if slip else title
        key = checks.match_section(fixed, own, aliases)
        return {title.lower(), fixed.lower(), *([key] if key else [])}

    wanted_sections: set[int] | None = None
    wanted_appended: set[str] = set()
    want_meta = {"title", "description"}
    result = Ejected()
    if names:
        wanted_sections, want_meta = set(), set()
        for raw in names:
            name = raw.strip()
            low = name.lower()
            if low in ("title", "description"):
                want_meta.add(low)
                continue
            hits = [i for i, s in enumerate(parsed.sections)
                    if {low, low.replace(" ", "_")} & names_of(s.title)]
            if hits:
                for index in hits:
                    if index in rendered.sections:
                        wanted_sections.add(index)
                    else:
                        result.skipped.append(parsed.sections[index].title)
                continue
            appended = {k for k in rendered.appended
                        if k == low.replace(" ", "_") or project.settings.title_for(k).lower() == low}
            if appended:
                wanted_appended |= appended
                continue
            known = [s.title for s in parsed.sections] + [project.settings.title_for(k) for k in rendered.appended]
            raise PatternError(
                f"no section '{name}' in {ref.docs_path}",
                Place(ref.path),
                hint="sections: " + ", ".join(f"'{k}'" for k in [*known, "title", "description"]),
            )
    fills = {i: without_marks(text) for i, text in rendered.sections.items()
             if wanted_sections is None or i in wanted_sections}
    meta = {k: v for k, v in rendered.meta.items() if k in want_meta}
    appended_text = [without_marks(rendered.appended[k]) for k in rendered.appended if k in wanted_appended]
    text = parsed.reassemble(
        fills=fills,
        front_matter_lines=front_matter_replacements(parsed, meta),
        appended="\n".join(appended_text),
    )
    for index in sorted(fills):
        section = parsed.sections[index]
        lines = fills[index].count("\n") + 1
        result.written.append(f"section '{section.title}' (line {section.line}, {lines} lines)")
    result.written.extend(f"front matter '{k}'" for k in meta)
    result.written.extend(f"section '{project.settings.title_for(k)}' (appended)" for k in rendered.appended
                          if k in wanted_appended)
    for title in result.skipped:
        print(f"left '{title}' alone: it holds text you wrote", file=out)
    if text == source:
        print(f"nothing to eject in {ref.docs_path}: no empty or TODO section the bundle can fill", file=out)
        return result
    if read_article(ref.path) != source:
        raise PatternError(f"{ref.path} changed while ejecting; nothing was written", Place(ref.path),
                           hint="run the command again")
    atomic_write(ref.path, text, mode=file_mode(ref.path))
    for item in result.written:
        print(f"wrote {item}", file=out)
    print(f"{_show(ref.path)}: the text above is yours now; the build fills only what is still empty.",
          file=out)
    return result


def without_marks(text: str) -> str:
    """Drop the "Verified output" marks: once ejected, the output is the author's static text."""
    from .render import _VERIFIED

    lines = text.split("\n")
    kept: list[str] = []
    skip_blank = False
    for line in lines:
        if _VERIFIED.fullmatch(line.strip()):
            skip_blank = bool(kept) and not kept[-1].strip()  # the mark sat between two blank lines
            continue
        if skip_blank and not line.strip():
            skip_blank = False
            continue
        skip_blank = False
        kept.append(line)
    return "\n".join(kept)


def _refuse_unverified(project: Project, specs: Sequence[object], ref: ArticleRef) -> None:
    """Ejecting a failed or unrun snippet would freeze its error note into the author's text."""
    from ..engine import RunSpec

    bad: list[str] = []
    bundle = project.bundle(ref.bundle_id)
    for spec in specs:
        if not isinstance(spec, RunSpec):
            continue
        outcome = project.outcome(bundle, spec)
        if outcome.status != "passed":
            reason = outcome.result.reason or outcome.status
            bad.append(f"{spec.id}: {outcome.status} ({reason})" if outcome.status != "mismatch"
                       else f"{spec.id}: output differs from {outcome.golden.name}")
    if bad:
        raise PatternError(
            f"not ejecting {ref.docs_path}: {len(bad)} snippet run(s) the article shows did not pass",
            Place(ref.path),
            hint="; ".join(bad) + ". Fix them ('pattern-articles check') first, so that only verified "
                 "output is written into your article",
        )
