"""SORT / SORT_RO over TCP, byte for byte against redis-server 7.0.

Never send redis-server a weight that overflows or underflows a double: its SORT reads errno after
strtod without clearing it first, so one ERANGE makes every later numeric SORT on that server fail.
Those cases are checked against respdb alone.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp

SETUP = [
    ("RPUSH", "l", "3", "1", "2", "10", "b"),
    ("RPUSH", "n", "3", "1", "2"),
    ("MSET", "w_1", "5", "w_2", "-1", "w_3", "0"),
    ("HSET", "h_1", "f", "a", "g", "20"),
    ("HSET", "h_2", "f", "b", "g", "10"),
    ("SADD", "s", "5", "-2", "10", "3"),
    ("SADD", "t", "b", "a", "c"),
    ("ZADD", "z", "3", "a", "1", "b", "2", "c"),
    ("MSET", "w_a", "9", "w_b", "8", "w_c", "7"),
    ("SET", "str", "x"),
]

SEQUENCES: dict[str, list[tuple[str | bytes, ...]]] = {
    "list_numeric_alpha": [
        ("SORT", "l"), ("SORT", "l", "ALPHA"), ("SORT", "l", "LIMIT", "1", "2", "ALPHA", "DESC"), ("SORT", "n"),
        ("SORT", "n", "DESC"), ("SORT", "n", "asc", "desc", "asc"), ("SORT_RO", "n", "DESC", "LIMIT", "0", "2"),
    ],
    "nosort": [
        ("SORT", "l", "BY", "nosort"), ("SORT", "l", "BY", "nosort", "DESC"), ("SORT", "l", "BY", "nosort", "LIMIT", "1", "2"),
        ("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"), ("SORT", "l", "BY", "nosort", "LIMIT", "10", "2"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "-5", "-1"), ("SORT", "l", "BY", "nosort", "LIMIT", "2", "-1"),
        ("SORT", "l", "BY", "nosort", "LIMIT", "4", "0"), ("SORT", "n", "BY", "nosort", "BY", "w_*"), ("SORT", "n", "BY", "w_*", "BY", "nosort"),
        ("SORT", "s", "BY", "nosort"), ("SORT", "z", "BY", "nosort"), ("SORT", "z", "BY", "nosort", "DESC"),
        ("SORT", "z", "BY", "nosort", "LIMIT", "1", "1"), ("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "5"),
    ],
    "limit": [
        ("SORT", "n", "LIMIT", "0", "-1"), ("SORT", "n", "LIMIT", "-1", "1"), ("SORT", "n", "LIMIT", "1", "9223372036854775807"),
        ("SORT", "n", "LIMIT", "9223372036854775807", "9223372036854775807"), ("SORT", "n", "LIMIT", "3", "1"),
        ("SORT", "nk", "LIMIT", "0", "5"),
    ],
    "by_weights": [
        ("SORT", "n", "BY", "w_*"), ("SORT", "n", "BY", "w_*", "DESC"), ("SORT", "n", "BY", "w_*", "ALPHA"),
        ("SORT", "n", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "nokey_*"), ("SET", "w_3", " 2"), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", "0x10"), ("SORT", "n", "BY", "w_*", "DESC"), ("SET", "w_3", "0X1.8P1"), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", ""), ("SORT", "n", "BY", "w_*"), ("SET", "w_3", ".5"), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", "+5"), ("SORT", "n", "BY", "w_*"), ("SET", "w_3", "-Infinity"), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", "inf"), ("SORT", "n", "BY", "w_*"), ("DEL", "w_2"), ("SORT", "n", "BY", "w_*"),
        ("SORT", "n", "BY", "w_*", "ALPHA", "DESC"), ("RPUSH", "w_1", "x"), ("SORT", "n", "BY", "w_*"),
    ],
    "conversion_errors": [
        ("SET", "w_3", "1_0"), ("SORT", "n", "BY", "w_*"), ("SET", "w_3", "1 "), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", "nan"), ("SORT", "n", "BY", "w_*"), ("SET", "w_3", "0x"), ("SORT", "n", "BY", "w_*"),
        ("SET", "w_3", "INFINITYx"), ("SORT", "n", "BY", "w_*", "STORE", "out"), ("EXISTS", "out"), ("SORT", "t"), ("SORT", "l", "DESC"),
    ],
    "ties": [
        ("RPUSH", "m", "b", "a", "c"), ("SORT", "m", "ALPHA", "BY", "w_*"), ("SORT", "m", "ALPHA", "BY", "w_*", "DESC"),
        ("SORT", "m", "BY", "w_*"), ("SORT", "m", "BY", "w_*", "DESC"), ("RPUSH", "dup", "2", "1", "2", "1", "x"),
        ("SORT", "dup", "ALPHA"), ("SORT", "dup", "ALPHA", "DESC"), ("SORT", "dup", "BY", "nosort", "DESC"),
    ],
    "hash_fields": [
        ("SORT", "n", "BY", "h_*->f", "ALPHA", "GET", "h_*->f", "GET", "#", "GET", "h_*->"),
        ("SORT", "n", "BY", "h_*->g"), ("SORT", "n", "BY", "h_*->g", "DESC", "GET", "h_*->g"), ("SORT", "n", "GET", "h_*->zz"),
        ("SORT", "n", "GET", "w_*->f"), ("SORT", "n", "GET", "h_*"), ("SORT", "n", "BY", "h_*->f"),
    ],
    "patterns": [
        ("SORT", "n", "BY", "#"), ("SORT", "n", "GET", "#x"), ("SORT", "n", "GET", "x"), ("SORT", "n", "BY", "w_*->"),
        ("SORT", "n", "GET", "w_**"), ("SORT", "n", "GET", b"#\x00x"), ("SORT", "n", "GET", b"w\x00_*"),
        ("SORT", "n", "BY", b"nosort\x00*"), ("SORT", "n", "GET", b"h_*->f\x00"), ("SORT", "n", "GET", b"h_*-\x00>f"),
    ],
    "sets_and_zsets": [
        ("SORT", "s"), ("SORT", "s", "DESC", "LIMIT", "1", "2"), ("SORT", "s", "ALPHA"), ("SORT", "t", "ALPHA", "DESC"),
        ("SORT", "s", "BY", "nosort", "STORE", "ds"), ("LRANGE", "ds", "0", "-1"), ("SORT", "t", "BY", "nosort", "STORE", "ds"),
        ("LRANGE", "ds", "0", "-1"), ("SORT", "t", "BY", "nosort", "DESC", "LIMIT", "1", "1", "STORE", "ds"), ("LRANGE", "ds", "0", "-1"),
        ("SORT", "z", "ALPHA"), ("SORT", "z", "ALPHA", "DESC", "LIMIT", "0", "2"), ("SORT", "z", "BY", "w_*"),
        ("SORT", "z", "BY", "w_*", "GET", "#", "GET", "w_*", "STORE", "out"), ("LRANGE", "out", "0", "-1"),
    ],
    "in_script": [
        ("SADD", "st", "b", "a", "c", "10", "B"), ("EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort')", "1", "st"),
        ("EVAL", "return redis.call('sort_ro', KEYS[1], 'BY', 'nosort', 'DESC', 'LIMIT', '1', '2')", "1", "st"),
        ("EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort')", "1", "l"),
        ("EVAL", "return redis.call('sort', KEYS[1], 'by', 'nosort', 'desc')", "1", "z"),
    ],
    "nul_bytes": [
        ("RPUSH", "nul", b"a\x00b", b"a\x00a", b"a", b"b", b"\x00"), ("SORT", "nul", "ALPHA"), ("SORT", "nul", "ALPHA", "DESC"),
        ("SORT", "nul", "ALPHA", "STORE", "nulo"), ("LRANGE", "nulo", "0", "-1"), ("SORT", "nul", "BY", "nosort", "GET", "#"),
    ],
    "store": [
        ("SORT", "n", "GET", "#", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"), ("TYPE", "dst"),
        ("SORT", "n", "GET", "nokey_*", "GET", "#", "STORE", "dst"), ("LRANGE", "dst", "0", "-1"),
        ("SORT", "n", "LIMIT", "5", "5", "STORE", "dst"), ("EXISTS", "dst"), ("SORT", "nk", "BY", "nosort", "GET", "#", "STORE", "dst2"),
        ("SET", "st", "x"), ("EXPIRE", "st", "100"), ("SORT", "n", "STORE", "st"), ("TTL", "st"), ("TYPE", "st"),
        ("SORT", "n", "STORE", "n"), ("LRANGE", "n", "0", "-1"), ("SORT", "n", "DESC", "STORE", "n", "STORE", "n2"),
        ("EXISTS", "n"), ("LRANGE", "n2", "0", "-1"),
        ("SORT", "n", "LIMIT", "0", "1", "GET", "#", "GET", "#", "BY", "w_*", "STORE", "st", "DESC", "ALPHA"), ("LRANGE", "st", "0", "-1"),
    ],
    "getkeys": [
        ("COMMAND", "GETKEYS", "SORT", "a", "STORE", "b"), ("COMMAND", "GETKEYS", "sort", "a", "limit", "0", "1", "store", "b", "store", "c"),
        ("COMMAND", "GETKEYS", "SORT", "a", "GET", "store"), ("COMMAND", "GETKEYS", "SORT", "a", "BY", "store", "STORE", "x"),
        ("COMMAND", "GETKEYS", "SORT", "a", "STORE"), ("COMMAND", "GETKEYS", "SORT", "a", "LIMIT", "store", "x", "store", "y"),
        ("COMMAND", "GETKEYS", "SORT", "a", "STORE", "LIMIT", "x", "y"), ("COMMAND", "GETKEYS", "SORT", "a", "STORE", "STORE", "b"),
        ("COMMAND", "GETKEYSANDFLAGS", "SORT", "a", "STORE", "b"), ("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "a", "BY", "x"),
        ("COMMAND", "GETKEYS", "SORT_RO", "a", "STORE", "b"),
    ],
    "errors": [
        ("SORT", "l", "LIMIT", "x", "1"), ("SORT", "l", "LIMIT", "1", "y"), ("SORT", "l", "LIMIT", "1"), ("SORT", "l", "STORE"),
        ("SORT", "l", "foo"), ("SORT", "l", "BY"), ("SORT", "l", "GET"), ("SORT_RO", "n", "STORE", "dst"), ("SORT", "str"),
        ("SORT_RO", "str", "LIMIT", "0", "0"), ("SORT", "str", "foo"), ("SORT", "nk"), ("SORT_RO", "nk", "BY", "nosort"),
        ("SORT",), ("SORT_RO",), ("SORT", "nk", "STORE", "x", "LIMIT", "0"),
    ],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sort_matches_redis(server: ServerProcess, oracle: ServerProcess, name: str, resp3: bool) -> None:
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in SETUP:
            d.check(*cmd)
        for cmd in SEQUENCES[name]:
            d.check(*cmd)
    finally:
        d.close()


@pytest.mark.parametrize("weight", ["1e400", "-1e400", "1e-400", "1e-310", "0x1p2000", "0x1p-1075"])
def test_sort_weight_out_of_double_range_is_an_error(r: redis.Redis, weight: str) -> None:
    r.rpush("n", "1", "2")
    r.mset({"w_1": "1", "w_2": weight})
    with pytest.raises(redis.ResponseError, match=r"^One or more scores can't be converted into double$"):
        r.sort("n", by="w_*")


def test_sort_exact_subnormal_weight_is_accepted(r: redis.Redis) -> None:
    r.rpush("n", "1", "2")
    r.mset({"w_1": "0x1p-1074", "w_2": "-1"})
    assert r.sort("n", by="w_*") == [b"2", b"1"]


def test_sort_store_wakes_blocked_pop(server: ServerProcess, r: redis.Redis) -> None:
    r.rpush("src", "2", "1")
    waiter = Raw(server.port)
    try:
        waiter.send(resp("BLPOP", "dst", "5"))
        deadline = time.monotonic() + 5
        while r.info("clients")["blocked_clients"] == 0:
            assert time.monotonic() < deadline, "BLPOP never blocked"
            time.sleep(0.005)
        assert r.sort("src", store="dst") == 2
        assert waiter.read_until_count(1) == b"*2\r\n$3\r\ndst\r\n$1\r\n1\r\n"
        assert r.lrange("dst", 0, -1) == [b"2"]
    finally:
        waiter.close()


def test_sort_large_list_numeric_and_alpha(r: redis.Redis) -> None:
    values = [str((i * 7919) % 10007) for i in range(10000)]
    r.rpush("big", *values)
    assert r.sort("big") == [v.encode() for v in sorted(values, key=int)]
    assert r.sort("big", alpha=True, desc=True, start=0, num=5) == [v.encode() for v in sorted(values, reverse=True)[:5]]
    assert r.sort("big", store="out") == 10000
    assert r.llen("out") == 10000
