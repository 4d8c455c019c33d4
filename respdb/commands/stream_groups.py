"""Consumer groups: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER), XACK, XPENDING,
XCLAIM, XAUTOCLAIM, and XINFO (STREAM, GROUPS, CONSUMERS). Claims are propagated as the XCLAIM ...
FORCE JUSTID commands that reproduce them, as Redis 7.0 does."""

from __future__ import annotations

from itertools import islice
from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command
from respdb.commands.streams import (
    ensure_consumer,
    entry_reply,
    get_stream,
    parse_id,
    parse_interval,
    propagate,
    setid_argv,
    strict_id,
    text,
    xclaim_argv,
)
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, OK, Map, Simple
from respdb.server.client import Client
from respdb.storage.keyspace import now_ms
from respdb.storage.stream import MAX_ID, MIN_ID, NACK, U64_MAX, Group, Stream, StreamID, format_id


# --- groups ----------------------------------------------------------------------------------------------
def _group_opts(opts: tuple[bytes, ...], sub: bytes, create: bool) -> tuple[bool, int]:
    mkstream = False
    entries_read = -1
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if create and opt == b"mkstream":
            mkstream = True
            i += 1
        elif opt == b"entriesread" and i + 1 < len(opts):
            entries_read = to_int(opts[i + 1])
            if entries_read < 0 and entries_read != -1:
                raise err("value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub=text(sub)[:128], cmd="XGROUP"))
    return mkstream, entries_read


def _group_target(ctx: Client, key: bytes, gname: bytes, need_group: bool) -> tuple[Stream, Group | None]:
    s = get_stream(ctx, key)
    if s is None:
        raise CommandError(errors.XGROUP_NO_KEY)
    group = s.groups.get(gname)
    if group is None and need_group:
        raise CommandError(errors.NOGROUP_KEY.format(group=text(gname), key=text(key)))
    return s, group


@command("xgroup|create")
def xgroup_create(ctx: Client, key: bytes, gname: bytes, raw: bytes, *opts: bytes) -> Any:
    mkstream, entries_read = _group_opts(opts, b"CREATE", True)
    db = ctx.db
    s = get_stream(ctx, key)
    if s is None and not mkstream:
        raise CommandError(errors.XGROUP_NO_KEY)
    if len(opts) > 3:
        raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub="CREATE", cmd="XGROUP"))
    if raw == b"$":
        sid = s.last_id if s is not None else MIN_ID
    else:
        sid = strict_id(raw)
    if s is None:
        s = Stream()
        db.add(key, s)
    if gname in s.groups:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    s.groups[gname] = Group(sid, entries_read)
    db.changed(key, "t", "xgroup-create")
    return OK


@command("xgroup|setid")
def xgroup_setid(ctx: Client, key: bytes, gname: bytes, raw: bytes, *opts: bytes) -> Any:
    _, entries_read = _group_opts(opts, b"SETID", False)
    s, group = _group_target(ctx, key, gname, True)
    if len(opts) not in (0, 2):
        raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub="SETID", cmd="XGROUP"))
    sid = s.last_id if raw == b"$" else parse_id(raw)[0]
    group.last_id = sid  # type: ignore[union-attr]
    group.entries_read = entries_read  # type: ignore[union-attr]
    ctx.db.changed(key, "t", "xgroup-setid")
    return OK


@command("xgroup|destroy")
def xgroup_destroy(ctx: Client, key: bytes, gname: bytes) -> int:
    s, group = _group_target(ctx, key, gname, False)
    if group is None:
        return 0
    del s.groups[gname]
    ctx.db.changed(key, "t", "xgroup-destroy")
    # Clients blocked in XREADGROUP on this group must learn it is gone (-NOGROUP).
    ctx.db.signal_ready(key)
    return 1


