"""Per-order ordering: an older event that arrives after a newer one is
recognised and ignored.

    python ordering.py

In the out-of-stock flow, Payment says two things about order-1003:
PaymentCompleted (v1), then PaymentRefunded (v2). Here the bus loses the
first delivery of PaymentCompleted to the order service and retries it
at the very end, after PaymentRefunded. Applied in arrival order, the
order would end up saying "charged" for money that was refunded; the
version check keeps it at "refunded". Always the in-process bus, whose
faults can be scripted.
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


def main() -> int:
    order_id = "order-1003"
    bus = InProcessBus(log=print)
    bus.deliver_late("PaymentCompleted", to="order")
    services = open_shop(bus)
    print(f"{'client':<10} -> {'PlaceOrder':<17} {order_id}")
    place_order(bus, order_id, SCENARIOS["out-of-stock"])

    # What reached the order service from payment, in arrival order, and
    # what a consumer without the version check would have made of it
    # (the last one wins).
    arrived = [
        e
        for to, e in bus.deliveries
        if to == "order" and e.source == "payment"
    ]
    print(
        "payment events reached order as: "
        + ", ".join(f"{e.name} v{e.version}" for e in arrived)
    )
    naive = {
        "PaymentCompleted": "charged",
        "PaymentRefunded": "refunded",
    }[arrived[-1].name]
    print(
        "applied in arrival order, the order would say: "
        f"payment {naive}"
    )
    status = order_status(services["order"].store, order_id)
    print(f"final state of {order_id}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
