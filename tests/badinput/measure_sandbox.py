"""What the sandbox costs per run: ``python tests/badinput/measure_sandbox.py [runs]``.

Not a test (no timed assertions): it prints the time per run of one tiny snippet in three
ways, so docs/guide/security.md can quote real numbers:

* fork - the default: the warm worker forks a child per run;
* exec - a fresh interpreter per run, no sandbox (``RunnerSettings(fork=False)``);
* exec in bwrap - ``sandbox: bwrap``: a fresh interpreter per run, inside bubblewrap.

The difference between the last two is what bubblewrap itself costs; the difference between
the first two is what giving up the warm fork costs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pattern_articles.engine.runner import Runner, RunnerSettings, RunSpec, sandbox_command


def measure(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        (bundle / "hello.py").write_text("import json\nprint(json.dumps({'hello': 'world'}))\n")
        specs = [RunSpec(snippet=bundle / "hello.py", bundle_dir=bundle, scenario=str(i), args=(str(i),))
                 for i in range(runs + 2)]
        ways: list[tuple[str, dict[str, object]]] = [("fork (default)", {}), ("exec, no sandbox", {"fork": False})]
        if sandbox_command("bwrap")[0] is not None:
            ways.append(("exec in bwrap", {"sandbox": "bwrap"}))
        else:
            print(f"bwrap: {sandbox_command('bwrap')[1]}")
        for label, options in ways:
            with Runner(RunnerSettings(jobs=2, **options)) as runner:  # type: ignore[arg-type]
                runner.run_all(specs[:2])  # start the workers
                started = time.perf_counter()
                results = runner.run_all(specs[2:])
                elapsed = time.perf_counter() - started
            assert all(r.ok for r in results), results[0]
            print(f"{label:18} {runs} runs in {elapsed:.2f} s: {elapsed / runs * 1000:.1f} ms per run "
                  "(2 at a time)")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
