"""A Python-Markdown extension: the core without MkDocs, for Zensical and plain Python-Markdown.

Why: Zensical (the successor of Material for MkDocs) runs Python-Markdown extensions but no
third-party MkDocs plugins, and some sites render Markdown with Python-Markdown directly. The
extension is a Preprocessor that

* fills an article (empty and TODO sections, title and description, real outputs and
  diagrams) when its metadata names a bundle (``pattern: choreography``), and
* expands ``pattern-snippet`` fences on any page (``bundle/file.py#region scenario=...``).

Where the metadata comes from:

* under Zensical, from the page being rendered (Zensical parses the front matter itself and
  hands Python-Markdown the body; it exposes the page through its rendering-context
  preprocessor). The filled title and description are written back into that page's
  metadata, so ``<title>``, the ``h1`` and ``<meta name="description">`` agree;
* with plain Python-Markdown, from a YAML front matter block at the top of the text, which the
  extension removes (Python-Markdown would print it) and exposes, filled, as
  ``md.front_matter``. When Python-Markdown's own ``meta`` extension is loaded, the block is
  left in place (title and description filled) for ``meta`` to read into ``md.Meta``.

Settings are the MkDocs plugin's (``snippets``, ``timeout``, ``article_key`` ...), read from the
``pattern-articles`` block of ``mkdocs.yml`` when there is one, overridden by the extension's
own options. Problems are logged on the ``pattern_articles`` logger; with ``strict: true`` the
first warning stops the conversion (and so a Zensical build) with the message.

Registered under the entry point group ``markdown.extensions`` as ``pattern_articles``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markdown import Extension
from markdown.preprocessors import Preprocessor

from ..errors import PatternError, Place, Problem

if TYPE_CHECKING:
    from markdown import Markdown

    from ..project import Project
    from ..settings import Settings

log = logging.getLogger("pattern_articles")

#: Options of the extension itself; every other option is a plugin setting.
OWN_OPTIONS: dict[str, tuple[Any, str]] = {
    "config_file": ("", "mkdocs.yml whose 'pattern-articles' plugin block holds the settings "
                        "(default: mkdocs.yml in the project folder, when there is one)"),
    "root": ("", "project folder that relative paths start from (default: Zensical's project folder, "
                 "else the folder of the config file, else the working folder)"),
    "strict": (False, "raise on the first warning instead of logging it (fails a Zensical build)"),
}

_projects: dict[str, Project] = {}
_settings_cache: dict[str, Settings] = {}
_fingerprints: dict[tuple[int, str], int] = {}
_projects_lock = threading.Lock()


def _setting_names() -> list[str]:
    from ..settings import Settings

    return [f.name for f in dataclasses.fields(Settings) if f.name != "root"] + ["cache"]


class PatternArticlesExtension(Extension):
    """``markdown.Markdown(extensions=[PatternArticlesExtension(snippets="snippets")])``."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {key: [default, help_text] for key, (default, help_text) in OWN_OPTIONS.items()}
        for name in _setting_names():
            self.config[name] = [None, "a pattern-articles setting (see the configuration guide)"]
        self.given: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._lock = threading.Lock()
        super().__init__(**kwargs)

    def setConfig(self, key: str, value: Any) -> None:
        """Keep values as given (no true/false guessing); an unknown option is an error."""
        if key not in self.config:
            known = ", ".join(sorted(self.config))
            raise KeyError(f"pattern_articles: unknown option '{key}' (options: {known})")
        self.config[key][0] = value
        self.given[key] = value

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        self.md = md
        md.front_matter = {}  # type: ignore[attr-defined]
        # after NormalizeWhitespace (30), before the meta extension (27) and raw HTML (20)
        md.preprocessors.register(PatternArticlesPreprocessor(md, self), "pattern_articles", 29)

    def reset(self) -> None:
        self.md.front_matter = {}  # type: ignore[attr-defined]

    # -- settings and the shared project -----------------------------------------------------
    def settings(self, context: Mapping[str, Any] | None) -> Settings:
        """Resolved once per distinct configuration, not once per page (Zensical: one Markdown per page)."""
        with self._lock:
            if self._settings is None:
                where = (context or {}).get("root_dir"), (context or {}).get("docs_dir")
                key = repr((sorted(self.given.items(), key=lambda item: item[0]), where, str(Path.cwd())))
                with _projects_lock:
                    known = _settings_cache.get(key)
                if known is None:
                    known = resolve_settings(self.given, context)
                    with _projects_lock:
                        _settings_cache[key] = known
                self._settings = known
            return self._settings

    def project(self, context: Mapping[str, Any] | None) -> Project:
        """One project (and one warm runner) per settings, shared by every Markdown instance.

        Zensical creates a new ``Markdown`` object for every page; the snippets must still
        run once per build, in parallel, from one runner.
        """
        from ..project import Project

        settings = self.settings(context)
        key = repr(settings)
        with _projects_lock:
            project = _projects.get(key)
            if project is None:
                project = _projects[key] = Project(settings)
            return project


