"""redis-benchmark against respdb and redis-server in the same run: rps, ratio, server CPU µs/request.

    python -m benchmarks.redis_benchmark            # default test list, -P 1 and -P 16, -d 3 and 1024
    python -m benchmarks.redis_benchmark --quick    # ping,set,get,incr at -P 1/16, under a minute
    python -m benchmarks.redis_benchmark -t ping_inline,ping_mbulk,set,get,incr,mset

The servers run in turn (A B A B ... over --rounds), each pinned to core 0 with redis-benchmark on
core 1, and the medians are reported, so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import subprocess
import time
from pathlib import Path

from benchmarks.servers import start, taskset

DEFAULT_TESTS = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_500,lrange_600,mset"
QUICK_TESTS = "ping_inline,set,get,incr"
RESULTS = Path(__file__).resolve().parent / "results"


def run_once(kind: str, tests: str, pipeline: int, n: int, clients: int, size: int) -> dict[str, dict[str, float]]:
    with start(kind, core=0) as srv:
        cpu0 = srv.cpu_seconds()
        cmd = taskset(1) + ["redis-benchmark", "-p", str(srv.port), "-t", tests, "-n", str(n), "-c", str(clients), "-P", str(pipeline), "-d", str(size), "--csv"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        cpu = srv.cpu_seconds() - cpu0
        if out.returncode != 0:
            raise RuntimeError(f"redis-benchmark failed against {kind}: {out.stderr}")
    rows = list(csv.reader(io.StringIO(out.stdout)))
    result = {}
    tests_run = [r for r in rows[1:] if r]
    for row in tests_run:
        result[row[0]] = {"rps": float(row[1])}
    # CPU time is for the whole run; attribute it per request across all tests (each test sends n).
    total_requests = n * len(tests_run)
    for name in result:
        result[name]["cpu_us_per_req_run"] = cpu * 1e6 / total_requests
    return result


def cpu_per_test(kind: str, test: str, pipeline: int, n: int, clients: int, size: int) -> float:
    """Server CPU µs per request for one test alone (steadier than rps on a shared machine)."""
    with start(kind, core=0) as srv:
        cpu0 = srv.cpu_seconds()
        cmd = taskset(1) + ["redis-benchmark", "-p", str(srv.port), "-t", test, "-n", str(n), "-c", str(clients), "-P", str(pipeline), "-d", str(size), "-q"]
        subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True)
        return (srv.cpu_seconds() - cpu0) * 1e6 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-t", "--tests", default=DEFAULT_TESTS)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-P", "--pipelines", default="1,16")
    ap.add_argument("-d", "--sizes", default="3")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cpu", action="store_true", help="also measure server CPU µs/request per test")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=str(RESULTS / "redis_benchmark.json"))
    args = ap.parse_args()
    if args.quick:
        args.tests, args.n, args.rounds = QUICK_TESTS, 20000, 1
    results: dict[str, dict] = {}
    for size in [int(x) for x in args.sizes.split(",")]:
        for pipeline in [int(x) for x in args.pipelines.split(",")]:
            runs: dict[str, list[dict]] = {"respdb": [], "redis": []}
            for _ in range(args.rounds):
                for kind in ("redis", "respdb"):
                    runs[kind].append(run_once(kind, args.tests, pipeline, args.n, args.clients, size))
            for test in runs["redis"][0]:
                key = f"{test} P{pipeline} d{size}"
                ours = statistics.median(r[test]["rps"] for r in runs["respdb"] if test in r)
                theirs = statistics.median(r[test]["rps"] for r in runs["redis"])
                results[key] = {"respdb_rps": ours, "redis_rps": theirs, "ratio": ours / theirs if theirs else 0.0}
    if args.cpu:
        for key, entry in results.items():
            test, p, d = key.rsplit(" ", 2)
            name = _test_flag(test)
            if name is None:
                continue
            entry["respdb_cpu_us"] = cpu_per_test("respdb", name, int(p[1:]), args.n, args.clients, int(d[1:]))
            entry["redis_cpu_us"] = cpu_per_test("redis", name, int(p[1:]), args.n, args.clients, int(d[1:]))
    print_table(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"time": time.time(), "args": vars(args), "results": results}, indent=1))
    chart(results, Path(args.json).with_suffix(".png"))


def _test_flag(test: str) -> str | None:
    """redis-benchmark's -t name for a CSV test label."""
    label = test.split(" (")[0].lower()
    if label.startswith("lrange_"):
        return label.split(" ")[0]
    return {"ping_inline": "ping_inline", "ping_mbulk": "ping_mbulk", "mset": "mset"}.get(label, label)


def print_table(results: dict[str, dict]) -> None:
    cpu = any(e.get("respdb_cpu_us") for e in results.values())
    head = f"{'test':<34}{'respdb rps':>12}{'redis rps':>12}{'ratio':>8}"
    if cpu:
        head += f"{'respdb µs':>11}{'redis µs':>10}{'cpu x':>7}"
    print(head)
    for key, e in results.items():
        line = f"{key:<34}{e['respdb_rps']:>12.0f}{e['redis_rps']:>12.0f}{e['ratio']:>8.2f}"
        if cpu and e.get("respdb_cpu_us"):
            line += f"{e['respdb_cpu_us']:>11.2f}{e['redis_cpu_us']:>10.2f}{e['respdb_cpu_us'] / e['redis_cpu_us']:>7.2f}"
        print(line)
    ratios = [e["ratio"] for e in results.values() if e["ratio"]]
    if ratios:
        print(f"geomean ratio: {statistics.geometric_mean(ratios):.2f}")


def chart(results: dict[str, dict], path: Path) -> None:
    """A PNG of respdb/redis ratios per test (needs matplotlib; skipped without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart)")
        return
    keys = list(results)
    fig, ax = plt.subplots(figsize=(max(8, len(keys) * 0.35), 5))
    ax.bar(range(len(keys)), [results[k]["ratio"] for k in keys], color=["#3b7dd8" if " P1 " in k else "#e07b39" for k in keys])
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(keys, rotation=75, ha="right", fontsize=7)
    ax.set_ylabel("respdb rps / redis-server rps")
    ax.set_title("respdb vs redis-server, same run (blue: -P 1, orange: -P 16)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


if __name__ == "__main__":
    main()
