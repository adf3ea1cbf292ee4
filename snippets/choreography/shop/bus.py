"""Two transports behind one small interface: an in-process bus and
Redis Streams.

The services never see which one they run on. The in-process bus makes
the choreography easy to read and to break on purpose (deliver twice,
deliver late). The Redis Streams bus is the real thing: durable
partitioned streams, one consumer group per service, acknowledgements,
and redelivery of what a crashed consumer left unacknowledged.
"""

from __future__ import annotations

import os
import time
import uuid
import zlib
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Protocol, cast

import redis

from shop.events import Event
from shop.services import Changes, Service
from shop.store import MemoryStore, RedisStore, Store
from shop.tracing import trace

Log = Callable[[str], None]
# (entry id, fields) as Redis Streams returns them
Entries = list[tuple[str, dict[str, str]]]


def _quiet(line: str) -> None:
    """The default log: services in their own processes print
    nothing."""


class Bus(Protocol):
    def store(self, service: str) -> Store: ...

    def subscribe(self, service: Service) -> None: ...

    def publish(self, event: Event) -> None: ...

    def run_until_idle(self) -> None: ...

    def close(self) -> None: ...


def bus_from_env(log: Log = _quiet) -> InProcessBus | RedisStreamsBus:
    """Redis Streams when REDIS_URL is set, the in-process bus
    otherwise."""
    url = os.environ.get("REDIS_URL")
    return (
        RedisStreamsBus(url, log=log) if url else InProcessBus(log=log)
    )


class InProcessBus:
    """Delivers synchronously, in one thread, in a fixed order, so every
    run prints the same.

    Messages are delivered first in, first out; each goes to its
    subscribers in the order they subscribed. Events published while
    handling wait their turn behind earlier ones, which keeps each
    order's events in publish order, as the partitioned Redis bus does.
    """

    def __init__(self, log: Log = _quiet) -> None:
        self.log = log
        self._stores: dict[str, MemoryStore] = {}
        self._subscribers: dict[str, list[Service]] = defaultdict(list)
        self._queue: deque[Event] = deque()
        self._late: deque[tuple[Event, Service]] = deque()
        self._twice: set[str] = set()
        self._delayed: set[tuple[str, str]] = set()
        self._delivering = False
        self.deliveries: list[
            tuple[str, Event]
        ] = []  # (service, event), in arrival order

    def store(self, service: str) -> MemoryStore:
        return self._stores.setdefault(service, MemoryStore())

    def subscribe(self, service: Service) -> None:
        for name in service.subscribes:
            self._subscribers[name].append(service)

    def deliver_twice(self, event_name: str) -> None:
        """Fault injection: hand every `event_name` to each subscriber a
        second time."""
        self._twice.add(event_name)

    def deliver_late(self, event_name: str, to: str) -> None:
        """Fault injection: hold `event_name` back from service `to`
        until all else is done."""
        self._delayed.add((event_name, to))

    def publish(self, event: Event) -> None:
        trace("publish", event.source, event)
        self._queue.append(event)
        if not self._delivering:
            self._deliver_all()

    def run_until_idle(self) -> None:
        self._deliver_all()

    def close(self) -> None:
        pass

    def _deliver_all(self) -> None:
        self._delivering = True
        try:
            while self._queue or self._late:
                if not self._queue:
                    event, service = self._late.popleft()
                    self._redeliver(
                        service, event, "late (first try lost)"
                    )
                    continue
                event = self._queue.popleft()
                for service in self._subscribers[event.name]:
                    if (event.name, service.name) in self._delayed:
                        self._late.append((event, service))
                        continue
                    self._deliver(service, event)
                    if event.name in self._twice:
                        self._redeliver(
                            service, event, "again (at least once)"
                        )
        finally:
            self._delivering = False

    def _redeliver(
        self, service: Service, event: Event, why: str
    ) -> None:
        trace("redeliver", service.name, event)
        self.log(
            f"{'bus':<10} -> {event.name:<17} to {service.name} {why}"
        )
        self._deliver(service, event)

    # --8<-- [start:deliver]
    def _deliver(self, service: Service, event: Event) -> None:
        self.deliveries.append((service.name, event))
        changes = service.receive(event)
        if changes.ignored:
            # "duplicate" or "stale"
            trace(changes.ignored, service.name, event)
        else:
            # the effect and the processed id together
            self.store(service.name).apply(changes)
            trace("consume", service.name, event)
        self.log(changes.summary())
        for published in changes.events:
            self.publish(published)
        # --8<-- [end:deliver]


