"""The Redis key layout shared by the sync and async clients (documented in docs/compat.md).

- `cyberdb:tables` — a hash, table name (UTF-8) → `CyberDict` or `CyberList`. It is the registry that lets
  empty tables exist (Redis deletes a hash or list when its last element goes) and that type-checks
  `get_cyberdict`/`get_cyberlist`.
- `cyberdb:{<name>}` — the table itself: a Redis hash for a CyberDict (field = encoded key, value = encoded
  value, see codec.py), a Redis list for a CyberList (elements = encoded values). The braces are a
  Redis Cluster hash tag, so everything belonging to one table hashes to one slot and transactions on
  it work in a cluster.
"""

from __future__ import annotations

import os

REGISTRY = b"cyberdb:tables"
DICT_TYPE = b"CyberDict"
LIST_TYPE = b"CyberList"
# Commands per MULTI chunk when writing many elements: keeps each request small enough to stay below
# client/server buffer limits while the whole write still commits atomically in one EXEC.
CHUNK = 1000


def table_key(name: str) -> bytes:
    return b"cyberdb:{" + name.encode("utf-8", "surrogatepass") + b"}"


def marker() -> bytes:
    """A list element no encoded value can equal (0xFE never starts UTF-8 nor our 0xFF tag): it marks the
    slot that an index delete/insert removes or inserts next to, since Redis addresses those by value."""
    return b"\xfe" + os.urandom(16)


def type_name(raw: bytes) -> str:
    return raw.decode()


def clamp(i: int) -> int:
    """Redis list indexes are 64-bit; Python's are unbounded. Past ±2**62 both mean 'out of range'."""
    return max(-(2**62), min(2**62, i))


def norm_slice_range(s: slice) -> tuple[int, int] | None:
    """LRANGE start/end for l[start:stop] (step 1), or None when the slice is empty whatever the length."""
    start = 0 if s.start is None else clamp(s.start.__index__())
    if s.stop is None:
        return start, -1
    stop = clamp(s.stop.__index__())
    # stop == 0 is always empty; with a negative start, `stop - 1 == -1` would otherwise mean "the end".
    if stop == 0 or (start >= 0 and stop >= 0 and stop <= start):
        return None
    return start, stop - 1
