"""String commands: GET/SET and friends, counters, ranges, APPEND, LCS."""

from __future__ import annotations

from respdb import errors
from respdb.commands.args import LLONG_MIN, incr_float, to_int
from respdb.commands.encoding_history import EMBSTR, RAW, SINGLETONS, record, whole_singleton
from respdb.commands.registry import command
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Map
from respdb.server.client import Client
from respdb.storage.keyspace import WrongType, now_ms


@command("get")
def get(ctx: Client, key: bytes) -> bytes | None:
    value = ctx.db.get(key)
    if value is not None and value.__class__ is not bytes:
        raise WrongType()
    return value


def _parse_expiry(ctx: Client, name: str, flag: bytes, raw: bytes) -> int:
    """EX/PX/EXAT/PXAT value → absolute ms; Redis's 'invalid expire time' for ≤ 0 or overflow."""
    when = to_int(raw)
    if when <= 0:
        raise CommandError(errors.INVALID_EXPIRE.format(name=name))
    limit = 2**63 - 1
    if flag in (b"ex", b"exat"):
        if when > limit // 1000:
            raise CommandError(errors.INVALID_EXPIRE.format(name=name))
        when *= 1000
    if flag in (b"ex", b"px"):
        if when > limit - now_ms():
            raise CommandError(errors.INVALID_EXPIRE.format(name=name))
        when += now_ms()
    return when


@command("set")
def set_(ctx: Client, key: bytes, value: bytes, *opts: bytes) -> object:
    db = ctx.db
    if not opts:
        db.write(key, value, "$", "set")
        if SINGLETONS and len(value) <= 1:
            whole_singleton(db, key)
        return OK
    nx = xx = get_old = keepttl = False
    expire_flag = None
    when = None
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get_old = True
        elif opt == b"keepttl" and expire_flag is None:
            keepttl = True
        elif opt in (b"ex", b"px", b"exat", b"pxat") and expire_flag is None and not keepttl and i + 1 < len(opts):
            expire_flag = opt
            i += 1
            when = opts[i]
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    when_ms = _parse_expiry(ctx, "set", expire_flag, when) if expire_flag is not None else None  # type: ignore[arg-type]
    # Only SET ... GET reads the key the way GET does (a keyspace hit or miss); NX/XX alone do not.
    old = db.get(key) if get_old else db.lookup_write(key)
    if get_old and old is not None and old.__class__ is not bytes:
        raise WrongType()
    if (nx and old is not None) or (xx and old is None):
        return old if get_old else None
    db.set(key, value, keep_ttl=keepttl)
    if SINGLETONS and len(value) <= 1:
        whole_singleton(db, key)
    if when_ms is not None:
        db.set_expire(key, when_ms)
        # Logged with an absolute time so replaying the log later does not extend the TTL.
        ctx.propagate_argv = [b"SET", key, value, b"PXAT", b"%d" % when_ms] + ([b"GET"] if get_old else [])
    db.changed(key, "$", "set")
    if when_ms is not None:
        db.event(key, "g", "expire")
    return old if get_old else OK


@command("setnx")
def setnx(ctx: Client, key: bytes, value: bytes) -> int:
    db = ctx.db
    if db.get(key) is not None:
        return 0
    db.set(key, value)
    if SINGLETONS and len(value) <= 1:
        whole_singleton(db, key)
    db.changed(key, "$", "set")
    return 1


def _setex(ctx: Client, name: str, key: bytes, raw: bytes, value: bytes, flag: bytes) -> object:
    when = _parse_expiry(ctx, name, flag, raw)
    db = ctx.db
    db.set(key, value)
    if SINGLETONS and len(value) <= 1:
        whole_singleton(db, key)
    db.set_expire(key, when)
    ctx.propagate_argv = [b"SET", key, value, b"PXAT", b"%d" % when]
    db.changed(key, "$", "set")
    db.event(key, "g", "expire")
    return OK


@command("setex")
def setex(ctx: Client, key: bytes, seconds: bytes, value: bytes) -> object:
    return _setex(ctx, "setex", key, seconds, value, b"ex")


@command("psetex")
def psetex(ctx: Client, key: bytes, ms: bytes, value: bytes) -> object:
    return _setex(ctx, "psetex", key, ms, value, b"px")


