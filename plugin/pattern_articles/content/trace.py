"""Event traces: diagrams drawn from what really happened, and checks against the metadata.

The example code writes one JSON object per line to the file named by
``PATTERN_ARTICLES_TRACE`` (see docs/guide/traces.md)::

    {"op": "publish", "service": "order", "event": "OrderPlaced", "event_id": "e1",
     "correlation_id": "order-1001", "caused_by": null, "pid": 4242}

``op`` is ``publish``, ``consume``, ``duplicate``, ``stale``, ``redeliver`` or ``crash``. This module
turns such a trace into a Mermaid sequence diagram and compares it with the flows the
bundle declares, so an article can never describe a flow its code no longer performs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Place, Problem

TraceEvent = Mapping[str, Any]

BROKER = "broker"


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str
    dashed: bool = False


# words a sequence diagram's parser reads as statements: "participant end" ends nothing well
_KEYWORDS = frozenset({
    "participant", "actor", "as", "end", "loop", "alt", "else", "opt", "par", "and", "rect",
    "critical", "break", "note", "over", "left", "right", "of", "activate", "deactivate",
    "autonumber", "title", "box", "link", "links", "create", "destroy", "properties", "details",
    "acctitle", "accdescr", "sequencediagram",
})


def _mermaid_id(name: str) -> str:
    """A participant id Mermaid cannot misread: letters, digits and ``_`` only, never one of
    its keywords (service names come from a trace, which the snippet writes)."""
    ident = "".join(ch if ch.isalnum() else "_" for ch in name) or "x"
    return f"{ident}_" if ident.lower() in _KEYWORDS else ident


# Mermaid's entity codes: the characters keep their look but lose their meaning (";" ends
# a statement, "#" starts an entity, "<" and ">" would be HTML in a label)
_ENTITIES = {ord(ch): f"#{ord(ch)};" for ch in "#;<>"}


def _label(text: str) -> str:
    """Text for a message, note or alias: one line, whatever an event or service name holds.

    Names in a trace are the snippet's output: a newline in one started a statement of its
    own (a forged arrow, a ``click`` link); control characters and runs of white space
    become one space, and Mermaid-significant characters are written as entity codes.
    """
    return " ".join(text.split()).translate(_ENTITIES).translate(_INVISIBLE)


_INVISIBLE = {c: " " for c in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)}


def diagram_from_trace(
    trace: Sequence[TraceEvent],
    participants: Sequence[tuple[str, str]],
    *,
    broker: str = "Event broker",
    title: str = "",
) -> str:
    """A Mermaid ``sequenceDiagram`` of a run: every publish goes to the broker, every consume
    comes from it, duplicates and crashes are notes. ``participants`` are (id, display name)
    in the order to draw them; services seen in the trace but not declared are added."""
    names = dict(participants)
    seen = [p for p in (e.get("service") for e in trace) if isinstance(p, str)]
    order = [pid for pid, _ in participants if pid in seen]
    order += [pid for pid in dict.fromkeys(seen) if pid not in names]
    correlations = list(dict.fromkeys(str(e.get("correlation_id", "")) for e in trace))
    several = len([c for c in correlations if c]) > 1
    lines = ["sequenceDiagram"]
    if title:
        lines.append(f"    title {_label(title)}")
    first, rest = (order[:1], order[1:])
    for pid in first:
        lines.append(f"    participant {_mermaid_id(pid)} as {_label(names.get(pid, pid))}")
    lines.append(f"    participant {BROKER} as {_label(broker)}")
    for pid in rest:
        lines.append(f"    participant {_mermaid_id(pid)} as {_label(names.get(pid, pid))}")
    for entry in causal_order(trace, [pid for pid, _ in participants]):
        op = entry.get("op")
        service = _mermaid_id(str(entry.get("service", "?")))
        event = _label(str(entry.get("event", "?")))
        suffix = f" ({entry.get('correlation_id')})" if several and entry.get("correlation_id") else ""
        if op == "publish":
            lines.append(f"    {service}->>{BROKER}: {event}{suffix}")
        elif op == "consume":
            lines.append(f"    {BROKER}->>{service}: {event}{suffix}")
        elif op == "redeliver":
            lines.append(f"    {BROKER}-->>{service}: {event} (redelivered){suffix}")
        elif op == "duplicate":
            lines.append(f"    {BROKER}-->>{service}: {event} (again)")
            lines.append(f"    Note over {service}: already processed: ignored")
        elif op == "stale":
            lines.append(f"    {BROKER}-->>{service}: {event} (late)")
            lines.append(f"    Note over {service}: older than what it already applied: ignored")
        elif op == "crash":
            lines.append(f"    Note over {service}: crashed while handling {event}")
    return "\n".join(lines)


def causal_order(trace: Sequence[TraceEvent], participants: Sequence[str] = ()) -> list[TraceEvent]:
    """The trace in an order that depends only on what happened, not on when each line landed.

    One process writes its trace in the order it did things, which is the same on every
    run: such a trace is drawn as written. Several processes append concurrently, and two
    deliveries that raced land in either order, so a diagram drawn in arrival order would
    change from build to build. Their lines are sorted by a causal key instead: the request
    that started the chain (requests keep the order their driver published them in), the
    number of hops from it, a publish before its deliveries, then the publisher, the event,
    the consumer (in the order of ``participants``) and the place of a handling among the same
    consumer's handlings of the same event (a crash before its redelivery). A cause always
    sorts before its effects: an event is one hop further than the event it reacts to.
    """
    pids = {e.get("pid") for e in trace if e.get("pid") is not None}
    if len(pids) <= 1:
        return list(trace)
    rank = {pid: i for i, pid in enumerate(participants)}

    def who(service: object) -> tuple[int, str]:
        name = str(service)
        return rank.get(name, len(rank)), name

    publishes: dict[str, list[int]] = {}  # event id -> indexes of its publishes, in trace order
    for index, entry in enumerate(trace):
        if entry.get("op") == "publish":
            publishes.setdefault(str(entry.get("event_id", "")), []).append(index)

    def publish_of(event_id: str, before: int) -> int | None:
        """The publish a line refers to: the latest one before it, else the first one at all
        (a consumer's line can land before its producer's, when they raced)."""
        found = publishes.get(event_id)
        if not found:
            return None
        earlier = [i for i in found if i < before]
        return earlier[-1] if earlier else found[0]

    roots: dict[int, int] = {}  # index of a root publish -> its place among the roots
    for index, entry in enumerate(trace):
        if entry.get("op") == "publish" and publish_of(str(entry.get("caused_by") or ""), index) is None:
            roots[index] = len(roots)
    placed: dict[int, tuple[int, int]] = {}  # publish index -> (root, hops from it)

    def place(index: int, visiting: frozenset[int] = frozenset()) -> tuple[int, int]:
        if index in placed:
            return placed[index]
        cause = publish_of(str(trace[index].get("caused_by") or ""), index)
        if cause is None or cause in visiting:  # a root, or a malformed trace's loop
            result = (roots.get(index, len(roots)), 0)
        else:
            root, depth = place(cause, visiting | {index})
            result = (root, depth + 1)
        placed[index] = result
        return result

    handled: dict[tuple[str, str], int] = {}  # (service, event id) -> its handlings so far
    keyed: list[tuple[tuple[Any, ...], int, TraceEvent]] = []
    for index, entry in enumerate(trace):
        event_id, service = str(entry.get("event_id", "")), str(entry.get("service", ""))
        event = str(entry.get("event", ""))
        if entry.get("op") == "publish":
            root, depth = place(index)
            key: tuple[Any, ...] = (root, depth, 0, who(service), event, event_id, (-1, ""), 0)
        else:
            source = publish_of(event_id, index)
            root, depth = place(source) if source is not None else (len(roots), 0)
            producer = trace[source].get("service", "") if source is not None else ""
            seen = handled.get((service, event_id), 0)
            handled[service, event_id] = seen + 1
            key = (root, depth, 1, who(producer), event, event_id, who(service), seen)
        keyed.append((key, index, entry))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in keyed]


def diagram_from_flow(
    steps: Sequence[Any], participants: Sequence[tuple[str, str]], *, broker: str = "Event broker"
) -> str:
    """The declared flow as a diagram (used when no trace is available)."""
    fake: list[dict[str, Any]] = []
    for step in steps:
        for trigger in step.triggers:
            fake.append({"op": "consume", "service": step.actor, "event": trigger})
        for name in step.emits:
            fake.append({"op": "publish", "service": step.actor, "event": name})
    return diagram_from_trace(fake, participants, broker=broker)


@dataclass(frozen=True)
class FlowCheck:
    """What to compare: the declared flow steps and the events' declared consumers."""

    steps: Sequence[Any]
    consumers: Mapping[str, Sequence[str]]
    flow_place: Place
    step_places: Sequence[Place]
    event_places: Mapping[str, Place]
    snippet: str


