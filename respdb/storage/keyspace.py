"""The keyspace: numbered databases of key → value, with per-key expiry kept beside the data.

Values are plain Python objects, and the type of the object is the Redis type of the key:
bytes → string, dict → hash, QuickList → list, set → set, ZSet → zset, Stream → stream.
Expiry lives in a second dict (absolute ms) so keys without a TTL cost nothing extra, plus a heap that
lets the active cycle reclaim expired keys without scanning. Every write goes through `changed()`, the
one hook where WATCH, client-side caching, keyspace events, the dirty counter and blocked clients
learn about it. This module imports nothing from the protocol or server layers.

Access tracking (Redis's per-object LRU/LFU field, for eviction and OBJECT IDLETIME/FREQ) lives in a
side dict `access` (key → clock in ms, one shared int per cron tick), or an `LFUCounters` under an LFU
policy; a key without an entry has not been touched since the data was loaded.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from respdb.errors import WRONGTYPE, CommandError

TYPE_NAMES: dict[type, bytes] = {bytes: b"string", dict: b"hash", set: b"set"}  # + register_type()


def register_type(cls: type, name: bytes) -> None:
    """Value classes defined elsewhere in storage (ZSet, Stream) announce their Redis type name."""
    TYPE_NAMES[cls] = name


def now_ms() -> int:
    return int(time.time() * 1000)


LFU_INIT_VAL = 5  # Redis's counter for a new key, so it is not evicted before it can be used


class LFUCounters(dict):
    """key → (minutes << 8) | counter, Redis's 24-bit LFU field. Storing a clock into it is a touch:
    the counter is decayed by the minutes elapsed and incremented logarithmically, so Database.get
    stores `access[key] = clock` under both policies and pays for LFU arithmetic only under LFU."""

    def __init__(self, log_factor: int = 10, decay_time: int = 1) -> None:
        super().__init__()
        self.log_factor = log_factor
        self.decay_time = decay_time

    def __setitem__(self, key: bytes, clock_ms: int) -> None:
        minutes = (clock_ms // 60000) & 0xFFFF
        old = self.get(key)
        if old is None:
            counter = LFU_INIT_VAL
        else:
            counter = self.decayed(old, minutes)
            if counter < 255:  # LFULogIncr
                base = counter - LFU_INIT_VAL
                if base < 0 or random.random() < 1.0 / (base * self.log_factor + 1):
                    counter += 1
        dict.__setitem__(self, key, (minutes << 8) | counter)

    def decayed(self, packed: int, minutes: int) -> int:
        """LFUDecrAndReturn: the counter less one per `lfu-decay-time` minutes since last access."""
        ldt, counter = packed >> 8, packed & 255
        elapsed = minutes - ldt if minutes >= ldt else 65535 - ldt + minutes
        periods = elapsed // self.decay_time if self.decay_time else 0
        return max(0, counter - periods)


class WrongType(CommandError):
    def __init__(self) -> None:
        super().__init__(WRONGTYPE)


class Database:
    """One numbered database. Handlers use the typed accessors; nothing else touches `data`."""

    __slots__ = ("_heap", "access", "avg_ttl", "data", "expires", "id", "keyspace", "watched")

    def __init__(self, index: int, keyspace: Keyspace) -> None:
        self.id = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []  # (when_ms, key); stale entries skipped lazily
        self.keyspace = keyspace
        self.watched: dict[bytes, list[Any]] = {}  # key → clients that WATCH it
        self.avg_ttl = 0
        self.access: dict[bytes, int] = keyspace.new_access()

    # --- reads -------------------------------------------------------------------------------
    def get(self, key: bytes) -> Any:
        """The live value or None; an expired key is deleted on the way (lazy expiry).

        While the running command reads (Keyspace.reading), the lookup counts as a keyspace hit or
        miss, as Redis's lookupKeyRead does; the write path pays one attribute check for that."""
        ks = self.keyspace
        expires = self.expires
        if expires and key in expires and expires[key] <= now_ms():
            self._expire_now(key)
            if ks.reading:
                self._read_miss(key)
            return None
        value = self.data.get(key)
        if value is not None:
            clock = ks.touch_clock  # None while a CLIENT NO-TOUCH client runs a command
            if clock is not None:
                self.access[key] = clock
            if ks.reading:
                ks.hits += 1
        elif ks.reading:  # _read_miss inlined: GET on a missing key is a common hot path too
            ks.misses += 1
            if ks.notify is not None:
                ks.notify("m", "keymiss", key, self.id)
        return value

    def _read_miss(self, key: bytes, event: bool = True) -> None:
        """A reading command looked for `key` and found nothing: Redis counts a keyspace miss and
        fires `keymiss` (class m) unless the lookup says LOOKUP_NONOTIFY."""
        ks = self.keyspace
        ks.misses += 1
        if event and ks.notify is not None:
            ks.notify("m", "keymiss", key, self.id)

    def lookup_write(self, key: bytes) -> Any:
        """Like get() but never counted as a hit or miss: Redis's lookupKeyWrite, for a key that a
        reading command only writes (SET without GET, a STORE destination, a BITFIELD that writes)."""
        if self.expires and key in self.expires and self.expires[key] <= now_ms():
            self._expire_now(key)
            return None
        value = self.data.get(key)
        if value is not None:
            clock = self.keyspace.touch_clock
            if clock is not None:
                self.access[key] = clock
        return value

    def peek(self, key: bytes, miss_event: bool = True) -> Any:
        """Like get() but leaves the access time alone (Redis's LOOKUP_NOTOUCH: TYPE, OBJECT);
        counted as a hit or miss like get(). OBJECT passes miss_event=False (LOOKUP_NONOTIFY)."""
        ks = self.keyspace
        if self.expires and key in self.expires and self.expires[key] <= now_ms():
            self._expire_now(key)
            if ks.reading:
                self._read_miss(key, miss_event)
            return None
        value = self.data.get(key)
        if ks.reading:
            if value is None:
                self._read_miss(key, miss_event)
            else:
                ks.hits += 1
        return value

    def get_typed(self, key: bytes, cls: type) -> Any:
        """The value if it is of `cls`, None if missing; WRONGTYPE otherwise."""
        value = self.get(key)
        if value is not None and value.__class__ is not cls:
            raise WrongType()
        return value

    def get_string(self, key: bytes) -> bytes | None:
        value = self.get(key)
        if value is not None and value.__class__ is not bytes:
            raise WrongType()
        return value

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def type_name(self, key: bytes) -> bytes:
        value = self.peek(key)
        return b"none" if value is None else TYPE_NAMES[value.__class__]

    def __len__(self) -> int:
        return len(self.data)

    def live_keys(self) -> Iterator[bytes]:
        """Live keys (expired ones skipped, not deleted, so iteration never mutates the dict)."""
        if not self.expires:
            return iter(list(self.data))
        now = now_ms()
        expires = self.expires
        return iter([k for k in self.data if k not in expires or expires[k] > now])

    def random_key(self) -> bytes | None:
        # Redis's dictGetFairRandomKey is O(1); a dict has no random access, so sample its keys view
        # through an index drawn up front (O(n) walk in C, bounded tries like Redis's).
        for _ in range(100):
            if not self.data:
                return None
            key = next(_nth(self.data, random.randrange(len(self.data))))
            if self.lookup_write(key) is not None:
                return key
        return None

    # --- writes ------------------------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store `value`, replacing any old value and (unless keep_ttl) its TTL. Call changed() after."""
        notify = self.keyspace.notify
        if notify is not None and self.lookup_write(key) is None:
            # A key created by this write: Redis's dbAdd event (after lazily expiring an old one).
            notify("n", "new", key, self.id)
        self.data[key] = value
        if self.keyspace.tracking:
            access = self.access
            # A new object starts its LRU clock; under LFU an overwrite keeps the counter (dbOverwrite).
            if access.__class__ is dict or key not in access:
                access[key] = self.keyspace.clock
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)

    def write(self, key: bytes, value: Any, cls: str, event: str, keep_ttl: bool = False) -> None:
        """set() and then changed() in one call, for the hottest writers (SET, INCR, MSET): the same
        steps in the same order, without a second method call and attribute walk per write (measured:
        SET's handler 237 -> 185 ns). A change to set() or changed() must be made here too."""
        ks = self.keyspace
        notify = ks.notify
        if notify is not None and self.lookup_write(key) is None:
            notify("n", "new", key, self.id)
        self.data[key] = value
        if ks.tracking:
            access = self.access
            if access.__class__ is dict or key not in access:
                access[key] = ks.clock
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        ks.dirty += 1
        if self.watched and key in self.watched:
            self.touch_watched(key)
        if ks.on_change is not None:
            ks.on_change(self, key)
        if notify is not None:
            notify(cls, event, key, self.id)

    def write_pairs(self, pairs: tuple[bytes, ...], cls: str, event: str) -> None:
        """MSET: write(key, value) for each key, value pair of the flat `pairs` (even length), in order.
        With no hook to feed (no keyspace events, WATCH, client tracking, access tracking or TTLs in
        this db) that is just the stores plus the dirty count."""
        ks = self.keyspace
        it = iter(pairs)
        if ks.notify is None and ks.on_change is None and not ks.tracking and not self.watched and not self.expires:
            data = self.data
            for key in it:
                data[key] = next(it)  # (faster than dict.update(zip(it, it)) for MSET-sized inputs)
            ks.dirty += len(pairs) >> 1
            return
        write = self.write
        for key in it:
            write(key, next(it), cls, event)

    def add(self, key: bytes, value: Any) -> None:
        """Create a key known to be absent (a new collection)."""
        self.data[key] = value
        if self.keyspace.tracking:
            self.access[key] = self.keyspace.clock
        notify = self.keyspace.notify
        if notify is not None:
            notify("n", "new", key, self.id)

    def delete(self, key: bytes) -> bool:
        if self.lookup_write(key) is None:
            return False
        del self.data[key]
        self.access.pop(key, None)
        if self.expires:
            self.expires.pop(key, None)
        return True

    def evict(self, key: bytes) -> None:
        """Drop a key whatever its TTL (maxmemory eviction); WATCH and client-side caches learn of
        it. The caller emits the `evicted` event."""
        del self.data[key]
        self.access.pop(key, None)
        if self.expires:
            self.expires.pop(key, None)
        self.touch_watched(key)
        if self.keyspace.on_change is not None:
            self.keyspace.on_change(self, key)

    def remove_if_empty(self, key: bytes, value: Any) -> None:
        """Collections are deleted when their last element goes, as in Redis."""
        if not value:
            self.data.pop(key, None)
            self.access.pop(key, None)
            if self.expires:
                self.expires.pop(key, None)

    def pop_value(self, key: bytes) -> tuple[Any, int | None] | None:
        """Remove a key returning (value, expire_ms) — RENAME and MOVE carry both."""
        value = self.lookup_write(key)
        if value is None:
            return None
        del self.data[key]
        self.access.pop(key, None)
        return value, self.expires.pop(key, None) if self.expires else None

    def flush(self) -> None:
        if self.watched:
            for key in list(self.watched):
                if key in self.data:
                    self.touch_watched(key)
        self.data = {}
        self.expires = {}
        self.access = self.keyspace.new_access()
        self._heap = []

    # --- expiry ------------------------------------------------------------------------------
    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heap = self._heap
        heapq.heappush(heap, (when_ms, key))
        if len(heap) > 64 and len(heap) > 3 * len(self.expires):
            self._rebuild_heap()

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key) if self.expires else None

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None if self.expires else False

    def _rebuild_heap(self) -> None:
        self._heap = [(when, key) for key, when in self.expires.items()]
        heapq.heapify(self._heap)

    def _expire_now(self, key: bytes) -> None:
        del self.data[key]
        self.access.pop(key, None)
        del self.expires[key]
        ks = self.keyspace
        ks.expired_keys += 1
        self.touch_watched(key)
        if ks.on_change is not None:
            ks.on_change(self, key)
        if ks.notify is not None:
            ks.notify("x", "expired", key, self.id)

    def active_expire(self, now: int, budget: int) -> int:
        """Delete up to `budget` keys whose time has come; returns how many were deleted."""
        heap, expires = self._heap, self.expires
        done = 0
        while heap and heap[0][0] <= now and done < budget:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:  # else the TTL changed since it was pushed
                self._expire_now(key)
                done += 1
        return done

    # --- change notification -------------------------------------------------------------------
    def changed(self, key: bytes, cls: str, event: str, changes: int = 1) -> None:
        """Record a write to `key`: dirty count, WATCH, tracking, keyspace event `event` of class `cls`.

        `changes` is what Redis adds to its dirty counter for it: one per element for the commands
        that count elements (SADD, HDEL, LPOP count, ...), 0 for a second key of a one-change command
        (RENAME's destination) or a write that changed nothing countable (LTRIM of nothing)."""
        ks = self.keyspace
        ks.dirty += changes
        if self.watched and key in self.watched:
            self.touch_watched(key)
        if ks.on_change is not None:
            ks.on_change(self, key)
        if ks.notify is not None:
            ks.notify(cls, event, key, self.id)

    def event(self, key: bytes, cls: str, event: str) -> None:
        """A further keyspace event for a write already recorded with changed() (SET EX → expire)."""
        notify = self.keyspace.notify
        if notify is not None:
            notify(cls, event, key, self.id)

    def touch_watched(self, key: bytes) -> None:
        for client in self.watched.get(key, ()):
            client.watch_dirty = True

    def signal_ready(self, key: bytes) -> None:
        """A list/zset/stream got elements: clients blocked on it may be served after this command."""
        blocking = self.keyspace.blocking_keys
        # Empty until some client blocks: one truth test for the common case of a push nobody awaits.
        if blocking and key in blocking.get(self.id, ()):
            self.keyspace.ready_keys.append((self.id, key))

    def changed_ready(self, key: bytes, cls: str, event: str, changes: int = 1) -> None:
        """changed() and then signal_ready(), for the pushes (LPUSH/RPUSH are redis-benchmark staples)."""
        self.changed(key, cls, event, changes)
        blocking = self.keyspace.blocking_keys
        if blocking and key in blocking.get(self.id, ()):
            self.keyspace.ready_keys.append((self.id, key))


