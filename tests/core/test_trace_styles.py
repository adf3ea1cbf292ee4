"""Interaction styles in traces: direct calls and replies, timeouts, hand-offs, fan-outs drawn
as ``par`` blocks, joins over several producers, and the checks against declared flows."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from pattern_articles.content.model import Event, Step
from pattern_articles.content.trace import (
    FlowCheck,
    causal_order,
    check_trace,
    diagram_from_flow,
    diagram_from_trace,
    event_cycles,
    message_edges,
)
from pattern_articles.errors import Place

PARTS = [("orch", "Orchestrator"), ("acme", "Acme"), ("bolt", "Bolt"), ("cogs", "Cogs"), ("pay", "Payment")]

EVENTS = [
    Event(name="AskQuote", via="call", kind="request", producer="orch", consumers=["acme", "bolt", "cogs"],
          replies=["Quote"]),
    Event(name="Quote", via="call", kind="reply", producer=["acme", "bolt", "cogs"], consumers=["orch"]),
    Event(name="Chosen", producer="orch"),
    Event(name="ChargeCard", via="call", kind="request", producer="orch", consumers=["pay"],
          replies=["PaymentCharged"]),
    Event(name="PaymentCharged", via="call", kind="reply", producer="pay", consumers=["orch"]),
    Event(name="GiveUp", producer="orch"),
]


def call(caller: str, callee: str, message: str, ident: str, pid: int, group: str | None = None,
         caused_by: Any = None, **more: Any) -> dict[str, Any]:
    line = {"op": "call", "service": caller, "target": callee, "message": message, "id": ident,
            "caused_by": caused_by, "pid": pid, **more}
    if group:
        line["group"] = group
    return line


def reply(callee: str, caller: str, message: str, ident: str, reply_to: str, pid: int) -> dict[str, Any]:
    return {"op": "reply", "service": callee, "target": caller, "message": message, "id": ident,
            "reply_to": reply_to, "pid": pid}


def timeout(caller: str, message: str, ident: str, reply_to: str, pid: int) -> dict[str, Any]:
    return {"op": "timeout", "service": caller, "message": message, "id": ident, "reply_to": reply_to, "pid": pid}


# scatter-gather: three suppliers asked together, two answer, the third is too slow
GATHER = [
    call("orch", "acme", "AskQuote", "c1", 1, group="quotes"),
    call("orch", "bolt", "AskQuote", "c2", 1, group="quotes"),
    call("orch", "cogs", "AskQuote", "c3", 1, group="quotes"),
    reply("acme", "orch", "Quote", "r1", "c1", 2),
    reply("bolt", "orch", "Quote", "r2", "c2", 3),
    timeout("orch", "AskQuote", "t3", "c3", 1),
    {"op": "publish", "service": "orch", "message": "Chosen", "id": "p1", "caused_by": ["r1", "r2"], "pid": 1},
]


def steps(join: str | None = None) -> list[Step]:
    gather = Step(actor="orch", action="chooses", reacts_to="Quote", emits=["Chosen"],
                  **({"join": join} if join else {}))
    return [
        Step(actor="orch", action="asks", parallel=True, emits=["AskQuote"]),
        Step(actor="acme", action="quotes", reacts_to="AskQuote", emits=["Quote"]),
        Step(actor="bolt", action="quotes", reacts_to="AskQuote", emits=["Quote"]),
        Step(actor="cogs", action="quotes", reacts_to="AskQuote", emits=["Quote"]),
        gather,
    ]


def make_check(flow: list[Step], *, happy: bool = True, consumers: dict[str, list[str]] | None = None) -> FlowCheck:
    path = Path("bundle.yml")
    return FlowCheck(
        steps=flow,
        consumers=consumers or {},
        flow_place=Place(path, 10),
        step_places=[Place(path, 20 + i) for i in range(len(flow))],
        event_places={e.name: Place(path, 40 + i) for i, e in enumerate(EVENTS)},
        snippet="gather.py",
        events={e.name: e for e in EVENTS},
        producer_places={e.name: Place(path, 60 + i) for i, e in enumerate(EVENTS)},
        wait_places=[Place(path, 80 + i) for i in range(len(flow))],
        demand_answers=happy,
    )


def balanced(diagram: str) -> None:
    """Mermaid's block grammar: every ``par`` ends, ``and`` only inside one, no nesting here."""
    depth = 0
    for line in diagram.split("\n")[1:]:
        word = line.strip().split(" ")[0]
        if word == "par":
            assert depth == 0, diagram
            depth += 1
        elif word == "and":
            assert depth == 1, diagram
        elif word == "end":
            assert depth == 1, diagram
            depth -= 1
        else:
            assert re.match(r"^\s+(participant |title |Note over |\w+(->>|-->>|-\)))", line), line
    assert depth == 0, diagram


