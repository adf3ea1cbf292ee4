"""CPU per snippet of the runner alone: cache keys, workers, forked runs, cache entries.

Run (from the repository root, with the project's virtualenv)::

    python benchmarks/runner_cpu.py                 # 2,000 snippets, 3 rounds
    python benchmarks/runner_cpu.py --snippets 200

The benchmark's 2,000 generated programs (``sitegen.py``) are run through one
:class:`Runner` with an empty cache, as a cold build runs them, but without MkDocs around
it; every round uses a new cache folder. Reported per snippet, in milliseconds of CPU
(``getrusage``, medians over the rounds): ``self`` is this process (cache keys, the run
threads, judging nothing), ``children`` the workers and everything they forked (the
programs' own ~0.5 ms included), and their total.

Why it exists: ``bench.py``'s overhead key is a difference of two whole builds, each of
~12 s of CPU, so a change worth 0.1 ms per snippet (0.2 s) is within its noise. This runs
only what such a change touches, and an A/B of two checkouts alternates them, e.g.::

    for i in 1 2 3 4 5; do
      (cd ../before && python benchmarks/runner_cpu.py --rounds 1)
      python benchmarks/runner_cpu.py --rounds 1
    done
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "plugin"))

import sitegen  # noqa: E402

from pattern_articles.engine import Runner, RunnerSettings, RunSpec  # noqa: E402


def cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def one_round(specs: list[RunSpec], folder: Path) -> tuple[float, float, float]:
    """(self, children, wall) seconds for running every spec with an empty cache."""
    own0, kids0 = cpu()
    start = time.perf_counter()
    with Runner(RunnerSettings(cache_dir=folder, jobs=2, timeout=60)) as runner:
        runner.submit(specs)
        runner.wait_all()
        failed = [r for r in (runner.result(spec) for spec in specs) if r.status != "passed"]
    wall = time.perf_counter() - start
    own1, kids1 = cpu()
    if failed:
        raise SystemExit(f"{len(failed)} runs did not pass, e.g. {failed[0]}")
    return own1 - own0, kids1 - kids0, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snippets", type=int, default=2000, help="a multiple of 20")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pattern-articles-runner-cpu-") as temp:
        sites = sitegen.generate(Path(temp) / "sites", max(1, options.snippets // 20), 20)
        specs = [RunSpec(path, path.parent) for path in sites.snippets]
        # files written in the last 2 s are never trusted by their signature (cache.py's
        # _RACY_NS): without this wait every run would be analysed twice, unlike a checkout's
        time.sleep(2.5)
        rounds = [one_round(specs, Path(temp) / f"cache-{r}") for r in range(options.rounds)]
    n = len(specs)
    own, kids, wall = (statistics.median(r[i] for r in rounds) * 1000 / n for i in range(3))
    print(f"{n} snippets, {options.rounds} rounds, per snippet: self {own:.2f} ms CPU, "
          f"children {kids:.2f} ms CPU, total {own + kids:.2f} ms CPU, wall {wall:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
