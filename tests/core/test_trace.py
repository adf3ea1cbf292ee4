"""Traces: diagrams drawn from runs, checks against declared flows, event cycles."""

from __future__ import annotations

from dataclasses import dataclass, field

from pattern_articles.content.trace import FlowCheck, check_trace, diagram_from_flow, diagram_from_trace, event_cycles
from pattern_articles.errors import Place

PARTS = [("order", "Order service"), ("payment", "Payment service"), ("shipping", "Shipping service")]


@dataclass
class Step:
    actor: str
    action: str = ""
    reacts_to: str | None = None
    emits: list[str] = field(default_factory=list)


STEPS = [
    Step("order", emits=["OrderPlaced"]),
    Step("payment", reacts_to="OrderPlaced", emits=["PaymentCompleted"]),
    Step("shipping", reacts_to="PaymentCompleted", emits=["ShipmentScheduled"]),
]

TRACE = [
    {"op": "publish", "service": "order", "event": "OrderPlaced", "event_id": "e1", "correlation_id": "o1",
     "caused_by": None},
    {"op": "consume", "service": "payment", "event": "OrderPlaced", "event_id": "e1", "correlation_id": "o1"},
    {"op": "publish", "service": "payment", "event": "PaymentCompleted", "event_id": "e2", "correlation_id": "o1",
     "caused_by": "e1"},
    {"op": "consume", "service": "shipping", "event": "PaymentCompleted", "event_id": "e2", "correlation_id": "o1"},
    {"op": "duplicate", "service": "shipping", "event": "PaymentCompleted", "event_id": "e2",
     "correlation_id": "o1"},
    {"op": "publish", "service": "shipping", "event": "ShipmentScheduled", "event_id": "e3",
     "correlation_id": "o1", "caused_by": "e2"},
]


def make_check(consumers: dict[str, list[str]] | None = None) -> FlowCheck:
    return FlowCheck(
        steps=STEPS,
        consumers=consumers or {"OrderPlaced": ["payment"], "PaymentCompleted": ["shipping"]},
        flow_place=Place("bundle.yml", 10),
        step_places=[Place("bundle.yml", 11 + i) for i in range(len(STEPS))],
        event_places={"OrderPlaced": Place("bundle.yml", 3), "PaymentCompleted": Place("bundle.yml", 5)},
        snippet="flow.py::flow[happy-path]",
    )


def test_diagram_from_trace_draws_what_happened() -> None:
    text = diagram_from_trace(TRACE, PARTS)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant order as Order service" in lines
    assert "    participant broker as Event broker" in lines
    assert "    order->>broker: OrderPlaced" in lines
    assert "    broker->>payment: OrderPlaced" in lines
    assert "    Note over shipping: already processed: ignored" in lines
    assert lines.index("    participant order as Order service") < lines.index("    participant broker as Event broker")


def test_several_correlation_ids_are_labelled() -> None:
    trace = [dict(TRACE[0]), dict(TRACE[0], correlation_id="o2", event_id="e9")]
    text = diagram_from_trace(trace, PARTS)
    assert "OrderPlaced (o1)" in text and "OrderPlaced (o2)" in text


def test_diagram_from_flow() -> None:
    text = diagram_from_flow(STEPS, PARTS)
    assert "broker->>shipping: PaymentCompleted" in text
    assert "shipping->>broker: ShipmentScheduled" in text


def test_matching_trace_has_no_problems() -> None:
    assert check_trace(TRACE, make_check()) == []


def test_missing_event_names_the_step_line() -> None:
    problems = check_trace(TRACE[:-1], make_check())
    assert [str(p.place) for p in problems] == ["bundle.yml:13"]
    assert "declared event 'ShipmentScheduled' was never emitted" in problems[0].message


def test_undeclared_event_names_the_flow() -> None:
    extra = [*TRACE, {"op": "publish", "service": "shipping", "event": "Audit", "event_id": "e4",
                      "caused_by": "e3"}]
    problems = check_trace(extra, make_check())
    assert len(problems) == 1
    assert "'Audit' was emitted but the flow does not declare it" in problems[0].message
    assert str(problems[0].place) == "bundle.yml:10"


def test_consumer_that_never_reacts() -> None:
    problems = check_trace(TRACE, make_check({"OrderPlaced": ["payment", "inventory"]}))
    assert len(problems) == 1
    assert "'inventory' is declared to consume 'OrderPlaced' but never reacted" in problems[0].message
    assert str(problems[0].place) == "bundle.yml:3"


def test_different_causal_order() -> None:
    reordered = [dict(e) for e in TRACE]
    reordered[-1]["caused_by"] = "e1"  # shipment caused by OrderPlaced, not by PaymentCompleted
    problems = check_trace(reordered, make_check())
    assert len(problems) == 1
    assert "'ShipmentScheduled' should follow 'PaymentCompleted' but was caused by 'OrderPlaced'" in (
        problems[0].message
    )


def test_event_cycles() -> None:
    assert event_cycles([("A", "B"), ("B", "C")]) == []
    cycles = event_cycles([("A", "B"), ("B", "C"), ("C", "A"), ("C", "D")])
    assert cycles == [["A", "B", "C", "A"]]
    assert event_cycles([("X", "X")]) == [["X", "X"]]


def test_names_in_a_trace_cannot_add_mermaid_statements() -> None:
    # issue 23, item 15: a trace is the snippet's output; a newline in an event or service
    # name added statements of its own (a forged arrow, a click link)
    hostile = [
        {"op": "publish", "service": "order", "event": "Ok"},
        {"op": "publish", "service": "order\nclick order call alert()",
         "event": "OrderPlaced\n    payment->>broker: Forged; #1 <b>x</b>"},
        {"op": "consume", "service": "end", "event": "Esc\x1b[31m\x00Nul"},
        {"op": "crash", "service": "payment\r\nNote over order: fake", "event": "x\u2028y"},
    ]
    diagram = diagram_from_trace(hostile, [("order", "Order;\nservice #2")])
    lines = diagram.split("\n")
    statements = [line.strip().split(" ")[0] for line in lines[1:]]
    assert len(lines) == 1 + 1 + 4 + 4, diagram  # header, broker, 4 participants, 4 events
    assert not any(ch in diagram for ch in "\x1b\x00\r\u2028<"), diagram
    assert "payment->>broker" not in diagram and "click" not in statements
    assert "    participant end_ as end" in lines, "a keyword is not a participant id"
    assert "    participant order as Order#59; service #35;2" in lines
    assert "#59;" in diagram and "#35;1" in diagram and "#60;b#62;" in diagram  # shown, not obeyed
    assert lines[-1].startswith("    Note over payment__Note_over_order__fake: crashed while handling x y")