# -- diagrams -----------------------------------------------------------------------------

def test_a_call_only_trace_has_no_broker_lane() -> None:
    trace = [call("orch", "pay", "ChargeCard", "c1", 1), reply("pay", "orch", "PaymentCharged", "r1", "c1", 2)]
    diagram = diagram_from_trace(trace, PARTS, broker="Redis Streams")
    assert "broker" not in diagram and "Redis" not in diagram
    assert diagram.split("\n") == [
        "sequenceDiagram",
        "    participant orch as Orchestrator",
        "    participant pay as Payment",
        "    orch->>pay: ChargeCard",
        "    pay-->>orch: PaymentCharged",
    ]
    balanced(diagram)


def test_a_publish_brings_the_broker_lane_with_its_name() -> None:
    trace = [call("orch", "pay", "ChargeCard", "c1", 1), reply("pay", "orch", "PaymentCharged", "r1", "c1", 1),
             {"op": "publish", "service": "orch", "event": "Chosen", "event_id": "e1", "caused_by": "r1", "pid": 1}]
    lines = diagram_from_trace(trace, PARTS, broker="Redis Streams").split("\n")
    assert lines[1:4] == ["    participant orch as Orchestrator", "    participant broker as Redis Streams",
                          "    participant pay as Payment"]
    assert lines[-1] == "    orch->>broker: Chosen"


def test_async_call_send_drop_and_timeout_are_drawn_as_what_they_are() -> None:
    trace = [
        call("orch", "pay", "ChargeCard", "c1", 1, **{"async": True}),
        timeout("orch", "ChargeCard", "t1", "c1", 1),
        {"op": "send", "service": "acme", "target": "bolt", "message": "Record", "id": "s1", "pid": 1},
        {"op": "drop", "service": "bolt", "message": "Record", "id": "s1", "pid": 1},
    ]
    lines = diagram_from_trace(trace, PARTS).split("\n")
    assert lines[-4:] == [
        "    orch-)pay: ChargeCard",
        "    Note over orch: no reply to ChargeCard in time",
        "    acme->>bolt: Record",
        "    Note over bolt: dropped Record",
    ]
    assert not any("broker" in line for line in lines)


def test_a_fan_out_is_one_par_block_with_each_answer_in_its_branch() -> None:
    diagram = diagram_from_trace(GATHER, PARTS)
    balanced(diagram)
    body = diagram.split("\n")
    start = body.index("    par AskQuote to Acme")
    assert body[start:start + 11] == [
        "    par AskQuote to Acme",
        "        orch->>acme: AskQuote",
        "        acme-->>orch: Quote",
        "    and AskQuote to Bolt",
        "        orch->>bolt: AskQuote",
        "        bolt-->>orch: Quote",
        "    and AskQuote to Cogs",
        "        orch->>cogs: AskQuote",
        "        Note over orch: no reply to AskQuote in time",
        "    end",
        "    orch->>broker: Chosen",  # what followed stays in sequence after the block
    ]
    assert diagram.count("AskQuote in time") == 1 and diagram.count("-->>orch: Quote") == 2


def test_a_group_of_one_is_no_par_block() -> None:
    trace = [call("orch", "pay", "ChargeCard", "c1", 1, group="g"),
             reply("pay", "orch", "PaymentCharged", "r", "c1", 1)]
    diagram = diagram_from_trace(trace, PARTS)
    assert "par" not in diagram.split() and "end" not in diagram.split()


def test_groups_of_different_callers_or_names_are_separate_blocks() -> None:
    trace = [
        call("orch", "acme", "AskQuote", "a1", 1, group="g1"),
        call("orch", "bolt", "AskQuote", "a2", 1, group="g1"),
        call("pay", "acme", "AskQuote", "b1", 1, group="g1"),
        call("pay", "bolt", "AskQuote", "b2", 1, group="g1"),
    ]
    diagram = diagram_from_trace(trace, PARTS)
    balanced(diagram)
    assert [line.strip().split(" ")[0] for line in diagram.split("\n")].count("par") == 2


