"""Where respdb's time goes per request, layer by layer, beside redis-server in the same run.

Server CPU µs/request under `redis-benchmark -P 16` for:
  floor     uvloop + asyncio.Protocol + hiredis answering a constant (benchmarks/floor_server.py):
            the least any Python server on this stack can cost;
  framing   respdb's connection and request parser, every command answered +PONG without dispatch;
  respdb    the real server;
  redis     redis-server 7.
The gap framing→respdb is command dispatch and the handler; floor→framing is respdb's parser checks.

    python -m benchmarks.layers [-n 400000] [-t ping_mbulk,set,get]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks.servers import ROOT, Running, _wait, free_port, taskset

_FRAMING = """
import sys
import respdb.server.connection as conn
def run(self, cmds):
    self.transport.write(b"+PONG\\r\\n" * len(cmds))
conn.Connection.run = run
from respdb.cli import main
sys.exit(main(["--port", sys.argv[1], "--loglevel", "warning", "--save", ""]))
"""


def _start(kind: str, port: int) -> subprocess.Popen:
    if kind == "floor":
        cmd = [sys.executable, "-m", "benchmarks.floor_server", str(port)]
    elif kind == "framing":
        cmd = [sys.executable, "-c", _FRAMING, str(port)]
    elif kind == "respdb":
        cmd = [sys.executable, "-m", "respdb", "--port", str(port), "--loglevel", "warning", "--save", ""]
    else:
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(taskset(0) + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd="/tmp")


def measure(kind: str, test: str, n: int) -> tuple[float, float]:
    port = free_port()
    proc = _start(kind, port)
    try:
        _wait(port, proc)
        srv = Running(kind, port, proc)
        cpu0 = srv.cpu_seconds()
        t0 = time.perf_counter()
        subprocess.run(taskset(1) + ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(n), "-c", "50", "-P", "16", "-q"],
                       capture_output=True, timeout=600, check=True)
        wall = time.perf_counter() - t0
        return (srv.cpu_seconds() - cpu0) * 1e6 / n, n / wall
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=400_000)
    ap.add_argument("-t", "--tests", default="ping_mbulk,set,get")
    args = ap.parse_args()
    print(f"{'test':<12}{'layer':<10}{'cpu µs/req':>12}{'rps':>12}")
    for test in args.tests.split(","):
        for kind in ("floor", "framing", "respdb", "redis"):
            if kind in ("floor", "framing") and test != "ping_mbulk":
                continue  # constant replies: only meaningful for PING
            cpu, rps = measure(kind, test, args.n)
            print(f"{test:<12}{kind:<10}{cpu:>12.2f}{rps:>12.0f}")


if __name__ == "__main__":
    main()
