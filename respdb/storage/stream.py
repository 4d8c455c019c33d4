"""The stream value: entries ordered by id (ms, seq), consumer groups with their PELs and consumers.

Entries live in a SortedDict keyed by (ms, seq). Beside them we keep a model of Redis's radix tree of
listpack nodes (master id, live/deleted counts and the exact listpack byte size), because observable
behaviour depends on it: `MAXLEN ~`/`MINID ~` trim whole nodes only, and XINFO STREAM reports
radix-tree-keys/-nodes. The byte sizes follow listpack.c's element encodings so node boundaries fall
where Redis puts them. Nothing here parses arguments or builds replies.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedDict

from respdb.storage.keyspace import register_type

StreamID = tuple[int, int]
U64_MAX = 2**64 - 1
MAX_ID: StreamID = (U64_MAX, U64_MAX)
MIN_ID: StreamID = (0, 0)
INVALID_ENTRIES_READ = -1  # Redis's SCG_INVALID_ENTRIES_READ


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def incr_id(sid: StreamID) -> StreamID | None:
    """The next id, or None past the last possible one (streamIncrID)."""
    ms, seq = sid
    if seq == U64_MAX:
        return None if ms == U64_MAX else (ms + 1, 0)
    return (ms, seq + 1)


def decr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq == 0:
        return None if ms == 0 else (ms - 1, U64_MAX)
    return (ms, seq - 1)


# --- listpack size model (listpack.c lpEncodeGetType / lpEncodeBacklen) ---------------------------
def _int_size(v: int) -> int:
    """Encoded bytes of an integer element including its backlen byte."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -(2**31) <= v < 2**31:
        return 6
    return 10


def _backlen(n: int) -> int:
    if n < 128:
        return 1
    if n < 16384:
        return 2
    if n < 2097152:
        return 3
    if n < 268435456:
        return 4
    return 5