def _nth(data: dict, index: int) -> Iterator[bytes]:
    it = iter(data)
    for _ in range(index):
        next(it)
    return it


class Keyspace:
    """All databases plus the counters and hooks shared by them."""

    def __init__(self, count: int = 16) -> None:
        self.dirty = 0  # writes since the last save (rdb_changes_since_last_save)
        self.expired_keys = 0
        # INFO keyspace_hits/misses. Dispatch sets `reading` from the command's spec before each
        # handler runs, so only the lookups of commands Redis makes with lookupKeyRead count.
        self.hits = 0
        self.misses = 0
        self.reading = False
        # Access clock in ms (Redis's LRU clock), refreshed by the server cron: one int object per
        # tick shared by every key touched in it. touch_clock is the same, or None while the running
        # client asked for CLIENT NO-TOUCH. `lfu` holds (log factor, decay time) under an LFU policy.
        self.clock = self.start_clock = now_ms()
        # Access tracking costs a dict entry per key (~50 B), so it is off until something reads
        # it: an LRU/LFU maxmemory policy, OBJECT IDLETIME/FREQ, RESTORE IDLETIME/FREQ. Keys not
        # touched since it started count as idle since `start_clock` — as every key counts as idle
        # since loading in Redis after a restart.
        self.tracking = False
        self.touch_clock: int | None = None
        self.lfu: tuple[int, int] | None = None
        self.dbs = [Database(i, self) for i in range(count)]
        # Hooks filled in by the server; None costs one attribute check per write.
        self.notify: Callable[[str, str, bytes, int], None] | None = None
        self.on_change: Callable[[Database, bytes], None] | None = None
        # Blocking operations: db id → keys some client waits on; keys that became ready.
        self.blocking_keys: dict[int, dict[bytes, deque[Any]]] = {}
        self.ready_keys: list[tuple[int, bytes]] = []

    def enable_tracking(self) -> None:
        """Start recording access times (idempotent)."""
        if not self.tracking:
            self.tracking = True
            self.start_clock = self.touch_clock = self.clock = now_ms()

    def new_access(self) -> dict[bytes, int]:
        return dict() if self.lfu is None else LFUCounters(*self.lfu)

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]

    def __len__(self) -> int:
        return len(self.dbs)

    def flushall(self) -> None:
        for db in self.dbs:
            db.flush()

    def swap(self, a: int, b: int) -> None:
        """SWAPDB: exchange contents; WATCHers of keys in either db see the change, as in Redis 7.0."""
        da, db_ = self.dbs[a], self.dbs[b]
        for d, other in ((da, db_), (db_, da)):
            for key in list(d.watched):
                if key in d.data or key in other.data:
                    d.touch_watched(key)
        da.data, db_.data = db_.data, da.data
        da.expires, db_.expires = db_.expires, da.expires
        da.access, db_.access = db_.access, da.access
        da._heap, db_._heap = db_._heap, da._heap
        for d in (da, db_):
            for key in d.keyspace.blocking_keys.get(d.id, ()):
                if key in d.data:
                    self.ready_keys.append((d.id, key))
