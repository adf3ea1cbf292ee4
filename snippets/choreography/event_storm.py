"""Two services whose reactions form a loop, the event storm it sets
off, and what stops it.

    python event_storm.py

Pricing owns each product's list price and its shelf price (what
customers pay), and states every change as PriceChanged. Promotions owns
the campaigns (the spring sale: 10% off widgets) and states each sale
price as SalePriceChanged. Each reaction makes sense on its own:
Promotions reprices the sale when a price changes, and Pricing puts the
sale price on the shelf. Together they form a cycle, PriceChanged ->
SalePriceChanged -> PriceChanged, that no single program shows.

As first written, both services announce after every event they handle,
whether or not their data changed, so one new list price starts an
endless ping-pong. A hop limit on the bus contains it. The fix is the
rule "no change, no event": a service states a fact only when its own
data changed, so the same cycle settles after three events. Always the
in-process bus.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from shop.bus import InProcessBus, Log
from shop.events import Event
from shop.services import Changes, Service, money
from shop.store import Record, Store

HOP_LIMIT = 20


# --8<-- [start:hop-limit]
class HopLimitedBus(InProcessBus):
    """Parks every event more than `limit` reactions away from the
    request that started it.

    A safety stop, not a fix: it contains a storm while somebody finds
    the loop. Here the bus looks the hop count of the cause up through
    `caused_by`; on a real broker the count would travel in a message
    header that each publisher copies from its cause, plus one.
    """

    def __init__(self, limit: int, log: Log) -> None:
        super().__init__(log=log)
        self.limit = limit
        self.hops: dict[
            str, int
        ] = {}  # event_id -> reactions since the outside request
        self.parked: list[
            Event
        ] = []  # a dead-letter queue: kept for a human, sent to nobody

    def publish(self, event: Event) -> None:
        hops = self.hops[event.caused_by] + 1 if event.caused_by else 0
        if hops > self.limit:
            self.parked.append(event)
            name, limit = event.name, self.limit
            self.log(
                f"{'bus':<10} x  {name:<17} hop {hops} > {limit}: "
                "parked"
            )
            return
        self.hops[event.event_id] = hops
        super().publish(event)
        # --8<-- [end:hop-limit]


class Announcer(Service):
    """A service that keeps one record per product and states every new
    version of it."""

    table: ClassVar[str]
    announces: ClassVar[str]

    def __init__(
        self, store: Store, *, no_change_no_event: bool
    ) -> None:
        super().__init__(store)
        self.no_change_no_event = no_change_no_event

    def decide(self, event: Event, record: Record) -> Record:
        raise NotImplementedError

    def describe(self, record: Record) -> str:
        raise NotImplementedError

    # --8<-- [start:no-change-no-event]
    def handle(self, event: Event, changes: Changes) -> None:
        # the product: every event about it shares this id
        key = event.correlation_id
        stored = self.store.get(self.table, key) or {"version": 0}
        version = stored.pop("version")
        record = self.decide(event, dict(stored))
        if self.no_change_no_event and record == stored:
            # The event told this service nothing new: there is no new
            # fact to state.
            changes.note(
                f"{self.describe(record)}: unchanged, no event"
            )
            return
        changes.put(self.table, key, {**record, "version": version + 1})
        changes.note(self.describe(record))
        changes.emit(self.announces, version + 1, **record)
        # --8<-- [end:no-change-no-event]


class Pricing(Announcer):
    """Owns list prices and shelf prices. Puts a sale price on the shelf
    while a sale runs."""

    name = "pricing"
    subscribes = ("SetListPrice", "SalePriceChanged")
    table, announces = "prices", "PriceChanged"

    def decide(self, event: Event, record: Record) -> Record:
        if event.name == "SetListPrice":
            list_cents = event.payload["list_cents"]
            return {"list_cents": list_cents, "shelf_cents": list_cents}
        return {**record, "shelf_cents": event.payload["sale_cents"]}

    def describe(self, record: Record) -> str:
        listed = money(record["list_cents"])
        return f"list {listed}, shelf {money(record['shelf_cents'])}"


class Promotions(Announcer):
    """Owns the campaigns. Works out the sale price whenever a product's
    price changes."""

    name = "promotions"
    subscribes = ("PriceChanged",)
    table, announces = "sale_prices", "SalePriceChanged"

    def decide(self, event: Event, record: Record) -> Record:
        campaign = self.store.get(
            "campaigns", event.correlation_id
        ) or {"percent_off": 0}
        return {
            "sale_cents": event.payload["list_cents"]
            * (100 - campaign["percent_off"])
            // 100
        }

    def describe(self, record: Record) -> str:
        return f"sale price {money(record['sale_cents'])}"


SEED: dict[str, dict[str, dict[str, Record]]] = {
    "pricing": {},
    "promotions": {
        "campaigns": {
            "widget": {"name": "spring sale", "percent_off": 10}
        }
    },
}


def run(
    *, no_change_no_event: bool
) -> tuple[HopLimitedBus, list[str], dict[str, Service]]:
    """Set the widget's list price to 20.00 once, and let the two
    services react."""
    lines: list[str] = []
    bus = HopLimitedBus(HOP_LIMIT, log=lines.append)
    services: dict[str, Service] = {}
    for cls in (Pricing, Promotions):
        store = bus.store(cls.name)
        store.seed(SEED[cls.name])
        services[cls.name] = service = cls(
            store, no_change_no_event=no_change_no_event
        )
        bus.subscribe(service)
    lines.append(
        f"{'backoffice':<10} -> {'SetListPrice':<17} "
        f"widget {money(2000)}"
    )
    request = Event(
        "SetListPrice",
        "backoffice",
        "widget",
        1,
        {"sku": "widget", "list_cents": 2000},
    )
    bus.publish(request)
    return bus, lines, services


def report(
    title: str,
    bus: HopLimitedBus,
    lines: list[str],
    services: dict[str, Service],
    shown: int = 6,
) -> int:
    """Print the first deliveries (a storm repeats itself) and what came
    of them."""
    print(title)
    for line in lines[:shown]:
        print(line)
    hidden = [
        line for line in lines[shown:] if not line.startswith("bus")
    ]
    if hidden:
        print(f"... {len(hidden)} more deliveries like the last two")
    for line in lines[shown:]:
        if line.startswith("bus"):
            print(line)
    # every event the services published, the request left out
    events = len(bus.hops) - 1
    price = services["pricing"].store.get("prices", "widget") or {}
    parked = len(bus.parked)
    print(
        f"events published: {events}, parked by the hop limit: {parked}"
    )
    listed, shelf = (
        money(price["list_cents"]),
        money(price["shelf_cents"]),
    )
    print(f"widget: list {listed}, shelf {shelf}")
    return events


def main() -> int:
    storm = report(
        "as first written (announce after every event):",
        *run(no_change_no_event=False),
    )
    print()
    calm = report(
        'with "no change, no event":', *run(no_change_no_event=True)
    )
    print()
    print(
        f"without the rule: {storm} events, then the hop limit;", end=""
    )
    print(f" with it: {calm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