class RedisStreamsBus:
    """Services as consumer groups on Redis Streams, partitioned by
    order id.

    Why one stream partitioned by order id rather than one stream per
    event type: a service reading several streams sees them interleaved
    in no fixed order, so PaymentDeclined could reach Inventory before
    the OrderPlaced it answers. And a consumer group orders nothing by
    key: it hands each entry to whichever consumer asks next, and an
    entry redelivered after a crash comes after newer ones. So every
    event about one order goes to the same partition stream (a stable
    hash of the order id); each service reads each partition with a
    single consumer, in entry order; and a restarted consumer finishes
    the pending entries before it reads new ones (`_recover`). Causes
    are appended before their effects, so every service sees one order's
    events in causal order. To scale out, give each consumer its own
    partitions, never two consumers one partition. The price: every
    service reads, and skips, the events it does not subscribe to.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str | None = None,
        partitions: int = 4,
        consumer: str = "main",
        log: Log = _quiet,
    ) -> None:
        self.redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=10,
            socket_connect_timeout=5,
        )
        # Each run gets its own key prefix, so runs and tests never see
        # each other's data.
        self.namespace = namespace or f"shop-{uuid.uuid4().hex[:8]}"
        self.streams = [
            f"{self.namespace}:events:{p}" for p in range(partitions)
        ]
        self.consumer = consumer
        self.log = log
        # Fault injection for demos and tests: runs after deciding,
        # before committing.
        self.before_commit: Callable[[Service, Event], None] | None = (
            None
        )
        self._services: list[Service] = []

    def store(self, service: str) -> RedisStore:
        return RedisStore(self.redis, f"{self.namespace}:{service}")

    # --8<-- [start:publish]
    def partition(self, order_id: str) -> int:
        """A stable hash of the order id: all events about one order
        share a partition."""
        return zlib.crc32(order_id.encode()) % len(self.streams)

    def stream_for(self, event: Event) -> str:
        return self.streams[self.partition(event.correlation_id)]

    def publish(self, event: Event) -> None:
        self.redis.xadd(self.stream_for(event), event.to_fields())
        trace("publish", event.source, event)
        # --8<-- [end:publish]

    # --8<-- [start:subscribe]
    def subscribe(self, service: Service) -> None:
        """One consumer group per service: each service gets its own
        copy of every event."""
        for stream in self.streams:
            # from "0", so a group created late still sees every entry
            try:
                self.redis.xgroup_create(
                    stream, service.name, id="0", mkstream=True
                )
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(
                    error
                ):  # the group already exists: fine
                    raise
        self._services.append(service)
        # --8<-- [end:subscribe]

    # --8<-- [start:consume]
    def serve(
        self, service: Service, *, min_idle_ms: int = 1000
    ) -> None:
        """Run one service's consumer until its process is stopped."""
        self.subscribe(service)
        while True:
            if self._recover(service, min_idle_ms):
                continue
            for stream, entries in self._read(
                service, self.streams, count=10, block_ms=100
            ):
                for entry_id, fields in entries:
                    self._handle(service, stream, entry_id, fields)
        # --8<-- [end:consume]

    # --8<-- [start:redelivery]
    def _recover(self, service: Service, min_idle_ms: int) -> bool:
        """Finish what a crashed consumer read but never acknowledged,
        before anything new.

        Returns True while an entry is pending but not idle long enough
        to claim: reading newer entries meanwhile would let them
        overtake it.
        """
        waiting = False
        for stream in self.streams:
            _, claimed, _ = self.redis.xautoclaim(
                stream,
                service.name,
                self.consumer,
                min_idle_time=min_idle_ms,
                count=100,
            )
            for entry_id, fields in claimed:
                self._handle(
                    service, stream, entry_id, fields, redelivered=True
                )
            if self.redis.xpending(stream, service.name)["pending"]:
                waiting = True
        if waiting:
            time.sleep(min(min_idle_ms, 1000) / 4000)
        return waiting
        # --8<-- [end:redelivery]

    def _read(
        self,
        service: Service,
        streams: list[str],
        count: int,
        block_ms: int | None = None,
    ) -> list[tuple[str, Entries]]:
        """New entries for this service's group: XREADGROUP ... STREAMS
        s1 s2 > >."""
        reply = self.redis.xreadgroup(
            service.name,
            self.consumer,
            dict.fromkeys(streams, ">"),
            count=count,
            block=block_ms,
        )
        return cast("list[tuple[str, Entries]]", reply or [])

    def _handle(
        self,
        service: Service,
        stream: str,
        entry_id: str,
        fields: dict[str, str],
        redelivered: bool = False,
    ) -> None:
        event = Event.from_fields(fields)
        if event.name not in service.subscribes:
            # not for us: skip it
            self.redis.xack(stream, service.name, entry_id)
            return
        if redelivered:
            trace("redeliver", service.name, event)
        changes = self._commit(service, event, stream, entry_id)
        trace(changes.ignored or "consume", service.name, event)
        for published in changes.events:
            trace("publish", service.name, published)
        self.log(changes.summary())

    # --8<-- [start:atomic-commit]
    def _commit(
        self, service: Service, event: Event, stream: str, entry_id: str
    ) -> Changes:
        """Apply the effect, mark the event processed, publish,
        acknowledge: all or nothing."""
        store = self.store(service.name)
        while True:
            with self.redis.pipeline(transaction=True) as tx:
                try:
                    # If another consumer marks an event processed
                    # before EXEC, EXEC fails.
                    tx.watch(store.processed_key)
                    # reads the store, writes nothing
                    changes = service.receive(event)
                    if self.before_commit is not None:
                        self.before_commit(service, event)
                    tx.multi()
                    if not changes.ignored:
                        # the effect and the processed marker
                        store.stage(tx, changes)
                        for published in changes.events:
                            tx.xadd(
                                self.stream_for(published),
                                published.to_fields(),
                            )
                    tx.xack(stream, service.name, entry_id)
                    # MULTI ... EXEC: a crash before this leaves nothing
                    tx.execute()
                    return changes
                except redis.WatchError:
                    # someone else committed meanwhile: decide again
                    continue
        # --8<-- [end:atomic-commit]

    def run_until_idle(self) -> None:
        """Play every subscribed service in this one process until
        nothing is left to read.

        Round by round each group reads one entry, so every service
        handles entry k before any handles entry k+1: the same order as
        the in-process bus, hence the same output.
        """
        progress = True
        while progress:
            progress = False
            for stream in self.streams:
                for service in self._services:
                    for _, entries in self._read(
                        service, [stream], count=1
                    ):
                        for entry_id, fields in entries:
                            self._handle(
                                service, stream, entry_id, fields
                            )
                            progress = True

    def idle(self) -> bool:
        """True when every group has read and acknowledged every entry:
        nothing more can come."""
        with self.redis.pipeline(
            transaction=True
        ) as tx:  # one consistent snapshot
            for stream in self.streams:
                tx.xinfo_stream(stream)
                tx.xinfo_groups(stream)
            replies: list[Any] = tx.execute()
        for info, groups in zip(
            replies[::2], replies[1::2], strict=True
        ):
            for group in groups:
                if (
                    group["pending"]
                    or group["last-delivered-id"]
                    != info["last-generated-id"]
                ):
                    return False
        return True

    def wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the services did not finish in {timeout:.0f} s"
                )
            time.sleep(0.05)

    def events(self, order_id: str) -> list[Event]:
        """Every event about one order, in the order its partition holds
        them."""
        entries = cast(
            Entries,
            self.redis.xrange(self.streams[self.partition(order_id)]),
        )
        events = [Event.from_fields(fields) for _, fields in entries]
        return [
            event
            for event in events
            if event.correlation_id == order_id
        ]

    def close(self) -> None:
        """Delete this run's keys and disconnect."""
        keys = list(
            self.redis.scan_iter(f"{self.namespace}:*", count=500)
        )
        if keys:
            self.redis.delete(*keys)
        self.redis.close()
