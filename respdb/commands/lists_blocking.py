"""Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (the rest of the family is lists.py).

Each tries once like its non-blocking twin; if every key is empty it returns a `Block` and the server
parks the client without polling. When a push signals one of its keys, `serve()` pops from *that* key
(Redis serves a waiter from the key that became ready, not from its first non-empty key), and the
write is logged as the non-blocking command Redis propagates (BLPOP → LPOP key, BLMOVE → LMOVE ...).
"""

from __future__ import annotations

from typing import Any

from respdb.commands.args import to_timeout
from respdb.commands.dispatch import NOT_READY, Block
from respdb.commands.lists import list_at, move_element, move_push, mpop_key, parse_mpop, parse_where, pop_many
from respdb.commands.registry import command
from respdb.protocol.types import NULL_ARRAY
from respdb.server.client import Client
from respdb.storage.quicklist import QuickList

# Beyond this a timer is pointless (and some event loops reject such delays): wait forever instead.


def _block(ctx: Client, keys: list[bytes], deadline: float | None, serve_key: Any, exec_reply: Any = NULL_ARRAY) -> Any:
    """Park the client: `serve_key(key, list)` runs when `key` is signalled ready and holds elements.

    Every list wait times out with a null array (BLMOVE too, in Redis 7.0); inside MULTI/EXEC or a
    script the command cannot wait and answers `exec_reply` at once (a null bulk for BLMOVE).
    """
    if ctx.in_exec:
        return exec_reply
    block = Block(keys, deadline, None, NULL_ARRAY)
    db = ctx.db

    def serve() -> Any:
        key = block.ready_key
        value = db.get(key)
        if value is None or value.__class__ is not QuickList or not value:
            return NOT_READY  # a key of another type keeps its waiters blocked, as in Redis 7.0
        return serve_key(key, value)

    block.serve = serve
    return block


def _log_served(ctx: Client, argv: list[bytes], changes: int) -> None:
    """A blocked BLPOP/BRPOP/BLMOVE/BRPOPLPUSH was just served: Redis 7.0 logs that with alsoPropagate
    and adds nothing to `server.dirty` (rdb_changes_since_last_save), so take back the `changes` the
    pop and push counted and queue the logged command here (the server logs a served command only
    when the counter moved)."""
    ctx.keyspace.dirty -= changes
    server = ctx.server
    if server.propagate_hooks:
        server.propagation.append((ctx.db.id, argv))


def _bpop(ctx: Client, args: tuple[bytes, ...], left: bool) -> Any:
    keys, deadline = list(args[:-1]), to_timeout(args[-1])
    db = ctx.db
    name = b"LPOP" if left else b"RPOP"
    for key in keys:
        value = list_at(db, key)
        if value:
            ctx.propagate_argv = [name, key]
            return [key, pop_many(db, key, value, left, 1)[0]]

    def serve_key(key: bytes, value: QuickList) -> Any:
        element = pop_many(db, key, value, left, 1)[0]
        _log_served(ctx, [name, key], 1)
        return [key, element]

    return _block(ctx, keys, deadline, serve_key)


@command("blpop")
def blpop(ctx: Client, *args: bytes) -> Any:
    return _bpop(ctx, args, True)


@command("brpop")
def brpop(ctx: Client, *args: bytes) -> Any:
    return _bpop(ctx, args, False)


def _blmove(ctx: Client, src: bytes, dst: bytes, from_left: bool, to_left: bool, raw_timeout: bytes, logged: list[bytes], served: list[bytes]) -> Any:
    """BLMOVE/BRPOPLPUSH: logged as `logged` when served at once, as `served` when served later."""
    deadline = to_timeout(raw_timeout)
    db = ctx.db
    value = list_at(db, src)
    if value:
        ctx.propagate_argv = logged
        return move_element(ctx, src, dst, from_left, to_left)

    def serve_key(key: bytes, value: QuickList) -> Any:
        # WRONGTYPE on the destination unblocks the waiter with that error, as Redis does.
        dst_value = value if dst == src else list_at(db, dst)
        element = value.popleft() if from_left else value.pop()
        # Served waiters notify the pop before the push (Redis's serveClientBlockedOnList).
        db.changed(src, "l", "lpop" if from_left else "rpop")
        move_push(db, dst, dst_value, element, to_left)
        if not value:
            db.remove_if_empty(src, value)
            db.event(src, "g", "del")
        _log_served(ctx, served, 2)
        return element

    return _block(ctx, [src], deadline, serve_key, None)


@command("blmove")
def blmove(ctx: Client, src: bytes, dst: bytes, wherefrom: bytes, whereto: bytes, timeout: bytes) -> Any:
    from_left, to_left = parse_where(wherefrom), parse_where(whereto)
    # Redis keeps the client's words when it serves at once, and writes lower case when served later.
    served = [b"LMOVE", src, dst, b"left" if from_left else b"right", b"left" if to_left else b"right"]
    return _blmove(ctx, src, dst, from_left, to_left, timeout, [b"LMOVE", src, dst, wherefrom, whereto], served)


@command("brpoplpush")
def brpoplpush(ctx: Client, src: bytes, dst: bytes, timeout: bytes) -> Any:
    return _blmove(ctx, src, dst, False, True, timeout, [b"RPOPLPUSH", src, dst], [b"RPOPLPUSH", src, dst])


@command("blmpop")
def blmpop(ctx: Client, timeout: bytes, *args: bytes) -> Any:
    keys, left, count = parse_mpop(args)
    deadline = to_timeout(timeout)
    db = ctx.db
    for key in keys:
        value = list_at(db, key)
        if value:
            return mpop_key(ctx, db, key, value, left, count)

    def serve_key(key: bytes, value: QuickList) -> Any:
        return mpop_key(ctx, db, key, value, left, count)

    return _block(ctx, keys, deadline, serve_key)
