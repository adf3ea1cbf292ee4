"""Write every call, reply and timeout as a JSON line, so a diagram can
be drawn from real runs.

Set PATTERN_ARTICLES_TRACE to a file path and each call a caller makes,
each reply that reaches it and each deadline that passes without one is
appended there, one JSON object per line, with one `write` on a
descriptor opened with O_APPEND. Unset, tracing does nothing. Standard
library only, on purpose.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from checkout.messages import Message

TRACE_ENV = "PATTERN_ARTICLES_TRACE"

Op = Literal["call", "reply", "timeout"]


# --8<-- [start:trace]
def trace(op: Op, message: Message, timeout_id: str = "") -> None:
    """Record a call, a reply, or a call's timeout (`timeout_id`); a
    no-op unless the env variable is set."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    record: dict[str, Any] = {
        "op": op,
        "service": message.sender,
        "target": message.receiver,
        "message": message.name,
        "id": message.message_id,
        "correlation_id": message.correlation_id,
        "caused_by": message.caused_by,
        "pid": os.getpid(),
    }
    if op == "reply":
        record["reply_to"] = message.reply_to
    if op == "timeout":  # the caller gave up waiting
        del record["target"]
        record.update(id=timeout_id, reply_to=message.message_id)
        record["caused_by"] = message.message_id
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    # --8<-- [end:trace]
