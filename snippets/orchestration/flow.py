"""Place one order and watch the orchestrator drive the checkout.

    python flow.py [happy-path | payment-declined | payment-timeout]

Prints one line per call and per reply, the caller on the left, then
where each service's data ended up.
"""

from __future__ import annotations

import asyncio
import sys

from checkout.network import Network
from checkout.scenarios import SCENARIOS, open_checkout, place_order
from checkout.services import (
    InventoryService,
    OrderService,
    PaymentService,
    money,
)


async def run(name: str) -> None:
    scenario = SCENARIOS[name]
    print(f"scenario {name}: order {scenario.order_id}")
    network = Network(log=print)
    # --8<-- [start:wiring]
    # three services and the orchestrator, serving their inboxes
    checkout = open_checkout(network)
    if scenario.lose_reply:
        network.lose_next_reply(scenario.lose_reply)
    await place_order(network, scenario)
    # --8<-- [end:wiring]
    await network.close()
    order_id, sku = scenario.order_id, scenario.sku
    order = checkout.services["order"]
    stock = checkout.services["inventory"]
    payment = checkout.services["payment"]
    assert isinstance(order, OrderService)
    assert isinstance(stock, InventoryService)
    assert isinstance(payment, PaymentService)
    ledger = ", ".join(
        f"{kind} {money(cents)}"
        for order_no, kind, cents in payment.ledger
        if order_no == order_id
    )
    print(f"order:     {order.orders[order_id]['status']}")
    print(f"inventory: {stock.stock[sku]} {sku} in stock")
    print(f"payment:   {ledger or 'nothing charged'}")
    saga = checkout.orchestrator.sagas[order_id]
    print(f"saga:      {saga.status}")


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "happy-path"
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        print(
            f"unknown scenario {name!r}; choose one of: {known}",
            file=sys.stderr,
        )
        return 2
    asyncio.run(run(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
