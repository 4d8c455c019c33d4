"""Keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, COPY, MOVE, expiry, OBJECT, FLUSH*, SWAPDB."""

from __future__ import annotations

import copy as _copy

from respdb import errors
from respdb.commands import encoding_history
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Simple
from respdb.server.client import Client
from respdb.storage.glob import compile_glob
from respdb.storage.keyspace import TYPE_NAMES, Database, now_ms
from respdb.storage.scan import scan_page


@command("del")
def del_(ctx: Client, *keys: bytes) -> int:
    db = ctx.db
    n = 0
    for key in keys:
        if db.delete(key):
            db.changed(key, "g", "del")
            n += 1
    return n


@command("unlink")
def unlink(ctx: Client, *keys: bytes) -> int:
    return del_(ctx, *keys)


@command("exists")
def exists(ctx: Client, *keys: bytes) -> int:
    db = ctx.db
    return sum(1 for key in keys if db.get(key) is not None)


@command("touch")
def touch(ctx: Client, *keys: bytes) -> int:
    return exists(ctx, *keys)


@command("type")
def type_(ctx: Client, key: bytes) -> object:
    return Simple(ctx.db.type_name(key))


@command("keys")
def keys(ctx: Client, pattern: bytes) -> list[bytes]:
    match = compile_glob(pattern)
    return [k for k in ctx.db.live_keys() if match(k)]


@command("dbsize")
def dbsize(ctx: Client) -> int:
    return len(ctx.db)


@command("randomkey")
def randomkey(ctx: Client) -> bytes | None:
    return ctx.db.random_key()


def parse_scan_cursor(raw: bytes) -> int:
    """strtoul as Redis calls it: optional sign, digits, no spaces; negative values wrap."""
    body = raw[1:] if raw[:1] in (b"-", b"+") else raw
    if not body.isdigit() or int(body) >= 2**64:
        raise CommandError(errors.INVALID_CURSOR)
    return int(raw) % 2**64


