"""The pattern bundle: metadata model, loading with line numbers, and cross-checks.

A bundle is a folder (``snippets/<id>/``) with ``bundle.yml`` and runnable example code.
pydantic gives typed, friendly validation and a JSON Schema for editors; this module adds
what pydantic cannot know: the YAML line of every value, so each message names
``bundle.yml:LINE``, and the checks that span fields (a consumer that is not a participant,
an event nobody produces, a step that names an unknown snippet).

pydantic is imported lazily (it costs ~150 ms) so that the pytest plugin and a warm build
do not pay for it unless a bundle really has to be validated.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PatternError, Place, Problem
from ..paths import resolve_through

if TYPE_CHECKING:
    from .model import BundleModel, Event, Step

METADATA_NAMES = ("bundle.yml", "bundle.yaml", "pattern.yml", "pattern.yaml")

Loc = tuple[str | int, ...]


@dataclass
class Bundle:
    """A loaded, validated bundle and where each of its values came from."""

    id: str
    dir: Path
    metadata_path: Path
    model: BundleModel
    lines: dict[Loc, int] = field(default_factory=dict)
    #: values derived from the metadata alone (e.g. its run specs), computed once per load
    derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.model.name

    @functools.cached_property
    def real_dir(self) -> Path:
        """``dir`` with symlinks resolved, once: path checks compare against it per snippet."""
        return self.dir.resolve()

    def real_path(self, relative: str) -> Path:
        """``dir / relative`` resolved, once per load: the load-time checks and the run specs
        both need it, and resolving walks every folder of the path."""
        key = ("real", relative)
        found: Path | None = self.derived.get(key)
        if found is None:
            folders = self.derived.setdefault("folders", {str(self.dir): str(self.real_dir)})
            found = self.derived[key] = Path(resolve_through(str(self.dir / relative), folders))
        return found

    def place(self, *loc: str | int) -> Place:
        """The file and line of a value, falling back to its nearest located parent."""
        key: Loc = tuple(loc)
        while key and key not in self.lines:
            key = key[:-1]
        return Place(self.metadata_path, self.lines.get(key, 1))

    def snippet_path(self, relative: str) -> Path:
        return self.dir / relative


def find_metadata(folder: Path) -> Path | None:
    for name in METADATA_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def locate(roots: list[Path], bundle_id: str, place: Place | None = None) -> Path | None:
    """The folder of bundle ``bundle_id`` in the snippet folders, None when there is none.

    An id is one folder name: ``pattern: /some/path`` or ``pattern: ../x`` would make the
    site run and publish a folder nobody reviewed as a bundle. A bundle folder that is a
    symlink is followed only while it stays inside a snippet folder.
    """
    if (not isinstance(bundle_id, str) or bundle_id.strip() in ("", ".", "..")
            or any(c in bundle_id for c in "/\\\0\n\r")):
        raise PatternError(
            f"bundle id {bundle_id!r} is not the name of a folder in the snippet folders",
            place,
            hint="name one folder, e.g. 'pattern: choreography': no '/', no '..', not an absolute path",
        )
    for root in roots:
        folder = root / bundle_id
        if folder.is_dir() and find_metadata(folder) is not None:
            escape = _bundle_escapes(folder, roots)
            if escape:
                raise PatternError(escape, place or Place(folder),
                                   hint="a bundle folder must live inside the snippet folders; "
                                        "copy the bundle there instead of linking to it")
            return folder
    return None


def _bundle_escapes(folder: Path, roots: list[Path]) -> str:
    """Why a bundle folder (a symlink, say) leads out of every snippet folder ("" if not)."""
    real = folder.resolve()
    if any(real.is_relative_to(root.resolve()) for root in roots):
        return ""
    via = f"a symlink to {os.readlink(folder)}" if folder.is_symlink() else f"resolves to {real}"
    return f"bundle folder {folder} is {via}, outside the snippet folders"


def discover(roots: list[Path]) -> Iterator[Path]:
    """Yield every bundle folder (one holding a metadata file) under the snippet roots."""
    for root in roots:
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if child.is_dir() and find_metadata(child) is not None:
                yield child


def _line_map(node: Any, loc: Loc = ()) -> Iterator[tuple[Loc, int]]:
    import yaml

    yield loc, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            yield (*loc, key), key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and not key_node.tag.endswith(":str"):
                # YAML read it as a number or true/false: pydantic names it so (``1``, not
                # ``'1'``), and its message must still point at this line
                with contextlib.suppress(yaml.YAMLError, TypeError, ValueError):
                    yield (*loc, yaml.constructor.SafeConstructor().construct_object(key_node)), \
                        key_node.start_mark.line + 1
            for sub_loc, line in _line_map(value_node, (*loc, key)):
                if sub_loc != (*loc, key):
                    yield sub_loc, line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _line_map(item, (*loc, index))


_MAX_NODES = 200_000  # far beyond any real bundle; stops alias "billion laughs" expansion
_MAX_TEXT = 2 << 20  # characters of text after alias expansion: a real bundle holds ~50 KB
_MAX_DEPTH = 64  # levels of nesting: a real bundle has fewer than ten


def _size(chars: int) -> str:
    return f"{chars >> 20} MiB" if chars >= 1 << 20 else f"{chars >> 10} KiB"


def _check_structure(node: Any, path: Path) -> None:
    """Refuse what PyYAML accepts silently but would hurt later: a key given twice (YAML
    keeps the last one, so the author's first value vanishes without a word), an alias that
    contains itself (endless recursion), aliases that expand beyond any real bundle (in
    count of values, or in text: a 100 KB anchor aliased 2,000 times is a 200 MB page), and
    nesting deeper than any real bundle (the constructor and the templates recurse)."""
    import yaml

    seen = 0
    text = 0
    visited: set[int] = set()  # a node met again is an alias of its anchor
    # (node, ids of the nodes above it, line of the top-level key it belongs to, line of the
    # anchor whose alias brought the walk here, 0 if none)
    stack: list[tuple[Any, frozenset[int], int, int]] = [(node, frozenset(), 0, 0)]
    while stack:
        current, ancestors, top, anchor = stack.pop()
        seen += 1
        line = current.start_mark.line + 1
        if id(current) in visited:
            anchor = anchor or line
        else:
            visited.add(id(current))
        if seen > _MAX_NODES:
            raise PatternError(
                f"metadata expands to more than {_MAX_NODES} values (YAML aliases?)",
                Place(path, top or line),
                hint="write the values out, or reuse fewer anchors",
            )
        if id(current) in ancestors:
            raise PatternError(
                "YAML alias refers to a value that contains it (an endless loop)",
                Place(path, line),
                hint="an alias (*name) must not point at its own anchor's parents",
            )
        if isinstance(current, yaml.ScalarNode):
            text += len(current.value)
            if text > _MAX_TEXT:
                raise _too_much_text(path, top or line, anchor)
            continue
        if len(ancestors) >= _MAX_DEPTH:
            raise _too_deep(path, line)
        inside = ancestors | {id(current)}
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = str(key_node.value)
                key_line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key in first and key != "<<":
                    raise PatternError(
                        f"key '{key}' is given twice in the same mapping (first on line {first[key]})",
                        Place(path, key_line),
                        hint="YAML keeps only the last one; merge the two or remove one",
                    )
                first.setdefault(key, key_line)
                if isinstance(key_node, yaml.ScalarNode):
                    text += len(key)
                else:  # a list or mapping as a key: walked like a value
                    stack.append((key_node, inside, top or key_line, anchor))
                stack.append((value_node, inside, top or key_line, anchor))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, inside, top, anchor) for item in current.value)


def _too_much_text(path: Path, line: int, anchor: int) -> PatternError:
    limit = _size(_MAX_TEXT)
    if anchor:
        return PatternError(
            f"metadata expands to more than {limit} of text: the YAML anchor on line {anchor} "
            f"is repeated through aliases (*name) under the key on line {line}",
            Place(path, anchor),
            hint=f"{limit} is the limit of a bundle's text; write the value out once, or use fewer aliases",
        )
    return PatternError(
        f"metadata holds more than {limit} of text",
        Place(path, line),
        hint=f"{limit} is the limit of a bundle's text; move long prose into the article",
    )


def _too_deep(path: Path, line: int) -> PatternError:
    return PatternError(
        f"metadata is nested more than {_MAX_DEPTH} levels deep",
        Place(path, line),
        hint="flatten the YAML structure: no bundle needs that many levels of lists and mappings",
    )


def _deep_line(text: str) -> int:
    """The line where ``text`` first nests deeper than :data:`_MAX_DEPTH`, found with the
    scanner alone (it does not recurse), for when composing the document ran out of stack
    or libyaml refused its nesting: the message must still name a line."""
    import yaml

    opening = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
               yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    depth = 0
    last = 1
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            last = int(token.start_mark.line) + 1
            if isinstance(token, opening):
                depth += 1
                if depth > _MAX_DEPTH:
                    return last
            elif isinstance(token, closing):
                depth -= 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else last
    return last


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Read YAML, returning data and a location→line map; errors name the file and line."""
    import yaml

    from ..files import TEXT_LIMIT, UnsafeFile, read_regular

    try:  # inside its folder, a regular file, bounded: never a link out, a FIFO, /dev/zero
        raw = read_regular(path, path.parent, TEXT_LIMIT)
    except UnsafeFile as exc:
        raise PatternError(f"refusing to read the metadata: {exc}", Place(path, 1),
                           hint="bundle.yml must be a regular file inside its bundle folder") from None
    if raw is None:
        raise PatternError("cannot read metadata: No such file or directory", Place(path),
                           hint="check the file's permissions")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PatternError(
            "metadata is not UTF-8 text", Place(path, line), hint="save the file as UTF-8"
        ) from None
    try:
        # one parse, with libyaml when present: parsing twice in pure Python was most of the
        # metadata time of a site with many bundles (data is constructed from the same node)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_structure(node, path)
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            if "nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's own limit
                raise _too_deep(path, _deep_line(text)) from None
            yaml.compose(text, Loader=yaml.SafeLoader)  # its error messages read better
            raise
        finally:
            loader.dispose()
        lines = dict(_line_map(node)) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PatternError(
            f"invalid YAML: {problem}",
            Place(path, line),
            hint="check indentation and quoting on this line and the one above",
        ) from None
    except RecursionError:
        raise _too_deep(path, _deep_line(text)) from None
    return data, lines


def load(folder: Path) -> Bundle:
    """Load and validate the bundle in ``folder``; raise one :class:`PatternError` listing all problems."""
    metadata = find_metadata(folder)
    if metadata is None:
        raise PatternError(
            f"no bundle metadata in {folder}",
            Place(folder),
            hint=f"create {folder / 'bundle.yml'} (run 'pattern-articles new {folder.name}')",
        )
    signature = _folder_signature(metadata.parent)
    known = _LOADED.get(metadata)
    if known is not None and known[0] == signature:
        return known[1]
    loaded = _load(metadata)
    _LOADED[metadata] = (signature, loaded)  # one entry per bundle: a long serve does not grow
    return loaded


_LOADED: dict[Path, tuple[tuple[tuple[str, int, int, int], ...], Bundle]] = {}


def forget_loaded() -> None:
    """Drop every remembered bundle (see :func:`project.release_caches`)."""
    _LOADED.clear()


def _folder_signature(folder: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Name, mtime, size and inode of every file in the bundle folder.

    The load-time checks read more than bundle.yml (that each snippet exists, that a region
    it names is marked in the file), so a loaded bundle is reused only while none of its
    files changed: deleting a snippet during ``mkdocs serve`` must be reported at once. The
    inode is there because the bundle also remembers where each snippet resolves to
    (:meth:`Bundle.real_path`): a file replaced by a symlink is another inode.
    """
    found: list[tuple[str, int, int, int]] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            full = os.path.join(current, name)
            try:
                info = os.stat(full)
            except OSError:
                continue
            found.append((full, info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(sorted(found))


def _load(metadata: Path) -> Bundle:
    data, lines = read_yaml(metadata)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PatternError(
            f"metadata must be a mapping of keys to values, not a {type(data).__name__}",
            Place(metadata, 1),
            hint="start with 'name: <Pattern name>'",
        )
    from pydantic import ValidationError

    from .model import BundleModel

    try:
        # the folder: a text field may name a Markdown file of the bundle (prose.py)
        model = BundleModel.model_validate(data, context={"bundle_dir": metadata.parent})
    except ValidationError as exc:
        problems = [_problem(metadata, lines, err) for err in exc.errors()]
        raise PatternError(
            f"{len(problems)} problem(s) in bundle metadata", Place(metadata), problems=problems
        ) from None
    bundle = Bundle(
        id=metadata.parent.name,  # the folder name is the id: one name, nothing to disagree
        dir=metadata.parent,
        metadata_path=metadata,
        model=model,
        lines=lines,
    )
    problems = list(cross_check(bundle))
    if problems:
        raise PatternError(
            f"{len(problems)} problem(s) in bundle metadata", Place(metadata), problems=problems
        )
    return bundle


def _problem(path: Path, lines: dict[Loc, int], err: Any) -> Problem:
    loc: Loc = tuple(p for p in err.get("loc", ()) if p != "[key]")  # pydantic's mark of a bad key
    where = ".".join(str(p) for p in loc) or "(top level)"
    kind = err.get("type", "")
    key: Loc = loc
    while key and key not in lines:
        key = key[:-1]
    line = lines.get(key, 1)
    if kind == "prose_file":  # in a prose file the field names: its file and line, not bundle.yml's
        return _prose_problem(err, where, Place(path, line))
    if kind == "extra_forbidden":
        message = f"unknown key '{loc[-1]}' at {where}"
        hint = "remove it or fix its spelling; 'pattern-articles schema' lists the keys"
    elif kind == "missing":
        message = f"missing required key '{loc[-1]}'" + (
            f" in {'.'.join(str(p) for p in loc[:-1])}" if len(loc) > 1 else ""
        )
        hint = "add it; 'pattern-articles schema' describes it"
    elif (loc and isinstance(loc[-1], bool)) or kind == "invalid_key":
        where = ".".join(str(p) for p in loc[:-1]) or "(top level)"
        message = f"{where}: a key is not a name (YAML read it as true/false or a number)"
        hint = "YAML reads on/off/yes/no as true/false: quote the key, or use 'reacts_to:' in flow steps"
    else:
        text = str(err.get("msg", "invalid value"))
        message = f"{where}: {text.removeprefix('Value error, ')}"
        hint = "fix the value; 'pattern-articles schema' describes every key and its type"
    return Problem(message, Place(path, line), hint)


def _prose_problem(err: Any, where: str, reference: Place) -> Problem:
    ctx = err.get("ctx") or {}
    message = str(err.get("msg", "invalid prose file")).split(": ", 1)[-1]
    return Problem(f"{message} (the file of {where}, {reference})",
                   Place(Path(ctx.get("path", reference.path)), int(ctx.get("line", 0))),
                   "fix the Markdown file; bundle.yml names it")


def _check_messages(bundle: Bundle, events: Mapping[str, Event]) -> Iterator[Problem]:
    """How each message travels: a call or a hand-off goes to someone, and a call's replies
    are messages of their own, declared as replies and sent back by whoever got the call."""
    for index, event in enumerate(bundle.model.events):
        if event is not events.get(event.name):
            continue  # the second of a duplicate: already reported
        if event.via in ("call", "send") and not event.consumers:
            what = "a call" if event.via == "call" else "a hand-off"
            yield Problem(
                f"'{event.name}' travels by '{event.via}' but has no consumers: {what} goes to someone",
                bundle.place("events", index, "via"),
                "name its receiver in consumers",
            )
        if event.replies and event.via != "call":
            yield Problem(
                f"'{event.name}' lists replies but travels by '{event.via}': only a call is answered",
                bundle.place("events", index, "replies"),
                "give it 'via: call', or remove 'replies' (a published event or a hand-off gets no reply)",
            )
            continue
        for r_index, name in enumerate(event.replies):
            reply = events.get(name)
            where = bundle.place("events", index, "replies", r_index)
            if reply is None:
                yield Problem(
                    f"'{event.name}' names reply '{name}', which is not a declared message",
                    where,
                    f"declare '{name}' under 'events' with 'kind: reply', 'via: call', the callee as "
                    "producer and the caller as consumer",
                )
            elif reply.kind != "reply":
                yield Problem(
                    f"'{event.name}' names reply '{name}', which is declared with kind '{reply.kind}'",
                    where,
                    f"give '{name}' 'kind: reply', or remove it from the replies of '{event.name}'",
                )
            else:
                strangers = [p for p in reply.producers if p not in event.consumers]
                if strangers:
                    yield Problem(
                        f"reply '{name}' is produced by '{strangers[0]}', which does not receive "
                        f"'{event.name}': only the callee answers a call",
                        where,
                        f"make the producer of '{name}' one of the consumers of '{event.name}'",
                    )


def _check_step_style(bundle: Bundle, loc: tuple[str | int, ...], step: Step,
                      events: Mapping[str, Event]) -> Iterator[Problem]:
    """A timeout follows a call, and a join cannot wait for more messages than can come."""
    if step.on_timeout is not None:
        waited = events.get(step.on_timeout)
        if waited is None:
            yield Problem(
                f"flow step's on_timeout names undeclared message '{step.on_timeout}'",
                bundle.place(*loc, "on_timeout"),
                "name the call whose reply did not come; declare it under 'events' with 'via: call'",
            )
        elif waited.via != "call":
            yield Problem(
                f"flow step's on_timeout names '{step.on_timeout}', which travels by '{waited.via}': "
                "only a call waits for a reply",
                bundle.place(*loc, "on_timeout"),
                f"give '{step.on_timeout}' 'via: call', or use reacts_to",
            )
    if step.join is not None:
        from .model import parse_join

        mode, count, _ = parse_join(step.join)
        awaited = sum(len(events[t].producers) for t in step.triggers if t in events)
        if mode == "first" and count is not None and all(t in events for t in step.triggers) and count > awaited:
            yield Problem(
                f"join '{step.join}' waits for {count} messages, but the step can get only {awaited} "
                f"(one per producer of {', '.join(repr(t) for t in step.triggers)})",
                bundle.place(*loc, "join"),
                "lower N, or add the missing producers to the awaited message",
            )


def cross_check(bundle: Bundle) -> Iterator[Problem]:
    """Checks across fields that a per-field schema cannot express."""
    m = bundle.model
    participants = {p.id for p in m.participants}
    events = {}
    for index, event in enumerate(m.events):
        if event.name in events:
            yield Problem(
                f"event '{event.name}' is declared twice",
                bundle.place("events", index, "name"),
                "event names must be unique; rename or remove one",
            )
        events[event.name] = event
        for p_index, producer in enumerate(event.producers):
            if producer not in participants:
                yield Problem(
                    f"event '{event.name}' is produced by '{producer}', "
                    "which is not a declared participant",
                    bundle.place("events", index, "producer",
                                 *(() if isinstance(event.producer, str) else (p_index,))),
                    f"declare it under 'participants' or use one of: {', '.join(sorted(participants))}",
                )
        for c_index, consumer in enumerate(event.consumers):
            if consumer not in participants:
                yield Problem(
                    f"event '{event.name}' names consumer '{consumer}', "
                    "which is not a declared participant",
                    bundle.place("events", index, "consumers", c_index),
                    f"declare it under 'participants' or use one of: {', '.join(sorted(participants))}",
                )
    yield from _check_messages(bundle, events)
    seen_ids: set[str] = set()
    for index, participant in enumerate(m.participants):
        if participant.id in seen_ids:
            yield Problem(
                f"participant '{participant.id}' is declared twice",
                bundle.place("participants", index, "id"),
                "participant ids must be unique; rename or remove one",
            )
        seen_ids.add(participant.id)
    emitted: set[str] = set()
    for flow_key, flow in m.all_flows():
        for s_index, step in enumerate(flow.steps):
            loc = (*flow_key, "steps", s_index)
            if step.actor not in participants:
                yield Problem(
                    f"flow step actor '{step.actor}' is not a declared participant",
                    bundle.place(*loc, "actor"),
                    f"declare it under 'participants' or use one of: {', '.join(sorted(participants))}",
                )
            for t_index, trigger in enumerate(step.triggers):
                if trigger not in events:
                    yield Problem(
                        f"flow step reacts to undeclared event '{trigger}'",
                        bundle.place(*loc, "reacts_to", *(() if isinstance(step.reacts_to, str) else (t_index,))),
                        "declare it under 'events'",
                    )
            for e_index, name in enumerate(step.emits):
                emitted.add(name)
                if name not in events:
                    yield Problem(
                        f"flow step emits undeclared event '{name}'",
                        bundle.place(*loc, "emits", e_index),
                        "declare it under 'events' with its producer and consumers",
                    )
                elif step.actor not in events[name].producers:
                    producers = events[name].producers
                    yield Problem(
                        f"'{step.actor}' emits '{name}', but the event's producer is '{producers[0]}'"
                        if len(producers) == 1 else
                        f"'{step.actor}' emits '{name}', which is not among its producers "
                        f"({', '.join(repr(p) for p in producers)})",
                        bundle.place(*loc, "emits", e_index),
                        "only the producer of an event may emit it" if len(producers) == 1 else
                        f"add '{step.actor}' to the producers of '{name}', or move the emit to one of them",
                    )
            yield from _check_step_style(bundle, loc, step, events)
        for c_index, comp in enumerate(getattr(flow, "compensations", [])):
            if comp.via_event not in events:
                yield Problem(
                    f"compensation names undeclared event '{comp.via_event}'",
                    bundle.place(*flow_key, "compensations", c_index, "via_event"),
                    "declare it under 'events' with its producer and consumers",
                )
    if m.all_flows():
        for index, event in enumerate(m.events):
            if event.name not in emitted:
                yield Problem(
                    f"event '{event.name}' is declared but no flow step emits it "
                    "(nobody produces it)",
                    bundle.place("events", index, "name"),
                    "add it to a flow step's 'emits' or remove the event",
                )
    yield from _check_scenario_names(bundle)
    regular: dict[str, bool] = {}  # path -> is a regular file: one stat per file and load

    def is_file(relative: str) -> bool:
        if relative not in regular:
            regular[relative] = (bundle.dir / relative).is_file()
        return regular[relative]

    if m.flows.snippet and _escapes(bundle, m.flows.snippet):
        yield Problem(_escapes(bundle, m.flows.snippet), bundle.place("flows", "snippet"), ESCAPE_HINT)
    elif m.flows.snippet and not is_file(m.flows.snippet):
        yield Problem(
            f"flows.snippet '{m.flows.snippet}' does not exist in {bundle.dir.name}/",
            bundle.place("flows", "snippet"),
            "name the script whose scenarios perform the flows",
        )
    for relative, spec in m.snippets.items():
        if _escapes(bundle, relative):
            yield Problem(_escapes(bundle, relative), bundle.place("snippets", relative), ESCAPE_HINT)
        elif not_a_snippet(bundle, relative):
            yield Problem(not_a_snippet(bundle, relative), bundle.place("snippets", relative), NOT_SNIPPET_HINT)
        elif not is_file(relative):
            yield Problem(
                f"snippets: '{relative}' {_missing(bundle, relative)}",
                bundle.place("snippets", relative),
                "check the file name; paths are relative to the bundle folder",
            )
        elif spec.run:
            for scenario in list(spec.scenarios) or [""]:
                loc = ("snippets", relative, "scenarios", scenario) if scenario else ("snippets", relative)
                if not scenario or _safe_scenario(scenario):
                    yield from _check_golden(bundle, relative, scenario, loc)
        yield from _check_inputs(bundle, relative, spec.inputs)
        for n_index, item in enumerate(spec.normalize):
            yield from _check_normaliser(bundle, item, ("snippets", relative, "normalize", n_index))
    for n_index, item in enumerate(m.normalize):
        yield from _check_normaliser(bundle, item, ("normalize", n_index))
    golden_checked: set[str] = set()
    for loc, ref in m.snippet_refs():
        path = ref.split("#", 1)[0]
        if _escapes(bundle, path):
            yield Problem(_escapes(bundle, path), bundle.place(*loc), ESCAPE_HINT)
        elif not_a_snippet(bundle, path):
            yield Problem(not_a_snippet(bundle, path), bundle.place(*loc), NOT_SNIPPET_HINT)
        elif is_file(path) and _is_binary(bundle.dir / path):
            yield Problem(
                f"'{ref}' names a binary file; only text can be shown as code",
                bundle.place(*loc),
                "point it at the source file that produces the data instead",
            )
        elif path not in m.snippets and not is_file(path):
            yield Problem(
                f"'{ref}' names a snippet that does not exist in {bundle.dir.name}/"
                if _missing(bundle, path).startswith("does not exist")
                else f"'{ref}' names a snippet that {_missing(bundle, path)}",
                bundle.place(*loc),
                "check the file name; paths are relative to the bundle folder",
            )
        elif path not in m.snippets and path not in golden_checked:
            golden_checked.add(path)  # shown, so run with the defaults: its golden is read
            yield from _check_golden(bundle, path, "", loc)


SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""A scenario's name becomes part of a file name (``expected/<stem>.<scenario>.txt``) and of
test ids (``file.py::scenario``): a safe set of characters, no ``..``, at most 100."""

SCENARIO_HINT = ("a scenario name becomes part of its golden file's name (expected/<stem>.<scenario>.txt): "
                 "use letters, digits, '.', '_' and '-', starting with a letter or digit, "
                 "without '..' (no '/', spaces, newlines or '::')")

NOT_SNIPPET_HINT = ("name a script of the bundle; bundle.yml is its metadata and expected/ holds the "
                    "golden outputs, neither is code to show or run")


def _safe_scenario(name: str) -> bool:
    return bool(SCENARIO_NAME.fullmatch(name)) and ".." not in name


def _check_scenario_names(bundle: Bundle) -> Iterator[Problem]:
    """Names that become file names are checked before anything runs: a scenario named
    ``x/../../../tmp/victim`` would make the update mode write ``/tmp/victim.txt``."""
    for relative, spec in bundle.model.snippets.items():
        for name in spec.scenarios:
            if _safe_scenario(name):
                continue
            if not name:
                why = ("an empty scenario name: its golden file would be the snippet's own "
                       "(expected/<stem>.txt)")
            else:
                why = f"scenario name {name!r} of '{relative}' cannot be part of a file name"
            yield Problem(why, bundle.place("snippets", relative, "scenarios", name), SCENARIO_HINT)


def not_a_snippet(bundle: Bundle, relative: str) -> str:
    """Why ``relative`` (inside the bundle) is not code ("" when it may be): the metadata and
    the golden files are data; shown or run as Python they would publish or execute them."""
    try:
        real = bundle.real_path(relative)
    except (OSError, RuntimeError, ValueError):
        return ""
    if real.parent == bundle.real_dir and real.name in METADATA_NAMES:
        return f"'{relative}' is the bundle's metadata, not a snippet"
    if real.is_relative_to(bundle.real_dir / "expected"):
        return f"'{relative}' is a golden output (in expected/), not a snippet"
    return ""


def _missing(bundle: Bundle, relative: str) -> str:
    """Why a snippet is not a regular file: missing, or a FIFO, a device, a folder."""
    from ..files import kind

    try:
        mode = os.stat(bundle.dir / relative).st_mode
    except OSError:
        return f"does not exist in {bundle.dir.name}/"
    return f"is {kind(mode)}, not a regular file"


def _check_golden(bundle: Bundle, relative: str, scenario: str, loc: Loc) -> Iterator[Problem]:
    """The golden file a run is compared with (and a page may show) must be a regular file
    inside the bundle: a link to ``/proc/self/environ`` would publish the build's secrets in
    the page's diff, a FIFO would block the build, ``/dev/zero`` exhaust its memory."""
    from ..files import GOLDEN_LIMIT, check_regular
    from .goldens import GOLDEN_HINT, golden_name

    try:
        inner = bundle.real_path(relative).relative_to(bundle.real_dir).as_posix()
    except (OSError, RuntimeError, ValueError):
        return
    name = golden_name(inner, scenario)
    folders = bundle.derived.setdefault("folders", {str(bundle.dir): str(bundle.real_dir)})
    reason = check_regular(bundle.dir / "expected" / name, bundle.real_dir, GOLDEN_LIMIT, folders)
    if reason:
        yield Problem(f"refusing the golden file expected/{name}: {reason}", bundle.place(*loc), GOLDEN_HINT)


def _check_inputs(bundle: Bundle, relative: str, patterns: list[str]) -> Iterator[Problem]:
    """Input files (globs) are hashed into the run's cache key: each must stay inside the
    bundle and be a regular file, or hashing it would read outside files, block or not end."""
    from ..files import check_regular

    for index, pattern in enumerate(patterns):
        place = bundle.place("snippets", relative, "inputs", index)
        if not pattern.strip() or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            yield Problem(f"inputs pattern {pattern!r} of '{relative}' must be relative to the bundle folder, "
                          "without '..'", place, "write a glob inside the bundle folder, e.g. 'data/*.json'")
            continue
        try:
            matches = sorted(bundle.dir.glob(pattern))
        except (OSError, ValueError, NotImplementedError) as exc:
            yield Problem(f"inputs pattern {pattern!r} of '{relative}' is not a valid glob: {exc}", place,
                          "write a glob inside the bundle folder, e.g. 'data/*.json'")
            continue
        for match in matches[:10_000]:
            if match.is_dir() and not match.is_symlink():
                continue
            reason = check_regular(match, bundle.real_dir)
            if reason and not reason.startswith("it is a folder"):
                shown = match.relative_to(bundle.dir).as_posix()
                yield Problem(f"input file {shown} of '{relative}' is refused: {reason}", place,
                              "inputs must be regular files inside the bundle folder")
                break


ESCAPE_HINT = ("a snippet must live inside its bundle folder: no absolute path, no '..' "
               "and no symlink pointing outside (the site would publish that file and run it)")


def _escapes(bundle: Bundle, relative: str) -> str:
    """Why ``relative`` leaves the bundle folder ("" when it stays inside).

    Checked when the bundle loads, so an escaping path is refused before anything is
    shown or run: ``../../etc/passwd``, ``/etc/passwd`` and a symlink to either.
    """
    if not relative.strip():
        return "an empty snippet path"
    if "\0" in relative:
        return f"snippet path {relative!r} holds a NUL character"
    if Path(relative).is_absolute():
        return f"snippet path '{relative}' is absolute; it must be relative to {bundle.dir.name}/"
    root = bundle.real_dir
    try:
        target = bundle.real_path(relative)
    except (OSError, RuntimeError, ValueError):  # a symlink loop
        return f"snippet path '{relative}' is a symlink loop"
    if target.is_relative_to(root):
        return ""
    link = bundle.dir / relative
    via = f" (a symlink to {target})" if ".." not in Path(relative).parts and link.is_symlink() else ""
    return f"snippet path '{relative}' leaves the bundle folder {bundle.dir.name}/{via}"


def _is_binary(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"\0" in handle.read(8192)
    except OSError:
        return False


def _check_normaliser(bundle: Bundle, item: object, loc: Loc) -> Iterator[Problem]:
    """Unknown built-in names and invalid regular expressions, caught at load with their line."""
    import re

    from .goldens import BUILTIN_NORMALISERS

    if isinstance(item, str):
        if item not in BUILTIN_NORMALISERS:
            yield Problem(
                f"unknown normaliser '{item}'",
                bundle.place(*loc),
                f"built-in normalisers: {', '.join(BUILTIN_NORMALISERS)}; or write {{pattern: ..., replace: ...}}",
            )
        return
    pattern = getattr(item, "pattern", "")
    try:
        re.compile(pattern)
    except re.error as exc:
        yield Problem(f"normaliser pattern is not a valid regular expression: {exc}", bundle.place(*loc, "pattern"),
                      "it is a Python regular expression (module re); escape special characters with \\\\")
