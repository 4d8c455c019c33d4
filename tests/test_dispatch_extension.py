"""respdb._speedups (the command loop in C) against its Python reference, reply for reply.

The C loop caches the server's flags, the client's protocol and its plain state per batch and
refreshes them after commands that can change them; these tests pipeline random mixtures of data
commands and state-changing ones (HELLO, MULTI, CLIENT REPLY, SUBSCRIBE, RESET, errors, blocking)
into a server running the C loop and one running the Python loop (RESPDB_NO_EXTENSIONS=1), and
compare the raw reply bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import ROOT, Raw, ServerProcess, resp, respdb_server

_SENTINEL = b"$13\r\nend-of-sample\r\n"

_POOL: list[tuple[bytes, ...]] = [
    (b"PING",), (b"PING", b"hi"), (b"ping",), (b"ECHO", b"x"),
    (b"SET", b"k", b"v"), (b"SET", b"n", b"10"), (b"GET", b"k"), (b"GET", b"missing"), (b"get", b"n"),
    (b"INCR", b"n"), (b"INCR", b"k"), (b"INCRBY", b"n", b"9223372036854775800"), (b"DECR", b"n"),
    (b"MGET", b"k", b"n", b"l", b"missing"), (b"MSET", b"a", b"1", b"b", b"2"), (b"DEL", b"a", b"k"),
    (b"LPUSH", b"l", b"x", b"y"), (b"RPUSH", b"l", b"z"), (b"LRANGE", b"l", b"0", b"-1"), (b"RPOP", b"l"),
    (b"LPOP", b"l", b"2"), (b"HSET", b"h", b"f", b"1", b"g", b"2"), (b"HGETALL", b"h"), (b"HGET", b"h", b"f"),
    (b"SADD", b"s", b"m"), (b"SMEMBERS", b"s"), (b"ZADD", b"z", b"1.5", b"m"), (b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"),
    (b"ZSCORE", b"z", b"m"), (b"EXISTS", b"k", b"l"), (b"TYPE", b"h"), (b"EXPIRE", b"k", b"100"), (b"TTL", b"k"),
    (b"GET",), (b"SET", b"k"), (b"NOSUCH", b"arg"), (b"LPUSH", b"k", b"x"), (b"HGET", b"l", b"f"),
    (b"HELLO", b"3"), (b"HELLO", b"2"), (b"MULTI",), (b"EXEC",), (b"DISCARD",), (b"WATCH", b"k"),
    (b"CLIENT", b"REPLY", b"OFF"), (b"CLIENT", b"REPLY", b"ON"), (b"CLIENT", b"REPLY", b"SKIP"),
    (b"SELECT", b"1"), (b"SELECT", b"0"), (b"SUBSCRIBE", b"ch"), (b"UNSUBSCRIBE",), (b"PUBLISH", b"ch", b"m"),
    (b"RESET",), (b"DBSIZE",), (b"OBJECT", b"ENCODING", b"l"), (b"CLIENT", b"SETNAME", b"nm"),
    (b"CLIENT", b"GETNAME"), (b"BLPOP", b"nolist", b"0.01"), (b"BLPOP", b"l", b"0.01"),
    (b"EVAL", b"return redis.call('get', KEYS[1])", b"1", b"n"), (b"EVAL", b"return redis.call('incr', KEYS[1])", b"1", b"k"),
    (b"FLUSHDB",), (b"APPEND", b"k", b"tail"), (b"GETDEL", b"n"), (b"SETNX", b"k", b"w"),
    # Replies past the C loop's 64 KB gathering buffer go out as their own object, in order.
    (b"SET", b"big", b"x" * 70000), (b"GET", b"big"), (b"RPUSH", b"l", b"y" * 40000), (b"HSET", b"h", b"long", b"z" * 100),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with respdb_server() as native:
        os.environ["RESPDB_NO_EXTENSIONS"] = "1"
        try:
            with respdb_server() as reference:
                os.environ.pop("RESPDB_NO_EXTENSIONS")
                yield native, reference
        finally:
            os.environ.pop("RESPDB_NO_EXTENSIONS", None)


def _run(port: int, batches: list[list[tuple[bytes, ...]]]) -> bytes:
    conn = Raw(port)
    try:
        conn.request(resp("FLUSHALL"))
        for batch in batches:
            conn.send(b"".join(resp(*cmd) for cmd in batch))
        conn.send(resp("RESET") + resp("PING", "end-of-sample"))
        data = b""
        while not data.endswith(_SENTINEL):
            chunk = conn.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(_POOL), min_size=1, max_size=12), min_size=1, max_size=3))
def test_dispatch_c_loop_matches_python_reference(servers: tuple[ServerProcess, ServerProcess], batches: list[list[tuple[bytes, ...]]]) -> None:
    native, reference = servers
    assert _run(native.port, batches) == _run(reference.port, batches)


def test_dispatch_extension_is_built_and_used() -> None:
    """The install builds respdb._speedups (gcc is on every machine here); if it silently failed to
    compile, the server would fall back to the Python loop and this test says so."""
    code = "from respdb.commands import dispatch; print(dispatch.execute_batch.__module__, type(dispatch.execute_batch).__name__)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RESPDB_NO_EXTENSIONS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["respdb._speedups", "builtin_function_or_method"]


def test_dispatch_stats_and_latency_counted_by_c_loop(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """commandstats calls and failed_calls are the same whichever loop ran the commands."""
    stats = []
    for srv in servers:
        r = srv.client()
        r.config_resetstat()
        pipe = r.pipeline(transaction=False)
        for _ in range(50):
            pipe.set("k", "v").get("k").incr("k")
        pipe.execute(raise_on_error=False)  # INCR of "v" fails: failed_calls
        info = r.info("commandstats")
        stats.append({name: (v["calls"], v["failed_calls"]) for name, v in info.items() if name in ("cmdstat_set", "cmdstat_get", "cmdstat_incrby")})
        r.close()
    assert stats[0] == stats[1] == {"cmdstat_set": (50, 0), "cmdstat_get": (50, 0), "cmdstat_incrby": (50, 50)}  # redis-py sends INCRBY


def test_dispatch_large_replies_keep_their_place(servers: tuple[ServerProcess, ServerProcess]) -> None:
    """Replies the C loop encodes are gathered in one buffer; one past 64 KB becomes its own object and
    must still land between its neighbours, as must errors and Python-encoded replies."""
    # (GET, LRANGE and INCR run once first: the first use of a command name's spelling takes the slow
    # path, which hands over the buffer.)
    setup = [(b"SET", b"k", b"v"), (b"SET", b"big", b"x" * 70000), (b"DEL", b"l"), (b"RPUSH", b"l", *[b"e" * 1000] * 80),
             (b"GET", b"k"), (b"LRANGE", b"l", b"0", b"0"), (b"INCR", b"n")]
    probe = [(b"GET", b"k"), (b"GET", b"big"), (b"GET", b"k"), (b"LRANGE", b"l", b"0", b"-1"), (b"PING",),
             (b"INCR", b"k"), (b"GET", b"big"), (b"HGETALL", b"nohash"), (b"GET", b"big"), (b"ECHO", b"e")]
    native, reference = servers
    assert _run(native.port, [setup, probe]) == _run(reference.port, [setup, probe])
