"""Bitmap commands over TCP: redis-py behaviour, TTL handling, and exhaustive differential sweeps
(every BITFIELD type and overflow mode at the edges; BITCOUNT/BITPOS over random ranges) against
redis-server 7.0."""

from __future__ import annotations

import random

import pytest
import redis

from tests.diff import Differ


@pytest.fixture
def differ(server, oracle):
    d = Differ(server, oracle)
    yield d
    d.close()


def test_setbit_getbit_grow_and_return_old_bit(r):
    assert r.setbit("b", 7, 1) == 0
    assert r.get("b") == b"\x01"
    assert r.setbit("b", 7, 1) == 1
    assert r.setbit("b", 23, 1) == 0
    assert r.get("b") == b"\x01\x00\x01"
    assert r.getbit("b", 23) == 1
    assert r.getbit("b", 22) == 0
    assert r.getbit("b", 10_000) == 0
    assert r.getbit("missing", 3) == 0


def test_setbit_errors(r):
    with pytest.raises(redis.ResponseError, match=r"^bit offset is not an integer or out of range$"):
        r.setbit("b", -1, 1)
    with pytest.raises(redis.ResponseError, match=r"^bit offset is not an integer or out of range$"):
        r.setbit("b", 4 * 1024 * 1024 * 1024, 1)
    with pytest.raises(redis.ResponseError, match=r"^bit is not an integer or out of range$"):
        r.execute_command("SETBIT", "b", "1", "2")  # redis-py would coerce 2 to 1
    r.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.setbit("l", 1, 1)


def test_setbit_keeps_ttl_and_bitop_replaces_it(r):
    r.set("b", "a", ex=100)
    r.setbit("b", 0, 1)
    assert 0 < r.ttl("b") <= 100
    r.bitfield("b").set("u8", 8, 255).execute()
    assert 0 < r.ttl("b") <= 100
    r.set("d", "x", ex=100)
    assert r.bitop("OR", "d", "b") == 2
    assert r.ttl("d") == -1


def test_bitcount_and_bitpos(r):
    r.set("s", "foobar")
    assert r.bitcount("s") == 26
    assert r.bitcount("s", 1, 1) == 6
    assert r.bitcount("s", 5, 30, "BIT") == 17
    r.set("z", b"\xff\xf0\x00")
    assert r.bitpos("z", 0) == 12
    assert r.bitpos("z", 1, 2) == -1
    assert r.bitpos("z", 0, 0, 0) == -1  # an explicit end: no clear bit inside the range
    assert r.bitpos("z", 1, 7, 15, "BIT") == 7
    r.set("ones", b"\xff")
    assert r.bitpos("ones", 0) == 8  # no end given: the bits past the string count as clear
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1


def test_bitop_operations(r):
    r.set("a", b"\xf0\x0f")
    r.set("b", b"\xff")
    assert r.bitop("AND", "d", "a", "b") == 2
    assert r.get("d") == b"\xf0\x00"
    assert r.bitop("OR", "d", "a", "b") == 2
    assert r.get("d") == b"\xff\x0f"
    assert r.bitop("XOR", "d", "a", "b", "missing") == 2
    assert r.get("d") == b"\x0f\x0f"
    assert r.bitop("NOT", "d", "a") == 2
    assert r.get("d") == b"\x0f\xf0"
    assert r.bitop("AND", "d", "missing") == 0
    assert r.exists("d") == 0
    with pytest.raises(redis.ResponseError, match=r"^BITOP NOT must be called with a single source key.$"):
        r.bitop("NOT", "d", "a", "b")


def test_bitfield_overflow_modes(r):
    bf = r.bitfield("f")
    bf.set("i8", 0, 100).incrby("i8", 0, 100)
    bf.overflow("SAT").incrby("i8", 0, -100)
    bf.overflow("FAIL").incrby("i8", 0, -1)
    bf.get("u8", 0)
    assert bf.execute() == [0, -56, -128, None, 128]
    assert r.bitfield_ro("f", "u4", 0, items=[("u4", 4)]) == [8, 0]
    assert r.bitfield("f", default_overflow=None).get("i8", "#0").execute() == [-128]


