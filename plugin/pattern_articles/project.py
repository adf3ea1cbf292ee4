"""A project: settings, its bundles, its articles and one runner — what every adapter needs.

The MkDocs plugin, the pytest plugin and the CLI are thin because they all talk to this
object: it finds the bundles and the articles that use them, hands every run to the runner
up front (they run in the background while the adapter goes on), judges results against
golden files and fills articles. Nothing here imports MkDocs.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .content import article as article_mod
from .content import bundle as bundle_mod
from .errors import PatternError, Place
from .settings import Settings

if TYPE_CHECKING:
    from .content.bundle import Bundle
    from .content.requirements import Unmet
    from .engine import Outcome, Runner, RunResult, RunSpec
    from .pages.fill import Rendered, SiteLinks
    from .pages.pagecache import PageCache, PageEntry


def release_caches() -> None:
    """Forget what this process remembers across builds: loaded bundles (with everything
    derived from them) and the facts of analysed modules. For a one-shot build that is done:
    a long-lived process (``mkdocs serve``, a test session) keeps them to rebuild faster."""
    bundle_mod.forget_loaded()
    cache = sys.modules.get(f"{__package__}.engine.cache")  # not imported by a build that ran nothing
    if cache is not None:
        cache.forget_facts()


@dataclass(frozen=True)
class ArticleRef:
    """A page of the site that is an article: it names a bundle in its front matter."""

    path: Path  # absolute
    docs_path: str  # POSIX path relative to docs_dir
    bundle_id: str
    line: int  # line of the linking key


@dataclass(frozen=True)
class Tally:
    """The run counts of one build's or one check's summary line, the same in every adapter.

    ``failed`` is every run that fails the build: the runner's failures (an exit code, a
    timeout, an error) and the runs that ran fine but were judged failing, because their
    output differs from the golden file or their trace breaks the declared flow. Counting
    the runner's alone said "failed 0" right above a strict build's abort for a changed
    output."""

    ran: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return f"ran {self.ran}, cached {self.cached}, failed {self.failed}, skipped {self.skipped}"


class Project:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._bundles: dict[str, Bundle] = {}
        self._runner: Runner | None = None
        self._outcomes: dict[RunSpec, Outcome] = {}
        self._judged_failing: set[RunSpec] = set()  # held outcomes of runs that passed but fail (see tally)
        self._lock = threading.Lock()
        self._articles_memo: tuple[object, list[ArticleRef]] | None = None
        self._pinned: list[ArticleRef] | None = None  # the articles a MkDocs build found in its Files
        self._pages: PageCache | None = None
        self.pages_cached = 0  # runs shown by pages that came whole from the page cache

    # -- bundles -------------------------------------------------------------------------
    def bundle_dirs(self) -> list[Path]:
        return list(bundle_mod.discover(self.settings.snippet_roots))

    def bundle(self, bundle_id: str, place: Place | None = None) -> Bundle:
        if bundle_id in self._bundles:
            return self._bundles[bundle_id]
        folder = bundle_mod.locate(self.settings.snippet_roots, bundle_id, place)
        if folder is not None:
            loaded = bundle_mod.load(folder)
            self._bundles[bundle_id] = loaded
            return loaded
        roots = ", ".join(str(r) for r in self.settings.snippet_roots)
        known = ", ".join(d.name for d in self.bundle_dirs()) or "none"
        raise PatternError(
            f"no bundle '{bundle_id}' in the snippet folders ({roots})",
            place,
            hint=f"known bundles: {known}; create one with 'pattern-articles new {bundle_id}'",
        )

    def bundles(self) -> list[Bundle]:
        """Every bundle, loaded; the first invalid one raises its error."""
        return [self.bundle(folder.name) for folder in self.bundle_dirs()]

    def reload(self, changed: set[Path] | None = None) -> None:
        """Forget bundles (metadata may have changed) and outcomes of runs whose inputs changed."""
        self._bundles.clear()
        self._pages = None  # its per-build digests of bundles and settings
        if self._runner is not None:
            # the runner memoises by spec; a spec's files may have changed. The disk cache,
            # keyed by content, still answers every run whose inputs did not change.
            self._runner.forget()
        with self._lock:
            if changed is None:
                self._outcomes.clear()
            else:
                self._outcomes = {
                    spec: outcome for spec, outcome in self._outcomes.items()
                    if not any(_under(path, spec.bundle_dir) for path in changed)
                }
            self._judged_failing.intersection_update(self._outcomes)

    # -- articles ------------------------------------------------------------------------
    def articles(self) -> list[ArticleRef]:
        """The site's articles: pages whose front matter names a bundle.

        In a MkDocs build, those among the pages MkDocs builds (:meth:`pin_articles`). Else
        (the CLI, pytest) Markdown files under docs_dir that ``mkdocs build`` would build:
        MkDocs' default exclusions, ``exclude_docs`` and ``draft_docs`` are honoured
        (:meth:`Settings.is_built`). Remembered while no Markdown file under docs_dir changed
        (by stat): every page of a build asks for the site's links, and reading every page's
        front matter for each page made a build quadratic in its number of pages.
        """
        if self._pinned is not None:
            return list(self._pinned)
        docs = self.settings.absolute(self.settings.docs_dir)
        found: list[ArticleRef] = []
        stats = _page_stats(docs)
        key = self.settings.article_key
        signature = (str(docs), key, self.settings.exclude_docs, self.settings.draft_docs, sorted(stats))
        memo = self._articles_memo
        if memo is not None and memo[0] == signature:
            return list(memo[1])
        for path, docs_path in self._built(docs, stats):
            bundle_id, line = _linked_bundle(path, key)
            if bundle_id:
                found.append(ArticleRef(path, docs_path, bundle_id, line))
        racy = time.time_ns() - 2_000_000_000  # a file written this recently may change within its mtime tick
        if all(max(m, c) < racy for _, m, c, _ in stats):
            self._articles_memo = (signature, list(found))
        return found

    def pages(self) -> list[tuple[Path, str]]:
        """Every page under docs_dir that ``mkdocs build`` would build (path, its path in the
        site's sources), walked safely (see :func:`_page_stats`): the CLI's and pytest's view
        of the site, for the checks that look at every page."""
        docs = self.settings.absolute(self.settings.docs_dir)
        return list(self._built(docs, _page_stats(docs)))

    def _built(self, docs: Path, stats: list[tuple[str, int, int, int]]) -> Iterator[tuple[Path, str]]:
        for path in sorted(Path(name) for name, *_ in stats):
            docs_path = path.relative_to(docs).as_posix()
            if self.settings.is_built(docs_path):
                yield path, docs_path

    def articles_in(self, pages: list[tuple[Path, str]], texts: Mapping[Path, str]) -> list[ArticleRef]:
        """The articles among ``pages`` ((file, its path in the site's sources), as a MkDocs
        build lists the pages it builds); ``texts``: their text, by resolved path."""
        key = self.settings.article_key
        found: list[ArticleRef] = []
        for path, docs_path in pages:
            text = texts.get(path.resolve())
            bundle_id, line = _linked_bundle(path, key) if text is None else _linked_in(text, key)
            if bundle_id:
                found.append(ArticleRef(path, docs_path, bundle_id, line))
        return found

    def pin_articles(self, refs: list[ArticleRef] | None) -> None:
        """Make ``refs`` the site's articles (None: find them by walking docs_dir again).

        A MkDocs build pins the articles among the pages it builds, so links, the catalogue
        and the users of a snippet name built pages only, never a draft, an excluded page or
        another language's copy."""
        self._pinned = list(refs) if refs is not None else None

    def article_ref(self, path: Path) -> ArticleRef:
        """The article in ``path`` (a file the user named), or an error saying why it is not one."""
        wanted = path.resolve()
        for ref in self.articles():
            if ref.path.resolve() == wanted:
                return ref
        key = self.settings.article_key
        bundle_id, line = _linked_bundle(wanted, key)
        text = read_article(wanted)  # not UTF-8: the message names the line
        parsed = article_mod.parse(text, wanted)  # front matter errors name their line
        if bundle_id and line:  # an article outside docs_dir
            return ArticleRef(wanted, wanted.name, bundle_id, line)
        hint = f"an article starts with front matter naming its bundle: '---', '{key}: <bundle id>', '---'"
        if not text.strip():
            raise PatternError("the file is empty, so it is not an article", Place(wanted, 1), hint=hint)
        if not parsed.front_matter_end:
            raise PatternError("the file has no front matter, so it is not an article", Place(wanted, 1), hint=hint)
        raise PatternError(f"the front matter has no '{key}:' key naming a bundle, so it is not an article",
                           Place(wanted, 1), hint=hint)

    def links(self, for_docs_path: str = "", refs: list[ArticleRef] | None = None) -> SiteLinks:
        """Links to the site's articles as seen from ``for_docs_path``.

        ``refs``: the articles found already. A build passes those it found at its start,
        which are the pages MkDocs builds: finding them again walks and stats every
        Markdown file under docs_dir, per page, which made a build quadratic in its pages.
        """
        from .pages.fill import SiteLinks, relative_url

        pages: dict[str, str] = {}
        for ref in refs if refs is not None else self.articles():
            pages.setdefault(ref.bundle_id, ref.docs_path)
        # relative URLs are made when a page asks for one: every page of a site asking for
        # a URL to every other page made a build quadratic in its number of pages
        return SiteLinks(_RelativeLinks(pages, for_docs_path, relative_url) if for_docs_path else pages)

    def users_of(self, spec: RunSpec) -> list[str]:
        """Articles (docs-relative paths) that show this spec's bundle."""
        return [a.docs_path for a in self.articles() if self.settings.snippet_roots and
                any((root / a.bundle_id).resolve() == spec.bundle_dir for root in self.settings.snippet_roots)]

    # -- runs ----------------------------------------------------------------------------
    @property
    def runner(self) -> Runner:
        if self._runner is None:
            from .engine import Runner, RunnerSettings

            s = self.settings
            allow = tuple(dict.fromkeys([*RunnerSettings().env_allowlist, *s.env_allowlist]))
            self._runner = Runner(RunnerSettings(
                timeout=s.timeout,
                jobs=s.jobs,
                output_limit=s.output_limit,
                memory_limit=s.memory_limit,
                cpu_limit=s.cpu_limit,
                env_allowlist=allow,
                cache_dir=s.cache_path,
                fresh=s.force_fresh,
                service_urls=dict(s.services),
                sandbox=s.sandbox_mode,
            ))
        return self._runner

    def specs(self, bundles: list[Bundle] | None = None) -> Iterator[tuple[Bundle, RunSpec]]:
        from .engine import specs_for

        for bundle in bundles if bundles is not None else self.bundles():
            for spec in specs_for(bundle, self.settings.timeout):
                yield bundle, spec

    def start(self, bundles: list[Bundle] | None = None) -> int:
        """Hand every run to the runner at once; they run in the background."""
        if not self.settings.run:
            return 0
        from .content.requirements import unmet_for

        # a bundle whose requires: are not installed runs nothing (outcome() says why)
        specs = [spec for bundle, spec in self.specs(bundles) if spec not in self._outcomes and not unmet_for(bundle)]
        if specs:
            self.runner.submit(specs)
        return len(specs)

    def outcome(self, bundle: Bundle, spec: RunSpec) -> Outcome:
        from .engine import judge

        with self._lock:
            known = self._outcomes.get(spec)
        if known is not None:
            return known
        from .content.requirements import unmet_for

        missing = unmet_for(bundle)
        result = self.runner.result(spec) if not missing else _not_run_for(spec, missing)
        judged = judge(bundle, spec, result, trace_checks=self.settings.check_trace)
        with self._lock:
            self._outcomes[spec] = judged
            # a changed output, a broken flow, or what the run did (processes left running,
            # output over the limit, a normaliser out of time): failing verdicts of a pass;
            # and a run never started for want of a requirement
            if (result.status == "passed" and (judged.status not in ("passed", "skipped") or judged.problems)) \
                    or missing:
                self._judged_failing.add(spec)
            else:
                self._judged_failing.discard(spec)
        return judged

    def forget_outcome(self, spec: RunSpec) -> None:
        """Judge this run again next time (its golden file was just rewritten)."""
        with self._lock:
            self._outcomes.pop(spec, None)
            self._judged_failing.discard(spec)

    def tally(self) -> Tally:
        """The counts for the summary line (see :class:`Tally`): the runner's, since its last
        ``reset_stats``, plus the runs it counted as passed that their verdicts fail. Runs
        shown by pages taken whole from the page cache count as cached. In ``mkdocs serve``
        a failing verdict held from an earlier build (its inputs unchanged, so its warning is
        shown again) counts again."""
        from .engine import RunnerStats

        stats = self._runner.stats if self._runner is not None else RunnerStats()
        with self._lock:
            judged_failing = len(self._judged_failing)
        return Tally(stats.ran, stats.cached + self.pages_cached, stats.failed + judged_failing, stats.skipped)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    # -- whole pages ---------------------------------------------------------------------
    @property
    def page_cache(self) -> PageCache | None:
        """The whole-page cache (``pagecache.py``), or None when results are not cached or
        every run is forced fresh."""
        s = self.settings
        if not s.run or s.force_fresh or s.cache_path is None:
            return None
        if self._pages is None:
            from .pages.pagecache import PageCache

            self._pages = PageCache(s.cache_path, s)
        return self._pages

    def page_keys(self, refs: list[ArticleRef], sources: Mapping[Path, str]) -> dict[Path, str]:
        """The page cache's key of each article as it is on disk now, by resolved path
        (none without a page cache, nor for an article whose bundle folder is missing: the
        fill reports that). ``sources``: article texts already read, by resolved path."""
        pages = self.page_cache
        if pages is None:
            return {}
        targets: dict[str, str] = {}  # which article shows which bundle: the same for every page
        for ref in refs:
            targets.setdefault(ref.bundle_id, ref.docs_path)
        keys: dict[Path, str] = {}
        for ref in refs:
            folder = self._bundle_dir(ref.bundle_id)
            resolved = ref.path.resolve()
            known = sources.get(resolved)
            try:
                source = known.encode("utf-8") if known is not None else ref.path.read_bytes()
            except OSError:
                continue
            if folder is not None:
                keys[resolved] = pages.key(source, ref.path, folder, targets)
        return keys

    def cached_page(self, key: str, markdown: str, meta: Mapping[str, Any], *, count: bool = True) -> PageEntry | None:
        """The stored page, if still valid. ``count``: add its runs to :attr:`pages_cached`
        (not when they were handed to the runner anyway, which counts them itself: another
        build sharing the cache may store the page in between)."""
        pages = self.page_cache
        if pages is None:
            return None
        entry = pages.load(key, pages.input_digest(markdown, meta))
        if entry is not None and count:
            self.pages_cached += entry.runs
        return entry

    def store_page(self, key: str, markdown: str, meta: Mapping[str, Any], rendered: Rendered,
                   bundle_id: str) -> None:
        """Keep a filled page for the next build, if every run of its bundle passed.

        Every run, not only those the page shows: a build runs all of a bundle's scenarios
        (a golden no page shows is still checked), so a page kept while one of them failed
        would let a warm build pass where the cold one failed. A later hit counts that many
        runs as cached, as the fill it replaces would have."""
        from .pages.pagecache import PageEntry, cacheable

        pages = self.page_cache
        if pages is None:
            return
        try:
            bundle = self.bundle(bundle_id)
        except PatternError:
            return
        specs = [spec for _, spec in self.specs([bundle])]
        with self._lock:
            shown = [self._outcomes.get(spec) for spec in rendered.specs]
        if any(o is None for o in shown):
            return
        # the runs the page does not show are judged here (their results are in: a build
        # runs everything before its first page); a build judges them all anyway
        outcomes = [*shown, *(self.outcome(bundle, spec) for spec in specs if spec not in set(rendered.specs))]
        if not cacheable(o.status for o in outcomes if o is not None):
            return
        entry = PageEntry(rendered.markdown, dict(rendered.meta), list(rendered.problems), len(specs))
        pages.store(key, pages.input_digest(markdown, meta), entry)

    def _bundle_dir(self, bundle_id: str) -> Path | None:
        for root in self.settings.snippet_roots:
            folder = root / bundle_id
            if folder.is_dir() and bundle_mod.find_metadata(folder) is not None:
                return folder.resolve()
        return None

    # -- filling -------------------------------------------------------------------------
    def fill(
        self,
        text: str,
        path: Path | str,
        bundle_id: str,
        *,
        meta: dict[str, Any] | None = None,
        line_offset: int = 0,
        links: SiteLinks | None = None,
        place: Place | None = None,
    ) -> Rendered:
        """Fill one article. ``meta`` is given when the caller already split off the front matter."""
        from .pages.fill import Filler

        bundle = self.bundle(bundle_id, place)
        parsed = article_mod.parse(text, path, line_offset=line_offset)
        filler = Filler(
            self.settings,
            bundle,
            outcome_for=(lambda spec: self.outcome(bundle, spec)) if self.settings.run else None,
            links=links,
        )
        rendered = filler.fill(parsed, meta)
        if self.settings.run:
            # a run the page does not show (a scenario kept for its golden file alone) is
            # still judged and reported: strict fails on it as on any shown run
            shown = set(rendered.specs)
            for _, spec in self.specs([bundle]):
                if spec not in shown:
                    filler.report_outcome(self.outcome(bundle, spec))  # adds to rendered.problems
        return rendered

    def render_file(self, ref: ArticleRef, links: SiteLinks | None = None) -> Rendered:
        """Fill a whole source file, front matter included (for ``render``/``eject``)."""
        from .pages.fill import front_matter_replacements

        text = read_article(ref.path)
        rendered = self.fill(text, ref.path, ref.bundle_id, links=links or self.links(ref.docs_path),
                             place=Place(ref.path, ref.line))
        if rendered.meta:
            parsed = article_mod.parse(text, ref.path)
            lines = front_matter_replacements(parsed, rendered.meta)
            body = article_mod.parse(rendered.markdown, ref.path)
            rendered.markdown = body.reassemble(front_matter_lines=lines)
        return rendered


class _RelativeLinks(Mapping[str, str]):
    """Bundle id -> URL of its article, relative to one page, computed on access."""

    def __init__(self, targets: dict[str, str], page: str, relative: Callable[[str, str], str]) -> None:
        self._targets = targets
        self._page = page
        self._relative = relative

    def __getitem__(self, bundle_id: str) -> str:
        return self._relative(self._page, self._targets[bundle_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)


def _not_run_for(spec: RunSpec, missing: list[Unmet]) -> RunResult:
    """The result of a run that was not started: its bundle's ``requires:`` are not installed."""
    from .content.requirements import reason
    from .engine import RunResult

    return RunResult(spec=spec, status="error", exit_code=None, stdout="", stderr="", duration=0.0,
                     truncated=False, trace=(), cached=False, reason=reason(missing))


def _under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def read_article(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PatternError(f"cannot read article: {exc.strerror}", Place(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PatternError("the Markdown file is not UTF-8 text", Place(path, line), hint="save it as UTF-8") from None


def _linked_bundle(path: Path, key: str) -> tuple[str, int]:
    """Cheaply read the linking key from the front matter without parsing the whole file."""
    return _linked_in(read_head(path), key)


def read_head(path: Path) -> str:
    """The first 64 KiB of a page as text ("" when it cannot be read or is no regular file):
    front matter is at the top. Opened non-blocking, so a FIFO that took a regular file's
    place since the walk opens at once instead of waiting for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            return os.read(fd, 65536).decode("utf-8", errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return ""


def _page_stats(docs: Path) -> list[tuple[str, int, int, int]]:
    """(path, mtime, ctime, size) of every regular ``.md`` file under ``docs``, each real
    folder entered once (:func:`_walk_once`); a FIFO named like a page is left out."""
    stats: list[tuple[str, int, int, int]] = []
    if not docs.is_dir():
        return stats
    for folder, _, names in _walk_once(docs):
        for name in names:
            if name.endswith(".md"):
                with contextlib.suppress(OSError):
                    info = os.stat(os.path.join(folder, name))
                    if stat.S_ISREG(info.st_mode):
                        stats.append((os.path.join(folder, name), info.st_mtime_ns, info.st_ctime_ns, info.st_size))
    return stats


def _walk_once(top: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` following links, as MkDocs walks docs_dir, but entering each real folder
    once: two links to ``.`` (``ln -s . a; ln -s . b``) would otherwise make a walk of
    2**40 paths before the kernel's link limit stops it."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(top, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        yield folder, dirs, names


def _linked_in(text: str, key: str) -> tuple[str, int]:
    """:func:`_linked_bundle` of a text already read."""
    head = text[:65536].lstrip("\ufeff")
    if not head.startswith("---"):
        return "", 0
    for number, line in enumerate(head.splitlines()[1:], 2):
        if line.strip() in ("---", "..."):
            break
        if line.startswith(f"{key}:"):
            value = line.split(":", 1)[1].strip().strip("'\"")
            return value, number
    return "", 0
