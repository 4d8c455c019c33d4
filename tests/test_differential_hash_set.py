"""Differential tests: random sequences of hash, set and SORT commands sent to respdb and to
redis-server 7.0, replies compared byte for byte; and the keyspace events both emit for them.

Hashes stay small (listpack in Redis, whose order a dict reproduces), so their replies are compared
exactly. A set holding a non-integer is a hashtable in Redis with an arbitrary order, so replies that
list set members are compared after sorting; everything else is compared as raw bytes.
"""

from __future__ import annotations

import hiredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp

KEYS = st.sampled_from(["a", "b", "c"])
FIELDS = st.sampled_from(["f", "g", "1", "-2", ""])
VALUES = st.sampled_from(["0", "1", "-5", "1.5", "abc", "", "9223372036854775807", "10"])
MEMBERS = st.sampled_from(["1", "2", "10", "-3", "x", "y", ""])
PATTERNS = st.sampled_from(["*", "f*", "1", "[fg]", "?", "x*"])

# Commands whose replies list set members in an order Redis does not define.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SSCAN", "SPOP", "SRANDMEMBER"}


def _cmd(name: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.tuples(st.just(name), *parts)


def _variadic(name: str, key: st.SearchStrategy[str], item: st.SearchStrategy[str], size: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    return st.builds(lambda k, items: (name, k, *items), key, st.lists(item, min_size=1, max_size=size))


HASH_COMMANDS = [
    st.builds(lambda k, pairs: ("HSET", k, *[x for p in pairs for x in p]), KEYS, st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=3)),
    _cmd("HSETNX", KEYS, FIELDS, VALUES),
    _cmd("HGET", KEYS, FIELDS),
    _variadic("HMGET", KEYS, FIELDS),
    _cmd("HGETALL", KEYS),
    _variadic("HDEL", KEYS, FIELDS),
    _cmd("HEXISTS", KEYS, FIELDS),
    _cmd("HLEN", KEYS),
    _cmd("HSTRLEN", KEYS, FIELDS),
    _cmd("HKEYS", KEYS),
    _cmd("HVALS", KEYS),
    _cmd("HINCRBY", KEYS, FIELDS, st.sampled_from(["-3", "0", "2", "x", "9223372036854775807"])),
    _cmd("HINCRBYFLOAT", KEYS, FIELDS, st.sampled_from(["0.5", "-1.25", "2", "abc", "1e3"])),
    _cmd("HSCAN", KEYS, st.just("0")),
    _cmd("HSCAN", KEYS, st.just("0"), st.just("MATCH"), PATTERNS),
    _cmd("HRANDFIELD", KEYS, st.sampled_from(["100", "0"])),
    _cmd("HRANDFIELD", KEYS, st.just("100"), st.just("WITHVALUES")),
]
SET_COMMANDS = [
    _variadic("SADD", KEYS, MEMBERS),
    _variadic("SREM", KEYS, MEMBERS),
    _cmd("SMEMBERS", KEYS),
    _cmd("SISMEMBER", KEYS, MEMBERS),
    _variadic("SMISMEMBER", KEYS, MEMBERS),
    _cmd("SCARD", KEYS),
    _cmd("SMOVE", KEYS, KEYS, MEMBERS),
    _variadic("SINTER", KEYS, KEYS),
    _variadic("SUNION", KEYS, KEYS),
    _variadic("SDIFF", KEYS, KEYS),
    _variadic("SINTERSTORE", KEYS, KEYS),
    _variadic("SUNIONSTORE", KEYS, KEYS),
    _variadic("SDIFFSTORE", KEYS, KEYS),
    st.builds(lambda ks, lim: ("SINTERCARD", str(len(ks)), *ks, *lim), st.lists(KEYS, min_size=1, max_size=3), st.sampled_from([(), ("LIMIT", "1"), ("LIMIT", "0")])),
    _cmd("SSCAN", KEYS, st.just("0")),
    _cmd("SSCAN", KEYS, st.just("0"), st.just("MATCH"), PATTERNS),
    _cmd("SPOP", KEYS, st.just("100")),
    _cmd("SRANDMEMBER", KEYS, st.sampled_from(["100", "0"])),
]
OTHER_COMMANDS = [
    _cmd("DEL", KEYS),
    _cmd("TYPE", KEYS),
    _cmd("EXISTS", KEYS),
    st.builds(lambda k, opts: ("SORT", k, *opts), KEYS, st.sampled_from([(), ("ALPHA",), ("ALPHA", "DESC"), ("DESC", "LIMIT", "1", "2"), ("ALPHA", "LIMIT", "0", "1")])),
    st.builds(lambda k, d: ("SORT", k, "ALPHA", "STORE", d), KEYS, KEYS),
]
COMMANDS = st.one_of(*HASH_COMMANDS, *SET_COMMANDS, *OTHER_COMMANDS)


def _parse(data: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()


def _normalize(reply: object) -> object:
    """A reply with member order removed: lists sorted (SSCAN: its member list)."""
    if isinstance(reply, list):
        if len(reply) == 2 and isinstance(reply[1], list) and reply[0] == b"0":
            return [reply[0], sorted(reply[1])]
        return sorted(reply, key=repr)
    return reply


def _compare(d: Differ, cmd: tuple[str, ...]) -> None:
    ours, theirs = d.both(*cmd, compare=False)
    if cmd[0] in UNORDERED and ours != theirs:
        assert ours[:1] == theirs[:1], f"{cmd!r}: reply types differ: {ours!r} != {theirs!r}"
        assert _normalize(_parse(ours)) == _normalize(_parse(theirs)), f"{cmd!r}: {ours!r} != {theirs!r}"
    else:
        assert ours == theirs, f"{cmd!r}: respdb {ours!r} != redis {theirs!r}"


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_hash_set_sort_random_sequences_match_redis(server: ServerProcess, oracle: ServerProcess, resp3: bool) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(COMMANDS, min_size=1, max_size=25))
    def run(commands: list[tuple[str, ...]]) -> None:
        d = Differ(server, oracle, resp3=resp3)
        try:
            for cmd in commands:
                _compare(d, cmd)
        finally:
            d.close()

    run()


# --- keyspace events ---------------------------------------------------------------------------
EVENT_SEQUENCE: list[tuple[str, ...]] = [
    ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a", "1"), ("HSETNX", "h", "a", "x"), ("HSETNX", "h", "c", "3"),
    ("HMSET", "h", "d", "4"), ("HINCRBY", "h", "n", "5"), ("HINCRBYFLOAT", "h", "n", "0.5"), ("HINCRBY", "h", "a", "x"),
    ("HDEL", "h", "zz"), ("HDEL", "h", "a", "b"), ("HDEL", "h", "c", "d", "n"), ("HINCRBYFLOAT", "h2", "f", "1"),
    ("SADD", "s", "1", "2", "3"), ("SADD", "s", "1"), ("SREM", "s", "9"), ("SREM", "s", "1"),
    ("SMOVE", "s", "t", "2"), ("SMOVE", "s", "t", "9"), ("SMOVE", "s", "t", "3"), ("SADD", "t", "5"), ("SMOVE", "t", "t", "5"),
    ("SADD", "u", "2", "7"), ("SMOVE", "u", "t", "2"),
    ("SINTERSTORE", "i", "t", "u"), ("SUNIONSTORE", "i", "t", "u"), ("SDIFFSTORE", "i", "u", "t"), ("SINTERSTORE", "i", "t", "nk"),
    ("SINTERSTORE", "i", "t", "nk"), ("SADD", "one", "x"), ("SPOP", "one"), ("SADD", "two", "1", "2"), ("SPOP", "two", "5"),
    ("SPOP", "two", "0"), ("RPUSH", "l", "2", "1"), ("SORT", "l", "STORE", "sorted"), ("SORT", "l", "STORE", "sorted"),
    ("SORT", "nk", "STORE", "sorted"), ("SORT", "nk", "STORE", "sorted"), ("SUNIONSTORE", "l", "t"), ("SET", "x", "1"),
    ("SDIFFSTORE", "x", "t", "t"),
]


def _events(conn: Raw, reader: hiredis.Reader) -> list[object]:
    """Keyspace messages until the sentinel published after the sequence."""
    out: list[object] = []
    while True:
        msg = reader.gets()
        if msg is False:
            chunk = conn.sock.recv(65536)
            assert chunk, "subscriber connection closed"
            reader.feed(chunk)
            continue
        if msg[0] == b"message" and msg[1] == b"sentinel":
            return out
        if msg[0] == b"pmessage":
            out.append((msg[2], msg[3]))


def test_hash_set_sort_keyspace_events_match_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    d = Differ(server, oracle)
    subs = []
    try:
        d.both("CONFIG", "SET", "notify-keyspace-events", "KEA")
        for sp in (server, oracle):
            conn = Raw(sp.port)
            conn.send(resp("PSUBSCRIBE", "__key*__:*") + resp("SUBSCRIBE", "sentinel"))
            conn.read_until_count(2)
            subs.append(conn)
        for cmd in EVENT_SEQUENCE:
            d.check(*cmd)
        d.both("PUBLISH", "sentinel", "done")
        ours, theirs = (_events(conn, hiredis.Reader()) for conn in subs)
        assert ours == theirs
        assert len(ours) > 50
    finally:
        d.both("CONFIG", "SET", "notify-keyspace-events", "")
        for conn in subs:
            conn.close()
        d.close()


# --- WATCH: which writes invalidate a watched key -------------------------------------------------
WATCH_CASES: list[tuple[list[tuple[str, ...]], tuple[str, ...]]] = [
    ([("SADD", "src", "m"), ("SADD", "dst", "m")], ("SMOVE", "src", "dst", "m")),
    ([("SADD", "src", "m"), ("SADD", "dst", "x")], ("SMOVE", "src", "dst", "m")),
    ([("SADD", "src", "q"), ("SADD", "dst", "x")], ("SMOVE", "src", "dst", "m")),
    ([("SADD", "src", "q")], ("SINTERSTORE", "dst", "src", "nk")),
    ([("SADD", "dst", "x")], ("SDIFFSTORE", "dst", "nk")),
    ([("SADD", "dst", "x")], ("SADD", "dst", "x")),
    ([("SADD", "dst", "x")], ("SREM", "dst", "y")),
    ([("SADD", "dst", "x")], ("SPOP", "dst", "0")),
    ([("SADD", "dst", "x", "y")], ("SPOP", "dst")),
    ([("HSET", "dst", "f", "v")], ("HSET", "dst", "f", "v")),
    ([("HSET", "dst", "f", "v")], ("HDEL", "dst", "zz")),
    ([("HSET", "dst", "f", "v")], ("HSETNX", "dst", "f", "v")),
    ([("HSET", "dst", "f", "1")], ("HINCRBY", "dst", "f", "0")),
    ([], ("SORT", "nk", "STORE", "dst")),
    ([("RPUSH", "l", "1")], ("SORT", "l", "STORE", "dst")),
]


def _watch_outcome(sp: ServerProcess, setup: list[tuple[str, ...]], cmd: tuple[str, ...]) -> str:
    watcher, writer = sp.client(), sp.client()
    try:
        watcher.flushall()
        for c in setup:
            writer.execute_command(*c)
        with watcher.pipeline(transaction=True) as pipe:
            pipe.watch("dst")
            writer.execute_command(*cmd)
            pipe.multi()
            pipe.ping()
            try:
                pipe.execute()
            except redis.WatchError:
                return "aborted"
            return "executed"
    finally:
        watcher.close()
        writer.close()


@pytest.mark.parametrize(("setup", "cmd"), WATCH_CASES, ids=[" ".join(c) for _, c in WATCH_CASES])
def test_hash_set_sort_writes_touch_watched_keys_like_redis(
    server: ServerProcess, oracle: ServerProcess, setup: list[tuple[str, ...]], cmd: tuple[str, ...]
) -> None:
    assert _watch_outcome(server, setup, cmd) == _watch_outcome(oracle, setup, cmd)
