"""The four services as four OS processes that share nothing but Redis
Streams.

    REDIS_URL=redis://localhost:6379/0 python redis_flow.py

This process is only the client and the observer: it seeds each
service's store, creates the consumer groups, starts one worker process
per service, places one order per scenario, waits until every group has
read and acknowledged everything, and prints what happened. It alone
prints, and sorts what it prints, so the output does not depend on
process scheduling.
"""

from __future__ import annotations

import os
import subprocess
import sys

from shop.bus import RedisStreamsBus
from shop.events import COMPENSATIONS, Event
from shop.scenarios import (
    SCENARIOS,
    open_shop,
    order_status,
    place_order,
)
from shop.services import SERVICES
from shop.worker import spawn, stop

ORDERS = {
    "order-2001": "happy-path",
    "order-2002": "payment-declined",
    "order-2003": "out-of-stock",
}
PARTICIPANTS = ["client", *(cls.name for cls in SERVICES)]


def causal_order(events: list[Event]) -> list[Event]:
    """Sort by distance from the client's request, then by participant,
    then by name.

    Payment and Inventory react to OrderPlaced at the same time in
    different processes, so the order in which their events land in the
    stream varies from run to run.
    """
    by_id = {event.event_id: event for event in events}

    def depth(event: Event) -> int:
        cause = by_id.get(event.caused_by or "")
        return 0 if cause is None else depth(cause) + 1

    return sorted(
        events,
        key=lambda e: (depth(e), PARTICIPANTS.index(e.source), e.name),
    )


def main() -> int:
    url = os.environ.get("REDIS_URL")
    if not url:
        example = "REDIS_URL=redis://localhost:6379/0"
        print(
            f"redis_flow.py needs REDIS_URL, e.g. {example}",
            file=sys.stderr,
        )
        return 2
    bus = RedisStreamsBus(url)
    workers: list[subprocess.Popen[str]] = []
    try:
        # --8<-- [start:processes]
        # seed each store, create one consumer group per service
        services = open_shop(bus)
        # one OS process each
        workers = [spawn(name, bus.namespace) for name in services]
        for order_id, scenario in ORDERS.items():
            place_order(bus, order_id, SCENARIOS[scenario])
        bus.wait_until_idle(timeout=30)
        # --8<-- [end:processes]
        count, streams = len(workers), len(bus.streams)
        print(
            f"{count} services in {count} OS processes, "
            "sharing only Redis"
        )
        print(f"Streams: {streams} partitions, keyed by order id")
        for order_id, scenario in ORDERS.items():
            partition = bus.partition(order_id)
            print(f"{order_id} ({scenario}), partition {partition}")
            # The client polls the order service for the outcome.
            status = order_status(services["order"].store, order_id)
            print(f"  status: {status}")
            for event in causal_order(bus.events(order_id)):
                kind = (
                    " (compensation)"
                    if event.name in COMPENSATIONS
                    else ""
                )
                print(
                    f"  {event.source:<10} published {event.name}{kind}"
                )
    except TimeoutError as error:
        print(f"redis_flow.py: {error}", file=sys.stderr)
        return 1
    finally:
        stop(workers)
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
