"""XREAD and XREADGROUP: reading new entries, a consumer's own history, and blocking until a stream
has news (a blocked reader is served from the keys it waits on, first come first served)."""

from __future__ import annotations

import time
from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import NOT_READY, Block
from respdb.commands.registry import command
from respdb.commands.streams import (
    XREAD_BLOCKED_DEFAULT_COUNT,
    ensure_consumer,
    entries_raw,
    entry_reply,
    propagate,
    setid_argv,
    strict_id,
    text,
    xclaim_argv,
)
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, Map
from respdb.server.client import Client
from respdb.storage.keyspace import now_ms
from respdb.storage.stream import MAX_ID, MIN_ID, NACK, Group, Stream, StreamID, format_id, incr_id


# --- XREAD / XREADGROUP --------------------------------------------------------------------------------
def group_read(ctx: Client, key: bytes, s: Stream, gname: bytes, group: Group, cname: bytes, start: StreamID,
               count: int, noack: bool, prop: list[list[bytes]]) -> list[Any]:
    """streamReplyWithRange for a group reading new entries: advance the group, fill the PELs."""
    consumer = group.consumers[cname]
    now = now_ms()
    out = []
    propagate_last_id = False
    for sid in s.entries.irange(start, None):
        if sid > group.last_id:
            s.advance_group(group, sid)
            propagate_last_id = noack
        if not noack:
            nack = group.pel.get(sid)
            if nack is None:
                nack = group.pel[sid] = NACK(consumer, now)
            else:
                del nack.consumer.pel[sid]
                nack.consumer, nack.delivery_time, nack.delivery_count = consumer, now, 1
            consumer.pel[sid] = nack
            prop.append(xclaim_argv(key, gname, group, sid, nack))
        out.append(entry_reply(sid, s.entries[sid]))
        if count and len(out) >= count:
            break
    if propagate_last_id:
        prop.append(setid_argv(key, gname, group))
    return out


def _history(s: Stream, group: Group, cname: bytes, start: StreamID, count: int) -> list[Any]:
    """A consumer re-reading its own PEL from `start` (deleted entries come back with nil fields)."""
    consumer = group.consumers[cname]
    now = now_ms()
    out = []
    for sid in consumer.pel.irange(start, None):
        if count and len(out) >= count:
            break
        pairs = s.entries.get(sid)
        if pairs is None:
            out.append([format_id(sid), NULL_ARRAY])
        else:
            nack = consumer.pel[sid]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append(entry_reply(sid, pairs))
    return out



def _xread_reply(ctx: Client, items: list[tuple[bytes, Any]]) -> Any:
    if ctx.resp3:
        flat: list[Any] = []
        for key, entries in items:
            flat += [key, entries]
        return Map(flat)
    return [[key, entries] for key, entries in items]


