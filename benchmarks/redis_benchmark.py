"""redis-benchmark against respdb and redis-server in the same run: rps, ratio, server CPU µs/request.

    python -m benchmarks.redis_benchmark            # default test list, -P 1 and 16, -d 3 and 1024
    python -m benchmarks.redis_benchmark --quick    # ping_inline,set,get,incr at -P 1/16, under a minute
    python -m benchmarks.redis_benchmark -t ping_inline,ping_mbulk,set,get,incr,mset -d 3 --rounds 3

For every configuration (data size, pipeline depth) and round, each server is started once, pinned
to core 0, and redis-benchmark (pinned to core 1) runs each test as its own invocation (`-t <test>`),
so the server's CPU time can be read from /proc between tests. The servers take turns (A B, then
B A, ...) over --rounds and the medians are reported, so a shared machine's drift hits both alike.

LRANGE_N tests: redis-benchmark first sends n `LPUSH mylist` ("LPUSH (needed to benchmark LRANGE)")
in the same invocation. `mylist` is deleted before each so it holds n elements, as in a default run,
and the LPUSH part's CPU (n times the LPUSH test's CPU/request from the same server start) is subtracted
from the invocation's CPU to leave LRANGE's own.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from benchmarks.servers import Running, start, taskset

# redis-benchmark 7.0's default list, in its order (MSET last; LPUSH before the LRANGE tests).
DEFAULT_TESTS = (
    "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,"
    "lrange_100,lrange_300,lrange_500,lrange_600,mset"
)
QUICK_TESTS = "ping_inline,set,get,incr"
LPUSH_NEEDED = "LPUSH (needed to benchmark LRANGE)"
RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("redis", "respdb")


def _invoke(srv: Running, test: str, pipeline: int, n: int, clients: int, size: int) -> tuple[list[tuple[str, float]], float]:
    """One redis-benchmark run of one test: ([(CSV label, rps)], server CPU seconds it cost)."""
    cmd = taskset(1) + [
        "redis-benchmark", "-p", str(srv.port), "-t", test, "-n", str(n), "-c", str(clients),
        "-P", str(pipeline), "-d", str(size), "--csv",
    ]
    cpu0 = srv.cpu_seconds()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    cpu = srv.cpu_seconds() - cpu0
    if out.returncode != 0:
        raise RuntimeError(f"redis-benchmark -t {test} failed against {srv.name}: {out.stderr.strip()}")
    rows = [row for row in csv.reader(io.StringIO(out.stdout)) if row][1:]
    if not rows:
        raise RuntimeError(f"redis-benchmark -t {test} printed no result against {srv.name}: {out.stdout!r}")
    return [(row[0], float(row[1])) for row in rows], cpu


def run_round(kind: str, tests: list[str], pipeline: int, n: int, clients: int, size: int) -> dict[str, dict[str, float]]:
    """All tests against one fresh server: {CSV label: {"rps": .., "cpu_us": ..}} (no cpu_us for LPUSH_NEEDED)."""
    result: dict[str, dict[str, float]] = {}
    lpush_cpu_per_req: float | None = None
    with start(kind, core=0) as srv:
        client = redis.Redis(port=srv.port)
        for test in tests:
            if test.startswith("lrange") and lpush_cpu_per_req is None:
                # The LPUSH part of an LRANGE run is priced by an LPUSH run on the same server.
                _, cpu = _invoke(srv, "lpush", pipeline, n, clients, size)
                lpush_cpu_per_req = cpu / n
            if test.startswith("lrange"):
                client.delete("mylist")
            rows, cpu = _invoke(srv, test, pipeline, n, clients, size)
            label, rps = rows[-1]
            if test == "lpush":
                lpush_cpu_per_req = cpu / n
            if test.startswith("lrange"):
                cpu -= n * (lpush_cpu_per_req or 0.0)
                if LPUSH_NEEDED not in result and rows[0][0] == LPUSH_NEEDED:
                    result[LPUSH_NEEDED] = {"rps": rows[0][1]}
            result[label] = {"rps": rps, "cpu_us": max(cpu, 0.0) * 1e6 / n}
        client.close()
    return result


def run(tests: list[str], pipelines: list[int], sizes: list[int], n: int, clients: int, rounds: int,
        log: bool = True, progress: Callable[[dict[str, dict]], None] | None = None) -> dict[str, dict]:
    """{"<label> P<p> d<d>": medians and ratios, plus every round's raw numbers}.

    `progress` gets the results so far after each configuration, so that a long run interrupted
    late still leaves numbers behind.
    """
    results: dict[str, dict] = {}
    for size in sizes:
        for pipeline in pipelines:
            runs: dict[str, list[dict[str, dict[str, float]]]] = {k: [] for k in KINDS}
            for r in range(rounds):
                # Alternate which server goes first, so neither always gets the fresher machine.
                for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
                    t0 = time.monotonic()
                    runs[kind].append(run_round(kind, tests, pipeline, n, clients, size))
                    if log:
                        print(f"  -d {size} -P {pipeline} round {r + 1}/{rounds} {kind}: {time.monotonic() - t0:.0f} s", flush=True)
            for label in runs["redis"][0]:
                results[f"{label} P{pipeline} d{size}"] = summarise(label, runs)
            if progress is not None:
                progress(results)
    return results


def summarise(label: str, runs: dict[str, list[dict[str, dict[str, float]]]]) -> dict:
    entry: dict = {"rounds": {k: [r[label] for r in runs[k] if label in r] for k in KINDS}}
    for kind in KINDS:
        entry[f"{kind}_rps"] = statistics.median(r["rps"] for r in entry["rounds"][kind])
        cpus = [r["cpu_us"] for r in entry["rounds"][kind] if "cpu_us" in r]
        entry[f"{kind}_cpu_us"] = statistics.median(cpus) if cpus else None
    entry["ratio"] = entry["respdb_rps"] / entry["redis_rps"] if entry["redis_rps"] else 0.0
    if entry["respdb_cpu_us"] is not None and entry["redis_cpu_us"]:
        entry["cpu_ratio"] = entry["respdb_cpu_us"] / entry["redis_cpu_us"]
    else:
        entry["cpu_ratio"] = None
    return entry


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[str, dict]) -> None:
    print(f"{'test':<48}{'respdb rps':>12}{'redis rps':>12}{'ratio':>7}{'respdb µs':>11}{'redis µs':>10}{'cpu x':>7}")
    for key, e in results.items():
        print(
            f"{key:<48}{e['respdb_rps']:>12.0f}{e['redis_rps']:>12.0f}{e['ratio']:>7.2f}"
            f"{_fmt(e['respdb_cpu_us'], '.2f'):>11}{_fmt(e['redis_cpu_us'], '.2f'):>10}{_fmt(e['cpu_ratio'], '.2f'):>7}"
        )
    for p in sorted({k.rsplit(" ", 2)[1] for k in results}, key=lambda s: int(s[1:])):
        ratios = [e["ratio"] for k, e in results.items() if k.rsplit(" ", 2)[1] == p and e["ratio"]]
        cpu = [e["cpu_ratio"] for k, e in results.items() if k.rsplit(" ", 2)[1] == p and e["cpu_ratio"]]
        line = f"-{p[0]} {p[1:]}: geomean rps ratio {statistics.geometric_mean(ratios):.2f}, min {min(ratios):.2f}"
        if cpu:
            line += f"; geomean CPU ratio {statistics.geometric_mean(cpu):.2f}, max {max(cpu):.2f}"
        print(line)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("-t", "--tests", default=DEFAULT_TESTS, help="comma-separated redis-benchmark -t names")
    ap.add_argument("-n", type=int, default=100000, help="requests per test")
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-P", "--pipelines", default="1,16", help="comma-separated pipeline depths")
    ap.add_argument("-d", "--sizes", default="3,1024", help="comma-separated SET/GET value sizes")
    ap.add_argument("--rounds", type=int, default=2, help="server starts per kind per configuration; medians")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    ap.add_argument("--cpu", action="store_true", help="kept for old command lines: CPU is always measured now")
    ap.add_argument("--quick", action="store_true", help=f"-t {QUICK_TESTS} -n 20000 -d 3, one round")
    ap.add_argument("--json", default=str(RESULTS / "redis_benchmark.json"))
    ap.add_argument("--chart", default=None, help="PNG path (default: the --json path with .png)")
    args = ap.parse_args()
    if args.quick:
        args.tests, args.n, args.rounds, args.sizes = QUICK_TESTS, 20000, 1, "3"
    load_before = os.getloadavg()
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(results: dict[str, dict]) -> None:
        doc = {"time": time.time(), "args": vars(args), "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": results}
        path.write_text(json.dumps(doc, indent=1))

    results = run(args.tests.split(","), _ints(args.pipelines), _ints(args.sizes), args.n, args.clients, args.rounds, progress=save)
    print_table(results)
    save(results)
    from benchmarks.chart import redis_benchmark_chart

    redis_benchmark_chart(results, Path(args.chart) if args.chart else path.with_suffix(".png"))


if __name__ == "__main__":
    main()
