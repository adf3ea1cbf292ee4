"""A payment consumer crashes in the middle of a message; its
replacement finishes the job.

    REDIS_URL=redis://localhost:6379/0 python crash_redelivery.py

The first payment process reads OrderPlaced, decides to charge, and dies
(os._exit) before committing. Redis still lists the entry as pending for
it. A second payment process claims the entry with XAUTOCLAIM and
handles it. The charge, the processed-event marker, the PaymentCompleted
event and the XACK are one MULTI/EXEC transaction, so the crash left
nothing half-done and the charge is recorded exactly once, even when the
event arrives yet again.
"""

from __future__ import annotations

import os
import subprocess
import sys

from shop.bus import RedisStreamsBus
from shop.events import Event
from shop.services import SEED, Payment
from shop.worker import CRASH_EXIT_CODE, spawn, stop

ORDER_ID = "order-3001"
TIMEOUT = 20.0


def main() -> int:
    url = os.environ.get("REDIS_URL")
    if not url:
        example = "REDIS_URL=redis://localhost:6379/0"
        print(
            f"crash_redelivery.py needs REDIS_URL, e.g. {example}",
            file=sys.stderr,
        )
        return 2
    bus = RedisStreamsBus(url)
    workers: list[subprocess.Popen[str]] = []
    try:
        store = bus.store("payment")
        store.seed(SEED["payment"])
        # creates the payment consumer group
        bus.subscribe(Payment(store))
        stream = bus.streams[bus.partition(ORDER_ID)]

        def evidence() -> None:
            charges = [
                line
                for line in store.entries("ledger")
                if line["kind"] == "charge"
            ]
            completed = [
                e
                for e in bus.events(ORDER_ID)
                if e.name == "PaymentCompleted"
            ]
            pending = bus.redis.xpending_range(
                stream, "payment", "-", "+", 10
            )
            owners = ", ".join(
                f"{p['consumer']} (delivered {p['times_delivered']}x)"
                for p in pending
            )
            print(f"  charges recorded: {len(charges)}")
            print(
                f"  PaymentCompleted events published: {len(completed)}"
            )
            print(
                f"  pending in group payment: {len(pending)}"
                + (f", held by {owners}" if owners else "")
            )

        placed = Event(
            name="OrderPlaced",
            source="order",
            correlation_id=ORDER_ID,
            version=1,
            payload={
                "order_id": ORDER_ID,
                "customer": "alice",
                "sku": "widget",
                "quantity": 2,
                "amount_cents": 4000,
            },
        )
        bus.publish(placed)
        partition = bus.partition(ORDER_ID)
        print(
            f"order published OrderPlaced {placed.event_id}"
            f" (partition {partition})"
        )

        # --8<-- [start:crash]
        first = spawn(
            "payment",
            bus.namespace,
            "--consumer",
            "payment-1",
            "--crash-on",
            "OrderPlaced",
        )
        workers.append(first)
        code = first.wait(timeout=TIMEOUT)
        # --8<-- [end:crash]
        crashed = (
            "crashed"
            if code == CRASH_EXIT_CODE
            else f"exited with {code}"
        )
        print(
            f"payment-1 read it, decided to charge, and {crashed}"
            " before committing:"
        )
        evidence()

        # --8<-- [start:restart]
        second = spawn(
            "payment",
            bus.namespace,
            "--consumer",
            "payment-2",
            "--min-idle-ms",
            "100",
        )
        workers.append(second)
        bus.wait_until_idle(timeout=TIMEOUT)
        # --8<-- [end:restart]
        print("payment-2 claimed it with XAUTOCLAIM, committed:")
        evidence()

        # a publisher retrying: the same event, a new stream entry
        bus.publish(placed)
        bus.wait_until_idle(timeout=TIMEOUT)
        print(
            "OrderPlaced arrived again (same id); payment-2 ignored it:"
        )
        evidence()
    except (TimeoutError, subprocess.TimeoutExpired) as error:
        print(f"crash_redelivery.py: {error}", file=sys.stderr)
        return 1
    finally:
        stop(workers)
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
