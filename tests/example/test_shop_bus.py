"""The in-process bus and whole flows on it: delivery order, faults, compensations, envelopes."""

from __future__ import annotations

import pytest
from shop.bus import InProcessBus, RedisStreamsBus, bus_from_env
from shop.events import COMPENSATIONS, Event
from shop.scenarios import SCENARIOS, open_shop, order_status, place_order
from shop.services import Service

ORDER_ID = "order-7"


def run(scenario: str, bus: InProcessBus | None = None) -> tuple[InProcessBus, dict[str, Service]]:
    bus = bus or InProcessBus()
    services = open_shop(bus)
    place_order(bus, ORDER_ID, SCENARIOS[scenario])
    return bus, services


def published(bus: InProcessBus) -> list[str]:
    seen: dict[str, None] = {}
    for _, event in bus.deliveries:
        seen.setdefault(event.name)
    return list(seen)


def test_delivery_is_synchronous_first_in_first_out_in_subscription_order(clean_env: None) -> None:
    bus, services = run("happy-path")

    # publish() returned only after everything it set off was delivered
    assert order_status(services["order"].store, ORDER_ID).startswith("APPROVED")
    assert [(to, e.name) for to, e in bus.deliveries] == [
        ("order", "PlaceOrder"),
        ("payment", "OrderPlaced"),
        ("inventory", "OrderPlaced"),
        ("order", "PaymentCompleted"),
        ("shipping", "PaymentCompleted"),
        ("shipping", "StockReserved"),
        ("order", "ShipmentScheduled"),
    ]


@pytest.mark.parametrize(
    ("scenario", "status", "compensations"),
    [
        ("happy-path", "APPROVED", []),
        ("payment-declined", "CANCELLED", ["StockReleased"]),
        ("out-of-stock", "CANCELLED", ["PaymentRefunded"]),
    ],
)
def test_each_scenario_ends_where_it_should(
    clean_env: None, scenario: str, status: str, compensations: list[str]
) -> None:
    events: list[Event] = []
    bus = InProcessBus()
    original = bus.publish

    def record(event: Event) -> None:
        events.append(event)
        original(event)

    bus.publish = record
    _, services = run(scenario, bus)

    order = services["order"].store.get("orders", ORDER_ID)
    assert order is not None
    assert order["status"] == status
    assert [e.name for e in events if e.name in COMPENSATIONS] == compensations
    # every event is about the order and says what caused it, back to the client's request
    by_id = {e.event_id: e for e in events}
    for e in events:
        assert e.correlation_id == ORDER_ID
        assert e.payload["order_id"] == ORDER_ID
        chain = e
        while chain.caused_by is not None:
            chain = by_id[chain.caused_by]
        assert chain.name == "PlaceOrder"
    assert len(by_id) == len(events)  # ids are unique


def test_the_stock_comes_back_after_a_declined_payment(clean_env: None) -> None:
    _, services = run("payment-declined")

    assert services["inventory"].store.get("stock", "widget") == {"available": 10}


def test_deliver_twice_hands_every_subscriber_a_second_copy(clean_env: None) -> None:
    bus = InProcessBus()
    bus.deliver_twice("OrderPlaced")
    _, services = run("happy-path", bus)

    copies = [to for to, e in bus.deliveries if e.name == "OrderPlaced"]
    assert copies == ["payment", "payment", "inventory", "inventory"]
    ledger = services["payment"].store.entries("ledger")
    assert [line["kind"] for line in ledger] == ["charge"]
    assert services["inventory"].store.get("stock", "widget") == {"available": 8}


def test_deliver_late_delays_one_subscriber_until_everything_else_is_done(clean_env: None) -> None:
    bus = InProcessBus()
    bus.deliver_late("PaymentCompleted", to="order")
    _, services = run("out-of-stock", bus)

    to_order = [e.name for to, e in bus.deliveries if to == "order"]
    assert to_order == ["PlaceOrder", "OutOfStock", "PaymentRefunded", "PaymentCompleted"]
    assert ("shipping", "PaymentCompleted") in [(to, e.name) for to, e in bus.deliveries]
    assert order_status(services["order"].store, ORDER_ID).endswith("payment refunded")


def test_the_log_gets_one_line_per_delivery(clean_env: None) -> None:
    lines: list[str] = []
    bus, _ = run("happy-path", InProcessBus(log=lines.append))

    assert len(lines) == len(bus.deliveries)
    assert lines[1].split() == ["payment", "<-", "OrderPlaced", "charged", "alice", "40.00", "->", "PaymentCompleted"]


def test_bus_from_env_picks_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(bus_from_env(), InProcessBus)

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # connects lazily: nothing is sent
    bus = bus_from_env()
    assert isinstance(bus, RedisStreamsBus)
    bus.redis.close()


def test_an_event_survives_the_trip_through_stream_fields() -> None:
    event = Event("PaymentRefunded", "payment", "order-9", 2, {"amount_cents": 4500, "nested": [1, 2]}, caused_by="x")

    fields = event.to_fields()

    assert all(isinstance(value, str) for value in fields.values())
    assert Event.from_fields(fields) == event
    assert event.event_id == "order-9/payment/PaymentRefunded/v2"


def test_an_event_is_immutable() -> None:
    event = Event("OrderPlaced", "order", "order-9", 1, {"customer": "alice"})

    with pytest.raises(AttributeError):
        event.name = "Other"
    with pytest.raises(TypeError):
        event.payload["customer"] = "mallory"
