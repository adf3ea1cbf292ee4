"""The pytest adapter: one test item per snippet and scenario. Opt-in.

Turn it on with ``pytest --pattern-articles`` or ``pattern_articles = true`` in the ini
file; installed but not enabled, it only registers its options, so unrelated test runs are
unchanged. Items have stable ids (``snippets/choreography/flow.py::flow[payment-declined]``),
so ``pytest -n auto`` (xdist) distributes them like any other test. The selected items' runs
are handed to the runner a few items ahead of the one being run (``_Prefetch``), so the
snippets run on every worker while pytest walks and reports the items.

This module is imported by every pytest run, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..content.bundle import Bundle
    from ..engine import RunSpec
    from ..project import Project

_KEY = "pattern_articles_project"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pattern-articles", "verify pattern-article snippets")
    group.addoption("--pattern-articles", action="store_true", default=None,
                    help="collect one test per snippet and scenario of every pattern bundle")
    group.addoption("--pattern-articles-update", action="store_true", default=False,
                    help="rewrite golden outputs that differ (implies --pattern-articles)")
    group.addoption("--pattern-articles-config", default=None,
                    help="mkdocs.yml to read settings from (default: found from the rootdir)")
    parser.addini("pattern_articles", "collect pattern-article snippet tests", type="bool", default=False)


def _enabled(config: pytest.Config) -> bool:
    if config.getoption("pattern_articles_update"):
        return True
    flag = config.getoption("pattern_articles")
    return bool(flag) if flag is not None else bool(config.getini("pattern_articles"))


MARK_PREFIX = "pattern_articles_"
"""Every marker the plugin gives its items starts with this: a project's own markers (its
``redis``, its ``snippet``) are never ours, and ours never satisfy ``--strict-markers`` for it."""
SNIPPET_MARK = MARK_PREFIX + "snippet"
NEEDS = ("redis",)
"""The services a run may need (the bundle model's ``needs``; a test keeps the two equal).
Named here so that a run with the plugin off imports nothing of the model."""


def need_mark(need: str) -> str:
    """The marker of items whose run needs a service (``pattern_articles_redis``)."""
    return MARK_PREFIX + need


def pytest_configure(config: pytest.Config) -> None:
    """Registers the markers, and checks the settings, only when the plugin is turned on:
    installed but off, it leaves a project's marker list exactly as the project wrote it."""
    if not _enabled(config):
        return
    config.addinivalue_line("markers", f"{SNIPPET_MARK}: a pattern-articles snippet run")
    for need in NEEDS:
        config.addinivalue_line("markers", f"{need_mark(need)}: a pattern-articles snippet run that needs {need}")
    _project(config)  # bad settings: one "ERROR: ..." line now, not a traceback at collection


def _project(config: pytest.Config) -> Project | None:
    stash: dict[str, Any] = config.__dict__.setdefault("_pattern_articles", {})
    if _KEY not in stash:
        from .. import settings as settings_mod
        from ..errors import PatternError
        from ..project import Project

        given = config.getoption("pattern_articles_config")
        path = Path(given) if given else settings_mod.find_config(config.rootpath)
        try:
            stash[_KEY] = Project(settings_mod.load(path))
        except PatternError as exc:
            raise pytest.UsageError(f"pattern-articles: {exc.format()}") from None
    project: Project | None = stash[_KEY]
    return project


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip the folders of golden files (see :meth:`_Files.golden_folder`), and never descend
    into a linked folder of a snippet folder: pytest follows such links, and a bundle from a
    pull request holding ``ln -s . a; ln -s . b`` would make the collection walk forever."""
    if collection_path.is_symlink() and _files(config) is not None and collection_path.is_dir():
        project = _project(config)
        if project is not None and any(collection_path.is_relative_to(root)
                                       for root in project.settings.snippet_roots):
            return True
    if collection_path.name != "expected":
        return None
    files = _files(config)
    if files is None or not files.golden_folder(collection_path):
        return None
    return True


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    files = _files(parent.config)
    if files is None:
        return None
    if file_path.suffix == ".md":
        return _article_file(files, file_path, parent)
    return files.snippet_file(file_path, parent)


def _files(config: pytest.Config) -> _Files | None:
    """The session's collection memo; None when the plugin is off (or has no project)."""
    stash: dict[str, Any] = config.__dict__.setdefault("_pattern_articles", {})
    if "files" not in stash:
        project = _project(config) if _enabled(config) else None
        stash["files"] = _Files(config, project) if project is not None else None
    files: _Files | None = stash["files"]
    return files


@dataclass
class _BundleInfo:
    """One bundle as collection sees it: loaded (with its runs by resolved snippet path) or
    the error it failed to load with."""

    bundle: Bundle | None
    error: Exception | None = None
    by_snippet: dict[Path, list[RunSpec]] = field(default_factory=dict)


class _Files:
    """Answers, per collected file, "is this a snippet, and which runs does it hold?"

    pytest asks for every file under the test paths: a site of 2,000 snippets has as many
    golden files besides them. Asking naively (resolve the file and every snippet root, load
    the bundle, list its runs, per file) made collection cost three times pytest's own; here
    folders are resolved once, bundles and their runs are listed once, and a file that holds
    no run gets no collector at all (unless an invalid bundle must be reported from it, or the
    user named it).
    """

    def __init__(self, config: pytest.Config, project: Project) -> None:
        self.config = config
        self.project = project
        self.roots = [_folder_prefix(os.path.realpath(root)) for root in project.settings.snippet_roots]
        self._folders: dict[str, str] = {}
        self._bundles: dict[str, _BundleInfo] = {}
        self._named: set[str] | None = None
        self._docs: Path | None = None

    def real(self, path: Path) -> str:
        """``path.resolve()``, resolving each folder once (see ``paths.resolve_through``)."""
        from ..paths import resolve_through

        return resolve_through(str(path), self._folders)

    def named(self, real: str) -> bool:
        """Whether the user named this file on the command line."""
        if self._named is None:
            here = self.config.invocation_params.dir
            self._named = {os.path.realpath(here / arg.split("::")[0]) for arg in self.config.args}
        return real in self._named

    def golden_folder(self, folder: Path) -> bool:
        """Whether ``folder`` is a bundle's folder of golden files (``<root>/<bundle>/expected``).
        It holds no run, so pytest need not walk it: a site of 2,000 snippets has 2,000
        golden files, each a file pytest would otherwise ask every plugin about. (pytest
        still walks to a path the user names, whatever this hook says.)"""
        real = self.real(folder)
        return any(real.startswith(root) and real[len(root):].count(os.sep) == 1 for root in self.roots)

    def docs(self) -> Path:
        if self._docs is None:
            settings = self.project.settings
            self._docs = settings.absolute(settings.docs_dir).resolve()
        return self._docs

    def bundle_info(self, bundle_id: str) -> _BundleInfo:
        info = self._bundles.get(bundle_id)
        if info is None:
            from ..engine import specs_by_snippet
            from ..errors import PatternError

            try:
                bundle = self.project.bundle(bundle_id)
            except PatternError as exc:
                info = _BundleInfo(None, exc)
            else:
                info = _BundleInfo(bundle, by_snippet=specs_by_snippet(bundle, self.project.settings.timeout))
            self._bundles[bundle_id] = info
        return info

    def snippet_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        real = self.real(file_path)
        for root in self.roots:
            if not real.startswith(root):
                continue
            parts = real[len(root):].split(os.sep)
            if len(parts) < 2:
                continue
            info = self.bundle_info(parts[0])
            specs = info.by_snippet.get(Path(real))
            if specs is None:
                reports = info.error is not None and (
                    file_path.name in ("bundle.yml", "bundle.yaml") or file_path.suffix == ".py")
                if not reports and not self.named(real):
                    return None  # a golden file, a helper module: nothing to run from it
            return SnippetFile.from_parent(parent, path=file_path, bundle_id=parts[0], specs=specs)
        return None


def _folder_prefix(folder: str) -> str:
    return folder if folder.endswith(os.sep) else folder + os.sep


class SnippetFile(pytest.File):
    """A snippet file; yields one item per declared scenario (or one when it has none)."""

    def __init__(self, *, bundle_id: str, specs: list[RunSpec] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle_id = bundle_id
        self.specs = specs  # known at collection: this file's runs (None: look them up)

    def collect(self) -> Iterator[pytest.Item]:
        from ..engine import specs_by_snippet
        from ..errors import PatternError

        project = _project(self.config)
        assert project is not None
        try:
            bundle = project.bundle(self.bundle_id)
        except PatternError as exc:
            if self.path.name in ("bundle.yml", "bundle.yaml") or self.path.suffix == ".py":
                yield from _bundle_error(self, self.bundle_id, exc)
            return
        specs = self.specs
        if specs is None:
            target = self.path.resolve()
            specs = specs_by_snippet(bundle, project.settings.timeout).get(target, [])
        for spec in specs:
            stem = spec.snippet.stem
            name = f"{stem}[{spec.scenario}]" if spec.scenario else stem
            item = SnippetItem.from_parent(self, name=name, bundle=bundle, spec=spec)
            item.add_marker(SNIPPET_MARK)
            for need in spec.needs:
                item.add_marker(need_mark(need))
            yield item


class BundleError(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise SnippetFailure(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return _shown(self.config, self.error)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def _shown(config: pytest.Config, text: str) -> str:
    """A report with the project's paths relative to the project (the folder of mkdocs.yml)."""
    from ..paths import project_relative

    project = _project(config)
    return project_relative(text, project.settings.root) if project is not None else text


class SnippetFailure(Exception):
    """Raised by a snippet item; its message is the whole report (no traceback of ours)."""


def _bundle_error(parent: pytest.Collector, bundle_id: str, exc: Exception) -> Iterator[pytest.Item]:
    """One failing item per invalid bundle, from the first file collected that needs it.

    Collection order is deterministic, so every xdist worker picks the same file."""
    stash: dict[str, Any] = parent.config.__dict__.setdefault("_pattern_articles", {})
    reported: set[str] = stash.setdefault("bundle_errors", set())
    if bundle_id not in reported:
        reported.add(bundle_id)
        yield BundleError.from_parent(parent, name="metadata", error=str(exc))


def _article_file(files: _Files, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """An article under docs_dir, or any Markdown file named on the command line (which then
    fails with the reason it is not an article)."""
    from ..project import _linked_bundle

    target = path.resolve()
    key = files.project.settings.article_key
    inside = target.is_relative_to(files.docs())
    linked = inside and _linked_bundle(target, key)[0]
    if linked or files.named(str(target)):
        return ArticleFile.from_parent(parent, path=path)
    if inside:  # a skeleton whose title still says TODO, linked to no bundle: a failure, as in --strict
        return UnlinkedFile.from_parent(parent, path=path)
    return None


class UnlinkedFile(pytest.File):
    """A page under docs_dir that names no bundle: an item only when its title says TODO."""

    def collect(self) -> Iterator[pytest.Item]:
        from ..content.checks import unlinked_todo_title
        from ..paths import project_relative

        project = _project(self.config)
        assert project is not None
        try:
            with self.path.open("rb") as handle:
                head = handle.read(65536).decode("utf-8", errors="replace")
        except OSError:
            return
        s = project.settings
        problem = unlinked_todo_title(head, project_relative(str(self.path), s.root), s.article_key,
                                      [d.name for d in project.bundle_dirs()])
        if problem is not None:
            yield BundleError.from_parent(self, name="article", error=problem.format())


class ArticleFile(pytest.File):
    """An article: one item that fills it and fails on what ``mkdocs build --strict`` fails on."""

    def collect(self) -> Iterator[pytest.Item]:
        from ..errors import PatternError, Place

        project = _project(self.config)
        assert project is not None
        try:
            ref = project.article_ref(self.path)
        except PatternError as exc:
            yield BundleError.from_parent(self, name="article", error=exc.format())
            return
        try:
            project.bundle(ref.bundle_id, Place(ref.path, ref.line))
        except PatternError as exc:
            yield from _bundle_error(self, ref.bundle_id, exc)
            return
        yield ArticleItem.from_parent(self, name="article", bundle_id=ref.bundle_id)


class ArticleItem(pytest.Item):
    def __init__(self, *, bundle_id: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle_id = bundle_id  # its runs are handed to the runner ahead (see _Prefetch)

    def runtest(self) -> None:
        from ..engine import describe
        from ..errors import PatternError

        project = _project(self.config)
        assert project is not None
        try:
            ref = project.article_ref(self.path)
            rendered = project.render_file(ref)
            bundle = project.bundle(ref.bundle_id)
        except PatternError as exc:
            raise SnippetFailure(exc.format()) from None
        # a failed snippet is its own item's failure: report it there only
        reported: set[str] = set()
        for spec in rendered.specs:
            outcome = project.outcome(bundle, spec)
            problem = describe(outcome, bundle)
            if problem is not None:
                reported.add(problem.format())
            reported.update(p.format() for p in outcome.problems)
        messages = [p.format() for p in rendered.problems if p.level == "warning" and p.format() not in reported]
        if messages:
            raise SnippetFailure("\n\n".join(messages))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SnippetFailure):
            return _shown(self.config, str(excinfo.value))
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class SnippetItem(pytest.Item):
    def __init__(self, *, bundle: Bundle, spec: RunSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle = bundle
        self.spec = spec

    def runtest(self) -> None:
        from ..engine import describe, normalisers_for, update_golden
        from ..errors import escape_controls

        project = _project(self.config)
        assert project is not None
        outcome = project.outcome(self.bundle, self.spec)
        if outcome.status == "skipped":
            pytest.skip(f"{self.spec.id}: {outcome.result.reason}")
        if outcome.status == "mismatch" and self.config.getoption("pattern_articles_update"):
            diff = update_golden(outcome.golden, outcome.result.stdout, normalisers_for(self.bundle, self.spec))
            self.user_properties.append(("updated", str(outcome.golden)))
            if diff:
                self.config.stash.setdefault(_UPDATED, []).append(  # type: ignore[arg-type]
                    escape_controls(_shown(self.config, diff)))
            return
        messages = []
        problem = describe(outcome, self.bundle)
        if problem is not None:
            messages.append(problem.format())
        messages.extend(p.format() for p in outcome.problems)
        if messages:
            users = project.users_of(self.spec)
            if users:
                messages.append("used by: " + ", ".join(users))
            raise SnippetFailure("\n\n".join(messages))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SnippetFailure):
            return _shown(self.config, str(excinfo.value))
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.spec.snippet, None, self.name


_UPDATED = pytest.StashKey[list[str]]()


_FIRST_AHEAD = 32
"""Runs handed to the runner, beyond one per worker, before the first item: their cache
lookups overlap the workers' start-up."""
_STEP = 4
"""Runs handed to the runner per item after that: more than one, so the runs handed over
stay ahead of the item that waits for one, but few, so that each item's cache lookups (a
fraction of a millisecond each, in this thread) overlap the runs in flight instead of
delaying the first of them until every lookup is done."""


class _Prefetch:
    """Hands the selected items' runs to the runner ahead of the item that waits for them,
    so the snippets run on every worker in the background while pytest walks the items.

    Only the items pytest will run are known here (after ``-k``/``-m``/``--deselect``), and
    handing over stops when the session is to stop (``-x``, ``--maxfail``): the runner
    drops runs still queued when it closes. An xdist worker receives its items one by one,
    so there only the next item scheduled on it is handed over ahead.
    """

    def __init__(self, session: pytest.Session, project: Project) -> None:
        self.session = session
        self.project = project
        self.runner = project.runner
        self.xdist = hasattr(session.config, "workerinput")
        self.specs: list[RunSpec] = []
        self.needs: dict[pytest.Item, int] = {}  # item -> how many of specs it needs handed over
        self.front = 0  # how many of specs are handed over
        # one batch for the whole session: memos are written once, at its end (close)
        self.held = contextlib.ExitStack()
        self.held.enter_context(self.runner.batch())
        if not self.xdist:
            for item in session.items:
                self.specs.extend(self.runs_of(item))
                self.needs[item] = len(self.specs)

    def close(self) -> None:
        self.held.close()

    def runs_of(self, item: pytest.Item | None) -> list[RunSpec]:
        if isinstance(item, SnippetItem):
            from ..content.requirements import unmet_for

            return [] if unmet_for(item.bundle) else [item.spec]  # its requires: are not installed
        if isinstance(item, ArticleItem) and item.bundle_id:
            from ..errors import PatternError

            try:
                from ..content.requirements import unmet_for

                bundle = self.project.bundle(item.bundle_id)
                return [] if unmet_for(bundle) else [spec for _, spec in self.project.specs([bundle])]
            except PatternError:
                return []  # the item reports it
        return []

    def before(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if self.session.shouldfail or self.session.shouldstop:
            return
        if self.xdist:
            ahead = [*self.runs_of(item), *self.runs_of(nextitem)]
            if ahead:
                self.runner.submit(ahead)
            return
        if self.front >= len(self.specs):
            return
        if self.front == 0:  # one run per worker first: they start while the rest are looked up
            jobs = self.project.settings.jobs
            self.submit_to(jobs if jobs > 0 else os.cpu_count() or 1)
            self.submit_to(self.front + _FIRST_AHEAD)
        self.submit_to(max(self.front + _STEP, self.needs.get(item, 0)))

    def submit_to(self, end: int) -> None:
        end = min(end, len(self.specs))
        if end > self.front:
            self.runner.submit(self.specs[self.front:end])
            self.front = end


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Hand runs to the runner ahead of the items that wait for them (see :class:`_Prefetch`)."""
    stash: dict[str, Any] = item.config.__dict__.get("_pattern_articles", {})
    prefetch: _Prefetch | None = stash.get("prefetch", _UNSET)
    if prefetch is _UNSET:
        project = _project(item.config) if stash.get("files") is not None else None
        # off, or not running snippets at all: nothing to hand over, for any item
        prefetch = _Prefetch(item.session, project) if project is not None and project.settings.run else None
        stash["prefetch"] = prefetch
    if prefetch is not None:
        prefetch.before(item, nextitem)
    return None


_UNSET: Any = object()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    updated = config.stash.get(_UPDATED, [])
    if updated:
        terminalreporter.section("pattern-articles: golden outputs updated")
        for diff in updated:
            terminalreporter.write_line(diff)


def pytest_unconfigure(config: pytest.Config) -> None:
    stash = config.__dict__.get("_pattern_articles", {})
    prefetch = stash.get("prefetch")
    if prefetch is not None and prefetch is not _UNSET:
        prefetch.close()
    project = stash.get(_KEY)
    if project is not None:
        project.close()
