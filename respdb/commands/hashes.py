"""Hash commands (Redis's t_hash.c): a hash is a plain `dict` of bytes field → bytes value.

A dict keeps insertion order and updates a field in place, which is exactly the order of Redis's
listpack encoding; so for small hashes HGETALL/HKEYS/HVALS/HSCAN answer in the same order as Redis.
"""

from __future__ import annotations

import random
from itertools import chain

from respdb import errors
from respdb.commands.args import LLONG_MAX, LLONG_MIN, incr_float, to_float, to_int
from respdb.commands.encoding_history import record
from respdb.commands.generic import ENCODERS, parse_scan_cursor, parse_scan_options
from respdb.commands.registry import command
from respdb.commands.sets import elements, parse_count, picks_valid
from respdb.config import Config, param
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Map, PairList
from respdb.server.client import Client
from respdb.storage.glob import compile_glob
from respdb.storage.keyspace import WrongType
from respdb.storage.scan import scan_page

param("hash-max-listpack-entries", "int", 512, hi=2**63 - 1, aliases=("hash-max-ziplist-entries",))
param("hash-max-listpack-value", "int", 64, hi=2**63 - 1, aliases=("hash-max-ziplist-value",))

_HSET_ARGS = errors.WRONG_ARGS.format(name="hset")
_HMSET_ARGS = errors.WRONG_ARGS.format(name="hmset")
_LONG_MAX = 2**63 - 1


def is_listpack(config: Config, h: dict[bytes, bytes]) -> bool:
    """Whether Redis would keep this hash as a listpack (small: few, short fields and values)."""
    if len(h) > config.hash_max_listpack_entries:
        return False
    limit = config.hash_max_listpack_value
    return all(len(f) <= limit and len(v) <= limit for f, v in h.items())


def _encoding(config: Config, h: dict[bytes, bytes]) -> bytes:
    return b"listpack" if is_listpack(config, h) else b"hashtable"


ENCODERS[dict] = _encoding


def _note_growth(ctx: Client, key: bytes, h: dict[bytes, bytes], before: int, items: tuple[bytes, ...]) -> None:
    """After a write that added `items` (fields and values): Redis converts a listpack hash to a
    hashtable for good when one of them is too long or the hash outgrows the entry limit, so remember
    the conversion for OBJECT ENCODING (later deletions or overwrites could make it look small)."""
    config = ctx.server.config
    entries = config.hash_max_listpack_entries
    limit = config.hash_max_listpack_value
    if (before <= entries < len(h)) or any(len(x) > limit for x in items):
        record(ctx.db, key, h, b"hashtable")


def _write_hash(ctx: Client, key: bytes) -> dict[bytes, bytes]:
    """The hash at key, created (and announced as a new key) when missing."""
    db = ctx.db
    h = db.get(key)
    if h is None:
        h = {}
        db.add(key, h)
    elif h.__class__ is not dict:
        raise WrongType()
    return h


@command("hset")
def hset(ctx: Client, key: bytes, field: bytes, value: bytes, *more: bytes) -> int:
    # The first pair is named in the signature: the usual one-pair HSET builds no argument tuple.
    if len(more) & 1:
        raise CommandError(_HSET_ARGS)
    # _write_hash inlined: HSET is in redis-benchmark's default set and a call costs ~5% here.
    db = ctx.db
    h = db.get(key)
    if h is None:
        h = {}
        db.add(key, h)
    elif h.__class__ is not dict:
        raise WrongType()
    before = len(h)
    h[field] = value
    if more:
        h.update(zip(more[::2], more[1::2], strict=True))
        _note_growth(ctx, key, h, before, (field, value, *more))
    else:
        # _note_growth inlined for the same reason: three length checks instead of a call.
        config = ctx.server.config
        limit = config.hash_max_listpack_value
        if len(field) > limit or len(value) > limit or before <= config.hash_max_listpack_entries < len(h):
            record(db, key, h, b"hashtable")
    db.changed(key, "h", "hset", 1 + (len(more) >> 1))  # Redis counts every pair given, new or not
    return len(h) - before


@command("hmset")
def hmset(ctx: Client, key: bytes, *pairs: bytes) -> object:
    if len(pairs) & 1:
        raise CommandError(_HMSET_ARGS)
    h = _write_hash(ctx, key)
    before = len(h)
    h.update(zip(pairs[::2], pairs[1::2], strict=True))
    _note_growth(ctx, key, h, before, pairs)
    ctx.db.changed(key, "h", "hset", len(pairs) >> 1)  # one change per pair given, as Redis counts them
    return OK


@command("hsetnx")
def hsetnx(ctx: Client, key: bytes, field: bytes, value: bytes) -> int:
    h = ctx.db.get_typed(key, dict)
    if h is not None and field in h:
        return 0
    h = _write_hash(ctx, key)
    h[field] = value
    _note_growth(ctx, key, h, len(h) - 1, (field, value))
    ctx.db.changed(key, "h", "hset")
    return 1


@command("hget")
def hget(ctx: Client, key: bytes, field: bytes) -> bytes | None:
    h = ctx.db.get(key)
    if h is None:
        return None
    if h.__class__ is not dict:
        raise WrongType()
    return h.get(field)


