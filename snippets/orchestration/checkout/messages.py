"""The one shape every request and reply has.

A request is addressed to one receiver and expects an answer; a reply
names the request it answers. Both carry the order they are about (the
correlation id) and the message whose handling produced them, so the
whole conversation about one order can be put back together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


# --8<-- [start:message]
@dataclass(frozen=True)
class Message:
    name: str  # "ChargeCard", "PaymentCharged", ...
    sender: str  # "orchestrator"
    receiver: str  # "payment"
    correlation_id: str  # the order it is about: "order-2001"
    payload: Mapping[str, Any] = field(default_factory=dict)
    # for a reply: the message_id of the request it answers
    reply_to: str | None = None
    # the message (or timeout) whose handling produced this one
    caused_by: str | None = None
    # derived when left empty; a retried request keeps its id, so
    # the receiver can tell a retry from a new request
    message_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "payload", MappingProxyType(dict(self.payload))
        )
        if not self.message_id:
            order, sender = self.correlation_id, self.sender
            message_id = f"{order}/{sender}/{self.name}"
            object.__setattr__(self, "message_id", message_id)

    def answer(self, name: str, **payload: Any) -> Message:
        """The reply to this request, from its receiver."""
        return Message(
            name=name,
            sender=self.receiver,
            receiver=self.sender,
            correlation_id=self.correlation_id,
            payload=payload,
            reply_to=self.message_id,
            caused_by=self.message_id,
        )
        # --8<-- [end:message]

    def caused(self, cause: str | None) -> Message:
        """The same message, produced by handling `cause`."""
        return replace(self, caused_by=cause)
