"""Differential checks (respdb vs redis-server 7.0) for the paths issue #8 made cheaper: MULTI's short
queueing path and its admission checks, EXEC's inline reply encoding, the stats call() records for
queued and scripted commands, EVALSHA's SHA lookup, KEYS/ARGV building and redis.call's reply
conversion and ACL check."""

from __future__ import annotations

from collections.abc import Iterator

import hiredis
import pytest

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp


@pytest.fixture
def d(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    differ = Differ(server, oracle)
    yield differ
    differ.close()


@pytest.fixture
def d3(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    differ = Differ(server, oracle, resp3=True)
    yield differ
    differ.close()


def _batch(d: Differ, cmds: list[tuple[str, ...]], replies: int) -> bytes:
    """Send `cmds` pipelined in one write to both servers; compare the `replies` replies that come back."""
    data = b"".join(resp(*c) for c in cmds)
    ours = d.ours.request(data, replies)
    theirs = d.theirs.request(data, replies)
    assert ours == theirs, f"{cmds!r}: respdb {ours!r} != redis {theirs!r}"
    return ours


def _info_fields(d: Differ, section: str) -> tuple[dict[str, str], dict[str, str]]:
    def parse(raw: bytes) -> dict[str, str]:
        reader = hiredis.Reader()
        reader.feed(raw)
        text = reader.gets().decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    ours, theirs = d.both("INFO", section, compare=False)
    return parse(ours), parse(theirs)


_TX_BODY = [
    ("SET", "s", "v"), ("GET", "s"), ("GET", "missing"), ("INCR", "n"), ("INCRBYFLOAT", "f", "1.5"),
    ("RPUSH", "l", "a", "b"), ("LRANGE", "l", "0", "-1"), ("HSET", "h", "f", "1"), ("HGETALL", "h"),
    ("ZADD", "z", "1", "m"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZSCORE", "z", "m"),
    ("SADD", "st", "x"), ("SMEMBERS", "st"), ("SET", "s", "w", "GET"), ("EXPIRE", "s", "100"),
    ("TTL", "s"), ("TYPE", "l"), ("PING",), ("ECHO", "hi"), ("OBJECT", "ENCODING", "n"),
    ("LPOP", "s"), ("BLPOP", "empty", "0"), ("EXISTS", "s", "n", "nope"),
]


def test_exec_reply_types_resp2(d: Differ) -> None:
    _batch(d, [("MULTI",), *_TX_BODY, ("EXEC",)], len(_TX_BODY) + 2)


def test_exec_reply_types_resp3(d3: Differ) -> None:
    _batch(d3, [("MULTI",), *_TX_BODY, ("EXEC",)], len(_TX_BODY) + 2)


def test_exec_hello_switches_protocol_midway(server: ServerProcess, oracle: ServerProcess) -> None:
    # A queued HELLO 3 changes how the replies after it in the same EXEC array are encoded. HELLO's
    # own reply carries the connection id, so the bytes after it are compared.
    tails = []
    for proc in (server, oracle):
        conn = Raw(proc.port)
        conn.request(resp("DEL", "h", "x"))
        cmds = [("MULTI",), ("HSET", "h", "a", "1"), ("HELLO", "3"), ("HGETALL", "h"), ("INCRBYFLOAT", "x", "1"), ("EXEC",)]
        raw = conn.request(b"".join(resp(*c) for c in cmds), len(cmds))
        conn.close()
        tails.append(raw[raw.index(b"%1\r\n$1\r\na\r\n"):])
    assert tails[0] == tails[1]


def test_multi_queued_with_client_reply_off(d: Differ) -> None:
    cmds = [("CLIENT", "REPLY", "OFF"), ("MULTI",), ("SET", "a", "1"), ("INCR", "b"), ("EXEC",),
            ("CLIENT", "REPLY", "ON"), ("MGET", "a", "b")]
    _batch(d, cmds, 2)


def test_multi_client_reply_skip_then_queue(d: Differ) -> None:
    cmds = [("CLIENT", "REPLY", "SKIP"), ("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",)]
    _batch(d, cmds, 3)


def test_multi_queue_errors_abort_exec(d: Differ) -> None:
    _batch(d, [("MULTI",), ("SET", "a"), ("SET", "a", "1"), ("EXEC",), ("EXISTS", "a")], 5)
    _batch(d, [("MULTI",), ("NOSUCHCMD", "x"), ("EXEC",)], 3)
    _batch(d, [("MULTI",), ("SAVE",), ("GET", "a"), ("EXEC",)], 4)  # no-multi: refused while queued
    _batch(d, [("MULTI",), ("WATCH", "a"), ("MULTI",), ("GET", "a"), ("EXEC",)], 5)
    _batch(d, [("MULTI",), ("OBJECT", "NOPE"), ("EXEC",)], 3)


def test_multi_runtime_errors_inside_exec(d: Differ) -> None:
    _batch(d, [("SET", "s", "v"), ("MULTI",), ("LPUSH", "s", "x"), ("INCR", "s"), ("GET", "s"), ("EXEC",)], 6)


def test_multi_resp3_subscriber_queues(d3: Differ) -> None:
    _batch(d3, [("SUBSCRIBE", "ch"), ("MULTI",), ("SET", "k", "v"), ("GET", "k"), ("PUBLISH", "ch", "m"), ("EXEC",)], 6)
    d3.both("UNSUBSCRIBE")


def test_exec_watch_still_aborts(d: Differ) -> None:
    _batch(d, [("WATCH", "w"), ("SET", "w", "1"), ("MULTI",), ("GET", "w"), ("EXEC",)], 5)


def test_exec_commandstats_and_keyspace_hits(d: Differ) -> None:
    d.both("CONFIG", "RESETSTAT")
    _batch(d, [("SET", "k", "v"), ("MULTI",), ("GET", "k"), ("GET", "nokey"), ("INCR", "k"), ("SET", "x", "1"), ("EXEC",)], 7)
    ours, theirs = _info_fields(d, "commandstats")
    for name in ("cmdstat_get", "cmdstat_incr", "cmdstat_set", "cmdstat_multi", "cmdstat_exec"):
        counts = [{k: v for k, v in (p.split("=") for p in side[name].split(",")) if not k.startswith("usec")} for side in (ours, theirs)]
        assert counts[0] == counts[1], name
    ours, theirs = _info_fields(d, "stats")
    for field in ("keyspace_hits", "keyspace_misses", "total_error_replies"):
        assert ours[field] == theirs[field], field


def test_exec_latency_histogram_counts(d: Differ) -> None:
    d.both("CONFIG", "RESETSTAT")
    _batch(d, [("MULTI",), ("SET", "a", "1"), ("SET", "b", "2"), ("EXEC",)], 4)
    ours, theirs = d.both("LATENCY", "HISTOGRAM", "set", compare=False)
    calls = []
    for raw in (ours, theirs):
        reader = hiredis.Reader()
        reader.feed(raw)
        reply = reader.gets()
        calls.append(reply[1][1])
    assert calls == [2, 2]


def test_evalsha_sha_case_and_length(d: Differ) -> None:
    sha = d.check("SCRIPT", "LOAD", "return ARGV[1]").split(b"\r\n")[1].decode()
    d.check("EVALSHA", sha, "0", "x")
    d.check("EVALSHA", sha.upper(), "0", "x")
    d.check("EVALSHA", sha[:20] + sha[20:].upper(), "0", "x")
    d.check("EVALSHA", sha[:-1], "0", "x")
    d.check("EVALSHA", "f" * 40, "0", "x")
    d.check("EVALSHA_RO", sha.upper(), "0", "y")


@pytest.mark.parametrize("numkeys,args", [(0, ()), (0, ("a", "b")), (2, ("k1", "k2")), (2, ("k1", "k2", "a")), (1, ("k", "a", "b"))])
def test_eval_keys_argv_shapes(d: Differ, numkeys: int, args: tuple[str, ...]) -> None:
    d.check("EVAL", "return {cjson.encode(KEYS), cjson.encode(ARGV), #KEYS, #ARGV}", str(numkeys), *args)


def test_eval_redis_call_reply_conversions(d: Differ) -> None:
    d.check("RPUSH", "l", "a", "b")
    d.check("SET", "s", "v")
    for body in [
        "return redis.call('get', 's')",
        "return redis.call('incr', 'n')",
        "return redis.call('set', 'x', '1')",
        "return redis.call('ping')",
        "return redis.call('get', 'missing')",
        "return redis.call('lrange', 'l', 0, -1)",
        "return type(redis.call('get', 'missing'))",
        "return redis.call('set', 'x', '1')['ok']",
        "return redis.pcall('incr', 's')",
        "return redis.call('incr', 's')",
        "return redis.pcall('nosuch')",
        "return redis.call('get')",
        "return redis.call('incrbyfloat', 'f', 1.5)",
        "return redis.call('hset', 'h', 'a', 1, 'b', 2.5)",
    ]:
        d.check("EVAL", body, "0")


def test_eval_ro_and_shebang_write_rules(d: Differ) -> None:
    d.check("EVAL_RO", "return redis.call('set', 'a', '1')", "1", "a")
    d.check("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', '1')", "1", "a")
    d.check("EVAL", "#!lua flags=no-writes\nreturn redis.pcall('publish', 'c', 'm')", "0")
    d.check("EVAL_RO", "return redis.call('get', 'a')", "1", "a")


def test_eval_acl_restricted_caller(server: ServerProcess, oracle: ServerProcess) -> None:
    admin = Differ(server, oracle)
    user = Differ(server, oracle)
    try:
        admin.check("ACL", "SETUSER", "issue8", "on", "nopass", "+@all", "-incr", "~*", "&*")
        user.check("AUTH", "issue8", "x")
        user.check("EVAL", "return redis.call('incr', 'k')", "1", "k")
        user.check("EVAL", "return redis.pcall('incr', 'k')", "1", "k")
        user.check("EVAL", "return redis.call('set', 'k', '5')", "1", "k")
        user.check("MULTI")
        user.check("INCR", "k")
        user.check("EXEC")
        # Restrictions lifted: the same caller's scripts run the command.
        admin.check("ACL", "SETUSER", "issue8", "+incr")
        user.check("EVAL", "return redis.call('incr', 'k')", "1", "k")
    finally:
        admin.both("ACL", "DELUSER", "issue8", compare=False)
        admin.close()
        user.close()
