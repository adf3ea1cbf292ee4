"""Place one order and watch the services choreograph it.

    python flow.py [happy-path | payment-declined | out-of-stock]

Runs on the in-process bus, or on Redis Streams when REDIS_URL is set
(all four services in this one process, taking turns); both print the
same log.
"""

from __future__ import annotations

import sys

from shop.bus import bus_from_env
from shop.scenarios import (
    SCENARIOS,
    open_shop,
    order_status,
    place_order,
)

ORDER_IDS = {
    "happy-path": "order-1001",
    "payment-declined": "order-1002",
    "out-of-stock": "order-1003",
}


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "happy-path"
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        print(
            f"unknown scenario {name!r}; choose one of: {known}",
            file=sys.stderr,
        )
        return 2
    scenario, order_id = SCENARIOS[name], ORDER_IDS[name]
    who, quantity, sku = (
        scenario.customer,
        scenario.quantity,
        scenario.sku,
    )
    print(f"scenario {name}: {who} orders {quantity} x {sku}")

    bus = bus_from_env(log=print)
    try:
        # --8<-- [start:wiring]
        services = open_shop(bus)  # four services, four stores, one bus
        print(f"{'client':<10} -> {'PlaceOrder':<17} {order_id}")
        place_order(bus, order_id, scenario)
        bus.run_until_idle()
        # --8<-- [end:wiring]
        status = order_status(services["order"].store, order_id)
        print(f"final state of {order_id}: {status}")
    finally:
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
