"""OBJECT ENCODING where Redis's answer depends on a value's history, not only on its contents.

Hashes and sets: Redis converts a listpack hash or an intset set to a hashtable when it outgrows the
thresholds, and never converts it back; hashes.py and sets.py record the conversion here (keyed and
checked as below) before a write could make the contents look small again.

Strings: Redis encodes a string written whole (SET, GETSET, MSET, APPEND creating the key, RESTORE...) by
tryObjectEncoding: `int` if it is a canonical 64-bit integer of at most 20 bytes, `embstr` up to 44
bytes, `raw` beyond; that rule needs no history and is what generic.encoding_of applies by default.
Two other paths leave a different encoding behind:
- edits in place go through dbUnshareStringValue or create an sds-backed object, so APPEND to an
  existing key, SETRANGE, SETBIT, BITFIELD with a write op, BITOP's destination, PFADD, PFMERGE and a
  PFCOUNT that refreshes its cached cardinality all leave `raw`, whatever the length;
- INCRBYFLOAT builds its result with createStringObject: `embstr` even when it reads as an integer.

Values are plain objects, so those writers record (value, encoding) here, keyed by (Database, key).
The entry holds the value object itself, so `entry[0] is value` proves the key still holds that very
value: any other writer stores a different object and the stale entry is simply ignored. Nothing is
added to GET or to writes that keep the default rule, with one exception: CPython shares one object
for the empty value and for each 1-byte value, so such a string written whole could be the very
object a stale entry holds. Writers of whole strings therefore call `whole_singleton` for values of
at most one byte, which costs one global truth test while no such entry exists. Stale entries keep old
values alive, so the table is swept whenever it doubles (amortised O(1) per entry).
"""

from __future__ import annotations

from respdb.storage.keyspace import Database

RAW = b"raw"
EMBSTR = b"embstr"

_FORCED: dict[tuple[Database, bytes], tuple[object, bytes]] = {}
# Keys whose recorded value is empty or a single byte (CPython singletons): the only entries a
# whole-string writer can collide with.
SINGLETONS: set[tuple[Database, bytes]] = set()
_sweep_at = 1024


def record(db: Database, key: bytes, value: object, encoding: bytes) -> None:
    """`key` in `db` now holds `value`, made by a writer that leaves `encoding` behind."""
    global _sweep_at
    entry = (db, key)
    old = _FORCED.get(entry)
    if old is not None and old[0] is value and old[1] == encoding:
        # Already recorded (HSET of a long value to the same hash, over and over): a read, no store.
        return
    _FORCED[entry] = (value, encoding)
    if value.__class__ is bytes and len(value) <= 1:
        SINGLETONS.add(entry)
    if len(_FORCED) > _sweep_at:
        _sweep()
        _sweep_at = max(1024, 2 * len(_FORCED))


def forced(db: Database, key: bytes, value: object) -> bytes | None:
    """The encoding recorded for `key` if it still holds the recorded value, else None."""
    entry = _FORCED.get((db, key))
    return entry[1] if entry is not None and entry[0] is value else None


def whole_singleton(db: Database, key: bytes) -> None:
    """A writer that follows the default rule stored a value of at most one byte at `key`: drop any entry."""
    entry = (db, key)
    if entry in SINGLETONS:
        SINGLETONS.discard(entry)
        _FORCED.pop(entry, None)


def carry(src: Database, src_key: bytes, dst: Database, dst_key: bytes, value: object, dst_value: object,
          keep_source: bool) -> None:
    """RENAME/MOVE (keep_source False) and COPY (True, `dst_value` the copy): the destination keeps the
    source's encoding, as Redis moves the object or duplicates it encoding and all."""
    enc = forced(src, src_key, value)
    if not keep_source:
        _FORCED.pop((src, src_key), None)
        SINGLETONS.discard((src, src_key))
    if enc is not None:
        record(dst, dst_key, dst_value, enc)
    else:
        _FORCED.pop((dst, dst_key), None)
        SINGLETONS.discard((dst, dst_key))


def swap(a: Database, b: Database) -> None:
    """SWAPDB exchanged the contents of two databases: their entries change places too."""
    moved = [(db, key, entry) for (db, key), entry in _FORCED.items() if db is a or db is b]
    for db, key, _ in moved:
        del _FORCED[(db, key)]
        SINGLETONS.discard((db, key))
    for db, key, (value, enc) in moved:
        record(b if db is a else a, key, value, enc)


def forget_keyspace(keyspace: object) -> None:
    """FLUSHALL: drop this server's entries (they are stale, but hold the old values)."""
    for entry in [e for e in _FORCED if e[0].keyspace is keyspace]:
        del _FORCED[entry]
        SINGLETONS.discard(entry)


def _sweep() -> None:
    """Drop entries whose key no longer holds the recorded value (so their values can be freed)."""
    for (db, key), (value, _) in list(_FORCED.items()):
        if db.data.get(key) is not value:
            del _FORCED[(db, key)]
            SINGLETONS.discard((db, key))