@command("xgroup|createconsumer")
def xgroup_createconsumer(ctx: Client, key: bytes, gname: bytes, cname: bytes) -> int:
    _, group = _group_target(ctx, key, gname, True)
    if group.create_consumer(cname, now_ms()) is None:  # type: ignore[union-attr]
        return 0
    ctx.db.changed(key, "t", "xgroup-createconsumer")
    return 1


@command("xgroup|delconsumer")
def xgroup_delconsumer(ctx: Client, key: bytes, gname: bytes, cname: bytes) -> int:
    _, group = _group_target(ctx, key, gname, True)
    consumer = group.consumers.get(cname)  # type: ignore[union-attr]
    if consumer is None:
        return 0
    pending = len(consumer.pel)
    group.delete_consumer(consumer)  # type: ignore[union-attr]
    ctx.db.changed(key, "t", "xgroup-delconsumer")
    return pending


_XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]


@command("xgroup|help")
def xgroup_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _XGROUP_HELP]


# --- acknowledging and claiming -------------------------------------------------------------------------
def _group_or_nogroup(ctx: Client, key: bytes, gname: bytes) -> tuple[Stream, Group]:
    s = get_stream(ctx, key)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_OR_KEY.format(key=text(key), group=text(gname)))
    return s, group  # type: ignore[return-value]


@command("xack")
def xack(ctx: Client, key: bytes, gname: bytes, *ids: bytes) -> int:
    s = get_stream(ctx, key)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        return 0
    acked = 0
    for sid in [strict_id(a) for a in ids]:
        nack = group.pel.pop(sid, None)
        if nack is not None:
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            acked += 1
    if acked:
        ctx.keyspace.dirty += acked
    return acked


@command("xpending")
def xpending(ctx: Client, key: bytes, gname: bytes, *args: bytes) -> Any:
    n = len(args)
    if n and not 3 <= n <= 6:
        raise CommandError(errors.SYNTAX)
    minidle = 0
    consumer_name = None
    if n:
        i = 0
        if args[0].lower() == b"idle":
            minidle = to_int(args[1])
            if n < 5:
                raise CommandError(errors.SYNTAX)
            i = 2
        count = max(to_int(args[i + 2]), 0)
        start = parse_interval(args[i], 0, True)
        end = parse_interval(args[i + 1], U64_MAX, False)
        if i + 3 < n:
            consumer_name = args[i + 3]
    s = get_stream(ctx, key)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_OR_KEY.format(key=text(key), group=text(gname)))
    if not n:
        if not group.pel:
            return [0, None, None, NULL_ARRAY]
        owners = [[name, b"%d" % len(c.pel)] for name, c in sorted(group.consumers.items()) if c.pel]
        return [len(group.pel), format_id(group.pel.peekitem(0)[0]), format_id(group.pel.peekitem(-1)[0]), owners]
    pel = group.pel
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pel
    now = now_ms()
    out = []
    if start <= end:
        for sid in pel.irange(start, end):
            if not count:
                break
            nack = pel[sid]
            if minidle and now - nack.delivery_time < minidle:
                continue
            count -= 1
            out.append([format_id(sid), nack.consumer.name, max(now - nack.delivery_time, 0), nack.delivery_count])
    return out


def _claim_one(group: Group, sid: StreamID, nack: NACK, cname: bytes, when: int, retrycount: int,
               justid: bool) -> None:
    consumer = group.consumers[cname]
    if nack.consumer is not consumer and nack.consumer is not None:
        nack.consumer.pel.pop(sid, None)
    nack.delivery_time = when
    if retrycount >= 0:
        nack.delivery_count = retrycount
    elif not justid:
        nack.delivery_count += 1
    consumer.pel[sid] = nack
    nack.consumer = consumer


def _claim_consumer(ctx: Client, key: bytes, group: Group, cname: bytes) -> int:
    # A claimer is created like a reader; its creation is not logged (the XCLAIM FORCE creates it).
    return ensure_consumer(ctx, key, b"", group, cname, False, [])


