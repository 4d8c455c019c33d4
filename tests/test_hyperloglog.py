"""HyperLogLog over TCP with redis-py: the exact HYLL bytes, cached cardinality, sparse→dense promotion,
type and corruption errors, PFMERGE, TTL kept across writes."""

from __future__ import annotations

import pytest
import redis

EMPTY_SPARSE = b"HYLL\x01" + bytes(3) + bytes(7) + b"\x80" + b"\x7f\xff"


def test_pfadd_without_elements_creates_empty_sparse_hll(r):
    assert r.pfadd("h") == 1
    assert r.get("h") == EMPTY_SPARSE  # stale cache bit set, one XZERO opcode for 16384 registers
    assert r.pfadd("h") == 0
    assert r.pfcount("h") == 0
    assert r.get("h") == EMPTY_SPARSE[:15] + b"\x00" + b"\x7f\xff"  # count cached


def test_pfadd_single_element_exact_bytes(r):
    # "a" → register 12711, count 2: XZERO(12711) VAL(2,1) XZERO(3672); bytes as redis-server 7.0.15 wrote them.
    assert r.pfadd("h", "a") == 1
    assert r.get("h") == b"HYLL\x01" + bytes(10) + b"\x80" + bytes.fromhex("71a6844e57")
    assert r.pfadd("h", "a") == 0
    assert r.pfcount("h") == 1


def test_pfcount_caches_and_pfadd_invalidates(r):
    r.pfadd("h", *[f"e{i}" for i in range(100)])
    assert r.get("h")[15] & 0x80
    n = r.pfcount("h")
    assert 95 <= n <= 105
    value = r.get("h")
    assert not value[15] & 0x80 and int.from_bytes(value[8:16], "little") == n
    r.pfadd("h", "another")
    assert r.get("h")[15] & 0x80


def test_pfadd_promotes_to_dense_past_sparse_max_bytes(r):
    r.config_set("hll-sparse-max-bytes", 200)
    try:
        r.pfadd("h", *[f"x{i}" for i in range(20)])
        assert r.get("h")[4] == 1
        r.pfadd("h", *[f"y{i}" for i in range(200)])
        value = r.get("h")
        assert value[4] == 0 and len(value) == 16 + 12288
        assert 200 <= r.pfcount("h") <= 240
    finally:
        r.config_set("hll-sparse-max-bytes", 3000)


def test_pfcount_union_and_missing_keys(r):
    r.pfadd("a", *[f"k{i}" for i in range(0, 600)])
    r.pfadd("b", *[f"k{i}" for i in range(300, 900)])
    union = r.pfcount("a", "b", "missing")
    assert 850 <= union <= 950
    assert r.pfcount("missing") == 0


def test_pfmerge_creates_and_updates_destination(r):
    r.pfadd("a", "1", "2", "3")
    r.pfadd("b", "3", "4")
    assert r.pfmerge("dest", "a", "b")
    assert r.pfcount("dest") == 4
    assert r.pfmerge("a", "b")  # the destination's own registers are part of the union
    assert r.pfcount("a") == 4
    assert r.pfmerge("empty")
    assert r.get("empty") == EMPTY_SPARSE


def test_hll_type_errors(r):
    r.set("s", "not an hll")
    r.lpush("l", "x")
    for call in (lambda: r.pfadd("s", "a"), lambda: r.pfcount("s"), lambda: r.pfmerge("d", "s"),
                 lambda: r.pfcount("s", "l")):
        with pytest.raises(redis.ResponseError, match=r"WRONGTYPE Key is not a valid HyperLogLog string value\."):
            call()
    with pytest.raises(redis.ResponseError, match="WRONGTYPE Operation against a key holding the wrong kind"):
        r.pfadd("l", "a")
    r.set("bad", b"HYLL\x00" + bytes(11) + b"\x00")  # dense with the wrong length
    with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
        r.pfcount("bad")


def test_corrupted_sparse_hll_is_invalidobj(r):
    r.set("c", b"HYLL\x01" + bytes(10) + b"\x80" + b"\x7f\xfe")  # opcodes cover 16383 registers
    with pytest.raises(redis.ResponseError, match="Corrupted HLL object detected"):
        r.pfcount("c")
    with pytest.raises(redis.ResponseError, match="Corrupted HLL object detected"):
        r.pfcount("c", "c")


def test_pfadd_keeps_ttl(r):
    r.pfadd("h", "a")
    r.expire("h", 100)
    r.pfadd("h", "b", "c")
    r.pfcount("h")
    assert 0 < r.ttl("h") <= 100
