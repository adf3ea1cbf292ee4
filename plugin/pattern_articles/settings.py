"""One source of settings for the MkDocs plugin, pytest and the CLI.

The settings live in the plugin's block of ``mkdocs.yml``. Their schema is declared once,
here (:data:`OPTIONS`: names, kinds, choices, ranges, defaults), and checked by one function,
:func:`check`. The MkDocs adapter turns each option into a MkDocs config option that calls
:func:`check`, so MkDocs validates the block itself (a bad value is a MkDocs configuration
error) with the very message the CLI and pytest print.

MkDocs is not needed to read the file: :func:`load` reads it the way MkDocs does, with
``INHERIT:`` (a deep merge of mappings, lists replaced, as ``mergedeep`` does for MkDocs),
``!ENV`` (``yaml_env_tag``'s rules) and ``!relative $config_dir/...`` / ``$docs_dir/...``,
so the CLI and pytest see exactly what a build sees, and name the line of a bad value even
when it sits in an inherited file.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PatternError, Place

PLUGIN_KEY = "pattern-articles"

DEFAULT_ALIASES: dict[str, list[str]] = {
    "introduction": ["introduction", "overview"],
    "problem": ["problem context", "context and problem", "the problem", "problem", "context"],
    "definition": [
        "what is {pattern} pattern",
        "what is the {pattern} pattern",
        "what is {pattern}",
        "{pattern} pattern",
        "definition",
        "solution",
        "the solution",
    ],
    "use_case": ["use case", "example", "example scenario", "scenario"],
    "implementation": ["implementation details", "implementation", "how it works", "example code"],
    "benefits": [
        "why use {pattern} pattern",
        "why use the {pattern} pattern",
        "why use {pattern}",
        "benefits",
        "advantages",
    ],
    "considerations": [
        "important considerations",
        "issues and considerations",
        "considerations",
        "trade-offs",
        "drawbacks",
    ],
    "applicability": [
        "when to use this pattern",
        "when to use {pattern}",
        "when to use it",
        "when to use",
        "applicability",
    ],
    "related": ["related patterns", "related", "see also"],
    "references": ["references", "further reading", "sources"],
    "summary": ["summary", "conclusion", "takeaways"],
}

DEFAULT_TITLES: dict[str, str] = {
    "applicability": "When to use it",
    "related": "Related patterns",
    "references": "References",
    "summary": "Summary",
}

SANDBOX_MODES: tuple[str, ...] = ("off", "auto", "bwrap")
SANDBOX_VARIABLE = "PATTERN_ARTICLES_SANDBOX"

DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")
DEFAULT_MEMORY_LIMIT = 2 << 30

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40}
_OFF = ("none", "off", "no", "false", "unlimited")


def parse_size(value: object) -> int | None:
    """A memory size as written in mkdocs.yml or bundle.yml: bytes (``536870912``) or a
    number with a unit (``512 MiB``, ``2G``; powers of 1024); ``0``, ``false`` or ``none``
    mean no limit (0). None when it is no size at all."""
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not found or found.group(2).lower() not in _UNITS:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def parse_seconds(value: object) -> float | None:
    """A CPU-time limit: seconds (a number >= 0); ``0``, ``false`` or ``none`` mean none (0)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e9:
        return float(value)
    return None



MAX_TIMEOUT = 86_400.0
"""Seconds: a day, as for a snippet's own timeout (content/model.py)."""


@dataclass(frozen=True)
class Option:
    """One setting of the plugin block: its name, what it accepts and its default.

    ``kind`` names the check (see :func:`check`); ``expected`` is the words of the message
    when a value does not fit; ``target`` is the :class:`Settings` field it sets ("" for the
    two settings only the MkDocs adapter reads, ``enabled`` and ``mermaid``, which the CLI and
    pytest still check, so every adapter gives a bad value the same verdict)."""

    name: str
    kind: str
    default: Any
    expected: str
    choices: tuple[Any, ...] = ()
    target: str = ""
    doc: str = ""
    #: the largest value accepted, and how the message says it: a value beyond any use
    #: exhausted something at run time (jobs: 100000 threads, timeout: .inf the clock)
    maximum: float | None = None
    most: str = ""