def test_hostile_targets_and_groups_stay_labels() -> None:
    trace = [
        call("orch", "end\nclick x", "Ask\nend", "c1", 1, group="g"),
        call("orch", "par", "Ask;#", "c2", 1, group="g"),
        reply("par", "orch", "Quote\n    end", "r2", "c2", 1),
    ]
    diagram = diagram_from_trace(trace, [("orch", "Orchestrator")])
    balanced(diagram)
    assert "click" not in [line.strip().split(" ")[0] for line in diagram.split("\n")]
    assert "    participant par_ as par" in diagram.split("\n")


def test_message_and_id_are_aliases_of_event_and_event_id() -> None:
    old = [{"op": "publish", "service": "orch", "event": "Chosen", "event_id": "e1", "pid": 1},
           {"op": "consume", "service": "pay", "event": "Chosen", "event_id": "e1", "pid": 2}]
    new = [{"op": "publish", "service": "orch", "message": "Chosen", "id": "e1", "pid": 1},
           {"op": "consume", "service": "pay", "message": "Chosen", "id": "e1", "pid": 2}]
    assert diagram_from_trace(old, PARTS) == diagram_from_trace(new, PARTS)
    assert [e["op"] for e in causal_order(list(reversed(new)))] == ["publish", "consume"]


# -- causal order ---------------------------------------------------------------------------

# an orchestrator (pid 1) calls payment (2) and, in parallel, two suppliers (3, 4); each reply
# lands whenever its process wrote it
CALLS = [
    {"op": "publish", "service": "client", "event": "PlaceOrder", "event_id": "o1", "pid": 9},
    call("orch", "pay", "ChargeCard", "c1", 1, caused_by="o1"),
    reply("pay", "orch", "PaymentCharged", "r1", "c1", 2),
    call("orch", "acme", "AskQuote", "c2", 1, group="q", caused_by="r1"),
    call("orch", "bolt", "AskQuote", "c3", 1, group="q", caused_by="r1"),
    reply("acme", "orch", "Quote", "r2", "c2", 3),
    reply("bolt", "orch", "Quote", "r3", "c3", 4),
    {"op": "publish", "service": "orch", "event": "Chosen", "event_id": "e9", "caused_by": ["r2", "r3"], "pid": 1},
    {"op": "consume", "service": "pay", "event": "Chosen", "event_id": "e9", "pid": 2},
]


