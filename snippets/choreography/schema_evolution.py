"""Changing an event's schema without breaking the consumers you have
never met.

    python schema_evolution.py

The Order team moves OrderPlaced to schema 2: the shop starts selling in
more than one currency, so the amount becomes a money object, `total:
{cents, currency}`. The Payment service, owned by another team and
unchanged, still reads `amount_cents`. A new Invoicing service is
written for schema 2. During the rolling deploy the stream holds both
schemas: order-1001 comes from an Order instance not yet upgraded,
order-1002 from an upgraded one.

First the change is made in place, `amount_cents` renamed to `total`,
and each consumer breaks on the schema it was not written for. Then the
same change is made compatible: schema 2 only adds fields, says which
schema it is, and keeps `amount_cents` until every consumer has moved;
Payment reads the fields it needs and ignores the rest (a tolerant
reader); Invoicing upcasts schema 1 events to schema 2 before handling
them. The envelope's `version` numbers the facts about one order; the
schema number is a different thing, and here it travels in the payload.
No broker: each event is handed to each consumer directly, as a broker
would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from shop.events import Event
from shop.services import SEED, Changes, Payment, Service, money
from shop.store import MemoryStore, Record, Store

# order id -> (customer, sku, quantity, amount in cents)
ORDERS = {
    "order-1001": ("alice", "widget", 2, 4000),
    "order-1002": ("alice", "gadget", 1, 4500),
}


def schema_1(order_id: str) -> Record:
    """What an Order instance that is not yet upgraded publishes."""
    customer, sku, quantity, cents = ORDERS[order_id]
    return {
        "order_id": order_id,
        "customer": customer,
        "sku": sku,
        "quantity": quantity,
        "amount_cents": cents,
    }


# --8<-- [start:producer]
def schema_2_renamed(order_id: str) -> Record:
    """Schema 2 made in place: `amount_cents` is gone, `total` replaces
    it."""
    payload = schema_1(order_id)
    cents = payload.pop("amount_cents")
    return {
        **payload,
        "schema": 2,
        "total": {"cents": cents, "currency": "EUR"},
    }


def schema_2_additive(order_id: str) -> Record:
    """Schema 2 made compatible: a schema number and `total` added,
    nothing removed yet."""
    payload = schema_1(order_id)
    return {
        **payload,
        "schema": 2,
        "total": {"cents": payload["amount_cents"], "currency": "EUR"},
    }
    # --8<-- [end:producer]


# --8<-- [start:upcaster]
def upcast(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Bring an OrderPlaced of any schema up to schema 2, the one
    Invoicing is written for."""
    payload = dict(payload)
    if (
        payload.get("schema", 1) == 1
    ):  # schema 1 carried no number, and all its amounts were euros
        payload.update(
            schema=2,
            total={"cents": payload["amount_cents"], "currency": "EUR"},
        )
    return payload


class Invoicing(Service):
    """A new consumer, written for schema 2: invoices each order in its
    own currency."""

    name = "invoicing"
    subscribes = ("OrderPlaced",)

    def __init__(self, store: Store, *, upcaster: bool) -> None:
        super().__init__(store)
        self.upcaster = upcaster

    def handle(self, event: Event, changes: Changes) -> None:
        payload = (
            upcast(event.payload) if self.upcaster else event.payload
        )
        total = payload["total"]
        changes.append(
            "invoices", {"order_id": event.correlation_id, **total}
        )
        amount = f"{money(total['cents'])} {total['currency']}"
        changes.note(f"invoiced {payload['customer']} {amount}")
        # --8<-- [end:upcaster]


def deliver(service: Service, store: MemoryStore, event: Event) -> str:
    """Hand one event to one consumer; a consumer that cannot read it
    fails on that message."""
    label = f"{event.name} s{event.payload.get('schema', 1)}"
    try:
        changes = service.receive(event)
    except (KeyError, TypeError) as error:
        # On a broker the message would come back until it is
        # dead-lettered, and the order would wait for this service
        # forever. Nothing else would notice.
        outcome = f"cannot read it: {type(error).__name__} {error}"
    else:
        store.apply(changes)
        outcome = "; ".join(changes.notes) + "".join(
            f" -> {e.name}" for e in changes.events
        )
    print(f"{service.name:<10} <- {label:<17} {outcome}")
    return outcome


def run(
    title: str, schema_2: Callable[[str], Record], *, upcaster: bool
) -> dict[tuple[str, str], str]:
    """Publish order-1001 with schema 1 and order-1002 with `schema_2`;
    both consumers react."""
    print(title)
    stores = {"payment": MemoryStore(), "invoicing": MemoryStore()}
    # alice's account, as in the shop
    stores["payment"].seed(SEED["payment"])
    consumers = [
        Payment(stores["payment"]),
        Invoicing(stores["invoicing"], upcaster=upcaster),
    ]
    outcomes: dict[tuple[str, str], str] = {}
    for order_id, make_payload in (
        ("order-1001", schema_1),
        ("order-1002", schema_2),
    ):
        event = Event(
            "OrderPlaced", "order", order_id, 1, make_payload(order_id)
        )
        # the fields that carry the amount: what the two schemas
        # disagree on
        amount = [
            k
            for k in sorted(event.payload)
            if k in ("amount_cents", "total")
        ]
        label = f"OrderPlaced s{event.payload.get('schema', 1)}"
        fields = ", ".join(amount)
        print(f"{'order':<10} -> {label:<17} {order_id} has {fields}")
        for consumer in consumers:
            outcomes[consumer.name, order_id] = deliver(
                consumer, stores[consumer.name], event
            )
    failed = sum(
        outcome.startswith("cannot") for outcome in outcomes.values()
    )
    handled = len(outcomes) - failed
    print(
        f"{handled} of {len(outcomes)} deliveries handled, "
        f"{failed} stuck"
    )
    return outcomes


def main() -> int:
    run(
        "schema 2 made in place, no upcaster:",
        schema_2_renamed,
        upcaster=False,
    )
    print()
    run(
        "schema 2 made additive, Invoicing upcasts schema 1:",
        schema_2_additive,
        upcaster=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