def _words(choices: tuple[Any, ...]) -> str:
    return " or ".join(repr(choice) for choice in choices)


OPTIONS: tuple[Option, ...] = (
    Option("enabled", "bool", True, "true or false", doc="false: MkDocs builds leave pages untouched"),
    Option("snippets", "folders", ["snippets"], "a folder or a list of folders", target="snippets"),
    Option("article_key", "text", "pattern", "a front-matter key", target="article_key"),
    Option("cache", "bool", True, "true or false", doc="false: keep no cache"),
    Option("cache_dir", "path", ".cache/pattern-articles", "a path", target="cache_dir"),
    Option("fresh", "bool", False, "true or false", target="fresh"),
    Option("run", "bool", True, "true or false", target="run"),
    Option("timeout", "seconds", 30.0, "a positive number of seconds", target="timeout",
           maximum=MAX_TIMEOUT, most="86400 (a day)"),
    Option("jobs", "count", 0, "a whole number", target="jobs",
           maximum=256, most="256 (parallel runs; 0 means one per core)"),
    Option("output_limit", "count", 1 << 20, "a whole number", target="output_limit",
           maximum=256 << 20, most="268435456 (256 MiB, in bytes)"),
    Option("memory_limit", "size", DEFAULT_MEMORY_LIMIT, "a size such as 2 GiB or 512 MiB, or 0 for none",
           target="memory_limit"),
    Option("cpu_limit", "cpu", None, "a number of CPU seconds, or 0 for none", target="cpu_limit"),
    Option("env_allowlist", "names", list(DEFAULT_ENV_ALLOWLIST), "a list of names", target="env_allowlist"),
    Option("fix_headings", "bool", True, "true or false", target="fix_headings"),
    Option("templates_dir", "path", None, "a path", target="templates_dir"),
    Option("sections", "headings", {}, "a mapping of section keys to lists of heading names", target="sections"),
    Option("append", "names", ["applicability", "related", "references"], "a list of names", target="append"),
    Option("titles", "mapping", {}, "a mapping", target="titles"),
    Option("services", "mapping", {}, "a mapping", target="services"),
    Option("check_trace", "bool", True, "true or false", target="check_trace"),
    Option("sandbox", "choice", "off", _words(SANDBOX_MODES), SANDBOX_MODES, target="sandbox"),
    Option("mermaid", "choice", "bundled", _words(("bundled", "theme")), ("bundled", "theme")),
)
"""The plugin block's schema: the one place a setting is declared (defaults included)."""

OPTION_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}

HINT = "fix it in mkdocs.yml"


def check(option: Option, value: Any, place: Place | None = None) -> Any:
    """The value a setting takes, or a :class:`PatternError` saying what it must be.

    An empty value (``name:`` alone, or ``!ENV NAME`` with NAME unset) takes the default, as
    MkDocs' options do. Paths accept ``os.PathLike`` values: that is what ``!relative``
    gives, in MkDocs and in :func:`load`. The result is the same for a value already checked,
    so an adapter may check twice."""
    if value is None:
        if option.kind in ("path", "folders"):
            return _paths(option, option.default)
        return copy.deepcopy(option.default)

    def bad() -> PatternError:
        return PatternError(f"setting '{option.name}' must be {option.expected}, not {_show(value)}", place, hint=HINT)

    kind = option.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind == "choice":
        if value is False and "off" in option.choices:
            value = "off"  # YAML 1.1 reads a bare `off` as false
        if not isinstance(value, str) or value not in option.choices:
            raise bad()
        return value
    if kind == "seconds":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise bad()
        _at_most(option, value, place)
        if value == float("inf"):
            raise bad()
        return float(value)
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad()
        _at_most(option, value, place)
        return value
    if kind == "size":
        size = parse_size(value)
        if size is None:
            raise bad()
        return size
    if kind == "cpu":
        seconds = parse_seconds(value)
        if seconds is None:
            raise bad()
        return seconds
    if kind == "text":
        if not isinstance(value, str) or not value:
            raise bad()
        return value
    if kind in ("path", "folders"):
        items = [value] if kind == "path" or isinstance(value, (str, os.PathLike)) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, (str, os.PathLike)) for v in items):
            raise bad()
        try:
            return _paths(option, value)
        except PatternError as exc:
            raise PatternError(f"setting '{option.name}': {exc.message}", place, hint=HINT) from None
    if kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad()
        return list(value)
    if kind == "headings":
        if not isinstance(value, dict):
            raise bad()
        return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in value.items()}
    if kind == "mapping":
        if not isinstance(value, dict):
            raise bad()
        return {str(k): str(v) for k, v in value.items()}
    raise AssertionError(f"unknown kind {kind!r}")  # pragma: no cover - a schema slip, caught by the tests


