"""Fill an article: render empty sections from templates, fill the title and description.

The rules, in one place:

* a section is filled only when its body is empty or holds only TODO markers;
* a heading maps to a bundle section through the alias table (``settings.sections``);
* bundle content with no heading is appended after the last section (``settings.append``);
* a paragraph is shown once per page: a fill drops a paragraph the author wrote anywhere on
  the page or an earlier fill showed (the first stays); a fill left empty is reported;
* a heading slip ("What is X Pattern" / "Why use X Pattern" naming another pattern where the
  article's own section belongs) is reported and, unless ``fix_headings`` is off, shown with
  the right name — the only change ever made to authored text, and only in the output; any
  other heading naming another pattern is the author's and is kept;
* ``pattern-snippet`` fences anywhere in the prose are replaced by the snippet and its output;
* a TODO left over afterwards is a warning, so strict builds fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..content import checks
from ..content.article import Article, block_parser, has_todo, todo_lines
from ..content.snippets import excerpt, split_ref
from ..errors import PatternError, Place, Problem, escape_controls
from ..paths import project_relative
from ..settings import Settings
from .vocabulary import vocabulary

if TYPE_CHECKING:
    from jinja2 import Environment

    from ..content.bundle import Bundle
    from ..content.model import Flow, SnippetRef
    from ..engine import Outcome, RunSpec

#: Given a spec, return its judged outcome (blocking until the run is done).
OutcomeFor = Callable[["RunSpec"], "Outcome"]

DIRECTIVE_INFO = "pattern-snippet"

#: What to add to the metadata to fill each section, quoted in "section is empty" hints.
FIELD_HINTS: dict[str, str] = {
    "introduction": "'description' (or 'definition: {text: ...}', when no section shows the definition)",
    "problem": "'problem' (problem: {context: ..., forces: [...]})",
    "definition": "'definition' (definition: {text: ..., analogy: ...})",
    "use_case": "'use_case' (use_case: {text: ...}), or 'participants', 'events' and 'flows'",
    "implementation": "'implementation' (implementation: {steps: [{title: ..., text: ..., code: [{snippet: ...}]}]})",
    "benefits": "'benefits' (benefits: [{title: ..., detail: ...}])",
    "considerations": "'considerations' (considerations: [{title: ..., risk: ..., mitigation: ...}])",
    "applicability": "'applicability' (applicability: {use_when: [...], avoid_when: [...]})",
    "related": "'related' (related: [{pattern: ..., relation: ...}])",
    "references": "'references' (references: [{title: ..., url: ...}])",
    "summary": "'summary' (summary: {text: ..., takeaways: [...]})",
}

_DIRECTIVE_KEY = re.compile(r"\w+")


@dataclass
class Rendered:
    """The completed Markdown, the metadata updates and what was noticed on the way."""

    markdown: str
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # section keys filled
    specs: list[RunSpec] = field(default_factory=list)  # runs the page shows
    sections: dict[int, str] = field(default_factory=dict)  # section index -> generated body (eject)
    appended: dict[str, str] = field(default_factory=dict)  # section key -> heading + body appended
    # heading slips shown corrected (info lines the build logs and ``check`` lists)
    fixed_headings: list[Problem] = field(default_factory=list)


@dataclass
class SiteLinks:
    """Where other patterns' articles live, so related patterns link only when they exist."""

    pages: Mapping[str, str] = field(default_factory=dict)  # bundle id -> relative URL/path


_ENVIRONMENTS: dict[str, Environment] = {}


def environment(settings: Settings) -> Environment:
    """Jinja2 environment: the site's template folder first, then the shipped templates.

    One per template folder, shared: a new environment per page recompiled every template
    for every page. Jinja2 still notices an edited template (``auto_reload``) and is
    thread-safe for rendering.
    """
    folder = str(settings.absolute(settings.templates_dir)) if settings.templates_dir is not None else ""
    env = _ENVIRONMENTS.get(folder)
    if env is None:
        env = _ENVIRONMENTS.setdefault(folder, _new_environment(settings))
    return env


