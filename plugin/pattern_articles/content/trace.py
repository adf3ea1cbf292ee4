"""Message traces: diagrams drawn from what really happened, and checks against the metadata.

The example code writes one JSON object per line to the file named by
``PATTERN_ARTICLES_TRACE`` (see docs/guide/traces.md)::

    {"op": "publish", "service": "order", "event": "OrderPlaced", "event_id": "e1",
     "correlation_id": "order-1001", "caused_by": null, "pid": 4242}

Broker ops: ``publish``, ``consume``, ``duplicate``, ``stale``, ``redeliver``; direct ones:
``call`` and ``send`` (with a ``target``), ``reply`` and ``timeout`` (answering a call by
``reply_to``), ``drop``; and ``crash``. The message kind may be written ``event`` or
``message``, its id ``event_id`` or ``id``. This module turns such a trace into a Mermaid
sequence diagram (with a broker lane only when a broker carried something) and compares it
with the flows the bundle declares, so an article can never describe a flow its code no
longer performs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Place, Problem

TraceEvent = Mapping[str, Any]

BROKER = "broker"

#: lines that only a publish/subscribe broker explains: the broker lane is drawn for these
BROKER_OPS = frozenset({"publish", "consume", "redeliver", "duplicate", "stale"})
#: lines that put a message in motion (each has an id and a cause): the nodes of causal order
ORIGIN_OPS = frozenset({"publish", "call", "send", "reply", "timeout"})
#: lines that emit a message of a declared kind
EMIT_OPS = frozenset({"publish", "call", "send", "reply"})
#: lines that hand a message to its receiver directly (``target`` receives it)
DIRECT_OPS = frozenset({"call", "send", "reply"})


def message_of(entry: TraceEvent, default: str = "?") -> str:
    """The message kind of a line: ``event`` (the first protocol) or ``message``."""
    return str(entry.get("event", entry.get("message", default)))


def id_of(entry: TraceEvent) -> str:
    """The message id of a line: ``event_id`` or ``id`` ("" when it has none)."""
    return str(entry.get("event_id", entry.get("id", "")))


def causes_of(entry: TraceEvent) -> list[str]:
    """The ids a line was caused by: ``caused_by`` is one id or a list (a join); a reply or
    a timeout is caused by the call it answers unless it says otherwise."""
    raw = entry.get("caused_by")
    if raw is None and entry.get("op") in ("reply", "timeout"):
        raw = entry.get("reply_to")
    if isinstance(raw, list):
        return [str(item) for item in raw if item is not None and str(item) != ""]
    return [str(raw)] if raw is not None and str(raw) != "" else []


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
    """A Mermaid ``sequenceDiagram`` of a run, drawing what really carried each message.

    A publish goes to the broker and a consume comes from it; the broker lane exists only
    when the trace has a broker line, so a run of direct calls shows none. A call is an
    arrow to its callee (open-headed when async), a reply a dashed arrow back, a timeout a
    note; calls or sends one caller made in one ``group`` form a ``par`` block, each branch
    holding the call and what answered it. ``participants`` are (id, display name) in the
    order to draw them; services seen in the trace but not declared are added."""
    names = dict(participants)
    seen = [p for e in trace for p in (e.get("service"), e.get("target") if e.get("op") in DIRECT_OPS else None)
            if isinstance(p, str)]
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
    if any(e.get("op") in BROKER_OPS for e in trace):
        lines.append(f"    participant {BROKER} as {_label(broker)}")
    for pid in rest:
        lines.append(f"    participant {_mermaid_id(pid)} as {_label(names.get(pid, pid))}")
    ordered = causal_order(trace, [pid for pid, _ in participants])
    blocks = _par_blocks(ordered)
    drawn: set[int] = set()
    for index, entry in enumerate(ordered):
        if index in drawn:
            continue
        block = blocks.get(index)
        if block is None:
            drawn.add(index)
            lines.extend(_statements(entry, several, "    "))
            continue
        for b_index, branch in enumerate(block):
            call = ordered[branch[0]]
            target = str(call.get("target", "?"))
            lines.append(f"    {'par' if b_index == 0 else 'and'} "
                         f"{_label(message_of(call))} to {_label(names.get(target, target))}")
            for member in branch:
                if member not in drawn:
                    drawn.add(member)
                    lines.extend(_statements(ordered[member], several, "        "))
        lines.append("    end")
    return "\n".join(lines)


def _statements(entry: TraceEvent, several: bool, indent: str) -> list[str]:
    """The Mermaid statements of one trace line."""
    op = entry.get("op")
    service = _mermaid_id(str(entry.get("service", "?")))
    target = _mermaid_id(str(entry.get("target", "?")))
    event = _label(message_of(entry))
    suffix = f" ({entry.get('correlation_id')})" if several and entry.get("correlation_id") else ""
    if op == "publish":
        return [f"{indent}{service}->>{BROKER}: {event}{suffix}"]
    if op == "consume":
        return [f"{indent}{BROKER}->>{service}: {event}{suffix}"]
    if op == "redeliver":
        return [f"{indent}{BROKER}-->>{service}: {event} (redelivered){suffix}"]
    if op == "duplicate":
        return [f"{indent}{BROKER}-->>{service}: {event} (again)",
                f"{indent}Note over {service}: already processed: ignored"]
    if op == "stale":
        return [f"{indent}{BROKER}-->>{service}: {event} (late)",
                f"{indent}Note over {service}: older than what it already applied: ignored"]
    if op == "crash":
        return [f"{indent}Note over {service}: crashed while handling {event}"]
    if op == "call":
        arrow = "-)" if entry.get("async") is True else "->>"
        return [f"{indent}{service}{arrow}{target}: {event}{suffix}"]
    if op == "send":
        return [f"{indent}{service}->>{target}: {event}{suffix}"]
    if op == "reply":
        return [f"{indent}{service}-->>{target}: {event}{suffix}"]
    if op == "timeout":
        return [f"{indent}Note over {service}: no reply to {event} in time"]
    if op == "drop":
        return [f"{indent}Note over {service}: dropped {event}"]
    return []


def _par_blocks(ordered: Sequence[TraceEvent]) -> dict[int, list[list[int]]]:
    """Fan-outs to draw as ``par`` blocks: index of a group's first call -> its branches.

    Calls and sends of one caller sharing a ``group`` are one block, one branch per call,
    each holding the call and the replies and timeouts that answer it (``reply_to``). A
    group of one is no fan-out and is drawn in sequence."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, entry in enumerate(ordered):
        group = entry.get("group")
        if entry.get("op") in ("call", "send") and isinstance(group, str) and group:
            groups.setdefault((str(entry.get("service", "")), group), []).append(index)
    answers: dict[str, list[int]] = {}
    for index, entry in enumerate(ordered):
        if entry.get("op") in ("reply", "timeout") and entry.get("reply_to") is not None:
            answers.setdefault(str(entry.get("reply_to")), []).append(index)
    blocks: dict[int, list[list[int]]] = {}
    taken: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        branches = []
        for member in members:
            call_id = id_of(ordered[member])
            branch = [member] + [a for a in answers.get(call_id, []) if call_id and a not in taken]
            taken.update(branch)
            branches.append(branch)
        blocks[members[0]] = branches
    return blocks


