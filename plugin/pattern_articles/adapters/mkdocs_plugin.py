"""The MkDocs adapter: thin on purpose, all logic lives in :mod:`pattern_articles.project`.

Events used:

* ``on_startup`` keeps one plugin instance (and its warm runner) across ``mkdocs serve``
  rebuilds;
* the plugin block is validated by MkDocs itself: its config options are generated from the
  core's schema (``settings.OPTIONS``) and call the core's check, so a bad value is a MkDocs
  configuration error with the message (and mkdocs.yml line) the CLI and pytest give;
* ``on_config`` builds the settings from the validated block;
* ``on_files`` adds the plugin's stylesheet and, with ``mermaid: bundled``, the vendored
  Mermaid (``assets/README.md``);
* ``on_nav``, late (after Material's blog and mkdocs-static-i18n have settled which files
  are built), finds the articles among the pages MkDocs will build (its ``Files``: drafts,
  ``exclude_docs`` and other languages' copies are not), hands every snippet run of their
  bundles to the runner and waits for them all (in parallel), so no page waits and the
  workers are gone before pages render;
* ``on_page_markdown`` fills an article page (title and description go into ``page.meta``
  so the nav, ``<title>``, the ``h1`` and ``<meta name="description">`` agree), then hides
  the code blocks it added behind placeholders that a last, late handler puts back: plugins
  in between (mkdocs-macros renders ``{{ ... }}``) never see, so never rewrite, verified code
  and output;
* ``on_post_page`` loads the vendored Mermaid on the pages that hold a diagram, and only
  there (3.57 MB: the home page and the 404 page do without);
* ``on_serve`` watches the snippet folders; ``on_post_build`` logs one summary line and,
  in a one-shot build, lets go of the build's data before the search index is made;
* a page that is not an article may hold a ``pattern-catalogue`` block (``catalogue.py``);
  its links are relative ``.md`` links to built pages, which MkDocs resolves.

Problems are logged as ``page.md: file:line: message``; warnings make ``--strict`` fail.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config.base import ValidationError
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, CombinedEvent, event_priority, get_plugin_logger
from mkdocs.structure.files import File, InclusionLevel
from mkdocs.utils import get_relative_url

from .. import settings as settings_mod
from ..errors import PatternError, Place, Problem
from ..pages import catalogue
from ..paths import project_relative
from ..project import ArticleRef, Project, Tally, read_article, release_caches
from ..settings import OPTIONS, Option, Settings

log = get_plugin_logger(__name__)

ASSETS = Path(__file__).parents[1] / "assets"
SITE_ASSETS = "assets/pattern-articles"  # where the assets land in the built site
MERMAID = ("mermaid.min.js", "mermaid-config.js", "mermaid.LICENSE.txt")  # scripts first, in load order


class _Setting(base.BaseConfigOption[Any]):  # type: ignore[misc]
    """One setting of the core's schema (``settings.OPTIONS``) as a MkDocs config option.

    Why not MkDocs' own ``Type``/``Choice``/``Dir``: their messages differ from the CLI's and
    pytest's, and carry no line. This option calls the core's :func:`settings.check`, the
    one the CLI and pytest call, so all three give a bad value the same verdict and message,
    naming its line in mkdocs.yml (or in the file it INHERITs from). Paths take what
    ``!relative $config_dir/...`` gives; an empty value (say, ``!ENV`` of an unset variable)
    takes the default."""

    def __init__(self, option: Option) -> None:
        super().__init__()
        self.option = option
        self.place: Place | None = None

    def pre_validation(self, config: base.Config, key_name: str) -> None:
        self.place = None
        if config.config_file_path:
            place, keys = settings_mod.places_of(config.config_file_path)
            self.place = keys.get(key_name, place)

    def run_validation(self, value: object) -> Any:
        try:
            return settings_mod.check(self.option, value, self.place)
        except PatternError as exc:
            raise ValidationError(exc.format()) from None


# MkDocs collects a config class's options when the class is made: generate them from the
# schema, then name the class for readers (and for BasePlugin's type parameter)
_Schema: Any = type("_Schema", (base.Config,), {option.name: _Setting(option) for option in OPTIONS})


class PatternArticlesConfig(_Schema):  # type: ignore[misc]
    """Settings of the plugin block in ``mkdocs.yml`` (see docs/guide/configuration.md)."""

    enabled: bool
    mermaid: str


def _emit(problem: Problem, page: str = "", root: Path | None = None) -> None:
    text = problem.format() if root is None else project_relative(problem.format(), root)
    if page:
        text = f"{page}: {text}"
    if problem.level == "info":
        log.info(text)
    else:
        log.warning(text)


class PatternArticlesPlugin(BasePlugin[PatternArticlesConfig]):
    """Completes pattern articles from their bundles at build time."""

    supports_multiple_instances = False

    def __init__(self) -> None:
        self.project: Project | None = None
        self._linked: dict[Path, ArticleRef] = {}  # article path -> its link, from the front matter text
        self._refs: list[ArticleRef] = []  # the build's articles, found once at its start
        self._page_keys: dict[Path, str] = {}  # article path -> its key in the page cache
        self._whole: set[Path] = set()  # articles expected whole from the page cache (runs not submitted)
        self._sources: dict[Path, str] = {}  # each page's text as read in on_files, by resolved path
        self.started = 0.0
        self._summary: Tally | None = None  # the build's run counts, for its last line
        self.is_serve = False
        self._watcher: _SnippetWatcher | None = None
        self._load_mermaid = False  # pages with a diagram load the bundled Mermaid
        self._protected: dict[str, dict[str, str]] = {}  # page -> placeholder -> the verified block it hides

    def on_startup(self, *, command: str, dirty: bool) -> None:
        # Defining on_startup makes MkDocs keep this instance across serve rebuilds,
        # so the warm runner and its in-memory state survive an edit.
        self.is_serve = command == "serve"

    def on_config(self, config: Any) -> Any:
        self._load_mermaid = bool(self.config.enabled) and self.config.mermaid == "bundled"
        if not self.config.enabled:
            return config
        root = Path(config.config_file_path).parent if config.config_file_path else Path.cwd()
        docs = Path(config.docs_dir)
        settings = Settings(root=root, docs_dir=docs.relative_to(root) if docs.is_relative_to(root) else docs)
        for option in OPTIONS:  # validated by MkDocs already, with the core's check
            settings.apply(option, self.config[option.name])
        if self.config.cache_dir is not None and config.config_file_path:
            # where the cache may go depends on docs_dir, known only now (the CLI and pytest
            # make the same check when they read the plugin block)
            place, keys = settings_mod.places_of(config.config_file_path)
            try:
                settings_mod.check_cache_dir(settings, keys.get("cache_dir", place))
            except PatternError as exc:
                raise PluginError(f"pattern-articles: {exc.format()}") from None
        if self.project is not None and self.project.settings == settings:
            self.project.reload()  # serve: metadata may have changed; the disk cache stays
        else:
            if self.project is not None:
                self.project.close()
            self.project = Project(settings)
        if f"{SITE_ASSETS}/pattern-articles.css" not in config.extra_css:
            config.extra_css.append(f"{SITE_ASSETS}/pattern-articles.css")
        return config

    def on_files(self, files: Any, *, config: Any) -> Any:
        if self.project is None:
            return files
        self.started = time.perf_counter()
        names = ("pattern-articles.css", *(MERMAID if self.config.mermaid == "bundled" else ()))
        for name in names:  # a file of the same name in docs_dir wins
            if files.get_file_from_path(f"{SITE_ASSETS}/{name}") is None:
                files.append(File.generated(config, f"{SITE_ASSETS}/{name}", abs_src_path=str(ASSETS / name)))
        return files

    # Late: Material's blog plugin decides which posts are drafts in on_files and puts the
    # others back in on_nav (both at -50); mkdocs-static-i18n swaps in one language's files
    # in on_files (-100); MkDocs applies exclude_docs/draft_docs between the two events. Here
    # the Files are what MkDocs will build, and only those pages' snippets run.
    @event_priority(-100)
    def on_nav(self, nav: Any, *, config: Any, files: Any) -> Any:
        if self.project is None:
            return nav
        if self.project._runner is not None:
            self.project.runner.reset_stats()  # one summary line per (re)build
        self.project.pages_cached = 0
        built = InclusionLevel.is_in_serve if self.is_serve else InclusionLevel.is_included
        self._sources = {}
        pages: list[tuple[Path, str]] = []
        for page in files.documentation_pages(inclusion=built):
            if not page.abs_src_path:
                continue  # generated by a plugin (a blog's archive, say): never an article
            path = Path(page.abs_src_path)
            try:  # a page that is not UTF-8 would stop MkDocs later, with a traceback
                self._sources[path.resolve()] = read_article(path)
            except PatternError as exc:
                raise PluginError(f"pattern-articles: {exc.format()}") from None
            pages.append((path, page.src_uri))
        refs = self._refs = self.project.articles_in(pages, self._sources)
        self.project.pin_articles(refs)  # the catalogue and the links see the built pages only
        # pages whose front matter names a bundle, even when MkDocs cannot read that front
        # matter: such a page must fail loudly, not be published with its TODOs
        self._linked = {ref.path.resolve(): ref for ref in refs}
        # an article whose filled page is in the page cache needs neither its bundle loaded
        # nor its runs looked up: that is what makes a warm build cost a plain build
        self._page_keys = self.project.page_keys(refs, self._sources)
        cache = self.project.page_cache
        self._whole = {path for path, page_key in self._page_keys.items() if cache is not None and cache.has(page_key)}
        try:
            used = {ref.bundle_id for ref in refs if ref.path.resolve() not in self._whole}
            bundles = []
            for bundle_id in sorted(used):
                try:
                    bundles.append(self.project.bundle(bundle_id))
                except PatternError:
                    continue  # reported on the page that uses it
            if self.project.start(bundles):
                # Every run before any page: the pages wait for their runs anyway (MkDocs
                # writes nothing before every page is filled), and the peak memory of the
                # build becomes the larger of the runs' and the pages', not their sum. At
                # 2,000 snippets the runs then have both cores and the workers (~22 MiB)
                # are gone before the pages grow the build process: the peak went from 1.72
                # to about 1.4 times a plain build's, the cold build's time stayed in noise
                # (README, performance). With many cores, overlapping them could save a
                # little time; the lower peak was chosen over that.
                self.project.runner.wait_all()
                if not self.is_serve:  # a server keeps them: its next rebuild looks up again
                    self.project.runner.forget_keys()
                    # one full collection now, while little else is alive: what the pages
                    # allocate next fills the freed pools (the peak's median fell by 1.4 MiB
                    # without it, 3 builds, and by 1.8 MiB with it, 5; see Runner.forget_keys)
                    gc.collect()
        except PatternError as exc:
            log.error(project_relative(exc.format(), self.project.settings.root))
        return nav

    def _fill_page(self, markdown: str, *, page: Any, config: Any, files: Any) -> str | None:
        filled = self._filled(markdown, page)
        if filled is markdown or self.project is None:
            return filled
        protected, blocks = _protect(filled, markdown)
        if blocks:
            self._protected[page.file.src_uri] = blocks
        return protected

    # As late as can be: every plugin's on_page_markdown in between saw placeholders only
    @event_priority(-10000)
    def _restore_page(self, markdown: str, *, page: Any, config: Any, files: Any) -> str | None:
        blocks = self._protected.pop(page.file.src_uri, None)
        if not blocks:
            return markdown
        markdown, lost = _restore(markdown, blocks)
        if lost:
            log.warning(f"{page.file.src_uri}: another plugin removed {len(lost)} block(s) of verified code or "
                        "output from the page in on_page_markdown; they are missing from the built page")
        return markdown

    on_page_markdown = CombinedEvent(_fill_page, _restore_page)

    def _filled(self, markdown: str, page: Any) -> str:
        if self.project is None:
            return markdown
        key = self.project.settings.article_key
        bundle_id = page.meta.get(key)
        src = page.file.src_uri
        path = Path(page.file.abs_src_path) if page.file.abs_src_path else Path(src)
        resolved = path.resolve()
        linked = self._linked.get(resolved)
        source = self._sources.get(resolved)
        if not bundle_id and linked is not None:
            # MkDocs could not read the front matter (invalid YAML, not a mapping, not closed)
            # and left it in the text: parse it ourselves for a message naming the line
            try:
                self.project.fill(markdown, path, linked.bundle_id, place=Place(path, linked.line))
            except PatternError as exc:
                log.error(project_relative(f"{src}: {exc.format()}", self.project.settings.root))
                return markdown + "\n\n" + _error_admonition(exc, self.project.settings.root)
        if not bundle_id:
            self._warn_unlinked(path, src, source, page.meta)
            if catalogue.DIRECTIVE_INFO not in markdown:
                return markdown
            try:
                expanded = catalogue.expand(markdown, self.project, src, path=path,
                                            line_offset=_front_matter_lines(path, markdown, source))
            except PatternError as exc:
                log.error(project_relative(f"{src}: {exc.format()}", self.project.settings.root))
                return markdown + "\n\n" + _error_admonition(exc, self.project.settings.root)
            for problem in expanded.problems:
                _emit(problem, src, self.project.settings.root)
            return expanded.markdown
        page_key = self._page_keys.get(resolved)
        handed = (markdown, dict(page.meta))  # what the page cache keys on, before our updates
        if page_key is not None:
            cached = self.project.cached_page(page_key, markdown, page.meta, count=resolved in self._whole)
            if cached is not None:
                for problem in cached.problems:
                    _emit(problem, src, self.project.settings.root)
                page.meta.update(cached.meta)
                return cached.markdown
        offset = _front_matter_lines(path, markdown, source)
        try:
            rendered = self.project.fill(
                markdown,
                path,
                str(bundle_id),
                meta=page.meta,
                line_offset=offset,
                links=self.project.links(src, self._refs),
                place=Place(path, linked.line if linked is not None else 1),
            )
        except PatternError as exc:
            log.error(project_relative(f"{src}: {exc.format()}", self.project.settings.root))
            return markdown + "\n\n" + _error_admonition(exc, self.project.settings.root)
        for problem in rendered.problems:
            _emit(problem, src, self.project.settings.root)
        if page_key is not None:
            self.project.store_page(page_key, *handed, rendered, str(bundle_id))
        page.meta.update(rendered.meta)
        return rendered.markdown

    # Late, so a diagram another plugin adds counts too
    @event_priority(-100)
    def on_post_page(self, output: str, *, page: Any, config: Any) -> str | None:
        """Load the vendored Mermaid on a page that shows a diagram, and on no other page.

        One inline script (``assets/mermaid-loader.js``) right after the first diagram,
        inside the page's content: it defines ``window.mermaid`` at once, before the theme
        looks for it (so Material never asks its CDN), and loads the bundled scripts.
        Inline, because Material's instant navigation runs the inline scripts of the page
        it swaps in at once, but ``src`` scripts only in the background, after it has looked.
        """
        if not self._load_mermaid:  # not self.project: a one-shot build has let go of it by now
            return output
        found = _MERMAID_BLOCK.search(output)
        if found is None:
            return output
        end = output.find(f"</{found.group(1)}>", found.end())
        if end < 0:
            return output
        end += len(found.group(1)) + 3
        return output[:end] + _mermaid_loader(config, page.url) + output[end:]

    def _warn_unlinked(self, path: Path, src: str, source: str | None, meta: Any) -> None:
        """A page whose title still says TODO and that names no bundle: nothing fills it."""
        from ..content.checks import unlinked_todo_title

        assert self.project is not None
        title = meta.get("title") if isinstance(meta, dict) else None
        if not isinstance(title, str) or "TODO" not in title:
            return  # the common page: no file read
        if source is None:
            try:
                source = path.read_text("utf-8", errors="replace")
            except OSError:
                return
        settings = self.project.settings
        shown = project_relative(str(path), settings.root)
        problem = unlinked_todo_title(source, shown, settings.article_key,
                                      [d.name for d in self.project.bundle_dirs()])
        if problem is not None:
            _emit(problem, src, settings.root)

    def on_serve(self, server: Any, *, config: Any, builder: Any) -> Any:
        if self.project is not None:
            roots = [root for root in self.project.settings.snippet_roots if root.is_dir()]
            self._watcher = _SnippetWatcher.start(roots, self.project.settings.cache_path)
            for watched in [self._watcher.sentinel] if self._watcher is not None else roots:
                server.watch(str(watched))
            if self.project.settings.templates_dir is not None:
                server.watch(str(self.project.settings.absolute(self.project.settings.templates_dir)))
        return server

    # Every page's Markdown is filled before on_env; MkDocs then renders the templates, which
    # needs nothing of ours. A one-shot build lets go of its bundles, runs, outcomes and memos
    # here: held, they were about 58,000 objects more for the garbage collector to walk in
    # every full collection of the template phase, and memory the search index now reuses
    # (measured at 2,000 snippets: the index had added 6 MiB to the build's peak).
    @event_priority(50)
    def on_env(self, env: Any, *, config: Any, files: Any) -> Any:
        if self.project is None:
            return env
        if self.project._runner is not None or self.project.pages_cached:
            self._summary = self.project.tally()
        if not self.is_serve:
            self.project.close()
            self.project = None
            self._linked, self._page_keys, self._whole, self._sources, self._refs = {}, {}, set(), {}, []
            release_caches()
        else:
            self.project.pin_articles(None)  # files may come and go before the next rebuild
        return env

    def on_post_build(self, *, config: Any) -> None:
        if self._summary is not None:
            tally, self._summary = self._summary, None
            log.info(f"snippets: {tally.line()}; build {time.perf_counter() - self.started:.2f} s")

    def on_shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self.project is not None:
            self.project.close()


class _SnippetWatcher:
    """Watches the snippet folders with the system's file events and touches one sentinel
    file that ``mkdocs serve`` watches instead.

    Why: ``mkdocs serve`` polls every watched file twice a second, from a thread of the
    process that builds. Polling a site's thousands of snippets and golden files cost about
    5 % of every rebuild (27 ms per scan of 4,300 files, holding the GIL); file events cost
    nothing while idle. MkDocs still decides when to rebuild: it sees the sentinel change.
    Where watchdog has no native observer, :meth:`start` returns None and the folders are
    polled as before.
    """

    def __init__(self, roots: list[Path], ignore: Path | None) -> None:
        import tempfile
        import threading

        from watchdog import events
        from watchdog.observers import Observer

        self.folder = Path(tempfile.mkdtemp(prefix="pattern-articles-watch-"))
        self.sentinel = self.folder / "changed"
        self.sentinel.write_text("0\n")
        self.ignore = str(ignore) if ignore is not None else None
        self.changes = 0
        self.lock = threading.Lock()
        handler = events.FileSystemEventHandler()
        handler.on_any_event = self.changed  # type: ignore[method-assign]
        self.observer = Observer()
        # writes only: the build reads every snippet, and each read is an event otherwise
        writes = [getattr(events, name) for name in (
            "FileCreatedEvent", "FileDeletedEvent", "FileModifiedEvent", "FileMovedEvent", "FileClosedEvent",
            "FileAttribEvent",
            "DirCreatedEvent", "DirDeletedEvent", "DirMovedEvent") if hasattr(events, name)]
        for root in roots:
            try:
                self.observer.schedule(handler, str(root), recursive=True, event_filter=writes)
            except TypeError:  # watchdog < 4 has no event_filter; changed() skips reads
                self.observer.schedule(handler, str(root), recursive=True)

    @classmethod
    def start(cls, roots: list[Path], ignore: Path | None) -> _SnippetWatcher | None:
        if not roots:
            return None
        watcher: _SnippetWatcher | None = None
        try:
            from watchdog.observers.polling import PollingObserver

            watcher = cls(roots, ignore)
            if isinstance(watcher.observer, PollingObserver):
                raise OSError("no native file events here")
            watcher.observer.start()  # e.g. inotify's watch limit reached: OSError
            return watcher
        except Exception:
            if watcher is not None:
                watcher.stop()
            return None

    def changed(self, event: Any) -> None:
        path = str(getattr(event, "src_path", ""))
        if event.event_type in ("opened", "closed_no_write"):
            return  # a read (the build itself reads every snippet): a rebuild would loop
        if event.is_directory or "__pycache__" in path or (self.ignore and path.startswith(self.ignore)):
            return  # the same events MkDocs' own watcher ignores, and our cache
        with self.lock:
            self.changes += 1
            temp = self.folder / f".changed.{self.changes}"
            temp.write_text(f"{self.changes}\n")
            temp.replace(self.sentinel)  # a new inode: seen even within one mtime tick

    def stop(self) -> None:
        import shutil

        with contextlib.suppress(Exception):
            self.observer.stop()
            self.observer.join(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _front_matter_lines(path: Path, markdown: str, source: str | None = None) -> int:
    """How many lines MkDocs stripped from the top, so messages name real lines.
    ``source``: the file's text when already read."""
    if source is None:
        try:
            source = path.read_text(encoding="utf-8-sig")
        except OSError:
            return 0
    return max(0, source.lstrip("\ufeff").count("\n") - markdown.count("\n"))


