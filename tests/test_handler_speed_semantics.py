"""Differential checks for the hot write paths restructured for speed (issue #8): ZADD's one-pair form,
ZPOPMIN/ZPOPMAX without a count, SPOP on a missing key, LPUSH/RPUSH's combined change-and-wake call and
HSET's encoding history. Each runs the same requests against respdb and redis-server 7.0 and compares
the replies byte for byte, including keyspace events, WATCH, blocked clients and hit/miss counters."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.diff import Differ
from tests.servers import Raw, resp


@pytest.fixture
def differ(server, oracle) -> Iterator[Differ]:
    d = Differ(server, oracle)
    yield d
    d.close()


@pytest.fixture
def differ3(server, oracle) -> Iterator[Differ]:
    d = Differ(server, oracle, resp3=True)
    yield d
    d.close()


_SCORES = ["0", "1", "-1", "007", "1.5", "-0", "+inf", "-inf", "inf", "nan", "", "1e400", "1e-400", "0x10",
           " 1", "1 ", "1_0", ".5", "+.5e1", "123456789012345678901234567890", "-"]


def test_zadd_score_member_spellings_differential(differ: Differ) -> None:
    for i, score in enumerate(_SCORES):
        differ.check("ZADD", "z", score, f"m{i}")
    differ.check("ZRANGE", "z", "0", "-1", "WITHSCORES")
    differ.check("OBJECT", "ENCODING", "z")


def test_zadd_score_member_new_same_and_rescored_differential(differ: Differ, differ3: Differ) -> None:
    for d in (differ, differ3):
        d.check("DEL", "z")
        d.check("ZADD", "z", "0", "element:__rand_int__")  # creates the key: 1
        d.check("ZADD", "z", "0", "element:__rand_int__")  # same score: 0, nothing changes
        d.check("ZADD", "z", "-0", "element:__rand_int__")  # -0 == 0: unchanged
        d.check("ZADD", "z", "2", "element:__rand_int__")  # re-scored: still 0
        d.check("ZSCORE", "z", "element:__rand_int__")
        d.check("ZADD", "z", "nx", "x")  # an option word, then a lone member: syntax error
        d.check("ZADD", "z", "1", "a", "2")
        d.check("ZADD", "z", "incr", "1", "a")
        d.check("ZRANGE", "z", "0", "-1", "WITHSCORES")
        d.check("SET", "s", "v")
        d.check("ZADD", "s", "1", "a")  # WRONGTYPE
        d.check("ZADD", "s", "x", "a")  # the score is checked first: not a float
        d.check("ZADD", "z", str("9" * 300), "big")  # all digits but too long for the fast path
        d.check("ZSCORE", "z", "big")


def test_zpopmin_zpopmax_without_count_differential(differ: Differ, differ3: Differ) -> None:
    for d in (differ, differ3):
        d.check("DEL", "z", "s")
        for cmd in ("ZPOPMIN", "ZPOPMAX"):
            d.check(cmd, "z")  # missing key: empty array
            d.check(cmd, "z", "1")
            d.check(cmd, "z", "-1")
            d.check(cmd, "z", "x")
            d.check(cmd, "z", "1", "2")
        d.check("ZADD", "z", "1", "a", "2", "b", "3", "c", "-inf", "lo", "+inf", "hi", "1.5", "m")
        d.check("ZPOPMIN", "z")
        d.check("ZPOPMAX", "z")
        d.check("ZPOPMIN", "z", "0")
        d.check("ZPOPMIN", "z", "2")
        d.check("ZPOPMAX", "z", "1")
        d.check("ZPOPMAX", "z")  # the last one: the key goes
        d.check("EXISTS", "z")
        d.check("SET", "s", "v")
        d.check("ZPOPMIN", "s")
        d.check("ZPOPMAX", "s")


def test_spop_missing_wrongtype_and_last_member_differential(differ: Differ) -> None:
    differ.check("SPOP", "s")
    differ.check("SPOP", "s", "2")
    differ.check("SADD", "s", "only")
    differ.check("SPOP", "s")
    differ.check("EXISTS", "s")
    differ.check("SET", "str", "v")
    differ.check("SPOP", "str")
    differ.check("SPOP", "str", "1", "2")


def test_hset_long_value_encoding_sticks_differential(differ: Differ) -> None:
    long_value = "x" * 1024
    differ.check("HSET", "h", "element:__rand_int__", "short")
    differ.check("OBJECT", "ENCODING", "h")
    for _ in range(3):  # the same long value to the same hash: recorded once, still answered right
        differ.check("HSET", "h", "element:__rand_int__", long_value)
        differ.check("OBJECT", "ENCODING", "h")
    differ.check("HSET", "h", "element:__rand_int__", "short")  # small again, but Redis never converts back
    differ.check("OBJECT", "ENCODING", "h")
    differ.check("DEL", "h")
    differ.check("HSET", "h", "f", "short")  # a new hash starts as a listpack
    differ.check("OBJECT", "ENCODING", "h")
    differ.check("HSET", "h", "f", long_value)
    differ.check("HGET", "h", "f")
    differ.check("OBJECT", "ENCODING", "h")


def test_lpush_rpush_replies_and_wrongtype_differential(differ: Differ) -> None:
    differ.check("LPUSH", "l", "a")
    differ.check("RPUSH", "l", "b", "c")
    differ.check("LPUSH", "l", "d", "e")
    differ.check("LRANGE", "l", "0", "-1")
    differ.check("LPUSHX", "nol", "a")
    differ.check("SET", "s", "v")
    differ.check("LPUSH", "s", "a")
    differ.check("RPUSH", "s", "a")


def _blocked_push(port: int, push: str) -> bytes:
    """BLPOP on one connection, then `push` from another: what the blocked client receives."""
    blocked, pusher = Raw(port), Raw(port)
    try:
        blocked.request(resp("CLIENT", "SETNAME", "waiter"))
        blocked.send(resp("BLPOP", "bl", "5"))
        # Poll until the server shows the client as blocked (no fixed sleep).
        pattern = re.compile(rb"name=waiter [^\n]*cmd=blpop")
        for _ in range(500):
            if pattern.search(pusher.request(resp("CLIENT", "LIST"))):
                break
        else:
            raise AssertionError("BLPOP never blocked")
        pushed = pusher.request(resp(push, "bl", "v1", "v2"))
        return pushed + blocked.read_until_count(1) + pusher.request(resp("LRANGE", "bl", "0", "-1"))
    finally:
        blocked.close()
        pusher.close()


@pytest.mark.parametrize("push", ["LPUSH", "RPUSH"])
def test_lpush_rpush_wake_blocked_client_differential(server, oracle, push: str) -> None:
    for port in (server.port, oracle.port):
        Raw(port).request(resp("DEL", "bl"))
    assert _blocked_push(server.port, push) == _blocked_push(oracle.port, push)


@pytest.mark.parametrize("push", ["LPUSH", "RPUSH", "HSET", "SADD", "ZADD"])
def test_push_invalidates_watch_differential(server, oracle, push: str) -> None:
    for port in (server.port, oracle.port):
        Raw(port).request(resp("DEL", "wl"))
    if push == "ZADD":
        args = ("ZADD", "wl", "1", "v")
    elif push == "HSET":
        args = ("HSET", "wl", "f", "v")
    else:
        args = (push, "wl", "v")

    def run(port: int) -> bytes:
        a, b = Raw(port), Raw(port)
        try:
            out = a.request(resp("WATCH", "wl")) + a.request(resp("MULTI")) + a.request(resp("GET", "x"))
            out += b.request(resp(*args))
            return out + a.request(resp("EXEC"))  # the write touched a watched key: EXEC fails (nil)
        finally:
            a.close()
            b.close()

    assert run(server.port) == run(oracle.port)


def _events(port: int, commands: list[tuple[str, ...]]) -> bytes:
    """The replies to `commands`, then every keyspace/keyevent message they publish (all classes, new
    and keymiss included) as a subscriber reads them, up to a sentinel PUBLISH sent last."""
    sub, cli = Raw(port), Raw(port)
    try:
        cli.request(resp("CONFIG", "SET", "notify-keyspace-events", "KEAnm"))
        sub.request(resp("PSUBSCRIBE", "__key*__:*"), 1)
        sub.request(resp("SUBSCRIBE", "ev:end"), 1)
        replies = b"".join(cli.request(resp(*c)) for c in commands)
        cli.request(resp("PUBLISH", "ev:end", "done"))
        got = b""
        while b"ev:end\r\n$4\r\ndone" not in got:
            got += sub.read_until_count(1)
        return replies + got
    finally:
        cli.request(resp("CONFIG", "SET", "notify-keyspace-events", ""))
        sub.close()
        cli.close()


def test_hot_writes_keyspace_events_differential(server, oracle) -> None:
    commands = [
        ("DEL", "ev:l", "ev:z", "ev:s", "ev:h"),
        ("LPUSH", "ev:l", "a"),  # new + lpush
        ("RPUSH", "ev:l", "b"),  # rpush
        ("LPOP", "ev:l"),  # lpop
        ("RPOP", "ev:l"),  # rpop + del
        ("ZADD", "ev:z", "1", "m"),  # new + zadd
        ("ZADD", "ev:z", "1", "m"),  # unchanged: no event
        ("ZPOPMIN", "ev:z"),  # zpopmin + del
        ("ZPOPMAX", "ev:z"),  # missing key: nothing (a write command's lookup: no keymiss)
        ("SADD", "ev:s", "m"),  # new + sadd
        ("SPOP", "ev:s"),  # spop + del
        ("SPOP", "ev:s"),  # missing key: nothing
        ("HSET", "ev:h", "f", "x" * 100),  # new + hset
        ("HSET", "ev:h", "f", "x" * 100),  # hset again
        ("LPOP", "ev:nokey"),  # nothing
        ("ZSCORE", "ev:nokey", "m"),  # a read: keymiss
    ]
    ours, theirs = _events(server.port, commands), _events(oracle.port, commands)
    assert ours == theirs
    assert b"keymiss" in ours and b"zpopmin" in ours and b"rpush" in ours


def _hits_misses(port: int) -> bytes:
    c = Raw(port)
    try:
        c.request(resp("DEL", "hm:l", "hm:z", "hm:s"))
        c.request(resp("CONFIG", "RESETSTAT"))
        for cmd in (("LPOP", "hm:l"), ("RPOP", "hm:l"), ("ZPOPMIN", "hm:z"), ("ZPOPMAX", "hm:z"),
                    ("SPOP", "hm:s"), ("ZADD", "hm:z", "1", "a"), ("ZPOPMIN", "hm:z"), ("LPUSH", "hm:l", "a"),
                    ("LPOP", "hm:l"), ("SADD", "hm:s", "a"), ("SPOP", "hm:s"), ("HSET", "hm:h", "f", "v")):
            c.request(resp(*cmd))
        info = c.request(resp("INFO", "stats"))
        return b" ".join(re.findall(rb"keyspace_(?:hits|misses):\d+", info))
    finally:
        c.close()


def test_hot_writes_keyspace_hits_misses_differential(server, oracle) -> None:
    ours, theirs = _hits_misses(server.port), _hits_misses(oracle.port)
    assert ours == theirs
    assert ours.startswith(b"keyspace_hits:")
