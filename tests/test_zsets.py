"""Sorted set commands over TCP with redis-py (RESP2 and RESP3): replies as clients see them, blocking
pops between two connections, encodings, ZSCAN over big sets, and the log form of served pops.
Byte-exact agreement with redis-server lives in test_differential_zsets.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from tests.servers import Raw, resp, respdb_server


def _wait_blocked(r: redis.Redis, n: int = 1, deadline_s: float = 10.0) -> None:
    """Poll until `n` clients are parked in a blocking command."""
    end = time.monotonic() + deadline_s
    while r.info("clients")["blocked_clients"] < n:
        assert time.monotonic() < end, "client did not block"
        time.sleep(0.01)


# --- writes ----------------------------------------------------------------------------------------
def test_zadd_options(r):
    assert r.zadd("z", {"a": 1, "b": 2}) == 2
    assert r.zadd("z", {"a": 5, "c": 3}, nx=True) == 1
    assert r.zscore("z", "a") == 1.0
    assert r.zadd("z", {"a": 5, "d": 4}, xx=True, ch=True) == 1
    assert r.zcard("z") == 3
    assert r.zadd("z", {"a": 4, "b": 9}, gt=True, ch=True) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"c", 3.0), (b"a", 5.0), (b"b", 9.0)]
    assert r.zadd("z", {"a": 1, "b": 10}, lt=True, ch=True) == 1
    assert r.zadd("z", {"a": 2.5}, incr=True) == 3.5
    assert r.zadd("z", {"a": 1}, incr=True, nx=True) is None


def test_zadd_errors(r):
    with pytest.raises(redis.ResponseError, match=r"^XX and NX options at the same time are not compatible$"):
        r.execute_command("ZADD", "z", "NX", "XX", "1", "a")
    with pytest.raises(redis.ResponseError, match=r"^GT, LT, and/or NX options at the same time are not compatible$"):
        r.execute_command("ZADD", "z", "GT", "LT", "1", "a")
    with pytest.raises(redis.ResponseError, match=r"^INCR option supports a single increment-element pair$"):
        r.execute_command("ZADD", "z", "INCR", "1", "a", "2", "b")
    with pytest.raises(redis.ResponseError, match=r"^value is not a valid float$"):
        r.execute_command("ZADD", "z", "1", "a", "nan", "b")
    assert r.exists("z") == 0  # a bad score later in the command changes nothing
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.zadd("s", {"a": 1})


def test_zincrby_nan_is_an_error(r):
    r.zadd("z", {"a": float("inf")})
    assert r.zincrby("z", 1, "a") == float("inf")
    with pytest.raises(redis.ResponseError, match=r"^resulting score is not a number \(NaN\)$"):
        r.zincrby("z", float("-inf"), "a")


def test_zrem_deletes_empty_key(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zrem("z", "a", "nope") == 1
    assert r.zrem("z", "b") == 1
    assert r.exists("z") == 0
    assert r.zrem("z", "b") == 0


# --- reads -------------------------------------------------------------------------------------------
def test_zscore_resp3_is_a_double(r3):
    r3.zadd("z", {"a": 1.1, "b": float("-inf")})
    assert r3.zscore("z", "a") == 1.1
    assert r3.zscore("z", "b") == float("-inf")
    assert r3.zmscore("z", ["a", "x", "b"]) == [1.1, None, float("-inf")]


def test_zscore_formatting_on_the_wire(server):
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    raw.request(resp("ZADD", "z", "1.1", "a", "0.30000000000000004", "b", "1e20", "c", "inf", "d"))
    assert raw.request(resp("ZSCORE", "z", "a")) == b"$18\r\n1.1000000000000001\r\n"
    assert raw.request(resp("ZSCORE", "z", "b")) == b"$19\r\n0.30000000000000004\r\n"
    assert raw.request(resp("ZSCORE", "z", "c")) == b"$5\r\n1e+20\r\n"
    assert raw.request(resp("ZSCORE", "z", "d")) == b"$3\r\ninf\r\n"
    raw.request(resp("HELLO", "3"))
    assert raw.request(resp("ZSCORE", "z", "a")) == b",1.1000000000000001\r\n"
    assert raw.request(resp("ZRANGE", "z", "0", "0", "WITHSCORES")) == b"*1\r\n*2\r\n$1\r\nb\r\n,0.30000000000000004\r\n"
    assert raw.request(resp("ZPOPMIN", "z")) == b"*2\r\n$1\r\nb\r\n,0.30000000000000004\r\n"
    raw.close()


def test_zrange_family(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 1, 2) == [b"b", b"c"]
    assert r.zrange("z", 0, 1, desc=True, withscores=True) == [(b"d", 4.0), (b"c", 3.0)]
    assert r.zrangebyscore("z", "(1", 3) == [b"b", b"c"]
    assert r.zrevrangebyscore("z", "+inf", "-inf", start=1, num=2) == [b"c", b"b"]
    assert r.zrange("z", "(4", "2", byscore=True, desc=True) == [b"c", b"b"]
    assert r.zrank("z", "c") == 2
    assert r.zrevrank("z", "c") == 1
    assert r.zcount("z", "-inf", "(3") == 2
    with pytest.raises(redis.ResponseError, match=r"^min or max is not a float$"):
        r.zcount("z", "x", 1)


def test_zrangebylex_and_zlexcount(r):
    r.zadd("l", {m: 0 for m in ["a", "b", "c", "d", "e"]})
    assert r.zrangebylex("l", "[b", "(d") == [b"b", b"c"]
    assert r.zrevrangebylex("l", "+", "-", start=1, num=2) == [b"d", b"c"]
    assert r.zlexcount("l", "-", "+") == 5
    assert r.zremrangebylex("l", "(a", "[c") == 2
    assert r.zrange("l", 0, -1) == [b"a", b"d", b"e"]
    with pytest.raises(redis.ResponseError, match=r"^min or max not valid string range item$"):
        r.zrangebylex("l", "a", "+")


def test_zremrangebyrank_and_score(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.zremrangebyrank("z", 0, 1) == 2
    assert r.zremrangebyscore("z", "(3", "+inf") == 2
    assert r.zrange("z", 0, -1) == [b"c"]
    assert r.zremrangebyrank("z", 0, -1) == 1
    assert r.exists("z") == 0


def test_zrangestore_replaces_and_deletes(r):
    r.zadd("src", {"a": 1, "b": 2, "c": 3})
    r.set("dst", "old", ex=100)
    assert r.zrangestore("dst", "src", 0, 1) == 2
    assert r.ttl("dst") == -1
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert r.zrangestore("dst", "src", 10, 20) == 0
    assert r.exists("dst") == 0


# --- pops ---------------------------------------------------------------------------------------------
def test_zpopmin_zpopmax_shapes(r, r3):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert r.zpopmin("z") == [(b"a", 1.0)]
    assert r.zpopmax("z", 5) == [(b"c", 3.0), (b"b", 2.0)]
    assert r.exists("z") == 0
    r3.zadd("z", {"a": 1, "b": 2})
    assert r3.execute_command("ZPOPMIN", "z", "1") == [[b"a", 1.0]]
    assert r3.execute_command("ZPOPMAX", "z") == [b"b", 2.0]


def test_zmpop(r):
    r.zadd("b", {"x": 1, "y": 2})
    assert r.execute_command("ZMPOP", "2", "a", "b", "MAX", "COUNT", "5") == [b"b", [[b"y", b"2"], [b"x", b"1"]]]
    assert r.execute_command("ZMPOP", "1", "b", "MIN") is None


def test_bzpopmin_served_by_zadd_from_another_connection(server, r):
    waiter = Raw(server.port)
    waiter.send(resp("BZPOPMIN", "none", "z", "0"))
    _wait_blocked(r)
    r.zadd("z", {"a": 2, "b": 1})
    assert waiter.read_until_count(1) == b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n1\r\n"
    assert r.zrange("z", 0, -1) == [b"a"]
    waiter.close()


def test_bzpopmax_first_come_first_served(server, r):
    first, second = Raw(server.port), Raw(server.port)
    first.send(resp("BZPOPMAX", "z", "0"))
    _wait_blocked(r, 1)
    second.send(resp("BZPOPMAX", "z", "0"))
    _wait_blocked(r, 2)
    r.zadd("z", {"a": 1, "b": 2})
    assert first.read_until_count(1) == b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert second.read_until_count(1) == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert r.exists("z") == 0
    first.close()
    second.close()


def test_bzpopmin_timeout_returns_null(server, r3):
    start = time.monotonic()
    assert r3.bzpopmin("nothing", timeout=0.1) is None
    assert time.monotonic() - start >= 0.09
    raw = Raw(server.port)
    assert raw.request(resp("BZPOPMIN", "nothing", "0.05")) == b"*-1\r\n"
    raw.close()


def test_bzmpop_served_in_resp3(server, r):
    waiter = Raw(server.port)
    waiter.request(resp("HELLO", "3"))
    waiter.send(resp("BZMPOP", "0", "2", "a", "b", "MIN", "COUNT", "2"))
    _wait_blocked(r)
    r.zadd("b", {"x": 1, "y": 2, "z": 3})
    assert waiter.read_until_count(1) == b"*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\ny\r\n,2\r\n"
    waiter.close()


def test_bzpopmin_keeps_waiting_while_key_holds_another_type(server, r):
    waiter = Raw(server.port)
    waiter.send(resp("BZPOPMIN", "k", "0"))
    _wait_blocked(r)
    r.rpush("k", "x")  # a list arriving under the key does not serve a zset pop (Redis 7.0)
    assert r.info("clients")["blocked_clients"] == 1
    r.delete("k")
    r.zadd("k", {"m": 7})
    assert waiter.read_until_count(1) == b"*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n7\r\n"
    waiter.close()


def test_bzpopmin_served_after_exec_sees_the_whole_transaction(server, r):
    waiter = Raw(server.port)
    waiter.send(resp("BZPOPMIN", "z", "0"))
    _wait_blocked(r)
    pipe = r.pipeline(transaction=True)
    pipe.zadd("z", {"b": 2})
    pipe.zadd("z", {"a": 1})
    pipe.execute()
    assert waiter.read_until_count(1) == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert r.zrange("z", 0, -1) == [b"b"]
    waiter.close()


def test_bzmpop_served_by_zunionstore(server, r):
    waiter = Raw(server.port)
    waiter.send(resp("BZMPOP", "0", "1", "dst", "MAX", "COUNT", "5"))
    _wait_blocked(r)
    r.zadd("src", {"x": 1, "y": 2})
    r.zunionstore("dst", ["src"])
    assert waiter.read_until_count(1) == b"*2\r\n$3\r\ndst\r\n*2\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"
    assert r.exists("dst") == 0
    waiter.close()


def test_bzpopmin_ignores_other_databases(server, r):
    waiter = Raw(server.port)
    waiter.request(resp("SELECT", "1"))
    waiter.send(resp("BZPOPMIN", "z", "0"))
    _wait_blocked(r)
    r.zadd("z", {"a": 1})  # db 0
    assert r.info("clients")["blocked_clients"] == 1
    other = server.client(db=1)
    other.zadd("z", {"b": 5})
    assert waiter.read_until_count(1) == b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n5\r\n"
    assert r.zcard("z") == 1
    other.flushdb()
    other.close()
    waiter.close()


def test_bzpopmin_inside_multi_does_not_block(r):
    pipe = r.pipeline(transaction=True)
    pipe.bzpopmin("none", timeout=0)
    pipe.zadd("z", {"a": 1})
    assert pipe.execute() == [None, 1]


def test_bzpopmin_served_is_logged_as_zpopmin(tmp_path: Path):
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        result: list = []
        t = threading.Thread(target=lambda: result.append(sp.client().bzpopmin("z", timeout=10)))
        t.start()
        _wait_blocked(r)
        r.zadd("z", {"a": 1})
        t.join(10)
        assert result == [(b"z", b"a", 1.0)]
        r.zadd("q", {"a": 1, "b": 2})
        assert r.execute_command("ZMPOP", "1", "q", "MAX") == [b"q", [[b"b", b"2"]]]
    log = b"".join(p.read_bytes() for p in tmp_path.rglob("*.aof*") if p.is_file())
    assert b"BZPOPMIN" not in log and b"ZMPOP" not in log
    assert b"ZPOPMIN" in log and b"ZPOPMAX" in log
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.exists("z") == 0
        assert r.zrange("q", 0, -1, withscores=True) == [(b"a", 1.0)]


# --- ZRANDMEMBER / ZSCAN / encodings ------------------------------------------------------------------------
def test_zrandmember_counts(r):
    members = {f"m{i}".encode(): float(i) for i in range(20)}
    r.zadd("z", members)
    assert r.zrandmember("z") in members
    picked = r.zrandmember("z", 10)
    assert len(picked) == 10 and len(set(picked)) == 10 and set(picked) <= set(members)
    repeated = r.zrandmember("z", -50)
    assert len(repeated) == 50 and set(repeated) <= set(members)
    assert r.zrandmember("z", 100) == sorted(members, key=members.__getitem__, reverse=True)
    pairs = r.execute_command("ZRANDMEMBER", "z", "-3", "WITHSCORES")
    assert len(pairs) == 6 and all(members[pairs[i]] == float(pairs[i + 1]) for i in range(0, 6, 2))
    assert r.zrandmember("none") is None
    assert r.zrandmember("none", 5) == []


def test_zrandmember_withscores_resp3_pairs(r3):
    r3.zadd("z", {"a": 1})
    assert r3.execute_command("ZRANDMEMBER", "z", "-2", "WITHSCORES") == [[b"a", 1.0], [b"a", 1.0]]


def test_zscan_big_set_returns_every_member(r):
    members = {f"member:{i}": i / 4 for i in range(1000)}
    r.zadd("z", members)
    assert r.object("encoding", "z") == b"skiplist"
    seen: dict[bytes, float] = {}
    cursor = 0
    rounds = 0
    while True:
        cursor, page = r.zscan("z", cursor, count=50)
        seen.update(page)
        rounds += 1
        if cursor == 0:
            break
    assert rounds > 5
    assert seen == {k.encode(): v for k, v in members.items()}
    assert dict(r.zscan("z", 0, match="member:99?", count=10000)[1]) == {f"member:99{i}".encode(): (990 + i) / 4 for i in range(10)}


def test_object_encoding_follows_config(r):
    r.zadd("small", {"a": 1})
    assert r.object("encoding", "small") == b"listpack"
    r.zadd("long", {"x" * 65: 1})
    assert r.object("encoding", "long") == b"skiplist"
    r.config_set("zset-max-listpack-entries", "2")
    try:
        r.zadd("grow", {"a": 1, "b": 2})
        assert r.object("encoding", "grow") == b"listpack"
        r.zadd("grow", {"c": 3})
        assert r.object("encoding", "grow") == b"skiplist"
        r.zrem("grow", "a", "b")
        assert r.object("encoding", "grow") == b"skiplist"  # never converted back
        assert r.config_get("zset-max-ziplist-entries") == {"zset-max-ziplist-entries": "2"}
        r.config_set("zset-max-listpack-value", "1kb")  # a memory value, as in Redis
        assert r.config_get("zset-max-listpack-value") == {"zset-max-listpack-value": "1024"}
        r.zadd("wide", {"x" * 1000: 1})
        assert r.object("encoding", "wide") == b"listpack"
    finally:
        r.config_set("zset-max-listpack-entries", "128")
        r.config_set("zset-max-listpack-value", "64")


def test_zunionstore_accepts_plain_sets(r):
    r.sadd("s", "a", "b")
    r.zadd("z", {"a": 2})
    assert r.zunionstore("out", {"s": 1, "z": 3}) == 2
    assert r.zrange("out", 0, -1, withscores=True) == [(b"b", 1.0), (b"a", 7.0)]
    assert r.zinter(["s", "z"], aggregate="MAX", withscores=True) == [(b"a", 2.0)]
    assert r.zdiff(["s", "z"]) == [b"b"]
    assert r.zintercard(2, ["s", "z"]) == 1


def test_watch_sees_zadd(server, r):
    other = server.client()
    r.zadd("z", {"a": 1})
    pipe = r.pipeline(transaction=True)
    pipe.watch("z")
    other.zincrby("z", 1, "a")
    pipe.multi()
    pipe.zadd("z", {"b": 1})
    with pytest.raises(redis.WatchError):
        pipe.execute()
    other.close()
