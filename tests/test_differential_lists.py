"""Differential tests for list and bitmap commands: the same request bytes go to respdb and to
redis-server 7.0 and every reply must be identical byte for byte (RESP2 and RESP3).

Fixed cases pin the interesting corners; Hypothesis then sends random sequences, both well-formed and
built from a pool of confusing tokens so the order of argument checks is exercised too.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ

LIST_CASES = [
    [("LPUSH", "l", "a", "b", "c"), ("LRANGE", "l", "0", "-1"), ("RPUSH", "l", "d"), ("LLEN", "l"), ("LLEN", "none"), ("OBJECT", "ENCODING", "l")],
    [("LPUSHX", "l", "a"), ("RPUSHX", "l", "a"), ("EXISTS", "l"), ("RPUSH", "l", "x"), ("LPUSHX", "l", "a", "b"), ("RPUSHX", "l", "c"), ("LRANGE", "l", "0", "-1")],
    [("RPUSH", "l", "a", "b", "c"), ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l"), ("LPOP", "l"), ("EXISTS", "l"), ("RPOP", "l")],
    [("RPUSH", "l", "a", "b", "c"), ("LPOP", "l", "0"), ("LPOP", "l", "2"), ("RPOP", "l", "5"), ("LPOP", "l", "1"), ("LPOP", "l", "0"), ("LPOP", "l", "-1"), ("LPOP", "l", "x"), ("RPOP", "l", "1", "2")],
    [("RPUSH", "l", "a", "b", "c", "d", "e"), ("LRANGE", "l", "1", "3"), ("LRANGE", "l", "-2", "-1"), ("LRANGE", "l", "-100", "100"), ("LRANGE", "l", "3", "1"), ("LRANGE", "l", "5", "10"), ("LRANGE", "l", "x", "1"), ("LRANGE", "none", "0", "-1")],
    [("RPUSH", "l", "a", "b", "c"), ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "3"), ("LINDEX", "l", "x"), ("LINDEX", "none", "x")],
    [("RPUSH", "l", "a", "b", "c"), ("LSET", "l", "1", "B"), ("LSET", "l", "-1", "C"), ("LSET", "l", "3", "x"), ("LSET", "none", "0", "x"), ("LSET", "l", "x", "y"), ("LRANGE", "l", "0", "-1")],
    [("RPUSH", "l", "a", "b", "c"), ("LINSERT", "l", "BEFORE", "b", "x"), ("LINSERT", "l", "after", "c", "y"), ("LINSERT", "l", "before", "zz", "q"), ("LINSERT", "none", "before", "a", "b"), ("LINSERT", "l", "middle", "a", "b"), ("LRANGE", "l", "0", "-1")],
    [("RPUSH", "l", "a", "b", "a", "c", "a"), ("LREM", "l", "1", "a"), ("LREM", "l", "-1", "a"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "0", "a"), ("LREM", "l", "0", "zz"), ("LREM", "l", "x", "a"), ("LREM", "l", "0", "b"), ("LREM", "l", "0", "c"), ("EXISTS", "l")],
    [("RPUSH", "l", "a", "b", "c", "d", "e"), ("LTRIM", "l", "1", "-2"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "0", "-1"), ("LTRIM", "l", "5", "1"), ("EXISTS", "l"), ("LTRIM", "none", "0", "1"), ("LTRIM", "l", "x", "1")],
    [("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"), ("LPOS", "l", "c"), ("LPOS", "l", "c", "RANK", "2"), ("LPOS", "l", "c", "RANK", "-1"), ("LPOS", "l", "c", "COUNT", "0"), ("LPOS", "l", "c", "COUNT", "2", "RANK", "-2"), ("LPOS", "l", "c", "MAXLEN", "3"), ("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"), ("LPOS", "l", "zz"), ("LPOS", "l", "zz", "COUNT", "1")],
    [("RPUSH", "l", "a"), ("LPOS", "l", "a", "RANK", "0"), ("LPOS", "l", "a", "COUNT", "-1"), ("LPOS", "l", "a", "MAXLEN", "-1"), ("LPOS", "l", "a", "RANK"), ("LPOS", "l", "a", "FOO", "1"), ("LPOS", "none", "a"), ("LPOS", "none", "a", "COUNT", "2"), ("LPOS", "l", "a", "RANK", "-9223372036854775808")],
    [("RPUSH", "s", "a", "b", "c"), ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("LMOVE", "s", "d", "right", "left"), ("LMOVE", "s", "s", "LEFT", "RIGHT"), ("LRANGE", "s", "0", "-1"), ("LRANGE", "d", "0", "-1"), ("LMOVE", "s", "d", "UP", "LEFT"), ("LMOVE", "none", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "d"), ("RPOPLPUSH", "s", "d"), ("EXISTS", "s")],
    [("SET", "str", "v"), ("RPUSH", "l", "a"), ("LMOVE", "l", "str", "LEFT", "LEFT"), ("LMOVE", "str", "l", "LEFT", "LEFT"), ("LRANGE", "l", "0", "-1"), ("RPOPLPUSH", "l", "str"), ("LPUSH", "str", "a"), ("LRANGE", "str", "0", "1"), ("LLEN", "str"), ("LPOP", "str"), ("LPOP", "str", "1")],
    [("RPUSH", "a", "1", "2", "3"), ("RPUSH", "b", "4"), ("LMPOP", "2", "none", "a", "LEFT"), ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"), ("LMPOP", "1", "a", "LEFT"), ("LMPOP", "1", "b", "left", "COUNT", "1")],
    [("LMPOP", "0", "a", "LEFT"), ("LMPOP", "x", "a", "LEFT"), ("LMPOP", "1", "a", "MIDDLE"), ("LMPOP", "3", "a", "LEFT"), ("LMPOP", "1", "a", "LEFT", "COUNT", "0"), ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"), ("LMPOP", "1", "a", "LEFT", "FOO")],
    [("RPUSH", "a", "1", "2"), ("BLPOP", "none", "a", "0"), ("BRPOP", "a", "0"), ("BLPOP", "a", "-1"), ("BLPOP", "a", "x"), ("BLPOP", "a", "inf"), ("BLPOP", "a", "1e30"), ("BLPOP", "a", " 1"), ("BLPOP", "a", "0.01")],
    [("RPUSH", "a", "1", "2"), ("BLMOVE", "a", "b", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "a", "b", "0"), ("BLMOVE", "a", "b", "LEFT", "UP", "0"), ("BLMOVE", "a", "b", "LEFT", "LEFT", "-1"), ("BLMOVE", "a", "b", "LEFT", "LEFT", "0.01"), ("LRANGE", "b", "0", "-1")],
    [("RPUSH", "a", "1", "2", "3"), ("BLMPOP", "0", "1", "a", "LEFT", "COUNT", "2"), ("BLMPOP", "0", "0", "a", "LEFT"), ("BLMPOP", "x", "1", "a", "LEFT"), ("BLMPOP", "-1", "1", "a", "LEFT"), ("BLMPOP", "0.01", "1", "none", "LEFT"), ("BLMPOP", "0", "1", "a", "RIGHT", "COUNT", "5")],
    [("SET", "str", "v"), ("BLPOP", "str", "0"), ("BLMOVE", "str", "x", "LEFT", "LEFT", "0"), ("BLMPOP", "0", "1", "str", "LEFT"), ("LMPOP", "1", "str", "LEFT"), ("LPOS", "str", "a"), ("LINSERT", "str", "before", "a", "b"), ("LREM", "str", "0", "a"), ("LTRIM", "str", "0", "1"), ("LSET", "str", "0", "a"), ("LINDEX", "str", "0"), ("RPUSHX", "str", "a")],
]

BIT_CASES = [
    [("SETBIT", "b", "7", "1"), ("GET", "b"), ("SETBIT", "b", "7", "0"), ("SETBIT", "b", "100", "1"), ("STRLEN", "b"), ("GETBIT", "b", "100"), ("GETBIT", "b", "101"), ("GETBIT", "b", "99999"), ("GETBIT", "none", "0")],
    [("SETBIT", "b", "-1", "1"), ("SETBIT", "b", "4294967296", "1"), ("SETBIT", "b", "1", "2"), ("SETBIT", "b", "1", "x"), ("SETBIT", "b", "x", "1"), ("GETBIT", "b", "-1"), ("GETBIT", "b", "4294967296"), ("LPUSH", "l", "a"), ("SETBIT", "l", "0", "1"), ("GETBIT", "l", "0")],
    [("SET", "s", "foobar"), ("BITCOUNT", "s"), ("BITCOUNT", "s", "0", "0"), ("BITCOUNT", "s", "1", "1"), ("BITCOUNT", "s", "-2", "-1"), ("BITCOUNT", "s", "5", "30", "BIT"), ("BITCOUNT", "s", "5", "30", "byte"), ("BITCOUNT", "s", "-1", "-2"), ("BITCOUNT", "s", "1"), ("BITCOUNT", "s", "a", "b"), ("BITCOUNT", "s", "0", "1", "bat"), ("BITCOUNT", "none", "a"), ("BITCOUNT", "s", "0", "-1", "BIT", "x")],
    [("SET", "s", "\xff\xf0\x00"), ("BITPOS", "s", "0"), ("BITPOS", "s", "1"), ("BITPOS", "s", "0", "2"), ("BITPOS", "s", "1", "2"), ("BITPOS", "s", "1", "2", "-1"), ("BITPOS", "s", "0", "0", "0"), ("BITPOS", "s", "0", "3", "5", "BIT"), ("BITPOS", "s", "1", "7", "15", "bit"), ("BITPOS", "s", "0", "0", "-1", "BIT"), ("BITPOS", "s", "2"), ("BITPOS", "none", "1"), ("BITPOS", "none", "0"), ("BITPOS", "s", "1", "a"), ("BITPOS", "s", "1", "0", "x", "foo")],
    [("SET", "a", "abc"), ("SET", "b", "\x0f"), ("BITOP", "AND", "d", "a", "b"), ("GET", "d"), ("BITOP", "or", "d", "a", "b", "none"), ("GET", "d"), ("BITOP", "XOR", "d", "a", "b"), ("GET", "d"), ("BITOP", "NOT", "d", "a"), ("GET", "d"), ("BITOP", "NOT", "d", "a", "b"), ("BITOP", "FOO", "d", "a"), ("BITOP", "AND", "d", "none"), ("EXISTS", "d")],
    [("BITFIELD", "f", "SET", "i8", "0", "-100", "INCRBY", "i8", "0", "-100", "GET", "u8", "0"), ("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "u4", "#3", "100", "OVERFLOW", "FAIL", "INCRBY", "u4", "#3", "1", "GET", "i64", "0"), ("BITFIELD", "f", "SET", "u8", "0", "-1", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "i8", "0", "200"), ("GET", "f")],
    [("BITFIELD", "f", "GET", "U8", "0"), ("BITFIELD", "f", "GET", "u64", "0"), ("BITFIELD", "f", "GET", "i65", "0"), ("BITFIELD", "f", "GET", "u08", "0"), ("BITFIELD", "f", "GET", "i0", "0"), ("BITFIELD", "f", "FOO"), ("BITFIELD", "f", "GET", "u8"), ("BITFIELD", "f"), ("BITFIELD", "f", "OVERFLOW", "FOO"), ("BITFIELD", "f", "GET", "u8", "-1"), ("BITFIELD", "f", "GET", "u8", "#-1"), ("BITFIELD", "f", "GET", "u8", "4294967296"), ("BITFIELD", "f", "SET", "u8", "0", "x"), ("EXISTS", "f")],
    [("SET", "s", "hello"), ("BITFIELD_RO", "s", "GET", "u8", "0", "GET", "i4", "#3"), ("BITFIELD_RO", "s", "SET", "u8", "0", "1"), ("BITFIELD_RO", "s", "INCRBY", "x", "0", "1"), ("BITFIELD_RO", "s", "OVERFLOW", "WRAP"), ("BITFIELD_RO", "s", "FOO"), ("BITFIELD_RO", "none", "GET", "i64", "0"), ("BITFIELD_RO", "none")],
    [("BITFIELD", "f", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1", "INCRBY", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-9223372036854775808")],
    [("BITFIELD", "f", "SET", "i8", "0", "-9223372036854775808", "OVERFLOW", "SAT", "SET", "i8", "8", "-9223372036854775808", "SET", "i8", "16", "9223372036854775807", "OVERFLOW", "FAIL", "SET", "u63", "24", "-1", "GET", "u63", "24")],
    [("SET", "w", "abcdefghij"), ("BITFIELD", "w", "SET", "u8", "24", "65", "GET", "u16", "800", "INCRBY", "i5", "#3", "7"), ("GET", "w"), ("BITFIELD", "w", "GET", "u8", "0", "SET", "i8", "96", "1"), ("GET", "w"), ("BITFIELD", "w", "SET", "u4", "160", "15"), ("GET", "w"), ("BITFIELD", "n", "GET", "u8", "64", "SET", "u8", "8", "1"), ("GET", "n")],
    [("LPUSH", "l", "a"), ("BITFIELD", "l", "GET", "u8", "0"), ("BITFIELD", "l", "SET", "u8", "0", "1"), ("BITFIELD_RO", "l", "GET", "u8", "0"), ("BITFIELD_RO", "l", "SET", "u1", "0", "0"), ("BITCOUNT", "l"), ("BITPOS", "l", "1"), ("BITOP", "AND", "d", "l"), ("BITOP", "AND", "l", "none")],
]


@pytest.fixture
def differ(server, oracle):
    d = Differ(server, oracle)
    yield d
    d.close()


@pytest.fixture
def differ3(server, oracle):
    d = Differ(server, oracle, resp3=True)
    yield d
    d.close()


def _ids(cases: list) -> list[str]:
    return [f"{i}-" + " ".join(c[0])[:40] for i, c in enumerate(cases)]


@pytest.mark.parametrize("case", LIST_CASES, ids=_ids(LIST_CASES))
def test_lists_sequence_matches_redis(differ, case):
    for cmd in case:
        differ.check(*cmd)


@pytest.mark.parametrize("case", LIST_CASES, ids=_ids(LIST_CASES))
def test_lists_sequence_matches_redis_resp3(differ3, case):
    for cmd in case:
        differ3.check(*cmd)


@pytest.mark.parametrize("case", BIT_CASES, ids=_ids(BIT_CASES))
def test_bitmaps_sequence_matches_redis(differ, case):
    for cmd in case:
        differ.check(*cmd)


@pytest.mark.parametrize("case", BIT_CASES, ids=_ids(BIT_CASES))
def test_bitmaps_sequence_matches_redis_resp3(differ3, case):
    for cmd in case:
        differ3.check(*cmd)


# --- Hypothesis --------------------------------------------------------------------------------
KEYS = st.sampled_from([b"k1", b"k2", b"str"])
ELEMS = st.sampled_from([b"a", b"b", b"c", b"", b"1", b"a" * 30])
SMALL_INT = st.integers(-6, 6).map(lambda i: b"%d" % i)
WEIRD_INT = st.sampled_from([b"x", b"1.5", b"-0", b"01", b" 1", b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b""])
INTS = st.one_of(SMALL_INT, SMALL_INT, WEIRD_INT)
WHERE = st.sampled_from([b"LEFT", b"RIGHT", b"left", b"Right", b"UP"])
TINY_TIMEOUT = st.sampled_from([b"0.001", b"0.01"])  # any wait ends at once in both servers

LIST_COMMAND = st.one_of(
    st.tuples(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), KEYS, ELEMS).flatmap(
        lambda t: st.lists(ELEMS, max_size=3).map(lambda extra: (*t, *extra))
    ),
    st.tuples(st.sampled_from([b"LPOP", b"RPOP"]), KEYS),
    st.tuples(st.sampled_from([b"LPOP", b"RPOP"]), KEYS, INTS),
    st.tuples(st.just(b"LRANGE"), KEYS, INTS, INTS),
    st.tuples(st.just(b"LTRIM"), KEYS, INTS, INTS),
    st.tuples(st.sampled_from([b"LLEN", b"TYPE", b"EXISTS"]), KEYS),
    st.tuples(st.just(b"LINDEX"), KEYS, INTS),
    st.tuples(st.just(b"LSET"), KEYS, INTS, ELEMS),
    st.tuples(st.just(b"LINSERT"), KEYS, st.sampled_from([b"BEFORE", b"after", b"x"]), ELEMS, ELEMS),
    st.tuples(st.just(b"LREM"), KEYS, INTS, ELEMS),
    st.tuples(st.just(b"LPOS"), KEYS, ELEMS).flatmap(
        lambda t: st.lists(st.tuples(st.sampled_from([b"RANK", b"COUNT", b"MAXLEN"]), INTS), max_size=2).map(
            lambda opts: (*t, *(x for o in opts for x in o))
        )
    ),
    st.tuples(st.just(b"LMOVE"), KEYS, KEYS, WHERE, WHERE),
    st.tuples(st.just(b"RPOPLPUSH"), KEYS, KEYS),
    st.tuples(st.just(b"LMPOP"), st.sampled_from([b"1", b"2"]), KEYS, KEYS, WHERE).map(
        lambda t: t if t[1] == b"2" else (t[0], t[1], t[2], t[4])
    ),
    st.tuples(st.just(b"LMPOP"), st.just(b"1"), KEYS, WHERE, st.just(b"COUNT"), INTS),
    st.tuples(st.sampled_from([b"BLPOP", b"BRPOP"]), KEYS, KEYS, TINY_TIMEOUT),
    st.tuples(st.just(b"BLMOVE"), KEYS, KEYS, WHERE, WHERE, TINY_TIMEOUT),
    st.tuples(st.just(b"BRPOPLPUSH"), KEYS, KEYS, TINY_TIMEOUT),
    st.tuples(st.just(b"BLMPOP"), TINY_TIMEOUT, st.just(b"1"), KEYS, WHERE, st.just(b"COUNT"), INTS),
    st.tuples(st.just(b"SET"), st.just(b"str"), ELEMS),
    st.tuples(st.just(b"LRANGE"), KEYS, st.just(b"0"), st.just(b"-1")),
)

# Arbitrary argument soup: mostly errors, which is the point — the first check that fails must agree.
LIST_TOKENS = st.sampled_from([b"k1", b"k2", b"str", b"a", b"0", b"1", b"-1", b"2", b"x", b"LEFT", b"RIGHT", b"BEFORE", b"RANK", b"COUNT", b"MAXLEN", b"0.01"])
LIST_SOUP = st.tuples(
    st.sampled_from([b"LPOP", b"RPOP", b"LRANGE", b"LINDEX", b"LSET", b"LINSERT", b"LREM", b"LTRIM", b"LPOS", b"LMOVE", b"LMPOP", b"LPUSHX", b"BLPOP", b"BLMPOP", b"BLMOVE"]),
    st.lists(LIST_TOKENS, max_size=6),
).map(lambda t: (t[0], *t[1]))


def _blocks_forever(cmd: tuple[bytes, ...]) -> bool:
    """Soup may build a blocking call with timeout 0 on empty keys; skip those rather than hang."""
    name = cmd[0]
    if name in (b"BLPOP", b"BLMOVE"):
        return len(cmd) < 3 or cmd[-1] != b"0.01"
    if name == b"BLMPOP":
        return len(cmd) < 2 or cmd[1] != b"0.01"
    return False


def _run(server, oracle, resp3: bool, commands: list[tuple[bytes, ...]]) -> None:
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in commands:
            if not _blocks_forever(cmd):
                d.check(*cmd)
        for key in (b"k1", b"k2", b"str"):
            d.check(b"TYPE", key)
            d.check(b"LRANGE", key, b"0", b"-1")
    finally:
        d.close()


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@_SETTINGS
@given(commands=st.lists(st.one_of(LIST_COMMAND, LIST_COMMAND, LIST_SOUP), min_size=1, max_size=25), resp3=st.booleans())
def test_lists_random_sequences_match_redis(server, oracle, commands, resp3):
    _run(server, oracle, resp3, commands)


BIT_TYPES = st.sampled_from([b"u1", b"u8", b"u7", b"u63", b"u64", b"i1", b"i8", b"i13", b"i64", b"i65", b"I8", b"u0"])
BIT_OFFSETS = st.one_of(st.integers(0, 40).map(lambda i: b"%d" % i), st.sampled_from([b"#0", b"#1", b"#3", b"-1", b"x", b"#x"]))
BIG_VALUES = st.one_of(
    st.integers(-300, 300).map(lambda i: b"%d" % i),
    st.sampled_from([b"9223372036854775807", b"-9223372036854775808", b"4611686018427387904", b"x"]),
)
BITFIELD_OP = st.one_of(
    st.tuples(st.just(b"GET"), BIT_TYPES, BIT_OFFSETS),
    st.tuples(st.sampled_from([b"SET", b"INCRBY"]), BIT_TYPES, BIT_OFFSETS, BIG_VALUES),
    st.tuples(st.just(b"OVERFLOW"), st.sampled_from([b"WRAP", b"SAT", b"FAIL", b"fail", b"bad"])),
)
BIT_RANGE_ARG = st.one_of(st.integers(-20, 20).map(lambda i: b"%d" % i), st.sampled_from([b"x", b"-100", b"100"]))
UNIT = st.sampled_from([b"BIT", b"byte", b"bits"])
BIT_COMMAND = st.one_of(
    st.tuples(st.just(b"SETBIT"), KEYS, st.one_of(st.integers(0, 40).map(lambda i: b"%d" % i), st.sampled_from([b"-1", b"x"])), st.sampled_from([b"0", b"1", b"2"])),
    st.tuples(st.just(b"GETBIT"), KEYS, st.one_of(st.integers(0, 40).map(lambda i: b"%d" % i), st.just(b"-1"))),
    st.tuples(st.just(b"SET"), KEYS, st.binary(max_size=6)),
    st.tuples(st.just(b"BITCOUNT"), KEYS).flatmap(lambda t: st.lists(BIT_RANGE_ARG, max_size=2).flatmap(
        lambda r: st.lists(UNIT, max_size=1 if len(r) == 2 else 0).map(lambda u: (*t, *r, *u)))),
    st.tuples(st.just(b"BITPOS"), KEYS, st.sampled_from([b"0", b"1", b"2"])).flatmap(lambda t: st.lists(BIT_RANGE_ARG, max_size=2).flatmap(
        lambda r: st.lists(UNIT, max_size=1 if len(r) == 2 else 0).map(lambda u: (*t, *r, *u)))),
    st.tuples(st.just(b"BITOP"), st.sampled_from([b"AND", b"or", b"XOR", b"NOT", b"NAND"]), KEYS, st.lists(KEYS, min_size=1, max_size=3)).map(
        lambda t: (t[0], t[1], t[2], *t[3])
    ),
    st.tuples(st.sampled_from([b"BITFIELD", b"BITFIELD_RO"]), KEYS, st.lists(BITFIELD_OP, max_size=4)).map(
        lambda t: (t[0], t[1], *(x for op in t[2] for x in op))
    ),
    st.tuples(st.just(b"LPUSH"), st.just(b"k2"), ELEMS),
    st.tuples(st.sampled_from([b"GET", b"STRLEN"]), KEYS),
)


@_SETTINGS
@given(commands=st.lists(BIT_COMMAND, min_size=1, max_size=25), resp3=st.booleans())
def test_bitmaps_random_sequences_match_redis(server, oracle, commands, resp3):
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in commands:
            d.check(*cmd)
        for key in (b"k1", b"k2", b"str"):
            d.check(b"TYPE", key)
            d.check(b"GET", key)
    finally:
        d.close()


FAMILY = ["lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro"]


@pytest.mark.parametrize("name", FAMILY)
def test_command_info_and_docs_match_redis(differ, name):
    differ.check("COMMAND", "INFO", name)
    differ.check("COMMAND", "DOCS", name)


@pytest.mark.parametrize(
    "argv",
    [
        ("blmpop", "0", "2", "a", "b", "LEFT"),
        ("lmpop", "2", "a", "b", "LEFT", "COUNT", "3"),
        ("bitop", "and", "d", "a", "b"),
        ("blmove", "a", "b", "left", "left", "0"),
        ("blpop", "a", "b", "0"),
        ("bitfield_ro", "k", "GET", "u8", "0"),
    ],
)
def test_command_getkeys_matches_redis(differ, argv):
    differ.check("COMMAND", "GETKEYS", *argv)
