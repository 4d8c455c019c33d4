"""Set commands over TCP: exact replies and errors against redis-server 7.0 (small integer sets have a
defined order there, so those replies are compared byte for byte), properties of SPOP/SRANDMEMBER,
and unordered results of large sets compared as sets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import redis

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp, respdb_server

SEQUENCES: dict[str, list[tuple[str, ...]]] = {
    "sadd_srem": [
        ("SADD", "s", "3", "1", "2", "-5", "10"), ("SADD", "s", "3", "4", "4"), ("SMEMBERS", "s"), ("SCARD", "s"),
        ("SREM", "s", "3", "99", "3"), ("SREM", "nk", "a"), ("SREM", "s", "1", "2", "-5", "10", "4"), ("EXISTS", "s"),
    ],
    "smembers_order": [
        ("SADD", "s", "9223372036854775807", "-9223372036854775808", "0", "-1", "42"), ("SMEMBERS", "s"), ("SSCAN", "s", "0"),
        ("SMEMBERS", "nk"), ("SADD", "z", "01", "1", "+1"), ("SCARD", "z"), ("OBJECT", "ENCODING", "s"), ("OBJECT", "ENCODING", "z"),
        ("SADD", "s", "9223372036854775808"), ("OBJECT", "ENCODING", "s"), ("SADD", "t", "a"), ("OBJECT", "ENCODING", "t"),
    ],
    "sismember": [
        ("SISMEMBER", "nk", "a"), ("SADD", "s", "a", "b"), ("SISMEMBER", "s", "a"), ("SISMEMBER", "s", "c"),
        ("SMISMEMBER", "s", "a", "c", "b"), ("SMISMEMBER", "nk", "a", "b"),
    ],
    "algebra": [
        ("SADD", "s", "3", "1", "2", "-5", "10"), ("SADD", "t", "1", "3", "7"), ("SADD", "u", "3", "100"),
        ("SINTER", "s", "t"), ("SINTER", "s", "t", "u"), ("SINTER", "s", "nk"), ("SINTER", "nk", "s"), ("SINTER", "s"),
        ("SUNION", "s", "t", "u"), ("SUNION", "nk"), ("SUNION", "s", "nk"),
        ("SDIFF", "s", "t"), ("SDIFF", "s", "t", "u"), ("SDIFF", "nk", "s"), ("SDIFF", "s", "nk"), ("SDIFF", "s", "s"),
        ("SINTERCARD", "2", "s", "t"), ("SINTERCARD", "3", "s", "t", "u"), ("SINTERCARD", "2", "s", "nk"),
        ("SINTERCARD", "1", "s", "LIMIT", "2"), ("SINTERCARD", "1", "s", "LIMIT", "0"), ("SINTERCARD", "1", "s", "limit", "1", "LIMIT", "3"),
    ],
    "store": [
        ("SADD", "s", "3", "1", "2"), ("SADD", "t", "2", "3", "4"),
        ("SINTERSTORE", "d", "s", "t"), ("SMEMBERS", "d"), ("SUNIONSTORE", "d", "s", "t"), ("SMEMBERS", "d"),
        ("SDIFFSTORE", "d", "s", "t"), ("SMEMBERS", "d"), ("SDIFFSTORE", "d", "s", "s"), ("EXISTS", "d"),
        ("SINTERSTORE", "d", "nk", "s"), ("SET", "str", "x"), ("EXPIRE", "str", "100"), ("SUNIONSTORE", "str", "s"),
        ("TYPE", "str"), ("TTL", "str"), ("SUNIONSTORE", "s", "s", "t"), ("SMEMBERS", "s"), ("SDIFFSTORE", "y", "nk"), ("EXISTS", "y"),
    ],
    "algebra_errors": [
        ("SADD", "s", "1"), ("SET", "str", "x"),
        ("SINTER", "nk", "str"), ("SINTER", "str", "nk"), ("SINTERSTORE", "d", "nk", "str"), ("SUNION", "nk", "str"),
        ("SDIFF", "nk", "str"), ("SDIFF", "s", "str"), ("SUNIONSTORE", "d", "s", "str"), ("SDIFFSTORE", "d", "str"),
        ("SINTERCARD", "2", "nk", "str"), ("SINTERCARD", "0", "s"), ("SINTERCARD", "x", "s"), ("SINTERCARD", "3", "s"),
        ("SINTERCARD", "-1", "s"), ("SINTERCARD", "1", "s", "LIMIT", "-1"), ("SINTERCARD", "1", "s", "LIMIT", "x"),
        ("SINTERCARD", "1", "s", "LIMIT"), ("SINTERCARD", "1", "s", "foo"), ("EXISTS", "d"),
    ],
    "smove": [
        ("SADD", "s", "1", "2"), ("SET", "str", "x"),
        ("SMOVE", "nk", "str", "1"), ("SMOVE", "s", "str", "1"), ("SMOVE", "str", "s", "1"), ("SMOVE", "s", "s", "1"),
        ("SMOVE", "s", "s", "9"), ("SMOVE", "s", "d", "9"), ("SMOVE", "s", "d", "1"), ("SMEMBERS", "s"), ("SMEMBERS", "d"),
        ("SADD", "d", "2"), ("SMOVE", "s", "d", "2"), ("EXISTS", "s"), ("SMEMBERS", "d"),
    ],
    "spop_srandmember_deterministic": [
        ("SPOP", "nk"), ("SPOP", "nk", "3"), ("SRANDMEMBER", "nk"), ("SRANDMEMBER", "nk", "3"), ("SRANDMEMBER", "nk", "-3"),
        ("SADD", "s", "5", "1", "3"), ("SPOP", "s", "0"), ("SRANDMEMBER", "s", "0"), ("SRANDMEMBER", "s", "3"),
        ("SRANDMEMBER", "s", "100"), ("SPOP", "s", "-1"), ("SPOP", "s", "x"), ("SPOP", "s", "1", "2"),
        ("SRANDMEMBER", "s", "1", "2"), ("SRANDMEMBER", "s", "x"), ("SRANDMEMBER", "s", "-9223372036854775808"),
        ("SRANDMEMBER", "s", "9223372036854775807"), ("SPOP", "s", "3"), ("EXISTS", "s"),
        ("SADD", "one", "x"), ("SPOP", "one"), ("EXISTS", "one"), ("SADD", "one", "y"), ("SRANDMEMBER", "one"),
        ("SRANDMEMBER", "one", "-3"), ("SPOP", "one", "5"), ("EXISTS", "one"),
    ],
    "sscan": [
        ("SSCAN", "nk", "0"), ("SSCAN", "nk", "x"), ("SSCAN", "nk", "0", "COUNT", "0"),
        ("SADD", "i", "5", "3", "9", "11"), ("SSCAN", "i", "0"), ("SSCAN", "i", "0", "MATCH", "1*"), ("SSCAN", "i", "0", "COUNT", "1"),
        ("SSCAN", "i", "0", "COUNT", "0"), ("SSCAN", "i", "x"), ("SSCAN", "i", "0", "MATCH"), ("SSCAN", "i", "0", "bar"),
        ("SADD", "t", "a"), ("SSCAN", "t", "0"), ("SSCAN", "t", "0", "MATCH", "b"),
    ],
    "wrongtype": [
        ("SET", "str", "x"),
        ("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"), ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"),
        ("SCARD", "str"), ("SPOP", "str"), ("SPOP", "str", "1"), ("SPOP", "str", "0"), ("SRANDMEMBER", "str"),
        ("SRANDMEMBER", "str", "1"), ("SSCAN", "str", "0"), ("SSCAN", "str", "0", "COUNT", "0"), ("GET", "str"),
    ],
    "arity": [("SADD", "s"), ("SREM", "s"), ("SMOVE", "a", "b"), ("SINTERCARD", "1"), ("SINTER",), ("SPOP",), ("SCARD", "a", "b")],
}


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_set_commands_match_redis(server: ServerProcess, oracle: ServerProcess, name: str, resp3: bool) -> None:
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in SEQUENCES[name]:
            d.check(*cmd)
    finally:
        d.close()


def test_smembers_resp3_is_a_set(server: ServerProcess) -> None:
    conn = Raw(server.port)
    try:
        conn.request(resp("HELLO", "3"))
        conn.request(resp("DEL", "s"))
        conn.request(resp("SADD", "s", "a"))
        assert conn.request(resp("SMEMBERS", "s")) == b"~1\r\n$1\r\na\r\n"
        assert conn.request(resp("SPOP", "s", "5")) == b"~1\r\n$1\r\na\r\n"
        assert conn.request(resp("SRANDMEMBER", "s", "5")) == b"*0\r\n"
    finally:
        conn.close()


def test_sadd_strings_unordered_match(pair: tuple[redis.Redis, redis.Redis]) -> None:
    words = [f"w{i}" for i in range(600)] + [str(i) for i in range(600)]
    for client in pair:
        client.sadd("a", *words[::2])
        client.sadd("b", *words[::3])
    ours, theirs = pair
    for cmd in (("SMEMBERS", "a"), ("SINTER", "a", "b"), ("SUNION", "a", "b"), ("SDIFF", "a", "b"), ("SDIFF", "b", "a")):
        assert sorted(ours.execute_command(*cmd)) == sorted(theirs.execute_command(*cmd)), cmd
    assert ours.sintercard(2, ["a", "b"]) == theirs.sintercard(2, ["a", "b"])
    assert ours.object("encoding", "a") == theirs.object("encoding", "a") == b"hashtable"


def test_spop_removes_what_it_returns(r: redis.Redis) -> None:
    members = {str(i).encode() for i in range(2000)}
    r.sadd("s", *members)
    popped = set(r.spop("s", 500))
    assert len(popped) == 500 and popped <= members
    single = {r.spop("s") for _ in range(100)}
    assert len(single) == 100 and not single & popped
    assert set(r.smembers("s")) == members - popped - single


def test_spop_count_whole_set_deletes_key(r: redis.Redis) -> None:
    r.sadd("s", "a", "b", "c")
    assert set(r.spop("s", 10)) == {b"a", b"b", b"c"}
    assert r.exists("s") == 0


def test_spop_single_member_is_random(r: redis.Redis) -> None:
    seen = set()
    for _ in range(40):
        r.delete("s")
        r.sadd("s", "a", "b", "c", "d")
        seen.add(r.spop("s"))
    assert seen == {b"a", b"b", b"c", b"d"}  # 40 draws from 4: all appear (odds of not: < 1e-4)


def test_srandmember_positive_count_distinct(r: redis.Redis) -> None:
    r.sadd("s", *range(100))
    for count in (1, 10, 99, 100, 150):
        got = r.srandmember("s", count)
        assert len(got) == min(count, 100) == len(set(got))
    assert r.scard("s") == 100


def test_srandmember_negative_count_repeats(r: redis.Redis) -> None:
    r.sadd("s", "a", "b", "c")
    got = r.srandmember("s", -300)
    assert len(got) == 300 and set(got) == {b"a", b"b", b"c"}


def test_srandmember_single_large_set_is_member(r: redis.Redis) -> None:
    r.sadd("s", *[f"m{i}" for i in range(3000)])
    seen = {r.srandmember("s") for _ in range(50)}
    assert len(seen) > 40 and all(m.startswith(b"m") for m in seen)


def test_sscan_large_set_returns_every_member(r: redis.Redis) -> None:
    members = {f"m{i}".encode() for i in range(2000)}
    r.sadd("s", *members)
    seen: set[bytes] = set()
    cursor, calls = 0, 0
    while True:
        cursor, page = r.sscan("s", cursor, count=200)
        seen.update(page)
        calls += 1
        if cursor == 0:
            break
    assert seen == members and calls > 1


def test_sintercard_limit_stops_early(r: redis.Redis) -> None:
    r.sadd("a", *range(1000))
    r.sadd("b", *range(500, 1500))
    assert r.sintercard(2, ["a", "b"]) == 500
    assert r.sintercard(2, ["a", "b"], limit=10) == 10


def test_object_encoding_set_follows_config(r: redis.Redis) -> None:
    r.sadd("s", 1, 2, 3)
    assert r.object("encoding", "s") == b"intset"
    r.config_set("set-max-intset-entries", "2")
    try:
        assert r.object("encoding", "s") == b"hashtable"
    finally:
        r.config_set("set-max-intset-entries", "512")


def test_srandmember_large_set_sees_every_write(r: redis.Redis) -> None:
    old = [f"old{i}" for i in range(3000)]
    r.sadd("s", *old)
    assert r.srandmember("s").startswith(b"old")  # large set: served from a cached snapshot
    # Same size, different content, same set object: no draw may return a removed member.
    r.srem("s", *old[:1500])
    r.sadd("s", *[f"new{i}" for i in range(1500)])
    draws = r.srandmember("s", -2000) + [r.srandmember("s") for _ in range(50)] + r.srandmember("s", 200)
    removed = {m.encode() for m in old[:1500]}
    assert not removed & set(draws)
    assert any(d.startswith(b"new") for d in draws) and any(d.startswith(b"old") for d in draws)


def test_hrandfield_large_hash_sees_every_write(r: redis.Redis) -> None:
    r.hset("h", mapping={f"old{i}": "1" for i in range(3000)})
    assert r.hrandfield("h").startswith(b"old")
    r.hdel("h", *[f"old{i}" for i in range(3000)])
    r.hset("h", mapping={f"new{i}": "2" for i in range(3000)})
    draws = r.hrandfield("h", -500) + [r.hrandfield("h") for _ in range(20)]
    assert all(d.startswith(b"new") for d in draws)


def test_spop_replays_identically_from_the_append_only_log() -> None:
    # SPOP is random, so it must be logged as the SREM/DEL that happened: a replay popping again
    # would remove different members. Also covers HINCRBYFLOAT (logged as HSET of the result).
    with tempfile.TemporaryDirectory(prefix="respdb-spop-") as tmp:
        workdir = Path(tmp)
        with respdb_server("--appendonly", "yes", "--save", "", workdir=workdir) as sp:
            c = sp.client()
            c.sadd("s", *[f"m{i}" for i in range(300)])
            c.sadd("gone", "a", "b")
            c.sadd("ints", *range(50))
            c.spop("s")
            c.spop("s", 40)
            c.spop("gone", 5)
            c.spop("ints", 7)
            c.hincrbyfloat("h", "f", "0.1")
            c.hincrbyfloat("h", "f", "1e10")
            before = {k: c.smembers(k) for k in ("s", "ints")}
            h_before = c.hgetall("h")
            c.close()
        with respdb_server("--appendonly", "yes", "--save", "", workdir=workdir) as sp:
            c = sp.client()
            assert {k: c.smembers(k) for k in ("s", "ints")} == before
            assert c.exists("gone") == 0
            assert c.hgetall("h") == h_before == {b"f": b"10000000000.09999999962747097"}
            c.close()
