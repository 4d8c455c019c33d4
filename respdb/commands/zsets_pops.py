"""Sorted set pops: ZPOPMIN/ZPOPMAX, ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP.

A blocking pop first tries once like its non-blocking twin (the first non-empty key in argument order).
If every key is empty it returns a `Block`; when a write signals one of its keys the server sets
`block.ready_key` and `serve()` pops from *that* key, as Redis's serveClientsBlockedOnSortedSetKey does:
a client blocked on k1 k2 whose keys one MULTI fills k2 first is served from k2. The write is logged as
the non-blocking ZPOPMIN/ZPOPMAX Redis propagates, so replaying the log never blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from respdb import errors
from respdb.commands.args import parse_mpop, to_int, to_timeout
from respdb.commands.dispatch import NOT_READY, Block
from respdb.commands.registry import command
from respdb.commands.zsets import get_zset
from respdb.errors import CommandError
from respdb.protocol.types import NULL_ARRAY, Double, PairList, Raw
from respdb.server.client import Client
from respdb.storage.keyspace import Database, WrongType
from respdb.storage.zset import ZSet

_EMPTY = Raw(b"*0\r\n")


def _pop(ctx: Client, key: bytes, z: ZSet, use_max: bool, count: int) -> list[tuple[bytes, float]]:
    """Remove up to `count` elements from one end (events and key deletion as genericZpopCommand)."""
    n = min(count, len(z))
    if n == 1:
        out = [z.pop_at(-1 if use_max else 0)]
    elif use_max:
        out = [(m, s) for s, m in z.slice(len(z) - n, len(z), True)]
        z.delete_slice(len(z) - n, len(z))
    else:
        out = [(m, s) for s, m in z.slice(0, n)]
        z.delete_slice(0, n)
    db = ctx.db
    # Redis counts one change per element removed (INFO rdb_changes_since_last_save, save rules).
    db.changed(key, "z", "zpopmax" if use_max else "zpopmin", n)
    if not z:
        db.remove_if_empty(key, z)
        db.event(key, "g", "del")
    return out


def _first_nonempty(db: Database, keys: Iterable[bytes]) -> tuple[bytes, ZSet] | None:
    for key in keys:
        z = get_zset(db, key)
        if z:
            return key, z
    return None


def _zpop(ctx: Client, key: bytes, args: tuple[bytes, ...], use_max: bool) -> object:
    if len(args) > 1:
        raise CommandError(errors.SYNTAX)
    count = -1
    if args:
        count = to_int(args[0], errors.NOT_POSITIVE)
        if count < 0:
            raise CommandError(errors.NOT_POSITIVE)
    z = get_zset(ctx.db, key)
    if z is None or count == 0:
        return _EMPTY
    if count == -1:
        return _pop_one(ctx, key, z, use_max)
    return PairList([[m, Double(s)] for m, s in _pop(ctx, key, z, use_max, count)])


def _pop_one(ctx: Client, key: bytes, z: ZSet, use_max: bool) -> Raw:
    """ZPOPMIN/ZPOPMAX without a count from a non-empty zset: [member, score], pre-encoded."""
    member, score = _pop(ctx, key, z, use_max, 1)[0]
    text = b"%.17g" % score  # %g spells inf and -inf as Redis does
    if ctx.resp3:
        return Raw(b"*2\r\n$%d\r\n%b\r\n,%b\r\n" % (len(member), member, text))
    return Raw(b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(member), member, len(text), text))


def _zpop_top(ctx: Client, key: bytes, args: tuple[bytes, ...], use_max: bool) -> object:
    if args:
        return _zpop(ctx, key, args, use_max)
    # The form redis-benchmark sends, mostly to an emptied key: no count to parse, so the lookup
    # comes first, here, and a missing key costs no further call.
    z = ctx.db.get(key)
    if z is None:
        return _EMPTY
    if z.__class__ is not ZSet:
        raise WrongType()
    return _pop_one(ctx, key, z, use_max)


@command("zpopmin")
def zpopmin(ctx: Client, key: bytes, *args: bytes) -> object:
    return _zpop_top(ctx, key, args, False)


@command("zpopmax")
def zpopmax(ctx: Client, key: bytes, *args: bytes) -> object:
    return _zpop_top(ctx, key, args, True)


def _pop_reply(ctx: Client, key: bytes, z: ZSet, use_max: bool, count: int) -> list:
    """Pop from `key` for a BZPOP* (count -1: [key, member, score]) or a [B]ZMPOP ([key, pairs])."""
    popped = _pop(ctx, key, z, use_max, 1 if count == -1 else count)
    name = b"ZPOPMAX" if use_max else b"ZPOPMIN"
    if count == -1:
        # Served or not, the log gets the non-blocking form: replaying it must not block.
        ctx.propagate_argv = [name, key]
        member, score = popped[0]
        return [key, member, Double(score)]
    ctx.propagate_argv = [name, key, b"%d" % count]
    return [key, [[m, Double(s)] for m, s in popped]]


def _try_pop(ctx: Client, keys: tuple[bytes, ...], use_max: bool, count: int) -> list | None:
    """The immediate attempt: pop from the first non-empty key, None when all are empty."""
    found = _first_nonempty(ctx.db, keys)
    if found is None:
        return None
    return _pop_reply(ctx, found[0], found[1], use_max, count)


def _block_pop(ctx: Client, keys: tuple[bytes, ...], timeout: bytes, use_max: bool, count: int) -> object:
    deadline = to_timeout(timeout)
    reply = _try_pop(ctx, keys, use_max, count)
    if reply is not None:
        return reply
    if ctx.in_exec:
        return NULL_ARRAY
    block = Block(list(keys), deadline, None, NULL_ARRAY)
    db = ctx.db

    def serve() -> object:
        key = block.ready_key
        z = db.get(key)
        if z.__class__ is not ZSet or not z:
            return NOT_READY  # a key of another type keeps the client waiting (Redis 7.0 serves zsets only)
        return _pop_reply(ctx, key, z, use_max, count)

    block.serve = serve
    return block


@command("bzpopmin")
def bzpopmin(ctx: Client, *args: bytes) -> object:
    return _block_pop(ctx, args[:-1], args[-1], False, -1)


@command("bzpopmax")
def bzpopmax(ctx: Client, *args: bytes) -> object:
    return _block_pop(ctx, args[:-1], args[-1], True, -1)


@command("zmpop")
def zmpop(ctx: Client, *args: bytes) -> object:
    keys, use_max, count = parse_mpop(args, b"min", b"max")
    reply = _try_pop(ctx, keys, use_max, count)
    return NULL_ARRAY if reply is None else reply


@command("bzmpop")
def bzmpop(ctx: Client, timeout: bytes, *args: bytes) -> object:
    keys, use_max, count = parse_mpop(args, b"min", b"max")
    return _block_pop(ctx, keys, timeout, use_max, count)