def _at_most(option: Option, value: float, place: Place | None) -> None:
    if option.maximum is not None and value > option.maximum:
        raise PatternError(f"setting '{option.name}' must be {option.expected}, at most {option.most}, "
                           f"not {_show(value)}", place, hint=HINT)


def _paths(option: Option, value: Any) -> Any:
    if value is None:
        return None
    if option.kind == "path":
        return Path(_fspath(value))
    return [Path(_fspath(v)) for v in ([value] if isinstance(value, (str, os.PathLike)) else value)]


_NO_PAGE = ("The current file is not set for the '!relative' tag. It cannot be used in this context; "
            "the intended usage is within `markdown_extensions`.")


def _fspath(value: Any) -> str:
    if type(value).__name__ == "RelativeDirPlaceholder":
        # MkDocs' bare `!relative` (the folder of the page being rendered): meaningless for a
        # setting. MkDocs resolves it here only by accident of its validation order (to
        # docs_dir); refused, as the CLI and pytest refuse it
        raise PatternError(_NO_PAGE)
    try:
        return str(os.fspath(value))
    except PatternError:
        raise
    except Exception as exc:  # MkDocs' placeholder raises its ConfigurationError here
        raise PatternError(str(exc)) from None


def _show(value: Any) -> str:
    if isinstance(value, os.PathLike):
        try:
            return repr(os.fspath(value))
        except Exception:
            return "!relative"
    return repr(value)


