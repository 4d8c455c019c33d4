"""Large collections, respdb vs redis-server in the same run: add rate and range reads, with ratios.

    python -m benchmarks.large_collections                 # 1,000,000 elements per collection
    python -m benchmarks.large_collections -n 100000 -q 500 --rounds 2

Adds: a 1,000,000-element list (RPUSH), hash (HSET), set (SADD) and sorted set (ZADD, score = index),
each sent as variadic commands of --batch elements, --depth commands per write (pipelined), from one
connection whose requests are all encoded before the clock starts, so the client costs little.
Reported as elements/s and server CPU µs per element (from /proc, as in redis_benchmark.py).

Reads, --queries each at the same pipeline depth: LRANGE of 100 elements and LINDEX at random offsets of
the big list, ZRANGE (by rank) and ZRANGEBYSCORE 100-element windows at random places in the big sorted set,
HGETALL of a 1000-field hash and SMEMBERS of a 1000-member set (small keys made beside the big ones).
Reported as operations/s and server CPU µs per operation. Both servers get the same random offsets.
The servers take turns over --rounds (A B, B A, ...), each pinned to core 0; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import hiredis

from benchmarks.servers import Running, start

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("redis", "respdb")
WINDOW = 100
SMALL = 1000


def encode(*parts: bytes) -> bytes:
    """One RESP request (what every client library sends)."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class Conn:
    """A raw connection that writes pre-encoded batches and reads their replies with hiredis."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(600)
        self.reader = hiredis.Reader()

    def batch(self, payload: bytes, count: int) -> None:
        """Send one pipelined payload holding `count` requests and wait for all their replies."""
        self.sock.sendall(payload)
        got = 0
        while got < count:
            reply = self.reader.gets()
            if reply is False:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                self.reader.feed(data)
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError(f"server replied {reply}")
            got += 1

    def close(self) -> None:
        self.sock.close()


def _batches(requests: list[bytes], depth: int) -> list[tuple[bytes, int]]:
    return [(b"".join(requests[i:i + depth]), len(requests[i:i + depth])) for i in range(0, len(requests), depth)]


def add_workloads(n: int, batch: int, depth: int) -> dict[str, list[tuple[bytes, int]]]:
    """Pre-encoded pipelined writes: {operation name: [(payload, request count)]}, n elements each."""
    def chunks(make: Callable[[int], list[bytes]]) -> list[list[bytes]]:
        return [[x for i in range(lo, min(lo + batch, n)) for x in make(i)] for lo in range(0, n, batch)]

    work = {
        "RPUSH": [encode(b"RPUSH", b"biglist", *c) for c in chunks(lambda i: [b"element:%07d" % i])],
        "HSET": [encode(b"HSET", b"bighash", *c) for c in chunks(lambda i: [b"field:%07d" % i, b"value:%07d" % i])],
        "SADD": [encode(b"SADD", b"bigset", *c) for c in chunks(lambda i: [b"member:%07d" % i])],
        "ZADD": [encode(b"ZADD", b"bigzset", *c) for c in chunks(lambda i: [b"%d" % i, b"member:%07d" % i])],
    }
    return {name: _batches(reqs, depth) for name, reqs in work.items()}


def read_workloads(n: int, queries: int, depth: int, seed: int) -> dict[str, list[tuple[bytes, int]]]:
    rng = random.Random(seed)
    offsets = [rng.randrange(0, max(1, n - WINDOW)) for _ in range(queries)]
    work = {
        "LRANGE 100 @random": [encode(b"LRANGE", b"biglist", b"%d" % o, b"%d" % (o + WINDOW - 1)) for o in offsets],
        "LINDEX @random": [encode(b"LINDEX", b"biglist", b"%d" % o) for o in offsets],
        "ZRANGE 100 @random": [encode(b"ZRANGE", b"bigzset", b"%d" % o, b"%d" % (o + WINDOW - 1)) for o in offsets],
        "ZRANGEBYSCORE 100 @random": [encode(b"ZRANGEBYSCORE", b"bigzset", b"%d" % o, b"%d" % (o + WINDOW - 1)) for o in offsets],
        f"HGETALL {SMALL} fields": [encode(b"HGETALL", b"smallhash")] * queries,
        f"SMEMBERS {SMALL} members": [encode(b"SMEMBERS", b"smallset")] * queries,
    }
    return {name: _batches(reqs, depth) for name, reqs in work.items()}


def _timed(srv: Running, conn: Conn, batches: list[tuple[bytes, int]]) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) to send every batch and read every reply."""
    cpu0, t0 = srv.cpu_seconds(), time.perf_counter()
    for payload, count in batches:
        conn.batch(payload, count)
    return time.perf_counter() - t0, srv.cpu_seconds() - cpu0


