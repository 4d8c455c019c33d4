"""List commands: pushes, pops, ranges, LPOS, LMOVE, LMPOP (the blocking pops are in lists_blocking.py).

A list is a `QuickList` (storage/quicklist.py): chunks of bytes, O(1) at both ends like Redis's
quicklist, so LPUSH on a million-element list costs what it costs on an empty one, and O(log n) by
index, so LINDEX/LSET/LRANGE in the middle of it are as cheap as at the ends. Argument checks happen in Redis's order
(some commands look the key up before parsing the rest), because the first error wins the reply.
Every push signals the key ready so clients blocked on it are served after the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from respdb import errors
from respdb.commands.args import LLONG_MIN, clip_range, to_int
from respdb.commands.args import parse_mpop as args_parse_mpop
from respdb.commands.generic import ENCODERS
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.protocol.types import NULL_ARRAY, OK, Raw
from respdb.server.client import Client
from respdb.storage.keyspace import Database, WrongType
from respdb.storage.quicklist import QuickList

ENCODERS[QuickList] = lambda config, value: b"quicklist"  # Redis 7.0 keeps every list in a quicklist

_LEFT, _RIGHT = b"left", b"right"
_EMPTY_ARRAY = Raw(b"*0\r\n")


# --- argument helpers --------------------------------------------------------------------------
def _positive(raw: bytes, error: str = errors.NOT_POSITIVE) -> int:
    """Redis's getPositiveLongFromObjectOrReply: one message for non-integers and negatives alike."""
    value = to_int(raw, error)
    if value < 0:
        raise CommandError(error)
    return value


def _wrap64(value: int) -> int:
    """C signed 64-bit wrap-around, for the few places where Redis's arithmetic overflows."""
    return ((value + 2**63) % 2**64) - 2**63


def parse_where(raw: bytes) -> bool:
    """LEFT|RIGHT → True for the head."""
    low = raw.lower()
    if low == _LEFT:
        return True
    if low == _RIGHT:
        return False
    raise CommandError(errors.SYNTAX)


def list_at(db: Database, key: bytes) -> QuickList | None:
    """The list at `key`, None if missing, WRONGTYPE if the key holds another type."""
    value = db.get(key)
    if value is not None and value.__class__ is not QuickList:
        raise WrongType()
    return value


def _removed(db: Database, key: bytes, value: QuickList, event: str, changes: int = 1) -> None:
    """Record a removal: the list event, then `del` if that emptied (and so deleted) the list."""
    db.changed(key, "l", event, changes)
    if not value:
        db.remove_if_empty(key, value)
        db.event(key, "g", "del")


# --- pushes ------------------------------------------------------------------------------------
# LPUSH/RPUSH/LPOP/RPOP are redis-benchmark staples: each command gets its own closure over one shared
# body, so a request costs one Python call into the handler and none into a common helper.
def _pusher(left: bool, only_existing: bool) -> Callable[..., int]:
    """The handler of [LR]PUSH[X]."""
    add = QuickList.extendleft if left else QuickList.extend  # extendleft pushes one by one: `LPUSH k a b` gives [b, a]
    add_one = QuickList.appendleft if left else QuickList.append
    event = "lpush" if left else "rpush"

    # The first element is named in the signature: the usual one-element push builds no tuple.
    def push(ctx: Client, key: bytes, element: bytes, *more: bytes) -> int:
        db = ctx.db
        value = db.get(key)
        if value is None:
            if only_existing:
                return 0
            value = QuickList()
            db.add(key, value)
        elif value.__class__ is not QuickList:
            raise WrongType()
        if more:
            n = add(value, (element, *more))
            db.changed_ready(key, "l", event, 1 + len(more))  # Redis counts each element pushed
        else:
            n = add_one(value, element)
            db.changed_ready(key, "l", event)
        return n

    return push


lpush = command("lpush")(_pusher(True, False))
rpush = command("rpush")(_pusher(False, False))
lpushx = command("lpushx")(_pusher(True, True))
rpushx = command("rpushx")(_pusher(False, True))