def _sorts_causally(trace: Sequence[TraceEvent]) -> bool:
    """Whether line order is a matter of timing: several processes wrote the trace, or one
    process ran calls concurrently (async calls or a fan-out ``group``, as with asyncio)."""
    pids = {e.get("pid") for e in trace if e.get("pid") is not None}
    if len(pids) > 1:
        return True
    return len(pids) == 1 and any(
        e.get("op") in ("call", "send") and (e.get("async") is True or e.get("group")) for e in trace
    )


def causal_order(trace: Sequence[TraceEvent], participants: Sequence[str] = ()) -> list[TraceEvent]:
    """The trace in an order that depends only on what happened, not on when each line landed.

    One process writes its trace in the order it did things, which is the same on every
    run: such a trace is drawn as written. Several processes append concurrently (and so
    do one process's concurrent calls), and two deliveries that raced land in either order,
    so a diagram drawn in arrival order would change from build to build. Their lines are
    sorted by a causal key instead: the request that started the chain (requests keep the
    order their driver sent them in), the number of hops from it, a message's origin (a
    publish, call, send, reply or timeout) before its deliveries, then the sender, the
    message, the receiver of a direct message, the consumer (in the order of
    ``participants``) and the place of a handling among the same consumer's handlings of
    the same message (a crash before its redelivery). A cause always sorts before its
    effects: a message is one hop further than the furthest message it waited for (a join
    waits for several), and a reply one hop further than its call.
    """
    if not _sorts_causally(trace):
        return list(trace)
    rank = {pid: i for i, pid in enumerate(participants)}

    def who(service: object) -> tuple[int, str]:
        name = str(service)
        return rank.get(name, len(rank)), name

    origins: dict[str, list[int]] = {}  # message id -> indexes of its origin lines, in trace order
    for index, entry in enumerate(trace):
        if entry.get("op") in ORIGIN_OPS:
            origins.setdefault(id_of(entry), []).append(index)

    def origin_of(message_id: str, before: int) -> int | None:
        """The origin a line refers to: the latest one before it, else the first one at all
        (a receiver's line can land before its sender's, when they raced)."""
        found = origins.get(message_id)
        if not found:
            return None
        earlier = [i for i in found if i < before]
        return earlier[-1] if earlier else found[0]

    def cause_lines(index: int) -> list[int]:
        found = (origin_of(cause, index) for cause in causes_of(trace[index]))
        return [i for i in found if i is not None and i != index]

    roots: dict[int, int] = {}  # index of a root origin -> its place among the roots
    for index, entry in enumerate(trace):
        if entry.get("op") in ORIGIN_OPS and not cause_lines(index):
            roots[index] = len(roots)
    placed: dict[int, tuple[int, int]] = {}  # origin index -> (root, hops from it)

    def place(index: int) -> tuple[int, int]:
        """Depth-first over the causes, with an explicit stack: a chain of thousands of
        messages whose lines landed effects first must not exhaust Python's recursion."""
        path, on_path = [index], {index}
        while path:
            node = path[-1]
            causes = cause_lines(node)
            pending = next((c for c in causes if c not in placed and c not in on_path), None)
            if pending is not None:
                path.append(pending)
                on_path.add(pending)
                continue
            found = [placed[c] for c in causes if c in placed]  # a cause on the path: a loop
            if not found:  # a root, or a malformed trace's loop
                placed[node] = (roots.get(node, len(roots)), 0)
            else:
                root = max(r for r, _ in found)
                placed[node] = (root, 1 + max(d for r, d in found if r == root))
            path.pop()
            on_path.discard(node)
        return placed[index]

    handled: dict[tuple[str, str], int] = {}  # (service, message id) -> its handlings so far
    keyed: list[tuple[tuple[Any, ...], int, TraceEvent]] = []
    for index, entry in enumerate(trace):
        message_id, service = id_of(entry), str(entry.get("service", ""))
        event = message_of(entry, "")
        if entry.get("op") in ORIGIN_OPS:
            root, depth = place(index)
            target = who(entry.get("target", ""))
            key: tuple[Any, ...] = (root, depth, 0, who(service), event, target, message_id, (-1, ""), 0)
        else:
            source = origin_of(message_id, index)
            root, depth = place(source) if source is not None else (len(roots), 0)
            producer = trace[source].get("service", "") if source is not None else ""
            seen = handled.get((service, message_id), 0)
            handled[service, message_id] = seen + 1
            key = (root, depth, 1, who(producer), event, who(""), message_id, who(service), seen)
        keyed.append((key, index, entry))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in keyed]


