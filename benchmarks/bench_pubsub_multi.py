"""PUBLISH to 1 and to 50 subscribers, and a 10-command MULTI/EXEC: respdb vs redis-server, same run.

    python -m benchmarks.bench_pubsub_multi           # 100000 publishes, 20000 transactions, 2 rounds
    python -m benchmarks.bench_pubsub_multi --quick   # a smaller run, under a minute

PUBLISH load comes from redis-benchmark (`PUBLISH bench hello`, 50 clients, pipeline 16) while the
subscribers are redis-cli processes draining to /dev/null. The transaction load is one connection
sending pipelined batches of MULTI + 10 commands + EXEC (replies parsed with hiredis). Each server is
pinned to core 0 and the load to core 1; servers alternate over the rounds and medians are reported,
with server CPU µs per operation (from /proc) beside the throughput. Both servers run with no pubsub
output-buffer limit so that neither drops a lagging subscriber mid-run; every subscriber is checked
to be still subscribed at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import time

import hiredis
import redis

from benchmarks.servers import Running, start, taskset

KINDS = ("redis", "respdb")


def _resp(*args: str) -> bytes:
    parts = [a.encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def _wait_numsub(r: redis.Redis, channel: str, count: int, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while r.pubsub_numsub(channel)[0][1] != count:
        if time.monotonic() > end:
            raise RuntimeError(f"expected {count} subscribers, have {r.pubsub_numsub(channel)[0][1]}")
        time.sleep(0.02)


def bench_publish(srv: Running, subscribers: int, n: int, clients: int, pipeline: int) -> tuple[float, float]:
    """(publishes/s, server CPU µs per publish) with `subscribers` redis-cli processes on one channel."""
    r = redis.Redis(port=srv.port)
    r.config_set("client-output-buffer-limit", "pubsub 0 0 0")
    subs = [
        subprocess.Popen(taskset(1) + ["redis-cli", "-p", str(srv.port), "subscribe", "bench"], stdout=subprocess.DEVNULL)
        for _ in range(subscribers)
    ]
    try:
        _wait_numsub(r, "bench", subscribers)
        cpu0 = srv.cpu_seconds()
        cmd = taskset(1) + ["redis-benchmark", "-p", str(srv.port), "-n", str(n), "-c", str(clients), "-P", str(pipeline), "--csv", "PUBLISH", "bench", "hello"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True)
        cpu = srv.cpu_seconds() - cpu0
        rows = [line.split(",") for line in out.stdout.strip().splitlines()]
        rps = float(rows[1][1].strip('"'))
        # Nobody was dropped: the rate counts deliveries to every subscriber.
        if r.pubsub_numsub("bench")[0][1] != subscribers:
            raise RuntimeError("a subscriber was disconnected during the run")
    finally:
        for proc in subs:
            proc.terminate()
        for proc in subs:
            proc.wait(timeout=30)
        r.close()
    return rps, cpu * 1e6 / n


_TX_BODY = [("SET", "k1", "v1"), ("SET", "k2", "v2"), ("SET", "k3", "v3"), ("SET", "k4", "v4"), ("INCR", "c1"),
            ("INCR", "c2"), ("INCR", "c3"), ("GET", "k1"), ("GET", "k2"), ("GET", "k3")]


def bench_multi(srv: Running, transactions: int, depth: int) -> tuple[float, float]:
    """(transactions/s, server CPU µs per transaction): MULTI + 10 commands + EXEC, `depth` per write."""
    tx = _resp("MULTI") + b"".join(_resp(*c) for c in _TX_BODY) + _resp("EXEC")
    replies_per_tx = len(_TX_BODY) + 2
    batch = tx * depth
    rounds = transactions // depth
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = hiredis.Reader()
    cpu0 = srv.cpu_seconds()
    start_t = time.perf_counter()
    for _ in range(rounds):
        sock.sendall(batch)
        need = replies_per_tx * depth
        while need:
            reply = reader.gets()
            if reply is False:
                reader.feed(sock.recv(1 << 20))
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError(f"transaction failed: {reply}")
            need -= 1
    elapsed = time.perf_counter() - start_t
    cpu = srv.cpu_seconds() - cpu0
    sock.close()
    done = rounds * depth
    return done / elapsed, cpu * 1e6 / done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000, help="publishes per PUBLISH test")
    ap.add_argument("--transactions", type=int, default=20000)
    ap.add_argument("--depth", type=int, default=16, help="transactions pipelined per write")
    ap.add_argument("-c", "--clients", type=int, default=50)
    ap.add_argument("-P", "--pipeline", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.n, args.transactions, args.rounds = 20000, 5000, 1
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the transaction driver shares core 1 with the other load tools
    tests = {
        "PUBLISH, 1 subscriber": lambda srv: bench_publish(srv, 1, args.n, args.clients, args.pipeline),
        "PUBLISH, 50 subscribers": lambda srv: bench_publish(srv, 50, args.n, args.clients, args.pipeline),
        "MULTI + 10 cmds + EXEC": lambda srv: bench_multi(srv, args.transactions, args.depth),
    }
    results: dict[str, dict[str, list[tuple[float, float]]]] = {t: {k: [] for k in KINDS} for t in tests}
    for _ in range(args.rounds):
        for kind in KINDS:
            with start(kind, core=0) as srv:
                for name, fn in tests.items():
                    results[name][kind].append(fn(srv))
    print(f"{'test':<26}{'redis ops/s':>14}{'respdb ops/s':>14}{'ratio':>8}{'redis µs/op':>13}{'respdb µs/op':>14}{'ratio':>8}")
    for name in tests:
        red = results[name]["redis"]
        ours = results[name]["respdb"]
        r_ops, o_ops = statistics.median(x[0] for x in red), statistics.median(x[0] for x in ours)
        r_cpu, o_cpu = statistics.median(x[1] for x in red), statistics.median(x[1] for x in ours)
        print(f"{name:<26}{r_ops:>14,.0f}{o_ops:>14,.0f}{o_ops / r_ops:>8.2f}{r_cpu:>13.2f}{o_cpu:>14.2f}{o_cpu / r_cpu:>8.2f}")
    print(f"(ops/s ratio = respdb/redis, higher is better; CPU ratio = respdb/redis server CPU per op, lower is better; "
          f"publish n={args.n} c={args.clients} P={args.pipeline}, transactions={args.transactions} depth={args.depth})")


if __name__ == "__main__":
    main()
