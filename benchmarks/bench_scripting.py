"""EVALSHA of a small script touching one key: respdb vs redis-server in the same run, as a ratio.

    python -m benchmarks.bench_scripting            # 100000 requests, 50 clients, -P 1 and -P 16, 3 rounds
    python -m benchmarks.bench_scripting --quick    # 20000 requests, 1 round

The script is `return redis.call('incr', KEYS[1])`, loaded with SCRIPT LOAD and driven by
`redis-benchmark ... evalsha <sha> 1 key`. Plain `INCR key` runs beside it so the table also shows
what the script layer costs on each server. Servers alternate over the rounds, each pinned to core 0
with redis-benchmark on core 1; medians of requests/s and of server CPU µs per request are reported.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess

import redis

from benchmarks.servers import start, taskset

SCRIPT = "return redis.call('incr', KEYS[1])"


def run_once(kind: str, n: int, clients: int, pipeline: int) -> dict[str, tuple[float, float]]:
    """{workload: (requests/s, server CPU µs per request)} for one server start."""
    out: dict[str, tuple[float, float]] = {}
    with start(kind, core=0) as srv:
        client = redis.Redis(port=srv.port)
        sha = client.script_load(SCRIPT)
        client.close()
        for name, command in (("evalsha", ["evalsha", sha, "1", "key"]), ("incr", ["incr", "key"])):
            cpu0 = srv.cpu_seconds()
            cmd = taskset(1) + [
                "redis-benchmark", "-p", str(srv.port), "-n", str(n), "-c", str(clients), "-P", str(pipeline), "--csv", *command,
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            cpu = srv.cpu_seconds() - cpu0
            if result.returncode != 0:
                raise RuntimeError(f"redis-benchmark failed against {kind}: {result.stderr}")
            rows = [r for r in csv.reader(io.StringIO(result.stdout)) if r]
            out[name] = (float(rows[1][1]), cpu / n * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 20_000, 1
    print(f"# {SCRIPT!r}: redis-benchmark -n {args.n} -c {args.clients} -P 1|16 evalsha <sha> 1 key (and incr key)")
    print(f"{'workload':<14}{'P':>3}{'respdb rps':>13}{'redis rps':>13}{'ratio':>8}{'respdb µs/req':>15}{'redis µs/req':>14}")
    for pipeline in (1, 16):
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {"respdb": {}, "redis": {}}
        for _ in range(args.rounds):
            for kind in ("respdb", "redis"):
                for name, value in run_once(kind, args.n, args.clients, pipeline).items():
                    samples[kind].setdefault(name, []).append(value)
        for name in ("evalsha", "incr"):
            ours = samples["respdb"][name]
            theirs = samples["redis"][name]
            rps_a = statistics.median(x[0] for x in ours)
            rps_b = statistics.median(x[0] for x in theirs)
            cpu_a = statistics.median(x[1] for x in ours)
            cpu_b = statistics.median(x[1] for x in theirs)
            print(f"{name:<14}{pipeline:>3}{rps_a:>13,.0f}{rps_b:>13,.0f}{rps_a / rps_b:>8.2f}{cpu_a:>15.1f}{cpu_b:>14.1f}")


if __name__ == "__main__":
    main()
