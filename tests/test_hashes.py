"""Hash commands over TCP: exact replies and errors against redis-server 7.0, plus properties of the
random commands (HRANDFIELD) and of HSCAN over a large hash."""

from __future__ import annotations

import pytest
import redis

from tests.diff import Differ
from tests.servers import ServerProcess

# Each sequence runs on a flushed pair of servers; every reply must be byte-identical.
SEQUENCES: dict[str, list[tuple[str, ...]]] = {
    "hset": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("HSET", "h", "a", "1", "b", "3", "c", "4"),
        ("HSET", "h", "d", "1", "d", "2"),
        ("HSET", "h", "a", "1", "b"),
        ("HGETALL", "h"),
    ],
    "hmset": [("HMSET", "h", "a", "1"), ("HMSET", "h", "a"), ("HMSET", "h", "a", "b", "c"), ("HGETALL", "h")],
    "hsetnx": [("HSETNX", "h", "a", "1"), ("HSETNX", "h", "a", "2"), ("HGET", "h", "a"), ("HSETNX", "h", "a", "1", "x")],
    "hget": [("HGET", "nk", "a"), ("HSET", "h", "a", ""), ("HGET", "h", "a"), ("HGET", "h", "b")],
    "hmget": [("HMGET", "nk", "a", "b"), ("HSET", "h", "a", "1"), ("HMGET", "h", "a", "zz", "a")],
    "hgetall": [("HGETALL", "nk"), ("HSET", "h", "z", "1", "a", "2", "m", "3"), ("HSET", "h", "z", "9"), ("HGETALL", "h")],
    "hkeys_hvals": [("HKEYS", "nk"), ("HVALS", "nk"), ("HSET", "h", "b", "1", "a", "2"), ("HKEYS", "h"), ("HVALS", "h")],
    "hlen_hstrlen_hexists": [
        ("HLEN", "nk"), ("HSTRLEN", "nk", "a"), ("HEXISTS", "nk", "a"),
        ("HSET", "h", "a", "hello", "n", "123"),
        ("HLEN", "h"), ("HSTRLEN", "h", "a"), ("HSTRLEN", "h", "n"), ("HSTRLEN", "h", "zz"), ("HEXISTS", "h", "a"), ("HEXISTS", "h", "zz"),
    ],
    "hdel": [
        ("HDEL", "nk", "a"), ("HSET", "h", "a", "1", "b", "2", "c", "3"), ("HDEL", "h", "a", "zz", "a"),
        ("HDEL", "h", "b", "c", "d"), ("EXISTS", "h"), ("HDEL", "h", "a"),
    ],
    "hincrby": [
        ("HINCRBY", "h", "f", "5"), ("HINCRBY", "h", "f", "-7"), ("HINCRBY", "h", "f", "x"), ("HINCRBY", "h", "f", "1.5"),
        ("HSET", "h", "s", "abc", "sp", " 1", "big", "9223372036854775807", "small", "-9223372036854775808"),
        ("HINCRBY", "h", "s", "1"), ("HINCRBY", "h", "sp", "1"), ("HINCRBY", "h", "big", "1"), ("HINCRBY", "h", "big", "-1"),
        ("HINCRBY", "h", "small", "-1"), ("HINCRBY", "h", "new", "9223372036854775808"), ("HINCRBY", "nk", "f", "x"), ("EXISTS", "nk"),
        ("HGETALL", "h"),
    ],
    "hincrbyfloat": [
        ("HINCRBYFLOAT", "h", "f", "0.1"), ("HINCRBYFLOAT", "h", "f", "0.2"), ("HINCRBYFLOAT", "h", "f", "-0.3"),
        ("HINCRBYFLOAT", "h", "f", "5.0e3"), ("HINCRBYFLOAT", "h", "f", "1.5"), ("HINCRBYFLOAT", "h", "i", "3"),
        ("HINCRBYFLOAT", "h", "f", "abc"), ("HINCRBYFLOAT", "h", "f", "nan"), ("HINCRBYFLOAT", "h", "f", "inf"),
        ("HINCRBYFLOAT", "h", "f", "-inf"), ("HINCRBYFLOAT", "nk", "f", "inf"), ("EXISTS", "nk"),
        ("HSET", "h", "s", "x1", "sp", " 1"), ("HINCRBYFLOAT", "h", "s", "1"), ("HINCRBYFLOAT", "h", "sp", "1"),
        ("HSET", "h", "e", "1e3"), ("HINCRBYFLOAT", "h", "e", "1"), ("HGETALL", "h"),
    ],
    "hincrbyfloat_long_double": [
        ("HINCRBYFLOAT", "h", "f", "0.1"), ("HINCRBYFLOAT", "h", "f", "1e10"), ("HINCRBYFLOAT", "h", "f", "-1e10"),
        ("HINCRBYFLOAT", "h", "g", "1e400"), ("HINCRBYFLOAT", "h", "g", "-1e400"), ("HINCRBYFLOAT", "h", "i", "+5"),
        ("HINCRBYFLOAT", "h", "i", ".5"), ("HINCRBYFLOAT", "h", "i", "5."), ("HINCRBYFLOAT", "h", "j", "-Infinity"),
        ("HSET", "h", "k", "9223372036854775807", "m", "inf", "n", "1e308"), ("HINCRBYFLOAT", "h", "k", "1.5"),
        ("HINCRBYFLOAT", "h", "m", "1"), ("HINCRBYFLOAT", "h", "n", "1e308"),
        ("HMGET", "h", "f", "g", "i", "j", "k", "m", "n"),  # HGETALL order: a 401-byte value made it a hashtable
    ],
    "hrandfield_errors": [
        ("HSET", "h", "a", "1"),
        ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", "1", "foo"), ("HRANDFIELD", "h", "1", "withvalues", "x"),
        ("HRANDFIELD", "h", "-9223372036854775808"), ("HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"),
        ("HRANDFIELD", "h", "-4611686018427387904", "withvalues"), ("HRANDFIELD", "nk", "1", "foo"), ("HRANDFIELD", "nk", "x"),
        ("HRANDFIELD", "nk"), ("HRANDFIELD", "nk", "3"), ("HRANDFIELD", "nk", "-3", "withvalues"), ("HRANDFIELD", "h", "0"),
    ],
    "hrandfield_whole": [
        ("HSET", "h", "c", "1", "a", "2", "b", "3"), ("HRANDFIELD", "h", "3"), ("HRANDFIELD", "h", "100", "withvalues"),
        ("HDEL", "h", "a", "b"), ("HRANDFIELD", "h", "-2"), ("HRANDFIELD", "h", "-2", "withvalues"), ("HRANDFIELD", "h"),
    ],
    "hscan": [
        ("HSCAN", "nk", "0"), ("HSCAN", "nk", "abc"), ("HSCAN", "nk", "0", "COUNT", "0"),
        ("HSET", "h", "a1", "1", "b1", "2", "a2", "3"), ("HSCAN", "h", "abc"), ("HSCAN", "h", "-1"), ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "MATCH", "a*"), ("HSCAN", "h", "0", "COUNT", "1"), ("HSCAN", "h", "0", "MATCH", "*2", "COUNT", "1"),
        ("HSCAN", "h", "0", "foo"), ("HSCAN", "h", "0", "MATCH"), ("HSCAN", "h", "18446744073709551616"),
    ],
    "wrongtype": [
        ("SET", "s", "x"),
        ("HSET", "s", "a", "b"), ("HMSET", "s", "a", "b"), ("HSETNX", "s", "a", "b"), ("HGET", "s", "a"), ("HMGET", "s", "a"),
        ("HGETALL", "s"), ("HKEYS", "s"), ("HVALS", "s"), ("HLEN", "s"), ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"),
        ("HDEL", "s", "a"), ("HINCRBY", "s", "a", "1"), ("HINCRBYFLOAT", "s", "a", "1"), ("HRANDFIELD", "s"),
        ("HRANDFIELD", "s", "0"), ("HSCAN", "s", "0"), ("HSCAN", "s", "x"), ("HSCAN", "s", "0", "COUNT", "0"), ("GET", "s"),
    ],
    "arity": [("HSET", "h", "a"), ("HGET", "h"), ("HDEL", "h"), ("HMGET", "h"), ("HSCAN", "h"), ("HRANDFIELD",), ("HLEN", "a", "b")],
    "encoding": [
        ("HSET", "h", "a", "1"), ("OBJECT", "ENCODING", "h"), ("HSET", "h", "b", "x" * 64), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "c", "x" * 65), ("OBJECT", "ENCODING", "h"), ("HSET", "h2", "y" * 65, "1"), ("OBJECT", "ENCODING", "h2"),
        ("TYPE", "h"),
    ],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_hash_commands_match_redis(server: ServerProcess, oracle: ServerProcess, name: str, resp3: bool) -> None:
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in SEQUENCES[name]:
            d.check(*cmd)
    finally:
        d.close()


