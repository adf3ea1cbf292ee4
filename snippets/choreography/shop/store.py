"""Each service's own data: tables of records, append-only ledgers,
processed event ids.

A service reads only its own store and no service can reach another's.
Writes never happen while handling: a handler returns `Changes`, and the
bus applies them together with the processed-event marker (and, on
Redis, the outgoing events and the acknowledgement) in one step. Keeping
the event id next to the effect is what makes a consumer idempotent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from shop.services import Changes

Record = dict[str, Any]


class Store(Protocol):
    """What a service may do with its data while deciding how to
    react."""

    def get(self, table: str, key: str) -> Record | None: ...

    def entries(self, table: str) -> list[Record]: ...

    def processed(self, event_id: str) -> bool: ...

    def seed(
        self, tables: Mapping[str, Mapping[str, Record]]
    ) -> None: ...


class MemoryStore:
    """A service's data in plain dicts, for the in-process bus."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Record]] = defaultdict(dict)
        self.ledgers: dict[str, list[Record]] = defaultdict(list)
        self.processed_ids: set[str] = set()

    def get(self, table: str, key: str) -> Record | None:
        record = self.tables[table].get(key)
        return dict(record) if record is not None else None

    def entries(self, table: str) -> list[Record]:
        return [dict(record) for record in self.ledgers[table]]

    def processed(self, event_id: str) -> bool:
        return event_id in self.processed_ids

    def seed(self, tables: Mapping[str, Mapping[str, Record]]) -> None:
        for table, records in tables.items():
            self.tables[table].update(
                {key: dict(value) for key, value in records.items()}
            )

    def apply(self, changes: Changes) -> None:
        """Apply a handler's decisions; one thread, so nothing can
        interleave."""
        for table, key, record in changes.writes:
            self.tables[table][key] = record
        for table, record in changes.appends:
            self.ledgers[table].append(record)
        self.processed_ids.add(changes.cause.event_id)


class RedisStore:
    """A service's data under its own key prefix: hashes of JSON
    records, lists, a set of ids.

    Keys look like `<namespace>:payment:ledger`; only the payment
    process touches them.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, table: str) -> str:
        return f"{self.prefix}:{table}"

    @property
    def processed_key(self) -> str:
        return self.key("processed")

    def get(self, table: str, key: str) -> Record | None:
        raw = self.redis.hget(self.key(table), key)
        return json.loads(raw) if raw is not None else None

    def entries(self, table: str) -> list[Record]:
        return [
            json.loads(raw)
            for raw in self.redis.lrange(self.key(table), 0, -1)
        ]

    def processed(self, event_id: str) -> bool:
        return bool(self.redis.sismember(self.processed_key, event_id))

    def seed(self, tables: Mapping[str, Mapping[str, Record]]) -> None:
        for table, records in tables.items():
            for key, record in records.items():
                self.redis.hset(
                    self.key(table),
                    key,
                    json.dumps(record, sort_keys=True),
                )

    def stage(self, tx: Pipeline, changes: Changes) -> None:
        """Queue the writes and the processed marker on an open MULTI
        transaction."""
        for table, key, record in changes.writes:
            tx.hset(
                self.key(table), key, json.dumps(record, sort_keys=True)
            )
        for table, record in changes.appends:
            tx.rpush(
                self.key(table), json.dumps(record, sort_keys=True)
            )
        tx.sadd(self.processed_key, changes.cause.event_id)
