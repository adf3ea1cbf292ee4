"""The command line: ``pattern-articles check | render | schema | new | eject``.

Exit codes: 0 all good, 1 something failed (a snippet, a check), 2 a usage or
configuration error. Errors are one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..errors import PatternError, Problem, escape_controls

if TYPE_CHECKING:
    from ..content.bundle import Bundle
    from ..engine import Outcome, RunSpec
    from ..project import Project


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pattern-articles",
        description="Complete design-pattern articles from metadata and verified example code.",
    )
    parser.add_argument("-f", "--config-file", type=Path, help="mkdocs.yml to read settings from")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="run every snippet, compare with its golden output, check the articles")
    check.add_argument("paths", nargs="*", type=Path, help="bundles, snippets or articles to check (default: all)")
    check.add_argument("--update", action="store_true", help="rewrite golden outputs that differ, showing what changed")
    check.add_argument("--fresh", action="store_true", help="ignore the cache and run everything")
    check.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    render = sub.add_parser("render", help="write every article completed, as Markdown")
    render.add_argument("--out", type=Path, required=True, help="output folder")
    render.add_argument("--flavor", choices=["mkdocs", "jekyll-chirpy", "plain"], default="mkdocs",
                        help="mkdocs: MkDocs/Zensical Markdown (default); jekyll-chirpy: a Jekyll Chirpy post; "
                             "plain: CommonMark for any other generator")

    new = sub.add_parser("new", help="scaffold an article, a bundle stub, a runnable snippet and its golden output")
    new.add_argument("pattern_id", metavar="PATTERN-ID", help="lower-case words joined by hyphens, e.g. event-sourcing")
    new.add_argument("--name", default="", help="the pattern's display name (default: from the id)")

    eject = sub.add_parser("eject", help="write the generated text into an article's empty and TODO sections")
    eject.add_argument("article", type=Path, metavar="ARTICLE", help="the article's Markdown file")
    eject.add_argument("sections", nargs="*", metavar="SECTION",
                       help="headings or section keys to eject (default: every empty section, title, description)")

    sub.add_parser("schema", help="print the JSON Schema of bundle metadata")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        if args.command == "schema":
            from ..content.model import json_schema

            print(json.dumps(json_schema(), indent=2))
            return 0
        from .. import settings as settings_mod
        from ..project import Project

        config = args.config_file
        if config is not None and not config.is_file():
            raise PatternError(f"config file {config} not found")
        settings = settings_mod.load(config)
        if getattr(args, "fresh", False):
            settings.fresh = True
        project = Project(settings)
        try:
            if args.command == "check":
                return check(project, args.paths, update=args.update, quiet=args.quiet)
            if args.command == "render":
                return render(project, args.out, args.flavor)
            if args.command == "new":
                from ..pages.scaffold import new as scaffold_new

                scaffold_new(settings, args.pattern_id, args.name)
                return 0
            if args.command == "eject":
                from ..pages.scaffold import eject as eject_article

                eject_article(project, args.article, args.sections)
                return 0
        finally:
            project.close()
    except PatternError as exc:
        print(f"error: {exc.format()}", file=sys.stderr)
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
          out: TextIO | None = None) -> int:
    from ..engine import describe, normalisers_for, update_golden

    out = out or sys.stdout
    started = time.perf_counter()
    bundles, article_files = _select(project, paths)
    # a named file that is not an article is a usage error (exit 2), found before anything runs
    named = [project.article_ref(path) for path in article_files]
    pairs = list(project.specs(bundles))
    project.start(bundles)
    failed = 0
    skipped = 0
    problems: list[tuple[str, Problem]] = []
    show_progress = not quiet and out.isatty()
    for index, (bundle, spec) in enumerate(pairs, 1):
        outcome: Outcome = project.outcome(bundle, spec)
        mark = {"passed": "ok", "skipped": "skip"}.get(outcome.status, "FAIL")
        if outcome.status == "mismatch" and update:
            diff = update_golden(outcome.golden, outcome.result.stdout, normalisers_for(bundle, spec))
            project.forget_outcome(spec)  # the articles below must see the new golden
            print(f"updated {_rel(outcome.golden)}", file=out)
            if diff:
                print(escape_controls(diff), file=out)
            mark = "updated"
        elif outcome.status == "mismatch" or not outcome.ok:
            failed += 1
            problem = describe(outcome, bundle)
            if problem is not None:
                problems.append((_users(project, spec), problem))
        if outcome.status == "skipped":
            skipped += 1
        for problem in outcome.problems:
            failed += 1
            problems.append(("", problem))
        if outcome.problems and mark == "ok":
            mark = "FAIL"  # the run went well, what it did did not: not "ok" above its warning
        line = f"[{index}/{len(pairs)}] {mark:7} {spec.id}" + _why(outcome, mark)
        if show_progress:
            print("\r\033[K" + line, end="" if index < len(pairs) else "\n", file=out, flush=True)
        elif not quiet:
            print(line, file=out)
    # articles: fill each one and report what the fill noticed
    article_warnings = 0
    refs = project.articles()
    if article_files:
        refs = named
    elif paths:
        wanted = {b.id for b in bundles}
        refs = [r for r in refs if r.bundle_id in wanted]
    seen = {problem.format() for _, problem in problems}
    for ref in refs:
        rendered = project.render_file(ref)
        for problem in rendered.problems:
            if problem.level == "warning" and problem.format() not in seen:
                article_warnings += 1
                problems.append((ref.docs_path, problem))
    for users, problem in problems:
        prefix = f"{users}: " if users else ""
        print(f"\n{prefix}{problem.format()}", file=out)
    stats = project.runner.stats if pairs else None
    seconds = time.perf_counter() - started
    ran = stats.ran if stats else 0
    cached = stats.cached if stats else 0
    print(
        f"\n{len(pairs)} snippet runs: ran {ran}, cached {cached}, failed {failed}, "
        f"skipped {skipped}; {len(refs)} articles checked, {article_warnings} warnings; {seconds:.2f} s",
        file=out,
    )
    return 1 if failed or article_warnings else 0


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
    from ..pages.render import write_all

    return write_all(project, out_dir, flavor)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