@command("hmget")
def hmget(ctx: Client, key: bytes, *fields: bytes) -> list[bytes | None]:
    h = ctx.db.get_typed(key, dict)
    if h is None:
        return [None] * len(fields)
    get = h.get
    return [get(f) for f in fields]


@command("hgetall")
def hgetall(ctx: Client, key: bytes) -> Map:
    h = ctx.db.get_typed(key, dict)
    return Map(chain.from_iterable(h.items())) if h else Map()


@command("hkeys")
def hkeys(ctx: Client, key: bytes) -> list[bytes]:
    h = ctx.db.get_typed(key, dict)
    return list(h) if h else []


@command("hvals")
def hvals(ctx: Client, key: bytes) -> list[bytes]:
    h = ctx.db.get_typed(key, dict)
    return list(h.values()) if h else []


@command("hlen")
def hlen(ctx: Client, key: bytes) -> int:
    h = ctx.db.get_typed(key, dict)
    return len(h) if h else 0


@command("hstrlen")
def hstrlen(ctx: Client, key: bytes, field: bytes) -> int:
    h = ctx.db.get_typed(key, dict)
    if not h:
        return 0
    value = h.get(field)
    return 0 if value is None else len(value)


@command("hexists")
def hexists(ctx: Client, key: bytes, field: bytes) -> int:
    h = ctx.db.get_typed(key, dict)
    return 1 if h and field in h else 0


@command("hdel")
def hdel(ctx: Client, key: bytes, *fields: bytes) -> int:
    db = ctx.db
    h = db.get_typed(key, dict)
    if h is None:
        return 0
    removed = 0
    for f in fields:
        if h.pop(f, None) is not None:
            removed += 1
            if not h:
                break  # Redis stops at the last field too: the key is gone
    if removed:
        db.changed(key, "h", "hdel", removed)  # one change per field deleted, as Redis counts them
        if not h:
            db.remove_if_empty(key, h)
            db.event(key, "g", "del")
    return removed


@command("hincrby")
def hincrby(ctx: Client, key: bytes, field: bytes, increment: bytes) -> int:
    delta = to_int(increment)
    h = _write_hash(ctx, key)
    old = h.get(field)
    if old is None:
        current = 0
    else:
        current = to_int(old, errors.HASH_NOT_INT)
    result = current + delta
    if not LLONG_MIN <= result <= LLONG_MAX:
        raise CommandError(errors.OVERFLOW)
    before = len(h)
    h[field] = b"%d" % result
    _note_growth(ctx, key, h, before, (field,))
    ctx.db.changed(key, "h", "hincrby")
    return result


@command("hincrbyfloat")
def hincrbyfloat(ctx: Client, key: bytes, field: bytes, increment: bytes) -> bytes:
    to_float(increment)  # an invalid increment is reported before anything else, as in Redis
    # Checked before the hash is created, so a bad increment never leaves an empty key behind. Only
    # an "inf" literal is infinite: Redis reads the increment as a long double, where 1e400 is finite.
    if increment.lstrip(b"+-").lower() in (b"inf", b"infinity"):
        raise err("value is NaN or Infinity")
    h = _write_hash(ctx, key)
    new = incr_float(h.get(field), increment, errors.HASH_NOT_FLOAT)
    before = len(h)
    h[field] = new
    _note_growth(ctx, key, h, before, (field, new))
    # Replayed as HSET with the result, so a replica or the log never re-does float arithmetic.
    ctx.propagate_argv = [b"HSET", key, field, new]
    ctx.db.changed(key, "h", "hincrbyfloat")
    return new


@command("hrandfield")
def hrandfield(ctx: Client, key: bytes, *args: bytes) -> object:
    if not args:
        h = ctx.db.get_typed(key, dict)
        if not h:
            return None
        while True:
            field = random.choice(elements(ctx, h))
            if picks_valid(h, (field,)):
                return field
    count = parse_count(args[0])
    withvalues = False
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        withvalues = True
        if not -(_LONG_MAX // 2) <= count <= _LONG_MAX // 2:
            raise err("value is out of range")
    h = ctx.db.get_typed(key, dict)
    if not h or count == 0:
        return []
    if count >= len(h):
        fields: list[bytes] = list(h)
    else:
        while True:
            pool = elements(ctx, h)
            # Negative count: independent draws (repeats allowed) in random order.
            fields = random.choices(pool, k=-count) if count < 0 else random.sample(pool, count)
            if picks_valid(h, fields):
                break
    if not withvalues:
        return fields
    return PairList([[f, h[f]] for f in fields])


@command("hscan")
def hscan(ctx: Client, key: bytes, cursor: bytes, *args: bytes) -> list[object]:
    start = parse_scan_cursor(cursor)
    h = ctx.db.get_typed(key, dict)
    if h is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(args)
    if is_listpack(ctx.server.config, h):
        # A listpack is walked whole in one call, whatever COUNT says, as Redis does.
        nxt, page = 0, list(h)
    else:
        nxt, page = scan_page(lambda: list(h), start, count)
    match = compile_glob(pattern) if pattern is not None else None
    out: list[bytes] = []
    for f in page:
        value = h.get(f)
        if value is None or (match is not None and not match(f)):
            continue  # deleted since the cursor's snapshot, or filtered out
        out.append(f)
        out.append(value)
    return [b"%d" % nxt, out]