@dataclass
class Settings:
    """Everything configurable. The defaults are :data:`OPTIONS`' (the dataclass repeats them
    so ``Settings()`` stands alone; a test checks that the two agree)."""

    root: Path = field(default_factory=Path.cwd)
    docs_dir: Path = Path("docs")
    snippets: list[Path] = field(default_factory=lambda: [Path("snippets")])
    article_key: str = "pattern"
    cache_dir: Path | None = Path(".cache/pattern-articles")
    fresh: bool = False
    timeout: float = 30.0
    jobs: int = 0
    output_limit: int = 1 << 20
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # bytes a run's process may map; 0: no limit
    cpu_limit: float | None = None  # CPU seconds a run's process may use; None: 2 x timeout; 0: none
    env_allowlist: list[str] = field(default_factory=lambda: list(DEFAULT_ENV_ALLOWLIST))
    fix_headings: bool = True
    templates_dir: Path | None = None
    sections: dict[str, list[str]] = field(default_factory=dict)
    append: list[str] = field(default_factory=lambda: ["applicability", "related", "references"])
    titles: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    run: bool = True
    check_trace: bool = True
    sandbox: str = "off"  # off | auto | bwrap (see docs/guide/security.md)
    # MkDocs' own `exclude_docs` and `draft_docs` (gitignore-style lines): the CLI and pytest
    # find articles by walking docs_dir and skip what `mkdocs build` would not build
    exclude_docs: str = ""
    draft_docs: str = ""

    def aliases(self) -> dict[str, list[str]]:
        merged = {key: list(values) for key, values in DEFAULT_ALIASES.items()}
        for key, values in self.sections.items():
            merged[key] = list(values) + [v for v in merged.get(key, []) if v not in values]
        return merged

    def title_for(self, key: str) -> str:
        return self.titles.get(key) or DEFAULT_TITLES.get(key, key.replace("_", " ").capitalize())

    def absolute(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    @property
    def snippet_roots(self) -> list[Path]:
        return [self.absolute(p) for p in self.snippets]

    @property
    def cache_path(self) -> Path | None:
        if self.cache_dir is None or _truthy(os.environ.get("PATTERN_ARTICLES_NO_CACHE", "")):
            return None
        return self.absolute(self.cache_dir)

    @property
    def sandbox_mode(self) -> str:
        """The sandbox to run snippets in; ``PATTERN_ARTICLES_SANDBOX`` (say, set by a CI job
        that builds pull requests) overrides the setting without editing mkdocs.yml."""
        return os.environ.get(SANDBOX_VARIABLE, "").strip().lower() or self.sandbox

    @property
    def force_fresh(self) -> bool:
        return self.fresh or _truthy(os.environ.get("PATTERN_ARTICLES_FRESH", ""))

    def is_built(self, docs_path: str) -> bool:
        """Whether ``mkdocs build`` builds the page at ``docs_path`` (POSIX, relative to
        docs_dir): not matched by MkDocs' default exclusions (``.*``, ``/templates/``), nor by
        ``exclude_docs`` or ``draft_docs``. The MkDocs adapter asks MkDocs' ``Files`` instead."""
        return not _spec(self.exclude_docs + "\n" + self.draft_docs)(docs_path)

    def apply(self, option: Option, value: Any) -> None:
        """Set a checked value (see :func:`check`)."""
        if option.name == "cache":
            if value is False:
                self.cache_dir = None
        elif option.target:
            setattr(self, option.target, value)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], root: Path, docs_dir: str | Path = "docs",
                     place: Place | None = None, key_lines: Mapping[str, int | Place] | None = None,
                     *, site_keys: bool = True) -> Settings:
        """Build settings from a plugin block (already parsed), checking every key and value.

        ``place`` is the plugin's line in mkdocs.yml and ``key_lines`` the line of each key
        (see :func:`plugin_lines`), so an error names the very line to fix. ``site_keys``: also
        accept ``docs_dir``, ``exclude_docs`` and ``draft_docs``, which the Markdown extension
        may be given; a plugin block in mkdocs.yml may not hold them."""
        if not isinstance(docs_dir, (str, os.PathLike)):
            raise PatternError(f"docs_dir must be a folder name, not {docs_dir!r}", place, hint=HINT)
        settings = cls(root=root, docs_dir=Path(docs_dir))
        if data is not None and not isinstance(data, dict):
            raise PatternError(
                f"the {PLUGIN_KEY} plugin settings must be a mapping of names to values, "
                f"not a {type(data).__name__}",
                place,
                hint=f"write '- {PLUGIN_KEY}:' followed by indented 'name: value' lines",
            )
        key_lines = key_lines or {}
        extra = {"docs_dir", "exclude_docs", "draft_docs"} if site_keys else set()
        for key, value in (data or {}).items():
            name = str(key).replace("-", "_")
            known = key_lines.get(str(key))
            where = known if isinstance(known, Place) else Place(place.path, known) if place and known else place
            if name in extra:
                if value is not None:
                    setattr(settings, name, Path(_fspath(value)) if name == "docs_dir" else str(value))
                continue
            option = OPTION_BY_NAME.get(name)
            if option is None:
                raise PatternError(
                    f"unknown setting '{key}' for the {PLUGIN_KEY} plugin",
                    where,
                    hint=f"the settings are {', '.join(sorted(OPTION_BY_NAME))}; "
                         "the guide's Configuration page explains each",
                )
            settings.apply(option, check(option, value, where))
        cache_key = next((k for k in ("cache_dir", "cache-dir") if k in (data or {})), None)
        if cache_key is not None:
            known = key_lines.get(cache_key)
            where = known if isinstance(known, Place) else Place(place.path, known) if place and known else place
            check_cache_dir(settings, where)
        return settings


