"""Would a fork server help? The worker forking each run itself, against a second process
that only forks.

Run:  python benchmarks/fork_server.py [--runs 1000]

Why ask: after every ``fork()`` all of the forking process's pages are write-protected, so
whatever the worker's Python touches next (a reply to encode, a folder to recycle) faults
again, and while the child lives each such page is copied. A fork server (a small process
that does nothing but fork, on request) would leave the supervising worker's pages alone.

Both ways do the same work per run, on the benchmark's programs (``sitegen.program``):
decode a request, compile the program, run it in a forked child, encode a reply. ``direct``
forks from the process doing that work; ``server`` sends the compiled code (``marshal``) over
a socket to a forked server that forks the child and waits for it. Reported: CPU ms per run of
the whole tree (``getrusage``), medians of ``--rounds`` alternating rounds. Measured on the
2-core machine of the README (1,000 runs, 3 rounds): direct 2.19–2.29 ms, through a server
2.48–2.60 ms. The server's own messages and unmarshalling cost more than the page faults they
save, so the runner forks from its worker. On the machine kind's later, slower hardware, where
a copied page costs about 5 µs, it turned: direct 6.29–6.83 ms, through a server 5.85–6.35 ms.
A fork server built into the real worker on that hardware still lost (8 rounds of
``runner_cpu.py``: the workers' and children's CPU higher in all 8): the server's own work
between two forks faulted nearly as much as the worker had, and the children cost more. The
docs/guide/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import marshal
import os
import resource
import socket
import statistics
import struct
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sitegen

PRELOADED = ["abc", "collections", "contextlib", "copy", "enum", "functools", "heapq", "itertools",
             "json", "math", "operator", "os.path", "re", "string", "typing", "warnings", "weakref",
             "dataclasses", "hashlib", "sqlite3"]
ENV = {f"VARIABLE_{n}": "v" * 30 for n in range(12)}


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def work(sources: list[str], index: int) -> types.CodeType:
    """A request's worth of JSON, then the program compiled (as the worker does per run)."""
    json.loads(json.dumps({"env": ENV, "path": f"/bench/s{index}.py", "args": [], "cwd": "/tmp"}))
    return compile(sources[index % len(sources)], f"s{index}.py", "exec", dont_inherit=True)


def child(code: types.CodeType) -> None:
    """In the forked child: the program's output goes to a pipe nobody reads (it is small)."""
    _, write = os.pipe()
    sys.stdout = io.TextIOWrapper(io.FileIO(write, "w"), write_through=False)
    exec(code, {"__name__": "__main__"})
    sys.stdout.flush()
    os._exit(0)


def fork_and_wait(code: types.CodeType) -> None:
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        child(code)
    gc.unfreeze()
    os.waitpid(pid, 0)


def direct(sources: list[str], runs: int) -> float:
    start = cpu()
    for index in range(runs):
        fork_and_wait(work(sources, index))
        json.dumps({"op": "result", "exit_code": 0, "stdout": "x" * 200})  # the reply
    return (cpu() - start) / runs * 1000


def server(sources: list[str], runs: int) -> float:
    start = cpu()
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the fork server
        ours.close()
        reader = theirs.makefile("rb")
        while True:
            head = reader.read(4)
            if len(head) < 4:
                os._exit(0)
            fork_and_wait(marshal.loads(reader.read(struct.unpack(">I", head)[0])))
            theirs.sendall(b"x")
    theirs.close()
    for index in range(runs):
        blob = marshal.dumps(work(sources, index))
        ours.sendall(struct.pack(">I", len(blob)) + blob)
        ours.recv(1)
        json.dumps({"op": "result", "exit_code": 0, "stdout": "x" * 200})
    ours.close()
    os.waitpid(pid, 0)
    return (cpu() - start) / runs * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    for name in PRELOADED:
        importlib.import_module(name)
    sources = [sitegen.program(i) for i in range(6)]
    results: dict[str, list[float]] = {"direct": [], "server": []}
    for _ in range(options.rounds):
        results["direct"].append(direct(sources, options.runs))
        results["server"].append(server(sources, options.runs))
    for name, values in results.items():
        print(f"{name:<8} {statistics.median(values):.2f} ms CPU per run "
              f"(rounds: {', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