def diagram_from_flow(
    steps: Sequence[Any],
    participants: Sequence[tuple[str, str]],
    *,
    broker: str = "Event broker",
    events: Sequence[Any] = (),
) -> str:
    """The declared flow as a diagram (used when no trace is available).

    ``events`` are the bundle's message declarations: with them a call is drawn to each
    of its consumers, a reply back to the caller, a ``parallel`` step's calls as a ``par``
    block and an ``on_timeout`` step as its note. Without them every message is drawn
    through the broker, as before interaction styles existed."""
    declared = {e.name: e for e in events}
    reply_kinds = {r for e in events for r in e.replies} | {e.name for e in events if e.kind == "reply"}
    calls: dict[tuple[str, str], str] = {}  # (call kind, callee) -> id of the latest such call
    fake: list[dict[str, Any]] = []
    for s_index, step in enumerate(steps):
        for trigger in step.triggers:
            if getattr(declared.get(trigger), "via", "broker") == "broker":
                fake.append({"op": "consume", "service": step.actor, "event": trigger})
        if getattr(step, "on_timeout", None):
            fake.append({"op": "timeout", "service": step.actor, "message": step.on_timeout})
        for name in step.emits:
            event = declared.get(name)
            via = getattr(event, "via", "broker")
            if via == "broker":
                fake.append({"op": "publish", "service": step.actor, "event": name})
                continue
            receivers = list(event.consumers) if event is not None else []
            if name in reply_kinds:  # back to the caller, answering the call this step got
                call_id = next((calls[t, step.actor] for t in step.triggers if (t, step.actor) in calls), None)
                for caller in receivers:
                    fake.append({"op": "reply", "service": step.actor, "target": caller, "message": name,
                                 **({"reply_to": call_id} if call_id else {})})
                continue
            for target in receivers:
                call_id = f"flow-{s_index}-{name}-{target}"
                calls[name, target] = call_id
                line: dict[str, Any] = {"op": via, "service": step.actor, "target": target, "message": name,
                                        "id": call_id}
                if getattr(step, "parallel", False):
                    line["group"] = f"step-{s_index}"
                fake.append(line)
    return diagram_from_trace(fake, participants, broker=broker)


