"""Result cache for snippet runs: keys, and stored results per bundle, shared by every adapter.

Why keyed on content and not on mtimes: ``mkdocs build``, ``mkdocs serve``, pytest (also
under xdist) and the CLI must all agree on whether a result is still valid, across processes
and checkouts. The key is the sha256 of

* the snippet's bytes, and the bytes of every file inside its bundle it depends on: Python
  modules it imports (``import shop.bus``, ``from shop import bus``, ``from .x import y``,
  ``importlib.import_module("shop.x")``), transitively, including the packages'
  ``__init__.py``; data files it names in string literals (``"orders.json"``,
  ``Path(__file__).parent / "data" / "orders.json"``); and the spec's declared ``inputs``
  globs. Both are read off the compiled code (:func:`_code_facts`; the AST where that code
  has an unusual shape), and the compiled snippet goes on to its run (``runner.py``);
* the versions of the installed distributions it imports (``importlib.metadata``), and
  "not installed" for imports that resolve nowhere, so installing one invalidates;
* the spec itself (args, env, timeout, needs, language, scenario, inputs) and the absolute
  snippet path (tracebacks print it);
* the listing (names and kinds of entry) of the snippet's folder and of its bundle folder,
  which a snippet may print without reading any file there (:func:`_listings`);
* a *context* the runner supplies: the interpreter identity, the output limit, the
  environment allowlist and the values of the allowlisted variables (see ``runner.py``).

Golden files (``expected/``) are not part of the key: the cached output is compared with the
current golden on every build, so editing a golden never needs a re-run.

Only passing runs are cached (the runner decides; see ``runner.py``). The entries of a
bundle's runs live in one file, ``results/<digest>.jsonl``, a line per entry, which a session
appends to once when its runs are done, under a lock file shared by every process using the
cache, and which is compacted (rewritten atomically) when most of its lines are outdated
(see :class:`_Results`). A reader takes no lock: it may meet a line still being appended, or
one a crash left cut short; JSON cut anywhere does not parse, so that is a miss, and the next
run's entry is appended on a line of its own. Any unreadable or malformed entry is treated as
a miss the same way.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import marshal
import opcode
import os
import sys
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..paths import resolve_through

if TYPE_CHECKING:
    from .spec import RunSpec

CACHE_FORMAT = 2
"""Bumped whenever the entry layout or the meaning of the key changes (2: one file of
entries per bundle, ``results/*.jsonl``)."""

_MAX_DIR_FILES = 500  # a string literal naming a folder adds at most this many files
_SKIP_DIRS = frozenset({"__pycache__", "expected", ".git", "node_modules", ".venv"})
_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


class Compiled(NamedTuple):
    """A snippet compiled while its key was computed, for the runner to hand to its worker
    with the run: the worker then neither compiles it nor scans it for imports."""

    code: bytes  # marshal bytes of the code, named by the snippet path as given
    imports: tuple[str, ...]  # dotted names it and the bundle modules it uses import


@dataclass(frozen=True)
class Analysis:
    """What a snippet depends on: files inside its bundle, and top-level modules outside it.

    ``code``: the snippet compiled on the way; None when it was not compiled here.
    ``digests``: the content digest of each Python file the analysis read (by the path it
    read), so the key digests the very bytes that were compiled and read no file twice."""

    files: tuple[Path, ...]
    external: tuple[str, ...]
    code: Compiled | None = None
    digests: Mapping[Path, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class _ModuleFacts:
    """What one Python file's AST says: the imports it makes and the strings it names."""

    imports: tuple[tuple[str, tuple[str, ...], int], ...]  # (module, names, level)
    strings: tuple[str, ...]

    @functools.cached_property
    def by_first(self) -> dict[str, tuple[str, ...]]:
        """The strings by their first path component, and by its casefolded form: a
        folder's listing picks the ones worth probing in one set operation, not a test
        per literal (a snippet has ~30 of them; most name nothing)."""
        index: dict[str, list[str]] = {}
        for text in self.strings:
            first = text.partition("/")[0]
            index.setdefault(first, []).append(text)
            folded = first.casefold()
            if folded != first:
                index.setdefault(folded, []).append(text)
        return {first: tuple(texts) for first, texts in index.items()}


def dependencies(spec: RunSpec) -> list[Path]:
    """Every file whose change must re-run ``spec`` (for a watcher such as ``mkdocs serve``).

    The snippet itself comes first; the rest are sorted.
    """
    return list(analyse(spec).files)


def analyse(spec: RunSpec, real_bundle: Path | None = None) -> Analysis:
    """Resolve the snippet's dependencies inside its bundle (see the module docstring).

    ``real_bundle``: ``spec.bundle_dir`` resolved, when the caller has it already."""
    return _Analyser(real_bundle or spec.bundle_dir.resolve(), spec.bundle_dir).run(spec)


class _Analyser:
    def __init__(self, bundle: Path, given: Path | None = None) -> None:
        self.bundle = bundle  # resolved
        self._listed: dict[str, frozenset[str] | None] = {}  # folder -> its names (casefolded too)
        # folder as written -> resolved (see paths.resolve_through)
        self._real: dict[str, str] = {str(given): str(bundle)} if given is not None else {}

    def _resolved(self, path: Path) -> Path:
        """``path.resolve()``, resolving each folder once per analysis."""
        return Path(resolve_through(str(path), self._real))

    def _names(self, folder: str) -> frozenset[str] | None:
        """The names in ``folder`` (and their casefolded forms: a case-insensitive file
        system finds "Data" as "data"), listed once per analysis; None if unreadable."""
        if folder not in self._listed:
            self._listed[folder] = _listing(folder)
        return self._listed[folder]

    def run(self, spec: RunSpec) -> Analysis:
        snippet = self._resolved(spec.snippet)
        found: list[Path] = []
        seen: set[Path] = set()
        external: set[str] = set()

        def add(path: Path) -> None:
            path = self._resolved(path)
            if path not in seen and path.is_file() and self._inside(path):
                seen.add(path)
                found.append(path)

        seen.add(snippet)
        code: bytes | None = None
        digests: dict[Path, str] = {}
        imported: set[str] = set()  # absolute imports of the snippet and its bundle modules
        if spec.language == "python" and snippet.is_file():
            todo: list[tuple[Path, str | None]] = [(snippet, None)]  # (file, its package)
            done: set[Path] = set()
            while todo:
                path, package = todo.pop()
                if path in done:
                    continue
                done.add(path)
                facts, shipped, digest = _facts_and_code(path, str(spec.snippet) if path == snippet else None)
                if path == snippet:
                    code = shipped
                if digest is not None:
                    digests[path] = digest
                imported |= _absolute_imports(facts)
                for module, names, level in facts.imports:
                    for target in self._resolve(module, names, level, package, external):
                        add(target)
                        if target.suffix == ".py" and target not in done:
                            todo.append((target, self._package_of(target)))
                for target in self._data_files(facts, path.parent):
                    add(target)
        for pattern in spec.inputs:
            for match in sorted(self.bundle.glob(pattern)):
                if match.is_file():
                    add(match)
        files = [snippet, *sorted(p for p in found if p != snippet)]
        compiled = Compiled(code, tuple(sorted(imported))) if code is not None else None
        return Analysis(tuple(files), tuple(sorted(external)), compiled, digests)

    def _inside(self, path: Path) -> bool:
        try:
            path.relative_to(self.bundle)
        except ValueError:
            return False
        return True

    def _package_of(self, module_file: Path) -> str | None:
        """Dotted package a bundle module belongs to (for relative imports)."""
        try:
            parts = list(module_file.relative_to(self.bundle).parts)
        except ValueError:
            return None
        return ".".join(parts[:-1])  # shop/bus.py and shop/__init__.py are both in "shop"

    def _module_files(self, dotted: str) -> list[Path]:
        """Files executed by importing ``dotted`` from the bundle: each package's
        ``__init__.py`` on the way, then the module (a ``.py`` file or a package)."""
        files: list[Path] = []
        folder = self.bundle
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            package = folder / part
            if package.is_dir():
                init = package / "__init__.py"
                if init.is_file():
                    files.append(init)
                folder = package
                continue
            module = folder / f"{part}.py"
            if last and module.is_file():
                files.append(module)
            break
        return files

    def _resolve(
        self, module: str, names: tuple[str, ...], level: int, package: str | None,
        external: set[str],
    ) -> list[Path]:
        if level:
            if package is None:
                return []  # a relative import in a script fails at run time anyway
            base = package.split(".") if package else []
            if level - 1 > len(base):
                return []
            base = base[: len(base) - (level - 1)]
            dotted = ".".join([*base, module] if module else base)
        else:
            dotted = module
        if not dotted:
            return []
        top = dotted.split(".")[0]
        if not level and not self._is_local(top):
            if top not in _STDLIB:
                external.add(top)
            return []
        files = self._module_files(dotted)
        for name in names:  # ``from pkg import sub`` may import a submodule
            if name != "*":
                files.extend(self._module_files(f"{dotted}.{name}")[-1:])
        return files

    def _is_local(self, top: str) -> bool:
        names = self._names(str(self.bundle))  # listed once: most imports are not local
        if names is not None and not {top, f"{top}.py", top.casefold(), f"{top}.py".casefold()} & names:
            return False
        return (self.bundle / top).is_dir() or (self.bundle / f"{top}.py").is_file()

    def _data_files(self, facts: _ModuleFacts, module_dir: Path) -> list[Path]:
        """Files the string literals of one module name (each already passed
        :func:`_may_name_file`), relative to the bundle or to the module's folder."""
        out: list[Path] = []
        by_first = facts.by_first
        # a snippet at the top of its bundle: one probe per literal, not the same one twice
        for base in (self.bundle,) if module_dir == self.bundle else (self.bundle, module_dir):
            names = self._names(str(base))
            if names is None:
                texts: Iterable[str] = facts.strings
            else:  # most literals name nothing there: no system call at all
                firsts = (by_first.keys() & names) | (by_first.keys() & _ALWAYS_PROBED)
                texts = dict.fromkeys(text for first in sorted(firsts) for text in by_first[first])
            for text in texts:
                out.extend(self._data_file(text, base))
        return out

    def _data_file(self, text: str, base: Path) -> list[Path]:
        """The files ``text`` names relative to ``base``: one, a folder's, or none."""
        if not os.path.lexists(os.path.join(base, text)):
            return []  # one failed lstat, not a realpath walk
        try:
            candidate = (base / text).resolve()
        except (OSError, ValueError):
            return []
        if not self._inside(candidate) or candidate == self.bundle:
            return []
        rel = candidate.relative_to(self.bundle)
        if rel.parts and rel.parts[0] in _SKIP_DIRS:
            return []
        if candidate.is_file():
            return [candidate]
        out: list[Path] = []
        if candidate.is_dir():
            for path in sorted(candidate.rglob("*")):
                if _SKIP_DIRS.intersection(path.relative_to(self.bundle).parts):
                    continue
                if path.is_file():
                    out.append(path)
                    if len(out) >= _MAX_DIR_FILES:
                        break
        return out


_ALWAYS_PROBED = frozenset({"", ".", ".."})  # first components no listing holds: "/abs", "./x", "../x"
_LISTINGS: dict[str, tuple[tuple[int, int, int, int], frozenset[str]]] = {}
_LISTINGS_KEPT = 256
# the racy guard for listings: its own, as a folder's size rarely changes with an entry, so
# only its timestamps tell (tests that trust every file by signature keep this one)
_LISTING_RACY_NS = 2_000_000_000


def _listing(folder: str) -> frozenset[str] | None:
    """The names in ``folder`` and their casefolded forms; None if unreadable.

    Remembered while the folder's signature is unchanged (adding, removing or renaming an
    entry changes its mtime), once the folder is older than the racy guard: every snippet
    of a bundle is analysed against the bundle folder, and listing it and folding every
    name again per snippet cost more than the stat that replaces it.
    """
    signature = _signature(folder)
    if signature is None:
        return None
    known = _LISTINGS.get(folder)
    if known is not None and known[0] == signature:
        return known[1]
    try:
        listed = os.listdir(folder)
    except OSError:
        return None
    names = frozenset(listed) | frozenset(n.casefold() for n in listed)
    if time.time_ns() - max(signature[0], signature[1]) > _LISTING_RACY_NS:
        if len(_LISTINGS) >= _LISTINGS_KEPT:
            _LISTINGS.clear()
        _LISTINGS[folder] = (signature, names)
    return names


_LISTED: dict[str, tuple[tuple[int, int, int, int], str]] = {}  # folder -> (signature, digest)


def _listings(spec: RunSpec) -> list[str]:
    """Digests of what the snippet's folder and its bundle folder hold (names and kinds).

    Why in the key: a snippet may list its folder (``os.listdir(Path(__file__).parent)``),
    and its output then changes when a file is added there although no file it reads did.
    Those two folders are what a run sees of its bundle without naming a file; a file it
    names is a dependency already. Each digest is remembered while the folder's signature
    holds (adding, removing or renaming an entry changes its mtime), so a warm key pays one
    stat per folder, not a listing.
    """
    folders = dict.fromkeys((os.path.dirname(str(spec.snippet)), str(spec.bundle_dir)))
    return [_listing_digest(folder) for folder in folders]


def _listing_digest(folder: str) -> str:
    signature = _signature(folder)
    if signature is None:
        return "unreadable"
    known = _LISTED.get(folder)
    if known is not None and known[0] == signature:
        return known[1]
    try:
        with os.scandir(folder) as entries:
            kinds = sorted(f"{e.name}\0{_kind(e)}" for e in entries if e.name != "__pycache__")
    except OSError:
        return "unreadable"
    digest = hashlib.sha256("\n".join(kinds).encode("utf-8", "surrogateescape")).hexdigest()
    if time.time_ns() - max(signature[0], signature[1]) > _LISTING_RACY_NS:  # see _listing
        if len(_LISTED) >= _LISTINGS_KEPT:
            _LISTED.clear()
        _LISTED[folder] = (signature, digest)
    return digest


def _kind(entry: os.DirEntry[str]) -> str:
    try:
        if entry.is_symlink():
            return "link"
        return "dir" if entry.is_dir(follow_symlinks=False) else "file"
    except OSError:
        return "?"


_FACTS_LOCK = threading.Lock()
_FACTS: dict[str, _ModuleFacts] = {}
_LAST_CODE: tuple[str, str, bytes] | None = None  # (digest, run_as, marshal bytes): see _facts_and_code
# Why few: a snippet is analysed once per build (its dependency memo answers after that), so
# what is worth keeping are the modules many snippets import, which a short LRU keeps hot.
# Keeping every file's facts held ~1 KB per snippet of string literals for the whole build.
_FACTS_KEPT = 256


def _facts_and_code(path: Path, run_as: str | None = None) -> tuple[_ModuleFacts, bytes | None, str | None]:
    """The imports and string literals of one file, memoised by content (not by mtime);
    with ``run_as`` (the path the worker runs the file as) the file compiled under that
    name, as ``marshal`` bytes: None when the file does not compile cleanly (the child then
    compiles it and shows why); and the digest of the bytes read (None when unreadable),
    which is what :func:`file_digest` would give.

    Why compile here: the facts are read off the compiled code (:func:`_code_facts`,
    cheaper than an AST walk), and the same code saves the run its own compile, which in a
    forked child cost ~0.35 ms of CPU (its scratch memory is fresh pages there), up to
    0.65 ms with the faults. So a file whose facts are remembered (the next scenario of a
    snippet, a file of the same content) is still compiled when it is to be run; the last
    code made is kept for the next scenario of the same file.
    """
    global _LAST_CODE
    try:
        source = path.read_bytes()
    except OSError:
        return _ModuleFacts((), ()), None, None
    digest = hashlib.sha256(source).hexdigest()
    with _FACTS_LOCK:
        cached = _FACTS.pop(digest, None)
        if cached is not None:
            _FACTS[digest] = cached  # most recently used last
        last = _LAST_CODE
    if cached is not None:
        if run_as is None:
            return cached, None, digest
        if last is not None and last[0] == digest and last[1] == run_as:
            return cached, last[2], digest
    code: types.CodeType | None = None
    try:
        with warnings.catch_warnings():
            # a warning raises: the child compiles the file itself and shows the warning
            # on the snippet's stderr, as ``python snippet.py`` would
            warnings.simplefilter("error")
            code = compile(source, run_as or str(path), "exec", dont_inherit=True, optimize=0)
    except Exception:  # SyntaxError, a warning, null bytes, too deep: the AST decides below
        code = None
    shipped = marshal.dumps(code) if run_as is not None and code is not None else None
    if shipped is not None:
        with _FACTS_LOCK:
            _LAST_CODE = (digest, run_as or "", shipped)
    if cached is not None:
        return cached, shipped, digest
    facts = _code_facts(code) if code is not None else None
    if facts is None:
        facts = _parsed_facts(source, path)
    with _FACTS_LOCK:
        while len(_FACTS) >= _FACTS_KEPT:
            del _FACTS[next(iter(_FACTS))]  # the least recently used
        _FACTS[digest] = facts
    return facts, shipped, digest


def _absolute_imports(facts: _ModuleFacts) -> set[str]:
    """The dotted names a module's absolute imports name (``from a import b``: ``a`` and
    ``a.b``): what the worker may preload for it."""
    imported: set[str] = set()
    for module, names, level in facts.imports:
        if not level and module:
            imported.add(module)
            imported.update(f"{module}.{name}" for name in names if name != "*")
    return imported


def _parsed_facts(source: bytes, path: Path) -> _ModuleFacts:
    """The facts from the AST: for a file that does not compile cleanly, or whose imports
    :func:`_code_facts` cannot read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the build's output is not the place for them
            tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _ModuleFacts((), ())  # the run will show the error; the hash still counts
    return _collect(tree)


_IMPORT_NAME = opcode.opmap["IMPORT_NAME"]
_IMPORT_OP = bytes([_IMPORT_NAME])
_LOAD_CONST = opcode.opmap["LOAD_CONST"]
_LOAD_SMALL_INT = opcode.opmap.get("LOAD_SMALL_INT", -1)  # 3.14 may load the level so
_EXTENDED_ARG = opcode.EXTENDED_ARG
_DYNAMIC = frozenset({"import_module", "__import__"})


def _code_facts(code: types.CodeType) -> _ModuleFacts | None:
    """Imports and string literals of a module, read off its code objects; None when an
    import does not have the usual shape (then the AST decides: :func:`_parsed_facts`).

    Imports are exact: every ``import`` compiles to ``LOAD_CONST level; LOAD_CONST
    fromlist; IMPORT_NAME module`` (the level with ``LOAD_SMALL_INT`` from 3.14), the same
    (module, names, level) the AST gives; it is the shape CPython's own
    ``dis._find_imports`` (behind ``modulefinder``) reads. The strings are a superset of the
    AST's literals: every string constant (also keyword and qualified names, which name no
    file and are dropped by :meth:`_Analyser._data_files` without a probe), and where the AST joined
    ``join(base, "data", "x.json")`` or ``base / "data" / "x.json"`` into ``data/x.json``,
    this joins each two and three neighbouring constants. Where ``import_module`` or
    ``__import__`` is called, each dotted-name constant of that code is taken as an import.
    Reading the constants costs a few microseconds; parsing to an AST and walking it cost
    ~0.2 ms per snippet.
    """
    imports: list[tuple[str, tuple[str, ...], int]] = []
    strings: list[str] = []
    todo = [code]
    while todo:
        co = todo.pop()
        texts: list[str] = []
        values = list(co.co_consts)
        while values:
            value = values.pop()
            kind = type(value)
            if kind is str:
                texts.append(value)
            elif kind is types.CodeType:
                todo.append(value)
            elif kind is tuple or kind is frozenset:
                values.extend(value)
        texts.reverse()  # in the order of co_consts: neighbours stay neighbours
        raw = co.co_code
        at = raw.find(_IMPORT_OP)
        while at >= 0:
            if not at % 2:  # an opcode, not an argument
                found = _import_at(co, raw, at)
                if found is None:
                    return None
                imports.append(found)
            at = raw.find(_IMPORT_OP, at + 1)
        if _DYNAMIC.intersection(co.co_names):
            imports.extend((text, (), 0) for text in texts
                           if text and all(part.isidentifier() for part in text.split(".")))
        strings.extend(texts)
        strings.extend(f"{a}/{b}" for a, b in itertools.pairwise(texts))
        strings.extend(f"{a}/{b}/{c}" for a, b, c in zip(texts, texts[1:], texts[2:], strict=False))
    return _ModuleFacts(tuple(imports), tuple(dict.fromkeys(filter(_may_name_file, strings))))


def _import_at(co: types.CodeType, raw: bytes, at: int) -> tuple[str, tuple[str, ...], int] | None:
    """(module, fromlist, level) of the ``IMPORT_NAME`` at ``at``; None for any other shape
    (an ``EXTENDED_ARG`` prefix, another instruction before it)."""
    if at < 4 or raw[at - 2] != _LOAD_CONST or (at >= 6 and raw[at - 6] == _EXTENDED_ARG):
        return None
    level_op, level_arg = raw[at - 4], raw[at - 3]
    if level_op == _LOAD_CONST:
        level = co.co_consts[level_arg]
    elif level_op == _LOAD_SMALL_INT:
        level = level_arg
    else:
        return None
    names = co.co_consts[raw[at - 1]]
    if type(level) is not int or not (names is None or (
            type(names) is tuple and all(type(name) is str for name in names))):
        return None
    return co.co_names[raw[at + 1]], names or (), level


def forget_facts() -> None:
    """Drop every remembered module's facts and folder listing (see :func:`project.release_caches`)."""
    global _LAST_CODE
    with _FACTS_LOCK:
        _FACTS.clear()
        _LAST_CODE = None
    _LISTINGS.clear()


_FIELDS: dict[type, tuple[str, ...]] = {}  # node class -> its child fields (str etc.: none)


def _collect(tree: ast.AST) -> _ModuleFacts:
    """Every import and string literal of a module, visiting each node once.

    Not ``ast.walk`` with an ``isinstance`` chain: its generators made this walk cost as much
    as the parse itself, once for every snippet of a cold build. The same nodes are visited
    (the order differs, which no caller depends on: results are sorted or deduplicated).
    """
    imports: list[tuple[str, tuple[str, ...], int]] = []
    strings: list[str] = []
    todo: list[Any] = [tree]
    pop, push, extend = todo.pop, todo.append, todo.extend
    constant, call, binop = ast.Constant, ast.Call, ast.BinOp
    while todo:
        node = pop()
        kind = type(node)
        if kind is constant:
            if isinstance(node.value, str):
                strings.append(node.value)
            continue
        if kind is ast.Import:
            imports.extend((alias.name, (), 0) for alias in node.names)
        elif kind is ast.ImportFrom:
            names = tuple(alias.name for alias in node.names)
            imports.append((node.module or "", names, node.level))
        elif kind is call:
            target = _dynamic_import(node)
            if target:
                imports.append((target, (), 0))
            joined = _joined_call(node)
            if joined:
                strings.append(joined)
        elif kind is binop and isinstance(node.op, ast.Div):
            joined = _joined_div(node)
            if joined:
                strings.append(joined)
        fields = _FIELDS.get(kind)
        if fields is None:  # e.g. the str items of Global.names: no children
            fields = _FIELDS[kind] = tuple(getattr(kind, "_fields", ()) or ())
        for name in fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                extend(value)
            elif isinstance(value, ast.AST):
                push(value)
    # only the literals that could name a file are kept: the facts of every module stay in
    # memory for the whole build, and docstrings were most of their size
    return _ModuleFacts(tuple(imports), tuple(dict.fromkeys(filter(_may_name_file, strings))))


def _may_name_file(text: str) -> bool:
    """Whether a string literal could be a path a snippet reads (checked before any probe)."""
    return bool(text) and text not in (".", "..") and len(text) <= 255 and "\n" not in text and "\0" not in text


def _dynamic_import(node: ast.Call) -> str:
    """``importlib.import_module("x.y")`` / ``__import__("x")`` with a literal name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(
        func, ast.Name) else ""
    if name in ("import_module", "__import__") and node.args:
        first = node.args[0]
        if (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and not first.value.startswith(".")):
            return first.value
    return ""


def _joined_call(node: ast.Call) -> str:
    """``os.path.join(anything, "data", "orders.json")`` -> ``data/orders.json``."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "join" and node.args:
        tail: list[str] = []
        for arg in reversed(node.args):
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                tail.insert(0, arg.value)
            else:
                break
        if len(tail) > 1:
            return "/".join(tail)
    return ""


def _joined_div(node: ast.BinOp) -> str:
    """``base / "data" / "orders.json"`` -> ``data/orders.json`` (the literal suffix)."""
    tail: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Div):
        right = current.right
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            tail.insert(0, right.value)
            current = current.left
        else:
            break
    else:
        if isinstance(current, ast.Constant) and isinstance(current.value, str):
            tail.insert(0, current.value)
    return "/".join(tail) if len(tail) > 1 else ""


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


class _Distributions:
    """Installed versions of the distributions providing top-level modules (memoised:
    ``packages_distributions()`` scans every installed distribution)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._map: Mapping[str, list[str]] | None = None
        self._versions: dict[str, object] = {}

    def versions(self, modules: Iterable[str]) -> dict[str, object]:
        return {name: self._version_of(name) for name in sorted(set(modules))}

    def _version_of(self, module: str) -> object:
        with self._lock:
            if module in self._versions:
                return self._versions[module]
            if self._map is None:
                try:
                    self._map = importlib.metadata.packages_distributions()
                except Exception:
                    self._map = {}
            dists = sorted(set(self._map.get(module, [])))
            value: object
            if dists:
                found: dict[str, str] = {}
                for dist in dists:
                    try:
                        found[dist] = importlib.metadata.version(dist)
                    except importlib.metadata.PackageNotFoundError:
                        found[dist] = "?"
                value = found
            else:
                try:
                    spec = importlib.util.find_spec(module)
                except (ImportError, ValueError):
                    spec = None
                if spec is None:
                    value = None  # not installed: installing it must invalidate
                else:
                    origin = spec.origin or ""
                    value = {"unpackaged": origin, "mtime": _mtime(origin)}
            self._versions[module] = value
            return value


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


_MEMO_FORMAT = 3  # 2: one file per bundle; 3: facts read off the compiled code (a wider set)
_RACY_NS = 2_000_000_000  # a file changed this recently may change again within its mtime tick
_RECENT_S = 1.0  # how long a bundle folder's resolution, or a walk of its folders, stands for the next analysis


def _signature(path: str) -> tuple[int, int, int, int] | None:
    """What changes whenever a file or folder is written: mtime, ctime, size, inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _folders(bundle: Path) -> list[tuple[Any, ...]]:
    """Every folder of a bundle (the skipped ones aside) with its signature: creating or
    removing a file anywhere the analysis could look changes one of them."""
    out: list[tuple[Any, ...]] = []
    todo = [str(bundle)]
    while todo:
        folder = todo.pop()
        signature = _signature(folder)
        if signature is None:
            continue
        out.append((folder, *signature))
        try:
            with os.scandir(folder) as entries:
                todo.extend(e.path for e in entries
                            if e.name not in _SKIP_DIRS and e.is_dir(follow_symlinks=False))
        except OSError:
            continue
    return sorted(out)


class _Memo(NamedTuple):
    """One snippet's remembered analysis (the memo file's content, in tuples)."""

    folders: tuple[tuple[Any, ...], ...]  # (folder, *signature), shared by the bundle's memos
    stats: tuple[tuple[str, tuple[int, ...] | None], ...]  # (file, signature)
    files: tuple[tuple[str, str], ...]  # (name, digest), as in the cache key
    external: tuple[str, ...]


class _DependencyMemo:
    """The dependency analysis of a snippet, remembered on disk and trusted while no file it
    read and no folder of its bundle changed (by stat).

    Why: analysing (AST, path probing) and hashing every dependency of every snippet was
    most of a warm build's cache-lookup time; a stat per file gives the same answer. The
    cache key still hashes contents: only *which* files and their digests are remembered,
    and a file written less than two seconds before the analysis is never trusted by stat
    (its next write may fall in the same timestamp tick, as git's "racy clean" files).
    """

    def __init__(self, folder: Path, batched: Callable[[], bool] = lambda: False) -> None:
        self.folder = folder
        self._batched = batched  # whether new memos wait for the end of a batch (Cache.batch)
        self._real: dict[Path, tuple[float, Path]] = {}  # bundle folder -> (when, its resolved path)
        self._known: dict[tuple[Path, str], _Memo] = {}  # memos this process trusted or wrote
        # one copy of each bundle's folder list for all of its snippets' memos: a cold
        # build holds a memo per snippet until it ends
        self._shared: dict[str, tuple[tuple[Any, ...], ...]] = {}  # bundle folder -> its list
        self._lock = threading.Lock()
        # memo file -> its entries as read, each dropped once _known holds it as a _Memo
        self._files: dict[Path, dict[str, Any]] = {}
        self._pending: dict[Path, dict[str, Any]] = {}  # memo file -> entries not written yet
        self._paths: dict[Path, Path] = {}  # bundle folder -> its memo file
        self._after: dict[Path, tuple[float, list[tuple[Any, ...]]]] = {}  # see _recent_folders

    def path_for(self, spec: RunSpec) -> Path | None:
        """The memo file of ``spec``'s bundle: one per bundle, not per snippet (a cold build
        created a file per snippet, which cost more than the analysis it saves next time)."""
        if spec.inputs:  # globs may reach into skipped folders: always analyse
            return None
        known = self._paths.get(spec.bundle_dir)
        if known is None:
            ident = f"{_MEMO_FORMAT}\0{spec.bundle_dir}"
            known = self._paths[spec.bundle_dir] = (
                self.folder / f"{hashlib.sha256(ident.encode()).hexdigest()}.json")
        return known

    @staticmethod
    def _ident(spec: RunSpec) -> str:
        return f"{spec.snippet}\0{spec.language}"

    def flush(self) -> None:
        """Write every memo file with new entries, merged with what is on disk by now
        (another process sharing the cache may have added its own)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for path, entries in pending.items():
            merged = {**self._load(path), **entries}
            write_atomic(path, json.dumps({"memos": merged}).encode("utf-8"))

    def forget(self) -> None:
        """Write what is pending, then drop every memo held in memory (they stay on disk: a
        later key reads its bundle's memo file again)."""
        self.flush()
        with self._lock:
            for held in (self._known, self._files, self._shared, self._after, self._real, self._paths):
                held.clear()

    @staticmethod
    def _load(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_bytes())
            memos = data["memos"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return memos if isinstance(memos, dict) else {}

    def _entries(self, path: Path) -> dict[str, Any]:
        """The memo file's entries not yet taken by :meth:`files`, read once per process."""
        with self._lock:
            known = self._files.get(path)
        if known is None:
            loaded = self._load(path)
            with self._lock:
                known = self._files.setdefault(path, loaded)
        return known

    def files(self, spec: RunSpec) -> tuple[list[tuple[str, str]], tuple[str, ...], Compiled | None]:
        """(name, digest) of every dependency and the external modules, as in :meth:`Cache.key`,
        and the snippet's code when it was compiled on the way (see :class:`Analysis`)."""
        path = self.path_for(spec)
        bundle = self._real_bundle(spec.bundle_dir)
        ident = self._ident(spec)
        if path is not None:
            try:
                memo = self._known.get((path, ident)) or self._read(self._entries(path).pop(ident))
                if (memo.folders == tuple(_folders(bundle))
                        and all(_signature(name) == sig for name, sig in memo.stats)):
                    self._known[(path, ident)] = memo  # a run's result is stored after a second look
                    return list(memo.files), memo.external, None
            except (OSError, ValueError, KeyError, TypeError):
                pass
        if path is not None:
            self._known.pop((path, ident), None)  # stale; see watch()
        folders = self._recent_folders(bundle) if path is not None else []
        analysis = analyse(spec, bundle)
        stats = [(str(f), _signature(str(f))) for f in analysis.files]
        files = []
        for dependency in analysis.files:
            try:
                name = dependency.relative_to(bundle).as_posix()
            except ValueError:
                name = str(dependency)
            files.append((name, analysis.digests.get(dependency) or file_digest(dependency)))
        if path is not None:
            now = time.time_ns()
            settled = all(sig is not None and now - max(sig[0], sig[1]) > _RACY_NS for _, sig in stats)
            after = _folders(bundle)
            self._after[bundle] = (time.monotonic(), after)
            if settled and folders == after and all(_signature(n) == sig for n, sig in stats):
                data = {"folders": folders, "stats": stats, "files": files, "external": list(analysis.external)}
                with self._lock:
                    self._pending.setdefault(path, {})[ident] = data
                if not self._batched():
                    self.flush()
                self._known[(path, ident)] = self._memo(folders, stats, files, analysis.external)
        return files, analysis.external, analysis.code

    def _real_bundle(self, folder: Path) -> Path:
        """``folder`` resolved, remembered for a moment: the snippets of a bundle are keyed
        in a burst, and the analysis resolves their paths through it; a bundle re-pointed
        (a symlink on its path changed) is seen by the next build."""
        now = time.monotonic()
        known = self._real.get(folder)
        if known is not None and now - known[0] < _RECENT_S:
            return known[1]
        real = folder.resolve()
        self._real[folder] = (now, real)
        return real

    def _recent_folders(self, bundle: Path) -> list[tuple[Any, ...]]:
        """The bundle's folders as they were before an analysis starts.

        The check that followed the previous analysis in the same bundle serves, if it is
        recent: a snapshot taken earlier than needed is safe (a change made since it was
        taken makes the check after this analysis fail, or the memo's next check), and
        it saves a walk of the bundle's folders per snippet of a cold build.
        """
        recent = self._after.get(bundle)
        if recent is not None and time.monotonic() - recent[0] < _RECENT_S:
            return recent[1]
        return _folders(bundle)

    def _read(self, data: Mapping[str, Any]) -> _Memo:
        """A memo as :meth:`_memo` keeps it (JSON gives lists where it keeps tuples)."""
        return self._memo([tuple(f) for f in data["folders"]],
                          [(str(n), tuple(sig) if sig is not None else None) for n, sig in data["stats"]],
                          [(str(n), str(d)) for n, d in data["files"]],
                          tuple(data["external"]))

    def _memo(self, folders: Sequence[tuple[Any, ...]], stats: Sequence[tuple[str, tuple[int, ...] | None]],
              files: Sequence[tuple[str, str]], external: tuple[str, ...]) -> _Memo:
        shared = tuple(folders)
        if shared:  # the latest list of each bundle only: a long serve does not grow
            known = self._shared.get(shared[0][0])
            if known == shared:
                shared = known
            else:
                self._shared[shared[0][0]] = shared
        return _Memo(shared, tuple(stats), tuple(files), external)

    def watch(self, spec: RunSpec) -> list[list[Any]] | None:
        """``[path, signature]`` of every folder and file the key of ``spec`` was last
        computed from through a memo of this process (None: it was analysed afresh and not
        remembered, e.g. a file written just now). Unchanged signatures mean an unchanged key.
        """
        path = self.path_for(spec)
        memo = self._known.get((path, self._ident(spec))) if path is not None else None
        if memo is None:
            return None
        return [*([folder[0], folder[1:]] for folder in memo.folders),
                *([name, signature] for name, signature in memo.stats)]


def write_atomic(path: Path, data: bytes) -> None:
    """Temporary file in the same folder, then rename; a failure only costs a recomputation."""
    try:
        try:  # the folder is there but the first time: no mkdir call per entry
            fd, temp = tempfile.mkstemp(prefix=f".{path.name[:16]}.", suffix=".tmp", dir=path.parent)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{path.name[:16]}.", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)


_FLUSH_EVERY = 256
"""Stored results held in memory at most, batch or not: a cold build of 2,000 snippets
holding all of its entries until the runs end kept ~2 MB more at its memory peak."""

_KEEP_PER_RUN = 3
"""Entries a bundle's result file keeps per run (spec id) when it is compacted: the latest
few keys, so a run that alternates between two states (two interpreters, say) still hits."""


class _Log(NamedTuple):
    """A bundle's result file as this process last read it."""

    signature: tuple[int, int, int, int] | None  # _signature of the file when read
    lines: dict[str, bytes]  # key -> its latest line, without the newline


def _parse_lines(data: bytes) -> Iterator[tuple[str, bytes, bytes]]:
    """(key, label, line) of each well-formed line, in file order. A line is
    ``<key>\t<label as JSON>\t<entry as JSON>``; anything else (a line cut by a crash) is
    skipped here, and an entry cut short does not parse later: a miss either way."""
    for line in data.split(b"\n"):
        key, tab, rest = line.partition(b"\t")
        if tab and len(key) == 64:
            label, tab, _ = rest.partition(b"\t")
            if tab:
                yield key.decode("ascii", "replace"), label, line


def _latest(data: bytes) -> dict[str, bytes]:
    """Each key's last well-formed line in a file's bytes."""
    return {key: line for key, _, line in _parse_lines(data)}


def _kept(entries: Iterable[tuple[str, bytes, bytes]]) -> dict[str, bytes]:
    """The lines a compacted file keeps: each key's latest, and per label the
    :data:`_KEEP_PER_RUN` keys written last (in the order they were last written)."""
    latest: dict[str, tuple[bytes, bytes]] = {}
    for key, label, line in entries:
        latest.pop(key, None)  # rewritten: it moves to the end
        latest[key] = (label, line)
    per_label: dict[bytes, int] = {}
    keep: list[str] = []
    for key in reversed(latest):
        label = latest[key][0]
        seen = per_label.get(label, 0)
        if seen < _KEEP_PER_RUN:
            per_label[label] = seen + 1
            keep.append(key)
    return {key: latest[key][1] for key in reversed(keep)}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (made if missing), so that processes sharing the
    cache (two builds, pytest-xdist workers) append and compact one at a time. Where the
    file system has no locks, it goes on without: the worst case is a lost entry, which
    costs a re-run."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class _Results:
    """Stored results: one file per bundle, ``results/<digest>.jsonl``, one line per entry.

    Why not a file per entry: a cold build of 2,000 snippets created 2,000 files, and on
    ext4 each new file costs more while many were deleted in the last minutes (the cache
    cleared just before, say): the allocator then checks every recently freed inode it
    passes, which measured 0.3 ms of system CPU per run, a tenth of the target overhead.
    Now a session appends its new entries to each bundle's file once, when its runs are done
    (:meth:`flush`), and a file is rewritten (compacted) only when most of its lines are
    outdated: each run then keeps its :data:`_KEEP_PER_RUN` latest entries.

    Readers take no lock: a line being appended, or cut by a crash, does not parse, which is
    a miss. Writers hold the folder's lock file while they append or compact.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._paths: dict[Path, Path] = {}  # bundle folder -> its result file
        self._logs: dict[Path, _Log] = {}
        self._pending: dict[Path, dict[str, bytes]] = {}  # file -> key -> line not written yet
        self._held = 0  # lines in _pending
        self._lock = threading.Lock()

    def path_for(self, bundle_dir: Path) -> Path:
        known = self._paths.get(bundle_dir)
        if known is None:
            ident = f"{CACHE_FORMAT}\0{bundle_dir}"
            known = self._paths[bundle_dir] = self.folder / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.jsonl"
        return known

    def line(self, key: str, bundle_dir: Path) -> bytes | None:
        """The stored line of ``key``: written by this process, or on disk (read again when
        the file changed since this process last read it)."""
        path = self.path_for(bundle_dir)
        with self._lock:
            log = self._logs.get(path)
        if log is not None:
            line = log.lines.get(key)
            if line is not None:
                return line
        signature = _signature(str(path))
        if log is not None and signature == log.signature:
            return None
        return self._read(path, signature).lines.get(key)

    def _read(self, path: Path, signature: tuple[int, int, int, int] | None) -> _Log:
        lines: dict[str, bytes] = {}
        if signature is not None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                data = b""
            lines = _latest(data)
        with self._lock:
            lines.update(self._pending.get(path, {}))  # this process's, not written yet
            log = self._logs[path] = _Log(signature, lines)
        return log

    def add(self, key: str, label: str, entry: bytes, bundle_dir: Path) -> None:
        """Hold an entry for :meth:`flush`; this process finds it from now on."""
        path = self.path_for(bundle_dir)
        line = b"\t".join((key.encode("ascii"), json.dumps(label).encode("utf-8"), entry))
        with self._lock:
            held = self._pending.setdefault(path, {})
            self._held += key not in held
            held[key] = line
            log = self._logs.get(path)
            if log is None:
                log = self._logs[path] = _Log(None, {})
            log.lines[key] = line

    @property
    def pending(self) -> int:
        """How many entries wait for :meth:`flush`."""
        return self._held

    def flush(self) -> None:
        """Write the held entries: appended to their bundle's file, or the file compacted
        when most of it would be outdated. A failure to write only costs future re-runs."""
        with self._lock:
            pending, self._pending, self._held = self._pending, {}, 0
        if not pending:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        with _locked(self.folder / ".lock"):
            for path, new in pending.items():
                with contextlib.suppress(OSError):
                    self._write(path, new)

    def _write(self, path: Path, new: dict[str, bytes]) -> None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = b""
        entries = list(_parse_lines(data))
        added = list(_parse_lines(b"\n".join(new.values())))
        kept = _kept(entries + added)
        if len(entries) + len(added) > 2 * len(kept) + 16:
            write_atomic(path, b"".join(line + b"\n" for line in kept.values()))
        else:
            # a line left cut by a crash gets its own line: the new ones stay whole
            head = b"\n" if data and not data.endswith(b"\n") else b""
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                view = memoryview(head + b"".join(line + b"\n" for line in new.values()))
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        with self._lock:
            # what was read is let go (a build has its results by now; a later lookup reads
            # the file again): a cold build of 2,000 snippets would hold ~2 MB to the end
            held = self._pending.get(path)
            if held:
                self._logs[path] = _Log(None, dict(held))
            else:
                self._logs.pop(path, None)

    def forget(self) -> None:
        """Drop what was read from disk (written entries stay on disk; held ones stay)."""
        with self._lock:
            self._logs = {path: _Log(None, dict(lines)) for path, lines in self._pending.items()}

    def stored(self) -> Iterator[dict[str, Any]]:
        """Every well-formed entry on disk, once per key (its last line), file by file."""
        try:
            files = sorted(self.folder.glob("*.jsonl"))
        except OSError:
            return
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for line in _latest(data).values():
                entry = _entry(line)
                if entry is not None:
                    yield entry


def _entry(line: bytes) -> dict[str, Any] | None:
    """The entry a line holds, or None when it is malformed or of another format."""
    key, _, rest = line.partition(b"\t")
    _, _, body = rest.partition(b"\t")
    try:
        entry = json.loads(body)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
        return None
    if entry.get("key") != key.decode("ascii", "replace") or not isinstance(entry.get("result"), dict):
        return None
    return entry


class _Depth:
    """How many batches are open (see :meth:`Cache.batch`)."""

    value = 0

    def open(self) -> bool:
        return self.value > 0


class Cache:
    """Cache keys and stored results (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._distributions = _Distributions()
        self._batches = _Depth()
        self._lock = threading.Lock()
        # the memo asks the shared depth, not this cache: no reference cycle, so what the
        # cache holds is freed as soon as its runner lets go, not at some later collection
        self._memo = _DependencyMemo(self.folder / "deps", self._batches.open)
        self._results = _Results(self.folder / "results")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Keys computed inside write their dependency memos once, at the end (not a file
        per key), and results stored inside are written then too (see :meth:`flush`)."""
        with self._lock:
            self._batches.value += 1
        try:
            yield
        finally:
            with self._lock:
                self._batches.value -= 1
                outer = self._batches.value == 0
            if outer:
                self._memo.flush()
                self.flush()

    @property
    def batched(self) -> bool:
        """Whether a batch is open: stored results wait for its end."""
        return self._batches.open()

    def key(self, spec: RunSpec, context: Mapping[str, object] | None = None) -> str:
        """The sha256 naming ``spec``'s entry; changes whenever its output could."""
        return self.key_and_code(spec, context)[0]

    def key_and_code(
        self, spec: RunSpec, context: Mapping[str, object] | None = None,
    ) -> tuple[str, Compiled | None]:
        """:meth:`key`, and the snippet's code when computing the key compiled it (for the
        runner's worker: see ``_facts_and_code``); None when a memo answered."""
        files, external, code = self._memo.files(spec)
        material: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "snippet": str(spec.snippet),
            "bundle": str(spec.bundle_dir),
            "spec": {
                "scenario": spec.scenario,
                "args": list(spec.args),
                "env": [list(item) for item in spec.env],
                "timeout": spec.timeout,
                "needs": list(spec.needs),
                "language": spec.language,
                "inputs": list(spec.inputs),
            },
            "files": files,
            "listings": _listings(spec),
            "packages": self._distributions.versions(external),
            "context": dict(context or {}),
        }
        blob = json.dumps(material, sort_keys=True, default=str).encode("utf-8")
        return hashlib.sha256(blob).hexdigest(), code

    def code_for(self, spec: RunSpec) -> Compiled | None:
        """The snippet compiled for its run, when :meth:`key_and_code` gave none (a memo
        answered) and it is to run: a compile here costs a third of one in the forked child.
        The imports to preload are the snippet's own (a head start only, see the worker)."""
        if spec.language != "python":
            return None
        facts, code, _ = _facts_and_code(spec.snippet, str(spec.snippet))
        if code is None:
            return None
        return Compiled(code, tuple(sorted(_absolute_imports(facts))))

    def load(self, key: str, bundle_dir: Path) -> dict[str, Any] | None:
        """The stored result for ``key`` (a run of a snippet of ``bundle_dir``), or None when
        missing, unreadable or malformed."""
        line = self._results.line(key, bundle_dir)
        entry = _entry(line) if line is not None else None
        if entry is None:
            return None
        result: dict[str, Any] = entry["result"]
        return result

    def store(self, key: str, result: Mapping[str, object], label: str, bundle_dir: Path) -> None:
        """Keep a result; it is written to disk at :meth:`flush` (this process finds it at
        once). ``label``: the run's id, by which old entries of the same run are pruned."""
        entry = {"format": CACHE_FORMAT, "key": key, "spec": label, "result": dict(result)}
        # no indent: json's C encoder does not indent, and an entry is made per run
        self._results.add(key, label, json.dumps(entry, ensure_ascii=False).encode("utf-8"), bundle_dir)
        if self._results.pending >= _FLUSH_EVERY:  # an append per bundle file, batch or not
            self.flush()

    @property
    def pending(self) -> int:
        """How many stored results wait for :meth:`flush`."""
        return self._results.pending

    def flush(self) -> None:
        """Write the stored results not written yet: one append per bundle file. Called
        when a batch ends, when a runner's last outstanding run is done outside a batch, and
        when it closes."""
        self._results.flush()

    def stored(self) -> Iterator[dict[str, Any]]:
        """Every entry on disk (``format``, ``key``, ``spec``: the run's id, ``result``)."""
        return self._results.stored()

    def watch(self, spec: RunSpec) -> list[list[Any]] | None:
        """What :meth:`key` last read for ``spec``, as ``[path, signature]`` (see
        ``_DependencyMemo.watch``); None when that is not known."""
        return self._memo.watch(spec)

    def forget_memos(self) -> None:
        """Drop the dependency memos held in memory, written first (see :meth:`Runner.forget_keys`)."""
        self._memo.forget()

    def clear(self) -> int:
        """Delete every stored result (``pattern-articles check --fresh`` does not need
        this; a user reclaiming disk does). Returns how many files were removed: the result
        files, and entries of the earlier one-file-per-entry layout."""
        removed = 0
        try:
            files = [*self._results.folder.glob("*.jsonl"), *self.folder.glob("*.json")]
        except OSError:
            return 0
        for path in files:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        self._results.forget()
        return removed