def arrivals(trace: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """An arrival order that keeps each process's own lines in order."""
    shuffler = random.Random(seed)
    queues: dict[int, list[dict[str, Any]]] = {}
    for line in trace:
        queues.setdefault(line["pid"], []).append(line)
    out: list[dict[str, Any]] = []
    while queues:
        pid = shuffler.choice(sorted(queues))
        out.append(queues[pid].pop(0))
        if not queues[pid]:
            del queues[pid]
    return out


def test_calls_and_replies_from_several_processes_draw_one_diagram() -> None:
    parts = [("client", "Client"), *PARTS]
    expected = diagram_from_trace(CALLS, parts)
    balanced(expected)
    orders = set()
    for seed in range(60):
        arrived = arrivals(CALLS, seed)
        orders.add(tuple(line["pid"] for line in arrived))
        assert diagram_from_trace(arrived, parts) == expected
    assert len(orders) > 10  # the shuffles really varied the arrival order
    ops = [(e["op"], e.get("id", e.get("event_id"))) for e in causal_order(CALLS, [p for p, _ in parts])]
    assert ops == [("publish", "o1"), ("call", "c1"), ("reply", "r1"), ("call", "c2"), ("call", "c3"),
                   ("reply", "r2"), ("reply", "r3"), ("publish", "e9"), ("consume", "e9")]


def test_a_join_sorts_after_its_furthest_cause() -> None:
    trace = [
        {"op": "publish", "service": "acme", "event": "A", "event_id": "a", "pid": 1},
        {"op": "publish", "service": "bolt", "event": "B", "event_id": "b", "pid": 2},
        {"op": "publish", "service": "acme", "event": "A2", "event_id": "a2", "caused_by": "a", "pid": 1},
        {"op": "publish", "service": "orch", "event": "Both", "event_id": "j", "caused_by": ["a2", "b"], "pid": 3},
    ]
    for seed in range(20):
        ordered = [e["event_id"] for e in causal_order(arrivals(trace, seed), [p for p, _ in PARTS])]
        assert ordered.index("j") > max(ordered.index("a2"), ordered.index("b")), ordered


def test_one_process_with_a_fan_out_is_ordered_by_cause_not_by_timing() -> None:
    """asyncio in one process: which supplier answered first is timing, not meaning."""
    single = [dict(line, pid=1) for line in GATHER]
    swapped = [single[0], single[1], single[2], single[4], single[5], single[3], single[6]]
    assert diagram_from_trace(single, PARTS) == diagram_from_trace(swapped, PARTS)


def test_one_process_without_concurrency_is_still_drawn_as_written() -> None:
    trace = [call("orch", "pay", "ChargeCard", "c1", 1), reply("pay", "orch", "PaymentCharged", "r1", "c1", 1),
             call("orch", "acme", "AskQuote", "c0", 1)]
    assert causal_order(trace) == trace


# -- the declared-flow check ------------------------------------------------------------------

def test_a_gather_that_waited_as_declared_passes() -> None:
    for join in ("first 2", "deadline", "first 2 or deadline", "first 3 or deadline"):
        assert check_trace(GATHER, make_check(steps(join))) == [], join


def test_join_all_names_the_missing_producer_and_the_step_line() -> None:
    problems = check_trace(GATHER, make_check(steps()))  # several producers: "all" by default
    assert [p.message for p in problems] == [
        "'Chosen' should wait for all 3 'Quote' replies but followed 2 (missing 'Quote' from 'cogs') "
        "(run of gather.py)"
    ]
    assert str(problems[0].place) == "bundle.yml:84"


def test_join_all_counts_what_the_actor_received_before_it_emitted() -> None:
    complete = [*GATHER[:5], reply("cogs", "orch", "Quote", "r3", "c3", 4), GATHER[6]]
    assert check_trace(complete, make_check(steps("all"))) == []
    late = [*GATHER[:5], GATHER[6], reply("cogs", "orch", "Quote", "r3", "c3", 4)]
    assert "followed 2" in check_trace(late, make_check(steps("all")))[0].message


def test_first_n_fails_below_n() -> None:
    one = [dict(line) for line in GATHER]
    one[-1]["caused_by"] = ["r1"]
    problems = check_trace(one, make_check(steps("first 2")))
    assert [p.message for p in problems] == [
        "'Chosen' should wait for the first 2 'Quote' replies but followed 1 (run of gather.py)"]
    assert str(problems[0].place) == "bundle.yml:84"
    assert check_trace(one, make_check(steps("first 2 or deadline"))) == []  # the deadline passed


def test_deadline_fails_with_nothing_and_no_timeout() -> None:
    bare = [GATHER[0], GATHER[1], GATHER[2], dict(GATHER[6], caused_by=None)]
    problems = check_trace(bare, make_check(steps("deadline")), )
    messages = [p.message for p in problems]
    assert ("'Chosen' should wait for 'Quote' replies until a deadline but followed none and recorded no "
            "timeout (run of gather.py)") in messages
    with_timeout = [*bare[:3], timeout("orch", "AskQuote", "t1", "c1", 1), bare[3]]
    assert not [m for m in (p.message for p in check_trace(with_timeout, make_check(steps("deadline"))))
                if "deadline" in m]


def test_a_join_caused_by_the_wrong_kind() -> None:
    wrong = [*GATHER[:6], dict(GATHER[6], caused_by=["r1", "c3"])]
    problems = check_trace(wrong, make_check(steps("first 2")))
    assert problems[0].message.startswith("'Chosen' should follow 'Quote' but was caused by 'AskQuote'")


def test_a_join_over_several_kinds() -> None:
    flow = [Step(actor="orch", action="asks", emits=["ChargeCard"]),
            Step(actor="pay", action="charges", reacts_to="ChargeCard", emits=["PaymentCharged"]),
            Step(actor="orch", action="asks", emits=["AskQuote"]),
            Step(actor="acme", action="q", reacts_to="AskQuote", emits=["Quote"]),
            Step(actor="orch", action="done", reacts_to=["PaymentCharged", "Quote"], join="all", emits=["GiveUp"])]
    events = {e.name: e for e in EVENTS}
    events["AskQuote"] = Event(name="AskQuote", via="call", producer="orch", consumers=["acme"], replies=["Quote"])
    events["Quote"] = Event(name="Quote", via="call", kind="reply", producer="acme", consumers=["orch"])
    trace = [call("orch", "pay", "ChargeCard", "c1", 1), reply("pay", "orch", "PaymentCharged", "r1", "c1", 2),
             call("orch", "acme", "AskQuote", "c2", 1), reply("acme", "orch", "Quote", "r2", "c2", 3),
             {"op": "publish", "service": "orch", "message": "GiveUp", "id": "g", "caused_by": ["r1", "r2"], "pid": 1}]
    check = FlowCheck(**{**make_check(flow).__dict__, "events": events})
    assert check_trace(trace, check) == []
    half = [*trace[:4], dict(trace[4], caused_by="r2")]
    assert check_trace(half, check) == []  # PaymentCharged reached orch before: it waited for all
    no_payment = [trace[2], trace[3], dict(trace[4], caused_by="r2"), trace[0]]
    messages = [p.message for p in check_trace(no_payment, check)]
    assert any("should wait for all 2 'PaymentCharged' and 'Quote' replies but followed 1 "
               "(missing 'PaymentCharged' from 'pay')" in m for m in messages), messages


def test_on_timeout_step() -> None:
    flow = [Step(actor="orch", action="charges", emits=["ChargeCard"]),
            Step(actor="orch", action="gives up", on_timeout="ChargeCard", emits=["GiveUp"])]
    trace = [call("orch", "pay", "ChargeCard", "c1", 1), timeout("orch", "ChargeCard", "t1", "c1", 1),
             {"op": "publish", "service": "orch", "message": "GiveUp", "id": "g", "caused_by": "t1", "pid": 1}]
    assert check_trace(trace, make_check(flow, happy=False)) == []
    wrong = [*trace[:2], dict(trace[2], caused_by="c1")]
    problems = check_trace(wrong, make_check(flow, happy=False))
    assert [p.message for p in problems] == [
        "'GiveUp' should follow a timeout of 'ChargeCard' but was caused by 'ChargeCard' (run of gather.py)"]
    assert str(problems[0].place) == "bundle.yml:81"


def test_a_sender_not_among_the_producers() -> None:
    trace = [*GATHER[:4], reply("pay", "orch", "Quote", "r2", "c2", 3), *GATHER[5:]]
    problems = check_trace(trace, make_check(steps("first 2")))
    assert [p.message for p in problems] == [
        "'Quote' was sent by 'pay', which is not among its producers (run of gather.py)"]
    assert str(problems[0].place) == "bundle.yml:61"


def test_an_unanswered_call_fails_only_on_the_happy_path() -> None:
    unanswered = [dict(line) for line in GATHER if line["op"] != "timeout"]
    flow = steps("first 2")
    problems = check_trace(unanswered, make_check(flow))
    assert [p.message for p in problems] == [
        "call 'AskQuote' from 'orch' to 'cogs' got no reply and no timeout (run of gather.py)"]
    assert str(problems[0].place) == "bundle.yml:40"
    assert check_trace(unanswered, make_check(flow, happy=False)) == []


def test_a_direct_receiver_counts_as_having_reacted() -> None:
    consumers = {"AskQuote": ["acme", "bolt", "cogs"], "Quote": ["orch"]}
    assert check_trace(GATHER, make_check(steps("first 2"), consumers=consumers)) == []
    missing = [line for line in GATHER if line.get("target") != "cogs" and line["op"] != "timeout"]
    problems = check_trace(missing, make_check(steps("first 2"), consumers=consumers))
    assert "'cogs' is declared to consume 'AskQuote' but never reacted to it (run of gather.py)" in [
        p.message for p in problems]


def test_a_single_trigger_step_keeps_its_message_and_line() -> None:
    flow = [Step(actor="orch", action="charges", emits=["ChargeCard"]),
            Step(actor="pay", action="answers", reacts_to="ChargeCard", emits=["PaymentCharged"])]
    trace = [call("orch", "pay", "ChargeCard", "c1", 1),
             dict(reply("pay", "orch", "PaymentCharged", "r1", "c1", 2), caused_by="nothing-known")]
    problems = check_trace(trace, make_check(flow))
    assert [p.message for p in problems] == [
        "'PaymentCharged' should follow 'ChargeCard' but was caused by nothing (run of gather.py)"]
    assert str(problems[0].place) == "bundle.yml:21"  # the emits line, as before
    assert check_trace([*trace[:1], reply("pay", "orch", "PaymentCharged", "r1", "c1", 2)], make_check(flow)) == []


# -- cycles and declared-flow diagrams ----------------------------------------------------------

def test_a_reply_is_not_a_cycle() -> None:
    flow = [Step(actor="orch", action="a", emits=["ChargeCard"]),
            Step(actor="pay", action="b", reacts_to="ChargeCard", emits=["PaymentCharged"]),
            Step(actor="orch", action="retry", reacts_to="PaymentCharged", emits=["ChargeCard"])]
    edges = message_edges(flow, EVENTS)
    assert ("ChargeCard", "PaymentCharged") not in edges and ("PaymentCharged", "ChargeCard") in edges
    assert event_cycles(edges) == []
    assert event_cycles(message_edges(flow)) == [["ChargeCard", "PaymentCharged", "ChargeCard"]]
    joined = [Step(actor="orch", action="x", reacts_to=["Chosen", "GiveUp"], emits=["Chosen"])]
    assert event_cycles(message_edges(joined, EVENTS)) == [["Chosen", "Chosen"]]


def test_declared_flow_diagram_draws_calls_replies_and_the_fan_out() -> None:
    flow = [*steps("first 2"), Step(actor="orch", action="gives up", on_timeout="AskQuote", emits=["GiveUp"])]
    diagram = diagram_from_flow(flow, PARTS, events=EVENTS, broker="Bus")
    balanced(diagram)
    lines = diagram.split("\n")
    start = lines.index("    par AskQuote to Acme")
    assert lines[start:start + 10] == [
        "    par AskQuote to Acme",
        "        orch->>acme: AskQuote",
        "        acme-->>orch: Quote",
        "    and AskQuote to Bolt",
        "        orch->>bolt: AskQuote",
        "        bolt-->>orch: Quote",
        "    and AskQuote to Cogs",
        "        orch->>cogs: AskQuote",
        "        cogs-->>orch: Quote",
        "    end",
    ]
    assert lines[start + 10:] == ["    orch->>broker: Chosen", "    Note over orch: no reply to AskQuote in time",
                                  "    orch->>broker: GiveUp"]
    assert "    participant broker as Bus" in lines


def test_declared_call_flow_has_no_broker_lane() -> None:
    flow = [Step(actor="orch", action="a", emits=["ChargeCard"]),
            Step(actor="pay", action="b", reacts_to="ChargeCard", emits=["PaymentCharged"])]
    diagram = diagram_from_flow(flow, PARTS, events=EVENTS)
    assert diagram.split("\n")[1:] == ["    participant orch as Orchestrator", "    participant pay as Payment",
                                       "    orch->>pay: ChargeCard", "    pay-->>orch: PaymentCharged"]


@pytest.mark.parametrize("events", [(), EVENTS])
def test_declared_broker_flow_is_drawn_as_before(events: Any) -> None:
    flow = [Step(actor="orch", action="a", emits=["Chosen"]),
            Step(actor="pay", action="b", reacts_to="Chosen", emits=["GiveUp"])]
    assert diagram_from_flow(flow, PARTS, events=events).split("\n")[1:] == [
        "    participant orch as Orchestrator", "    participant broker as Event broker",
        "    participant pay as Payment", "    orch->>broker: Chosen", "    broker->>pay: Chosen",
        "    pay->>broker: GiveUp"]


def test_a_long_chain_whose_effects_landed_first_is_ordered_without_recursion() -> None:
    """Thousands of hops, every line arriving before its cause's: no RecursionError."""
    chain = [{"op": "publish", "service": "orch", "event": "E", "event_id": f"e{i}",
              "caused_by": f"e{i - 1}" if i else None, "pid": i % 2} for i in range(5000)]
    assert causal_order(list(reversed(chain))) == chain
    loop = [{"op": "publish", "service": "orch", "event": "A", "event_id": "x", "caused_by": "y", "pid": 1},
            {"op": "publish", "service": "pay", "event": "B", "event_id": "y", "caused_by": "x", "pid": 2}]
    assert sorted(e["event_id"] for e in causal_order(loop)) == ["x", "y"]  # a malformed loop still ends
