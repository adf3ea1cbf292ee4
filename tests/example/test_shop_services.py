"""Each service on its own: its decisions, its compensations, its idempotency, its ordering guard.

Services are driven directly with events and a MemoryStore, with no bus, which is also what
shows that none of them needs another service to do its job.
"""

from __future__ import annotations

from typing import Any

import pytest
from shop.events import Event
from shop.services import SEED, Changes, Inventory, Order, Payment, Service, Shipping
from shop.store import MemoryStore

ORDER_ID = "order-42"


def make(cls: type[Service]) -> Service:
    store = MemoryStore()
    store.seed(SEED[cls.name])
    return cls(store)


def deliver(service: Service, event: Event) -> Changes:
    """What a bus does: let the service decide, then apply the decision with the event id."""
    changes = service.receive(event)
    if not changes.ignored:
        assert isinstance(service.store, MemoryStore)
        service.store.apply(changes)
    return changes


def event(name: str, source: str, version: int = 1, **payload: Any) -> Event:
    return Event(name, source, ORDER_ID, version, {"order_id": ORDER_ID, **payload}, caused_by="cause-1")


def order_placed(customer: str = "alice", sku: str = "widget", quantity: int = 2, amount: int = 4000) -> Event:
    return event("OrderPlaced", "order", customer=customer, sku=sku, quantity=quantity, amount_cents=amount)


def names(changes: Changes) -> list[str]:
    return [e.name for e in changes.events]


def charges(payment: Service) -> list[dict[str, Any]]:
    return [line for line in payment.store.entries("ledger") if line["kind"] == "charge"]


# -- Order -----------------------------------------------------------------------------------


def test_order_is_created_pending_and_announced() -> None:
    order = make(Order)
    request = event("PlaceOrder", "client", customer="alice", sku="widget", quantity=3)

    changes = deliver(order, request)

    assert order.store.get("orders", ORDER_ID) == {
        "customer": "alice",
        "sku": "widget",
        "quantity": 3,
        "amount_cents": 6000,
        "status": "PENDING",
        "payment": "pending",
    }
    [placed] = changes.events
    assert (placed.name, placed.source, placed.version) == ("OrderPlaced", "order", 1)
    assert placed.correlation_id == ORDER_ID
    assert placed.caused_by == request.event_id
    assert dict(placed.payload) == {
        "order_id": ORDER_ID,
        "customer": "alice",
        "sku": "widget",
        "quantity": 3,
        "amount_cents": 6000,
    }


@pytest.mark.parametrize(
    ("outcome", "status", "payment"),
    [
        (event("ShipmentScheduled", "shipping", shipment_id="ship-42"), "APPROVED", "charged"),
        (event("PaymentDeclined", "payment", customer="bob", amount_cents=1, reason="x"), "CANCELLED", "declined"),
        (event("OutOfStock", "inventory", sku="widget", quantity=2, available=0), "CANCELLED", "charged"),
    ],
)
def test_order_follows_what_the_others_report(outcome: Event, status: str, payment: str) -> None:
    order = make(Order)
    deliver(order, event("PlaceOrder", "client", customer="alice", sku="widget", quantity=1))
    if outcome.name != "PaymentDeclined":
        deliver(order, event("PaymentCompleted", "payment", customer="alice", amount_cents=2000))

    changes = deliver(order, outcome)

    record = order.store.get("orders", ORDER_ID)
    assert record is not None
    assert (record["status"], record["payment"]) == (status, payment)
    # the order service announces its decision, as a fact the others act on
    [decision] = changes.events
    assert decision.name == ("OrderApproved" if status == "APPROVED" else "OrderCancelled")
    assert decision.version == 2  # the order's second fact, after OrderPlaced


def test_a_cancellation_says_why() -> None:
    order = make(Order)
    deliver(order, event("PlaceOrder", "client", customer="bob", sku="widget", quantity=6))

    changes = deliver(order, event("PaymentDeclined", "payment", customer="bob", amount_cents=1, reason="x"))

    [cancelled] = changes.events
    assert dict(cancelled.payload) == {"order_id": ORDER_ID, "reason": "payment declined"}