@command("xclaim")
def xclaim(ctx: Client, key: bytes, gname: bytes, cname: bytes, idle: bytes, *args: bytes) -> Any:
    s, group = _group_or_nogroup(ctx, key, gname)
    minidle = max(to_int(idle, "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    ids: list[StreamID] = []
    j = 0
    while j < len(args):
        try:
            ids.append(strict_id(args[j]))
        except CommandError:
            break
        j += 1
    now = now_ms()
    deliverytime = retrycount = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(args):
        more = len(args) - 1 - j
        opt = args[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            deliverytime = now - to_int(args[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif opt == b"time" and more:
            j += 1
            deliverytime = to_int(args[j], "ERR Invalid TIME option argument for XCLAIM")
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = to_int(args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"lastid" and more:
            j += 1
            last_id = strict_id(args[j])
        else:
            raise err(f"Unrecognized XCLAIM option '{text(args[j])}'")
        j += 1
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    prop: list[list[bytes]] = []
    out: list[Any] = []
    have_consumer = False
    created = 0
    for sid in ids:
        nack = group.pel.get(sid)
        if sid not in s.entries:
            if nack is not None:
                # The entry is gone: drop it from the PEL, and log that as an XCLAIM too.
                prop.append(xclaim_argv(key, gname, group, sid, nack))
                propagate_last_id = False
                del group.pel[sid]
                if nack.consumer is not None:
                    nack.consumer.pel.pop(sid, None)
            continue
        if force and nack is None:
            nack = group.pel[sid] = NACK(None, now)
        if nack is None:
            continue
        if nack.consumer is not None and minidle and now - nack.delivery_time < minidle:
            continue
        if not have_consumer:
            created = _claim_consumer(ctx, key, group, cname)
            have_consumer = True
        _claim_one(group, sid, nack, cname, deliverytime, retrycount, justid)
        out.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        prop.append(xclaim_argv(key, gname, group, sid, nack))
        propagate_last_id = False
    if propagate_last_id:
        prop.append(setid_argv(key, gname, group))
    # Redis counts one change per entry it logs (claims, dropped PEL entries, LASTID) and the
    # consumer it created.
    propagate(ctx, prop, len(prop) + created)
    return out


@command("xautoclaim")
def xautoclaim(ctx: Client, key: bytes, gname: bytes, cname: bytes, idle: bytes, start_arg: bytes, *args: bytes) -> Any:
    minidle = max(to_int(idle, "ERR Invalid min-idle-time argument for XAUTOCLAIM"), 0)
    start = parse_interval(start_arg, 0, True)
    count = 100
    justid = False
    j = 0
    while j < len(args):
        opt = args[j].lower()
        if opt == b"count" and j + 1 < len(args):
            count = to_int(args[j + 1], "ERR COUNT must be > 0")
            if not 1 <= count <= (2**63 - 1) // 16:
                raise err("COUNT must be > 0")
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    s, group = _group_or_nogroup(ctx, key, gname)
    attempts = count * 10
    now = now_ms()
    prop: list[list[bytes]] = []
    claimed: list[Any] = []
    deleted: list[bytes] = []
    have_consumer = False
    created = 0
    # The loop visits at most `attempts` PEL entries and the cursor is the one after: snapshot only those.
    pel_ids = list(islice(group.pel.irange(start, None), attempts + 1))
    pos = 0
    while attempts and count and pos < len(pel_ids):
        attempts -= 1
        sid = pel_ids[pos]
        pos += 1
        nack = group.pel[sid]
        if sid not in s.entries:
            prop.append(xclaim_argv(key, gname, group, sid, nack))
            del group.pel[sid]
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            deleted.append(format_id(sid))
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if not have_consumer:
            created = _claim_consumer(ctx, key, group, cname)
            have_consumer = True
        _claim_one(group, sid, nack, cname, now, -1, justid)
        claimed.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        count -= 1
        prop.append(xclaim_argv(key, gname, group, sid, nack))
    cursor = format_id(pel_ids[pos]) if pos < len(pel_ids) else b"0-0"
    propagate(ctx, prop, len(prop) + created)  # as XCLAIM: one per entry logged, and the consumer
    return [cursor, claimed, deleted]


# --- XINFO ----------------------------------------------------------------------------------------------
def _stream_for_info(ctx: Client, key: bytes) -> Stream:
    s = get_stream(ctx, key)
    if s is None:
        raise CommandError(errors.NO_SUCH_KEY)
    return s


@command("xinfo|stream")
def xinfo_stream(ctx: Client, key: bytes, *opts: bytes) -> Any:
    s = _stream_for_info(ctx, key)
    full = False
    count = 10
    if opts:
        if opts[0].lower() != b"full" or (len(opts) > 1 and (len(opts) != 3 or opts[1].lower() != b"count")):
            raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub="STREAM", cmd="XINFO"))
        full = True
        if len(opts) > 1:
            count = to_int(opts[2])
            if count < 0:
                count = 10
    head: list[Any] = [
        b"length", len(s), b"radix-tree-keys", len(s.nodes), b"radix-tree-nodes", s.rax_nodes(),
        b"last-generated-id", format_id(s.last_id), b"max-deleted-entry-id", format_id(s.max_deleted_id),
        b"entries-added", s.entries_added, b"recorded-first-entry-id", format_id(s.first_id),
    ]
    if not full:
        first = s.range(MIN_ID, MAX_ID, 1)
        last = s.range(MIN_ID, MAX_ID, 1, True)
        return Map(head + [
            b"groups", len(s.groups),
            b"first-entry", entry_reply(*first[0]) if first else None,
            b"last-entry", entry_reply(*last[0]) if last else None,
        ])
    groups = []
    for name in sorted(s.groups):
        g = s.groups[name]
        pel = [[format_id(sid), n.consumer.name if n.consumer else b"", n.delivery_time, n.delivery_count]
               for sid, n in _limited(g.pel.items(), count)]
        consumers = []
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            cpel = [[format_id(sid), n.delivery_time, n.delivery_count] for sid, n in _limited(c.pel.items(), count)]
            consumers.append(Map([b"name", cname, b"seen-time", c.seen_time, b"pel-count", len(c.pel), b"pending", cpel]))
        groups.append(Map([
            b"name", name, b"last-delivered-id", format_id(g.last_id),
            b"entries-read", g.entries_read if g.entries_read != -1 else None, b"lag", s.group_lag(g),
            b"pel-count", len(g.pel), b"pending", pel, b"consumers", consumers,
        ]))
    entries = [entry_reply(sid, p) for sid, p in s.range(MIN_ID, MAX_ID, count)]
    return Map(head + [b"entries", entries, b"groups", groups])


def _limited(items: Any, count: int) -> list[Any]:
    out = []
    for item in items:
        if count and len(out) >= count:
            break
        out.append(item)
    return out


@command("xinfo|groups")
def xinfo_groups(ctx: Client, key: bytes) -> Any:
    s = _stream_for_info(ctx, key)
    out = []
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append(Map([
            b"name", name, b"consumers", len(g.consumers), b"pending", len(g.pel),
            b"last-delivered-id", format_id(g.last_id),
            b"entries-read", g.entries_read if g.entries_read != -1 else None, b"lag", s.group_lag(g),
        ]))
    return out


@command("xinfo|consumers")
def xinfo_consumers(ctx: Client, key: bytes, gname: bytes) -> Any:
    s = _stream_for_info(ctx, key)
    g = s.groups.get(gname)
    if g is None:
        raise CommandError(errors.NOGROUP_KEY.format(group=text(gname), key=text(key)))
    now = now_ms()
    return [
        Map([b"name", name, b"pending", len(c.pel), b"idle", max(now - c.seen_time, 0)])
        for name, c in sorted(g.consumers.items())
    ]


_XINFO_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]


@command("xinfo|help")
def xinfo_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _XINFO_HELP]
