"""Memory per key, respdb vs redis-server in the same run: N string keys with 16-byte values,
10% with a TTL; RSS and INFO used_memory before and after, per key.

    python -m benchmarks.memory [-n 1000000]
"""

from __future__ import annotations

import argparse
import json
import time

import redis

from benchmarks.servers import start

RESULTS_DIR = "benchmarks/results"


def fill(port: int, n: int) -> None:
    r = redis.Redis(port=port)
    pipe = r.pipeline(transaction=False)
    value = b"v" * 16
    for i in range(n):
        key = b"key:%012d" % i
        if i % 10 == 0:
            pipe.set(key, value, ex=3600)
        else:
            pipe.set(key, value)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def measure(kind: str, n: int) -> dict[str, float]:
    with start(kind, core=None) as srv:
        r = redis.Redis(port=srv.port)
        rss0, used0 = srv.rss(), r.info("memory")["used_memory"]
        t = time.perf_counter()
        fill(srv.port, n)
        fill_s = time.perf_counter() - t
        assert r.dbsize() == n
        rss1, used1 = srv.rss(), r.info("memory")["used_memory"]
        # Active expiry cost while idle: server CPU over 2 s with 10% of keys carrying (far) TTLs.
        cpu0 = srv.cpu_seconds()
        time.sleep(2)
        idle_cpu = srv.cpu_seconds() - cpu0
    return {
        "rss_per_key": (rss1 - rss0) / n,
        "used_memory_per_key": (used1 - used0) / n,
        "fill_seconds": fill_s,
        "idle_cpu_percent": idle_cpu / 2 * 100,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1_000_000)
    args = ap.parse_args()
    res = {kind: measure(kind, args.n) for kind in ("redis", "respdb")}
    print(f"{'metric':<22}{'respdb':>12}{'redis':>12}{'ratio':>8}")
    for metric in res["redis"]:
        a, b = res["respdb"][metric], res["redis"][metric]
        print(f"{metric:<22}{a:>12.1f}{b:>12.1f}{(a / b if b else 0):>8.2f}")
    with open(f"{RESULTS_DIR}/memory.json", "w") as f:
        json.dump({"n": args.n, "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
