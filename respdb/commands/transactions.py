"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queueing happens in dispatch (a command sent after MULTI is resolved and admission-checked, then
stored as (spec, argv) and answered QUEUED; an unknown command or arity error marks the transaction
so EXEC answers EXECABORT). EXEC runs the queue through `dispatch.call`, so every queued command
counts in the stats and its writes are queued for propagation; the whole batch then reaches the AOF
as one unit. WATCH registers the client in `db.watched`; `Database.changed`, expiry, FLUSHDB/FLUSHALL
and SWAPDB set `client.watch_dirty`, and EXEC then answers with a null array.

Redis 7.0 remembers whether a watched key had already expired when WATCH ran: its later deletion by
the expiry machinery is no change, while a key that expires after WATCH fails the EXEC even if nobody
touched it. Here a key already expired at WATCH is deleted right then (before the client is
registered), which yields the same EXEC outcomes; EXEC checks for watched keys that expired since.
"""

from __future__ import annotations

from respdb import errors
from respdb.commands.dispatch import ALREADY_PROPAGATED, Block, NoReply, call
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.protocol.types import NULL_ARRAY, OK, ErrorReply, Raw
from respdb.server.client import Client
from respdb.server.hooks import on_server_init
from respdb.storage.keyspace import now_ms


@command("multi")
def multi(ctx: Client) -> object:
    if ctx.multi is not None:
        raise CommandError(errors.MULTI_NESTED)
    ctx.multi = []
    ctx.multi_error = False
    ctx.refresh_plain()
    return OK


@command("discard")
def discard(ctx: Client) -> object:
    if ctx.multi is None:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    discard_transaction(ctx)
    return OK


@command("exec")
def exec_(ctx: Client) -> object:
    queue = ctx.multi
    if queue is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    if ctx.watching and not ctx.watch_dirty and _watched_key_expired(ctx):
        ctx.watch_dirty = True
    aborted, cas_failed = ctx.multi_error, ctx.watch_dirty
    # Unwatch before running: the transaction's own writes must not mark it dirty.
    discard_transaction(ctx)
    if aborted:
        raise CommandError(errors.EXECABORT)
    if cas_failed:
        return NULL_ARRAY
    server = ctx.server
    pubsub = server.pubsub
    parts = [b"*%d\r\n" % len(queue)]
    dirty = ctx.keyspace.dirty
    was_in_exec = ctx.in_exec
    acl_recheck = getattr(server, "acl_exec_check", None)
    ctx.in_exec = True  # blocking commands answer at once instead of blocking
    append = parts.append
    try:
        for spec, argv in queue:
            pubsub.current_argv = argv
            try:
                # The ACL hook only has work for a client whose user is restricted, which shows as a
                # mark in flags_extra; checked per command because a queued ACL SETUSER may add it.
                if ctx.flags_extra and acl_recheck is not None:
                    denied = acl_recheck(ctx, spec, argv)
                    if denied is not None:  # ACL rules changed since the command was queued
                        raise CommandError(denied)
                reply = call(ctx, spec, argv)
            except CommandError as exc:
                server.stat_errors(exc.text)
                reply = ErrorReply(exc.text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace"))
            if pubsub.held:
                # Messages to this very client (SUBSCRIBE then PUBLISH in one transaction) come
                # before the reply of the command that caused them, inside the EXEC array.
                append(pubsub.take_held())
            cls = reply.__class__
            # The commonest replies encoded inline, as both protocols encode them.
            if cls is bytes:
                append(b"$%d\r\n%b\r\n" % (len(reply), reply))
            elif cls is int:
                append(b":%d\r\n" % reply)
            elif cls is Raw:
                append(reply)
            elif cls is Block:
                append(ctx.encode(reply.timeout_reply))
            elif cls is not NoReply:
                append(ctx.encode(reply))  # looked up each time: a queued HELLO switches it
    finally:
        ctx.in_exec = was_in_exec
    if ctx.keyspace.dirty != dirty:
        # The queued commands were logged one by one; EXEC itself is not a write to log. (Set only
        # when something was written: call() clears it only then, and a stale marker would hide
        # the client's next write from the AOF.)
        ctx.propagate_argv = ALREADY_PROPAGATED
    return Raw(b"".join(parts))


@command("watch")
def watch(ctx: Client, *keys: bytes) -> object:
    if ctx.multi is not None:
        raise CommandError(errors.WATCH_IN_MULTI)
    if ctx.watch_dirty:
        return OK  # the transaction already failed: watching more keys cannot change that
    db = ctx.db
    for key in keys:
        clients = db.watched.get(key)
        if clients is not None and ctx in clients:
            continue
        when = db.get_expire(key)
        if when is not None and when <= now_ms():
            db.get(key)  # already expired: delete it now, while this client is not yet watching
        db.watched.setdefault(key, []).append(ctx)
        ctx.watching.append((db.id, key))
    return OK


@command("unwatch")
def unwatch(ctx: Client) -> object:
    unwatch_all(ctx)
    ctx.watch_dirty = False
    return OK


def _watched_key_expired(ctx: Client) -> bool:
    """A watched key whose TTL passed after WATCH (still in memory, not yet deleted)."""
    now = now_ms()
    keyspace = ctx.keyspace
    for db_id, key in ctx.watching:
        when = keyspace[db_id].get_expire(key)
        if when is not None and when <= now:
            return True
    return False


def unwatch_all(ctx: Client) -> None:
    if not ctx.watching:
        return
    keyspace = ctx.keyspace
    for db_id, key in ctx.watching:
        watched = keyspace[db_id].watched
        clients = watched.get(key)
        if clients is not None:
            if ctx in clients:
                clients.remove(ctx)
            if not clients:
                del watched[key]
    ctx.watching = []


def discard_transaction(ctx: Client) -> None:
    """Leave MULTI state: queue, error flag, watched keys and the CAS flag all go (Redis's
    discardTransaction)."""
    ctx.multi = None
    ctx.multi_error = False
    unwatch_all(ctx)
    ctx.watch_dirty = False
    ctx.refresh_plain()


@on_server_init
def install(server: object) -> None:
    server.disconnect_hooks.append(unwatch_all)  # type: ignore[attr-defined]
    server.reset_hooks.append(discard_transaction)  # type: ignore[attr-defined]