def check_trace(trace: Sequence[TraceEvent], check: FlowCheck) -> list[Problem]:
    """Compare a run's trace with its declared flow; each mismatch names the metadata line."""
    problems: list[Problem] = []
    published = [e for e in trace if e.get("op") == "publish"]
    consumed = [e for e in trace if e.get("op") == "consume"]
    names_published = {str(e.get("event")) for e in published}
    declared_emits: dict[str, int] = {}
    for index, step in enumerate(check.steps):
        for name in step.emits:
            declared_emits.setdefault(name, index)
    where = f"(run of {check.snippet})"
    for name, index in declared_emits.items():
        if name not in names_published:
            problems.append(Problem(
                f"declared event '{name}' was never emitted {where}",
                check.step_places[index],
                "the code no longer does what the flow says: fix the code or the flow",
            ))
    for name in sorted(names_published - set(declared_emits)):
        problems.append(Problem(
            f"event '{name}' was emitted but the flow does not declare it {where}",
            check.flow_place,
            "add a step that emits it, or stop emitting it",
        ))
    consumers_seen: dict[str, set[str]] = {}
    for entry in consumed:
        consumers_seen.setdefault(str(entry.get("event")), set()).add(str(entry.get("service")))
    for name in declared_emits:
        if name not in names_published:
            continue
        for consumer in check.consumers.get(name, ()):
            if consumer not in consumers_seen.get(name, set()):
                problems.append(Problem(
                    f"'{consumer}' is declared to consume '{name}' but never reacted to it {where}",
                    check.event_places.get(name, check.flow_place),
                    "subscribe the consumer, or remove it from the event's consumers",
                ))
    # causal order: a step "on X emits Y" means Y's publish was caused by an X.
    by_id = {str(e.get("event_id")): e for e in published if e.get("event_id")}
    for index, step in enumerate(check.steps):
        for name in step.emits:
            for entry in (e for e in published if e.get("event") == name):
                cause = by_id.get(str(entry.get("caused_by"))) if entry.get("caused_by") else None
                cause_name = cause.get("event") if cause else None
                if not step.triggers and cause_name is not None:
                    continue  # a start step may also be re-triggered; not an ordering error
                if step.triggers and cause_name not in step.triggers:
                    observed = f"'{cause_name}'" if cause_name else "nothing"
                    expected = " or ".join(f"'{t}'" for t in step.triggers)
                    problems.append(Problem(
                        f"'{name}' should follow {expected} but was caused by {observed} {where}",
                        check.step_places[index],
                        "the causal order differs from the declared flow",
                    ))
                    break
    return problems


def event_cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Cycles in an event graph (X -> Y when handling X emits Y): an event storm waiting to happen."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                if sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in cycles]:
                    cycles.append(cycle)
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)
    return cycles
