"""pattern-articles against its peers and the physical limit, side by side in one run.

Run (from the repository root, with the project's virtualenv)::

    python benchmarks/bench.py            # 2,000 snippets (100 articles x 20), 5 rounds
    python benchmarks/bench.py --quick    # 200 snippets (10 articles x 20)

It generates synthetic sites in a temporary folder (see ``sitegen.py``): the same pages and
the same small, realistic Python programs, built four ways. Every comparison is measured in
alternation, A B A B, ``--rounds`` times (at least five); a ratio is the median of the
per-round ratios (each pair ran back to back, so load from other processes that drifts over
the run cancels out), times are medians:

``warm_ratio``     our warm build (nothing changed, cache full) / plain mkdocs-material build
                   of the same pages with the code and outputs as static highlighted blocks
``cold_ratio``     our cold build (empty cache) / markdown-exec running the same programs
                   in-process (no isolation, no timeout, no cache)
``overhead_ms_per_snippet``  CPU time a cold build costs per snippet beyond the code's own
                   run time: (CPU of the cold build's whole process tree - CPU of the plain
                   build of the same pages - the programs' own in-process run time) /
                   snippets. Everything pattern-articles adds is in it: loading bundles,
                   filling the pages, isolating, supervising, caching and judging each run.
                   CPU, not wall time: the real cost whatever the core count and the
                   machine's load. ``overhead_wall_ms_per_snippet`` is the same in wall-clock
                   time (it shrinks with more cores: runs go in parallel with page rendering)
``pytest_ratio``   ``pytest`` with the pattern-articles plugin, empty cache (runs every program
                   isolated and checks its output against its golden file) /
                   pytest-markdown-docs running the same programs in-process (no output check)
``serve_ratio``    a real ``mkdocs serve``: the rebuild after one snippet changes among all /
                   the plain site's ``mkdocs serve`` rebuild after the same code block changes
                   in its page; timed from the server's "Building documentation" log line to
                   its "Reloading browsers" line; both servers stay up, and which of them
                   rebuilds first alternates from round to round
``memory_ratio``   peak memory of the whole process tree of a cold build / the plain build:
                   the sum of the proportional set sizes (PSS, from /proc/<pid>/smaps_rollup,
                   sampled every 50 ms) of the build and all its descendants. PSS counts a
                   page shared by n processes 1/n in each, so the tree's total is the memory
                   it really holds. ``memory_ratio_rss`` sums resident set sizes instead
                   (sampled every 10 ms): a forked snippet shares its worker's pages, and RSS
                   counts them again in every process, so that sum overstates the tree

The last line of output is one JSON object with those keys, CPU ratios and the raw medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "plugin"))

import sitegen  # noqa: E402

TARGETS = {
    "warm_ratio": 1.05, "cold_ratio": 1.5, "overhead_ms_per_snippet": 3.0,
    "pytest_ratio": 1.0, "serve_ratio": 1.1, "memory_ratio": 1.5,
}
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- measuring


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                kids.extend(int(k) for k in handle.read().split())
        except (OSError, ValueError):
            continue
    return kids


TICK = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants (alive when asked)."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo.extend(_children(pid))
    return found


def tree_rss(root: int, workers: dict[int, tuple[float, float]] | None = None) -> int:
    """Sum of the resident set sizes of ``root`` and all its descendants, in bytes.

    ``workers`` (if given) gets, for each direct child of ``root`` that is a pattern-articles
    worker, its own CPU seconds and those of its waited-for children (the snippets).
    """
    total = 0
    for pid in _tree(root):
        with _suppress_os(), open(f"/proc/{pid}/statm", "rb") as handle:
            total += int(handle.read().split()[1]) * PAGE
    if workers is None:
        return total
    for kid in _children(root):
        with _suppress_os():
            with open(f"/proc/{kid}/cmdline", "rb") as handle:
                if b"_worker.py" not in handle.read():
                    continue
            with open(f"/proc/{kid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            # utime, stime, cutime, cstime are fields 14-17 (11-14 after the name)
            workers[kid] = ((int(fields[11]) + int(fields[12])) / TICK,
                            (int(fields[13]) + int(fields[14])) / TICK)
    return total


def tree_pss(root: int) -> tuple[int, int]:
    """Proportional set sizes in bytes, of ``root`` itself and of all its descendants: a page
    shared by n processes counts 1/n in each (a forked child shares its worker's pages)."""
    own = others = 0
    for pid in _tree(root):
        with _suppress_os(), open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    size = int(line.split()[1]) * 1024
                    if pid == root:
                        own += size
                    else:
                        others += size
                    break
    return own, others


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (OSError, ValueError, IndexError))  # type: ignore[arg-type]


