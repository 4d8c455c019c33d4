"""DUMP / RESTORE: round trips of every type, TTL options, and Redis's exact error texts."""

from __future__ import annotations

import hashlib
import struct
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ
from tests.servers import ServerProcess

BAD_PAYLOAD = "DUMP payload version or checksum are wrong"


def _fill(r: redis.Redis) -> None:
    r.set("s", b"\x00bin\xffary")
    r.hset("h", mapping={"f1": "v1", "f2": b"\x00"})
    r.rpush("l", "a", "b", "a", "")
    r.sadd("st", "x", "y", "z")
    r.zadd("z", {"a": 1.5, "b": -2, "c": float("inf"), "d": 0.1})


def _snapshot(r: redis.Redis) -> dict[str, object]:
    return {
        "s": r.get("s"),
        "h": r.hgetall("h"),
        "l": r.lrange("l", 0, -1),
        "st": r.smembers("st"),
        "z": r.zrange("z", 0, -1, withscores=True),
    }


def test_dump_restore_round_trip_every_type(r: redis.Redis) -> None:
    _fill(r)
    before = _snapshot(r)
    payloads = {k: r.dump(k) for k in before}
    r.flushall()
    for key, payload in payloads.items():
        assert r.restore(key, 0, payload) == b"OK"
        assert r.ttl(key) == -1
    assert _snapshot(r) == before
    assert r.type("z") == b"zset" and r.type("l") == b"list"


def test_dump_missing_key_is_nil(r: redis.Redis) -> None:
    assert r.dump("nope") is None


def test_restore_busykey_and_replace(r: redis.Redis) -> None:
    r.set("a", "1")
    payload = r.dump("a")
    with pytest.raises(redis.ResponseError, match=r"^BUSYKEY Target key name already exists\.$"):
        r.restore("a", 0, payload)
    r.set("a", "2")
    assert r.restore("a", 0, payload, replace=True) == b"OK"
    assert r.get("a") == b"1"


def test_restore_relative_and_absolute_ttl(r: redis.Redis) -> None:
    r.set("a", "1")
    payload = r.dump("a")
    r.restore("b", 100_000, payload)
    assert 99_000 < r.pttl("b") <= 100_000
    when = int(time.time() * 1000) + 50_000
    r.restore("c", when, payload, absttl=True)
    assert r.pexpiretime("c") == when


def test_restore_already_expired_absttl_creates_nothing(r: redis.Redis) -> None:
    r.set("a", "1")
    payload = r.dump("a")
    assert r.restore("a", 1, payload, replace=True, absttl=True) == b"OK"
    assert r.exists("a") == 0
    assert r.restore("b", 1, payload, absttl=True) == b"OK"
    assert r.exists("b") == 0


def test_restore_idletime_and_freq_set_the_access_clock(r: redis.Redis) -> None:
    # Values observed on redis-server 7.0.15 with the same steps (a non-integer value, so Redis does
    # not hand out a shared object).
    r.set("a", "hello")
    payload = r.dump("a")
    assert r.restore("b", 0, payload, idletime=1000) == b"OK"
    assert 1000 <= r.object("idletime", "b") <= 1001
    assert r.restore("c", 0, payload, frequency=5) == b"OK"  # FREQ is ignored under an LRU policy
    assert r.object("idletime", "c") <= 1
    policy = r.config_get("maxmemory-policy")["maxmemory-policy"]
    r.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        assert r.restore("d", 0, payload, frequency=100) == b"OK"
        assert r.object("freq", "d") == 100
        assert r.restore("e", 0, payload, idletime=50) == b"OK"  # IDLETIME is ignored under LFU
        assert r.object("freq", "e") == 5
    finally:
        r.config_set("maxmemory-policy", policy)
    assert r.get("b") == r.get("d") == b"hello"


