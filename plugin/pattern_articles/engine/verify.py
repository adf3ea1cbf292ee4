"""From a bundle to run specs, and from a run result to a verdict.

This is the seam between the metadata (what should run, under which scenarios, compared
with which golden file) and the runner (how it runs). Every adapter asks the same
questions — which specs does this bundle have, did this run pass, what diff, which
articles use it — so the answers live here once.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..content.goldens import golden_name
from ..errors import Place, Problem

if TYPE_CHECKING:
    from ..content.bundle import Bundle
    from ..content.model import Flow, SnippetSpec
    from .spec import RunResult, RunSpec


@dataclass(frozen=True)
class Outcome:
    """A run judged against its golden file and its declared flow."""

    result: RunResult
    status: str  # passed | mismatch | failed | timeout | skipped | error
    golden: Path
    diff: str = ""
    expected: str | None = None  # the golden's text (shown when the run was skipped)
    problems: tuple[Problem, ...] = ()
    #: where the failure is to be fixed, when not in the snippet (a normaliser's line)
    place: Place | None = None
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")

    @property
    def output(self) -> str:
        return self.result.stdout


def golden_path(bundle_dir: Path, snippet: Path, scenario: str) -> Path:
    """``expected/<stem>.txt`` or ``expected/<stem>.<scenario>.txt`` inside the bundle.

    A snippet in a sub-folder keeps its folder in the name (``sub/flow.py`` ->
    ``expected/sub.flow.txt``) so two ``flow.py`` files never share a golden file.
    """
    try:
        relative = snippet.resolve().relative_to(bundle_dir.resolve())
        stem = ".".join([*relative.parts[:-1], relative.stem])
    except ValueError:
        stem = snippet.stem
    name = f"{stem}.{scenario}.txt" if scenario else f"{stem}.txt"
    return bundle_dir / "expected" / name


def _golden_of(bundle: Bundle, spec: RunSpec) -> Path:
    """:func:`golden_path` for a spec of :func:`specs_for`, whose snippet path is resolved
    already: named without resolving both paths again (two walks of lstats per snippet)."""
    relative = _relative_posix(spec.snippet, bundle.real_dir)
    if relative is None:
        return golden_path(bundle.dir, spec.snippet, spec.scenario)
    return bundle.dir / "expected" / golden_name(relative, spec.scenario)


def _relative_posix(path: Path, root: Path) -> str | None:
    """``path`` inside ``root`` as a POSIX relative path, or None: string arithmetic, as
    pathlib's ``relative_to`` re-parses both paths on each call (asked per snippet, often)."""
    text, base = str(path), str(root)
    if base.endswith(os.sep) or not text.startswith(base + os.sep):
        return None  # the root folder itself, or outside: let the caller use pathlib
    return text[len(base) + 1:].replace(os.sep, "/")


@dataclass
class BundleSpecs:
    """The run specs of one bundle, with the metadata needed to judge them."""

    bundle: Bundle
    specs: list[RunSpec] = field(default_factory=list)
    snippet_specs: dict[str, SnippetSpec] = field(default_factory=dict)


def specs_for(bundle: Bundle, default_timeout: float | None = None, extra: list[str] | None = None) -> list[RunSpec]:
    """Every (snippet, scenario) pair the bundle declares, plus snippets only referenced."""
    memo_key = ("specs_for", default_timeout, tuple(extra or ()))
    known: list[RunSpec] | None = bundle.derived.get(memo_key)
    if known is None:  # asked by the build's start and again by every article using the bundle
        known = bundle.derived[memo_key] = _specs_for(bundle, default_timeout, extra)
    return list(known)


def specs_by_snippet(bundle: Bundle, default_timeout: float | None = None) -> dict[Path, list[RunSpec]]:
    """:func:`specs_for` grouped by resolved snippet path, memoised with the bundle: a page
    shows, and pytest collects, one snippet after another; searching the whole list for each
    made both quadratic in a bundle's snippets. Do not modify the returned mapping."""
    memo_key = ("specs_by_snippet", default_timeout)
    known: dict[Path, list[RunSpec]] | None = bundle.derived.get(memo_key)
    if known is None:
        known = {}
        for spec in specs_for(bundle, default_timeout):
            known.setdefault(spec.snippet, []).append(spec)
        bundle.derived[memo_key] = known
    return known