@dataclass
class Run:
    wall: float
    cpu: float  # user + system of the whole tree (every descendant is waited for)
    peak_rss: int
    output: str
    worker_cpu: float = 0.0  # of which: the warm worker processes themselves
    snippet_cpu: float = 0.0  # of which: the snippet processes they forked
    peak_pss: int = 0  # sampled every 50 ms only (reading smaps is costly)
    peak_pss_descendants: int = 0  # of which: the build's descendants (workers, snippets)


def measure(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 1800, pss: bool = False) -> Run:
    """Run a command to completion: wall time, CPU of its tree, peak RSS of its tree."""
    with tempfile.TemporaryFile() as log:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        peak = peak_pss = peak_pss_descendants = 0
        stop = threading.Event()
        workers: dict[int, tuple[float, float]] = {}

        def sample() -> None:
            nonlocal peak, peak_pss, peak_pss_descendants
            count = 0
            while not stop.is_set():
                peak = max(peak, tree_rss(process.pid, workers))
                if pss and count % 5 == 0:
                    own, others = tree_pss(process.pid)
                    if own + others > peak_pss:
                        peak_pss, peak_pss_descendants = own + others, others
                count += 1
                stop.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            code = process.wait(timeout)
            wall = time.perf_counter() - started
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise SystemExit(f"timed out after {timeout} s: {' '.join(argv)}") from None
        finally:
            stop.set()
            sampler.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    if code != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise SystemExit(f"failed (exit {code}) in {cwd}: {' '.join(argv)}\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, peak, output, sum(w for w, _ in workers.values()), sum(c for _, c in workers.values()),
               peak_pss, peak_pss_descendants)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired(a: Series, b: Series, what: str = "wall") -> float:
    """Median of the per-round ratios a/b: each pair ran back to back, so a load that drifts
    over the run (other processes on the machine) cancels out better than in medians' ratio."""
    return median([getattr(x, what) / getattr(y, what) for x, y in zip(a.runs, b.runs, strict=True)])


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def add(self, run: Run) -> Run:
        self.runs.append(run)
        return run

    @property
    def wall(self) -> float:
        return median([r.wall for r in self.runs])

    @property
    def cpu(self) -> float:
        return median([r.cpu for r in self.runs])

    @property
    def peak(self) -> float:
        return median([float(r.peak_rss) for r in self.runs])

    @property
    def pss(self) -> float:
        return median([float(r.peak_pss) for r in self.runs])

    @property
    def pss_descendants(self) -> float:
        return median([float(r.peak_pss_descendants) for r in self.runs])

    @property
    def worker_cpu(self) -> float:
        return median([r.worker_cpu for r in self.runs])

    @property
    def snippet_cpu(self) -> float:
        return median([r.snippet_cpu for r in self.runs])


# --------------------------------------------------------------------------- the runs


