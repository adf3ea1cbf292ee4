"""Traces: diagrams drawn from runs, checks against declared flows, event cycles."""

from __future__ import annotations

from typing import Any

from pattern_articles.content.model import Step as ModelStep
from pattern_articles.content.trace import FlowCheck, check_trace, diagram_from_flow, diagram_from_trace, event_cycles
from pattern_articles.errors import Place

PARTS = [("order", "Order service"), ("payment", "Payment service"), ("shipping", "Shipping service")]


def Step(actor: str, action: str = "", **keys: Any) -> ModelStep:
    """A real flow step of the model (what the check receives from a bundle)."""
    return ModelStep(actor=actor, action=action, **keys)


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


# -- causal order: concurrent processes draw the same diagram every time ---------------------

def entry(op: str, service: str, event: str, event_id: str, pid: int, caused_by: str | None = None,
          correlation_id: str = "o1") -> dict[str, object]:
    return {"op": op, "service": service, "event": event, "event_id": event_id,
            "correlation_id": correlation_id, "caused_by": caused_by, "pid": pid}


# Two orders placed by one driver (pid 1); payment (2), inventory (3), shipping (4) race.
RACE = [
    entry("publish", "client", "PlaceOrder", "a0", 1),
    entry("publish", "client", "PlaceOrder", "b0", 1, correlation_id="o2"),
    entry("consume", "order", "PlaceOrder", "a0", 5),
    entry("publish", "order", "OrderPlaced", "a1", 5, "a0"),
    entry("consume", "order", "PlaceOrder", "b0", 5, correlation_id="o2"),
    entry("publish", "order", "OrderPlaced", "b1", 5, "b0", correlation_id="o2"),
    entry("consume", "inventory", "OrderPlaced", "a1", 3),
    entry("publish", "inventory", "StockReserved", "a3", 3, "a1"),
    entry("consume", "payment", "OrderPlaced", "a1", 2),
    entry("publish", "payment", "PaymentCompleted", "a2", 2, "a1"),
    entry("consume", "shipping", "StockReserved", "a3", 4),
    entry("consume", "shipping", "PaymentCompleted", "a2", 4),
    entry("publish", "shipping", "ShipmentScheduled", "a4", 4, "a2"),
    entry("consume", "payment", "OrderPlaced", "b1", 2, correlation_id="o2"),
]
RACE_PARTS = [("client", "Client"), ("order", "Order"), ("payment", "Payment"), ("inventory", "Inventory"),
              ("shipping", "Shipping")]


def test_concurrent_runs_draw_one_diagram_whatever_the_arrival_order() -> None:
    """Payment and Inventory raced; which of their lines landed first must not show."""
    import random

    expected = diagram_from_trace(RACE, RACE_PARTS)
    shuffler = random.Random(7)
    for _ in range(50):
        # any arrival order that keeps each process's own lines in order
        queues = {}
        for line in RACE:
            queues.setdefault(line["pid"], []).append(line)
        arrived: list[dict[str, object]] = []
        while queues:
            pid = shuffler.choice(sorted(queues))  # type: ignore[type-var]
            arrived.append(queues[pid].pop(0))
            if not queues[pid]:
                del queues[pid]
        assert diagram_from_trace(arrived, RACE_PARTS) == expected


def test_causal_order_puts_causes_first_and_orders_by_the_driver() -> None:
    from pattern_articles.content.trace import causal_order

    # the consumer's line landed before its producer's publish line
    late = [RACE[0], RACE[2], RACE[1], RACE[4], RACE[5], RACE[3]]
    order = [(e["op"], e["event_id"]) for e in causal_order(late, [p for p, _ in RACE_PARTS])]
    assert order == [("publish", "a0"), ("consume", "a0"), ("publish", "a1"),
                     ("publish", "b0"), ("consume", "b0"), ("publish", "b1")]


def test_a_crash_stays_before_its_redelivery_and_a_retried_publish_after_the_first_chain() -> None:
    from pattern_articles.content.trace import causal_order

    trace = [
        entry("publish", "order", "OrderPlaced", "e1", 1),
        entry("crash", "payment", "OrderPlaced", "e1", 2),
        entry("redeliver", "payment", "OrderPlaced", "e1", 3),
        entry("consume", "payment", "OrderPlaced", "e1", 3),
        entry("publish", "payment", "PaymentCompleted", "e2", 3, "e1"),
        entry("publish", "order", "OrderPlaced", "e1", 1),  # the publisher retries
        entry("duplicate", "payment", "OrderPlaced", "e1", 3),
    ]
    assert causal_order(trace, ["order", "payment"]) == trace


def test_one_process_trace_is_drawn_as_written() -> None:
    from pattern_articles.content.trace import causal_order

    single = [dict(line, pid=1) for line in RACE]
    assert causal_order(single) == single


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


def test_broker_traces_draw_exactly_as_before_interaction_styles() -> None:
    """Pinned from the drawing of main before issue 20: a broker bundle's diagrams must not
    change by a byte (cached pages, goldens of built sites, readers' bookmarks)."""
    assert diagram_from_trace(RACE, RACE_PARTS).split("\n") == [
        "sequenceDiagram",
        "    participant client as Client",
        "    participant broker as Event broker",
        "    participant order as Order",
        "    participant payment as Payment",
        "    participant inventory as Inventory",
        "    participant shipping as Shipping",
        "    client->>broker: PlaceOrder (o1)",
        "    broker->>order: PlaceOrder (o1)",
        "    order->>broker: OrderPlaced (o1)",
        "    broker->>payment: OrderPlaced (o1)",
        "    broker->>inventory: OrderPlaced (o1)",
        "    payment->>broker: PaymentCompleted (o1)",
        "    inventory->>broker: StockReserved (o1)",
        "    broker->>shipping: PaymentCompleted (o1)",
        "    broker->>shipping: StockReserved (o1)",
        "    shipping->>broker: ShipmentScheduled (o1)",
        "    client->>broker: PlaceOrder (o2)",
        "    broker->>order: PlaceOrder (o2)",
        "    order->>broker: OrderPlaced (o2)",
        "    broker->>payment: OrderPlaced (o2)",
    ]
    assert diagram_from_trace(TRACE, PARTS, broker="Redis Streams", title="Happy").split("\n") == [
        "sequenceDiagram",
        "    title Happy",
        "    participant order as Order service",
        "    participant broker as Redis Streams",
        "    participant payment as Payment service",
        "    participant shipping as Shipping service",
        "    order->>broker: OrderPlaced",
        "    broker->>payment: OrderPlaced",
        "    payment->>broker: PaymentCompleted",
        "    broker->>shipping: PaymentCompleted",
        "    broker-->>shipping: PaymentCompleted (again)",
        "    Note over shipping: already processed: ignored",
        "    shipping->>broker: ShipmentScheduled",
    ]
