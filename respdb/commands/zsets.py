"""Sorted set commands: ZADD/ZINCRBY/ZREM, the point reads (ZSCORE, ZRANK, ZCOUNT ...), ZRANDMEMBER,
ZSCAN and the set algebra (ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD), with Redis 7.0's argument order and
errors; also the helpers the other sorted set modules share (typed lookup, range replies, *STORE).
Ranges are in zsets_ranges.py, pops (blocking too) in zsets_pops.py, geo commands in geo.py."""

from __future__ import annotations

import random
from collections.abc import Iterable

from respdb import errors
from respdb.commands.args import LLONG_MAX, to_int
from respdb.commands.generic import ENCODERS, parse_scan_cursor, parse_scan_options
from respdb.commands.registry import command
from respdb.config import param
from respdb.errors import CommandError, err
from respdb.protocol.encoder import format_double
from respdb.protocol.types import Double, PairList, Raw
from respdb.server.client import Client
from respdb.server.hooks import on_server_init
from respdb.storage.glob import compile_glob
from respdb.storage.keyspace import Database, WrongType
from respdb.storage.scan import scan_page
from respdb.storage.zset import (
    LIMITS,
    ZSet,
    combine,
    parse_lex_range,
    parse_score,
    parse_score_range,
)

param("zset-max-listpack-entries", "int", 128, aliases=("zset-max-ziplist-entries",), hi=LLONG_MAX)
param("zset-max-listpack-value", "memory", 64, aliases=("zset-max-ziplist-value",), hi=LLONG_MAX)


@on_server_init
def _install(server: object) -> None:
    config = server.config  # type: ignore[attr-defined]
    LIMITS["entries"] = config.zset_max_listpack_entries
    LIMITS["value"] = config.zset_max_listpack_value
    config.on_change("zset-max-listpack-entries", lambda v: LIMITS.__setitem__("entries", v))
    config.on_change("zset-max-listpack-value", lambda v: LIMITS.__setitem__("value", v))


ENCODERS[ZSet] = lambda config, z: b"skiplist" if z.big else b"listpack"


def get_zset(db: Database, key: bytes) -> ZSet | None:
    value = db.get(key)
    if value is not None and value.__class__ is not ZSet:
        raise WrongType()
    return value


def to_score(arg: bytes, error: str = errors.NOT_FLOAT) -> float:
    value = parse_score(arg)
    if value is None:
        raise CommandError(error)
    return value


def emit(ctx: Client, pairs: Iterable[tuple[float, bytes]], withscores: bool) -> list:
    """Range reply: members, or member/score pairs (nested with doubles in RESP3, flat in RESP2)."""
    if not withscores:
        return [m for _, m in pairs]
    if ctx.resp3:
        return PairList([[m, Double(s)] for s, m in pairs])
    # RESP2 scores are bulk strings; formatting them here (%.17g spells inf as Redis does) saves the
    # encoder a typed dispatch per element, the bulk of the cost of a long WITHSCORES reply.
    out: list[bytes] = []
    append = out.append
    for s, m in pairs:
        append(m)
        append(b"%.17g" % s)
    return out


def store_result(ctx: Client, dst: bytes, z: ZSet | None, event: str) -> int:
    """The *STORE commands: a non-empty result replaces dst (TTL dropped); an empty one deletes it."""
    db = ctx.db
    if z:
        if db.lookup_write(dst) is None:
            db.add(dst, z)
        else:
            db.set(dst, z)
        db.changed(dst, "z", event)
        db.signal_ready(dst)
        return len(z)
    if db.delete(dst):
        db.changed(dst, "g", "del")
    return 0


# --- ZADD / ZINCRBY / ZREM --------------------------------------------------------------------------
_ZADD_FLAGS = {b"nx": 1, b"xx": 2, b"ch": 4, b"incr": 8, b"gt": 16, b"lt": 32}


