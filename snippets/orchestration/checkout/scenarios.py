"""The orders the scripts place, and the wiring every script shares."""

from __future__ import annotations

from dataclasses import dataclass

from checkout.messages import Message
from checkout.network import Network
from checkout.orchestrator import Orchestrator
from checkout.services import (
    InventoryService,
    OrderService,
    PaymentService,
    Service,
)

CLIENT_DEADLINE = 10.0  # the client waits for the whole checkout


@dataclass(frozen=True)
class Scenario:
    order_id: str
    customer: str
    sku: str
    quantity: int
    lose_reply: str | None = None  # a reply the network drops


SCENARIOS = {
    "happy-path": Scenario("order-2001", "alice", "widget", 2),
    "payment-declined": Scenario("order-2002", "bob", "widget", 6),
    "payment-timeout": Scenario(
        "order-2003", "alice", "gadget", 1, lose_reply="PaymentCharged"
    ),
}


@dataclass
class Checkout:
    network: Network
    orchestrator: Orchestrator
    services: dict[str, Service]


def open_checkout(network: Network) -> Checkout:
    """Start the three services and the orchestrator on `network`."""
    services: dict[str, Service] = {
        cls.name: cls()
        for cls in (OrderService, InventoryService, PaymentService)
    }
    for name, service in services.items():
        network.serve(name, service.handle)
    orchestrator = Orchestrator(network)
    network.serve(orchestrator.name, orchestrator.handle)
    return Checkout(network, orchestrator, services)


async def place_order(network: Network, scenario: Scenario) -> Message:
    """The client's one call: place the order, wait for the outcome."""
    request = Message(
        "PlaceOrder",
        "client",
        "orchestrator",
        scenario.order_id,
        {
            "customer": scenario.customer,
            "sku": scenario.sku,
            "quantity": scenario.quantity,
        },
    )
    note = f"{scenario.customer}, {scenario.quantity} x {scenario.sku}"
    return await network.call(request, CLIENT_DEADLINE, note)
