"""The event envelope every service publishes and consumes.

Services share no code paths and no data, only this message shape, so it
carries everything a consumer needs to act safely on its own: a stable
id for de-duplication, the order it is about (the correlation id, also
the partition key), the event that caused it, and a version that orders
the facts one producer states about one order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Events that undo an earlier step. Choreography has no rollback: a
# failure is answered by new, business-specific events that other
# services react to.
COMPENSATIONS = frozenset({"PaymentRefunded", "StockReleased"})


# --8<-- [start:event]
@dataclass(frozen=True)
class Event:
    name: str  # "OrderPlaced", "PaymentCompleted", ...
    source: str  # the service that published it: "payment"
    correlation_id: str  # the order it is about: "order-1001"
    # 1, 2, ... per (source, order): lets consumers spot stale arrivals
    version: int
    payload: Mapping[str, Any] = field(default_factory=dict)
    # event_id of the event whose handling produced this one
    caused_by: str | None = None
    # stable across redeliveries; derived when left empty
    event_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "payload", MappingProxyType(dict(self.payload))
        )
        if not self.event_id:
            # Derived from (order, source, event, version), so a
            # publisher that retries publishes the same id again and
            # consumers can recognise the copy.
            order, source = self.correlation_id, self.source
            event_id = f"{order}/{source}/{self.name}/v{self.version}"
            object.__setattr__(self, "event_id", event_id)
        # --8<-- [end:event]

    def to_fields(self) -> dict[str, str]:
        """Flatten to string fields, the shape a Redis Streams entry
        holds."""
        return {
            "name": self.name,
            "event_id": self.event_id,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "caused_by": self.caused_by or "",
            "version": str(self.version),
            "payload": json.dumps(dict(self.payload), sort_keys=True),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Event:
        """Rebuild an event from `to_fields` output."""
        return cls(
            name=fields["name"],
            event_id=fields["event_id"],
            source=fields["source"],
            correlation_id=fields["correlation_id"],
            caused_by=fields["caused_by"] or None,
            version=int(fields["version"]),
            payload=json.loads(fields["payload"]),
        )