def _new_environment(settings: Settings) -> Environment:
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

    loaders: list[Any] = []
    if settings.templates_dir is not None:
        loaders.append(FileSystemLoader(str(settings.absolute(settings.templates_dir))))
    loaders.append(PackageLoader("pattern_articles", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # we produce Markdown; code and output go in fences
    )
    env.filters["indent_block"] = indent_block
    return env


def indent_block(text: str, width: int = 4) -> str:
    pad = " " * width
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def fence(text: str, lang: str = "", attrs: str = "") -> str:
    """A code fence long enough that the content can never close it early.

    Control characters are made visible (:func:`escape_controls`): what a snippet prints is
    shown as text, and a NUL or an ESC sequence must not reach the HTML raw."""
    text = escape_controls(text)
    longest = max((len(m.group(0)) for m in re.finditer(r"`{3,}", text)), default=2) if "```" in text else 2
    ticks = "`" * max(3, longest + 1)
    head = f"{ticks}{lang}" + (f" {attrs}" if attrs else "")
    return f"{head}\n{text.rstrip()}\n{ticks}"


class Filler:
    """Renders one article against one bundle."""

    def __init__(
        self,
        settings: Settings,
        bundle: Bundle,
        outcome_for: OutcomeFor | None = None,
        links: SiteLinks | None = None,
        env: Environment | None = None,
    ) -> None:
        self.settings = settings
        self.bundle = bundle
        self.outcome_for = outcome_for
        self.links = links or SiteLinks()
        self.env = env or environment(settings)
        self.problems: list[Problem] = []
        self.specs: list[RunSpec] = []
        self.article: Article | None = None
        #: section keys the page shows under their own heading (set by :meth:`fill`)
        self.present: frozenset[str] = frozenset()
        #: how this bundle's participants talk: "publishes", "calls … with", "passes … to"
        self.words = vocabulary(bundle.model)
        m = bundle.model
        self.own = [m.name, *m.aliases]
        others = {r.name or r.pattern.replace("-", " ").title() for r in m.related}
        if m.definition and m.definition.contrast_with:
            others.add(m.definition.contrast_with.replace("-", " ").title())
        self.others = sorted(others)

    # -- the whole article -------------------------------------------------------------
    def fill(self, article: Article, meta: Mapping[str, Any] | None = None) -> Rendered:
        """Fill ``article``; ``meta`` is the front matter when the caller parsed it apart."""
        self.article = article
        meta = dict(meta if meta is not None else article.front_matter)
        aliases = self.settings.aliases()
        fills: dict[int, str] = {}
        headings: dict[int, str] = {}
        covered: set[str] = set()
        reported: set[int] = set()  # empty sections already reported: their TODO is not a second warning
        filled: list[str] = []
        levels = [s.level for s in article.sections if s.level > 1]
        base_level = min(levels) if levels else 2
        slips = checks.heading_slips([s.title for s in article.sections], self.own, self.site_others())
        # every section key the page will show under its own heading, known before any fill:
        # a template leaves out what another section shows (the Introduction, the definition)
        keys = [checks.match_section(slips[i].fixed if i in slips else s.title, self.own, aliases)
                for i, s in enumerate(article.sections)]
        self.present = frozenset(k for k in keys if k is not None) | frozenset(self.settings.append)
        # paragraphs already on the page: the author's anywhere, then each fill's in page order
        seen = ShownParagraphs(article.lines[article.front_matter_end:])
        fixed_headings: list[Problem] = []
        for index, section in enumerate(article.sections):
            title = section.title
            slip = slips.get(index)
            place = article.place(section.start)
            if slip is not None:
                if self.settings.fix_headings:
                    headings[index] = "#" * section.level + " " + slip.fixed + article.newline
                    fixed_headings.append(Problem(
                        f"heading '{title}' names {slip.other} where the {self.bundle.name} article's "
                        f"own section belongs; shown as '{slip.fixed}'",
                        place,
                        "correct the heading in the source to silence this",
                        level="info",
                    ))
                    self.problems.append(fixed_headings[-1])
                else:
                    self.problems.append(Problem(
                        f"heading '{title}' names {slip.other} in the {self.bundle.name} article",
                        place,
                        f"did you mean '{slip.fixed}'?",
                    ))
                title = slip.fixed
            key = keys[index]
            if key is not None:
                covered.add(key)
            if not article.is_empty(section):
                continue
            if key is None:
                self.problems.append(Problem(
                    f"section '{title}' is empty and matches no bundle content",
                    place,
                    "write it, or map its heading to a bundle section with the 'sections' setting",
                ))
                reported.add(index)
                continue
            generated = self.section(key, section.level)
            text = drop_repeated_paragraphs(generated, seen.texts)
            if text.strip():
                fills[index] = text
                filled.append(key)
            elif generated.strip():
                self.problems.append(Problem(
                    f"section '{title}' is empty: every paragraph the bundle has for '{key}' "
                    "is shown elsewhere on the page",
                    place,
                    "write the section, or give the bundle text of its own for it "
                    "(a paragraph is shown once per page)",
                ))
                reported.add(index)
            else:
                self.problems.append(Problem(
                    f"section '{title}' is empty and the bundle has no '{key}' content",
                    place,
                    f"add {FIELD_HINTS.get(key, repr(key))} to {self.bundle.metadata_path.name}, "
                    "or write the section ('pattern-articles schema' lists every key)",
                ))
                reported.add(index)
        appended_parts: list[str] = []
        appended: dict[str, str] = {}
        for key in self.settings.append:
            if key in covered:
                continue
            text = drop_repeated_paragraphs(self.section(key, base_level), seen.texts)
            if text.strip():
                appended_parts.append("#" * base_level + " " + self.settings.title_for(key) + "\n\n" + text)
                appended[key] = appended_parts[-1]
                filled.append(key)
        replacements = self.directives(article)
        self.check_cycles()
        markdown = article.reassemble(
            fills=fills,
            headings=headings,
            appended="\n".join(appended_parts),
            replacements=replacements,
        )
        updates = self.fill_meta(meta, article)
        self.leftovers(article, set(fills) | reported, updates)
        if fills or appended:  # the bundle's prose files fill this page: a TODO left in them shows
            from ..content.prose import todo_problems

            self.problems.extend(p for p in todo_problems(self.bundle) if p not in self.problems)
        return Rendered(markdown, updates, self.problems, filled, self.specs, dict(fills), appended,
                        fixed_headings)

    def site_others(self) -> list[str]:
        """Other patterns a slip may name: the bundle's related and contrasted ones, and the
        site's other articles' bundles (an article copied from a sibling names the sibling)."""
        own = {n.lower() for n in self.own} | {self.bundle.id.lower()}
        site = {display_name(i) for i in self.links.pages if i.lower() not in own}
        return sorted(set(self.others) | site)

    def check_cycles(self) -> None:
        """Declared flows whose events trigger each other in a loop: an event storm risk."""
        from ..content.trace import event_cycles, message_edges

        model = self.bundle.model
        # a step's triggers (a join has several); a call's reply is a round trip, not a loop
        edges = message_edges((step for _, flow in model.all_flows() for step in flow.steps), model.events)
        via = {e.name: e.via for e in model.events}
        for cycle in event_cycles(edges):
            if all(via.get(name, "broker") == "broker" for name in cycle):
                said = ("declared events form a cycle: ",
                        "a cycle lets one event trigger itself forever (an event storm); ")
            else:  # a call or a hand-off in the loop: no broker, but the same endless loop
                said = ("declared messages form a cycle: ",
                        "a cycle lets one message cause itself again forever; ")
            self.problems.append(Problem(
                said[0] + " -> ".join(cycle),
                self.bundle.place("flows"),
                said[1] + "break it with clear ownership or a filter",
            ))

    def fill_meta(self, meta: Mapping[str, Any], article: Article) -> dict[str, Any]:
        m = self.bundle.model
        updates: dict[str, Any] = {}
        for key, value in (("title", m.subtitle), ("description", m.description)):
            current = meta.get(key)
            if isinstance(current, str) and has_todo(current):
                if value:
                    updates[key] = _replace_todo(current, value)
                else:
                    line = article.front_matter_lines.get(key, 0)
                    field_name = "subtitle" if key == "title" else key
                    self.problems.append(Problem(
                        f"front matter '{key}' still holds a TODO and the bundle has no '{field_name}'",
                        Place(article.path, line) if line else Place(article.path),
                        f"add '{field_name}: ...' to {self.bundle.metadata_path.name} (it replaces the TODO), "
                        f"or write the {key} in the front matter",
                    ))
        if "title" not in meta and m.subtitle:
            pass  # an article without a title keeps MkDocs' own choice
        return updates

    def leftovers(self, article: Article, filled: set[int], meta: Mapping[str, Any]) -> None:
        """Any TODO the fill did not consume is a warning (strict builds fail)."""
        skip: set[int] = set()
        for index in filled:
            section = article.sections[index]
            skip.update(range(section.heading_end, section.body_end))
        text = "".join(article.lines[article.front_matter_end :])
        for line, content in todo_lines(text, article.front_matter_end + 1):
            if line - 1 in skip:
                continue
            self.problems.append(Problem(
                f"TODO left in the article: {content[:80]}",
                Place(article.path, line + article.line_offset),
                "write the text, or give the bundle the content to fill it",
            ))

    # -- sections ----------------------------------------------------------------------
    def section(self, key: str, level: int) -> str:
        template_name = f"{key}.md.j2"
        try:
            template = self.env.get_template(template_name)
        except Exception:  # jinja2.TemplateNotFound
            return ""
        try:
            text = template.render(**self.context(level))
        except PatternError:
            raise
        except Exception as exc:  # a broken user template must name itself, not crash
            raise PatternError(
                f"template {template_name} failed: {exc}",
                Place(getattr(template, "filename", template_name) or template_name),
                hint="fix the template in your templates_dir",
            ) from None
        return squeeze_blank_lines(text).strip() + "\n"

    def context(self, level: int) -> dict[str, Any]:
        m = self.bundle.model
        return {
            "b": m,
            "bundle": self.bundle,
            "pattern": m.name,
            "level": level,
            "present": self.present,
            "words": self.words,
            "h": lambda n=1: "#" * min(6, level + n),
            "show": self.show,
            "flow_diagram": self.flow_diagram,
            "participant": self.participant_name,
            "link": self.link,
            "fence": fence,
        }

    def participant_name(self, pid: str) -> str:
        for p in self.bundle.model.participants:
            if p.id == pid:
                return p.name
        return pid

    def link(self, pattern_id: str, name: str = "", url: str = "") -> str:
        label = name or pattern_id.replace("-", " ").title()
        target = self.links.pages.get(pattern_id)
        if target:
            return f"[{label}]({target})"
        if url:
            return f"[{label}]({url})"
        return label

    # -- snippets ----------------------------------------------------------------------
    def _spec_for(self, relative: str, scenario: str) -> RunSpec | None:
        from ..engine import specs_by_snippet, specs_for

        target = self.bundle.real_path(relative)
        specs = specs_by_snippet(self.bundle, self.settings.timeout).get(target)
        if specs is None:  # shown but neither declared nor referenced in the metadata
            specs = [spec for spec in specs_for(self.bundle, self.settings.timeout, extra=[relative])
                     if spec.snippet == target]
        return next((spec for spec in specs if spec.scenario == scenario), None)

    def _scenarios(self, relative: str) -> list[str]:
        spec = self.bundle.model.snippets.get(relative)
        return list(spec.scenarios) if spec and spec.scenarios else [""]

    def outcome(self, relative: str, scenario: str) -> Outcome | None:
        if self.outcome_for is None or not self.settings.run:
            return None
        spec = self._spec_for(relative, scenario)
        if spec is None:
            raise PatternError(
                f"snippet '{relative}' has no scenario '{scenario}'",
                self.bundle.place("snippets", relative),
                hint=f"declare it under snippets: {relative}: scenarios:",
            )
        first_time = spec not in self.specs
        if first_time:
            self.specs.append(spec)
        outcome = self.outcome_for(spec)
        if first_time:
            self.report_outcome(outcome)
        return outcome

    def report_outcome(self, outcome: Outcome) -> None:
        """A failed or mismatched run is a warning (strict fails); a skipped one an info line."""
        from ..engine import describe

        problem = describe(outcome, self.bundle)
        if problem is not None:
            self.problems.append(problem)
        elif outcome.status == "skipped":
            self.problems.append(Problem(
                f"{outcome.result.spec.id} not run: {outcome.result.reason}; "
                f"showing its last verified output ({outcome.golden.name})",
                Place(outcome.result.spec.snippet),
                level="info",
            ))
        for extra in outcome.problems:
            if extra not in self.problems:
                self.problems.append(extra)
        for note in outcome.result.notes:
            self.problems.append(Problem(f"{outcome.result.spec.id}: {note}", Place(outcome.result.spec.snippet),
                                         level="info"))

    def show(self, ref: SnippetRef | Mapping[str, Any] | str, **options: Any) -> str:
        """Markdown for a snippet: its code, its real output per scenario, its diagram."""
        if isinstance(ref, str):
            path, region = split_ref(ref)
            scenarios = options.get("scenarios") or []
            show = options.get("show") or ["code", "output"]
            title = options.get("title", "")
        elif isinstance(ref, Mapping):
            path, region = split_ref(str(ref["snippet"]))
            region = str(ref.get("region") or region)
            scenarios = list(ref.get("scenarios") or [])
            show = list(ref.get("show") or ["code", "output"])
            title = str(ref.get("title") or "")
        else:
            path, region = split_ref(ref.snippet)
            region = ref.region or region
            scenarios, show, title = list(ref.scenarios), list(ref.show), ref.title
        # where the reference is written: its bundle.yml line (a directive names its own line)
        where = None if isinstance(ref, str) else self._ref_place(ref)
        file = self.bundle.dir / path
        # resolved once per bundle load (its run specs resolved it already): resolving walks
        # every folder of the path, an lstat each
        real = None if Path(path).is_absolute() else self.bundle.real_path(path)
        if real is None or not real.is_relative_to(self.bundle.real_dir):
            raise PatternError(
                f"snippet '{path}' leaves its bundle folder {self.bundle.dir.name}/", where,
                hint="a snippet must live inside its bundle folder: no absolute path, no '..', "
                     "no symlink pointing outside",
            )
        from ..content.bundle import NOT_SNIPPET_HINT, not_a_snippet

        if not_a_snippet(self.bundle, path):
            raise PatternError(not_a_snippet(self.bundle, path), where, hint=NOT_SNIPPET_HINT)
        piece = None
        if "code" in show:  # reading it tells whether it is there: no stat of every snippet first
            try:
                piece = excerpt(file, region, where)
            except PatternError:
                if file.is_file():
                    raise
        if piece is None and not file.is_file():
            raise PatternError(
                f"snippet '{path}' not found in {self.bundle.dir}",
                where,
                hint="paths are relative to the bundle folder",
            )
        declared = self.bundle.model.snippets.get(path)
        if declared is not None and not declared.run:
            scenarios = []  # shown, never run: code only
        else:
            scenarios = scenarios or self._scenarios(path)
        tabs: list[tuple[str, str]] = []
        display = f"{self.bundle.dir.name}/{path}"
        if piece is not None:
            attrs = f'title="{display}"' + (f' linenums="{piece.first_line}"' if region else "")
            language = declared.language if declared is not None else "python"
            highlight = {"sh": "bash", "node": "javascript"}.get(language, language)
            tabs.append((title or (f"{path} · {region}" if region else path), fence(piece.text, highlight, attrs)))
        for scenario in scenarios:
            outcome = self.outcome(path, scenario)
            label = _scenario_label(self.bundle, path, scenario)
            if "output" in show:
                tabs.append((f"Output{': ' + label if label else ''}", self.output_block(outcome, display, scenario)))
            if "diagram" in show:
                tabs.append((f"Diagram{': ' + label if label else ''}", self.trace_diagram(outcome)))
        if len(tabs) == 1:
            return tabs[0][1] + "\n"
        return "\n".join(f'=== "{label}"\n\n{indent_block(body)}\n' for label, body in tabs)

    def _ref_place(self, ref: object) -> Place:
        """The bundle.yml line of a snippet reference the templates pass to :meth:`show`."""
        # where each reference sits, once per bundle load: looking it up by a walk of the
        # references per snippet shown made a page quadratic in its snippets
        places: dict[int, tuple[str | int, ...]] | None = self.bundle.derived.get("ref-places")
        if places is None:
            places = self.bundle.derived["ref-places"] = {
                id(item): loc for loc, item in _ref_locations(self.bundle.model)}
        loc = places.get(id(ref))
        return self.bundle.place(*loc) if loc is not None else self.bundle.place("implementation")

    def output_block(self, outcome: Outcome | None, display: str, scenario: str) -> str:
        if outcome is None:
            return '!!! note "Not run"\n    Running snippets is turned off for this build (`run: false`).'
        where = f"`{display}`" + (f" (scenario `{scenario}`)" if scenario else "")
        if outcome.status == "passed":
            return fence(outcome.output, "text", OUTPUT_ATTRS) + "\n\n" + verified_mark(outcome)
        if outcome.status == "skipped":
            body = outcome.expected
            note = (f'!!! info "Not run on this machine: {outcome.result.reason}"\n'
                    f"    Showing the last verified output of {where}, from `{outcome.golden.name}`.")
            if body is None:
                return note + "\n    No verified output is stored yet."
            return note + "\n\n" + fence(body, "text", OUTPUT_ATTRS) + "\n\n" + verified_mark(outcome)
        if outcome.status == "mismatch":
            return (f'!!! warning "Output changed: {where} no longer prints its verified output"\n\n'
                    + indent_block(fence(outcome.diff, "diff")) + "\n\n" + fence(outcome.output, "text", OUTPUT_ATTRS))
        reason = outcome.result.reason or outcome.status
        details = (outcome.result.stdout + ("\n" if outcome.result.stdout and outcome.result.stderr else "")
                   + outcome.result.stderr)
        # a published page never shows the author's local folders: paths relative to the project
        details, reason = (project_relative(details, self.settings.root),
                           project_relative(reason, self.settings.root))
        return (f'!!! failure "{where} {outcome.status}: {_quote(reason)}"\n\n'
                + indent_block(fence(details.strip() or "(no output)", "text")))

    def trace_diagram(self, outcome: Outcome | None) -> str:
        from ..content.trace import diagram_from_trace

        if outcome is not None and outcome.status == "skipped":
            return (f'!!! info "Not run on this machine: {_quote(outcome.result.reason)}"\n'
                    f"    The diagram is drawn from the {self.words.messages} of a run, so there is none to show here.")
        if outcome is None or not outcome.result.trace:
            return f'!!! note "No trace"\n    This run recorded no {self.words.messages}.'
        parts = [(p.id, p.name) for p in self.bundle.model.participants]
        return fence(diagram_from_trace(outcome.result.trace, parts, broker=self.bundle.model.broker), "mermaid")

    def flow_diagram(self, flow: Flow, snippet: str = "") -> str:
        """The flow's diagram drawn from its real run when there is one, else from metadata."""
        from ..content.trace import diagram_from_flow, diagram_from_trace

        m = self.bundle.model
        parts = [(p.id, p.name) for p in m.participants]
        if snippet and flow.scenario:
            outcome = self.outcome(snippet, flow.scenario)
            if outcome is not None and outcome.result.trace:
                return fence(diagram_from_trace(outcome.result.trace, parts, broker=m.broker), "mermaid")
        # the declared messages say how each travels: a call is drawn as a call, not published
        return fence(diagram_from_flow(flow.steps, parts, broker=m.broker, events=m.events), "mermaid")

    # -- directives in prose -------------------------------------------------------------
    def directives(self, article: Article) -> dict[int, tuple[int, str]]:
        """Find ``pattern-snippet`` fences and render each in place."""
        first = article.front_matter_end
        body = "".join(article.lines[first:]).replace("\r\n", "\n")
        out: dict[int, tuple[int, str]] = {}
        for token in block_parser().parse(body):
            if token.type != "fence" or token.info.strip() != DIRECTIVE_INFO or not token.map:
                continue
            start, end = token.map[0] + first, token.map[1] + first
            place = article.place(start)
            text = token.content.strip()
            if not text:
                raise PatternError("empty pattern-snippet block", place,
                                   hint="write 'file.py#region scenario=name show=code,output'")
            ref, _, rest = text.partition(" ")
            options = _directive_options(rest, place)
            bundle_prefix = self.bundle.dir.name + "/"
            if ref.startswith(bundle_prefix):
                ref = ref[len(bundle_prefix):]
            try:
                out[start] = (end, self.show(ref, **options))
            except PatternError as exc:  # name the directive's line, and the snippet's if it has one
                inner = f" ({exc.place})" if exc.place is not None else ""
                raise PatternError(exc.message + inner, place, exc.hint) from None
        return out


SHOW_VALUES = ("code", "output", "diagram")


def _directive_options(rest: str, place: Place) -> dict[str, Any]:
    """The ``key=value`` options of a ``pattern-snippet`` block, read like a shell line.

    Strict on purpose: an option the author mistyped (``show=ouput``, ``scenario=`` with
    nothing after it, a quote never closed) would otherwise be dropped without a word and
    the page would silently show something else than asked for.
    """
    import shlex

    usage = "write 'file.py#region scenario=name show=code,output title=\"A title\"'"
    try:
        words = shlex.split(rest, comments=False, posix=True)
    except ValueError:
        raise PatternError("unterminated quote in the pattern-snippet block", place,
                           hint="close the quote: title=\"A title\"") from None
    options: dict[str, Any] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not _DIRECTIVE_KEY.fullmatch(key):
            raise PatternError(f"pattern-snippet option {word!r} is not written key=value", place, hint=usage)
        if key in ("scenario", "scenarios", "show"):
            items = [v.strip() for v in value.split(",")]
            if not value.strip() or not all(items):
                raise PatternError(f"empty value in the pattern-snippet option {key}={value!r}", place,
                                   hint=f"name at least one {'scenario' if key != 'show' else 'part'}, "
                                        "separated by commas; leave the option out to show all")
            if key == "show":
                unknown = [v for v in items if v not in SHOW_VALUES]
                if unknown:
                    raise PatternError(f"unknown pattern-snippet show= value '{unknown[0]}'", place,
                                       hint=f"show= takes {', '.join(SHOW_VALUES)}, separated by commas")
                options["show"] = items
            else:
                options["scenarios"] = items
        elif key == "title":
            options["title"] = value
        else:
            raise PatternError(f"unknown pattern-snippet option '{key}'", place,
                               hint="options are scenario=, show=, title=")
    return options


#: A snippet's output is a ``text`` fence with this class, so a stylesheet can tell it from code.
OUTPUT_ATTRS = "{.pa-output}"


def verified_mark(outcome: Outcome) -> str:
    """A small, quiet line under shown output, so a reader knows it is real.

    What it means sits in its title (a tooltip), in the reader's terms: the output is what
    the code printed, and it matches the output recorded for it. How this build got the
    result (ran now, or reused) is not the reader's business and does not show: the label
    and title are the same either way, so a page does not change when nothing changed.
    Inline HTML (a ``span``) so it works inside tabs and in any Markdown renderer; the
    plugin's stylesheet draws it; ``data-status`` (passed or not-run) is for styling.
    """
    import html

    golden = outcome.golden.name
    if outcome.status == "skipped":
        status, label = "not-run", _NOT_RUN_LABEL
        detail = (f"Not run this time ({outcome.result.reason}): this is the output the code "
                  f"printed when it last ran, recorded in {golden}")
    else:
        status, label = "passed", _RAN_LABEL  # ran now or reused: the same bytes either way
        detail = f"This is what the code printed when it ran; it matches the output recorded in {golden}"
    return f'<span class="pa-verified" data-status="{status}" title="{html.escape(detail)}">{label}</span>'


def _paragraphs(markdown: str) -> list[tuple[int, int, str, bool]]:
    """Every paragraph of ``markdown``: ``(first line, end line, text, top level)``, its text
    with whitespace runs made one space, so a YAML-folded line and an authored one compare."""
    tokens = block_parser().parse(markdown.replace("\r\n", "\n"))
    found: list[tuple[int, int, str, bool]] = []
    for i, token in enumerate(tokens):
        if token.type == "paragraph_open" and token.map and i + 1 < len(tokens):
            text = " ".join(tokens[i + 1].content.split())
            if text:
                found.append((token.map[0], token.map[1], text, token.level == 0))
    return found


_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")


def authored_paragraphs(lines: list[str]) -> set[str]:
    """The text of each paragraph the author wrote: runs of lines between blank lines,
    headings and code fences, whitespace made one space (as :func:`_paragraphs` does).

    A line scan, not a Markdown parse: parsing a long article costs seconds (10 MB: ~16 s)
    and the fill already parses it twice; only paragraph boundaries matter here. A list
    item or a quote counts with its marker, so it never equals a filled paragraph; a fill
    repeating one is kept (shown twice, never lost).
    """
    found: set[str] = set()
    block: list[str] = []
    fence = ""

    def close() -> None:
        text = " ".join(" ".join(block).split())
        if text:
            found.add(text)
        block.clear()

    for raw in lines:
        line = raw.rstrip("\r\n")
        opened = _FENCE.match(line) if ("```" in line or "~~~" in line) else None
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip()[len(opened.group(1)):].strip():
                fence = ""
            continue
        if opened:
            close()
            fence = opened.group(1)
        elif not line.strip() or _ATX.match(line):
            close()
        elif block and set(line.strip()) <= {"=", "-"} and not line.startswith("    "):
            block.clear()  # a setext heading's underline (or a rule): the block was a heading
        else:
            block.append(line)
    close()
    return found


class ShownParagraphs:
    """The paragraphs already on the page, the author's read only when a fill first asks:
    a page whose sections are all written never pays for the scan."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._texts: set[str] | None = None

    @property
    def texts(self) -> set[str]:
        if self._texts is None:
            self._texts = authored_paragraphs(self._lines)
        return self._texts


#: Paragraphs that may repeat: a tabbed block, an admonition, a table, inline HTML (the
#: "verified output" mark under each output) are structure, not prose.
_STRUCTURE = ("!!!", "???", "===", "|", "<")


def drop_repeated_paragraphs(generated: str, seen: set[str]) -> str:
    """``generated`` without its prose paragraphs already in ``seen``; ``seen`` then holds its own.

    Why: two sections filled from one bundle may say the same thing (an Introduction made
    of the description and the definition, then the definition again under "What is"); a
    reader should meet a paragraph once. Only a filled paragraph is ever dropped, never the
    author's, and the first one on the page stays. A lead-in ending with a colon is kept:
    its meaning is the list it introduces.
    """
    drop: set[int] = set()
    for start, end, text, top in _paragraphs(generated):
        if top and text in seen and not text.startswith(_STRUCTURE) and not text.endswith(":"):
            drop.update(range(start, end))
        seen.add(text)
    if not drop:
        return generated
    lines = generated.replace("\r\n", "\n").split("\n")
    kept = "\n".join(line for n, line in enumerate(lines) if n not in drop)
    return squeeze_blank_lines(kept).strip() + "\n" if kept.strip() else ""


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def squeeze_blank_lines(text: str) -> str:
    """Collapse runs of blank lines a template leaves between blocks to one, but never inside
    a fenced block: code keeps its two blank lines between functions, output its own."""
    out: list[str] = []
    fence = ""
    blank = False
    for line in text.split("\n"):
        # the regex only where a fence can be: most lines hold no three backticks or tildes
        opened = _FENCE.match(line) if ("```" in line or "~~~" in line) else None
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip()[len(opened.group(1)):].strip():
                fence = ""
            out.append(line)
            continue
        if opened:
            fence = opened.group(1)
        if not line.strip():
            if blank:
                continue
            blank = True
        else:
            blank = False
        out.append(line)
    return "\n".join(out)


_RAN_LABEL = "Verified output"
_NOT_RUN_LABEL = "Not run here · last verified output"


def _ref_locations(m: Any) -> list[tuple[tuple[str | int, ...], object]]:
    found: list[tuple[tuple[str | int, ...], object]] = []
    if m.implementation is not None:
        for s_index, step in enumerate(m.implementation.steps):
            for c_index, code in enumerate(step.code):
                found.append((("implementation", "steps", s_index, "code", c_index, "snippet"), code))
    for index, item in enumerate(m.considerations):
        if item.demonstrated_by is not None:
            found.append((("considerations", index, "demonstrated_by", "snippet"), item.demonstrated_by))
    return found


def _scenario_label(bundle: Bundle, path: str, scenario: str) -> str:
    spec = bundle.model.snippets.get(path)
    if spec and scenario in spec.scenarios and spec.scenarios[scenario].title:
        return spec.scenarios[scenario].title
    return scenario.replace("-", " ")


def _quote(text: str) -> str:
    """One line of run-derived text (a failure's reason quotes the snippet's exception) for
    an admonition title, its control characters made visible (the title is text: the
    admonition escapes HTML in it)."""
    line = text.splitlines()[0] if text.strip() else ""
    return escape_controls(line).replace('"', "'")


def _replace_todo(current: str, value: str) -> str:
    from ..content.article import TODO_RE

    return TODO_RE.sub(lambda _m: value, current, count=1).strip()


def front_matter_replacements(article: Article, updates: Mapping[str, Any]) -> dict[int, str]:
    """Rewrite ``key: value`` front-matter lines (for Markdown rendered outside MkDocs)."""
    import json

    out: dict[int, str] = {}
    for key, value in updates.items():
        line = article.front_matter_lines.get(key)
        if line is None:
            continue
        index = line - 1
        out[index] = f"{key}: {json.dumps(value, ensure_ascii=False)}{article.newline}"
    return out


def display_name(pattern_id: str) -> str:
    """``event-sourcing`` -> ``Event Sourcing``; a trailing "-pattern" is not part of the name."""
    words = pattern_id.split("-")
    if len(words) > 1 and words[-1].lower() == "pattern":
        words = words[:-1]
    return " ".join(w.capitalize() for w in words)


def relative_url(from_page: str, to_page: str) -> str:
    """A relative link between two Markdown source paths (docs-relative, POSIX)."""
    import posixpath

    start = posixpath.dirname(from_page)
    return posixpath.relpath(to_page, start or ".")


__all__ = ["Filler", "Rendered", "SiteLinks", "environment", "fence", "front_matter_replacements", "relative_url"]

_ = Path  # re-exported type for templates' users