def build_env() -> dict[str, str]:
    """The environment every measured command runs in: none of our settings from the caller's
    shell, and .pyc files written (without them every import would parse its source)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATTERN_ARTICLES_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Bench:
    def __init__(self, sites: sitegen.Sites, rounds: int, quiet: bool) -> None:
        self.sites = sites
        self.rounds = rounds
        self.quiet = quiet
        self.python = sys.executable
        self.env = build_env()
        self.cache = sites.ours / ".cache"

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def build(self, site: Path, pss: bool = False) -> Run:
        # not -q: the plugin's summary line tells whether the build really was warm/cold
        return measure([self.python, "-m", "mkdocs", "build", "--strict", "-d", str(site / "site")],
                       site, self.env, pss=pss)

    def ours(self, expect_ran: int, expect_cached: int, pss: bool = False) -> Run:
        run = self.build(self.sites.ours, pss)
        found = re.search(r"snippets: ran (\d+), cached (\d+), failed (\d+)", run.output)
        if found is None or (int(found[1]), int(found[2]), int(found[3])) != (expect_ran, expect_cached, 0):
            raise SystemExit(f"unexpected build summary (wanted ran {expect_ran}, cached {expect_cached}):\n"
                             + (found[0] if found else run.output[-2000:]))
        return run

    def clear_cache(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

    def builds(self) -> dict[str, Series]:
        n = self.sites.count
        series = {name: Series() for name in ("plain", "warm", "mdexec", "cold")}
        self.say("warm-up builds (not measured)")
        self.build(self.sites.plain)
        self.build(self.sites.mdexec)
        self.clear_cache()
        self.ours(n, 0)
        self.ours(0, n)
        for r in range(1, self.rounds + 1):
            plain = series["plain"].add(self.build(self.sites.plain, pss=True))
            warm = series["warm"].add(self.ours(0, n))
            mdexec = series["mdexec"].add(self.build(self.sites.mdexec))
            self.clear_cache()
            cold = series["cold"].add(self.ours(n, 0, pss=True))
            self.say(f"round {r}: plain {plain.wall:.2f} s | warm {warm.wall:.2f} s | "
                     f"markdown-exec {mdexec.wall:.2f} s | cold {cold.wall:.2f} s "
                     f"(peak RSS {cold.peak_rss / 2**20:.0f} MiB vs plain {plain.peak_rss / 2**20:.0f} MiB, "
                     f"PSS {cold.peak_pss / 2**20:.0f} vs {plain.peak_pss / 2**20:.0f} MiB; "
                     f"CPU plain {plain.cpu:.1f} s, warm {warm.cpu:.1f} s, markdown-exec {mdexec.cpu:.1f} s, "
                     f"cold {cold.cpu:.1f} s of which workers {cold.worker_cpu:.1f} s + snippets "
                     f"{cold.snippet_cpu:.1f} s)")
        return series

    def pytests(self) -> dict[str, Series]:
        n = self.sites.count
        series = {"pytest_ours": Series(), "pytest_mddocs": Series()}

        def ours() -> Run:
            self.clear_cache()
            run = measure([self.python, "-m", "pytest", "-q"], self.sites.ours, self.env)
            self._passed(run, n)
            return run

        def mddocs() -> Run:
            run = measure([self.python, "-m", "pytest", "-q", "--markdown-docs"], self.sites.mddocs, self.env)
            self._passed(run, n)
            return run

        self.say("pytest warm-up (not measured)")
        ours()
        mddocs()
        for r in range(1, self.rounds + 1):
            a = series["pytest_ours"].add(ours())
            b = series["pytest_mddocs"].add(mddocs())
            self.say(f"round {r}: pytest --pattern-articles {a.wall:.2f} s | pytest --markdown-docs {b.wall:.2f} s")
        return series

    @staticmethod
    def _passed(run: Run, n: int) -> None:
        found = re.search(r"(\d+) passed", run.output)
        if found is None or int(found[1]) != n or "failed" in run.output.splitlines()[-1]:
            raise SystemExit("pytest did not pass every snippet:\n" + run.output[-2000:])

    def serve(self) -> dict[str, list[float]]:
        """Real ``mkdocs serve`` processes; one edit at a time, alternating between the two
        (and which of them goes first)."""
        ours = Server(self.python, self.sites.ours, self.env)
        plain = Server(self.python, self.sites.plain, self.env)
        times: dict[str, list[float]] = {"serve_ours": [], "serve_plain": []}
        pages = sorted((self.sites.plain / "docs" / "patterns").glob("*.md"))
        try:
            ours.start()
            plain.start()
            # round 0 is a warm-up (the first rebuild imports what the first build did not)
            for r in range(self.rounds + 1):
                k = (r * 7919) % self.sites.count
                snippet = self.sites.snippets[k]
                page = pages[k // self.sites.per_article]

                def rebuild_ours(s: Path = snippet, n: int = r) -> float:
                    took = ours.rebuild(lambda: sitegen.edit_snippet(s, n))
                    if "ran 1, cached" not in ours.last_summary:
                        raise SystemExit(f"serve rebuild did not re-run exactly one snippet: {ours.last_summary!r}")
                    return took

                def rebuild_plain(p: Path = page, n: int = r) -> float:
                    return plain.rebuild(lambda: sitegen.edit_plain_page(p, n))

                # which server goes first alternates: the second of a pair rebuilds while the
                # first one's freshly written site may still be going to disk
                if r % 2:
                    a = rebuild_ours()
                    b = rebuild_plain()
                else:
                    b = rebuild_plain()
                    a = rebuild_ours()
                if r:
                    times["serve_ours"].append(a)
                    times["serve_plain"].append(b)
                    self.say(f"round {r}: serve rebuild, one snippet changed {a:.2f} s | plain {b:.2f} s")
        finally:
            ours.stop()
            plain.stop()
        return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``mkdocs serve`` process whose log lines are read as they come, with arrival times."""

    def __init__(self, python: str, site: Path, env: dict[str, str]) -> None:
        self.argv = [python, "-m", "mkdocs", "serve", "-a", f"127.0.0.1:{_free_port()}"]
        self.site = site
        self.env = env
        self.lines: list[tuple[float, str]] = []
        self.cv = threading.Condition()
        self.process: subprocess.Popen[bytes] | None = None
        self.last_summary = ""

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, cwd=self.site, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_for("Serving on", 0, 1800)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            with self.cv:
                self.lines.append((time.perf_counter(), raw.decode("utf-8", "replace").rstrip()))
                self.cv.notify_all()
        with self.cv:
            self.lines.append((time.perf_counter(), "<exited>"))
            self.cv.notify_all()

    def _wait_for(self, text: str, start: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for index in range(start, len(self.lines)):
                    if text in self.lines[index][1]:
                        return index
                    if self.lines[index][1] == "<exited>":
                        tail = "\n".join(line for _, line in self.lines[-30:])
                        raise SystemExit(f"mkdocs serve exited in {self.site}:\n{tail}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"mkdocs serve in {self.site}: no '{text}' within {timeout} s")
                self.cv.wait(left)

    def rebuild(self, edit: Callable[[], None]) -> float:
        with self.cv:
            start = len(self.lines)
        edit()
        begin = self._wait_for("Building documentation", start, 600)
        end = self._wait_for("Reloading browsers", begin, 600)
        with self.cv:
            for _, line in self.lines[begin:end]:
                if "snippets: ran" in line:
                    self.last_summary = line
            return self.lines[end][0] - self.lines[begin][0]

    def stop(self) -> None:
        if self.process is None:
            return
        with _suppress():
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with _suppress():
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def missing_peers(only: set[str]) -> list[str]:
    """The peers the chosen comparisons run that this Python cannot import (checked before
    generating anything, so a missing one is one line, not a failed build minutes later)."""
    import importlib.util

    needed = {"mkdocs-material": "material"}
    if "builds" in only:
        needed["markdown-exec"] = "markdown_exec"
    if "pytest" in only:
        needed["pytest-markdown-docs"] = "pytest_markdown_docs"
    return [name for name, module in needed.items() if importlib.util.find_spec(module) is None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 snippets instead of 2,000")
    parser.add_argument("--rounds", type=int, default=5, help="alternations per comparison (>= 5)")
    parser.add_argument("--articles", type=int, help="override: number of articles")
    parser.add_argument("--per-article", type=int, default=20, help="snippets per article")
    parser.add_argument("--only", default="builds,pytest,serve", help="comma list of builds,pytest,serve")
    parser.add_argument("--keep", type=Path, help="generate the sites here and keep them")
    parser.add_argument("--quiet", action="store_true", help="only the table and the JSON line")
    options = parser.parse_args()
    if options.rounds < 5:
        parser.error("--rounds must be at least 5 (medians of at least five runs)")
    articles = options.articles or (10 if options.quick else 100)
    only = set(options.only.split(","))
    missing = missing_peers(only)
    if missing:
        print(f"bench.py: {', '.join(missing)} not installed in this Python; the comparisons need "
              f"them: pip install -e \".[bench]\" (from the repository root)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    temp = None
    if options.keep:
        root = options.keep
        root.mkdir(parents=True, exist_ok=True)
    else:
        temp = tempfile.mkdtemp(prefix="pattern-articles-bench-")
        root = Path(temp)
    try:
        sites = sitegen.generate(root, articles, options.per_article)
        bench = Bench(sites, options.rounds, options.quiet)
        bench.say(f"{machine()}\n{sites.count} snippets in {articles} articles, in {root}; "
                  f"their own in-process run time {sites.own_seconds * 1000:.0f} ms in all")
        sitegen.write_plain(sites)
        result: dict[str, object] = {"snippets": sites.count, "articles": articles, "rounds": options.rounds}
        n = sites.count
        if "builds" in only:
            b = bench.builds()
            plain, warm, mdexec, cold = b["plain"], b["warm"], b["mdexec"], b["cold"]
            result.update(
                warm_ratio=paired(warm, plain),
                cold_ratio=paired(cold, mdexec),
                overhead_ms_per_snippet=(cold.cpu - plain.cpu - sites.own_seconds) / n * 1000,
                overhead_wall_ms_per_snippet=(cold.wall - plain.wall - sites.own_seconds) / n * 1000,
                memory_ratio=paired(cold, plain, "peak_pss"),
                memory_ratio_rss=paired(cold, plain, "peak_rss"),
                warm_cpu_ratio=paired(warm, plain, "cpu"), cold_cpu_ratio=paired(cold, mdexec, "cpu"),
                plain_s=plain.wall, warm_s=warm.wall, markdown_exec_s=mdexec.wall, cold_s=cold.wall,
                plain_cpu_s=plain.cpu, warm_cpu_s=warm.cpu, markdown_exec_cpu_s=mdexec.cpu, cold_cpu_s=cold.cpu,
                own_run_s=sites.own_seconds,
                cold_main_cpu_s=cold.cpu - cold.worker_cpu - cold.snippet_cpu,
                cold_worker_cpu_s=cold.worker_cpu, cold_snippet_cpu_s=cold.snippet_cpu,
                cold_peak_mib=cold.peak / 2**20, plain_peak_mib=plain.peak / 2**20,
                warm_peak_mib=warm.peak / 2**20,
                cold_pss_mib=cold.pss / 2**20, plain_pss_mib=plain.pss / 2**20,
                cold_pss_workers_mib=cold.pss_descendants / 2**20,  # at the peak: workers and snippets
            )
        if "pytest" in only:
            p = bench.pytests()
            ours, other = p["pytest_ours"], p["pytest_mddocs"]
            result.update(pytest_ratio=paired(ours, other), pytest_ours_s=ours.wall,
                          pytest_markdown_docs_s=other.wall, pytest_cpu_ratio=paired(ours, other, "cpu"))
        if "serve" in only:
            s = bench.serve()
            a, b2 = median(s["serve_ours"]), median(s["serve_plain"])
            result.update(serve_ratio=median([x / y for x, y in zip(s["serve_ours"], s["serve_plain"], strict=True)]),
                          serve_ours_s=a, serve_plain_s=b2)
        result["total_s"] = time.perf_counter() - started
        result["machine"] = machine()
        print()
        print(f"{'key':<26} {'value':>8}  {'target':>7}")
        for key, target in TARGETS.items():
            if key in result:
                value = float(result[key])  # type: ignore[arg-type]
                mark = "ok" if value <= target else "MISSED"
                print(f"{key:<26} {value:8.2f}  {'<= ' + str(target):>7}  {mark}")
        print(f"total {result['total_s']:.0f} s")
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