def test_bitfield_ro_rejects_writes(r):
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match=r"^BITFIELD_RO only supports the GET subcommand$"):
        r.execute_command("BITFIELD_RO", "s", "SET", "u8", "0", "1")
    with pytest.raises(redis.ResponseError, match=r"^Invalid bitfield type"):
        r.execute_command("BITFIELD", "s", "GET", "u64", "0")


def test_bitfield_fail_still_creates_the_key(r):
    assert r.execute_command("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u2", "10", "9") == [None]
    assert r.get("f") == b"\x00\x00"


EDGE_VALUES = ["0", "1", "-1", "2", "-2", "127", "-128", "255", "256", "9223372036854775807", "-9223372036854775808", "4611686018427387904", "-4611686018427387905"]
TYPES = [f"i{n}" for n in (1, 2, 7, 8, 9, 31, 32, 33, 63, 64)] + [f"u{n}" for n in (1, 2, 7, 8, 9, 31, 32, 33, 62, 63)]


@pytest.mark.parametrize("field", TYPES)
def test_bitfield_edges_match_redis(differ, field):
    for mode in ("WRAP", "SAT", "FAIL"):
        for start in EDGE_VALUES:
            differ.check("DEL", "f")
            differ.check("BITFIELD", "f", "OVERFLOW", mode, "SET", field, "3", start, "GET", field, "3")
            for incr in EDGE_VALUES:
                differ.check("BITFIELD", "f", "OVERFLOW", mode, "INCRBY", field, "3", incr, "GET", field, "3")
        differ.check("GET", "f")


def test_bitcount_bitpos_random_ranges_match_redis(differ):
    rng = random.Random(1234)
    for length in (0, 1, 2, 7, 64, 1000):
        body = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(length))
        differ.check("SET", "s", body)
        differ.check("BITCOUNT", "s")
        for bit in ("0", "1"):
            differ.check("BITPOS", "s", bit)
        for _ in range(40):
            a, b = (str(rng.randint(-length * 9 - 3, length * 9 + 3)) for _ in range(2))
            unit = rng.choice(["BYTE", "BIT"])
            differ.check("BITCOUNT", "s", a, b, unit)
            differ.check("BITCOUNT", "s", a, b)
            bit = rng.choice(["0", "1"])
            differ.check("BITPOS", "s", bit, a)
            differ.check("BITPOS", "s", bit, a, b)
            differ.check("BITPOS", "s", bit, a, b, unit)


def test_bitop_random_lengths_match_redis(differ):
    rng = random.Random(99)
    for _ in range(30):
        for key in ("a", "b", "c"):
            differ.check("SET", key, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12))))
        for op in ("AND", "OR", "XOR"):
            differ.check("BITOP", op, "d", "a", "b", "c", "missing")
            differ.check("GET", "d")
        differ.check("BITOP", "NOT", "d", "b")
        differ.check("GET", "d")


def test_setbit_random_walk_matches_redis(differ):
    rng = random.Random(7)
    for _ in range(300):
        offset = str(rng.randrange(0, 200))
        if rng.random() < 0.5:
            differ.check("SETBIT", "b", offset, rng.choice(["0", "1"]))
        else:
            differ.check("GETBIT", "b", offset)
    differ.check("GET", "b")
    differ.check("BITCOUNT", "b")


def test_bitpos_across_scan_windows_matches_redis(differ):
    # respdb scans in 64 KiB windows; put the hits on and around the window edges.
    window = 65536 * 8
    for hit in (window - 1, window, window + 1, 2 * window + 3):
        differ.check("DEL", "z", "o")
        differ.check("SETBIT", "z", str(3 * window), "0")
        differ.check("SETBIT", "z", str(hit), "1")
        differ.check("BITOP", "NOT", "o", "z")
        for start in ("0", "1", str(window // 8 - 1), str(window // 8)):
            differ.check("BITPOS", "z", "1", start)
            differ.check("BITPOS", "o", "0", start)
            differ.check("BITPOS", "o", "0", start, "-1")
        for start in (str(hit - 5), str(hit), str(hit + 1)):
            differ.check("BITPOS", "z", "1", start, "-1", "BIT")
            differ.check("BITPOS", "o", "0", start, str(3 * window), "BIT")
        differ.check("BITCOUNT", "z")
        differ.check("BITCOUNT", "o", "1", "-2")
