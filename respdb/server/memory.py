"""Memory accounting and eviction: maxmemory, the eight maxmemory policies, Redis's performEvictions.

Accounting. The process RSS never shrinks after frees (pymalloc keeps its arenas), so it cannot drive
eviction. `used_memory()` is instead an estimate of what the data holds, in the spirit of Redis's
zmalloc counter: the RSS measured when the server was built (interpreter, modules, empty keyspace)
plus, per database, the hash tables' own size (`sys.getsizeof` of the dicts is O(1)) plus the key
count times the average size of a key and its value. That average is re-estimated every cron tick by
sampling keys with the same sampled deep size MEMORY USAGE reports (big values are tracked one by one
so a single growing list is not averaged away). The key count is exact at every command, so a fast fill
is accounted for between ticks.

Eviction. Before a `denyoom` command (and before any command on the slow path, as Redis does for all)
while used memory is over the limit, keys are evicted by the policy: approximated LRU/LFU/TTL through
Redis's 16-entry pool fed by `maxmemory-samples` random keys per database, or random keys. Random keys
come from a per-database snapshot of the key list (a dict has no random access), rebuilt when it has
gone stale. Each eviction emits the `evicted` keyspace event, invalidates WATCH and client-side caches,
is logged to the AOF as a DEL and counts in INFO's evicted_keys.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import deque
from sys import getsizeof
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.config import LLONG_MAX, PARAMS, ConfigError, Param, param, parse_memory
from respdb.server.hooks import on_server_init
from respdb.server.info import rss_bytes
from respdb.storage.keyspace import LFU_INIT_VAL, Database, LFUCounters, now_ms
from respdb.storage.quicklist import QuickList

if TYPE_CHECKING:
    from respdb.commands.registry import CommandSpec
    from respdb.server.app import Server
    from respdb.server.client import Client

POLICIES = (
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
)


class _UnsignedMemory(Param):
    """maxmemory is unsigned in Redis: '-1' is not a memory value (rather than out of range)."""

    def parse(self, text: str) -> Any:
        if text.strip().startswith("-"):
            raise ConfigError("argument must be a memory value")
        return parse_memory(text)


PARAMS["maxmemory"] = _UnsignedMemory("maxmemory", "memory", 0, hi=LLONG_MAX)
param("maxmemory-policy", "enum", "noeviction", choices=POLICIES)
param("maxmemory-samples", "int", 5, lo=1)
param("maxmemory-eviction-tenacity", "int", 10, lo=0, hi=100)
param("lfu-log-factor", "int", 10)
param("lfu-decay-time", "int", 1)

EVPOOL_SIZE = 16
_SCALARS = (bytes, str, int, float, bool, type(None))
_SEQUENCES = (list, tuple, set, frozenset, deque)
BIG_VALUE = 64 * 1024  # values above this are re-measured each tick instead of averaged
_MAX_BIG = 1024
_SIZE_SAMPLES_PER_TICK = 48
_EXPIRE_ENTRY = 32 + 64  # the expiry int plus its heap tuple


def _block(n: int) -> int:
    # pymalloc hands out 16-byte aligned blocks (malloc above 512 bytes rounds the same way).
    return (n + 15) & ~15


def deep_size(obj: Any, samples: int, depth: int = 0) -> int:
    """Bytes held by `obj` and what it references, sampling `samples` elements of each container and
    extrapolating (Redis's objectComputeSize); samples <= 0 measures everything."""
    size = _block(getsizeof(obj))
    cls = obj.__class__
    if cls in _SCALARS or depth > 6:
        return size
    limit = samples if samples > 0 else None
    if cls is dict or isinstance(obj, dict):
        n = len(obj)
        if n:
            taken = 0
            total = 0
            for k, v in itertools.islice(obj.items(), limit):
                total += deep_size(k, samples, depth + 1) + deep_size(v, samples, depth + 1)
                taken += 1
            size += total * n // taken
        return size
    if cls is QuickList or isinstance(obj, _SEQUENCES):
        if cls is QuickList:
            size += obj.container_bytes()  # the chunk layout measured whole (O(chunks)), elements sampled
        n = len(obj)
        if n:
            taken = 0
            total = 0
            for v in itertools.islice(obj, limit):
                total += deep_size(v, samples, depth + 1)
                taken += 1
            size += total * n // taken
        return size
    slots = getattr(cls, "__slots__", None)
    if slots is not None:
        for name in (slots,) if isinstance(slots, str) else slots:
            v = getattr(obj, name, None)
            if v is not None:
                size += deep_size(v, samples, depth + 1)
    if hasattr(obj, "__dict__"):
        size += deep_size(obj.__dict__, samples, depth + 1)
    return size


def key_usage(db: Database, key: bytes, value: Any, samples: int) -> int:
    """MEMORY USAGE: key and value, plus the key's share of the main, access and expires tables."""
    n = len(db.data) or 1
    size = deep_size(key, 0) + deep_size(value, samples)
    size += (getsizeof(db.data) + getsizeof(db.access)) // n
    if db.expires and key in db.expires:
        size += getsizeof(db.expires) // max(1, len(db.expires)) + _EXPIRE_ENTRY
    return size


class Sampler:
    """Random keys of one dict (a database's data or expires) without O(n) work per draw: a snapshot
    of its key list, rebuilt when the dict was replaced, grew past twice the snapshot, or draws keep
    hitting keys deleted since (amortised O(1) per draw)."""

    __slots__ = ("keys", "misses", "source")

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self.source: dict[bytes, Any] | None = None
        self.misses = 0

    def draw(self, source: dict[bytes, Any], count: int) -> list[bytes]:
        if not source:
            return []
        keys = self.keys
        if self.source is not source or len(keys) * 2 < len(source) or self.misses * 2 > len(keys):
            keys = self.keys = list(source)
            self.source = source
            self.misses = 0
        out: list[bytes] = []
        randrange = random.randrange
        for _ in range(count * 4):
            key = keys[randrange(len(keys))]
            if key in source:
                out.append(key)
                if len(out) == count:
                    break
            else:
                self.misses += 1
        return out


class Memory:
    """Per-server accounting and eviction state (`server.memory`)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.keyspace = server.keyspace
        self.config = server.config
        self.baseline = rss_bytes()  # the empty server: interpreter, modules, buffers
        self.avg_entry = 0.0  # estimated bytes per key (key + value), big values excluded
        self.big: dict[tuple[int, bytes], int] = {}  # (db, key) → size of values over BIG_VALUE
        self.samplers: dict[tuple[int, bool], Sampler] = {}
        self.pool: list[tuple[float, int, bytes]] = []  # (score, db id, key): best candidate last
        self.evicted_keys = 0
        self.peak = 0
        self.peak_time = 0.0
        # The per-command check (`maybe_over`): used memory at the last full estimate, the key
        # counts it saw and the bytes a key costs, so a check is a few attribute reads.
        self.estimate = 0
        self.counted: list[int] = [0] * len(self.keyspace.dbs)
        self.per_key = 0.0
        self.limit = 0

    # --- accounting ------------------------------------------------------------------------------
    def dataset(self) -> int:
        """Estimated bytes held by the keyspace: tables, keys and values."""
        total = 0
        keys = 0
        for db in self.keyspace.dbs:
            data = db.data
            if data:
                keys += len(data)
                total += getsizeof(data) + getsizeof(db.access)
                if db.expires:
                    total += getsizeof(db.expires) + len(db.expires) * _EXPIRE_ENTRY
        big = self.big
        return total + int((keys - len(big)) * self.avg_entry) + sum(big.values())

    def tables(self) -> int:
        """The hash tables' share (main, access and expires dicts): Redis's overhead.hashtable.*."""
        total = 0
        for db in self.keyspace.dbs:
            if db.data:
                total += getsizeof(db.data) + getsizeof(db.access)
                if db.expires:
                    total += getsizeof(db.expires)
        return total

    def used_memory(self) -> int:
        used = self.baseline + self.dataset()
        if used > self.peak:
            self.peak = used
            self.peak_time = time.time()
        self.estimate = used
        self.counted = [len(db.data) for db in self.keyspace.dbs]
        keys = sum(self.counted)
        self.per_key = max(self.avg_entry, (used - self.baseline) / keys if keys else 0.0)
        return used

    def maybe_over(self, db: Database) -> bool:
        """The fast path's check before a denyoom command: the last estimate moved by the keys this
        database gained since. True sends the command through reject() for the full estimate."""
        grown = len(db.data) - self.counted[db.id]
        return self.estimate + grown * self.per_key > self.limit

    def resample(self) -> None:
        """Refresh the average entry size from a sample of keys across databases (cron)."""
        dbs = [db for db in self.keyspace.dbs if db.data]
        if not dbs:
            self.big.clear()
            return
        for (dbid, key), _ in list(self.big.items()):
            db = self.keyspace.dbs[dbid]
            value = db.data.get(key)
            size = deep_size(key, 0) + deep_size(value, 5) if value is not None else 0
            if size > BIG_VALUE:
                self.big[(dbid, key)] = size
            else:
                del self.big[(dbid, key)]
        total_keys = sum(len(db.data) for db in dbs)
        seen = 0
        total = 0
        for db in dbs:
            want = max(1, _SIZE_SAMPLES_PER_TICK * len(db.data) // total_keys)
            for key in self._size_sample(db, want):
                if (db.id, key) in self.big:
                    continue
                size = deep_size(key, 0) + deep_size(db.data[key], 5)
                if size > BIG_VALUE and len(self.big) < _MAX_BIG:
                    self.big[(db.id, key)] = size
                    continue
                total += size
                seen += 1
        if seen:
            sample_avg = total / seen
            # A smoothed average: one tick's sample of a mixed keyspace is noisy; a new keyspace
            # (first sample) takes the sample as is.
            self.avg_entry = sample_avg if self.avg_entry == 0 else 0.7 * self.avg_entry + 0.3 * sample_avg

    def _size_sample(self, db: Database, count: int) -> list[bytes]:
        """Keys to measure: random ones while eviction needs the samplers anyway; otherwise (INFO on
        a server without maxmemory) a run of keys from a random place among the first 50,000, so
        no key-list snapshot (8 bytes a key) is kept just for statistics."""
        if self.config.maxmemory:
            return self.sampler(db, False).draw(db.data, count)
        start = random.randrange(max(1, min(len(db.data) - count, 50_000)))
        return list(itertools.islice(db.data, start, start + count))

    def sampler(self, db: Database, volatile: bool) -> Sampler:
        s = self.samplers.get((db.id, volatile))
        if s is None:
            s = self.samplers[(db.id, volatile)] = Sampler()
        return s

    # --- eviction --------------------------------------------------------------------------------
    def reject(self, client: Client, spec: CommandSpec, argv: list[bytes]) -> str | None:
        """processCommand's OOM step: evict first; refuse a denyoom command (or anything queued in
        MULTI but EXEC/DISCARD/QUIT/RESET, or an EXEC holding a denyoom command) if still over."""
        if self.perform_evictions():
            return None
        name = spec.name if spec.parent is None else spec.parent.name
        denied = spec.denyoom
        if client.multi is not None:
            if name == "exec":
                denied = denied or any(s.denyoom for s, _ in client.multi)
            elif name not in ("discard", "quit", "reset"):
                denied = True
        return errors.OOM if denied else None

    def time_limit(self) -> float:
        """evictionTimeLimitUs, in seconds: 50 us per tenacity point up to 10, then growing 15% a
        point; 100 means no limit."""
        tenacity = self.config.maxmemory_eviction_tenacity
        if tenacity <= 10:
            return 50e-6 * tenacity
        if tenacity < 100:
            return 500e-6 * 1.15 ** (tenacity - 10)
        return float("inf")

    def perform_evictions(self) -> bool:
        """False (EVICT_FAIL) when over maxmemory and nothing more can be evicted; True when under
        the limit or when the time budget ran out mid-way (the cron carries on, as Redis's timer)."""
        limit = self.config.maxmemory
        if not limit or self.used_memory() <= limit:
            return True
        policy = self.config.maxmemory_policy
        if policy == "noeviction":
            return False
        deadline = time.perf_counter() + self.time_limit()
        evicted = 0
        used = self.used_memory()
        while used > limit:
            picked = self.pick(policy)
            if picked is None:
                return False
            self.evict(*picked)
            evicted += 1
            # A full estimate walks every database: between them, each eviction frees about a key.
            if evicted % 16:
                used -= int(self.per_key)
                continue
            used = self.used_memory()
            if time.perf_counter() > deadline:
                return True
        self.used_memory()
        return True

    def pick(self, policy: str) -> tuple[Database, bytes] | None:
        volatile = policy.startswith("volatile")
        dbs = [db for db in self.keyspace.dbs if (db.expires if volatile else db.data)]
        if not dbs:
            return None
        if policy.endswith("random"):
            # Redis walks the databases round robin; a random start spreads evictions the same way.
            for db in random.sample(dbs, len(dbs)):
                keys = self.sampler(db, volatile).draw(db.expires if volatile else db.data, 1)
                if keys:
                    return db, keys[0]
            return None
        samples = self.config.maxmemory_samples
        pool = self.pool
        for _ in range(8):
            for db in dbs:
                source = db.expires if volatile else db.data
                for key in self.sampler(db, volatile).draw(source, samples):
                    self._pool_insert(self._score(policy, db, key), db.id, key)
            while pool:
                _, dbid, key = pool.pop()
                db = self.keyspace.dbs[dbid]
                if key in (db.expires if volatile else db.data):
                    return db, key
        return None

    def _score(self, policy: str, db: Database, key: bytes) -> float:
        """Higher evicts first: idle ms (LRU), 255 - frequency (LFU), or nearness of expiry (TTL)."""
        if policy.endswith("lru"):
            return self.keyspace.clock - db.access.get(key, self.keyspace.start_clock)
        if policy.endswith("lfu"):
            return 255 - self.frequency(db, key)
        return -db.expires[key]

    def _pool_insert(self, score: float, dbid: int, key: bytes) -> None:
        pool = self.pool
        for i, (_, d, k) in enumerate(pool):
            if d == dbid and k == key:
                del pool[i]
                break
        if len(pool) >= EVPOOL_SIZE:
            if score <= pool[0][0]:
                return
            del pool[0]
        # Sorted ascending; a short list, so a linear insert is what Redis does too.
        i = 0
        while i < len(pool) and pool[i][0] < score:
            i += 1
        pool.insert(i, (score, dbid, key))

    def evict(self, db: Database, key: bytes) -> None:
        db.evict(key)
        self.evicted_keys += 1
        db.event(key, "e", "evicted")
        server = self.server
        if server.propagate_hooks:
            # Logged as a DEL so that an AOF replay does not bring evicted keys back. Writes of a
            # running EXEC/script already queued (CONFIG SET maxmemory inside one) keep their batch.
            queued = bool(server.propagation)
            server.propagation.append((db.id, [b"DEL", key]))
            if not queued:
                server.flush_propagation()

    # --- access information (OBJECT IDLETIME/FREQ) ---------------------------------------------------
    def idle_seconds(self, db: Database, key: bytes) -> int:
        self.keyspace.enable_tracking()  # from now on; untouched keys count from here
        ks = self.keyspace
        return max(0, now_ms() - db.access.get(key, ks.start_clock)) // 1000

    def frequency(self, db: Database, key: bytes) -> int:
        access = db.access
        packed = access.get(key)
        if packed is None or not isinstance(access, LFUCounters):
            return LFU_INIT_VAL
        return access.decayed(packed, (now_ms() // 60000) & 0xFFFF)

    # --- configuration ---------------------------------------------------------------------------------
    def apply_maxmemory(self, value: int) -> None:
        server = self.server
        active = value > 0
        self.limit = value
        server.oom_guard = self.maybe_over if active else None
        if active and self.reject not in server.reject_hooks:
            server.reject_hooks.append(self.reject)
        elif not active and self.reject in server.reject_hooks:
            server.reject_hooks.remove(self.reject)
        if not active:
            self.samplers.clear()  # their key-list snapshots hold memory only eviction needs
        if active:
            self.resample()
            if self.used_memory() > value:
                server.log.warning(
                    "WARNING: the new maxmemory value set via CONFIG SET "
                    f"({value}) is smaller than the current memory usage ({self.used_memory()}). "
                    "This will result in key eviction and/or the inability to accept new write commands "
                    "depending on the maxmemory-policy."
                )
                self.perform_evictions()

    def apply_policy(self, _value: Any = None) -> None:
        """Switch the access tables between LRU clocks and LFU counters. The old information does not
        carry over (Redis reinterprets the same bits, which is as meaningless): under LRU every key
        counts as touched at the switch, under LFU as a counter decayed to 0 (what Redis then shows)."""
        cfg = self.config
        ks = self.keyspace
        lfu = (cfg.lfu_log_factor, cfg.lfu_decay_time) if cfg.maxmemory_policy.endswith("lfu") else None
        was_lfu = ks.lfu is not None
        ks.lfu = lfu
        if cfg.maxmemory_policy.endswith(("lru", "lfu")):
            ks.enable_tracking()  # eviction by recency or frequency needs the access tables
        self.pool.clear()
        if (lfu is not None) != was_lfu:
            ks.start_clock = ks.clock
            for db in ks.dbs:
                db.access = access = ks.new_access()
                if lfu is not None and db.data:
                    # Redis reads the old LRU bits as a long-decayed counter: existing keys start at 0.
                    zero = ((ks.clock // 60000) & 0xFFFF) << 8
                    dict.update(access, dict.fromkeys(db.data, zero))
        elif lfu is not None:
            for db in ks.dbs:
                db.access.log_factor, db.access.decay_time = lfu  # type: ignore[attr-defined]

    def cron(self) -> None:
        ks = self.keyspace
        clock = int(self.server.clock * 1000)
        ks.clock = clock
        # No access tracking while a forked child (BGSAVE, AOF rewrite) shares our pages, as in
        # Redis: touching keys would copy the access tables' pages for nothing.
        child = getattr(getattr(self.server, "persistence", None), "child_pid", None)
        ks.touch_clock = None if child or not ks.tracking else clock
        if self.config.maxmemory:  # otherwise only INFO/MEMORY read the estimate, and re-sample then
            self.resample()
            self.perform_evictions()


@on_server_init
def install(server: Server) -> None:
    memory = Memory(server)
    server.memory = memory  # type: ignore[attr-defined]
    server.cron_hooks.append(memory.cron)
    cfg = server.config
    cfg.on_change("maxmemory", memory.apply_maxmemory)
    for name in ("maxmemory-policy", "lfu-log-factor", "lfu-decay-time"):
        cfg.on_change(name, memory.apply_policy)
    memory.apply_policy()
    memory.apply_maxmemory(cfg.maxmemory)