@command("getset")
def getset(ctx: Client, key: bytes, value: bytes) -> bytes | None:
    db = ctx.db
    old = db.get_string(key)
    db.set(key, value)
    if SINGLETONS and len(value) <= 1:
        whole_singleton(db, key)
    db.changed(key, "$", "set")
    return old


@command("getdel")
def getdel(ctx: Client, key: bytes) -> bytes | None:
    db = ctx.db
    old = db.get_string(key)
    if old is not None:
        db.delete(key)
        db.changed(key, "g", "del")
    return old


@command("getex")
def getex(ctx: Client, key: bytes, *opts: bytes) -> bytes | None:
    db = ctx.db
    flag = None
    raw = b""
    persist = False
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if opt in (b"ex", b"px", b"exat", b"pxat") and flag is None and not persist and i + 1 < len(opts):
            flag, raw = opt, opts[i + 1]
            i += 2
        elif opt == b"persist" and flag is None and not persist:
            persist = True
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
    when = _parse_expiry(ctx, "getex", flag, raw) if flag is not None else None
    value = db.get_string(key)
    if value is None:
        return None
    if when is not None:
        if when <= now_ms():
            db.delete(key)
            db.changed(key, "g", "del")
            ctx.propagate_argv = [b"DEL", key]
        else:
            db.set_expire(key, when)
            db.changed(key, "g", "expire")
            ctx.propagate_argv = [b"PEXPIREAT", key, b"%d" % when]
    elif persist and db.persist(key):
        db.changed(key, "g", "persist")
        ctx.propagate_argv = [b"PERSIST", key]
    return value


@command("mget")
def mget(ctx: Client, *keys: bytes) -> list[bytes | None]:
    get_ = ctx.db.get
    out = []
    for key in keys:
        value = get_(key)
        out.append(value if value is None or value.__class__ is bytes else None)
    return out


@command("mset")
def mset(ctx: Client, *pairs: bytes) -> object:
    if len(pairs) % 2:
        raise CommandError(errors.WRONG_ARGS.format(name="mset"))
    db = ctx.db
    db.write_pairs(pairs, "$", "set")
    if SINGLETONS:
        for i in range(0, len(pairs), 2):
            if len(pairs[i + 1]) <= 1:
                whole_singleton(db, pairs[i])
    return OK


@command("msetnx")
def msetnx(ctx: Client, *pairs: bytes) -> int:
    if len(pairs) % 2:
        raise CommandError(errors.WRONG_ARGS.format(name="msetnx"))
    db = ctx.db
    if any(db.get(pairs[i]) is not None for i in range(0, len(pairs), 2)):
        return 0
    mset(ctx, *pairs)
    return 1


@command("append")
def append(ctx: Client, key: bytes, value: bytes) -> int:
    db = ctx.db
    old = db.get_string(key)
    new = value if old is None else old + value
    _check_size(ctx, len(new))
    db.set(key, new, keep_ttl=True)
    if old is not None:
        record(db, key, new, RAW)  # appended in place (Redis: APPEND to a new key is encoded whole)
    elif SINGLETONS and len(new) <= 1:
        whole_singleton(db, key)
    db.changed(key, "$", "append")
    return len(new)


def _check_size(ctx: Client, size: int) -> None:
    if size > ctx.server.config.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


@command("strlen")
def strlen(ctx: Client, key: bytes) -> int:
    value = ctx.db.get_string(key)
    return 0 if value is None else len(value)


@command("getrange")
def getrange(ctx: Client, key: bytes, start: bytes, end: bytes) -> bytes:
    s, e = to_int(start), to_int(end)
    value = ctx.db.get_string(key)
    if value is None:
        return b""
    n = len(value)
    if s < 0 and e < 0 and s > e:
        return b""
    if s < 0:
        s = max(0, n + s)
    if e < 0:
        e = max(0, n + e)
    e = min(e, n - 1)
    if s > e or n == 0:
        return b""
    return value[s : e + 1]


@command("substr")
def substr(ctx: Client, key: bytes, start: bytes, end: bytes) -> bytes:
    return getrange(ctx, key, start, end)


@command("setrange")
def setrange(ctx: Client, key: bytes, offset: bytes, value: bytes) -> int:
    off = to_int(offset)
    if off < 0:
        raise CommandError(errors.OFFSET_RANGE)
    db = ctx.db
    old = db.get_string(key)
    if old is None:
        if not value:
            return 0
        old = b""
    elif not value:
        return len(old)
    _check_size(ctx, off + len(value))
    buf = bytearray(old)
    if len(buf) < off:
        buf.extend(b"\0" * (off - len(buf)))
    buf[off : off + len(value)] = value
    new = bytes(buf)
    db.set(key, new, keep_ttl=True)
    record(db, key, new, RAW)
    db.changed(key, "$", "setrange")
    return len(buf)


