"""The shop's four services. None of them calls another: each reacts to
events and publishes events.

Nobody owns the whole flow. Order creates a PENDING order and announces
it; Payment and Inventory react to that on their own; Shipping waits
until both have said yes. Order listens to the outcomes and announces
its decision. When it cancels, the services that already did their part
undo it, and say so in compensating events of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shop.events import COMPENSATIONS, Event
from shop.store import Record, Store


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class Changes:
    """What one service decided while handling one message, not yet
    applied.

    The bus applies all of it at once, together with the
    processed-message marker, so the effect and the record of having
    handled the message cannot come apart.
    """

    service: str
    cause: Event
    ignored: str | None = None  # "duplicate" or "stale"
    writes: list[tuple[str, str, Record]] = field(default_factory=list)
    appends: list[tuple[str, Record]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def put(self, table: str, key: str, record: Record) -> None:
        self.writes.append((table, key, record))

    def append(self, table: str, record: Record) -> None:
        self.appends.append((table, record))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def ignore(self, why: str, note: str) -> None:
        self.ignored = why
        self.note(note)

    # --8<-- [start:emit]
    def emit(self, name: str, version: int, **payload: Any) -> Event:
        """Publish `name` about the same order, remembering which event
        caused it."""
        order_id = self.cause.correlation_id
        event = Event(
            name=name,
            source=self.service,
            correlation_id=order_id,
            version=version,
            payload={"order_id": order_id, **payload},
            caused_by=self.cause.event_id,
        )
        self.events.append(event)
        return event
        # --8<-- [end:emit]

    def summary(self) -> str:
        """Log lines: who received what and what they did, then one line
        per event they published."""
        head = f"{self.service:<10} <- {self.cause.name:<17} "
        lines = [head + "; ".join(self.notes)]
        for e in self.events:
            kind = " (compensation)" if e.name in COMPENSATIONS else ""
            lines.append(f"{'':<10} -> {e.name}{kind}")
        return "\n".join(lines)


class Service:
    """A participant: owns a store, names the events it reacts to,
    decides what they mean."""

    name: ClassVar[str]
    subscribes: ClassVar[tuple[str, ...]]

    def __init__(self, store: Store) -> None:
        self.store = store

    # --8<-- [start:idempotent-consumer]
    def receive(self, event: Event) -> Changes:
        """Decide what `event` means for this service, at most once per
        event id."""
        changes = Changes(self.name, event)
        if self.store.processed(event.event_id):
            # At-least-once delivery: a copy of something already
            # handled. Change nothing.
            changes.ignore("duplicate", "already processed: ignored")
            return changes
        # --8<-- [end:idempotent-consumer]
        # --8<-- [start:ordering]
        # Each source numbers what it says about one order: 1, 2, ... A
        # lower number than one already applied is an old fact arriving
        # late (a retried delivery); applying it would overwrite newer
        # state with older state.
        key = f"{event.source}:{event.correlation_id}"
        last = self.store.get("versions", key)
        if last is not None and event.version <= last["version"]:
            old, applied = event.version, last["version"]
            changes.ignore(
                "stale", f"v{old} is older than v{applied}: ignored"
            )
            return changes
        changes.put("versions", key, {"version": event.version})
        # --8<-- [end:ordering]
        self.handle(event, changes)
        # the bus stores event.event_id together with these changes
        return changes

    def handle(self, event: Event, changes: Changes) -> None:
        raise NotImplementedError


class Order(Service):
    """Owns orders and prices. Creates an order as PENDING, follows what
    the others report, and announces its decision: approved or
    cancelled."""

    name = "order"
    subscribes = (
        "PlaceOrder",
        "PaymentCompleted",
        "PaymentDeclined",
        "PaymentRefunded",
        "OutOfStock",
        "ShipmentScheduled",
    )

    # --8<-- [start:outcome]
    def handle(self, event: Event, changes: Changes) -> None:
        if event.name == "PlaceOrder":
            self.create(event, changes)
            return
        order = self.store.get("orders", event.correlation_id)
        if order is None:
            changes.note("unknown order: ignored")
            return
        if event.name == "PaymentCompleted":
            order["payment"] = "charged"
            changes.note("payment charged, still PENDING")
        elif event.name == "PaymentRefunded":
            order["payment"] = "refunded"
            changes.note("payment refunded")
        elif event.name == "ShipmentScheduled":
            shipment = event.payload["shipment_id"]
            order.update(status="APPROVED", shipment_id=shipment)
            changes.note("APPROVED")
            changes.emit("OrderApproved", 2, shipment_id=shipment)
        elif event.name == "PaymentDeclined":
            order["payment"] = "declined"
            self.cancel(order, "payment declined", changes)
        elif event.name == "OutOfStock":
            self.cancel(order, "out of stock", changes)
        changes.put("orders", event.correlation_id, order)
        # --8<-- [end:outcome]

    # --8<-- [start:order]
    def create(self, event: Event, changes: Changes) -> None:
        customer = event.payload["customer"]
        sku, quantity = event.payload["sku"], event.payload["quantity"]
        price = self.store.get("prices", sku) or {"price_cents": 0}
        amount = price["price_cents"] * quantity
        order = {
            "customer": customer,
            "sku": sku,
            "quantity": quantity,
            "amount_cents": amount,
            "status": "PENDING",
            "payment": "pending",
        }
        changes.put("orders", event.correlation_id, order)
        changes.note(f"created as PENDING, {money(amount)}")
        changes.emit(
            "OrderPlaced",
            1,
            customer=customer,
            sku=sku,
            quantity=quantity,
            amount_cents=amount,
        )
        # --8<-- [end:order]

    # --8<-- [start:cancel]
    def cancel(
        self, order: Record, reason: str, changes: Changes
    ) -> None:
        """Decide once, and say so: the others undo their part on
        OrderCancelled. A second "no" changes nothing."""
        if order["status"] == "CANCELLED":
            changes.note("already CANCELLED")
            return
        order.update(status="CANCELLED", reason=reason)
        changes.note(f"CANCELLED: {reason}")
        changes.emit("OrderCancelled", 2, reason=reason)
        # --8<-- [end:cancel]


class Payment(Service):
    """Owns customer accounts and the payment ledger. Charges an order,
    and refunds the charge if the order is cancelled."""

    name = "payment"
    subscribes = ("OrderPlaced", "OrderCancelled")

    def handle(self, event: Event, changes: Changes) -> None:
        if event.name == "OrderPlaced":
            self.charge(event, changes)
        else:
            self.refund(event, changes)

    # --8<-- [start:payment]
    def charge(self, event: Event, changes: Changes) -> None:
        customer = event.payload["customer"]
        amount = event.payload["amount_cents"]
        account = self.store.get("accounts", customer) or {
            "credit_limit_cents": 0,
            "flagged": False,
        }
        reason = None
        if account["flagged"]:
            reason = "customer flagged"
        elif amount > account["credit_limit_cents"]:
            reason = "over credit limit"
        order_id = event.correlation_id
        payment = {
            "customer": customer,
            "amount_cents": amount,
            "version": 1,
        }
        if reason is not None:
            payment["status"] = "declined"
            changes.put("payments", order_id, payment)
            changes.note(f"declined {money(amount)}: {reason}")
            changes.emit(
                "PaymentDeclined",
                1,
                customer=customer,
                amount_cents=amount,
                reason=reason,
            )
            return
        # Not naturally idempotent: a second charge adds a second line.
        line = {
            "order_id": order_id,
            "kind": "charge",
            "amount_cents": amount,
        }
        changes.append("ledger", line)
        changes.put(
            "payments", order_id, {**payment, "status": "charged"}
        )
        changes.note(f"charged {customer} {money(amount)}")
        changes.emit(
            "PaymentCompleted",
            1,
            customer=customer,
            amount_cents=amount,
        )
        # --8<-- [end:payment]

    # --8<-- [start:compensation]
    def refund(self, event: Event, changes: Changes) -> None:
        """Compensate a charge for a cancelled order: a new ledger line,
        not an erased one."""
        order_id = event.correlation_id
        payment = self.store.get("payments", order_id)
        if payment is None or payment["status"] != "charged":
            changes.note("nothing charged, nothing to refund")
            return
        amount, customer = payment["amount_cents"], payment["customer"]
        payment.update(
            status="refunded", version=payment["version"] + 1
        )
        line = {
            "order_id": order_id,
            "kind": "refund",
            "amount_cents": amount,
        }
        changes.append("ledger", line)
        changes.put("payments", order_id, payment)
        changes.note(f"refunded {money(amount)} to {customer}")
        changes.emit(
            "PaymentRefunded",
            payment["version"],
            customer=customer,
            amount_cents=amount,
            reason=event.payload["reason"],
        )
        # --8<-- [end:compensation]


class Inventory(Service):
    """Owns stock levels and reservations. Reserves stock for an order,
    and releases it if the order is cancelled."""

    name = "inventory"
    subscribes = ("OrderPlaced", "OrderCancelled")

    def handle(self, event: Event, changes: Changes) -> None:
        if event.name == "OrderPlaced":
            self.reserve(event, changes)
        else:
            self.release(event, changes)

    def reserve(self, event: Event, changes: Changes) -> None:
        sku, quantity = event.payload["sku"], event.payload["quantity"]
        stock = self.store.get("stock", sku) or {"available": 0}
        available = stock["available"]
        reservation = {"sku": sku, "quantity": quantity, "version": 1}
        order_id = event.correlation_id
        if quantity > available:
            reservation["status"] = "none"
            changes.put("reservations", order_id, reservation)
            changes.note(
                f"{quantity} x {sku} wanted, {available} in stock"
            )
            changes.emit(
                "OutOfStock",
                1,
                sku=sku,
                quantity=quantity,
                available=available,
            )
            return
        left = available - quantity
        changes.put("stock", sku, {"available": left})
        reservation["status"] = "reserved"
        changes.put("reservations", order_id, reservation)
        changes.note(f"reserved {quantity} x {sku}, {left} left")
        changes.emit("StockReserved", 1, sku=sku, quantity=quantity)

    # --8<-- [start:release]
    def release(self, event: Event, changes: Changes) -> None:
        """Compensate a reservation for a cancelled order."""
        order_id = event.correlation_id
        reservation = self.store.get("reservations", order_id)
        if reservation is None or reservation["status"] != "reserved":
            changes.note("nothing reserved, nothing to release")
            return
        sku, quantity = reservation["sku"], reservation["quantity"]
        stock = self.store.get("stock", sku) or {"available": 0}
        available = stock["available"] + quantity  # what is there now
        version = reservation["version"] + 1
        reservation.update(status="released", version=version)
        changes.put("stock", sku, {"available": available})
        changes.put("reservations", order_id, reservation)
        changes.note(f"released {quantity} x {sku}, {available} left")
        changes.emit(
            "StockReleased",
            version,
            sku=sku,
            quantity=quantity,
            reason=event.payload["reason"],
        )
        # --8<-- [end:release]


class Shipping(Service):
    """Owns shipments. Ships an order once payment AND stock are
    confirmed, in either order; forgets an order that was cancelled."""

    name = "shipping"
    subscribes = ("PaymentCompleted", "StockReserved", "OrderCancelled")

    # --8<-- [start:join]
    def handle(self, event: Event, changes: Changes) -> None:
        # Two independent facts must both arrive, in either order:
        # remember each one, keyed by order id.
        order_id = event.correlation_id
        if event.name == "OrderCancelled":
            changes.put("readiness", order_id, {"cancelled": True})
            changes.note("order cancelled: stopped waiting")
            return
        ready = self.store.get("readiness", order_id) or {
            "paid": False,
            "reserved": False,
        }
        if ready.get("cancelled"):
            changes.note("order cancelled: nothing to ship")
            return
        ready[
            "paid" if event.name == "PaymentCompleted" else "reserved"
        ] = True
        changes.put("readiness", order_id, ready)
        if not (ready["paid"] and ready["reserved"]):
            missing = "stock" if ready["paid"] else "payment"
            changes.note(f"waiting for {missing}")
            return
        shipment_id = "ship-" + order_id.removeprefix("order-")
        shipment = {"shipment_id": shipment_id, "status": "scheduled"}
        changes.put("shipments", order_id, shipment)
        changes.note(f"paid and reserved: scheduled {shipment_id}")
        changes.emit("ShipmentScheduled", 1, shipment_id=shipment_id)
        # --8<-- [end:join]


SERVICES: tuple[type[Service], ...] = (
    Order,
    Payment,
    Inventory,
    Shipping,
)

# Each service's starting data, in its own store.
SEED: dict[str, dict[str, dict[str, Record]]] = {
    "order": {
        "prices": {
            "widget": {"price_cents": 2000},
            "gadget": {"price_cents": 4500},
        }
    },
    "payment": {
        "accounts": {
            "alice": {"credit_limit_cents": 50000, "flagged": False},
            "bob": {"credit_limit_cents": 10000, "flagged": False},
            "mallory": {"credit_limit_cents": 50000, "flagged": True},
        }
    },
    "inventory": {
        "stock": {
            "widget": {"available": 10},
            "gadget": {"available": 0},
        }
    },
    "shipping": {},
}