def resolve_settings(given: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> Settings:
    """The plugin block of mkdocs.yml (if any), overridden by the options given to the extension."""
    from .. import settings as settings_mod
    from ..settings import Settings

    own = {k: v for k, v in given.items() if k in OWN_OPTIONS}
    overrides = {k: v for k, v in given.items() if k not in OWN_OPTIONS}
    root: Path | None = Path(str(own["root"])) if own.get("root") else None
    if root is None and context and context.get("root_dir"):
        root = Path(str(context["root_dir"]))
    config: Path | None = None
    if own.get("config_file"):
        config = Path(str(own["config_file"]))
        if not config.is_absolute():
            config = (root or Path.cwd()) / config
        if not config.is_file():
            raise PatternError(f"pattern_articles: config_file {config} not found")
    elif root is not None:
        config = next((root / n for n in ("mkdocs.yml", "mkdocs.yaml") if (root / n).is_file()), None)
    else:
        config = settings_mod.find_config()
    base = settings_mod.load(config) if config is not None else Settings(root=(root or Path.cwd()).resolve())
    if root is not None:
        base = dataclasses.replace(base, root=root.resolve())
    if context and context.get("docs_dir") and "docs_dir" not in overrides:
        base = dataclasses.replace(base, docs_dir=Path(str(context["docs_dir"])))
    if not overrides:
        return base
    checked = Settings.from_mapping(dict(overrides), base.root, base.docs_dir, Place("markdown_extensions"))
    changes = {name: getattr(checked, name) for name in overrides if name != "cache"}
    if "cache" in overrides and not overrides["cache"]:
        changes["cache_dir"] = None
    return dataclasses.replace(base, **changes)


class PatternArticlesPreprocessor(Preprocessor):
    def __init__(self, md: Markdown, extension: PatternArticlesExtension) -> None:
        super().__init__(md)
        self.extension = extension

    def run(self, lines: list[str]) -> list[str]:
        context = self._context()
        page = context.get("page") if context else None
        config = context.get("config") if context else None
        strict = bool(self.extension.getConfig("strict"))
        root: Path | None = None  # the project's folder: messages and pages name paths relative to it
        try:
            project = self.extension.project(config if isinstance(config, Mapping) else None)
            root = project.settings.root
            return self._process(project, lines, page)
        except PatternError as exc:
            if strict:
                raise
            log.error(_relative(exc.format(), root))
            return [*lines, "", *_error_admonition(exc, root)]

    def _context(self) -> dict[str, Any]:
        """Zensical's rendering context (its page and configuration), found by shape."""
        for processor in self.md.preprocessors:
            page = getattr(processor, "page", None)
            if page is not None and isinstance(getattr(page, "meta", None), dict):
                return {"page": page, "config": getattr(processor, "config", None)}
        return {}

    def _process(self, project: Project, lines: list[str], page: Any) -> list[str]:
        from ..content import article as article_mod

        settings = project.settings
        text = "\n".join(lines)
        docs = settings.absolute(settings.docs_dir)
        offset = 0
        keep_front_matter = False
        if page is not None:  # Zensical: metadata already parsed, body only
            meta: dict[str, Any] = page.meta
            docs_path = str(getattr(page, "path", "") or "")
            path: Path | str = docs / docs_path if docs_path else "<page>"
            offset = _front_matter_lines(Path(path), text) if docs_path else 0
            body, yaml_text = text, ""
        else:
            yaml_text, body, start = article_mod.split_front_matter(text)
            meta = article_mod.parse_front_matter(yaml_text, "<markdown>")[0] if yaml_text or start else {}
            offset = start
            path = "<markdown>"
            docs_path = ""
            keep_front_matter = "meta" in self.md.preprocessors
        bundle_id = meta.get(settings.article_key)
        if bundle_id:
            place = Place(path, 1)
            refresh(project, [str(bundle_id)])
            bundle = project.bundle(str(bundle_id), place)
            project.start([bundle])
            rendered = project.fill(body, path, str(bundle_id), meta=meta, line_offset=offset,
                                    links=project.links(docs_path) if docs_path else None, place=place)
            self._report(rendered.problems, project.settings.root)
            out = rendered.markdown
            if page is not None:
                page.meta.update(rendered.meta)
            else:
                self.md.front_matter = {**meta, **rendered.meta}  # type: ignore[attr-defined]
                if keep_front_matter:
                    head = text[: len(text) - len(body)]
                    parsed = article_mod.parse(head + "\n", path)
                    out = parsed.reassemble(front_matter_lines=_meta_lines(parsed, rendered.meta)).rstrip(
                        "\n") + "\n" + out
        else:
            if page is None:
                self.md.front_matter = meta  # type: ignore[attr-defined]
                if keep_front_matter:
                    body = text
            out = self._expand(project, body, path, offset)
        return out.split("\n")

    def _expand(self, project: Project, text: str, path: Path | str, offset: int) -> str:
        """``pattern-snippet`` fences on a page that is not an article: the bundle is the ref's folder."""
        from markdown_it import MarkdownIt

        from ..content import article as article_mod
        from ..pages.fill import DIRECTIVE_INFO, Filler

        if DIRECTIVE_INFO not in text:
            return text
        lines = text.split("\n")
        found = [t for t in MarkdownIt("commonmark").parse(text)
                 if t.type == "fence" and t.info.strip() == DIRECTIVE_INFO and t.map]
        refresh(project, [t.content.strip().split("/", 1)[0] for t in found if "/" in t.content])
        bundles = {}
        for token in found:
            ref = token.content.strip().split(" ", 1)[0]
            bundle_id = ref.split("/", 1)[0] if "/" in ref else ""
            if not bundle_id:
                assert token.map is not None
                raise PatternError(
                    f"pattern-snippet '{ref}' does not name its bundle",
                    Place(path, token.map[0] + 1 + offset),
                    hint="outside an article, write 'bundle/file.py#region', e.g. 'choreography/flow.py'",
                )
            if bundle_id not in bundles:
                assert token.map is not None
                bundles[bundle_id] = project.bundle(bundle_id, Place(path, token.map[0] + 1 + offset))
        project.start(list(bundles.values()))
        for token in reversed(found):
            assert token.map is not None
            start, end = token.map
            bundle = bundles[token.content.strip().split("/", 1)[0]]
            filler = Filler(project.settings, bundle, outcome_for=functools.partial(project.outcome, bundle))
            piece = article_mod.parse("\n".join(lines[start:end]) + "\n", path, line_offset=start + offset)
            expanded = filler.directives(piece)
            if 0 in expanded:
                lines[start:end] = expanded[0][1].rstrip("\n").split("\n")
            self._report(filler.problems, project.settings.root)
        return "\n".join(lines)

    def _report(self, problems: list[Problem], root: Path) -> None:
        strict = bool(self.extension.getConfig("strict"))
        for problem in problems:
            if problem.level == "info":
                log.info(_relative(problem.format(), root))
                continue
            if strict:
                raise PatternError(problem.message, problem.place, problem.hint)
            log.warning(_relative(problem.format(), root))


def refresh(project: Project, bundle_ids: list[str]) -> None:
    """Forget what was loaded or run from a bundle folder that changed since the last page.

    A Zensical ``serve`` keeps this process (and its project) alive across rebuilds; with
    ``watch: [snippets]`` it re-renders pages when a snippet changes, and this makes that
    re-render see the new metadata and re-run only the snippets whose files changed.
    """
    changed: set[Path] = set()
    with _projects_lock:
        for bundle_id in dict.fromkeys(bundle_ids):
            for root in project.settings.snippet_roots:
                folder = root / bundle_id
                if not folder.is_dir():
                    continue
                key = (id(project), str(folder))
                now = _fingerprint(folder)
                before = _fingerprints.get(key)
                _fingerprints[key] = now
                if before is not None and before != now:
                    changed.add(folder)
    if changed:
        project.reload(changed)


def _fingerprint(folder: Path) -> int:
    entries = []
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        try:
            info = path.stat()
        except OSError:
            continue
        entries.append((str(path), info.st_mtime_ns, info.st_size))
    return hash(tuple(entries))


def _meta_lines(parsed: Any, updates: Mapping[str, Any]) -> dict[int, str]:
    from ..pages.fill import front_matter_replacements

    return front_matter_replacements(parsed, updates)


def _front_matter_lines(path: Path, body: str) -> int:
    """How many lines Zensical took off the top (front matter, blank lines), so messages name real lines."""
    from ..content.article import split_front_matter

    try:
        source = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        _, _, start = split_front_matter(source, path)
    except (OSError, PatternError):
        return 0
    body_lines = body.split("\n")
    first = next((i for i, line in enumerate(body_lines) if line.strip()), None)
    if first is None:
        return start
    source_lines = source.split("\n")
    for index in range(start, len(source_lines)):
        if source_lines[index].rstrip() == body_lines[first].rstrip():
            return max(0, index - first)
    return start


def _relative(text: str, root: Path | None) -> str:
    from ..paths import project_relative

    return text if root is None else project_relative(text, root)


def _error_admonition(exc: PatternError, root: Path | None) -> list[str]:
    body = ["    " + line for line in _relative(exc.format(), root).splitlines()]
    return ['!!! failure "pattern-articles could not complete this page"', "", "    ```text", *body, "    ```"]


def makeExtension(**kwargs: Any) -> PatternArticlesExtension:
    return PatternArticlesExtension(**kwargs)