def _xread(ctx: Client, args: tuple[bytes, ...], group_mode: bool) -> Any:
    timeout = -1
    count = 0
    streams_arg = 0
    gname = cname = None
    noack = False
    n = len(args)
    i = 0
    while i < n:
        more = n - i - 1
        opt = args[i].lower()
        if opt == b"block" and more:
            scripting = getattr(ctx.server, "scripting", None)
            if scripting is not None and ctx is scripting.client:
                # Redis names the command as the script spelled it; the handler only knows its name.
                raise err(f"{'xreadgroup' if group_mode else 'xread'} command is not allowed with BLOCK option from scripts")
            i += 1
            timeout = to_int(args[i], "ERR timeout is not an integer or out of range")
            if timeout < 0:
                raise CommandError(errors.TIMEOUT_NEGATIVE)
        elif opt == b"count" and more:
            i += 1
            count = max(to_int(args[i]), 0)
        elif opt == b"streams" and more:
            streams_arg = i + 1
            if (n - streams_arg) % 2:
                raise err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
                )
            break
        elif opt == b"group" and more >= 2:
            if not group_mode:
                raise err("The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
            gname, cname = args[i + 1], args[i + 2]
            i += 2
        elif opt == b"noack":
            if not group_mode:
                raise err("The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
            noack = True
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if streams_arg == 0:
        raise CommandError(errors.SYNTAX)
    if group_mode and gname is None:
        raise err("Missing GROUP option for XREADGROUP")
    nkeys = (n - streams_arg) // 2
    keys = list(args[streams_arg : streams_arg + nkeys])
    db = ctx.db
    ids: list[StreamID] = []
    groups: list[Group | None] = []
    for key, raw in zip(keys, args[streams_arg + nkeys :], strict=True):
        s = db.get_typed(key, Stream)
        group = None
        if gname is not None:
            group = s.groups.get(gname) if s is not None else None
            if group is None:
                raise CommandError(errors.XREADGROUP_NOGROUP.format(key=text(key), group=text(gname)))
        groups.append(group)
        if raw == b"$":
            if group_mode:
                raise err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this "
                    "consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just "
                    "return an empty result set."
                )
            ids.append(s.last_id if s is not None else MIN_ID)
        elif raw == b">":
            if not group_mode:
                raise err("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
            ids.append(MAX_ID)
        else:
            ids.append(strict_id(raw))
    prop: list[list[bytes]] = []
    items: list[tuple[bytes, Any]] = []
    changes = 0  # Redis counts each stream a group read serves, and each consumer it creates
    for key, gt, group in zip(keys, ids, groups, strict=True):
        s = db.get_typed(key, Stream)
        if s is None:
            continue
        serve = history = False
        if group is not None:
            if gt != MAX_ID:
                serve = history = True
            elif len(s) and s.last_valid_id() > group.last_id:
                serve = True
                gt = group.last_id
        elif len(s) and s.last_valid_id() > gt:
            serve = True
        if not serve:
            continue
        if group is not None:
            # Only a stream that is served looks the consumer up (creating it), as in Redis 7.0.
            changes += 1 + ensure_consumer(ctx, key, gname, group, cname, noack, prop)  # type: ignore[arg-type]
        start = incr_id(gt) or MAX_ID
        if history:
            items.append((key, _history(s, group, cname, start, count)))  # type: ignore[arg-type]
        elif group is not None:
            items.append((key, group_read(ctx, key, s, gname, group, cname, start, count, noack, prop)))  # type: ignore[arg-type]
        else:
            items.append((key, entries_raw(s.range(start, MAX_ID, count))))
    propagate(ctx, prop, changes)
    if items:
        return _xread_reply(ctx, items)
    if timeout == -1 or ctx.in_exec:
        return NULL_ARRAY
    deadline = None if timeout == 0 else time.monotonic() + timeout / 1000
    wait_ids = dict(zip(keys, ids, strict=True))
    bcount = count or XREAD_BLOCKED_DEFAULT_COUNT
    return Block(keys, deadline, lambda: _serve_blocked(ctx, wait_ids, gname, cname, noack, bcount), NULL_ARRAY)


def _serve_blocked(ctx: Client, wait_ids: dict[bytes, StreamID], gname: bytes | None, cname: bytes | None,
                   noack: bool, count: int) -> Any:
    """A key a blocked XREAD/XREADGROUP waits on was signalled: serve the first stream with news."""
    db = ctx.db
    for key, gt in wait_ids.items():
        s = db.get(key)
        if s is None or s.__class__ is not Stream:
            continue
        group = None
        if gname is not None:
            group = s.groups.get(gname)
            if group is None:
                raise CommandError("NOGROUP the consumer group this client was blocked on no longer exists")
            gt = group.last_id
        if not s.last_id > gt:
            continue
        start = incr_id(gt) or MAX_ID
        prop: list[list[bytes]] = []
        created = 0
        if group is not None:
            created = ensure_consumer(ctx, key, gname, group, cname, noack, prop)  # type: ignore[arg-type]
            entries = group_read(ctx, key, s, gname, group, cname, start, count, noack, prop)  # type: ignore[arg-type]
        else:
            entries = entries_raw(s.range(start, MAX_ID, count))
        # Redis 7.0 counts only a consumer created for a served waiter, though it logs the claims.
        propagate(ctx, prop, created, served=True)
        return _xread_reply(ctx, [(key, entries)])
    return NOT_READY



@command("xread")
def xread(ctx: Client, *args: bytes) -> Any:
    return _xread(ctx, args, False)


@command("xreadgroup")
def xreadgroup(ctx: Client, *args: bytes) -> Any:
    return _xread(ctx, args, True)