_NUMERIC_START = b"0123456789+-."  # a score, never an option word (b"" is an error either way)

# Pre-encoded replies of the hot commands: the dispatcher sends a Raw as it is.
_ZERO, _ONE = Raw(b":0\r\n"), Raw(b":1\r\n")


@command("zadd")
def zadd(ctx: Client, key: bytes, raw: bytes, member: bytes, *more: bytes) -> object:
    # The first two arguments are named in the signature: the usual ZADD key score member builds no
    # argument tuple. Anything else (options, several pairs) goes through zadd_generic.
    if more or raw[:1] not in _NUMERIC_START:
        args = (raw, member, *more)
        flags = 0
        i = 0
        n = len(args)
        while i < n:
            bit = _ZADD_FLAGS.get(args[i].lower())
            if bit is None:
                break
            flags |= bit
            i += 1
        return zadd_generic(ctx, key, flags, args[i:])
    # ZADD key score member, the common case, without the option machinery; inline rather than a
    # helper because ZADD is in redis-benchmark's default set and a call is a measurable share of it.
    score = float(raw) if raw.isdigit() and len(raw) < 300 else parse_score(raw)  # parse_score's fast path
    if score is None:
        raise CommandError(errors.NOT_FLOAT)
    db = ctx.db
    z = db.get(key)
    if z is None:
        z = ZSet(len(member))
        db.add(key, z)
        db.signal_ready(key)
    elif z.__class__ is not ZSet:
        raise WrongType()
    cur = z.scores.get(member)
    if cur is None:
        z.add(member, score)
        db.changed(key, "z", "zadd")
        return _ONE
    if cur != score:
        z.add(member, score)
        db.changed(key, "z", "zadd")
    return _ZERO


@command("zincrby")
def zincrby(ctx: Client, key: bytes, increment: bytes, member: bytes) -> object:
    return zadd_generic(ctx, key, 8, (increment, member))


