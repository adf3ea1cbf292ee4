"""The pytest adapter: one test item per snippet and scenario. Opt-in.

Turn it on with ``pytest --pattern-articles`` or ``pattern_articles = true`` in the ini
file; installed but not enabled, it only registers its options, so unrelated test runs are
unchanged. Items have stable ids (``snippets/choreography/flow.py::flow[payment-declined]``),
so ``pytest -n auto`` (xdist) distributes them like any other test.

This module is imported by every pytest run, so it imports nothing heavy at module level.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .bundle import Bundle
    from .project import Project
    from .runner import RunSpec

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pattern_snippet: a pattern-articles snippet run")
    config.addinivalue_line("markers", "redis: a snippet run that needs a redis-server")
    if _enabled(config):
        _project(config)  # bad settings: one "ERROR: ..." line now, not a traceback at collection


def _project(config: pytest.Config) -> Project | None:
    stash: dict[str, Any] = config.__dict__.setdefault("_pattern_articles", {})
    if _KEY not in stash:
        from . import settings as settings_mod
        from .errors import PatternError
        from .project import Project

        given = config.getoption("pattern_articles_config")
        path = Path(given) if given else settings_mod.find_config(config.rootpath)
        try:
            stash[_KEY] = Project(settings_mod.load(path))
        except PatternError as exc:
            raise pytest.UsageError(f"pattern-articles: {exc.format()}") from None
    project: Project | None = stash[_KEY]
    return project


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if not _enabled(config):
        return None
    project = _project(config)
    if project is None:
        return None
    if file_path.suffix == ".md":
        return _article_file(project, file_path, parent)
    for root in project.settings.snippet_roots:
        try:
            relative = file_path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        if len(relative.parts) >= 2:
            return SnippetFile.from_parent(parent, path=file_path, bundle_id=relative.parts[0])
    return None


class SnippetFile(pytest.File):
    """A snippet file; yields one item per declared scenario (or one when it has none)."""

    def __init__(self, *, bundle_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle_id = bundle_id

    def collect(self) -> Iterator[pytest.Item]:
        from .errors import PatternError
        from .verify import specs_for

        project = _project(self.config)
        assert project is not None
        try:
            bundle = project.bundle(self.bundle_id)
        except PatternError as exc:
            if self.path.name in ("bundle.yml", "bundle.yaml") or self.path.suffix == ".py":
                yield from _bundle_error(self, self.bundle_id, exc)
            return
        target = self.path.resolve()
        for spec in specs_for(bundle, project.settings.timeout):
            if spec.snippet == target:
                name = f"{target.stem}[{spec.scenario}]" if spec.scenario else target.stem
                item = SnippetItem.from_parent(self, name=name, bundle=bundle, spec=spec)
                item.add_marker("pattern_snippet")
                if spec.needs:
                    for need in spec.needs:
                        item.add_marker(need)
                yield item


class BundleError(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise SnippetFailure(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return self.error

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


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


def _article_file(project: Project, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """An article under docs_dir, or any Markdown file named on the command line (which then
    fails with the reason it is not an article)."""
    from .project import _linked_bundle

    docs = project.settings.absolute(project.settings.docs_dir).resolve()
    target = path.resolve()
    named = {(parent.config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in parent.config.args}
    linked = target.is_relative_to(docs) and _linked_bundle(target, project.settings.article_key)[0]
    if linked or target in named:
        return ArticleFile.from_parent(parent, path=path)
    return None


class ArticleFile(pytest.File):
    """An article: one item that fills it and fails on what ``mkdocs build --strict`` fails on."""

    def collect(self) -> Iterator[pytest.Item]:
        from .errors import PatternError, Place

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
        yield ArticleItem.from_parent(self, name="article")


class ArticleItem(pytest.Item):
    def runtest(self) -> None:
        from .errors import PatternError
        from .verify import describe

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
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class SnippetItem(pytest.Item):
    def __init__(self, *, bundle: Bundle, spec: RunSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bundle = bundle
        self.spec = spec

    def runtest(self) -> None:
        from . import expect
        from .verify import describe, normalisers_for

        project = _project(self.config)
        assert project is not None
        outcome = project.outcome(self.bundle, self.spec)
        if outcome.status == "skipped":
            pytest.skip(f"{self.spec.id}: {outcome.result.reason}")
        if outcome.status == "mismatch" and self.config.getoption("pattern_articles_update"):
            diff = expect.update(outcome.golden, outcome.result.stdout, normalisers_for(self.bundle, self.spec))
            self.user_properties.append(("updated", str(outcome.golden)))
            if diff:
                self.config.stash.setdefault(_UPDATED, []).append(diff)  # type: ignore[arg-type]
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
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.spec.snippet, None, self.name


_UPDATED = pytest.StashKey[list[str]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Hand every collected run to the runner at once (not on xdist workers: each runs a share)."""
    if not _enabled(session.config) or hasattr(session.config, "workerinput"):
        return
    project = _project(session.config)
    if project is None or not project.settings.run:
        return
    specs = [item.spec for item in session.items if isinstance(item, SnippetItem)]
    if specs:
        project.runner.submit(specs)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    updated = config.stash.get(_UPDATED, [])
    if updated:
        terminalreporter.section("pattern-articles: golden outputs updated")
        for diff in updated:
            terminalreporter.write_line(diff)


def pytest_unconfigure(config: pytest.Config) -> None:
    stash = config.__dict__.get("_pattern_articles", {})
    project = stash.get(_KEY)
    if project is not None:
        project.close()