def test_a_second_no_does_not_cancel_twice() -> None:
    order = make(Order)
    deliver(order, event("PlaceOrder", "client", customer="bob", sku="gadget", quantity=9))
    deliver(order, event("PaymentDeclined", "payment", customer="bob", amount_cents=1, reason="over credit limit"))

    changes = deliver(order, event("OutOfStock", "inventory", sku="gadget", quantity=9, available=0))

    record = order.store.get("orders", ORDER_ID)
    assert record is not None
    assert record["reason"] == "payment declined"
    assert changes.notes == ["already CANCELLED"]
    assert changes.events == []  # one decision, announced once


# -- Payment ---------------------------------------------------------------------------------


def test_payment_charges_within_the_credit_limit() -> None:
    payment = make(Payment)

    changes = deliver(payment, order_placed(amount=4000))

    assert names(changes) == ["PaymentCompleted"]
    assert charges(payment) == [{"order_id": ORDER_ID, "kind": "charge", "amount_cents": 4000}]


@pytest.mark.parametrize(
    ("customer", "amount", "reason"),
    [("bob", 10001, "over credit limit"), ("mallory", 100, "customer flagged"), ("nobody", 1, "over credit limit")],
)
def test_payment_declines(customer: str, amount: int, reason: str) -> None:
    payment = make(Payment)

    changes = deliver(payment, order_placed(customer=customer, amount=amount))

    [declined] = changes.events
    assert declined.name == "PaymentDeclined"
    assert declined.payload["reason"] == reason
    assert charges(payment) == []


def cancelled(reason: str = "out of stock") -> Event:
    return event("OrderCancelled", "order", version=2, reason=reason)


def test_payment_refunds_when_the_order_is_cancelled() -> None:
    payment = make(Payment)
    deliver(payment, order_placed(amount=4500))

    changes = deliver(payment, cancelled())

    [refunded] = changes.events
    assert (refunded.name, refunded.version) == ("PaymentRefunded", 2)
    assert dict(refunded.payload) == {
        "order_id": ORDER_ID,
        "customer": "alice",
        "amount_cents": 4500,
        "reason": "out of stock",
    }
    kinds = [(line["kind"], line["amount_cents"]) for line in payment.store.entries("ledger")]
    assert kinds == [("charge", 4500), ("refund", 4500)]  # a new line, not an erased one


def test_payment_has_nothing_to_refund_after_a_decline() -> None:
    payment = make(Payment)
    deliver(payment, order_placed(customer="mallory"))

    changes = deliver(payment, cancelled("payment declined"))

    assert changes.events == []
    assert changes.notes == ["nothing charged, nothing to refund"]
    assert payment.store.entries("ledger") == []


# -- Inventory -------------------------------------------------------------------------------


def available(inventory: Service, sku: str) -> int:
    stock = inventory.store.get("stock", sku)
    assert stock is not None
    return int(stock["available"])


def test_inventory_reserves_stock() -> None:
    inventory = make(Inventory)

    changes = deliver(inventory, order_placed(quantity=3))

    assert names(changes) == ["StockReserved"]
    assert available(inventory, "widget") == 7


def test_inventory_reports_out_of_stock_and_keeps_its_stock() -> None:
    inventory = make(Inventory)

    changes = deliver(inventory, order_placed(sku="widget", quantity=11))

    [out] = changes.events
    assert out.name == "OutOfStock"
    assert (out.payload["quantity"], out.payload["available"]) == (11, 10)
    assert available(inventory, "widget") == 10


def test_inventory_releases_the_reservation_when_the_order_is_cancelled() -> None:
    inventory = make(Inventory)
    deliver(inventory, order_placed(quantity=4))

    changes = deliver(inventory, cancelled("payment declined"))

    [released] = changes.events
    assert (released.name, released.version) == ("StockReleased", 2)
    assert available(inventory, "widget") == 10
    reservation = inventory.store.get("reservations", ORDER_ID)
    assert reservation is not None
    assert reservation["status"] == "released"


def test_inventory_has_nothing_to_release_when_nothing_was_reserved() -> None:
    inventory = make(Inventory)
    deliver(inventory, order_placed(sku="gadget", quantity=1))

    changes = deliver(inventory, cancelled())

    assert changes.events == []
    assert available(inventory, "gadget") == 0


