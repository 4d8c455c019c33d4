"""maxmemory and eviction over TCP: each policy evicts the right keys, OOM under noeviction, the
`evicted` event, evicted_keys, WATCH invalidation, and the process staying near its limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp, respdb_server

OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = b"x" * 10_000  # uniform 10 KB values: the per-key estimate is then exact


@pytest.fixture(scope="module")
def evsrv() -> Iterator[ServerProcess]:
    with respdb_server() as sp:
        yield sp


@pytest.fixture
def er(evsrv: ServerProcess) -> Iterator[redis.Redis]:
    client = evsrv.client()
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("lfu-log-factor", 10)
    client.config_set("lfu-decay-time", 1)
    client.config_set("notify-keyspace-events", "")
    client.flushall()
    client.config_resetstat()
    yield client
    client.config_set("maxmemory", 0)
    client.flushall()
    client.close()


def used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def wait_under_limit(r: redis.Redis, deadline_s: float = 10.0) -> None:
    """Evictions beyond the per-command time budget continue in the cron: poll until done."""
    end = time.monotonic() + deadline_s
    limit = int(r.config_get("maxmemory")["maxmemory"])
    while used(r) > limit:
        if time.monotonic() > end:
            raise AssertionError(f"used_memory {used(r)} stays over maxmemory {limit}")
        time.sleep(0.02)


def squeeze(r: redis.Redis, keys_to_free: int) -> None:
    """Set maxmemory about `keys_to_free` values below the current usage and let eviction run (the
    sizes are re-sampled meanwhile, so a count may come out one off)."""
    r.config_set("maxmemory", used(r) - keys_to_free * len(VALUE))
    wait_under_limit(r)


def fill(r: redis.Redis, prefix: str, n: int, ex: int | None = None) -> list[str]:
    pipe = r.pipeline(transaction=False)
    names = [f"{prefix}:{i}" for i in range(n)]
    for name in names:
        pipe.set(name, VALUE, ex=ex)
    pipe.execute()
    return names


def alive(r: redis.Redis, names: list[str]) -> int:
    return int(r.exists(*names))


def test_maxmemory_noeviction_refuses_writes_but_serves_reads(er: redis.Redis) -> None:
    fill(er, "k", 50)
    er.config_set("maxmemory", used(er) - 10 * len(VALUE))
    # redis-py maps the OOM prefix to OutOfMemoryError and keeps the rest of the text.
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="^" + OOM[4:].replace(".", r"\.") + "$"):
        er.set("new", "v")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        er.rpush("list", "a")
    assert er.get("k:0") == VALUE  # reads still work
    assert er.dbsize() == 50  # nothing evicted under noeviction
    assert er.delete(*[f"k:{i}" for i in range(20)]) == 20  # DEL is not denyoom, and frees room
    assert er.set("new", "v") is True
    assert int(er.info("stats")["evicted_keys"]) == 0


def test_maxmemory_oom_replies_match_redis(evsrv: ServerProcess, oracle: ServerProcess) -> None:
    # maxmemory 1: every server is over it; byte-for-byte the same refusals as redis-server.
    d = Differ(evsrv, oracle)
    try:
        d.check("SET", "a", "1")
        d.check("CONFIG", "SET", "maxmemory-policy", "noeviction")
        d.check("CONFIG", "SET", "maxmemory", "1")
        d.check("SET", "b", "1")
        d.check("GET", "a")
        d.check("INCR", "a")
        d.check("MULTI")
        d.check("GET", "a")
        d.check("SET", "c", "1")
        d.check("EXEC")
        d.check("MULTI")
        d.check("GET", "a")
        d.check("DISCARD")
        d.check("DEL", "a")
        d.check("CONFIG", "SET", "maxmemory", "0")
        d.check("SET", "b", "1")
    finally:
        d.both("CONFIG", "SET", "maxmemory", "0", compare=False)
        d.both("FLUSHALL", compare=False)
        d.close()


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_maxmemory_volatile_policies_evict_only_keys_with_ttl(er: redis.Redis, policy: str) -> None:
    er.config_set("maxmemory-policy", policy)
    persistent = fill(er, "p", 40)
    volatile = fill(er, "v", 40, ex=1000)
    squeeze(er, 20)
    assert alive(er, persistent) == 40
    assert 0 < alive(er, volatile) <= 21
    evicted = int(er.info("stats")["evicted_keys"])
    assert evicted >= 19
    # Once no key with a TTL is left, nothing can be evicted: writes are refused.
    er.config_set("maxmemory", used(er) - 50 * len(VALUE))
    wait_until = time.monotonic() + 10
    while alive(er, volatile) and time.monotonic() < wait_until:
        time.sleep(0.02)
    assert alive(er, volatile) == 0
    assert alive(er, persistent) == 40
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        er.set("more", VALUE)


def test_maxmemory_volatile_ttl_evicts_nearest_expiry_first(er: redis.Redis) -> None:
    er.config_set("maxmemory-policy", "volatile-ttl")
    near = fill(er, "near", 50, ex=1000)
    far = fill(er, "far", 50, ex=100_000)
    squeeze(er, 25)
    lost_near, lost_far = 50 - alive(er, near), 50 - alive(er, far)
    assert lost_near >= 23
    assert lost_far <= 2  # the pool keeps the best candidates seen: far keys go only by bad luck


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru", "allkeys-lfu"])
def test_maxmemory_allkeys_policies_evict_keys_without_ttl(er: redis.Redis, policy: str) -> None:
    er.config_set("maxmemory-policy", policy)
    names = fill(er, "k", 60)
    squeeze(er, 20)
    assert 0 < alive(er, names) <= 41
    assert int(er.info("stats")["evicted_keys"]) >= 19
    assert er.set("fits", "v") is True  # eviction made room: writes go on


def test_maxmemory_allkeys_lru_keeps_recently_read_keys(er: redis.Redis) -> None:
    er.config_set("maxmemory-policy", "allkeys-lru")
    for trial in range(3):
        er.config_set("maxmemory", 0)
        er.flushall()
        cold = fill(er, f"cold{trial}", 50)
        hot = fill(er, f"hot{trial}", 50)
        # The LRU clock ticks with the cron: wait (polling) until the keys read as idle.
        end = time.monotonic() + 5
        while er.object("idletime", hot[0]) < 1 and time.monotonic() < end:
            time.sleep(0.05)
        for name in hot:
            er.get(name)
        squeeze(er, 30)
        assert alive(er, hot) >= 48, f"trial {trial}: recently read keys were evicted"
        assert alive(er, cold) <= 25  # ~30 values' worth: a key costs a little more than its value


def test_maxmemory_allkeys_lfu_keeps_frequently_read_keys(er: redis.Redis) -> None:
    er.config_set("maxmemory-policy", "allkeys-lfu")
    er.config_set("lfu-log-factor", 0)  # every access counts: a deterministic counter
    rare = fill(er, "rare", 50)
    often = fill(er, "often", 50)
    pipe = er.pipeline(transaction=False)
    for _ in range(5):
        for name in often:
            pipe.get(name)
    pipe.execute()
    squeeze(er, 30)
    assert alive(er, often) >= 48
    assert alive(er, rare) <= 25


def test_maxmemory_evicted_event_reaches_subscriber(er: redis.Redis, evsrv: ServerProcess) -> None:
    er.config_set("notify-keyspace-events", "Ee")
    er.config_set("maxmemory-policy", "allkeys-random")
    fill(er, "k", 20)
    sub = evsrv.client().pubsub()
    sub.subscribe("__keyevent@0__:evicted")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    squeeze(er, 5)
    message = sub.get_message(timeout=5)
    assert message is not None and message["channel"] == b"__keyevent@0__:evicted"
    assert message["data"].startswith(b"k:")
    sub.close()


def test_maxmemory_eviction_counts_and_resetstat(er: redis.Redis) -> None:
    er.config_set("maxmemory-policy", "allkeys-random")
    fill(er, "k", 30)
    squeeze(er, 10)
    evicted = int(er.info("stats")["evicted_keys"])
    assert evicted >= 9 and er.dbsize() == 30 - evicted
    info = er.info("memory")
    assert info["maxmemory_policy"] == "allkeys-random"
    assert info["used_memory"] <= info["maxmemory"] * 1.02  # INFO re-samples sizes
    er.config_resetstat()
    assert int(er.info("stats")["evicted_keys"]) == 0


def test_maxmemory_eviction_invalidates_watch(er: redis.Redis, evsrv: ServerProcess) -> None:
    er.config_set("maxmemory-policy", "allkeys-random")
    er.set("watched", VALUE)
    other = evsrv.client()
    pipe = other.pipeline(transaction=True)
    pipe.watch("watched")
    er.config_set("maxmemory", 1)  # evicts every key
    assert er.dbsize() == 0
    er.config_set("maxmemory", 0)
    pipe.multi()
    pipe.set("x", "1")
    with pytest.raises(redis.exceptions.WatchError):
        pipe.execute()
    other.close()


def _rss(sp: ServerProcess) -> int:
    with open(f"/proc/{sp.proc.pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_maxmemory_process_stays_near_limit_while_filling() -> None:
    with respdb_server("--maxmemory-policy", "allkeys-lru") as sp:
        r = sp.client()
        limit = used(r) + 24 * 1024 * 1024
        r.config_set("maxmemory", limit)
        pipe = r.pipeline(transaction=False)
        for i in range(200_000):  # ~50 MB of keys and values: twice what fits
            pipe.set(b"key:%09d" % i, b"%0100d" % i)
            if i % 2000 == 1999:
                pipe.execute()
        pipe.execute()
        info = r.info()
        assert info["evicted_keys"] > 50_000
        # INFO re-samples sizes, so the estimate may move a little past where eviction stopped.
        assert info["used_memory"] <= limit * 1.02
        rss = _rss(sp)
        # RSS keeps what pymalloc and the resized hash tables hold after the churn: a generous bound.
        assert rss < limit * 1.5, f"rss {rss} vs maxmemory {limit}"
        assert r.set("still", "writable") is True


def test_maxmemory_eviction_invalidates_client_side_caches(er: redis.Redis, evsrv: ServerProcess) -> None:
    er.config_set("maxmemory-policy", "allkeys-random")
    er.set("cached", "v")
    raw = Raw(evsrv.port)
    try:
        raw.request(resp("HELLO", "3"))
        assert raw.request(resp("CLIENT", "TRACKING", "on")) == b"+OK\r\n"
        assert raw.request(resp("GET", "cached")) == b"$1\r\nv\r\n"
        er.config_set("maxmemory", 1)  # evicts every key
        assert raw.read_until_count(1) == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n"
    finally:
        raw.close()


def test_maxmemory_evictions_reach_the_aof(tmp_path: Path) -> None:
    # An evicted key is logged as a DEL: a restart replaying the AOF must not bring it back.
    with respdb_server("--appendonly", "yes", "--maxmemory-policy", "allkeys-random", workdir=tmp_path) as sp:
        r = sp.client()
        fill(r, "k", 30)
        squeeze(r, 10)
        survivors = sorted(r.keys("*"))
        assert 0 < len(survivors) <= 21
    with respdb_server("--appendonly", "yes", workdir=tmp_path) as sp:
        assert sorted(sp.client().keys("*")) == survivors