def test_hset_returns_number_of_new_fields(r: redis.Redis) -> None:
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", mapping={"a": "9", "c": "3"}) == 1
    assert r.hgetall("h") == {b"a": b"9", b"b": b"2", b"c": b"3"}


def test_hdel_last_field_deletes_key(r: redis.Redis) -> None:
    r.hset("h", "a", "1")
    assert r.hdel("h", "a") == 1
    assert r.exists("h") == 0
    assert r.type("h") == b"none"


def test_hgetall_resp3_is_a_map(r3: redis.Redis) -> None:
    r3.hset("h", mapping={"a": "1", "b": "2"})
    assert r3.hgetall("h") == {b"a": b"1", b"b": b"2"}


def test_hincrbyfloat_replies_formatted_value(r: redis.Redis) -> None:
    assert r.hincrbyfloat("h", "f", 10.5) == 10.5
    assert r.hincrbyfloat("h", "f", 0.1) == pytest.approx(10.6)
    assert r.hget("h", "f") == b"10.6"


def test_hincrby_overflow_is_an_error(r: redis.Redis) -> None:
    r.hset("h", "f", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="increment or decrement would overflow"):
        r.hincrby("h", "f", 1)
    assert r.hget("h", "f") == str(2**63 - 1).encode()


def test_hrandfield_positive_count_gives_distinct_fields(r: redis.Redis) -> None:
    fields = {f"f{i}": str(i) for i in range(50)}
    r.hset("h", mapping=fields)
    for count in (1, 5, 49, 50, 80):
        got = r.hrandfield("h", count)
        assert len(got) == min(count, 50)
        assert len(set(got)) == len(got)
        assert {g.decode() for g in got} <= set(fields)


