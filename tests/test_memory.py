"""MEMORY USAGE/STATS/DOCTOR/MALLOC-STATS/PURGE/HELP, OBJECT FREQ/IDLETIME and the memory config
knobs, over TCP; exact texts compared with redis-server 7.0 where they are deterministic."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.diff import Differ
from tests.servers import ServerProcess


@pytest.fixture
def d(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    differ = Differ(server, oracle)
    yield differ
    for name, value in (("maxmemory-policy", "noeviction"), ("lfu-log-factor", "10"), ("lfu-decay-time", "1")):
        differ.both("CONFIG", "SET", name, value, compare=False)
    differ.both("FLUSHALL", compare=False)
    differ.close()


def test_object_freq_and_idletime_errors_match_redis(d: Differ) -> None:
    d.check("SET", "foo", "bar")
    d.check("OBJECT", "FREQ", "foo")  # no LFU policy: error
    d.check("OBJECT", "IDLETIME", "foo")
    d.check("OBJECT", "IDLETIME", "missing")
    d.check("OBJECT", "FREQ", "missing")
    d.check("OBJECT", "FREQ")
    d.check("OBJECT", "IDLETIME", "a", "b")
    d.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    d.check("OBJECT", "IDLETIME", "foo")  # LFU policy: error
    d.check("OBJECT", "FREQ", "missing")
    d.check("CONFIG", "SET", "maxmemory-policy", "volatile-lfu")
    d.check("OBJECT", "IDLETIME", "foo")


def test_object_freq_counts_accesses_like_redis(d: Differ) -> None:
    # lfu-log-factor 0 makes every access count and lfu-decay-time 0 stops decay: deterministic.
    d.check("CONFIG", "SET", "lfu-log-factor", "0")
    d.check("CONFIG", "SET", "lfu-decay-time", "0")
    d.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    d.check("SET", "s", "hello")
    d.check("OBJECT", "FREQ", "s")  # a new key starts at LFU_INIT_VAL
    for _ in range(3):
        d.check("GET", "s")
    d.check("OBJECT", "FREQ", "s")
    d.check("HSET", "h", "f", "v")
    d.check("HGET", "h", "f")
    d.check("LPUSH", "l", "a", "b")
    d.check("LRANGE", "l", "0", "-1")
    d.check("LPUSH", "l", "c")
    d.check("OBJECT", "FREQ", "h")
    d.check("OBJECT", "FREQ", "l")
    d.check("TYPE", "s")  # TYPE and OBJECT do not touch
    d.check("OBJECT", "FREQ", "s")


def test_object_help_and_memory_help_match_redis(d: Differ) -> None:
    d.check("OBJECT", "HELP")
    d.check("MEMORY", "HELP")
    d.check("MEMORY", "NOSUCH")


def test_memory_usage_errors_match_redis(d: Differ) -> None:
    d.check("SET", "foo", "bar")
    for args in (
        ("SAMPLES",), ("SAMPLES", "-1"), ("SAMPLES", "x"), ("bar",), ("SAMPLES", "5", "extra"),
        ("SAMPLES", "99999999999999999999"),
    ):
        d.check("MEMORY", "USAGE", "foo", *args)
    d.check("MEMORY", "USAGE", "missing")
    d.check("MEMORY", "USAGE", "missing", "SAMPLES", "0")
    d.check("MEMORY", "USAGE")
    d.check("MEMORY", "DOCTOR", "x")
    d.check("MEMORY", "STATS", "x")
    d.check("MEMORY", "PURGE", "x")
    d.check("MEMORY", "MALLOC-STATS", "x")


def test_memory_config_errors_match_redis(d: Differ) -> None:
    for name, value in (
        ("maxmemory-policy", "lru"), ("maxmemory", "-1"), ("maxmemory", "12 mb"), ("maxmemory-samples", "0"),
        ("maxmemory-eviction-tenacity", "101"), ("lfu-log-factor", "-1"), ("lfu-decay-time", "x"),
    ):
        d.check("CONFIG", "SET", name, value)
    d.check("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU")
    d.check("CONFIG", "GET", "maxmemory-policy")
    d.check("CONFIG", "SET", "maxmemory-samples", "7")
    d.check("CONFIG", "GET", "maxmemory-samples")
    d.check("CONFIG", "SET", "maxmemory-samples", "5")
    for name in ("maxmemory", "maxmemory-eviction-tenacity", "lfu-log-factor", "lfu-decay-time"):
        d.check("CONFIG", "GET", name)


def test_memory_doctor_on_an_empty_instance_matches_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    for resp3 in (False, True):
        differ = Differ(server, oracle, resp3=resp3)
        differ.check("MEMORY", "DOCTOR")
        differ.close()


def test_memory_malloc_stats_and_purge(r: redis.Redis) -> None:
    assert r.execute_command("MEMORY", "MALLOC-STATS") == b"Stats not supported for the current allocator"
    assert r.execute_command("MEMORY", "PURGE") == b"OK"


def test_memory_usage_sizes_every_type(r: redis.Redis) -> None:
    r.set("s", "x")
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", "a", "b")
    r.sadd("set", "a")
    r.zadd("z", {"a": 1.0})
    r.xadd("st", {"f": "v"})
    for key in ("s", "h", "l", "set", "z", "st"):
        usage = r.memory_usage(key)
        assert isinstance(usage, int) and usage > 0, key
    assert r.memory_usage("missing") is None
    r.set("big", "x" * 100_000)
    assert r.memory_usage("big") > 100_000 > r.memory_usage("s")


def test_memory_usage_samples_extrapolates_collections(r: redis.Redis) -> None:
    r.rpush("l", *[b"a" * 10] * 50, *[b"b" * 1000] * 50)
    sampled = r.memory_usage("l", samples=5)  # the first 5 elements are the small ones
    exact = r.memory_usage("l", samples=0)
    assert exact > 50 * 1000
    assert sampled < exact
    assert r.memory_usage("l") == sampled  # SAMPLES defaults to 5


def test_memory_usage_of_an_expired_key(r: redis.Redis) -> None:
    r.set("k", "v", px=1)
    end = time.monotonic() + 5
    while r.pttl("k") > 0 and time.monotonic() < end:
        time.sleep(0.01)
    r.delete("k")
    assert r.memory_usage("k") is None


def test_memory_stats_fields_match_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    ours, theirs = server.client(), oracle.client()
    for c in (ours, theirs):
        c.flushall()
        c.set("k", "v")
    a = ours.memory_stats()  # redis-py folds the reply into a dict, keeping the order
    b = theirs.memory_stats()
    assert list(a) == list(b)  # the same field names in the same order
    assert a["keys.count"] == 1
    assert a["total.allocated"] >= a["startup.allocated"] > 0
    assert list(a["db.0"]) == list(b["db.0"])
    r3 = server.client(protocol=3)
    stats = r3.memory_stats()
    assert list(stats) == list(a) and stats["keys.count"] == 1
    for c in (ours, theirs, r3):
        c.flushall()
        c.close()


def test_info_memory_fields(r: redis.Redis) -> None:
    before = r.info("memory")
    r.mset({f"k{i}": "v" * 100 for i in range(1000)})
    after = r.info("memory")
    for field in ("used_memory", "used_memory_rss", "used_memory_peak", "used_memory_dataset", "used_memory_startup",
                  "maxmemory", "maxmemory_policy", "mem_fragmentation_ratio", "mem_allocator"):
        assert field in after, field
    assert after["maxmemory_policy"] == "noeviction"
    # 1000 keys of 100 bytes: roughly 1000 * (key + value + table slots), within a generous range.
    grown = after["used_memory"] - before["used_memory"]
    assert 100_000 < grown < 1_000_000
    assert "evicted_keys" in r.info("stats")


def test_object_idletime_grows_and_resets_on_access(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.object("idletime", "k") == 0
    end = time.monotonic() + 5
    while r.object("idletime", "k") < 1:
        assert time.monotonic() < end, "idle time never grew"
        time.sleep(0.05)
    assert r.type("k") == b"string"  # TYPE does not touch (LOOKUP_NOTOUCH)
    assert r.object("idletime", "k") >= 1
    r.get("k")
    assert r.object("idletime", "k") == 0


def test_client_no_touch_leaves_access_alone(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.config_set("lfu-log-factor", 0)
    r.config_set("lfu-decay-time", 0)  # no decay when a minute boundary passes mid-test
    try:
        r.set("k", "v")
        assert r.object("freq", "k") == 5
        assert r.execute_command("CLIENT", "NO-TOUCH", "on") == b"OK"
        r.get("k")
        r.get("k")
        assert r.object("freq", "k") == 5
        r.touch("k")  # TOUCH still touches under NO-TOUCH (Redis 7.2)
        assert r.object("freq", "k") == 6
        assert r.execute_command("CLIENT", "NO-TOUCH", "off") == b"OK"
        r.get("k")
        assert r.object("freq", "k") == 7
    finally:
        r.execute_command("CLIENT", "NO-TOUCH", "off")
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("lfu-log-factor", 10)
        r.config_set("lfu-decay-time", 1)