def _mermaid_loader(config: Any, page_url: str) -> str:
    """The inline script that loads the bundled Mermaid, for a page at ``page_url``.

    The folder is relative to the page, or, when the site has a ``site_url`` (which
    Material's instant navigation needs), absolute from its path: a script Material runs
    while it swaps pages may resolve a relative URL against the page the reader came from."""
    from urllib.parse import urlsplit

    if config.site_url:
        folder = urlsplit(config.site_url).path.rstrip("/") + f"/{SITE_ASSETS}/"
    else:
        folder = get_relative_url(f"{SITE_ASSETS}/", page_url)
        folder = folder if folder.endswith("/") else folder + "/"
    return f"<script>{_LOADER}({json.dumps(folder)});</script>"


# inlined in every page with a diagram: its code, under a one-line comment naming the file
_LOADER = "/* pattern-articles: load the bundled Mermaid (mermaid-loader.js) */\n" + (
    (ASSETS / "mermaid-loader.js").read_text("utf-8").split("*/", 1)[1].strip())
_MERMAID_BLOCK = re.compile(r'<(pre|div)\b[^>]*\bclass="(?:[^"]*\s)?mermaid(?:\s[^"]*)?"')
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")


def _fences(text: str) -> list[tuple[int, int]]:
    """The fenced code blocks of ``text`` as (first line, line after the last), by a plain
    line scan: the plugin's blocks sit indented inside content tabs, where a CommonMark
    parser sees indented code, not fences. An unclosed fence runs to the end."""
    lines = text.split("\n")
    blocks: list[tuple[int, int]] = []
    index = 0
    while index < len(lines):
        opened = _FENCE_OPEN.match(lines[index])
        if opened is None or (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            index += 1
            continue
        char, width = opened.group(1)[0], len(opened.group(1))
        end = index + 1
        while end < len(lines):
            rest = lines[end].strip()
            if rest and set(rest) == {char} and len(rest) >= width:
                break
            end += 1
        blocks.append((index, min(end + 1, len(lines))))
        index = end + 1
    return blocks


def _protect(filled: str, original: str) -> tuple[str, dict[str, str]]:
    """Hide the code blocks the plugin added to a page (snippet code, outputs, diagrams)
    behind one-line placeholders, and say which placeholder hides which block.

    Why: a plugin that runs after this one may rewrite Markdown; mkdocs-macros renders
    ``{{ ... }}`` and ``{% ... %}`` everywhere, so a snippet printing ``{{ config.site_name }}``
    would show the site's name as its "verified" output. The author's own blocks (same text
    as in the source) are left to the author's plugins. A placeholder is plain text that no
    template language reads, unique to the page (a random nonce), keeping the block's
    indentation so it stays inside its tab."""
    lines = filled.split("\n")
    source = original.split("\n")
    own = Counter("\n".join(source[a:b]) for a, b in _fences(original))
    nonce = secrets.token_hex(6)
    blocks: dict[str, str] = {}
    for number, (start, end) in enumerate(reversed(_fences(filled))):
        text = "\n".join(lines[start:end])
        if own[text] > 0:
            own[text] -= 1
            continue
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        token = f"pattern-articles-verified-{nonce}-{number:06d}."  # fixed width: no token starts another
        blocks[indent + token] = text
        lines[start:end] = [indent + token]
    return "\n".join(lines), blocks


def _restore(markdown: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """Put back what :func:`_protect` hid; also say which placeholders were gone."""
    lost = [token for token in blocks if token not in markdown]
    for token, block in blocks.items():
        markdown = markdown.replace(token, block, 1)
    return markdown, lost


def _error_admonition(exc: PatternError, root: Path) -> str:
    body = "\n".join("    " + line for line in project_relative(exc.format(), root).splitlines())
    return f'!!! failure "pattern-articles could not complete this article"\n\n    ```text\n{body}\n    ```\n'