def run_once(kind: str, n: int, adds: dict, reads: dict, queries: int) -> dict[str, dict[str, float]]:
    """Everything against one fresh server: {operation: {"rate": per second, "cpu_us": per unit}}."""
    out: dict[str, dict[str, float]] = {}
    with start(kind, core=0) as srv:
        conn = Conn(srv.port)
        rss0 = srv.rss()
        for name, batches in adds.items():
            wall, cpu = _timed(srv, conn, batches)
            out[name] = {"rate": n / wall, "cpu_us": cpu * 1e6 / n}
        out["RSS after adds"] = {"rate": (srv.rss() - rss0) / (4 * n)}
        conn.batch(encode(b"HSET", b"smallhash", *[x for i in range(SMALL) for x in (b"f%d" % i, b"v%d" % i)]), 1)
        conn.batch(encode(b"SADD", b"smallset", *[b"member:%d" % i for i in range(SMALL)]), 1)
        for name, batches in reads.items():
            wall, cpu = _timed(srv, conn, batches)
            out[name] = {"rate": queries / wall, "cpu_us": cpu * 1e6 / queries}
        conn.close()
    return out


def run(n: int, queries: int, batch: int, depth: int, rounds: int, seed: int = 1, log: bool = True) -> dict[str, dict]:
    adds = add_workloads(n, batch, depth)
    reads = read_workloads(n, queries, depth, seed)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {k: [] for k in KINDS}
    for r in range(rounds):
        for kind in KINDS if r % 2 == 0 else KINDS[::-1]:
            t0 = time.monotonic()
            runs[kind].append(run_once(kind, n, adds, reads, queries))
            if log:
                print(f"  large collections round {r + 1}/{rounds} {kind}: {time.monotonic() - t0:.0f} s", flush=True)
    results: dict[str, dict] = {}
    for name in runs["redis"][0]:
        unit = "bytes/element" if name.startswith("RSS") else "elements/s" if name in adds else "ops/s"
        entry: dict = {"unit": unit, "rounds": {k: [r[name] for r in runs[k]] for k in KINDS}}
        for kind in KINDS:
            entry[kind] = statistics.median(r[name]["rate"] for r in runs[kind])
            cpus = [r[name]["cpu_us"] for r in runs[kind] if "cpu_us" in r[name]]
            entry[f"{kind}_cpu_us"] = statistics.median(cpus) if cpus else None
        entry["ratio"] = entry["respdb"] / entry["redis"] if entry["redis"] else 0.0
        entry["cpu_ratio"] = (entry["respdb_cpu_us"] / entry["redis_cpu_us"]) if entry["redis_cpu_us"] else None
        results[name] = entry
    return results


def print_table(results: dict[str, dict]) -> None:
    print(f"{'operation':<28}{'unit':>14}{'respdb':>12}{'redis':>12}{'ratio':>7}{'respdb µs':>11}{'redis µs':>10}{'cpu x':>7}")
    for name, e in results.items():
        cpu = ""
        if e["respdb_cpu_us"] is not None:
            cpu = f"{e['respdb_cpu_us']:>11.3f}{e['redis_cpu_us']:>10.3f}{e['cpu_ratio']:>7.2f}"
        print(f"{name:<28}{e['unit']:>14}{e['respdb']:>12.0f}{e['redis']:>12.0f}{e['ratio']:>7.2f}{cpu}")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("-n", type=int, default=1_000_000, help="elements per big collection")
    ap.add_argument("-q", "--queries", type=int, default=5000, help="read operations per read test")
    ap.add_argument("--batch", type=int, default=100, help="elements per variadic add command")
    ap.add_argument("--depth", type=int, default=16, help="requests per pipelined write")
    ap.add_argument("--rounds", type=int, default=1, help="server starts per kind; medians")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    ap.add_argument("--json", default=str(RESULTS / "large_collections.json"))
    args = ap.parse_args()
    load_before = os.getloadavg()
    results = run(args.n, args.queries, args.batch, args.depth, args.rounds)
    print_table(results)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "large_collections", "time": time.time(), "args": vars(args),
           "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": results}
    path.write_text(json.dumps(doc, indent=1))
    from benchmarks.chart import large_collections_chart

    large_collections_chart(results, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
