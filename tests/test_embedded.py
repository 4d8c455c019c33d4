"""Embedded mode: a real respdb in this process; start/stop cycles leak nothing; asyncio and gevent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest
import redis

import respdb

pytest_plugins = ["pytester"]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_embedded_context_manager_serves_redis_py():
    with respdb.embedded() as srv:
        client = srv.client()
        assert client.set("k", "v") is True
        assert client.get("k") == b"v"
        assert srv.url == f"redis://127.0.0.1:{srv.port}/0"
        assert redis.Redis.from_url(srv.url).get("k") == b"v"
        client.close()


def test_embedded_start_stop_50_times_leaks_no_threads_or_fds():
    threads, fds = threading.active_count(), _fds()
    for i in range(50):
        srv = respdb.embedded().start()
        client = srv.client()
        client.set("i", i)
        client.close()
        srv.stop()
    assert threading.active_count() == threads
    assert _fds() <= fds


def test_embedded_many_at_once_are_independent():
    servers = [respdb.embedded().start() for _ in range(5)]
    try:
        for i, srv in enumerate(servers):
            srv.client().set("who", i)
        assert [int(s.client().get("who")) for s in servers] == list(range(5))
    finally:
        for srv in servers:
            srv.stop()


def test_embedded_unix_socket_with_password(tmp_path):
    path = str(tmp_path / "respdb.sock")
    with respdb.embedded(unixsocket=path, requirepass="s3cret") as srv:
        assert srv.url == f"unix://:s3cret@{path}"
        assert srv.client().ping() is True
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(unix_socket_path=path).ping()
    assert not os.path.exists(path)


def test_embedded_port_in_use_raises():
    with respdb.embedded() as first, pytest.raises(OSError):
        respdb.embedded(port=first.port).start()


def test_embedded_under_running_asyncio_loop():
    import asyncio

    import redis.asyncio as aioredis

    async def main() -> bytes:
        with respdb.embedded() as srv:
            client = aioredis.Redis(port=srv.port)
            await client.set("a", "1")
            value = await client.get("a")
            await client.aclose()
            return value

    assert asyncio.run(main()) == b"1"


def test_embedded_under_gevent_monkey_patching():
    script = textwrap.dedent(
        """
        from gevent import monkey; monkey.patch_all()
        import gevent, respdb
        with respdb.embedded() as srv:
            def work(i):
                c = srv.client(); c.incr("n"); c.close()
            gevent.joinall([gevent.spawn(work, i) for i in range(20)])
            print(int(srv.client().get("n")))
        """
    )
    pytest.importorskip("gevent")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "20", out.stderr


PLUGIN_TESTS = """
def test_client_fixture(respdb):
    respdb.set("x", "1")
    assert respdb.get("x") == b"1"

def test_flushed_between_tests(respdb):
    assert respdb.get("x") is None

def test_url(respdb_url, respdb_server):
    import redis
    assert redis.Redis.from_url(respdb_url).ping()
    assert respdb_server.port > 0
"""


def test_pytest_plugin_fixtures(pytester):
    pytester.makepyfile(PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_pytest_plugin_config_option(pytester):
    pytester.makepyfile(
        """
        import redis, pytest
        def test_password(respdb_server, respdb):
            assert respdb.ping()
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=respdb_server.port).ping()
        """
    )
    result = pytester.runpytest_subprocess("--respdb-config", "requirepass=s3cret")
    result.assert_outcomes(passed=1)


def test_pytest_plugin_with_xdist(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=3)
