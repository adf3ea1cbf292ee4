"""Write what happens on the bus as JSON lines, so a diagram can be
drawn from real runs.

In a choreography the flow is written down in no single program; it only
exists in the messages that actually moved. Set PATTERN_ARTICLES_TRACE
to a file path and every publish, consume, duplicate, stale arrival,
redelivery and crash is appended there, one JSON object per line.
Several processes may share the file: each line is one `write` on a
descriptor opened with O_APPEND, which POSIX keeps whole. Unset, tracing
does nothing. Standard library only, on purpose.
"""

from __future__ import annotations

import json
import os
from typing import Literal

from shop.events import Event

TRACE_ENV = "PATTERN_ARTICLES_TRACE"

Op = Literal[
    "publish", "consume", "duplicate", "stale", "redeliver", "crash"
]


# --8<-- [start:trace]
def trace(op: Op, service: str, event: Event) -> None:
    """Record that `service` did `op` with `event`; a no-op unless the
    env variable is set."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    record = {
        "op": op,
        "service": service,
        "event": event.name,
        "event_id": event.event_id,
        "correlation_id": event.correlation_id,
        "caused_by": event.caused_by,
        "pid": os.getpid(),
    }
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    # --8<-- [end:trace]
