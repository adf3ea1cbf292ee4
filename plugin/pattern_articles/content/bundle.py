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

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PatternError, Place, Problem
from ..paths import resolve_through

if TYPE_CHECKING:
    from .model import BundleModel

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
            for sub_loc, line in _line_map(value_node, (*loc, key)):
                if sub_loc != (*loc, key):
                    yield sub_loc, line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _line_map(item, (*loc, index))


_MAX_NODES = 200_000  # far beyond any real bundle; stops alias "billion laughs" expansion


def _check_structure(node: Any, path: Path) -> None:
    """Refuse what PyYAML accepts silently but would hurt later: a key given twice (YAML
    keeps the last one, so the author's first value vanishes without a word), an alias that
    contains itself (endless recursion) and aliases that expand beyond any real bundle."""
    import yaml

    seen = 0
    # (node, ids of the nodes above it, line of the top-level key it belongs to)
    stack: list[tuple[Any, frozenset[int], int]] = [(node, frozenset(), 0)]
    while stack:
        current, ancestors, top = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            raise PatternError(
                f"metadata expands to more than {_MAX_NODES} values (YAML aliases?)",
                Place(path, top or current.start_mark.line + 1),
                hint="write the values out, or reuse fewer anchors",
            )
        if id(current) in ancestors:
            raise PatternError(
                "YAML alias refers to a value that contains it (an endless loop)",
                Place(path, current.start_mark.line + 1),
                hint="an alias (*name) must not point at its own anchor's parents",
            )
        inside = ancestors | {id(current)}
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key in first and key != "<<":
                    raise PatternError(
                        f"key '{key}' is given twice in the same mapping (first on line {first[key]})",
                        Place(path, line),
                        hint="YAML keeps only the last one; merge the two or remove one",
                    )
                first.setdefault(key, line)
                stack.append((value_node, inside, top or line))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, inside, top) for item in current.value)


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Read YAML, returning data and a location→line map; errors name the file and line."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PatternError(f"cannot read metadata: {exc.strerror}", Place(path),
                           hint="check the file's permissions") from None
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
        except yaml.YAMLError:
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
        raise PatternError(
            "metadata is nested too deeply", Place(path), hint="flatten the YAML structure"
        ) from None
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
    loc: Loc = tuple(err.get("loc", ()))
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
        where = ".".join(str(p) for p in loc[:-1])
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
        if event.producer not in participants:
            yield Problem(
                f"event '{event.name}' is produced by '{event.producer}', "
                "which is not a declared participant",
                bundle.place("events", index, "producer"),
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
            if step.reacts_to is not None and step.reacts_to not in events:
                yield Problem(
                    f"flow step reacts to undeclared event '{step.reacts_to}'",
                    bundle.place(*loc, "reacts_to"),
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
                elif events[name].producer != step.actor:
                    yield Problem(
                        f"'{step.actor}' emits '{name}', but the event's producer is "
                        f"'{events[name].producer}'",
                        bundle.place(*loc, "emits", e_index),
                        "only the producer of an event may emit it",
                    )
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
        elif not is_file(relative):
            yield Problem(
                f"snippets: '{relative}' does not exist in {bundle.dir.name}/",
                bundle.place("snippets", relative),
                "check the file name; paths are relative to the bundle folder",
            )
        for n_index, item in enumerate(spec.normalize):
            yield from _check_normaliser(bundle, item, ("snippets", relative, "normalize", n_index))
    for n_index, item in enumerate(m.normalize):
        yield from _check_normaliser(bundle, item, ("normalize", n_index))
    for loc, ref in m.snippet_refs():
        path = ref.split("#", 1)[0]
        if _escapes(bundle, path):
            yield Problem(_escapes(bundle, path), bundle.place(*loc), ESCAPE_HINT)
        elif is_file(path) and _is_binary(bundle.dir / path):
            yield Problem(
                f"'{ref}' names a binary file; only text can be shown as code",
                bundle.place(*loc),
                "point it at the source file that produces the data instead",
            )
        elif path not in m.snippets and not is_file(path):
            yield Problem(
                f"'{ref}' names a snippet that does not exist in {bundle.dir.name}/",
                bundle.place(*loc),
                "check the file name; paths are relative to the bundle folder",
            )


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

    from ..engine import BUILTIN_NORMALISERS

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
