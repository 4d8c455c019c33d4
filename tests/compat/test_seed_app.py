"""The seed's three files, run as real processes: init, the encrypted server, and the Flask app under
`gunicorn -w 4 -k gevent`. Only the port numbers are changed (to free ones)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port

SEED = ROOT / "examples" / "cyberdb_seed"
GUNICORN = shutil.which("gunicorn")


def poll(check, deadline_s: float = 30.0):
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            return check()
        except Exception as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"not ready within {deadline_s} s: {last!r}")


def tls_ready(port: int) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, ctx.wrap_socket(raw) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert s.recv(64).startswith(b"-NOAUTH")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(GUNICORN is None, reason="gunicorn is not installed")
def test_seed_app_under_gunicorn_gevent_answers_hello(tmp_path: Path) -> None:
    db_port, http_port = free_port(), free_port()
    for name in ("cyberdb_init.py", "cyberdb_serve.py", "app.py"):
        (tmp_path / name).write_text((SEED / name).read_text().replace("9980", str(db_port)))
    env = dict(os.environ, PYTHONPATH=str(ROOT), CYBERDB_TRUST_DIR=str(tmp_path / "trusted"))

    subprocess.run([sys.executable, "cyberdb_init.py"], cwd=tmp_path, env=env, check=True, timeout=60)
    assert (tmp_path / "data.cdb").read_bytes().startswith(b"RESPDCDB")

    serve = subprocess.Popen([sys.executable, "cyberdb_serve.py"], cwd=tmp_path, env=env)
    web = None
    try:
        poll(lambda: tls_ready(db_port))
        web = subprocess.Popen([GUNICORN, "-w", "4", "-k", "gevent", "-b", f"127.0.0.1:{http_port}", "app:app"],
                               cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)

        def get() -> tuple[int, bytes]:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=5) as resp:
                return resp.status, resp.read()

        status, body = poll(get)
        assert status == 200 and json.loads(body) == {"code": 1, "content": "Hello CyberDB!"}
        for _ in range(40):  # spread over the workers
            assert json.loads(get()[1]) == {"code": 1, "content": "Hello CyberDB!"}
    finally:
        if web is not None:
            stop(web)
        stop(serve)
    assert serve.returncode == 0
