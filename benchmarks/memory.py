"""Memory per key, respdb vs redis-server in the same run: N string keys with 16-byte values,
10% with a TTL; RSS and INFO used_memory before and after, per key; then the server's CPU while idle
(active expiry sampling the keys with a TTL), as a percentage of one core.

    python -m benchmarks.memory [-n 1000000] [--idle 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import redis

from benchmarks.large_collections import Conn, encode
from benchmarks.servers import start

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("redis", "respdb")
DEPTH = 1000


def fill(port: int, n: int) -> None:
    """SET key:%012d to 16 bytes, every tenth key with EX 3600, pipelined DEPTH at a time."""
    conn = Conn(port)
    value = b"v" * 16
    for lo in range(0, n, DEPTH):
        reqs = []
        for i in range(lo, min(lo + DEPTH, n)):
            key = b"key:%012d" % i
            reqs.append(encode(b"SET", key, value, b"EX", b"3600") if i % 10 == 0 else encode(b"SET", key, value))
        conn.batch(b"".join(reqs), len(reqs))
    conn.close()


def measure(kind: str, n: int, idle: float) -> dict[str, float]:
    with start(kind, core=None) as srv:
        r = redis.Redis(port=srv.port)
        rss0, used0 = srv.rss(), r.info("memory")["used_memory"]
        t = time.perf_counter()
        fill(srv.port, n)
        fill_s = time.perf_counter() - t
        if r.dbsize() != n:
            raise RuntimeError(f"{kind}: DBSIZE {r.dbsize()} after writing {n} keys")
        rss1, used1 = srv.rss(), r.info("memory")["used_memory"]
        r.close()
        # Active expiry cost while idle: server CPU over `idle` s with 10% of keys carrying (far) TTLs.
        cpu0 = srv.cpu_seconds()
        time.sleep(idle)
        idle_cpu = srv.cpu_seconds() - cpu0
    return {
        "rss_per_key": (rss1 - rss0) / n,
        "used_memory_per_key": (used1 - used0) / n,
        "fill_seconds": fill_s,
        "idle_cpu_percent": idle_cpu / idle * 100,
    }


def run(n: int, idle: float = 2.0) -> dict[str, dict[str, float]]:
    """{kind: metrics}; the servers run one after the other, each with the machine to itself."""
    return {kind: measure(kind, n, idle) for kind in KINDS}


def print_table(res: dict[str, dict[str, float]]) -> None:
    print(f"{'metric':<22}{'respdb':>12}{'redis':>12}{'ratio':>8}")
    for metric in res["redis"]:
        a, b = res["respdb"][metric], res["redis"][metric]
        print(f"{metric:<22}{a:>12.2f}{b:>12.2f}{(a / b if b else 0):>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000, help="string keys to write")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU sampling after the fill")
    ap.add_argument("--json", default=str(RESULTS / "memory.json"))
    args = ap.parse_args()
    load_before = os.getloadavg()
    res = run(args.n, args.idle)
    print_table(res)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"n": args.n, "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": res}, indent=1))


if __name__ == "__main__":
    main()