# --- pops --------------------------------------------------------------------------------------
def pop_many(db: Database, key: bytes, value: QuickList, left: bool, count: int) -> list[bytes]:
    """Pop up to `count` elements from one end (value non-empty), with events and empty-key deletion."""
    n = min(count, len(value))
    out = value.popleft_many(n) if left else value.pop_many(n)
    _removed(db, key, value, "lpop" if left else "rpop", n)  # one change per element popped, as Redis counts them
    return out


def _popper(left: bool) -> Callable[..., Any]:
    """The handler of LPOP/RPOP key [count]."""
    take = QuickList.popleft if left else QuickList.pop
    name = "lpop" if left else "rpop"

    def pop(ctx: Client, key: bytes, *count_raw: bytes) -> Any:
        db = ctx.db
        if not count_raw:
            value = db.get(key)
            if value is None:
                return None
            if value.__class__ is not QuickList:
                raise WrongType()
            element = take(value)
            db.changed(key, "l", name)  # _removed, inlined for the hot path
            if not value:
                db.remove_if_empty(key, value)
                db.event(key, "g", "del")
            return element
        if len(count_raw) > 1:
            raise CommandError(errors.WRONG_ARGS.format(name=name))
        count = _positive(count_raw[0])
        value = list_at(db, key)
        if value is None:
            return NULL_ARRAY
        if count == 0:
            return []
        return pop_many(db, key, value, left, count)

    return pop


lpop = command("lpop")(_popper(True))
rpop = command("rpop")(_popper(False))


# --- reads -------------------------------------------------------------------------------------
@command("llen")
def llen(ctx: Client, key: bytes) -> int:
    value = list_at(ctx.db, key)
    return 0 if value is None else len(value)


@command("lrange")
def lrange(ctx: Client, key: bytes, start: bytes, stop: bytes) -> list[bytes] | Raw:
    s, e = to_int(start), to_int(stop)
    value = list_at(ctx.db, key)
    if value is None:
        return _EMPTY_ARRAY
    lo, hi = clip_range(s, e, len(value))
    if lo == hi:
        return _EMPTY_ARRAY
    return value.range(lo, hi)  # a list of bytes: the dispatch loop encodes it (in C when built)


@command("lindex")
def lindex(ctx: Client, key: bytes, index: bytes) -> bytes | None:
    value = list_at(ctx.db, key)  # Redis looks the key up before parsing the index
    if value is None:
        return None
    i = to_int(index)
    n = len(value)
    if i < 0:
        i += n
    return value[i] if 0 <= i < n else None