# -- Shipping --------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["PaymentCompleted", "StockReserved"])
def test_shipping_waits_for_payment_and_stock_in_either_order(first: str) -> None:
    shipping = make(Shipping)
    paid = event("PaymentCompleted", "payment", customer="alice", amount_cents=4000)
    reserved = event("StockReserved", "inventory", sku="widget", quantity=2)
    one, other = (paid, reserved) if first == "PaymentCompleted" else (reserved, paid)

    assert deliver(shipping, one).events == []
    assert shipping.store.get("shipments", ORDER_ID) is None
    changes = deliver(shipping, other)

    [scheduled] = changes.events
    assert scheduled.name == "ShipmentScheduled"
    assert scheduled.payload["shipment_id"] == "ship-42"
    assert scheduled.caused_by == other.event_id


def test_shipping_forgets_a_cancelled_order() -> None:
    """Cancelled after the stock was reserved: Shipping drops what it was waiting for, and a
    payment that still arrives (from a retry, say) schedules nothing."""
    shipping = make(Shipping)
    deliver(shipping, event("StockReserved", "inventory", sku="widget", quantity=2))

    changes = deliver(shipping, cancelled("payment declined"))

    assert changes.events == []
    assert shipping.store.get("readiness", ORDER_ID) == {"cancelled": True}
    late = deliver(shipping, event("PaymentCompleted", "payment", customer="alice", amount_cents=4000))
    assert late.events == []
    assert shipping.store.get("shipments", ORDER_ID) is None


# -- Idempotency and ordering, for every service ----------------------------------------------

FIRST_EVENTS = {
    "order": event("PlaceOrder", "client", customer="alice", sku="widget", quantity=2),
    "payment": order_placed(),
    "inventory": order_placed(),
    "shipping": event("PaymentCompleted", "payment", customer="alice", amount_cents=4000),
}


def snapshot(service: Service) -> tuple[object, ...]:
    store = service.store
    assert isinstance(store, MemoryStore)
    return (
        {table: dict(records) for table, records in store.tables.items()},
        {table: list(lines) for table, lines in store.ledgers.items()},
        set(store.processed_ids),
    )


@pytest.mark.parametrize("cls", [Order, Payment, Inventory, Shipping], ids=lambda cls: cls.name)
def test_a_duplicate_delivery_changes_nothing(cls: type[Service]) -> None:
    service = make(cls)
    message = FIRST_EVENTS[cls.name]
    deliver(service, message)
    before = snapshot(service)

    again = deliver(service, message)

    assert again.ignored == "duplicate"
    assert again.events == [] and again.writes == [] and again.appends == []
    assert snapshot(service) == before
    assert service.store.processed(message.event_id)


def test_a_redelivered_copy_with_a_new_envelope_object_is_still_a_duplicate() -> None:
    payment = make(Payment)
    deliver(payment, order_placed())
    copy = Event.from_fields(order_placed().to_fields())  # what the broker hands back

    assert deliver(payment, copy).ignored == "duplicate"
    assert len(charges(payment)) == 1


def test_an_older_event_arriving_after_a_newer_one_is_ignored() -> None:
    order = make(Order)
    deliver(order, event("PlaceOrder", "client", customer="alice", sku="gadget", quantity=1))
    refunded = event("PaymentRefunded", "payment", version=2, customer="alice", amount_cents=4500, reason="x")
    completed = event("PaymentCompleted", "payment", version=1, customer="alice", amount_cents=4500)

    deliver(order, refunded)
    late = deliver(order, completed)

    assert late.ignored == "stale"
    record = order.store.get("orders", ORDER_ID)
    assert record is not None
    assert record["payment"] == "refunded"


def test_versions_are_tracked_per_source() -> None:
    """v1 from inventory is not stale just because v1 from payment was applied."""
    order = make(Order)
    deliver(order, event("PlaceOrder", "client", customer="alice", sku="gadget", quantity=1))
    deliver(order, event("PaymentCompleted", "payment", customer="alice", amount_cents=4500))

    changes = deliver(order, event("OutOfStock", "inventory", sku="gadget", quantity=1, available=0))

    assert changes.ignored is None
    record = order.store.get("orders", ORDER_ID)
    assert record is not None
    assert record["status"] == "CANCELLED"