@dataclass(frozen=True)
class FlowCheck:
    """What to compare: the declared flow steps and the messages' declarations.

    ``events`` (name -> declaration, with ``producers``, ``via``, ``kind``) lets the check
    judge producers, joins and unanswered calls; ``wait_places`` are the lines of each step's
    ``join``/``reacts_to``/``on_timeout``; ``demand_answers`` is true on the happy path, where
    every declared consumer must react and every call must be answered (a failure path may
    stop before)."""

    steps: Sequence[Any]
    consumers: Mapping[str, Sequence[str]]
    flow_place: Place
    step_places: Sequence[Place]
    event_places: Mapping[str, Place]
    snippet: str
    events: Mapping[str, Any] = field(default_factory=dict)
    producer_places: Mapping[str, Place] = field(default_factory=dict)
    wait_places: Sequence[Place] = ()
    demand_answers: bool = True


def check_trace(trace: Sequence[TraceEvent], check: FlowCheck) -> list[Problem]:
    """Compare a run's trace with its declared flow; each mismatch names the metadata line."""
    problems: list[Problem] = []
    emitted = [(i, e) for i, e in enumerate(trace) if e.get("op") in EMIT_OPS]
    names_emitted = {message_of(e) for _, e in emitted}
    declared_emits: dict[str, int] = {}
    for index, step in enumerate(check.steps):
        for name in step.emits:
            declared_emits.setdefault(name, index)
    where = f"(run of {check.snippet})"
    for name, index in declared_emits.items():
        if name not in names_emitted:
            problems.append(Problem(
                f"declared event '{name}' was never emitted {where}",
                check.step_places[index],
                "the code no longer does what the flow says: fix the code or the flow",
            ))
    for name in sorted(names_emitted - set(declared_emits)):
        problems.append(Problem(
            f"event '{name}' was emitted but the flow does not declare it {where}",
            check.flow_place,
            "add a step that emits it, or stop emitting it",
        ))
    problems.extend(_producer_problems(emitted, check, where))
    receivers: dict[str, set[str]] = {}
    for entry in trace:
        if entry.get("op") == "consume":
            receivers.setdefault(message_of(entry), set()).add(str(entry.get("service")))
        elif entry.get("op") in DIRECT_OPS:
            receivers.setdefault(message_of(entry), set()).add(str(entry.get("target")))
    for name in declared_emits:
        if name not in names_emitted:
            continue
        for consumer in check.consumers.get(name, ()):
            if consumer not in receivers.get(name, set()):
                problems.append(Problem(
                    f"'{consumer}' is declared to consume '{name}' but never reacted to it {where}",
                    check.event_places.get(name, check.flow_place),
                    "subscribe the consumer, or remove it from the event's consumers",
                ))
    if check.demand_answers:
        problems.extend(_unanswered_calls(trace, check, where))
    problems.extend(_order_problems(trace, emitted, check, where))
    return problems


