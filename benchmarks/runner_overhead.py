"""Per-snippet overhead of the runner, against one fresh interpreter per snippet.

Run:  python benchmarks/runner_overhead.py [--snippets 60]

Everything is measured on throwaway snippets in a temporary bundle: a trivial one
(``print``) and a "typical" one that imports json, dataclasses, typing, logging and uuid,
as the pattern examples do. Reported per snippet, in milliseconds of wall-clock time:

* ``python file.py``      a subprocess per snippet, one after the other (the naive way);
* ``runner, 1 job``       our runner, sequential (fork of a warm worker, with all the
                          isolation: temp folder, env allowlist, subreaper sweep, trace);
* ``runner, N jobs``      our runner with jobs = cpu count;
* ``runner, cached``      a second build: every result comes from the cache;
* ``runner cold start``   creating a runner and getting the first result (worker start).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugin"))

from pattern_articles.engine import Runner, RunnerSettings, RunSpec

TRIVIAL = 'print("hello")\n'
TYPICAL = """\
import dataclasses, json, logging, typing, uuid

@dataclasses.dataclass
class OrderPlaced:
    order_id: str
    total: float

event = OrderPlaced("order-1001", 42.0)
print(json.dumps(dataclasses.asdict(event)))
"""


def make_bundle(root: Path, count: int, body: str, name: str) -> list[Path]:
    folder = root / "snippets" / name
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"s{i:03d}.py"
        path.write_text(body)
        paths.append(path)
    return paths


def per_snippet(seconds: float, count: int) -> str:
    return f"{seconds / count * 1000:8.2f} ms"


def bench_subprocess(paths: list[Path]) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    for path in paths:
        subprocess.run([sys.executable, str(path)], check=True, capture_output=True, env=env,
                       stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    return time.perf_counter() - started


def bench_runner(paths: list[Path], jobs: int, cache: Path | None = None) -> tuple[float, Runner]:
    bundle = paths[0].parent
    runner = Runner(RunnerSettings(jobs=jobs, cache_dir=cache))
    # warm every worker first: the steady state is what a build with many snippets sees
    warm = [RunSpec(paths[0], bundle, scenario=f"warm{i}") for i in range(jobs)]
    runner.run_all(warm)
    specs = [RunSpec(p, bundle) for p in paths]
    started = time.perf_counter()
    results = runner.run_all(specs)
    elapsed = time.perf_counter() - started
    bad = [r for r in results if r.status != "passed"]
    if bad:
        raise SystemExit(f"benchmark snippet failed: {bad[0]}")
    return elapsed, runner


def bench_cold(path: Path) -> float:
    started = time.perf_counter()
    with Runner(RunnerSettings(jobs=1)) as runner:
        runner.result(RunSpec(path, path.parent))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snippets", type=int, default=60)
    options = parser.parse_args()
    count = options.snippets
    cpus = os.cpu_count() or 1
    print(f"python {sys.version.split()[0]}, {cpus} cpus, {count} snippets per measurement")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for label, body in (("trivial", TRIVIAL), ("typical", TYPICAL)):
            paths = make_bundle(root, count, body, label)
            naive = bench_subprocess(paths)
            one, r1 = bench_runner(paths, 1)
            r1.close()
            many, rn = bench_runner(paths, cpus)
            rn.close()
            cache = root / f"cache-{label}"
            _, filler = bench_runner(paths, cpus, cache)
            filler.close()
            cached, rc = bench_runner(paths, cpus, cache)
            rc.close()
            print(f"\n{label} snippet")
            print(f"  python file.py (subprocess each)  {per_snippet(naive, count)}")
            print(f"  runner, 1 job                     {per_snippet(one, count)}")
            print(f"  runner, {cpus} jobs                    {per_snippet(many, count)}")
            print(f"  runner, cached                    {per_snippet(cached, count)}")
        cold = bench_cold(paths[0])
        print(f"\nrunner cold start (new runner, first result): {cold * 1000:.0f} ms")


if __name__ == "__main__":
    main()
