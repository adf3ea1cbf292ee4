"""The checkout orchestrator: the one place that knows the whole flow.

It holds no business rules of its own (prices, stock and credit belong
to the services). What it owns is the sequence: which service to call,
in which order, with what, what each reply means for the next step, and
what to undo when a step fails or never answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checkout.messages import Message
from checkout.network import Answer, Network, NoReply
from checkout.services import money

DEADLINE = 1.0  # seconds to wait for any one reply
ATTEMPTS = 3  # tries of a compensation before a person is needed


# --8<-- [start:steps]
@dataclass(frozen=True)
class Step:
    service: str
    request: str  # the call that does the work
    done: str  # the reply that means it was done
    undo: str | None = None  # the call that compensates it
    sends: tuple[str, ...] = ()  # what of the order it carries


CHECKOUT = (
    Step("order", "CreateOrder", "OrderCreated", undo="CancelOrder",
         sends=("customer", "sku", "quantity")),
    Step("inventory", "ReserveStock", "StockReserved",
         undo="ReleaseStock", sends=("sku", "quantity")),
    Step("payment", "ChargeCard", "PaymentCharged",
         undo="RefundPayment", sends=("customer", "amount_cents")),
    Step("order", "ApproveOrder", "OrderApproved"),
)
# --8<-- [end:steps]


class Stuck(Exception):
    """A compensation never answered: a person has to finish it."""


@dataclass
class Saga:
    """Where one order stands: the orchestrator's own state."""

    order: dict[str, Any]
    status: str = "RUNNING"
    done: list[Step] = field(default_factory=list)


def summary(payload: dict[str, Any]) -> str:
    """A few words on a request, for the log."""
    words = []
    if "customer" in payload:
        words.append(f"{payload['customer']},")
    if "quantity" in payload:
        words.append(f"{payload['quantity']} x {payload['sku']}")
    if "amount_cents" in payload:
        words.append(money(payload["amount_cents"]))
    return " ".join(words).rstrip(",")


@dataclass
class Orchestrator:
    network: Network
    deadline: float = DEADLINE
    name: str = "orchestrator"
    sagas: dict[str, Saga] = field(default_factory=dict)

    def request(
        self, step: str, to: str, order_id: str,
        payload: dict[str, Any], cause: str,
    ) -> Message:
        return Message(
            step, self.name, to, order_id, payload, caused_by=cause
        )

    # --8<-- [start:saga]
    async def handle(self, place: Message) -> Answer:
        """Run one checkout: each step in turn, and on a failure undo
        the steps already done, newest first."""
        order_id = place.correlation_id
        saga = self.sagas[order_id] = Saga(dict(place.payload))
        cause, reason = place.message_id, ""
        for step in CHECKOUT:
            sent = {key: saga.order[key] for key in step.sends}
            request = self.request(
                step.request, step.service, order_id, sent, cause
            )
            try:
                reply = await self.network.call(
                    request, self.deadline, summary(sent)
                )
            except NoReply as lost:
                saga.done.append(step)  # it may have happened
                cause, reason = lost.timeout_id, lost.args[0]
                break
            cause = reply.message_id
            if reply.name != step.done:
                reason = reply.payload["reason"]
                break
            saga.done.append(step)
            saga.order.update(reply.payload)
        else:
            saga.status = "APPROVED"
            reply = place.answer("OrderConfirmed").caused(cause)
            return Answer(reply, "APPROVED")
        try:
            cause = await self.compensate(saga, order_id, reason, cause)
        except Stuck as stuck:
            saga.status = f"STUCK: {stuck}"
            reason += f"; {stuck}"
        else:
            saga.status = "COMPENSATED"
        failed = place.answer("OrderFailed", reason=reason)
        return Answer(failed.caused(cause), reason)
        # --8<-- [end:saga]

    # --8<-- [start:compensate]
    async def compensate(
        self, saga: Saga, order_id: str, reason: str, cause: str
    ) -> str:
        """Call the undo of every step done, in reverse order; retry
        each (same message id) until it answers."""
        for step in reversed(saga.done):
            if step.undo is None:
                continue
            request = self.request(step.undo, step.service, order_id,
                                   {"reason": reason}, cause)
            for _attempt in range(ATTEMPTS):
                try:
                    reply = await self.network.call(
                        request, self.deadline, "undo"
                    )
                    break
                except NoReply:
                    continue
            else:
                raise Stuck(f"{step.undo} never answered")
            cause = reply.message_id
        return cause
        # --8<-- [end:compensate]