def _producer_problems(emitted: Sequence[tuple[int, TraceEvent]], check: FlowCheck, where: str) -> list[Problem]:
    """A message sent by someone its declaration does not name as a producer."""
    problems: list[Problem] = []
    reported: set[tuple[str, str]] = set()
    for _, entry in emitted:
        name, service = message_of(entry), str(entry.get("service"))
        event = check.events.get(name)
        if event is None or service in event.producers or (name, service) in reported:
            continue
        reported.add((name, service))
        problems.append(Problem(
            f"'{name}' was sent by '{service}', which is not among its producers {where}",
            check.producer_places.get(name, check.flow_place),
            f"add '{service}' to the producer of '{name}', or send it from one of its producers",
        ))
    return problems


def _unanswered_calls(trace: Sequence[TraceEvent], check: FlowCheck, where: str) -> list[Problem]:
    """A call of a declared ``via: call`` kind that neither a reply nor a timeout answered."""
    answered = {str(e.get("reply_to")) for e in trace
                if e.get("op") in ("reply", "timeout") and e.get("reply_to") is not None}
    problems: list[Problem] = []
    reported: set[str] = set()
    for entry in trace:
        name = message_of(entry)
        if entry.get("op") != "call" or name in reported:
            continue
        if getattr(check.events.get(name), "via", None) != "call":
            continue
        if id_of(entry) and id_of(entry) in answered:
            continue
        reported.add(name)
        problems.append(Problem(
            f"call '{name}' from '{entry.get('service')}' to '{entry.get('target')}' got no reply and "
            f"no timeout {where}",
            check.event_places.get(name, check.flow_place),
            "record the answer (a 'reply' or 'timeout' line with reply_to set to the call's id); "
            "a call left unanswered belongs in a failure path",
        ))
    return problems


def _waits_for_several(step: Any, events: Mapping[str, Any]) -> bool:
    """A join: several kinds, one kind from several producers, or an explicit ``join``."""
    return (len(step.triggers) > 1 or getattr(step, "join", None) is not None
            or any(len(events[t].producers) > 1 for t in step.triggers if t in events))


def _order_problems(trace: Sequence[TraceEvent], emitted: Sequence[tuple[int, TraceEvent]],
                    check: FlowCheck, where: str) -> list[Problem]:
    """Causal order: a step "on X emits Y" means Y was caused by an X; a join, by what it
    waited for; an ``on_timeout: M`` step, by a timeout of M."""
    problems: list[Problem] = []
    by_id = {id_of(e): e for e in trace if e.get("op") in ORIGIN_OPS and id_of(e)}
    for index, step in enumerate(check.steps):
        place = check.wait_places[index] if index < len(check.wait_places) else check.step_places[index]
        several = _waits_for_several(step, check.events)
        for name in step.emits:
            producers = getattr(check.events.get(name), "producers", ())
            lines = [(i, e) for i, e in emitted if message_of(e) == name
                     and (len(producers) <= 1 or str(e.get("service")) == step.actor)]
            seen = _Receipts(trace, step.actor)  # cheap until a join asks it
            for position, entry in lines:
                causes = [by_id[c] for c in causes_of(entry) if c in by_id]
                problem = (_timeout_problem(step, name, causes) if getattr(step, "on_timeout", None)
                           else _join_problem(seen.upto(position), step, name, causes, check.events) if several
                           else _single_problem(step, name, causes))
                if problem:
                    # a plain "on X" mismatch names the emits line, as it always did
                    waits = several or getattr(step, "on_timeout", None)
                    problems.append(Problem(f"{problem} {where}", place if waits else check.step_places[index],
                                            "the causal order differs from the declared flow"))
                    break
    return problems


def _observed(causes: Sequence[TraceEvent]) -> str:
    return " and ".join(f"'{message_of(c)}'" for c in causes) if causes else "nothing"


def _single_problem(step: Any, name: str, causes: Sequence[TraceEvent]) -> str:
    if not step.triggers:
        return ""  # a start step may also be re-triggered; not an ordering error
    if causes and all(message_of(c) in step.triggers for c in causes):
        return ""
    expected = " or ".join(f"'{t}'" for t in step.triggers)
    wrong = [c for c in causes if message_of(c) not in step.triggers]
    return f"'{name}' should follow {expected} but was caused by {_observed(wrong[:1] or causes)}"


