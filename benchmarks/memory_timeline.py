"""Where a cold build's memory goes over time: the build process and its workers, sampled.

Run:  python benchmarks/memory_timeline.py [--articles 100] [--per-article 20] [--keep DIR]

Generates the benchmark's sites (``sitegen.py``), then builds the plain site and our site
with an empty cache, once each, sampling every 250 ms the proportional set size (PSS) of the
build process and, separately, of all its descendants (the warm workers and the snippets
they fork). It prints the timeline side by side and, for our build:

* the tree's peak and when it happened;
* the build process alone at that moment, and the workers' share;
* the build process at the end (the workers are gone by then: the plugin waits for every
  run before it fills a page, then retires them, see ``Runner.wait_all``);
* the plain build's peak.

Why it exists: ``bench.py`` reports one number, the tree's peak; this shows what the peak is
made of, which is what bounds ``memory_ratio`` (see docs/guide/performance.md).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import sitegen  # noqa: E402

Sample = tuple[float, float, float, int]  # seconds, build process MiB, descendants MiB, processes


def timeline(site: Path, env: dict[str, str]) -> list[Sample]:
    """Build ``site`` once, sampling the PSS of the build process and of its descendants."""
    process = subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site / "site")],
                               cwd=site, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    samples: list[Sample] = []
    while process.poll() is None:
        own, others = bench.tree_pss(process.pid)
        samples.append((time.perf_counter() - started, own / 2**20, others / 2**20,
                        len(bench._tree(process.pid))))
        time.sleep(0.25)
    if process.returncode != 0:
        raise SystemExit(f"the build of {site} failed (exit {process.returncode})")
    return [s for s in samples if s[1] > 0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--per-article", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="generate the sites here and keep them")
    options = parser.parse_args()
    root = options.keep or Path(tempfile.mkdtemp(prefix="pattern-articles-memory-"))
    root.mkdir(parents=True, exist_ok=True)
    env = bench.build_env()
    try:
        sites = sitegen.generate(root, options.articles, options.per_article)
        sitegen.write_plain(sites)
        timeline(sites.plain, env)  # warm-up: page cache, .pyc files
        shutil.rmtree(sites.ours / ".cache", ignore_errors=True)
        timeline(sites.ours, env)
        plain = timeline(sites.plain, env)
        shutil.rmtree(sites.ours / ".cache", ignore_errors=True)
        ours = timeline(sites.ours, env)
        print(f"{bench.machine()}; {sites.count} snippets, PSS in MiB every 250 ms (shown: every second)")
        print(f"{'s':>5}  {'plain':>6}  {'ours: build':>11}  {'workers+snippets':>16}")
        for index in range(0, max(len(plain), len(ours)), 4):
            p = f"{plain[index][1]:6.1f}" if index < len(plain) else " " * 6
            o = f"{ours[index][1]:11.1f}  {ours[index][2]:16.1f}" if index < len(ours) else ""
            print(f"{index * 0.25:5.1f}  {p}  {o}")
        at, own, others, _ = max(ours, key=lambda s: s[1] + s[2])
        plain_peak = max(s[1] for s in plain)
        print(f"our tree's peak: {own + others:.1f} MiB at {at:.1f} s = build process {own:.1f} "
              f"+ workers and snippets {others:.1f}")
        print(f"our build process at the end: {ours[-1][1]:.1f} MiB (workers and snippets then: "
              f"{ours[-1][2]:.1f} MiB)")
        print(f"plain build's peak: {plain_peak:.1f} MiB; ratio of the peaks {(own + others) / plain_peak:.2f}")
    finally:
        if options.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
