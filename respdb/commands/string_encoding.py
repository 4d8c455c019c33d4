"""OBJECT ENCODING of strings whose encoding Redis derives from their history, not their bytes.

Redis encodes a string written whole (SET, GETSET, MSET, APPEND creating the key, RESTORE...) by
tryObjectEncoding: `int` if it is a canonical 64-bit integer of at most 20 bytes, `embstr` up to 44
bytes, `raw` beyond; that rule needs no history and is what generic.encoding_of applies by default.
Two other paths leave a different encoding behind:
- edits in place go through dbUnshareStringValue or create an sds-backed object, so APPEND to an
  existing key, SETRANGE, SETBIT, BITFIELD with a write op, BITOP's destination, PFADD, PFMERGE and a
  PFCOUNT that refreshes its cached cardinality all leave `raw`, whatever the length;
- INCRBYFLOAT builds its result with createStringObject: `embstr` even when it reads as an integer.

Values are plain `bytes`, so those writers record (value, encoding) here, keyed by (Database, key).
The entry holds the value object itself, so `entry[0] is value` proves the key still holds that very
string: any other writer stores a different object and the stale entry is simply ignored. Nothing is
added to GET or to writes that keep the default rule, with one exception: CPython shares one object
per 1-byte value, so a 1-byte string written whole could be the very object a stale entry holds.
Writers of whole strings therefore call `whole_one_byte` for 1-byte values, which costs one global
truth test while no 1-byte entry exists. Stale entries keep old values alive, so the table is swept
whenever it doubles (amortised O(1) per entry). Empty strings are not recorded (`b""` is shared too
and only APPEND of "" to "" makes a raw one); they keep the default `embstr`.
"""

from __future__ import annotations

from respdb.storage.keyspace import Database

RAW = b"raw"
EMBSTR = b"embstr"

_FORCED: dict[tuple[Database, bytes], tuple[bytes, bytes]] = {}
# Keys whose recorded value is a single byte (a CPython singleton): the only ones a whole-string
# writer can collide with.
ONE_BYTE: set[tuple[Database, bytes]] = set()
_sweep_at = 1024


def record(db: Database, key: bytes, value: bytes, encoding: bytes) -> None:
    """`key` in `db` now holds `value`, made by a writer that leaves `encoding` behind."""
    global _sweep_at
    if not value:
        return
    entry = (db, key)
    _FORCED[entry] = (value, encoding)
    if len(value) == 1:
        ONE_BYTE.add(entry)
    if len(_FORCED) > _sweep_at:
        _sweep()
        _sweep_at = max(1024, 2 * len(_FORCED))


def forced(db: Database, key: bytes, value: bytes) -> bytes | None:
    """The encoding recorded for `key` if it still holds the recorded value, else None."""
    entry = _FORCED.get((db, key))
    return entry[1] if entry is not None and entry[0] is value else None


def whole_one_byte(db: Database, key: bytes) -> None:
    """A writer that follows the default rule stored a 1-byte value at `key`: drop any entry."""
    entry = (db, key)
    if entry in ONE_BYTE:
        ONE_BYTE.discard(entry)
        _FORCED.pop(entry, None)


def carry(src: Database, src_key: bytes, dst: Database, dst_key: bytes, value: object, keep_source: bool) -> None:
    """RENAME/MOVE (keep_source False) and COPY (True): the destination keeps the source's encoding,
    as Redis moves the object or duplicates it encoding and all."""
    if value.__class__ is not bytes:
        return
    enc = forced(src, src_key, value)  # type: ignore[arg-type]
    if not keep_source:
        _FORCED.pop((src, src_key), None)
        ONE_BYTE.discard((src, src_key))
    if enc is not None:
        record(dst, dst_key, value, enc)  # type: ignore[arg-type]
    else:
        _FORCED.pop((dst, dst_key), None)
        ONE_BYTE.discard((dst, dst_key))


def swap(a: Database, b: Database) -> None:
    """SWAPDB exchanged the contents of two databases: their entries change places too."""
    moved = [(db, key, entry) for (db, key), entry in _FORCED.items() if db is a or db is b]
    for db, key, _ in moved:
        del _FORCED[(db, key)]
        ONE_BYTE.discard((db, key))
    for db, key, (value, enc) in moved:
        record(b if db is a else a, key, value, enc)


def forget_keyspace(keyspace: object) -> None:
    """FLUSHALL: drop this server's entries (they are stale, but hold the old values)."""
    for entry in [e for e in _FORCED if e[0].keyspace is keyspace]:
        del _FORCED[entry]
        ONE_BYTE.discard(entry)


def _sweep() -> None:
    """Drop entries whose key no longer holds the recorded value (so their values can be freed)."""
    for (db, key), (value, _) in list(_FORCED.items()):
        if db.data.get(key) is not value:
            del _FORCED[(db, key)]
            ONE_BYTE.discard((db, key))
