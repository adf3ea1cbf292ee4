"""The three services the orchestrator drives. Each owns its data and
answers requests; none of them knows the others, or the flow.

A service here does not decide what happens next: it does what it is
asked, if it can, and says what happened. Every request that undoes
something (`CancelOrder`, `ReleaseStock`, `RefundPayment`) names only
the order: the service looks in its own records for what there is to
undo, because the step being undone may never have happened.
"""

from __future__ import annotations

from typing import Any, ClassVar

from checkout.messages import Message
from checkout.network import Answer

PRICES = {"widget": 20_00, "gadget": 45_00}  # cents
STOCK = {"widget": 10, "gadget": 5}
CREDIT = {"alice": 100_00, "bob": 50_00}  # cents, per order


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Service:
    """Answers each request once: a repeated request gets the first
    answer again and changes nothing."""

    name: ClassVar[str]

    def __init__(self) -> None:
        # In a real service this lives in its database and is written
        # in the same transaction as the effect.
        self.answered: dict[str, Answer] = {}

    # --8<-- [start:idempotent]
    async def handle(self, request: Message) -> Answer:
        first = self.answered.get(request.message_id)
        if first is not None:  # a retry: same id, same answer
            return Answer(first.reply, "repeat: no change")
        answer = self.decide(request)
        self.answered[request.message_id] = answer
        return answer
        # --8<-- [end:idempotent]

    def decide(self, request: Message) -> Answer:
        raise NotImplementedError


class OrderService(Service):
    name = "order"

    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[str, dict[str, Any]] = {}

    def decide(self, request: Message) -> Answer:
        order_id, asked = request.correlation_id, request.payload
        match request.name:
            case "CreateOrder":
                amount = PRICES[asked["sku"]] * asked["quantity"]
                self.orders[order_id] = {"status": "PENDING"}
                reply = request.answer(
                    "OrderCreated", amount_cents=amount
                )
                return Answer(reply, f"PENDING, {money(amount)}")
            case "ApproveOrder":
                self.orders[order_id]["status"] = "APPROVED"
                return Answer(
                    request.answer("OrderApproved"), "APPROVED"
                )
            case "CancelOrder":
                order = self.orders.setdefault(order_id, {})
                order.update(status="CANCELLED", reason=asked["reason"])
                reply = request.answer("OrderCancelled")
                return Answer(reply, "CANCELLED")
        raise ValueError(f"order: unknown request {request.name}")


class InventoryService(Service):
    name = "inventory"

    def __init__(self) -> None:
        super().__init__()
        self.stock = dict(STOCK)
        self.reserved: dict[str, tuple[str, int]] = {}  # by order

    def decide(self, request: Message) -> Answer:
        order_id, asked = request.correlation_id, request.payload
        match request.name:
            case "ReserveStock":
                sku, quantity = asked["sku"], asked["quantity"]
                left = self.stock[sku]
                if quantity > left:
                    reply = request.answer(
                        "OutOfStock", reason=f"only {left} {sku} left"
                    )
                    return Answer(reply, f"only {left} left")
                self.stock[sku] = left - quantity
                self.reserved[order_id] = (sku, quantity)
                note = f"reserved {quantity}, {left - quantity} left"
                return Answer(request.answer("StockReserved"), note)
            # --8<-- [start:release]
            case "ReleaseStock":
                reservation = self.reserved.pop(order_id, None)
                if reservation is None:  # never reserved, or released
                    note = "nothing reserved, nothing to release"
                else:
                    sku, quantity = reservation
                    self.stock[sku] += quantity
                    left = self.stock[sku]
                    note = f"released {quantity}, {left} left"
                return Answer(request.answer("StockReleased"), note)
            # --8<-- [end:release]
        raise ValueError(f"inventory: unknown request {request.name}")


class PaymentService(Service):
    name = "payment"

    def __init__(self) -> None:
        super().__init__()
        # (order id, "charge" or "refund", cents), never rewritten
        self.ledger: list[tuple[str, str, int]] = []

    def balance(self, order_id: str) -> int:
        """What the customer has paid for the order, net of refunds."""
        sign = {"charge": 1, "refund": -1}
        return sum(
            sign[kind] * cents
            for order, kind, cents in self.ledger
            if order == order_id
        )

    def decide(self, request: Message) -> Answer:
        order_id, asked = request.correlation_id, request.payload
        match request.name:
            case "ChargeCard":
                cents = asked["amount_cents"]
                if cents > CREDIT[asked["customer"]]:
                    reason = "over credit limit"
                    reply = request.answer(
                        "PaymentDeclined", reason=reason
                    )
                    return Answer(reply, reason)
                self.ledger.append((order_id, "charge", cents))
                reply = request.answer("PaymentCharged")
                return Answer(reply, f"charged {money(cents)}")
            # --8<-- [start:refund]
            case "RefundPayment":
                paid = self.balance(order_id)
                if paid == 0:  # never charged, or already refunded
                    note = "nothing charged, nothing to refund"
                else:  # a new ledger line: the charge stays on record
                    self.ledger.append((order_id, "refund", paid))
                    note = f"refunded {money(paid)}"
                return Answer(request.answer("PaymentRefunded"), note)
            # --8<-- [end:refund]
        raise ValueError(f"payment: unknown request {request.name}")
