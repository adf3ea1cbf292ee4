"""The command line: ``pattern-articles check | render | schema | new | eject``.

Exit codes: 0 all good, 1 something failed (a snippet, a check), 2 a usage or
configuration error, which for ``check`` includes finding nothing to check (a CI job run
in the wrong folder must not pass). Errors are one clear message, never a traceback.
Every command's ``--help`` gives a one-line description and examples; the option ``-f``
is accepted before and after the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import PatternError, Problem, escape_controls
from ..paths import project_relative

if TYPE_CHECKING:
    from ..content.bundle import Bundle
    from ..engine import Outcome, RunSpec
    from ..project import Project


def version() -> str:
    """The installed distribution's version; ``__version__`` when run from a source tree
    that was never installed (both come from pyproject.toml's one number)."""
    from importlib import metadata

    from .. import __version__

    try:
        return metadata.version("pattern-articles")
    except metadata.PackageNotFoundError:
        return __version__


_EXIT_STATUS = "exit status: 0 all good, 1 a run or an article failed,\n  2 a usage or configuration error"

#: each command: (its one line, for the list of commands and atop its help; more for its
#: help; examples)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": (
        "run every snippet, compare with its golden output, check the articles",
        "With no PATH it checks everything the site's settings name. Finding nothing to check "
        "at all is an error (exit 2): a CI job run in the wrong folder must not pass.",
        """\
  pattern-articles check                              # everything
  pattern-articles check snippets/choreography        # a bundle and the articles showing it
  pattern-articles check docs/patterns/observer.md    # an article and its snippets
  pattern-articles check --update                     # accept changed outputs as golden
  pattern-articles check -f site/mkdocs.yml           # a site in another folder
""",
    ),
    "render": (
        "write every article completed, as Markdown",
        "As Markdown for MkDocs or Zensical, as a Jekyll (Chirpy) post, or as plain CommonMark "
        "for any other generator. The sources are not touched.",
        """\
  pattern-articles render --out build/markdown
  pattern-articles render --out ../my-blog/_posts --flavor jekyll-chirpy
""",
    ),
    "new": (
        "scaffold an article, a bundle stub, a runnable snippet and its golden output",
        "The article names its bundle; the snippet runs and its output is its golden file. "
        "When the article exists already (a skeleton you wrote), only the bundle is added, and "
        "with --link the article's front matter gets the line that names it. Nothing that "
        "exists is overwritten.",
        """\
  pattern-articles new event-sourcing
  pattern-articles new cqrs --name "CQRS"
  pattern-articles new orchestration --link
""",
    ),
    "eject": (
        "write the generated text into an article's empty and TODO sections",
        "All of them, or only the SECTIONs named, so that you edit that text by hand from then "
        "on.",
        """\
  pattern-articles eject docs/patterns/choreography-pattern.md
  pattern-articles eject docs/patterns/choreography-pattern.md "Use Case" summary
""",
    ),
    "schema": (
        "print the JSON Schema of bundle metadata",
        "For an editor that validates and completes bundle.yml as you type.",
        """\
  pattern-articles schema > bundle.schema.json
""",
    ),
}


