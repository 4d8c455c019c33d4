"""The protocol over real sockets: malformed input answered as redis-server answers it, pipelining,
redis-cli --pipe with mixed RESP and inline commands, redis-benchmark to the end."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.servers import REDIS_CLI, Raw, resp

MALFORMED = [
    b"*abc\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n:5\r\n",
    b"*2\r\n$3\r\nGET\r\n*1\r\n",
    b"*3000000000\r\n",
    b"set a \"bc\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$4\r\nPING\r\n*x\r\n",
    b"PING\r\n*1\r\n$999999999999\r\n",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_request_answered_like_redis_then_closed(server, oracle, data):
    ours, theirs = Raw(server.port), Raw(oracle.port)
    ours.send(data)
    theirs.send(data)
    assert ours.read_all() == theirs.read_all()


def test_pipeline_of_mixed_inline_and_resp(server):
    raw = Raw(server.port)
    data = resp("SET", "p", "1") + b"INCR p\r\n\r\n" + resp("INCR", "p") + b"GET p\n"
    assert raw.request(data, 4) == b"+OK\r\n:2\r\n:3\r\n$1\r\n3\r\n"


def test_split_reads_reassemble(server):
    raw = Raw(server.port)
    data = resp("SET", "split", "x" * 10000) + resp("STRLEN", "split")
    for i in range(0, len(data), 7):
        raw.send(data[i : i + 7])
    assert raw.read_until_count(2) == b"+OK\r\n:10000\r\n"


def test_client_disconnecting_mid_pipeline_leaves_server_healthy(server, r):
    raw = Raw(server.port)
    raw.send(resp("SET", "mid", "1") * 1000 + b"*3\r\n$3\r\nSET\r\n")
    raw.close()
    assert r.ping() is True


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli not installed")
def test_redis_cli_pipe_loads_mixed_file(server, r, tmp_path):
    lines = []
    for i in range(500):
        lines.append(resp("SET", f"pipe:{i}", str(i)) if i % 2 else f"SET pipe:{i} {i}\r\n".encode())
    path = tmp_path / "cmds.txt"
    path.write_bytes(b"".join(lines))
    with open(path, "rb") as f:
        out = subprocess.run([REDIS_CLI, "-p", str(server.port), "--pipe"], stdin=f, capture_output=True, timeout=60)
    assert b"errors: 0, replies: 500" in out.stdout, out.stdout
    assert r.get("pipe:499") == b"499"
    assert r.dbsize() == 500


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark not installed")
@pytest.mark.parametrize("pipeline", ["1", "16"])
def test_redis_benchmark_core_tests_complete(server, pipeline):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-t", "ping,set,get,incr,mset", "-n", "2000", "-c", "10", "-P", pipeline, "-q"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for test in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"):
        assert f"{test}: " in out.stdout, out.stdout
    assert "error" not in out.stdout.lower() + out.stderr.lower()


def test_redis_py_hiredis_parser_and_resp3(server):
    import redis
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE
    for protocol in (2, 3):
        client = redis.Redis(port=server.port, protocol=protocol)
        client.set("hp", "v")
        assert client.get("hp") == b"v"
        assert client.client_id() > 0
        client.close()
