"""Popular Python libraries built on Redis, run unchanged against respdb: a job queue (rq), a cache
backend (cachelib, the store behind Flask-Caching) and a rate limiter (limits)."""

from __future__ import annotations

import pytest
import redis


def test_rq_job_queue_runs_jobs(server, r):
    rq = pytest.importorskip("rq")
    conn = redis.Redis(port=server.port)
    queue = rq.Queue("respdb-test", connection=conn)
    job = queue.enqueue("examples.integrations.jobs.add", 2, 3)
    assert job.get_status() == "queued"
    worker = rq.SimpleWorker([queue], connection=conn)
    assert worker.work(burst=True) is True
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == 5


def test_cachelib_redis_cache(server, r):
    cachelib = pytest.importorskip("cachelib")
    cache = cachelib.RedisCache(host="127.0.0.1", port=server.port, key_prefix="app:")
    assert cache.set("user:1", {"name": "Ada", "tags": ["x"]}, timeout=60)
    assert cache.get("user:1") == {"name": "Ada", "tags": ["x"]}
    assert cache.add("user:1", "other") is False
    assert cache.inc("hits") == 1 and cache.inc("hits", 5) == 6
    assert cache.get_many("user:1", "missing") == [{"name": "Ada", "tags": ["x"]}, None]
    assert r.ttl("app:user:1") > 0
    assert cache.delete("user:1") is True and cache.get("user:1") is None


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
def test_limits_rate_limiter(server, r, strategy):
    limits = pytest.importorskip("limits")
    from limits import storage, strategies

    store = storage.storage_from_string(f"redis://127.0.0.1:{server.port}")
    limiter = {
        "fixed-window": strategies.FixedWindowRateLimiter,
        "moving-window": strategies.MovingWindowRateLimiter,  # Lua scripts on sorted sets / lists
        "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
    }[strategy](store)
    rule = limits.parse("5/minute")
    results = [limiter.hit(rule, "client-42") for _ in range(7)]
    assert results == [True] * 5 + [False] * 2
    assert limiter.test(rule, "someone-else") is True
