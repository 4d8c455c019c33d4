"""Start real servers for black-box tests: respdb as a subprocess, and Debian's redis-server as the oracle."""

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
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, deadline_s: float = 20.0, password: str | None = None) -> None:
    """Poll until the server answers PING (or its process dies), with a deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                reply = s.recv(64)
                if reply.startswith((b"+PONG", b"-NOAUTH")):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not become ready")


class ServerProcess:
    """A running server process with its port, directory and log."""

    def __init__(self, proc: subprocess.Popen, port: int, workdir: Path, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.dir = workdir
        self.log = log

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(port=self.port, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int | None = None) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def respdb_server(*args: str, workdir: Path | None = None, password: str | None = None, wait: bool = True) -> Iterator[ServerProcess]:
    """Run `python -m respdb --port P args...` in `workdir` (a fresh temp dir by default)."""
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="respdb-test-")) if own else workdir
    port = free_port()
    log = wd / "server.log"  # type: ignore[operator]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "respdb", *args, "--port", str(port)] if not (args and not args[0].startswith("--")) else [sys.executable, "-m", "respdb", args[0], "--port", str(port), *args[1:]]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=wd, stdout=out, stderr=subprocess.STDOUT, env=env)
    sp = ServerProcess(proc, port, wd, log)  # type: ignore[arg-type]
    try:
        if wait:
            wait_ready(port, proc, password=password)
        yield sp
    finally:
        sp.stop()
        if own:
            shutil.rmtree(wd, ignore_errors=True)


@contextlib.contextmanager
def redis_oracle(*args: str) -> Iterator[ServerProcess]:
    """Debian's redis-server 7.0 on a free port, no persistence (the differential oracle)."""
    if REDIS_SERVER is None:
        raise RuntimeError("redis-server is not installed")
    wd = Path(tempfile.mkdtemp(prefix="redis-oracle-"))
    port = free_port()
    log = wd / "redis.log"
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(wd), *args],
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    sp = ServerProcess(proc, port, wd, log)
    try:
        wait_ready(port, proc)
        yield sp
    finally:
        sp.stop()
        shutil.rmtree(wd, ignore_errors=True)


class Raw:
    """A raw socket for byte-exact protocol tests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_count(self, n_replies: int) -> bytes:
        """Read until n complete top-level RESP replies have arrived (parsed by hiredis)."""
        import hiredis

        need_more = object()  # a reply of RESP3 false is False, so "incomplete" needs its own marker
        reader = hiredis.Reader(notEnoughData=need_more)
        data = b""
        got = 0
        pending = self.buf
        self.buf = b""
        while True:
            if pending:
                reader.feed(pending)
                data += pending
                pending = b""
            while got < n_replies:
                r = reader.gets()
                if r is need_more:
                    break
                got += 1
            if got >= n_replies:
                return data
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            pending = chunk

    def request(self, data: bytes, n_replies: int = 1) -> bytes:
        self.send(data)
        return self.read_until_count(n_replies)

    def read_all(self) -> bytes:
        """Everything until the server closes the connection."""
        out = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return out
            out += chunk

    def close(self) -> None:
        self.sock.close()


def resp(*args: bytes | str) -> bytes:
    """Encode a command as a RESP multibulk request."""
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
