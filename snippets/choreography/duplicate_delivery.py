"""At-least-once delivery: the bus hands OrderPlaced to every subscriber
twice.

    python duplicate_delivery.py

Brokers redeliver whatever they are not sure was acknowledged, so every
consumer must be idempotent. Here each service keeps the ids of the
events it has processed, stored with the effect; the second copy changes
nothing. Always the in-process bus, whose faults can be scripted;
crash_redelivery.py shows the same guarantee on Redis Streams.
"""

from __future__ import annotations

import sys

from shop.bus import InProcessBus
from shop.scenarios import (
    SCENARIOS,
    open_shop,
    order_status,
    place_order,
)
from shop.services import money


def main() -> int:
    order_id = "order-1001"
    bus = InProcessBus(log=print)
    # --8<-- [start:deliver-twice]
    bus.deliver_twice("OrderPlaced")
    services = open_shop(bus)
    print(f"{'client':<10} -> {'PlaceOrder':<17} {order_id}")
    place_order(bus, order_id, SCENARIOS["happy-path"])
    # --8<-- [end:deliver-twice]

    charges = [
        line
        for line in services["payment"].store.entries("ledger")
        if line["order_id"] == order_id and line["kind"] == "charge"
    ]
    stock = services["inventory"].store.get("stock", "widget") or {
        "available": 0
    }
    total = money(sum(c["amount_cents"] for c in charges))
    print(f"charges for {order_id}: {len(charges)} ({total})")
    left = stock["available"]
    print(f"widgets in stock: {left} of 10 (one reservation of 2)")
    status = order_status(services["order"].store, order_id)
    print(f"final state of {order_id}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
