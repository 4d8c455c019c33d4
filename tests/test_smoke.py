"""First black-box checks: the server answers redis-py in RESP2 and RESP3, and redis-cli."""

from __future__ import annotations

import subprocess

import pytest

from tests.servers import REDIS_CLI, Raw, resp


def test_ping_resp2(r):
    assert r.ping() is True
    assert r.echo("hi") == b"hi"


def test_set_get_resp3(r3):
    assert r3.set("k", "v") is True
    assert r3.get("k") == b"v"


def test_unknown_command_error(r):
    with pytest.raises(Exception) as exc:
        r.execute_command("NOPE", "a", "b")
    assert str(exc.value) == "unknown command 'NOPE', with args beginning with: 'a' 'b' "


def test_pipeline_replies_in_order(server):
    raw = Raw(server.port)
    out = raw.request(resp("SET", "a", "1") + resp("INCR", "a") + resp("GET", "a") + b"PING\r\n", 4)
    assert out == b"+OK\r\n:2\r\n$1\r\n2\r\n+PONG\r\n"


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli not installed")
def test_redis_cli_roundtrip(server):
    out = subprocess.run([REDIS_CLI, "-p", str(server.port), "SET", "cli", "yes"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "OK"
    out = subprocess.run([REDIS_CLI, "-p", str(server.port), "GET", "cli"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "yes"
