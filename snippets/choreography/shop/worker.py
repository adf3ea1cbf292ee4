"""Run one service as its own OS process on Redis Streams.

    REDIS_URL=redis://localhost:6379/0 \\
        python -m shop.worker payment --namespace shop-demo

The process shares nothing with the other services but Redis.
`--crash-on` and `--stall-on` inject faults for the demos and tests: the
worker dies (or hangs) after it has read and decided about an event,
before committing anything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from shop.bus import RedisStreamsBus
from shop.events import Event
from shop.services import SERVICES, Service
from shop.tracing import trace

BUNDLE = Path(__file__).resolve().parents[1]
CRASH_EXIT_CODE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shop.worker", description=__doc__
    )
    parser.add_argument(
        "service", choices=[cls.name for cls in SERVICES]
    )
    parser.add_argument(
        "--namespace",
        required=True,
        help="key prefix shared by one run",
    )
    parser.add_argument(
        "--consumer",
        help="consumer name in the group (default: service-pid)",
    )
    parser.add_argument(
        "--min-idle-ms",
        type=int,
        default=1000,
        help="XAUTOCLAIM min idle time",
    )
    parser.add_argument(
        "--crash-on",
        metavar="EVENT",
        help="os._exit before committing EVENT",
    )
    parser.add_argument(
        "--stall-on",
        metavar="EVENT",
        help="hang before committing EVENT",
    )
    args = parser.parse_args(argv)
    url = os.environ.get("REDIS_URL")
    if not url:
        parser.error("REDIS_URL is not set")

    consumer = args.consumer or f"{args.service}-{os.getpid()}"
    bus = RedisStreamsBus(
        url, namespace=args.namespace, consumer=consumer
    )
    service_class = next(
        cls for cls in SERVICES if cls.name == args.service
    )
    service = service_class(bus.store(args.service))

    def inject_fault(service: Service, event: Event) -> None:
        if event.name == args.crash_on:
            trace("crash", service.name, event)
            # no cleanup, no ack: as if the machine died
            os._exit(CRASH_EXIT_CODE)
        if event.name == args.stall_on:
            print(f"stalled {event.event_id}", flush=True)
            # whoever asked for the stall kills us long before this ends
            time.sleep(60)
            os._exit(CRASH_EXIT_CODE)

    bus.before_commit = inject_fault
    bus.serve(service, min_idle_ms=args.min_idle_ms)
    return 0


def spawn(
    service: str,
    namespace: str,
    *options: str,
    stdout: int | IO[str] | None = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """Start `python -m shop.worker service ...` as a child process;
    REDIS_URL is inherited."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(BUNDLE), env.get("PYTHONPATH")])
    )
    command = [
        sys.executable,
        "-m",
        "shop.worker",
        service,
        "--namespace",
        namespace,
        *options,
    ]
    return subprocess.Popen(command, env=env, stdout=stdout, text=True)


def stop(processes: Sequence[subprocess.Popen[str]]) -> None:
    """Terminate children, then kill any that do not exit promptly;
    never wait forever."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
