"""DEBUG OBJECT: the line Redis prints — encoding, refcount, serializedlength (RDB length with LZF),
quicklist fields, LRU clock — compared with redis-server 7.0.15 for every type and encoding."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import REDIS_SERVER, Raw, ServerProcess, redis_oracle, resp

# Address and access clock differ between two servers by nature; everything else must be equal.
_VARYING = re.compile(rb"Value at:0x[0-9a-f]+ |lru:\d+ lru_seconds_idle:\d+")


@pytest.fixture(scope="module")
def debug_oracle() -> Iterator[ServerProcess]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    with redis_oracle("--enable-debug-command", "yes") as sp:
        yield sp


@pytest.fixture
def conns(server: ServerProcess, debug_oracle: ServerProcess) -> Iterator[tuple[Raw, Raw]]:
    ours, theirs = Raw(server.port), Raw(debug_oracle.port)
    for conn in (ours, theirs):
        conn.request(resp("FLUSHALL"))
    yield ours, theirs
    ours.close()
    theirs.close()


def both(conns: tuple[Raw, Raw], *args: bytes | str) -> tuple[bytes, bytes]:
    return conns[0].request(resp(*args)), conns[1].request(resp(*args))


def assert_same_debug_object(conns: tuple[Raw, Raw], key: bytes | str) -> bytes:
    ours, theirs = both(conns, "DEBUG", "OBJECT", key)
    assert _VARYING.sub(b"", ours) == _VARYING.sub(b"", theirs), f"{key!r}: respdb {ours!r} != redis {theirs!r}"
    return ours


SETUP: list[tuple[bytes | str, ...]] = [
    ("SET", "shared", "1"),
    ("SET", "int", "12345"),
    ("SET", "neg", "-5"),
    ("SET", "int64", "12345678901"),
    ("SET", "embstr", "abcdefghijklmnopqrst"),
    ("SET", "raw_compressible", "x" * 100),
    ("SET", "raw_incompressible", bytes(range(100))),
    ("SET", "json", b'{"name":"alice","tags":["a","b","c"],"name2":"alice","n":12345}'),
    ("SET", "text", b"lorem ipsum dolor sit amet " * 400),
    ("APPEND", "appended", "123"),
    ("RPUSH", "list", "a", "b", "c"),
    ("RPUSH", "list_multi_node", *[b"item:%d" % i for i in range(3000)]),
    ("RPUSH", "list_ints", *[b"%d" % (i * 37 - 5000) for i in range(500)]),
    ("RPUSH", "list_node_limit", *[b"e%024d" % i for i in range(700)]),  # 302 per node: size + 25 + 8 <= 8 KB
    ("RPUSH", "list_big_elements", *[b"v" * 5000, b"w" * 3000, b"%d" % 2**40]),
    ("HSET", "hash", "f", "v"),
    ("HSET", "hash_listpack", *[x for i in range(20) for x in (b"f%d" % i, b"v%d" % i)]),
    ("HSET", "hash_table", *[x for i in range(600) for x in (b"field:%d" % i, b"value-%d" % (i * i))]),
    ("SADD", "intset", "1", "2"),
    ("SADD", "intset_wide", "1", "70000", "-3"),
    ("SADD", "intset_many", *[b"%d" % (i * 1000) for i in range(100)]),
    ("SADD", "set_table", *[b"member-%d" % i for i in range(100)]),
    ("ZADD", "zset", "1", "a"),
    ("ZADD", "zset_fractions", *[x for i in range(50) for x in (b"%r" % (i / 3), b"m%d" % i)]),
    ("ZADD", "zset_skiplist", *[x for i in range(300) for x in (b"%d" % i, b"member:%d" % i)]),
    ("XADD", "stream", "1-1", "f", "v"),
    ("XADD", "stream_groups", "5-1", "name", "bob", "age", "33"),
    ("XADD", "stream_groups", "5-2", "name", "al", "age", "34"),
    ("XADD", "stream_groups", "6-0", "other", "1"),
    ("XGROUP", "CREATE", "stream_groups", "g1", "0"),
    ("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "2", "STREAMS", "stream_groups", ">"),
]


def test_debug_object_matches_redis_for_every_type_and_encoding(conns):
    for args in SETUP:
        both(conns, *args)
    keys = dict.fromkeys(a[1] for a in SETUP)
    for key in keys:
        assert_same_debug_object(conns, key)


def test_debug_object_long_stream_matches_redis(conns):
    for i in range(250):  # more than stream-node-max-entries: three nodes
        both(conns, "XADD", "s", f"{i + 1}-0", "sensor", "temp", "value", str(20 + i % 7))
    both(conns, "XADD", "s", "1000-0", "different", "fields")
    assert_same_debug_object(conns, "s")


def test_debug_object_quicklist_fields(conns):
    both(conns, "RPUSH", "l", *[b"element-%d" % i for i in range(2000)])
    line = assert_same_debug_object(conns, "l")
    fields = dict(re.findall(rb"(ql_\w+):(\S+)", line))
    assert fields[b"ql_listpack_max"] == b"-2" and fields[b"ql_compressed"] == b"0"
    assert int(fields[b"ql_nodes"]) > 1
    assert float(fields[b"ql_avg_node"]) == pytest.approx(2000 / int(fields[b"ql_nodes"]), abs=0.01)


def test_debug_object_errors_match_redis(conns):
    both(conns, "SET", "a", "1")
    for args in [("DEBUG", "OBJECT"), ("DEBUG", "OBJECT", "a", "b"), ("DEBUG", "OBJECT", "nokey"), ("DEBUG", "Object"), ("DEBUG", "nosuch")]:
        ours, theirs = both(conns, *args)
        assert ours == theirs, args


def test_debug_object_value_at_names_the_object(conns):
    ours = conns[0]
    ours.request(resp("SET", "k", "some value"))
    first = re.search(rb"Value at:(0x[0-9a-f]+) ", ours.request(resp("DEBUG", "OBJECT", "k")))
    again = re.search(rb"Value at:(0x[0-9a-f]+) ", ours.request(resp("DEBUG", "OBJECT", "k")))
    assert first and again and first.group(1) == again.group(1)
    ours.request(resp("SET", "k", "another value"))
    replaced = re.search(rb"Value at:(0x[0-9a-f]+) ", ours.request(resp("DEBUG", "OBJECT", "k")))
    assert replaced and replaced.group(1) != first.group(1)


def test_debug_object_lru_follows_object_idletime(conns):
    ours = conns[0]
    ours.request(resp("SET", "k", "v"))
    payload = ours.request(resp("DUMP", "k"))
    body = payload.split(b"\r\n", 1)[1][:-2]
    assert ours.request(resp("RESTORE", "old", "0", body, "IDLETIME", "1000")) == b"+OK\r\n"
    before = int(time.time())
    line = ours.request(resp("DEBUG", "OBJECT", "old"))
    lru, idle = (int(x) for x in re.search(rb"lru:(\d+) lru_seconds_idle:(\d+)", line).groups())  # type: ignore[union-attr]
    assert 999 <= idle <= 1002
    assert abs(lru - ((before - 1000) & (2**24 - 1))) <= 2
    # DEBUG OBJECT does not count as an access, like OBJECT IDLETIME.
    assert int(ours.request(resp("OBJECT", "IDLETIME", "old"))[1:-2]) >= 999


def test_debug_object_refused_without_enable_debug_command(oracle):
    # The oracle fixture runs redis-server with DEBUG disabled (its default), like respdb's default.
    conn = Raw(oracle.port)
    reply = conn.request(resp("DEBUG", "OBJECT", "k"))
    conn.close()
    assert reply.startswith(b"-ERR DEBUG command not allowed.")


_alphabets = st.sampled_from([b"ab", b"abc ", b"0123456789", bytes(range(256)), b"lorem ipsum dolor sit amet,"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    alphabet=_alphabets,
    sizes=st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=12),
    data=st.data(),
)
def test_debug_object_serializedlength_matches_redis_on_random_values(conns, alphabet, sizes, data):
    """LZF sizes, listpack and hashtable layouts on random content, string, list and hash alike."""
    values = [bytes(data.draw(st.lists(st.sampled_from(alphabet), min_size=n, max_size=n))) for n in sizes]
    both(conns, "DEL", "s", "l", "h")
    both(conns, "SET", "s", b"".join(values))
    both(conns, "RPUSH", "l", *values)
    both(conns, "HSET", "h", *[x for i, v in enumerate(values) for x in (b"f%d" % i, v)])
    for key in ("s", "l", "h"):
        assert_same_debug_object(conns, key)


def test_debug_object_through_redis_py(r):
    r.set("k", "hello")
    r.rpush("l", "a", "b")
    info = r.debug_object("k")
    assert info["encoding"] == "embstr" and info["serializedlength"] == 6 and info["refcount"] == 1
    assert info["type"] == "Value" and isinstance(info["lru_seconds_idle"], int)
    assert r.debug_object("l")["ql_nodes"] == "1"


def test_debug_object_stream_with_deleted_entries_is_estimated_close(conns):
    # XDEL keeps a deleted entry's bytes in Redis's listpack; respdb drops them, so the node is sized
    # from its live entries' compression ratio: near Redis's number, not equal to it.
    for i in range(200):
        both(conns, "XADD", "s", f"{1000 + i}-0", "sensor", f"probe-{i % 5}", "reading", str(i * 7 % 300))
    both(conns, "XDEL", "s", *[f"{1000 + i}-0" for i in range(0, 200, 10)])
    ours, theirs = both(conns, "DEBUG", "OBJECT", "s")
    size = int(re.search(rb"serializedlength:(\d+)", ours).group(1))  # type: ignore[union-attr]
    expected = int(re.search(rb"serializedlength:(\d+)", theirs).group(1))  # type: ignore[union-attr]
    assert abs(size - expected) <= expected * 0.25


def test_debug_object_no_shared_integers_under_lru_maxmemory(conns):
    both(conns, "CONFIG", "SET", "maxmemory", "100mb", "maxmemory-policy", "allkeys-lru")
    try:
        both(conns, "SET", "n", "5")
        assert b"refcount:1 " in assert_same_debug_object(conns, "n")
    finally:
        both(conns, "CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")
    both(conns, "SET", "n", "5")
    assert b"refcount:2147483647 " in assert_same_debug_object(conns, "n")


def test_debug_object_large_strings_sampled(conns):
    # Over 256 KiB the LZF size comes from four spread 64 KiB slices: exact for incompressible data
    # (stored raw), close for compressible data.
    import os

    both(conns, "SET", "random", os.urandom(1 << 20))
    assert_same_debug_object(conns, "random")
    both(conns, "SET", "json", b"".join(b'{"id":%d,"name":"user%d","tags":["a","b"]},' % (i, i * 7) for i in range(30000)))
    ours, theirs = (int(re.search(rb"serializedlength:(\d+)", x).group(1)) for x in both(conns, "DEBUG", "OBJECT", "json"))  # type: ignore[union-attr]
    assert abs(ours - theirs) <= theirs * 0.1


def test_debug_object_big_collections_sampled_close(conns):
    # 20000 fields pass the work budget: the hashtable is sized from a spread sample of its fields.
    for start in range(0, 20000, 2000):
        both(conns, "HSET", "h", *[x for i in range(start, start + 2000) for x in (b"field:%d" % i, b"value-%d-text" % (i * 3))])
    ours, theirs = (int(re.search(rb"serializedlength:(\d+)", x).group(1)) for x in both(conns, "DEBUG", "OBJECT", "h"))  # type: ignore[union-attr]
    assert abs(ours - theirs) <= theirs * 0.01