def check_cache_dir(settings: Settings, place: Place | None) -> None:
    """The cache holds every run's stdout and stderr: inside ``docs_dir`` MkDocs would publish
    it, inside a bundle (or a snippet folder) a build would write among the author's files."""
    if settings.cache_dir is None:
        return
    cache = Path(os.path.realpath(settings.absolute(settings.cache_dir)))
    docs = Path(os.path.realpath(settings.absolute(settings.docs_dir)))
    if cache == docs or cache.is_relative_to(docs):
        raise PatternError(
            f"setting 'cache_dir' ({settings.cache_dir}) is inside docs_dir ({settings.docs_dir}): "
            "the site would publish every run's output",
            place, hint="keep the cache out of docs_dir, e.g. the default '.cache/pattern-articles'")
    root = Path(os.path.realpath(settings.root))
    for snippets in settings.snippet_roots:
        folder = Path(os.path.realpath(snippets))
        if not (cache == folder or cache.is_relative_to(folder)):
            continue
        inside = cache.relative_to(folder).parts
        # a snippet folder that holds the whole project (snippets: ".") holds the default
        # cache too: only a cache inside one of its bundle folders is refused then
        if root.is_relative_to(folder) and inside and not _holds_bundle(folder / inside[0]):
            continue
        raise PatternError(
            f"setting 'cache_dir' ({settings.cache_dir}) is inside the snippet folder {snippets}: "
            "a build would write among the bundles' files",
            place, hint="keep the cache out of the snippet folders, e.g. the default '.cache/pattern-articles'")


def _holds_bundle(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("bundle.yml", "bundle.yaml", "pattern.yml", "pattern.yaml"))


@functools.lru_cache(maxsize=16)
def _spec(lines: str) -> Callable[[str], bool]:
    """A matcher of MkDocs' exclusion patterns (gitignore style, with ``pathspec``: the
    library MkDocs uses, so a pattern means here what it means in a build)."""
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines([".*", "/templates/", *lines.splitlines()])
    return spec.match_file


def _truthy(value: str) -> bool:
    """Environment switches: empty, 0, false, no and off mean off."""
    return value.strip().lower() not in ("", "0", "false", "no", "off")


class _Relative(os.PathLike[str]):
    """``!relative $config_dir/suffix`` or ``$docs_dir/suffix``, resolved as MkDocs resolves
    it: against the folder of the main mkdocs.yml (not the inherited file that holds the
    tag), or the docs_dir of the merged configuration."""

    def __init__(self, prefix: str, suffix: str, context: dict[str, str]) -> None:
        self.prefix, self.suffix, self.context = prefix, suffix, context

    def __fspath__(self) -> str:
        if self.prefix == "$config_dir":
            return os.path.join(self.context["config_dir"], self.suffix)
        if self.prefix == "$docs_dir":
            return os.path.join(self.context["docs_dir"], self.suffix)
        raise PatternError(_NO_PAGE)

    def __repr__(self) -> str:
        return f"!relative {self.prefix}/{self.suffix}"