@command("incr")
def incr(ctx: Client, key: bytes, delta: int = 1) -> int:
    """INCR itself and the body of DECR/INCRBY/DECRBY. `delta` is never a client argument (INCR's
    arity is 2); INCR runs this body directly because a helper call is a tenth of its cost."""
    db = ctx.db
    old = db.get(key)
    if old is None:
        result = delta
    elif old.__class__ is not bytes:
        raise WrongType()
    elif old.isdigit() and len(old) < 19 and (old[0] != 48 or len(old) == 1):
        # The common case, inline: plain digits with no leading zero are canonical (string2ll) and
        # fit in 64 bits below 19 digits. Anything else takes the full check.
        result = int(old) + delta
    else:
        result = to_int(old) + delta
    if not -0x8000000000000000 <= result <= 0x7FFFFFFFFFFFFFFF:  # LLONG_MIN..LLONG_MAX, as constants
        raise CommandError(errors.OVERFLOW)
    new = b"%d" % result
    db.write(key, new, "$", "incrby", keep_ttl=True)
    if SINGLETONS and len(new) <= 1:
        whole_singleton(db, key)
    return result


@command("decr")
def decr(ctx: Client, key: bytes) -> int:
    return incr(ctx, key, -1)


@command("incrby")
def incrby(ctx: Client, key: bytes, delta: bytes) -> int:
    return incr(ctx, key, to_int(delta))


@command("decrby")
def decrby(ctx: Client, key: bytes, delta: bytes) -> int:
    d = to_int(delta)
    if d == LLONG_MIN:
        raise err("decrement would overflow")
    return incr(ctx, key, -d)


@command("incrbyfloat")
def incrbyfloat(ctx: Client, key: bytes, delta: bytes) -> bytes:
    db = ctx.db
    old = db.get_string(key)
    new = incr_float(old, delta, errors.NOT_FLOAT)
    db.set(key, new, keep_ttl=True)
    if new.lstrip(b"-").isdigit():
        # createStringObject: embstr even when it reads as an integer (which the default rule would
        # call int); any other result is embstr by the default rule and needs no entry.
        record(db, key, new, EMBSTR)
    ctx.propagate_argv = [b"SET", key, new, b"KEEPTTL"]
    db.changed(key, "$", "incrbyfloat")
    return new


@command("lcs")
def lcs(ctx: Client, key1: bytes, key2: bytes, *opts: bytes) -> object:
    want_len = want_idx = with_len = False
    min_len = 0
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if opt == b"len":
            want_len = True
        elif opt == b"idx":
            want_idx = True
        elif opt == b"withmatchlen":
            with_len = True
        elif opt == b"minmatchlen" and i + 1 < len(opts):
            min_len = max(0, to_int(opts[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    db = ctx.db
    a = db.get(key1)
    b = db.get(key2)
    if (a is not None and a.__class__ is not bytes) or (b is not None and b.__class__ is not bytes):
        raise err("The specified keys must contain string values")
    a = a or b""
    b = b or b""
    if want_len and want_idx:
        raise err("If you want both the length and indexes, please just use IDX.")
    # Dynamic programming table as Redis builds it; LCS is O(n*m) there too.
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for x in range(1, n + 1):
        ax = a[x - 1]
        row, prev = table[x], table[x - 1]
        for y in range(1, m + 1):
            row[y] = prev[y - 1] + 1 if ax == b[y - 1] else max(prev[y], row[y - 1])
    length = table[n][m]
    if want_len and not want_idx:
        return length
    result = bytearray(length)
    matches: list[object] = []
    # Walk back through the table exactly as Redis's lcsCommand, emitting ranges as it does.
    i, j, idx = n, m, length
    a_start, a_end, b_start, b_end = n, 0, 0, 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == n:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if a_start != n:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if want_idx and (min_len == 0 or match_len >= min_len):
                item: list[object] = [[a_start, a_end], [b_start, b_end]]
                if with_len:
                    item.append(match_len)
                matches.append(item)
            a_start = n
    if not want_idx:
        return bytes(result)
    return Map([b"matches", matches, b"len", length])
