"""One source of settings for the MkDocs plugin, pytest and the CLI.

The settings live in the plugin's block of ``mkdocs.yml``. MkDocs is not needed to read
them: a YAML loader that accepts MkDocs' custom tags (``!ENV``, ``!relative``,
``!!python/name:``) reads the file, so the CLI and pytest see exactly what a build sees.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
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


@dataclass
class Settings:
    """Everything configurable, with defaults a demanding user would expect."""

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

    @classmethod
    def from_mapping(cls, data: dict[str, Any], root: Path, docs_dir: str | Path = "docs",
                     place: Place | None = None, key_lines: dict[str, int] | None = None) -> Settings:
        """Build settings from the plugin block (already parsed), validating keys and types.

        ``place`` is the plugin's line in mkdocs.yml and ``key_lines`` the line of each key
        (see :func:`plugin_lines`), so an error names the very line to fix."""
        known = {f.name: f for f in fields(cls)} | {"cache": None, "enabled": None, "mermaid": None}
        if not isinstance(docs_dir, (str, Path)):
            raise PatternError(f"docs_dir must be a folder name, not {docs_dir!r}", place,
                               hint="fix it in mkdocs.yml")
        settings = cls(root=root, docs_dir=Path(docs_dir))
        if data is not None and not isinstance(data, dict):
            raise PatternError(
                f"the {PLUGIN_KEY} plugin settings must be a mapping of names to values, "
                f"not a {type(data).__name__}",
                place,
                hint=f"write '- {PLUGIN_KEY}:' followed by indented 'name: value' lines",
            )
        key_lines = key_lines or {}
        for key, value in (data or {}).items():
            name = str(key).replace("-", "_")
            where = Place(place.path, key_lines[str(key)]) if place and str(key) in key_lines else place
            if name not in known or name == "root":
                raise PatternError(
                    f"unknown setting '{key}' for the {PLUGIN_KEY} plugin",
                    where,
                    hint=f"the settings are {', '.join(sorted(k for k in known if k != 'root'))}; "
                         "the guide's Configuration page explains each",
                )
            if name in ("enabled", "mermaid"):  # read by the MkDocs adapter only
                continue
            if value is None and name not in ("cache", "cache_dir", "templates_dir"):
                continue  # e.g. `!ENV NAME` with NAME unset: the default applies, as in MkDocs
            if name == "cache":
                if value is False or value is None:
                    settings.cache_dir = None
                continue
            setattr(settings, name, _coerce(name, value, where))
        cache_key = next((k for k in ("cache_dir", "cache-dir") if k in (data or {})), None)
        if cache_key is not None:
            where = Place(place.path, key_lines[cache_key]) if place and cache_key in key_lines else place
            _check_cache_dir(settings, where)
        return settings


def _check_cache_dir(settings: Settings, place: Place | None) -> None:
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


def _truthy(value: str) -> bool:
    """Environment switches: empty, 0, false, no and off mean off."""
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def _coerce(name: str, value: Any, place: Place | None) -> Any:
    def bad(expected: str) -> PatternError:
        return PatternError(
            f"setting '{name}' must be {expected}, not {value!r}", place, hint="fix it in mkdocs.yml"
        )

    if name in ("snippets",):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a folder or a list of folders")
        return [Path(v) for v in value]
    if name in ("docs_dir", "templates_dir", "cache_dir"):
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad("a path")
        return Path(value)
    if name in ("fresh", "fix_headings", "run", "check_trace"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if name in ("timeout",):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise bad("a positive number of seconds")
        return float(value)
    if name == "memory_limit":
        size = parse_size(value)
        if size is None:
            raise bad("a size such as 2 GiB or 512 MiB, or 0 for none")
        return size
    if name == "cpu_limit":
        seconds = parse_seconds(value)
        if seconds is None:
            raise bad("a number of CPU seconds, or 0 for none")
        return seconds
    if name in ("jobs", "output_limit"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad("a whole number")
        return value
    if name in ("env_allowlist", "append"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of names")
        return value
    if name in ("sections",):
        if not isinstance(value, dict):
            raise bad("a mapping of section keys to lists of heading names")
        return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in value.items()}
    if name in ("titles", "services"):
        if not isinstance(value, dict):
            raise bad("a mapping")
        return {str(k): str(v) for k, v in value.items()}
    if name == "sandbox":
        if value is False:
            value = "off"
        if value not in SANDBOX_MODES:
            raise bad(" or ".join(repr(m) for m in SANDBOX_MODES))
        return value
    if name == "article_key":
        if not isinstance(value, str):
            raise bad("a front-matter key")
        return value
    return value


class _TolerantLoader:
    """Built lazily: a SafeLoader subclass that turns any unknown tag into plain data."""

    loader: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.loader is None:
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
                # MkDocs' !ENV: a variable name, or [NAME, NAME2, ..., default]
                names = (
                    [loader.construct_scalar(node)]
                    if isinstance(node, yaml.ScalarNode)
                    else loader.construct_sequence(node)
                )
                *variables, default = names if len(names) > 1 else [*names, None]
                for variable in variables:
                    if isinstance(variable, str) and variable in os.environ:
                        return yaml.safe_load(os.environ[variable])
                return default

            Loader.add_constructor("!ENV", env_tag)
            Loader.add_multi_constructor("!", unknown)
            Loader.add_multi_constructor("tag:yaml.org,2002:python/", unknown)
            cls.loader = Loader
        return cls.loader


def find_config(start: Path | None = None) -> Path | None:
    """Find ``mkdocs.yml`` (or ``.yaml``) in ``start`` or a parent folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("mkdocs.yml", "mkdocs.yaml"):
            if (folder / name).is_file():
                return folder / name
    return None


def load(config_file: Path | None = None) -> Settings:
    """Read the plugin block from ``mkdocs.yml``; without a config file, use the defaults."""
    import yaml

    path = config_file or find_config()
    if path is None:
        return Settings(root=Path.cwd())
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = yaml.load(text, Loader=_TolerantLoader.get()) or {}
    except OSError as exc:
        raise PatternError(f"cannot read {path}: {exc.strerror}", Place(path)) from None
    except UnicodeDecodeError:
        raise PatternError("the file is not UTF-8 text", Place(path), hint="save it as UTF-8") from None
    except RecursionError:
        raise PatternError("the YAML is nested too deeply", Place(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PatternError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}",
            Place(path, mark.line + 1 if mark else 0),
            hint="check indentation and quoting on this line and the one above",
        ) from None
    if not isinstance(data, dict):
        raise PatternError("mkdocs.yml must be a mapping", Place(path, 1))
    block: Any = {}
    plugins = data.get("plugins") or []
    # MkDocs accepts the plugins as a list ("- name: {...}") or as a mapping ("name: {...}")
    entries = [plugins] if isinstance(plugins, dict) else plugins if isinstance(plugins, list) else []
    for entry in entries:
        if isinstance(entry, dict) and PLUGIN_KEY in entry:
            block = entry[PLUGIN_KEY] or {}
    line, key_lines = plugin_lines(text)
    return Settings.from_mapping(block, path.parent, data.get("docs_dir", "docs"), Place(path, line), key_lines)


def plugin_lines(text: str) -> tuple[int, dict[str, int]]:
    """The 1-based line of the plugin in mkdocs.yml and of each of its settings.

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
                settings.setdefault(name.group(1), later)
        return number, settings
    return _line_of(text, PLUGIN_KEY), {}


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 0