def _config_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-f", "--config-file", type=Path, metavar="MKDOCS_YML", default=default,
                        help="the site's mkdocs.yml (default: the nearest one in this folder or above)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pattern-articles",
        description="Complete design-pattern articles from metadata and verified example code.",
        epilog=f"examples:\n  pattern-articles check\n  pattern-articles new event-sourcing\n"
               f"  pattern-articles check --help\n\n{_EXIT_STATUS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _config_option(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands (each has --help)")

    def command(name: str) -> argparse.ArgumentParser:
        summary, more, examples = _COMMANDS[name]
        description = f"{summary[0].upper()}{summary[1:]}.\n\n{textwrap.fill(more, 79)}"
        made = sub.add_parser(name, help=summary, description=description,
                              epilog=f"examples:\n{examples}\n{_EXIT_STATUS}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        # -f after the command too; SUPPRESS: when absent here, the one given before stays
        _config_option(made, argparse.SUPPRESS)
        return made

    check = command("check")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="bundles, snippets or articles to check (default: all)")
    check.add_argument("--update", action="store_true", help="rewrite golden outputs that differ, showing what changed")
    check.add_argument("--fresh", action="store_true", help="ignore the cache and run everything")
    check.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    render = command("render")
    render.add_argument("--out", type=Path, required=True, help="output folder")
    render.add_argument("--flavor", choices=["mkdocs", "jekyll-chirpy", "plain"], default="mkdocs",
                        help="mkdocs: MkDocs/Zensical Markdown (default); jekyll-chirpy: a Jekyll Chirpy post; "
                             "plain: CommonMark for any other generator")

    new = command("new")
    new.add_argument("pattern_id", metavar="PATTERN-ID", help="lower-case words joined by hyphens, e.g. event-sourcing")
    new.add_argument("--name", default="",
                     help="the pattern's display name (default: from the article's title, else from the id)")
    new.add_argument("--article", type=Path, default=None, metavar="ARTICLE",
                     help="an existing article to add the bundle for (default: the one whose front matter "
                          "names PATTERN-ID, or docs/patterns/PATTERN-ID-pattern.md when it exists)")
    new.add_argument("--link", action="store_true",
                     help="add 'pattern: PATTERN-ID' to the existing article's front matter (nothing else changes)")

    eject = command("eject")
    eject.add_argument("article", type=Path, metavar="ARTICLE", help="the article's Markdown file")
    eject.add_argument("sections", nargs="*", metavar="SECTION",
                       help="headings or section keys to eject (default: every empty section, title, description)")

    command("schema")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    root: Path | None = None  # the project's folder, once known: messages name paths relative to it
    try:
        if args.command == "schema":
            from ..content.model import json_schema

            print(json.dumps(json_schema(), indent=2))
            return 0
        from .. import settings as settings_mod
        from ..project import Project

        config = args.config_file
        if config is not None and not config.is_file():
            raise PatternError(f"config file {config} not found",
                               hint="name the site's mkdocs.yml, or leave -f out to use the nearest one")
        settings = settings_mod.load(config)
        root = settings.root
        if getattr(args, "fresh", False):
            settings.fresh = True
        project = Project(settings)
        try:
            if args.command == "check":
                return check(project, args.paths, update=args.update, quiet=args.quiet, config_file=config)
            if args.command == "render":
                return render(project, args.out, args.flavor)
            if args.command == "new":
                from ..commands.scaffold import new as scaffold_new

                scaffold_new(settings, args.pattern_id, args.name, link=args.link, article=args.article)
                return 0
            if args.command == "eject":
                from ..commands.scaffold import eject as eject_article

                eject_article(project, args.article, args.sections)
                return 0
        finally:
            project.close()
    except PatternError as exc:
        # an error at a place in the project names it relative to the project; one about the
        # setup itself ("nothing to check in <folder>, settings: <file>") keeps the full paths
        shown = exc.format() if root is None or exc.place is None else project_relative(exc.format(), root)
        print(f"error: {shown}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 2


def _select(project: Project, paths: list[Path]) -> tuple[list[Bundle], list[Path]]:
    """Which bundles and which article files the given paths name."""
    if not paths:
        return project.bundles(), []
    bundles: dict[str, Bundle] = {}
    article_files: list[Path] = []
    roots = [r.resolve() for r in project.settings.snippet_roots]
    for raw in paths:
        path = raw.resolve()
        if not path.exists():
            raise PatternError(f"{raw}: no such file or folder",
                               hint="name a bundle folder (snippets/<id>), a snippet or an article (.md)")
        if path.suffix == ".md":
            article_files.append(path)
            continue
        for root in roots:
            if path == root:
                for b in project.bundles():
                    bundles[b.id] = b
            elif path.is_relative_to(root):
                bundle_id = path.relative_to(root).parts[0]
                bundles[bundle_id] = project.bundle(bundle_id)
        if not any(path == r or path.is_relative_to(r) for r in roots):
            raise PatternError(f"{raw} is not inside a snippet folder or a Markdown article",
                               hint="name a bundle folder, a snippet or an article (.md)")
    if article_files:  # an article's snippets are checked with it
        for ref in project.articles():
            if ref.path.resolve() in article_files and ref.bundle_id not in bundles:
                try:
                    bundles[ref.bundle_id] = project.bundle(ref.bundle_id)
                except PatternError:
                    continue  # reported when the article itself is checked
    return list(bundles.values()), article_files


def check(project: Project, paths: list[Path], *, update: bool = False, quiet: bool = False,
          out: TextIO | None = None, config_file: Path | None = None) -> int:
    from ..engine import describe, normalisers_for, update_golden

    out = out or sys.stdout
    started = time.perf_counter()
    bundles, article_files = _select(project, paths)
    # a named file that is not an article is a usage error (exit 2), found before anything runs
    named = [project.article_ref(path) for path in article_files]
    refs = project.articles()
    if article_files:
        refs = named
    elif paths:
        wanted = {b.id for b in bundles}
        refs = [r for r in refs if r.bundle_id in wanted]
    # skeletons whose title still says TODO but that name no bundle: nothing would fill them
    unlinked = _unlinked(project, paths, article_files)
    if not bundles and not refs:
        if not unlinked:
            raise _nothing_to_check(project, paths, config_file)
        for found in unlinked:
            print(f"\n{project_relative(found.format(), project.settings.root)}", file=out)
        print(f"\n{_count(len(unlinked), 'warning')}", file=out)
        return 1
    pairs = list(project.specs(bundles))
    project.start(bundles)
    problems: list[tuple[str, Problem]] = []
    width = len(str(len(pairs)))  # "[ 9/10]" above "[10/10]": the marks and ids line up
    show_progress = not quiet and out.isatty()
    for index, (bundle, spec) in enumerate(pairs, 1):
        outcome: Outcome = project.outcome(bundle, spec)
        mark = {"passed": "ok", "skipped": "skip"}.get(outcome.status, "FAIL")
        if outcome.status == "mismatch" and update:
            diff = update_golden(outcome.golden, outcome.result.stdout, normalisers_for(bundle, spec))
            project.forget_outcome(spec)
            outcome = project.outcome(bundle, spec)  # judged against the new golden, as the tally must be
            print(escape_controls(f"updated {_rel(outcome.golden)}"), file=out)
            if diff:  # its header names the golden: relative to the project, as every message
                print(escape_controls(project_relative(diff, project.settings.root)), file=out)
            mark = "updated"
        elif outcome.status == "mismatch" or not outcome.ok:
            problem = describe(outcome, bundle)
            if problem is not None:
                problems.append((_users(project, spec), problem))
        for problem in outcome.problems:
            problems.append(("", problem))
        if outcome.problems and mark == "ok":
            mark = "FAIL"  # the run went well, what it did did not: not "ok" above its warning
        # a snippet path is the bundle's to choose: no control character of it reaches the terminal
        line = escape_controls(f"[{index:>{width}}/{len(pairs)}] {mark:7} {spec.id}") + _why(outcome, mark)
        if show_progress:
            print("\r\033[K" + line, end="" if index < len(pairs) else "\n", file=out, flush=True)
        elif not quiet:
            print(line, file=out)
    # articles: fill each one and report what the fill noticed
    article_warnings = 0
    seen = {problem.format() for _, problem in problems}
    for ref in refs:
        rendered = project.render_file(ref)
        for problem in rendered.problems:
            if problem.level == "warning" and problem.format() not in seen:
                article_warnings += 1
                problems.append((ref.docs_path, problem))
            elif problem in rendered.fixed_headings:  # an info line the build logs too: not a warning
                problems.append((ref.docs_path, problem))
    for found in unlinked:
        article_warnings += 1
        problems.append(("", found))
    for users, problem in problems:
        prefix = f"{users}: " if users else ""
        print(f"\n{prefix}{project_relative(problem.format(), project.settings.root)}", file=out)
    tally = project.tally()
    seconds = time.perf_counter() - started
    print(f"\n{_count(len(pairs), 'snippet run')}: {tally.line()}; {_count(len(refs), 'article')} checked, "
          f"{_count(article_warnings, 'warning')}; {seconds:.2f} s", file=out)
    return 1 if tally.failed or article_warnings else 0


def _unlinked(project: Project, paths: list[Path], article_files: list[Path]) -> list[Problem]:
    """Pages under docs_dir (or the Markdown files named) with a TODO title and no bundle key."""
    from ..content.checks import unlinked_todo_title
    from ..project import read_head

    s = project.settings
    ids = [d.name for d in project.bundle_dirs()]
    found: list[Problem] = []
    for path in [page for page, _ in project.pages()] if not paths else article_files:
        problem = unlinked_todo_title(read_head(path), path, s.article_key, ids)
        if problem is not None:
            found.append(problem)
    return found


def _count(number: int, noun: str) -> str:
    """``1 article``, ``2 articles``, ``0 articles``: every noun here takes an s."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _nothing_to_check(project: Project, paths: list[Path], config_file: Path | None) -> PatternError:
    """Finding nothing is an error, not a pass: run from the wrong folder (or with a setting
    that points nowhere), a CI job would otherwise be green having checked nothing. The
    message names the folder and the settings it looked with, so the mistake shows."""
    from ..settings import find_config

    s = project.settings
    if paths:
        return PatternError(
            f"nothing to check in {', '.join(map(str, paths))}: no bundle and no article there",
            hint="name a bundle folder (snippets/<id>), a snippet or an article (.md)")
    config = config_file or find_config()
    settings = (f"settings: {config}" if config is not None
                else f"settings: the defaults (no mkdocs.yml in {Path.cwd()} or any folder above it)")
    snippets = " or ".join(_shown(root, s.root) for root in s.snippet_roots) or "(no snippet folder set)"
    return PatternError(
        f"nothing to check in {s.root}\n"
        f"  no bundle (a folder with a bundle.yml) in {snippets}\n"
        f"  no article (a page whose front matter says '{s.article_key}: <bundle>') in "
        f"{_shown(s.absolute(s.docs_dir), s.root)}\n"
        f"  {settings}",
        hint="run it in your site's folder, or name its config: pattern-articles check -f path/to/mkdocs.yml; "
             "to start a first pattern: pattern-articles new <pattern-id>")


def _shown(path: Path, root: Path) -> str:
    """A folder as the user wrote it in the settings: relative to the site when inside it."""
    try:
        return f"{path.relative_to(root).as_posix()}/"
    except ValueError:
        return f"{path}/"


def _why(outcome: Outcome, mark: str) -> str:
    """The reason shown on a run's status line: a line saying FAIL must say why, so that
    it never reads as a pass whose failure is reported somewhere else."""
    if mark not in ("FAIL", "skip"):
        return ""
    if outcome.status == "mismatch":
        reason = f"output differs from {outcome.golden.name}"
    elif outcome.status == "passed" and outcome.problems:
        count = len(outcome.problems)
        reason = outcome.problems[0].message if count == 1 else f"{count} problems"
    else:
        reason = outcome.result.reason or outcome.status
    reason = " ".join(reason.split())  # one line, whatever the reason holds
    if len(reason) > 160:
        reason = reason[:159] + "…"
    return f"  ({escape_controls(reason)})"


def _users(project: Project, spec: RunSpec) -> str:
    users = project.users_of(spec)
    return f"used by {', '.join(users)}" if users else ""


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def render(project: Project, out_dir: Path, flavor: str) -> int:
    from ..commands.render import write_all

    return write_all(project, out_dir, flavor)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