def _timeout_problem(step: Any, name: str, causes: Sequence[TraceEvent]) -> str:
    if any(c.get("op") == "timeout" and message_of(c) == step.on_timeout for c in causes):
        return ""
    return f"'{name}' should follow a timeout of '{step.on_timeout}' but was caused by {_observed(causes)}"


def _join_problem(before: _Receipts, step: Any, name: str, causes: Sequence[TraceEvent],
                  events: Mapping[str, Any]) -> str:
    """Whether the step waited as its ``join`` says (default: for all it awaits)."""
    from .model import parse_join

    wrong = [c for c in causes if message_of(c) not in step.triggers]
    if wrong:
        expected = " or ".join(f"'{t}'" for t in step.triggers)
        return f"'{name}' should follow {expected} but was caused by {_observed(wrong[:1])}"
    mode, count, deadline = parse_join(step.join or "all")
    kinds = " and ".join(f"'{t}'" for t in step.triggers)
    replies = all(getattr(events.get(t), "kind", "") == "reply" for t in step.triggers)
    noun = "replies" if replies else "messages"
    followed = len({id_of(c) for c in causes})
    timed_out = any(c.get("op") == "timeout" for c in causes) or before.timed_out
    if mode == "all":
        awaited = [(t, p) for t in step.triggers for p in (getattr(events.get(t), "producers", None) or [None])]
        got = {(message_of(c), str(c.get("service"))) for c in causes}
        got |= before.got
        missing = [(t, p) for t, p in awaited
                   if not any(k == t and (p is None or s == p) for k, s in got)]
        if not missing:
            return ""
        absent = ", ".join(f"'{t}' from '{p}'" if p else f"'{t}'" for t, p in missing)
        return (f"'{name}' should wait for all {len(awaited)} {kinds} {noun} but followed "
                f"{len(awaited) - len(missing)} (missing {absent})")
    if mode == "first" and count is not None:
        if followed >= count or (deadline and timed_out):
            return ""
        either = " or a deadline" if deadline else ""
        return f"'{name}' should wait for the first {count} {kinds} {noun}{either} but followed {followed}"
    if followed or timed_out:
        return ""
    return f"'{name}' should wait for {kinds} {noun} until a deadline but followed none and recorded no timeout"


class _Receipts:
    """What one actor received, and whether it recorded a timeout, before a trace position.

    Positions are asked in increasing order (the lines a step emitted, in trace order), so
    one pass over the trace serves them all: a join over a long trace stays linear."""

    def __init__(self, trace: Sequence[TraceEvent], actor: str) -> None:
        self.trace, self.actor = trace, actor
        self._senders: dict[str, str] | None = None
        self.got: set[tuple[str, str]] = set()  # (kind, sender)
        self.timed_out = False
        self.position = 0

    @property
    def senders(self) -> dict[str, str]:
        """Publisher of each published id: who sent what a ``consume`` line received."""
        if self._senders is None:
            self._senders = {id_of(e): str(e.get("service")) for e in self.trace if e.get("op") == "publish"}
        return self._senders

    def upto(self, position: int) -> _Receipts:
        for entry in self.trace[self.position:position]:
            op = entry.get("op")
            if op == "consume" and str(entry.get("service")) == self.actor:
                self.got.add((message_of(entry), self.senders.get(id_of(entry), "")))
            elif op in DIRECT_OPS and str(entry.get("target")) == self.actor:
                self.got.add((message_of(entry), str(entry.get("service"))))
            elif op == "timeout" and str(entry.get("service")) == self.actor:
                self.timed_out = True
        self.position = max(self.position, position)
        return self


def message_edges(steps: Iterable[Any], events: Iterable[Any] = ()) -> list[tuple[str, str]]:
    """The edges of the message graph (X -> Y when handling X emits Y) that can loop.

    A call's reply is left out: it goes back to whoever called, it triggers nothing new by
    itself, so "ChargeCard -> PaymentCharged" is a round trip, never a cycle."""
    answers = {(e.name, reply) for e in events for reply in e.replies}
    return [(trigger, emitted) for step in steps for trigger in step.triggers for emitted in step.emits
            if (trigger, emitted) not in answers]


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