def _loader(context: dict[str, str]) -> Any:
    """A SafeLoader subclass with MkDocs' tags; any other tag becomes plain data."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def unknown(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    def env_tag(loader: Any, node: Any) -> Any:
        # yaml_env_tag, MkDocs' !ENV: a variable, or [NAME, NAME2, ..., default]; the value
        # of the first set variable is read with YAML's implicit types, the default as YAML
        default = None
        if isinstance(node, yaml.ScalarNode):
            names = [loader.construct_scalar(node)]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
            if len(children) > 1:
                default = loader.construct_object(children[-1])
                children = children[:-1]
            names = [loader.construct_scalar(child) for child in children]
        else:
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a scalar or sequence node, but found {node.id}", node.start_mark)
        for name in names:
            if name in os.environ:
                value = os.environ[name]
                tag = loader.resolve(yaml.ScalarNode, value, (True, False))
                return loader.construct_object(yaml.ScalarNode(tag, value))
        return default

    def relative_tag(loader: Any, node: Any) -> Any:
        value = str(loader.construct_scalar(node) or "")
        prefix, _, suffix = value.partition("/")
        if prefix.startswith("$") and prefix not in ("$config_dir", "$docs_dir"):
            raise yaml.constructor.ConstructorError(
                None, None, f"Unknown prefix {prefix!r} in {node.tag} {value!r}", node.start_mark)
        if not prefix.startswith("$"):
            if value:
                raise yaml.constructor.ConstructorError(
                    None, None, f"'!relative' tag does not expect any value; received {value!r}", node.start_mark)
            prefix = ""
        return _Relative(prefix, suffix, context)

    Loader.add_constructor("!ENV", env_tag)
    Loader.add_constructor("!relative", relative_tag)
    Loader.add_multi_constructor("!", unknown)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", unknown)
    return Loader


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``INHERIT:`` as MkDocs does it (``mergedeep.merge``): mappings merge key by key, at
    any depth; anything else in the child (a list included) replaces the parent's."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class Loaded:
    """mkdocs.yml as MkDocs sees it: the merged data and the files it came from, child first."""

    data: dict[str, Any]
    files: list[tuple[Path, str]]  # (path, text)


def read_config(path: Path) -> Loaded:
    """Read mkdocs.yml and every file it inherits from, merged as MkDocs merges them."""
    context: dict[str, str] = {"config_dir": os.path.dirname(os.path.abspath(path))}
    files: list[tuple[Path, str]] = []
    data = _read_chain(path, _loader(context), files, set())
    docs = data.get("docs_dir", "docs")
    if isinstance(docs, (str, os.PathLike)):
        context["docs_dir"] = os.path.normpath(os.path.join(context["config_dir"], _fspath(docs)))
    return Loaded(data, files)


def _read_chain(path: Path, loader: Any, files: list[tuple[Path, str]], seen: set[str]) -> dict[str, Any]:
    import yaml

    real = os.path.realpath(path)
    if real in seen:
        raise PatternError("INHERIT makes a loop: this file inherits from itself", Place(path),
                           hint="point INHERIT at a base configuration that does not inherit back")
    seen.add(real)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = yaml.load(text, Loader=loader)
    except OSError as exc:
        raise PatternError(f"cannot read {path}: {exc.strerror}", Place(path)) from None
    except UnicodeDecodeError:
        raise PatternError("the file is not UTF-8 text", Place(path), hint="save it as UTF-8") from None
    except RecursionError:
        raise PatternError("the YAML is nested too deeply", Place(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        raise PatternError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            Place(path, mark.line + 1 if mark else 0),
            hint="check indentation and quoting on this line and the one above",
        ) from None
    files.append((path, text))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PatternError("mkdocs.yml must be a mapping", Place(path, 1))
    if "INHERIT" in data:
        relpath = data.pop("INHERIT")
        base = Path(os.path.normpath(os.path.join(os.path.dirname(path), _fspath(relpath))))
        if not base.is_file():
            raise PatternError(f"Inherited config file '{relpath}' does not exist at '{base}'.",
                               Place(path, _line_of(text, "INHERIT")), hint="fix the INHERIT path")
        data = merge(_read_chain(base, loader, files, seen), data)
    return dict(data)


def find_config(start: Path | None = None) -> Path | None:
    """Find ``mkdocs.yml`` (or ``.yaml``) in ``start`` or a parent folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("mkdocs.yml", "mkdocs.yaml"):
            if (folder / name).is_file():
                return folder / name
    return None


