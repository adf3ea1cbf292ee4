"""The orders the scripts place, and the small amount of wiring every
script shares."""

from __future__ import annotations

from dataclasses import dataclass

from shop.bus import Bus
from shop.events import Event
from shop.services import SEED, SERVICES, Service
from shop.store import Store


@dataclass(frozen=True)
class Scenario:
    customer: str
    sku: str
    quantity: int
    story: str


SCENARIOS = {
    "happy-path": Scenario(
        "alice", "widget", 2, "paid, in stock, shipped"
    ),
    "payment-declined": Scenario(
        "bob", "widget", 6, "over bob's credit limit"
    ),
    "out-of-stock": Scenario("alice", "gadget", 1, "no gadgets left"),
}


def open_shop(bus: Bus, *, seed: bool = True) -> dict[str, Service]:
    """Create the four services, each with its own store, and subscribe
    them to the bus."""
    services: dict[str, Service] = {}
    for cls in SERVICES:
        store = bus.store(cls.name)
        if seed:
            store.seed(SEED[cls.name])
        services[cls.name] = service = cls(store)
        bus.subscribe(service)
    return services


def place_order(bus: Bus, order_id: str, scenario: Scenario) -> Event:
    """The client's request to the order service, sent as a message like
    everything else.

    The client picks the order id, so a retried request carries the same
    id and event id and the order service handles it once.
    """
    request = Event(
        name="PlaceOrder",
        source="client",
        correlation_id=order_id,
        version=1,
        payload={
            "order_id": order_id,
            "customer": scenario.customer,
            "sku": scenario.sku,
            "quantity": scenario.quantity,
        },
    )
    bus.publish(request)
    return request


def order_status(order_store: Store, order_id: str) -> str:
    """What a client polling the order service would see."""
    order = order_store.get("orders", order_id)
    if order is None:
        return "unknown"
    status = str(order["status"])
    if "reason" in order:
        status += f" ({order['reason']})"
    if "shipment_id" in order:
        status += f", {order['shipment_id']}"
    return f"{status}, payment {order['payment']}"