def test_hrandfield_negative_count_allows_repeats(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    got = r.hrandfield("h", -100)
    assert len(got) == 100
    assert set(got) == {b"a", b"b"}  # 100 draws from two fields: both appear (odds of not: 2^-99)


def test_hrandfield_withvalues_pairs_match_hash(r: redis.Redis, r3: redis.Redis) -> None:
    r.hset("h", mapping={f"f{i}": f"v{i}" for i in range(10)})
    flat = r.hrandfield("h", -7, withvalues=True)
    assert len(flat) == 14
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        assert value == b"v" + field[1:]
    # RESP3 nests each pair in its own array.
    raw = r3.execute_command("HRANDFIELD", "h", "3", "WITHVALUES")
    assert len(raw) == 3
    assert all(len(pair) == 2 and pair[1] == b"v" + pair[0][1:] for pair in raw)


def test_hrandfield_without_count_is_a_member(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    seen = {r.hrandfield("h") for _ in range(60)}
    assert seen == {b"a", b"b", b"c"}


def test_hscan_large_hash_returns_every_field(r: redis.Redis) -> None:
    fields = {f"field:{i}": str(i) for i in range(1000)}
    r.hset("h", mapping=fields)
    assert r.object("encoding", "h") == b"hashtable"
    seen: dict[bytes, bytes] = {}
    cursor, calls = 0, 0
    while True:
        cursor, page = r.hscan("h", cursor, count=100)
        calls += 1
        seen.update(page)
        if cursor == 0:
            break
    assert calls > 1
    assert seen == {k.encode(): v.encode() for k, v in fields.items()}


def test_hscan_match_on_large_hash_filters_fields(r: redis.Redis) -> None:
    r.hset("h", mapping={f"k{i}": "v" for i in range(300)})
    got = dict(r.hscan_iter("h", match="k1*", count=50))
    assert set(got) == {f"k{i}".encode() for i in range(300) if str(i).startswith("1")}


def test_object_encoding_hash_follows_config(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.object("encoding", "h") == b"listpack"
    r.config_set("hash-max-listpack-entries", "2")
    try:
        assert r.config_get("hash-max-ziplist-entries") == {"hash-max-ziplist-entries": "2"}
        assert r.object("encoding", "h") == b"hashtable"
    finally:
        r.config_set("hash-max-listpack-entries", "512")
    r.config_set("hash-max-listpack-value", "0")
    try:
        assert r.object("encoding", "h") == b"hashtable"
    finally:
        r.config_set("hash-max-listpack-value", "64")


def test_hset_large_hash_keeps_every_field(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(5000):
        pipe.hset("h", f"f{i}", i)
    assert sum(pipe.execute()) == 5000
    assert r.hlen("h") == 5000
    assert r.hget("h", "f4999") == b"4999"