def zadd_generic(ctx: Client, key: bytes, flags: int, pairs: tuple[bytes, ...]) -> object:
    npairs = len(pairs)
    if npairs % 2 or not npairs:
        raise CommandError(errors.SYNTAX)
    nx, xx, ch, incr, gt, lt = (flags & 1, flags & 2, flags & 4, flags & 8, flags & 16, flags & 32)
    if flags:
        if nx and xx:
            raise CommandError(errors.NX_XX)
        if (gt and nx) or (lt and nx) or (gt and lt):
            raise CommandError(errors.GT_LT_NX)
        if incr and npairs > 2:
            raise CommandError(errors.ZADD_INCR_PAIR)
    # Every score is checked before the key is touched, so a bad one changes nothing.
    scores = [to_score(pairs[j]) for j in range(0, npairs, 2)]
    db = ctx.db
    z = get_zset(db, key)
    if z is None:
        if xx:
            return None if incr else 0
        z = ZSet(len(pairs[1]))
        db.add(key, z)
        db.signal_ready(key)
    zscores = z.scores
    added = updated = processed = 0
    score = 0.0
    for j in range(npairs // 2):
        member = pairs[2 * j + 1]
        score = scores[j]
        cur = zscores.get(member)
        if cur is None:
            if xx:
                continue
            z.add(member, score)
            added += 1
            processed += 1
            continue
        if nx:
            continue
        if incr:
            score += cur
            if score != score:  # inf + -inf
                if not z:
                    db.remove_if_empty(key, z)
                raise CommandError(errors.SCORE_NAN)
        if (lt and score >= cur) or (gt and score <= cur):
            continue
        processed += 1
        if score != cur:
            z.add(member, score)
            updated += 1
    if added or updated:
        # Redis counts every element added or updated (rdb_changes_since_last_save, save rules).
        db.changed(key, "z", "zincr" if incr else "zadd", added + updated)
    if incr:
        return Double(score) if processed else None
    return added + updated if ch else added


@command("zrem")
def zrem(ctx: Client, key: bytes, *members: bytes) -> int:
    db = ctx.db
    z = get_zset(db, key)
    if z is None:
        return 0
    deleted = 0
    for member in members:
        if z.remove(member):
            deleted += 1
            if not z:
                break
    if deleted:
        db.changed(key, "z", "zrem", deleted)  # one change per element, as Redis counts them
        if not z:
            db.remove_if_empty(key, z)
            db.event(key, "g", "del")
    return deleted


# --- reads ---------------------------------------------------------------------------------------
@command("zscore")
def zscore(ctx: Client, key: bytes, member: bytes) -> object:
    z = get_zset(ctx.db, key)
    score = z.scores.get(member) if z is not None else None
    return None if score is None else Double(score)


@command("zmscore")
def zmscore(ctx: Client, key: bytes, *members: bytes) -> list:
    z = get_zset(ctx.db, key)
    if z is None:
        return [None] * len(members)
    get = z.scores.get
    return [None if (s := get(m)) is None else Double(s) for m in members]


@command("zcard")
def zcard(ctx: Client, key: bytes) -> int:
    z = get_zset(ctx.db, key)
    return 0 if z is None else len(z)


def to_score_range(min_: bytes, max_: bytes) -> tuple[float, bool, float, bool]:
    rng = parse_score_range(min_, max_)
    if rng is None:
        raise CommandError(errors.MIN_MAX_FLOAT)
    return rng


def to_lex_range(min_: bytes, max_: bytes) -> tuple:
    rng = parse_lex_range(min_, max_)
    if rng is None:
        raise CommandError(errors.MIN_MAX_LEX)
    return rng


@command("zcount")
def zcount(ctx: Client, key: bytes, min_: bytes, max_: bytes) -> int:
    rng = to_score_range(min_, max_)
    z = get_zset(ctx.db, key)
    if z is None:
        return 0
    lo, hi = z.score_range(rng)
    return hi - lo


@command("zlexcount")
def zlexcount(ctx: Client, key: bytes, min_: bytes, max_: bytes) -> int:
    rng = to_lex_range(min_, max_)
    z = get_zset(ctx.db, key)
    if z is None:
        return 0
    lo, hi = z.lex_range(rng)
    return hi - lo


def _rank(ctx: Client, key: bytes, member: bytes, reverse: bool) -> int | None:
    z = get_zset(ctx.db, key)
    if z is None:
        return None
    rank = z.rank(member)
    if rank is None:
        return None
    return len(z) - 1 - rank if reverse else rank


@command("zrank")
def zrank(ctx: Client, key: bytes, member: bytes) -> int | None:
    return _rank(ctx, key, member, False)


@command("zrevrank")
def zrevrank(ctx: Client, key: bytes, member: bytes) -> int | None:
    return _rank(ctx, key, member, True)


# --- ZRANDMEMBER / ZSCAN -------------------------------------------------------------------------------
@command("zrandmember")
def zrandmember(ctx: Client, key: bytes, *args: bytes) -> object:
    if not args:
        z = get_zset(ctx.db, key)
        if z is None:
            return None
        return z.at(random.randrange(len(z)))[1]
    count = to_int(args[0])
    if count < -LLONG_MAX:
        raise err(f"value is out of range, value must between {-LLONG_MAX} and {LLONG_MAX}")
    withscores = False
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"withscores"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        withscores = True
        if count < -(LLONG_MAX // 2) or count > LLONG_MAX // 2:
            raise err("value is out of range")
    z = get_zset(ctx.db, key)
    if z is None or count == 0:
        return []
    size = len(z)
    if count < 0 or count == 1:
        # Repeats allowed, random order: independent draws.
        picks = [z.at(random.randrange(size)) for _ in range(-count if count < 0 else 1)]
    elif count >= size:
        picks = list(z.slice(0, size, True))  # the whole set, highest first, as Redis 7.0 sends it
    else:
        picks = [z.at(i) for i in random.sample(range(size), count)]
    return emit(ctx, picks, withscores)


@command("zscan")
def zscan(ctx: Client, key: bytes, cursor: bytes, *args: bytes) -> list:
    start = parse_scan_cursor(cursor)
    z = get_zset(ctx.db, key)
    if z is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(args)
    if not z.big:
        nxt, page = 0, list(z.items())  # a listpack comes back whole, in order, as in Redis
    else:
        scores = z.scores
        nxt, members = scan_page(lambda: list(scores), start, count)
        page = [(m, scores[m]) for m in members if m in scores]
    match = compile_glob(pattern) if pattern is not None else None
    out: list[bytes] = []
    for member, score in page:
        if match is None or match(member):
            out.append(member)
            out.append(format_double(score))  # a bulk string even in RESP3, as Redis sends it
    return [b"%d" % nxt, out]


# --- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------------------
def _setop(ctx: Client, name: str, op: str, args: tuple[bytes, ...], dst: bytes | None, card_only: bool = False) -> object:
    """zunionInterDiffGenericCommand: args start at numkeys."""
    setnum = to_int(args[0])
    if setnum < 1:
        raise CommandError(errors.ZSET_NUMKEYS.format(name=name))
    if setnum > len(args) - 1:
        raise CommandError(errors.SYNTAX)
    db = ctx.db
    sources: list[ZSet | set | None] = []
    # Keys are looked up (and type-checked) before the options are parsed, as Redis does.
    for key in args[1 : setnum + 1]:
        value = db.get(key)
        if value is not None and value.__class__ is not ZSet and value.__class__ is not set:
            raise WrongType()
        sources.append(value)
    weights = [1.0] * setnum
    how = b"sum"
    withscores = False
    limit = 0
    j = setnum + 1
    n = len(args)
    while j < n:
        remaining = n - j
        opt = args[j].lower()
        if op != "diff" and not card_only and remaining >= setnum + 1 and opt == b"weights":
            weights = [to_score(w, errors.WEIGHT_NOT_FLOAT) for w in args[j + 1 : j + 1 + setnum]]
            j += setnum + 1
        elif op != "diff" and not card_only and remaining >= 2 and opt == b"aggregate":
            how = args[j + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise CommandError(errors.SYNTAX)
            j += 2
        elif dst is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and opt == b"limit":
            limit = to_int(args[j + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    result = combine(op, sources, weights, how, limit)
    if card_only:
        return len(result)
    if dst is not None:
        return store_result(ctx, dst, ZSet.from_items(result.items()), name)
    # The reply comes from the skiplist Redis builds, before any listpack conversion: -0 stays -0.
    return emit(ctx, sorted([(s, m) for m, s in result.items()]), withscores)


@command("zunion")
def zunion(ctx: Client, *args: bytes) -> object:
    return _setop(ctx, "zunion", "union", args, None)


@command("zinter")
def zinter(ctx: Client, *args: bytes) -> object:
    return _setop(ctx, "zinter", "inter", args, None)


@command("zdiff")
def zdiff(ctx: Client, *args: bytes) -> object:
    return _setop(ctx, "zdiff", "diff", args, None)


@command("zunionstore")
def zunionstore(ctx: Client, dst: bytes, *args: bytes) -> object:
    return _setop(ctx, "zunionstore", "union", args, dst)


@command("zinterstore")
def zinterstore(ctx: Client, dst: bytes, *args: bytes) -> object:
    return _setop(ctx, "zinterstore", "inter", args, dst)


@command("zdiffstore")
def zdiffstore(ctx: Client, dst: bytes, *args: bytes) -> object:
    return _setop(ctx, "zdiffstore", "diff", args, dst)


@command("zintercard")
def zintercard(ctx: Client, *args: bytes) -> object:
    return _setop(ctx, "zintercard", "inter", args, None, card_only=True)