def test_restore_every_flipped_byte_is_rejected(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    payload = bytearray(r.dump("h"))
    for i in range(len(payload)):
        bad = bytearray(payload)
        bad[i] ^= 0x01
        with pytest.raises(redis.ResponseError, match=BAD_PAYLOAD):
            r.restore(f"k{i}", 0, bytes(bad))
    for cut in range(len(payload)):
        with pytest.raises(redis.ResponseError, match=BAD_PAYLOAD):
            r.restore(f"t{cut}", 0, bytes(payload[:cut]))
    assert r.dbsize() == 1


def test_restore_valid_checksum_bad_content_is_bad_data_format(r: redis.Redis) -> None:
    # A payload whose trailer checks out but whose body is not a value (unknown type 0x7f, then an
    # empty list): RESTORE must refuse it cleanly, never create a key.
    for body in (b"\x7f" + b"\x00" * 8, b"\x02" + b"\x00" * 8, b"\x00" + struct.pack("<Q", 10**12)):
        head = body + b"RD" + struct.pack("<H", 1)
        payload = head + hashlib.blake2b(head, digest_size=8).digest()
        with pytest.raises(redis.ResponseError, match=r"^Bad data format$"):
            r.restore("k", 0, payload)
    assert r.exists("k") == 0


@pytest.mark.parametrize(
    "args",
    [
        ("RESTORE", "k", "0", "xyz"),
        ("RESTORE", "k", "-1", "xyz"),
        ("RESTORE", "k", "abc", "xyz"),
        ("RESTORE", "k", "0", "xyz", "IDLETIME", "-1"),
        ("RESTORE", "k", "0", "xyz", "FREQ", "256"),
        ("RESTORE", "k", "0", "xyz", "FREQ", "-1"),
        ("RESTORE", "k", "0", "xyz", "IDLETIME", "1", "FREQ", "2"),
        ("RESTORE", "k", "0", "xyz", "FREQ", "1", "IDLETIME", "2"),
        ("RESTORE", "k", "0", "xyz", "foo"),
        ("RESTORE", "k", "0", "xyz", "IDLETIME"),
        ("RESTORE", "k", "0", "xyz", "IDLETIME", "x"),
        ("RESTORE", "k", "0", "xyz", "ABSTTL", "REPLACE"),
        ("RESTORE", "k", "0"),
        ("DUMP",),
        ("DUMP", "nokey"),
    ],
)
def test_restore_errors_match_redis(server: ServerProcess, oracle: ServerProcess, args: tuple[str, ...]) -> None:
    d = Differ(server, oracle)
    try:
        d.check(*args)
    finally:
        d.close()


def test_restore_busykey_checked_before_ttl_and_payload(server: ServerProcess, oracle: ServerProcess) -> None:
    d = Differ(server, oracle)
    try:
        d.check("SET", "k", "v")
        d.check("RESTORE", "k", "0", "xyz")
        d.check("RESTORE", "k", "-1", "xyz")
        d.check("RESTORE", "k", "-1", "xyz", "REPLACE")
        d.check("RESTORE", "k", "x", "xyz", "REPLACE")
        d.check("RESTORE", "k", "0", "xyz", "REPLACE")
    finally:
        d.close()


def test_restore_wrong_payload_from_real_redis(r: redis.Redis, oracle: ServerProcess) -> None:
    theirs = oracle.client()
    theirs.set("a", "1")
    with pytest.raises(redis.ResponseError, match=BAD_PAYLOAD):
        r.restore("a", 0, theirs.dump("a"))
    theirs.delete("a")
    theirs.close()


def _sign(body: bytes) -> bytes:
    head = body + b"RD" + struct.pack("<H", 1)
    return head + hashlib.blake2b(head, digest_size=8).digest()


_bodies = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda tag, count, rest: bytes([tag]) + struct.pack("<Q", count) + rest,
        st.sampled_from([0, 1, 2, 3, 4, 5, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 6, 0xFF]),
        st.one_of(st.integers(0, 8), st.integers(0, 2**64 - 1)),
        st.binary(max_size=96),
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies)
def test_restore_hostile_payloads_fail_cleanly(r: redis.Redis, body: bytes) -> None:
    # Payloads that pass the checksum but carry arbitrary content: RESTORE either builds a valid value
    # or answers "Bad data format" — never an internal error, a hang or a crash.
    r.delete("k")
    try:
        r.restore("k", 0, _sign(body))
    except redis.ResponseError as exc:
        assert str(exc) == "Bad data format"
    else:
        assert r.type("k") in (b"string", b"hash", b"list", b"set", b"zset", b"stream")
        assert r.dump("k") is not None
    assert r.ping()
