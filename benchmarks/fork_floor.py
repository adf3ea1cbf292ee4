"""The floor under per-snippet isolation: what a bare fork of a warm interpreter costs.

Run:  python benchmarks/fork_floor.py [--runs 2000]

A process loaded like the worker (``gc.freeze``, the standard-library modules it pre-imports
at start, and those the programs import, which the worker's ``_preload`` loads before their
first fork) forks ``--runs`` children one after the other, in three ways, and reports CPU
milliseconds per child (parent + children, from ``getrusage``) and the child's minor page
faults (mostly pages it shared with its parent and wrote to, each one copied):

* ``fork + _exit``          the child exits at once: the kernel's fork, exit and wait;
* ``fork + tiny program``   the child runs ``print("x")`` compiled ahead, into a pipe the
                            parent reads, then exits: the least a snippet run can do;
* ``fork + typical program`` the child runs the benchmark's generated programs in turn
                            (the six kinds of ``sitegen.program``), so it touches what the
                            benchmark's snippets do; the same programs run in-process give
                            the programs' own cost for comparison.

Everything our runner adds per snippet (supervision, environment, run folder, timeouts,
cache entry, judging) comes on top of these. The overhead target of 3 ms per snippet is set
against them in docs/guide/performance.md.
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib
import io
import os
import resource
import sys
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sitegen

WORKER_MODULES = ("abc", "collections", "collections.abc", "contextlib", "copy", "enum", "functools",
                  "heapq", "itertools", "json", "math", "operator", "os.path", "re", "string", "typing",
                  "warnings", "weakref", "dataclasses")


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def faults() -> int:
    """Minor page faults of the waited-for children: in a forked child, mostly first writes
    to a page it shares with its parent, each a page copied."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt


def imported(sources: list[str]) -> set[str]:
    """The modules the programs import (all standard library: see ``sitegen.program``)."""
    names: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def measure(runs: int, child: Callable[[int, int], None]) -> tuple[float, float]:
    """CPU ms per fork (parent and child together) and the child's minor page faults."""
    start, faulted = cpu(), faults()
    for index in range(runs):
        read, write = os.pipe()
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                child(index, write)
            finally:
                os._exit(0)
        gc.unfreeze()
        os.close(write)
        while os.read(read, 65536):
            pass
        os.close(read)
        os.waitpid(pid, 0)
    return (cpu() - start) / runs * 1000, (faults() - faulted) / runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=2000)
    options = parser.parse_args()
    for name in WORKER_MODULES:
        importlib.import_module(name)
    compile("", "<warm-up>", "exec")  # the ast classes, as the worker does
    tiny = [compile('print("x")', "tiny.py", "exec")]
    sources = [sitegen.program(i) for i in range(6)]
    for name in sorted(imported(sources)):  # as the worker's _preload: children then import nothing
        importlib.import_module(name)
    typical = [compile(source, f"typical{i}.py", "exec") for i, source in enumerate(sources)]

    def run(codes: list[types.CodeType]) -> Callable[[int, int], None]:
        def child(index: int, fd: int) -> None:
            sys.stdout = io.TextIOWrapper(io.FileIO(fd, "w"), write_through=True)
            exec(codes[index % len(codes)], {"__name__": "__main__"})
            sys.stdout.flush()
        return child

    results = {
        "fork + _exit": measure(options.runs, lambda index, fd: None),
        "fork + tiny program": measure(options.runs, run(tiny)),
        "fork + typical program": measure(options.runs, run(typical)),
    }
    in_process = cpu()
    for index in range(options.runs):
        sink = io.StringIO()
        saved, sys.stdout = sys.stdout, sink
        try:
            exec(typical[index % len(typical)], {"__name__": "__main__"})
        finally:
            sys.stdout = saved
    own = (cpu() - in_process) / options.runs * 1000
    for name, (value, copied) in results.items():
        print(f"{name:<40} {value:6.2f} ms CPU per run, {copied:5.0f} page faults in the child")
    print(f"{'typical program in-process (no fork)':<40} {own:6.2f} ms CPU per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
