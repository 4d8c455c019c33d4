"""Sorted set range commands: ZRANGE in all its forms (BYSCORE/BYLEX/REV/LIMIT), the legacy
ZREVRANGE/ZRANGEBYSCORE/ZRANGEBYLEX family, ZRANGESTORE, and ZREMRANGEBYRANK/SCORE/LEX — everything
that resolves a rank, score or lex interval to a slice of the set (zrangeGenericCommand)."""

from __future__ import annotations

from respdb import errors
from respdb.commands.args import clip_range, to_int
from respdb.commands.registry import command
from respdb.commands.zsets import emit, get_zset, store_result, to_lex_range, to_score_range
from respdb.errors import CommandError, err
from respdb.server.client import Client
from respdb.storage.zset import ZSet

# --- the ZRANGE family -----------------------------------------------------------------------------
RANK, SCORE, LEX = 0, 1, 2


def zrange_generic(ctx: Client, args: tuple[bytes, ...], dst: bytes | None, rangetype: int | None, reverse: bool | None) -> object:
    """zrangeGenericCommand: args are (src, min, max, options...)."""
    key, min_, max_ = args[0], args[1], args[2]
    withscores = False
    offset, limit = 0, -1
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].lower()
        if dst is None and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and n - i - 1 >= 2:
            offset = to_int(args[i + 1])
            limit = to_int(args[i + 2])
            i += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype is None and opt == b"bylex":
            rangetype = LEX
        elif rangetype is None and opt == b"byscore":
            rangetype = SCORE
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    reverse = bool(reverse)
    if rangetype is None:
        rangetype = RANK
    if limit != -1 and rangetype == RANK:
        raise err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and rangetype == LEX:
        raise err("syntax error, WITHSCORES not supported in combination with BYLEX")
    if reverse and rangetype != RANK:
        min_, max_ = max_, min_  # given as max, min
    if rangetype == RANK:
        rng: object = (to_int(min_), to_int(max_))
    elif rangetype == SCORE:
        rng = to_score_range(min_, max_)
    else:
        rng = to_lex_range(min_, max_)
    z = get_zset(ctx.db, key)
    if z is None:
        return [] if dst is None else store_result(ctx, dst, None, "zrangestore")
    if rangetype == RANK:
        lo, hi = clip_range(rng[0], rng[1], len(z))  # type: ignore[index]
        if reverse:
            lo, hi = len(z) - hi, len(z) - lo
    else:
        if rangetype == SCORE:
            lo, hi = z.score_range(rng)  # type: ignore[arg-type]
        else:
            lo, hi = z.lex_range_rev(rng) if reverse else z.lex_range(rng)  # type: ignore[arg-type]
        # Redis skips `offset` elements one by one; a negative offset never gets there.
        if offset < 0 or (offset > 0 and offset >= len(z)):
            lo = hi
        elif reverse:
            hi = max(lo, hi - offset)
            if limit >= 0:
                lo = max(lo, hi - limit)
        else:
            lo = min(hi, lo + offset)
            if limit >= 0:
                hi = min(hi, lo + limit)
    pairs = z.slice(lo, hi, reverse)
    if dst is None:
        return emit(ctx, pairs, withscores)
    result = ZSet.from_items((m, s) for s, m in pairs)
    return store_result(ctx, dst, result, "zrangestore")


@command("zrange")
def zrange(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, None, None)


@command("zrangestore")
def zrangestore(ctx: Client, dst: bytes, *args: bytes) -> object:
    return zrange_generic(ctx, args, dst, None, None)


@command("zrevrange")
def zrevrange(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, RANK, True)


@command("zrangebyscore")
def zrangebyscore(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, SCORE, False)


@command("zrevrangebyscore")
def zrevrangebyscore(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, SCORE, True)


@command("zrangebylex")
def zrangebylex(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, LEX, False)


@command("zrevrangebylex")
def zrevrangebylex(ctx: Client, *args: bytes) -> object:
    return zrange_generic(ctx, args, None, LEX, True)


# --- ZREMRANGEBY* ----------------------------------------------------------------------------------
def _zremrange(ctx: Client, key: bytes, min_: bytes, max_: bytes, rangetype: int) -> int:
    if rangetype == RANK:
        rng: object = (to_int(min_), to_int(max_))
    elif rangetype == SCORE:
        rng = to_score_range(min_, max_)
    else:
        rng = to_lex_range(min_, max_)
    db = ctx.db
    z = get_zset(db, key)
    if z is None:
        return 0
    if rangetype == RANK:
        lo, hi = clip_range(rng[0], rng[1], len(z))  # type: ignore[index]
    elif rangetype == SCORE:
        lo, hi = z.score_range(rng)  # type: ignore[arg-type]
    else:
        lo, hi = z.lex_range(rng)  # type: ignore[arg-type]
    deleted = z.delete_slice(lo, hi)
    if deleted:
        # one change per element, as Redis counts them
        db.changed(key, "z", ("zremrangebyrank", "zremrangebyscore", "zremrangebylex")[rangetype], deleted)
        if not z:
            db.remove_if_empty(key, z)
            db.event(key, "g", "del")
    return deleted


@command("zremrangebyrank")
def zremrangebyrank(ctx: Client, key: bytes, start: bytes, stop: bytes) -> int:
    return _zremrange(ctx, key, start, stop, RANK)


@command("zremrangebyscore")
def zremrangebyscore(ctx: Client, key: bytes, min_: bytes, max_: bytes) -> int:
    return _zremrange(ctx, key, min_, max_, SCORE)


@command("zremrangebylex")
def zremrangebylex(ctx: Client, key: bytes, min_: bytes, max_: bytes) -> int:
    return _zremrange(ctx, key, min_, max_, LEX)