def load(config_file: Path | None = None) -> Settings:
    """Read the plugin block from ``mkdocs.yml`` (and what it inherits); without a config
    file, use the defaults."""
    path = config_file or find_config()
    if path is None:
        return Settings(root=Path.cwd())
    loaded = read_config(path)
    data = loaded.data
    place, key_lines = places(loaded.files)
    settings = Settings.from_mapping(plugin_block(data), path.parent, data.get("docs_dir", "docs"),
                                     place, key_lines, site_keys=False)
    for name in ("exclude_docs", "draft_docs"):
        if isinstance(data.get(name), str):
            setattr(settings, name, data[name])
    return settings


def plugin_block(data: dict[str, Any]) -> Any:
    """The plugin's settings in a loaded mkdocs.yml ({} when it is not listed)."""
    block: Any = {}
    plugins = data.get("plugins") or []
    # MkDocs accepts the plugins as a list ("- name: {...}") or as a mapping ("name: {...}")
    entries = [plugins] if isinstance(plugins, dict) else plugins if isinstance(plugins, list) else []
    for entry in entries:
        if isinstance(entry, dict) and PLUGIN_KEY in entry:
            block = entry[PLUGIN_KEY] or {}
    return block


def places(files: list[tuple[Path, str]]) -> tuple[Place | None, dict[str, Place]]:
    """The plugin's place and each setting's, across mkdocs.yml and the files it inherits
    from (child first: the child's value is the one MkDocs keeps)."""
    place: Place | None = None
    keys: dict[str, Place] = {}
    for path, text in files:
        line, key_lines = plugin_lines(text)
        if line and place is None:
            place = Place(path, line)
        for key, number in key_lines.items():
            keys.setdefault(key, Place(path, number))
    if place is None and files:
        place = Place(files[0][0], _line_of(files[0][1], PLUGIN_KEY))
    return place, keys


_PLACES: dict[str, tuple[tuple[tuple[str, int], ...], tuple[Place | None, dict[str, Place]]]] = {}


def places_of(config_file: str | Path) -> tuple[Place | None, dict[str, Place]]:
    """:func:`places` for a config file by its name (the MkDocs adapter has only that),
    remembered while none of its files changed; nothing when it does not read."""
    try:
        known = _PLACES.get(str(config_file))
        if known is not None and all(os.stat(p).st_mtime_ns == m for p, m in known[0]):
            return known[1]
        loaded = read_config(Path(config_file))
        found = places(loaded.files)
        _PLACES[str(config_file)] = (tuple((str(p), os.stat(p).st_mtime_ns) for p, _ in loaded.files), found)
        return found
    except (PatternError, OSError):
        return Place(config_file), {}


def plugin_lines(text: str) -> tuple[int, dict[str, int]]:
    """The 1-based line of the plugin in mkdocs.yml and of each of its settings (0 and {}
    when the file does not name the plugin).

    A plain text scan (YAML loaders keep no line numbers for values): the first line naming
    the plugin as a key, then the keys indented one level under it."""
    lines = text.splitlines()
    key = re.compile(rf"^(\s*)(?:-\s*)?['\"]?{re.escape(PLUGIN_KEY)}['\"]?\s*:")
    for number, line in enumerate(lines, 1):
        found = key.match(line)
        if not found:
            continue
        own = len(line) - len(line.lstrip(" -"))
        settings: dict[str, int] = {}
        indent = -1
        for later, item in enumerate(lines[number:], number + 1):
            if not item.strip() or item.lstrip().startswith("#"):
                continue
            depth = len(item) - len(item.lstrip())
            if depth <= own:
                break
            name = re.match(r"^\s*['\"]?([\w.-]+)['\"]?\s*:", item)
            if name and (indent < 0 or depth == indent):
                indent = depth
                settings[name.group(1)] = later  # YAML keeps the last of a repeated key
        return number, settings
    return 0, {}


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 0