def parse_scan_options(args: tuple[bytes, ...], allow_type: bool = False, extra: tuple[bytes, ...] = ()) -> tuple[int, bytes | None, bytes | None, set[bytes]]:
    """MATCH/COUNT (and TYPE for SCAN) options: (count, pattern, type, flags present from `extra`)."""
    count, pattern, kind = 10, None, None
    flags: set[bytes] = set()
    i = 0
    while i < len(args):
        opt = args[i].lower()
        if opt == b"count" and i + 1 < len(args):
            count = to_int(args[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
            i += 2
        elif opt == b"match" and i + 1 < len(args):
            pattern = args[i + 1]
            i += 2
        elif allow_type and opt == b"type" and i + 1 < len(args):
            kind = args[i + 1].lower()
            i += 2
        elif opt in extra:
            flags.add(opt)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
    return count, pattern, kind, flags


@command("scan")
def scan(ctx: Client, cursor: bytes, *args: bytes) -> list[object]:
    start = parse_scan_cursor(cursor)
    count, pattern, kind, _ = parse_scan_options(args, allow_type=True)
    db = ctx.db
    nxt, page = scan_page(lambda: list(db.data), start, count)
    match = compile_glob(pattern) if pattern is not None else None
    out = []
    for key in page:
        value = db.get(key)
        if value is None:
            continue
        if match is not None and not match(key):
            continue
        if kind is not None and TYPE_NAMES[value.__class__] != kind:
            continue
        out.append(key)
    return [b"%d" % nxt, out]


@command("rename")
def rename(ctx: Client, src: bytes, dst: bytes) -> object:
    _rename(ctx.db, src, dst, nx=False)
    return OK


@command("renamenx")
def renamenx(ctx: Client, src: bytes, dst: bytes) -> int:
    return _rename(ctx.db, src, dst, nx=True)


def _rename(db: Database, src: bytes, dst: bytes, nx: bool) -> int:
    if db.get(src) is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else 1
    if nx and db.get(dst) is not None:
        return 0
    value, expire = db.pop_value(src)  # type: ignore[misc]
    db.delete(dst)
    db.set(dst, value)
    encoding_history.carry(db, src, db, dst, value, value, keep_source=False)
    if expire is not None:
        db.set_expire(dst, expire)
    db.changed(src, "g", "rename_from")
    db.changed(dst, "g", "rename_to", 0)  # two keys signalled, but Redis counts a rename as one change
    db.signal_ready(dst)
    return 1


def clone_value(value: object) -> object:
    """A deep copy of a stored value (COPY): collections must not be shared between keys."""
    if value.__class__ is bytes:
        return value
    if value.__class__ in (dict, set):
        return value.copy()  # type: ignore[attr-defined]
    clone = getattr(value, "clone", None)
    return clone() if clone is not None else _copy.deepcopy(value)


@command("copy")
def copy(ctx: Client, src: bytes, dst: bytes, *args: bytes) -> int:
    target = ctx.db
    replace = False
    i = 0
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
            i += 1
        elif opt == b"db" and i + 1 < len(args):
            index = to_int(args[i + 1], errors.DB_INDEX)
            if not 0 <= index < len(ctx.keyspace):
                raise CommandError(errors.DB_INDEX)
            target = ctx.keyspace[index]
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    if target is ctx.db and src == dst:
        raise CommandError(errors.SAME_DB)
    value = ctx.db.get(src)
    if value is None:
        return 0
    if target.lookup_write(dst) is not None:
        if not replace:
            return 0
        target.delete(dst)
    clone = clone_value(value)
    target.set(dst, clone)
    encoding_history.carry(ctx.db, src, target, dst, value, clone, keep_source=True)
    expire = ctx.db.get_expire(src)
    if expire is not None:
        target.set_expire(dst, expire)
    target.changed(dst, "g", "copy_to")
    target.signal_ready(dst)
    return 1


@command("move")
def move(ctx: Client, key: bytes, index: bytes) -> int:
    dbi = to_int(index)
    if not 0 <= dbi < len(ctx.keyspace):
        raise CommandError(errors.DB_INDEX)
    src, dst = ctx.db, ctx.keyspace[dbi]
    if src is dst:
        raise CommandError(errors.SAME_DB)
    if src.get(key) is None or dst.get(key) is not None:
        return 0
    value, expire = src.pop_value(key)  # type: ignore[misc]
    dst.set(key, value)
    encoding_history.carry(src, key, dst, key, value, value, keep_source=False)
    if expire is not None:
        dst.set_expire(key, expire)
    src.changed(key, "g", "move_from")
    dst.changed(key, "g", "move_to", 0)  # two databases signalled, but Redis counts a move as one change
    dst.signal_ready(key)
    return 1


# --- expiry ------------------------------------------------------------------------------------
def _expire_generic(ctx: Client, name: str, key: bytes, raw: bytes, opts: tuple[bytes, ...], unit_ms: int, absolute: bool) -> int:
    when = to_int(raw)
    nx = xx = gt = lt = False
    for opt in opts:
        low = opt.lower()
        if low == b"nx":
            nx = True
        elif low == b"xx":
            xx = True
        elif low == b"gt":
            gt = True
        elif low == b"lt":
            lt = True
        else:
            raise err(f"Unsupported option {opt.decode('utf-8', 'replace')}")
    if nx and (xx or gt or lt):
        raise err("NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise err("GT and LT options at the same time are not compatible")
    # Overflow checks as Redis: the product and the sum must fit a signed 64-bit integer.
    limit = 2**63 - 1
    if unit_ms != 1 and (when > limit // unit_ms or when < -limit // unit_ms):
        raise CommandError(errors.INVALID_EXPIRE.format(name=name))
    when *= unit_ms
    if not absolute:
        base = now_ms()
        if when > limit - base:
            raise CommandError(errors.INVALID_EXPIRE.format(name=name))
        when += base
    db = ctx.db
    if db.get(key) is None:
        return 0
    current = db.get_expire(key)
    if nx and current is not None:
        return 0
    if xx and current is None:
        return 0
    if gt and (current is None or when <= current):
        return 0
    if lt and current is not None and when >= current:
        return 0
    if when <= now_ms():
        db.delete(key)
        db.changed(key, "g", "del")
        ctx.propagate_argv = [b"DEL", key]
        return 1
    db.set_expire(key, when)
    db.changed(key, "g", "expire")
    ctx.propagate_argv = [b"PEXPIREAT", key, b"%d" % when]
    return 1


@command("expire")
def expire(ctx: Client, key: bytes, seconds: bytes, *opts: bytes) -> int:
    return _expire_generic(ctx, "expire", key, seconds, opts, 1000, False)


@command("pexpire")
def pexpire(ctx: Client, key: bytes, ms: bytes, *opts: bytes) -> int:
    return _expire_generic(ctx, "pexpire", key, ms, opts, 1, False)


@command("expireat")
def expireat(ctx: Client, key: bytes, ts: bytes, *opts: bytes) -> int:
    return _expire_generic(ctx, "expireat", key, ts, opts, 1000, True)


@command("pexpireat")
def pexpireat(ctx: Client, key: bytes, ts: bytes, *opts: bytes) -> int:
    return _expire_generic(ctx, "pexpireat", key, ts, opts, 1, True)


def _ttl(ctx: Client, key: bytes, unit_ms: int, absolute: bool) -> int:
    db = ctx.db
    if db.get(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    if absolute:
        return (when + 500) // 1000 if unit_ms == 1000 else when
    left = max(0, when - now_ms())
    return (left + 500) // 1000 if unit_ms == 1000 else left


@command("ttl")
def ttl(ctx: Client, key: bytes) -> int:
    return _ttl(ctx, key, 1000, False)


@command("pttl")
def pttl(ctx: Client, key: bytes) -> int:
    return _ttl(ctx, key, 1, False)


@command("expiretime")
def expiretime(ctx: Client, key: bytes) -> int:
    return _ttl(ctx, key, 1000, True)


@command("pexpiretime")
def pexpiretime(ctx: Client, key: bytes) -> int:
    return _ttl(ctx, key, 1, True)


@command("persist")
def persist(ctx: Client, key: bytes) -> int:
    db = ctx.db
    if db.get(key) is None or not db.persist(key):
        return 0
    db.changed(key, "g", "persist")
    return 1


# --- OBJECT --------------------------------------------------------------------------------------
ENCODERS: dict[type, object] = {}


def encoding_of(ctx: Client, value: object, key: bytes | None = None) -> bytes:
    """Redis's encoding name for a value, by the same thresholds and knobs as Redis (for a string at
    `key`, the encoding its writer left behind when that differs from the default rule)."""
    if key is not None:
        enc = encoding_history.forced(ctx.db, key, value)
        if enc is not None:
            return enc
    if value.__class__ is bytes:
        if len(value) <= 20 and _is_int_repr(value):  # type: ignore[arg-type]
            return b"int"
        return b"embstr" if len(value) <= 44 else b"raw"  # type: ignore[arg-type]
    fn = ENCODERS.get(value.__class__)
    if fn is None:
        raise err("object encoding not known")
    return fn(ctx.server.config, value)  # type: ignore[operator]


def _is_int_repr(value: bytes) -> bool:
    try:
        n = int(value)
    except ValueError:
        return False
    return b"%d" % n == value and -(2**63) <= n < 2**63


@command("object|encoding")
def object_encoding(ctx: Client, key: bytes) -> object:
    value = ctx.db.peek(key, miss_event=False)
    return None if value is None else encoding_of(ctx, value, key)


@command("object|refcount")
def object_refcount(ctx: Client, key: bytes) -> object:
    value = ctx.db.peek(key, miss_event=False)
    if value is None:
        return None
    # Redis shares the integers 0..9999 (refcount INT_MAX); every other object is referenced once.
    if value.__class__ is bytes and _is_int_repr(value) and 0 <= int(value) < 10000:
        return 2147483647
    return 1


@command("object|help")
def object_help(ctx: Client) -> object:
    lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]
    return [Simple(line.encode()) for line in lines]


# --- FLUSHDB / FLUSHALL / SWAPDB -------------------------------------------------------------------
def _flush_mode(args: tuple[bytes, ...]) -> None:
    if len(args) > 1 or (args and args[0].lower() not in (b"sync", b"async")):
        raise CommandError(errors.SYNTAX)


def _log_if_uncounted(ctx: Client, start: int, argv: list[bytes]) -> None:
    """Redis forces FLUSHDB/FLUSHALL into the AOF even when the counter ends where it started (nothing
    removed, or a save zeroed it): log it here then, as the dispatcher logs only commands that moved
    the counter (inside EXEC or a script it joins their batch)."""
    server = ctx.server
    if ctx.keyspace.dirty == start and server.propagate_hooks:
        server.propagation.append((ctx.db.id, argv))
        if not ctx.in_exec:
            server.flush_propagation()


@command("flushdb")
def flushdb(ctx: Client, *args: bytes) -> object:
    _flush_mode(args)
    ks = ctx.keyspace
    start = ks.dirty
    # Redis counts one change per key removed (expired ones not yet reclaimed included).
    ks.dirty += len(ctx.db.data)
    ctx.db.flush()
    if ks.on_change is not None:
        ks.on_change(ctx.db, None)  # type: ignore[arg-type]
    _log_if_uncounted(ctx, start, [b"FLUSHDB", *args])
    return OK


@command("flushall")
def flushall(ctx: Client, *args: bytes) -> object:
    _flush_mode(args)
    ks = ctx.keyspace
    start = ks.dirty
    ks.dirty += sum(len(db.data) for db in ks.dbs)  # as FLUSHDB: one change per key removed
    ks.flushall()
    encoding_history.forget_keyspace(ks)  # stale entries are harmless, but hold old values
    if ks.on_change is not None:
        ks.on_change(ctx.db, None)  # type: ignore[arg-type]  # one flush announcement
    persistence = getattr(ctx.server, "persistence", None)
    saves = persistence.rdb_saves if persistence is not None else 0
    for hook in ctx.server.flushall_hooks:
        hook()
    if persistence is not None and persistence.rdb_saves != saves:
        # With save rules the emptied dataset is saved at once, and in Redis that save zeroes the
        # counter (rdb_changes_since_last_save is 0 after FLUSHALL).
        ks.dirty = 0
    _log_if_uncounted(ctx, start, [b"FLUSHALL", *args])
    return OK


@command("swapdb")
def swapdb(ctx: Client, a: bytes, b: bytes) -> object:
    ia = to_int(a, "ERR invalid first DB index")
    ib = to_int(b, "ERR invalid second DB index")
    n = len(ctx.keyspace)
    if not (0 <= ia < n and 0 <= ib < n):
        raise CommandError(errors.DB_INDEX)
    ctx.keyspace.dirty += 1  # Redis counts a swap of a db with itself too
    if ia != ib:
        ctx.keyspace.swap(ia, ib)
        encoding_history.swap(ctx.keyspace[ia], ctx.keyspace[ib])
        if ctx.server.keyspace.ready_keys:
            ctx.server.serve_ready_keys()
    return OK
