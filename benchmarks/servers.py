"""Start respdb and redis-server for benchmarking, pinned to a core, and read their CPU time."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The respdb tree to run: this checkout, or (RESPDB_BENCH_ROOT) e.g. a `git archive` of one commit,
# so that a long run measures one fixed version while others edit the working tree.
RESPDB_ROOT = Path(os.environ.get("RESPDB_BENCH_ROOT") or ROOT)
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(core: int | None) -> list[str]:
    if core is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(core)]


@dataclass
class Running:
    name: str
    port: int
    proc: subprocess.Popen

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far, summed over its threads.

        /proc/PID/task/*/schedstat counts nanoseconds; /proc/PID/stat only clock ticks (10 ms), which
        is a 10% error on a 100,000-request test that costs the server 0.1 s. Falls back to stat.
        """
        try:
            total = 0
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            if total:
                return total / 1e9
        except (OSError, ValueError, IndexError):
            pass
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss(self) -> int:
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _wait(port: int, proc: subprocess.Popen) -> None:
    """Ready when a multibulk PING is answered (multibulk, so protocol-minimal servers such as
    benchmarks/floor_server.py qualify too)."""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def start(kind: str, core: int | None = 0, extra: tuple[str, ...] = ()) -> Iterator[Running]:
    """kind is "respdb" or "redis"; no persistence unless `extra` asks for it."""
    workdir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    port = free_port()
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir, *extra]
    else:
        # Same persistence settings as redis-server above: a background save mid-run would fork.
        cmd = [sys.executable, "-m", "respdb", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir, *extra]
    env = dict(os.environ, PYTHONPATH=str(RESPDB_ROOT))
    proc = subprocess.Popen(taskset(core) + cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait(port, proc)
        yield Running(kind, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