def _specs_for(bundle: Bundle, default_timeout: float | None, extra: list[str] | None) -> list[RunSpec]:
    from ..content.model import SnippetSpec
    from .spec import RunSpec

    declared = dict(bundle.model.snippets)
    for _, ref in bundle.model.snippet_refs():
        path = ref.split("#", 1)[0]
        declared.setdefault(path, SnippetSpec())
    for path in extra or []:
        declared.setdefault(path, SnippetSpec())
    specs: list[RunSpec] = []
    for relative, spec in declared.items():
        if not spec.run:
            continue
        snippet = bundle.real_path(relative)
        common = {
            "snippet": snippet,
            "bundle_dir": bundle.real_dir,
            "timeout": spec.timeout if spec.timeout is not None else default_timeout,
            "needs": tuple(spec.needs),
            "language": spec.language,
            "inputs": tuple(spec.inputs),
            "memory_limit": spec.memory_limit,
            "cpu_limit": spec.cpu_limit,
        }
        if spec.scenarios:
            for name, scenario in spec.scenarios.items():
                merged = dict(common)
                merged["needs"] = tuple(dict.fromkeys([*spec.needs, *scenario.needs]))
                specs.append(RunSpec(
                    scenario=name,
                    args=tuple(scenario.args),
                    env=tuple(sorted(scenario.env.items())),
                    **merged,  # type: ignore[arg-type]
                ))
        else:
            specs.append(RunSpec(**common))  # type: ignore[arg-type]
    return specs


def relative_name(bundle: Bundle, spec: RunSpec) -> str:
    relative = _relative_posix(spec.snippet, bundle.real_dir)
    if relative is not None:
        return relative
    try:
        return spec.snippet.relative_to(bundle.real_dir).as_posix()
    except ValueError:
        return spec.snippet.name


def normalisers_for(bundle: Bundle, spec: RunSpec) -> list[object]:
    snippet = bundle.model.snippets.get(relative_name(bundle, spec))
    local = list(snippet.normalize) if snippet else []
    items = list(bundle.model.normalize) + local
    return [n if isinstance(n, str) else {"pattern": n.pattern, "replace": n.replace} for n in items]


def _normaliser_loc(bundle: Bundle, spec: RunSpec, index: int) -> tuple[str | int, ...]:
    """Where the ``index``-th of :func:`normalisers_for` is written in bundle.yml."""
    shared = len(bundle.model.normalize)
    if index < shared:
        return ("normalize", index)
    return ("snippets", relative_name(bundle, spec), "normalize", index - shared)


def flow_for(bundle: Bundle, spec: RunSpec) -> tuple[tuple[str | int, ...], Flow] | None:
    snippet = bundle.model.snippets.get(relative_name(bundle, spec))
    wanted = snippet.flow if snippet and snippet.flow else ""
    scenario = snippet.scenarios.get(spec.scenario) if snippet else None
    if scenario is not None and scenario.flow:
        wanted = scenario.flow
    for loc, flow in bundle.model.all_flows():
        name = getattr(flow, "name", "happy-path")
        if wanted and (wanted == name or wanted == flow.scenario):
            return loc, flow
        if not wanted and spec.scenario and flow.scenario == spec.scenario:
            return loc, flow
    return None


def judge(bundle: Bundle, spec: RunSpec, result: RunResult, *, trace_checks: bool = True) -> Outcome:
    """Compare a run with its golden file and (when it has a trace) its declared flow."""
    from . import expect
    golden = _golden_of(bundle, spec)
    # None when there is none yet; a golden that is not UTF-8 shows up in the diff; one that
    # is a link out of the bundle, a FIFO or a device is refused (PatternError), never read
    folders = bundle.derived.setdefault("folders", {str(bundle.dir): str(bundle.real_dir)})
    expected = expect.read_golden(golden, bundle.real_dir, folders)
    if result.status == "skipped":
        return Outcome(result, "skipped", golden, expected=expected)
    if result.status != "passed":
        return Outcome(result, result.status, golden, expected=expected)
    unverifiable = _unverifiable(result)
    if unverifiable:  # the process exited 0, but the run cannot pass
        failed = dataclasses.replace(result, status="failed", reason=unverifiable)
        return Outcome(failed, "failed", golden, expected=expected)
    try:
        mismatch = expect.compare(result.stdout, golden, normalisers_for(bundle, spec), expected)
    except expect.NormaliserOvertime as exc:  # the metadata's fault: named at its line
        failed = dataclasses.replace(result, status="error", reason=exc.message)
        return Outcome(failed, "error", golden, expected=expected,
                       place=bundle.place(*_normaliser_loc(bundle, spec, exc.index)), hint=exc.hint)
    problems: list[Problem] = []
    found = flow_for(bundle, spec)
    if found is not None and result.trace and trace_checks:
        from ..content.trace import FlowCheck, check_trace

        loc, flow = found
        events = {e.name: e for e in bundle.model.events}
        happy = loc == ("flows", "happy_path")
        # in a failure path a consumer may legitimately never see an event the run
        # stopped before, and a call may go unanswered; only the happy path demands every
        # declared consumer react and every call be answered.
        consumers = {n: list(e.consumers) for n, e in events.items()} if happy else {}

        def wait_place(index: int) -> Place:
            step = flow.steps[index]
            key = "join" if step.join is not None else "on_timeout" if step.on_timeout else "reacts_to"
            return bundle.place(*loc, "steps", index, key)

        check = FlowCheck(
            steps=flow.steps,
            consumers=consumers,
            flow_place=bundle.place(*loc),
            step_places=[bundle.place(*loc, "steps", i, "emits") for i in range(len(flow.steps))],
            event_places={
                e.name: bundle.place("events", i, "consumers") for i, e in enumerate(bundle.model.events)
            },
            snippet=f"{spec.id}",
            events=events,
            producer_places={
                e.name: bundle.place("events", i, "producer") for i, e in enumerate(bundle.model.events)
            },
            wait_places=[wait_place(i) for i in range(len(flow.steps))],
            demand_answers=happy,
        )
        problems = check_trace(result.trace, check)
    if mismatch is not None:
        return Outcome(result, "mismatch", golden, diff=mismatch.diff, expected=expected,
                       problems=tuple(problems))
    return Outcome(result, "passed", golden, expected=expected, problems=tuple(problems))


