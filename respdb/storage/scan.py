"""SCAN-family cursors over Python containers, with Redis's guarantee: an element present for the
whole iteration is returned at least once.

A Python dict cannot be walked by bucket like Redis's reverse-binary cursor, so the first call
(cursor 0) snapshots the keys and the cursor carries (snapshot id, position). Snapshots are kept in
a bounded cache; a cursor whose snapshot was dropped restarts on a fresh one — elements may then
repeat, which SCAN allows, but none is missed.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

_MAX_SNAPSHOTS = 64
_POS_BITS = 40
_snapshots: OrderedDict[int, list[Any]] = OrderedDict()
_ids = itertools.count(1)


def scan_page(items_factory: Iterable[Any] | Any, cursor: int, count: int) -> tuple[int, list[Any]]:
    """One page: (next cursor, items). `items_factory()` returns the current elements as a list."""
    snap_id, pos = cursor >> _POS_BITS, cursor & ((1 << _POS_BITS) - 1)
    snapshot = _snapshots.get(snap_id) if cursor else None
    if snapshot is None:
        snapshot = items_factory()
        pos = 0  # a new scan, or an unknown snapshot: start over (repeats allowed, misses not)
        if len(snapshot) <= count:
            return 0, snapshot
        snap_id = next(_ids) & ((1 << 23) - 1) or next(_ids)
        _snapshots[snap_id] = snapshot
        if len(_snapshots) > _MAX_SNAPSHOTS:
            _snapshots.popitem(last=False)
    else:
        _snapshots.move_to_end(snap_id)
    page = snapshot[pos : pos + count]
    pos += count
    if pos >= len(snapshot):
        _snapshots.pop(snap_id, None)
        return 0, page
    return (snap_id << _POS_BITS) | pos, page