@command("lset")
def lset(ctx: Client, key: bytes, index: bytes, element: bytes) -> object:
    db = ctx.db
    value = list_at(db, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    i = to_int(index)
    n = len(value)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise CommandError(errors.INDEX_RANGE)
    value[i] = element
    db.changed(key, "l", "lset")
    return OK


@command("linsert")
def linsert(ctx: Client, key: bytes, where: bytes, pivot: bytes, element: bytes) -> int:
    low = where.lower()
    if low not in (b"before", b"after"):
        raise CommandError(errors.SYNTAX)
    db = ctx.db
    value = list_at(db, key)
    if value is None:
        return 0
    try:
        i = value.index(pivot)
    except ValueError:
        return -1
    value.insert(i if low == b"before" else i + 1, element)
    db.changed(key, "l", "linsert")
    return len(value)


@command("lrem")
def lrem(ctx: Client, key: bytes, count: bytes, element: bytes) -> int:
    limit = to_int(count)
    db = ctx.db
    value = list_at(db, key)
    if value is None:
        return 0
    removed = value.remove(element, limit)  # count > 0 from the head, < 0 from the tail, 0 all
    if removed:
        _removed(db, key, value, "lrem", removed)  # one change per element removed, as Redis counts them
    return removed


@command("ltrim")
def ltrim(ctx: Client, key: bytes, start: bytes, stop: bytes) -> object:
    s, e = to_int(start), to_int(stop)
    db = ctx.db
    value = list_at(db, key)
    if value is None:
        return OK
    n = len(value)
    lo, hi = clip_range(s, e, n)
    left, right = (lo, n - hi) if lo < hi else (n, 0)
    value.trim(left, right)
    # Redis counts each trimmed element as a change: trimming nothing adds none and is not
    # propagated, though the key is still signalled and the event sent.
    _removed(db, key, value, "ltrim", left + right)
    return OK


@command("lpos")
def lpos(ctx: Client, key: bytes, element: bytes, *opts: bytes) -> Any:
    rank, count, maxlen = 1, -1, 0
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        more = i + 1 < len(opts)
        if opt == b"rank" and more:
            rank = to_int(opts[i + 1])
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif opt == b"count" and more:
            count = _positive(opts[i + 1], errors.LPOS_COUNT_NEGATIVE)
        elif opt == b"maxlen" and more:
            maxlen = _positive(opts[i + 1], errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    from_tail = rank < 0
    if from_tail and rank != LLONG_MIN:  # -LLONG_MIN overflows in Redis and stays negative
        rank = -rank
    value = list_at(ctx.db, key)
    if value is None:
        return [] if count != -1 else None
    out: list[int] = []
    for matches, pos in enumerate(value.positions(element, from_tail, maxlen), 1):
        if matches >= rank:
            if count == -1:
                return pos
            out.append(pos)
            if count and _wrap64(matches - rank + 1) >= count:
                break
    return out if count != -1 else None


# --- moves -------------------------------------------------------------------------------------
def move_push(db: Database, dst: bytes, dst_value: QuickList | None, element: bytes, to_left: bool) -> None:
    """The push half of LMOVE (Redis's lmoveHandlePush): creates the destination when missing."""
    if dst_value is None:
        dst_value = QuickList()
        db.add(dst, dst_value)
    if to_left:
        dst_value.appendleft(element)
    else:
        dst_value.append(element)
    db.changed(dst, "l", "lpush" if to_left else "rpush")
    db.signal_ready(dst)


def move_element(ctx: Client, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> bytes | None:
    db = ctx.db
    value = list_at(db, src)
    if value is None:
        return None
    dst_value = value if dst == src else list_at(db, dst)
    element = value.popleft() if from_left else value.pop()
    move_push(db, dst, dst_value, element, to_left)
    # Redis notifies the push on the destination before the pop on the source.
    _removed(db, src, value, "lpop" if from_left else "rpop", 0)  # Redis counts the move as one change
    return element


@command("lmove")
def lmove(ctx: Client, src: bytes, dst: bytes, wherefrom: bytes, whereto: bytes) -> bytes | None:
    return move_element(ctx, src, dst, parse_where(wherefrom), parse_where(whereto))


@command("rpoplpush")
def rpoplpush(ctx: Client, src: bytes, dst: bytes) -> bytes | None:
    return move_element(ctx, src, dst, False, True)


def parse_mpop(args: tuple[bytes, ...]) -> tuple[list[bytes], bool, int]:
    """numkeys key... LEFT|RIGHT [COUNT n] → (keys, from_left, count), errors in Redis's order."""
    keys, right, count = args_parse_mpop(args, _LEFT, _RIGHT)
    return keys, not right, count


def mpop_key(ctx: Client, db: Database, key: bytes, value: QuickList, left: bool, count: int) -> list[Any]:
    """Pop from one non-empty list for [B]LMPOP; logged as [LR]POP key n with n what was taken."""
    n = min(count, len(value))
    ctx.propagate_argv = [b"LPOP" if left else b"RPOP", key, b"%d" % n]
    return [key, pop_many(db, key, value, left, count)]


@command("lmpop")
def lmpop(ctx: Client, *args: bytes) -> Any:
    keys, left, count = parse_mpop(args)
    db = ctx.db
    for key in keys:
        value = list_at(db, key)
        if value:
            return mpop_key(ctx, db, key, value, left, count)
    return NULL_ARRAY