LEFTOVER_NOTE = "still running after the snippet exited"  # runner.py's note, see _interpret
LEFTOVER_REASON = "left processes running"
LEFTOVER_HINT = "wait for (or stop) every process the snippet starts before it exits"
TRUNCATED_NOTE = "stdout truncated after "  # runner.py's note, see _interpret
TRUNCATED_HINT = ("print less, or raise output_limit in mkdocs.yml (in bytes) if that much output "
                  "is intended")


def _unverifiable(result: RunResult) -> str:
    """Why a run whose process exited 0 still fails ("" when it does not).

    Output cut at ``output_limit`` cannot be verified: its tail is unknown, so a changed
    tail would pass, and ``--update`` would store the cut text as the truth. A run that left
    processes running fails too (the runner killed them, but a reader who copies the
    example would leak them); saying so in the run's own status is what makes every
    adapter count it as failed, not as "ok" with a warning after it.
    """
    for note in result.notes:
        if note.startswith(TRUNCATED_NOTE):
            size = note[len(TRUNCATED_NOTE):]
            return f"printed more than {size}; output cut there cannot be verified"
    for note in result.notes:
        if LEFTOVER_NOTE in note:
            return f"{LEFTOVER_REASON}: {note}"
    return ""


def describe(outcome: Outcome, bundle: Bundle) -> Problem | None:
    """The one warning a failed outcome produces, naming the snippet's file and line."""
    if outcome.status not in ("mismatch", "failed", "timeout", "error"):
        return None  # the common case, asked once per snippet shown: nothing to compute
    spec = outcome.result.spec
    name = spec.id
    place = outcome.place or Place(spec.snippet, _error_line(outcome) or 1)
    if outcome.status == "mismatch":
        return Problem(
            f"output of {name} differs from {outcome.golden.name}",
            place,
            "if the new output is right, run 'pattern-articles check --update'",
            detail=outcome.diff,
        )
    if outcome.status in ("failed", "timeout", "error"):
        from ..content import requirements

        missing = requirements.unmet_for(bundle) if outcome.result.reason.startswith(requirements.REASON) else []
        if missing:  # never started: the bundle.yml line that declares it, and how to install it
            return requirements.problem(bundle, missing, name)
        tail = "\n".join(outcome.result.stderr.strip().splitlines()[-12:])
        reason = outcome.result.reason
        hint = (outcome.hint if outcome.hint
                else LEFTOVER_HINT if reason.startswith(LEFTOVER_REASON)
                else TRUNCATED_HINT if reason.startswith("printed more than")
                else requirements.module_hint(outcome.result.stderr) or "run it on its own to see the whole error")
        return Problem(f"{name} {outcome.status}: {reason}", place, hint, detail=tail)
    return None


def _error_line(outcome: Outcome) -> int:
    """The last line of the snippet mentioned in its traceback, so the message points there."""
    import re

    target = str(outcome.result.spec.snippet)
    line = 0
    for match in re.finditer(r'File "([^"]+)", line (\d+)', outcome.result.stderr):
        if match.group(1) == target or match.group(1).endswith(outcome.result.spec.snippet.name):
            line = int(match.group(2))
    return line