def canonical_int(s: bytes) -> int | None:
    """lpStringToInt64: strings that look like canonical int64s are stored as integers."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    body = s[1:] if s[:1] == b"-" else s
    if not body.isdigit() or (body[:1] == b"0" and (len(body) > 1 or body is not s)):
        return None
    v = int(s)
    return v if -(2**63) <= v < 2**63 else None


_NUMERIC_START = frozenset(b"-0123456789")


def _elem_size(s: bytes) -> int:
    if s and s[0] in _NUMERIC_START:
        iv = canonical_int(s)
        if iv is not None:
            return _int_size(iv)
    n = len(s)
    enc = 1 + n if n < 64 else (2 + n if n < 4096 else 5 + n)
    return enc + _backlen(enc)


class Entries:
    """Entry ids in order plus id → fields. New ids always come last (XADD only appends), so a list
    with bisect beats a balanced tree: appends are O(1) and ranges are slices."""

    __slots__ = ("data", "ids")

    def __init__(self) -> None:
        self.ids: list[StreamID] = []
        self.data: dict[StreamID, list[bytes]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, sid: object) -> bool:
        return sid in self.data

    def __getitem__(self, sid: StreamID) -> list[bytes]:
        return self.data[sid]

    def get(self, sid: StreamID) -> list[bytes] | None:
        return self.data.get(sid)

    def __setitem__(self, sid: StreamID, pairs: list[bytes]) -> None:
        ids = self.ids
        if sid not in self.data:
            if not ids or sid > ids[-1]:
                ids.append(sid)
            else:
                ids.insert(bisect_left(ids, sid), sid)
        self.data[sid] = pairs

    def __delitem__(self, sid: StreamID) -> None:
        del self.data[sid]
        ids = self.ids
        del ids[bisect_left(ids, sid)]

    def delete_span(self, lo: int, hi: int) -> None:
        """Remove the entries at positions lo..hi-1 in one slice deletion (trimming)."""
        data = self.data
        for sid in self.ids[lo:hi]:
            del data[sid]
        del self.ids[lo:hi]

    def span(self, start: StreamID, end: StreamID | None) -> tuple[int, int]:
        ids = self.ids
        return bisect_left(ids, start), len(ids) if end is None else bisect_right(ids, end)

    def irange(self, start: StreamID, end: StreamID | None = None, reverse: bool = False) -> Iterator[StreamID]:
        lo, hi = self.span(start, end)
        ids = self.ids
        if reverse:
            return (ids[i] for i in range(hi - 1, lo - 1, -1))
        return (ids[i] for i in range(lo, hi))

    def first(self) -> StreamID:
        return self.ids[0]

    def last(self) -> StreamID:
        return self.ids[-1]

    def items(self) -> Iterator[tuple[StreamID, list[bytes]]]:
        data = self.data
        return ((sid, data[sid]) for sid in self.ids)


class Node:
    """One listpack of the radix tree: entries from master_id through last_id (incl. deleted ones)."""

    __slots__ = ("body", "count", "deleted", "fields", "last_id", "master_id")

    def __init__(self, master_id: StreamID, fields: tuple[bytes, ...]) -> None:
        self.master_id = master_id
        self.last_id = master_id
        self.fields = fields
        self.count = 0
        self.deleted = 0
        # Bytes of everything but the header, the count and deleted counters and the terminator.
        self.body = _int_size(len(fields)) + sum(_elem_size(f) for f in fields) + _int_size(0)

    def lp_bytes(self) -> int:
        return 7 + _int_size(self.count) + _int_size(self.deleted) + self.body


class NACK:
    """A pending (delivered, not yet acknowledged) entry of a group."""

    __slots__ = ("consumer", "delivery_count", "delivery_time")

    def __init__(self, consumer: Consumer | None, now: int) -> None:
        self.consumer = consumer
        self.delivery_time = now
        self.delivery_count = 1


class Consumer:
    __slots__ = ("name", "pel", "seen_time")

    def __init__(self, name: bytes, now: int) -> None:
        self.name = name
        self.seen_time = now
        self.pel: SortedDict = SortedDict()  # id → NACK (shared with the group PEL)


class Group:
    __slots__ = ("consumers", "entries_read", "last_id", "pel")

    def __init__(self, last_id: StreamID, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: SortedDict = SortedDict()  # id → NACK
        self.consumers: dict[bytes, Consumer] = {}

    def create_consumer(self, name: bytes, now: int) -> Consumer | None:
        if name in self.consumers:
            return None
        consumer = self.consumers[name] = Consumer(name, now)
        return consumer

    def delete_consumer(self, consumer: Consumer) -> None:
        for sid in consumer.pel:
            del self.pel[sid]
        del self.consumers[consumer.name]


class Stream:
    """A Redis stream. Never truthy-tested for deletion: an empty stream is still a key."""

    __slots__ = ("entries", "entries_added", "first_id", "groups", "last_id", "max_deleted_id", "node_keys", "nodes")

    def __init__(self) -> None:
        self.entries = Entries()
        self.nodes: list[Node] = []
        self.node_keys: list[StreamID] = []  # master ids of `nodes`, for bisecting
        self.last_id: StreamID = MIN_ID
        self.first_id: StreamID = MIN_ID
        self.max_deleted_id: StreamID = MIN_ID
        self.entries_added = 0
        self.groups: dict[bytes, Group] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return True

    # --- entries -------------------------------------------------------------------------------
    def append(self, sid: StreamID, pairs: list[bytes], max_bytes: int, max_entries: int) -> None:
        """Add an entry whose id is known to be greater than last_id (streamAppendItem)."""
        node = self.nodes[-1] if self.nodes else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= 2**30 else 2**30
            if node.lp_bytes() + sum(map(len, pairs)) >= limit or (
                max_entries and node.count + node.deleted >= max_entries
            ):
                node = None
        fields = tuple(pairs[0::2])
        if node is None:
            node = Node(sid, fields)
            self.nodes.append(node)
            self.node_keys.append(sid)
        master = node.master_id
        # flags (0 or 2) is always a 1-byte integer: 2 bytes with its backlen.
        size = 2 + _int_size(sid[0] - master[0]) + _int_size(sid[1] - master[1])
        if fields == node.fields:
            size += sum(map(_elem_size, pairs[1::2]))
            lp_count = len(fields) + 3
        else:
            size += _int_size(len(fields)) + sum(map(_elem_size, pairs))
            lp_count = 2 * len(fields) + 4
        node.body += size + _int_size(lp_count)
        node.count += 1
        node.last_id = sid
        self.entries[sid] = pairs
        self.entries_added += 1
        self.last_id = sid
        if len(self.entries) == 1:
            self.first_id = sid

    def delete(self, sid: StreamID) -> bool:
        """XDEL one entry: flag it deleted in its node; a node whose last live entry goes is freed."""
        if sid not in self.entries:
            return False
        del self.entries[sid]
        i = bisect_right(self.node_keys, sid) - 1
        node = self.nodes[i]
        if node.count == 1:
            del self.nodes[i]
            del self.node_keys[i]
        else:
            node.count -= 1
            node.deleted += 1
        return True

    def refresh_first_id(self) -> None:
        self.first_id = self.entries.first() if len(self.entries) else MIN_ID

    def trim(self, maxlen: int | None, minid: StreamID | None, approx: bool, limit: int) -> int:
        """streamTrim: drop whole nodes from the head, then (unless approx) entries inside one node."""
        deleted = 0
        entries = self.entries
        while self.nodes:
            if maxlen is not None and len(entries) <= maxlen:
                break
            node = self.nodes[0]
            if limit and deleted + node.count > limit:
                break
            if maxlen is not None:
                remove = len(entries) - node.count >= maxlen
            else:
                remove = node.last_id < minid  # type: ignore[operator]
            if remove:
                entries.delete_span(*entries.span(node.master_id, node.last_id))
                deleted += node.count
                del self.nodes[0]
                del self.node_keys[0]
                continue
            if approx:
                break
            lo, hi = entries.span(node.master_id, node.last_id)
            if maxlen is not None:
                removed = min(hi - lo, len(entries) - maxlen)
            else:
                removed = max(0, min(hi, bisect_left(entries.ids, minid)) - lo)
            entries.delete_span(lo, lo + removed)
            node.count -= removed
            node.deleted += removed
            deleted += removed
            break
        self.refresh_first_id()
        return deleted

    def range(self, start: StreamID, end: StreamID, count: int = 0, reverse: bool = False) -> list[tuple[StreamID, list[bytes]]]:
        if start > end:
            return []
        out = []
        entries = self.entries
        for sid in entries.irange(start, end, reverse=reverse):
            out.append((sid, entries[sid]))
            if count and len(out) >= count:
                break
        return out

    def last_valid_id(self) -> StreamID:
        return self.entries.last() if len(self.entries) else MIN_ID

    # --- lag bookkeeping (Redis 7.0 t_stream.c) -------------------------------------------------
    def range_has_tombstones(self, start: StreamID | None) -> bool:
        if not len(self.entries) or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return (start or MIN_ID) <= self.max_deleted_id

    def estimate_entries_read(self, sid: StreamID) -> int:
        """streamEstimateDistanceFromFirstEverEntry: the logical read counter of `sid`, or -1."""
        if not self.entries_added:
            return 0
        if not len(self.entries) and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return INVALID_ENTRIES_READ
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if sid < self.first_id:
                return self.entries_added - len(self.entries)
            if sid == self.first_id:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def group_lag(self, group: Group) -> int | None:
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_entries_read(group.last_id)
        return None if read == INVALID_ENTRIES_READ else self.entries_added - read

    def advance_group(self, group: Group, sid: StreamID) -> None:
        """A group read delivered `sid`: move last_id and the read counter as Redis does."""
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(sid):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_entries_read(sid)
        group.last_id = sid

    # --- radix tree shape (XINFO STREAM) ----------------------------------------------------------
    def rax_nodes(self) -> int:
        keys = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in self.node_keys]
        return _rax_count(keys, 0) if keys else 1

    # --- copying and state ------------------------------------------------------------------------
    def clone(self) -> Stream:
        return Stream.from_state(self.to_state())

    def to_state(self) -> dict[str, Any]:
        """Everything as plain data (lists, ints, bytes) for snapshots, DUMP and COPY. "nodes" keeps the
        listpack layout, as Redis's RDB keeps its listpacks, so `~` trims and XINFO agree after a load."""
        groups = []
        for name, g in self.groups.items():
            groups.append(
                {
                    "name": name,
                    "last_id": list(g.last_id),
                    "entries_read": g.entries_read,
                    "pel": [
                        [sid[0], sid[1], n.consumer.name if n.consumer else None, n.delivery_time, n.delivery_count]
                        for sid, n in g.pel.items()
                    ],
                    "consumers": [{"name": c.name, "seen_time": c.seen_time} for c in g.consumers.values()],
                }
            )
        return {
            "entries": [[sid[0], sid[1], list(pairs)] for sid, pairs in self.entries.items()],
            "last_id": list(self.last_id),
            "first_id": list(self.first_id),
            "entries_added": self.entries_added,
            "max_deleted_entry_id": list(self.max_deleted_id),
            "groups": groups,
            "nodes": [[*n.master_id, *n.last_id, list(n.fields), n.count, n.deleted, n.body] for n in self.nodes],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Stream:
        """The inverse of to_state. The state may come from a file or a RESTORE payload, so anything
        inconsistent raises ValueError instead of building a stream that breaks later."""
        s = cls()
        prev: StreamID | None = None
        for ms, seq, pairs in state["entries"]:
            sid = _id((ms, seq))
            if (prev is not None and sid <= prev) or not pairs or len(pairs) % 2:
                raise ValueError("stream entries out of order or with an odd field count")
            if not all(isinstance(x, bytes) for x in pairs):
                raise ValueError("stream fields must be strings")
            s.entries[sid] = list(pairs)
            prev = sid
        s.last_id = _id(state["last_id"])
        if prev is not None and s.last_id < prev:
            raise ValueError("stream last id below its top entry")
        s.entries_added = _int(state["entries_added"], 0)
        s.max_deleted_id = _id(state["max_deleted_entry_id"])
        first = state.get("first_id")
        s.first_id = _id(first) if first is not None else (s.entries.first() if prev is not None else MIN_ID)
        if not s._load_nodes(state.get("nodes")):
            s._rebuild_nodes()
        for gs in state["groups"]:
            name = gs["name"]
            if not isinstance(name, bytes) or name in s.groups:
                raise ValueError("bad or duplicate group name")
            g = Group(_id(gs["last_id"]), _int(gs["entries_read"], -1))
            for cs in gs["consumers"]:
                cname = cs["name"]
                if not isinstance(cname, bytes) or cname in g.consumers:
                    raise ValueError("bad or duplicate consumer name")
                g.consumers[cname] = Consumer(cname, _int(cs["seen_time"], -(2**63)))
            for ms, seq, cname, when, count in gs["pel"]:
                sid = _id((ms, seq))
                consumer = g.consumers.get(cname) if isinstance(cname, bytes) else None
                if consumer is None or sid in g.pel:
                    raise ValueError("pending entry without a consumer, or listed twice")
                nack = NACK(consumer, _int(when, -(2**63)))
                nack.delivery_count = _int(count, 0)
                g.pel[sid] = consumer.pel[sid] = nack
            s.groups[name] = g
        return s

    def _load_nodes(self, nodes: Any) -> bool:
        """Adopt a saved listpack layout if it accounts for exactly the entries we hold."""
        if not isinstance(nodes, list) or not nodes:
            return False
        ids = self.entries.ids
        pos = 0
        prev_last: StreamID | None = None
        built = []
        try:
            for mms, mseq, lms, lseq, fields, count, deleted, body in nodes:
                master, last = _id((mms, mseq)), _id((lms, lseq))
                if master > last or (prev_last is not None and master <= prev_last):
                    return False
                live = bisect_right(ids, last) - pos
                if live < 1 or live != count or ids[pos] < master or not all(isinstance(f, bytes) for f in fields):
                    return False
                node = Node(master, tuple(fields))
                node.last_id, node.count, node.deleted, node.body = last, count, _int(deleted, 0), _int(body, 0)
                built.append(node)
                pos += live
                prev_last = last
        except (TypeError, ValueError):
            return False
        if pos != len(ids):
            return False
        self.nodes = built
        self.node_keys = [n.master_id for n in built]
        return True

    def _rebuild_nodes(self) -> None:
        """Lay the entries out as consecutive XADDs with the default node limits would have."""
        self.nodes, self.node_keys = [], []
        saved = (self.last_id, self.entries_added, self.first_id)
        entries, self.entries = self.entries, Entries()
        for sid, pairs in entries.items():
            self.append(sid, pairs, 4096, 100)
        self.last_id, self.entries_added, self.first_id = saved


def _int(v: Any, lo: int) -> int:
    if v.__class__ is not int or not lo <= v < 2**63:
        raise ValueError("bad integer in stream state")
    return v


def _id(v: Any) -> StreamID:
    ms, seq = v
    if ms.__class__ is not int or seq.__class__ is not int or not (0 <= ms <= U64_MAX and 0 <= seq <= U64_MAX):
        raise ValueError("bad stream id")
    return (ms, seq)


def _rax_count(keys: list[bytes], depth: int) -> int:
    """Nodes of a rax holding `keys` (sorted, equal length, none a prefix of another) below `depth`.

    A single remaining key is a compressed node plus its leaf; keys sharing more bytes get one
    compressed node for the shared run; otherwise a branching node with one subtree per next byte.
    """
    if len(keys[0]) == depth:
        return 1
    first, last = keys[0], keys[-1]
    common = depth
    end = len(first)
    while common < end and first[common] == last[common]:
        common += 1
    if common > depth:
        return 1 + _rax_count(keys, common)
    total = 1
    i = 0
    n = len(keys)
    while i < n:
        b = keys[i][depth]
        j = i + 1
        while j < n and keys[j][depth] == b:
            j += 1
        total += _rax_count(keys[i:j], depth + 1)
        i = j
    return total


register_type(Stream, b"stream")
