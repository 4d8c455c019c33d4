"""Stream commands: XADD/XTRIM/XDEL/XLEN/XRANGE, XREAD and the consumer-group family, XINFO, XSETID.

Argument order, error texts and what is propagated follow Redis 7.0's t_stream.c: XREADGROUP, XCLAIM
and XAUTOCLAIM are never logged as themselves but as the XCLAIM/XGROUP SETID/CREATECONSUMER commands
that reproduce their effect, and XADD is logged with the concrete id it generated.
"""

from __future__ import annotations

import re
import time
from itertools import islice
from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import NOT_READY, Block
from respdb.commands.generic import ENCODERS
from respdb.commands.registry import command
from respdb.config import param
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, OK, Map, Raw, Simple
from respdb.server.client import Client
from respdb.storage.keyspace import WrongType, now_ms
from respdb.storage.stream import (
    MAX_ID,
    MIN_ID,
    NACK,
    U64_MAX,
    Group,
    Stream,
    StreamID,
    decr_id,
    format_id,
    incr_id,
)

param("stream-node-max-bytes", "memory", 4096, hi=2**63 - 1)
param("stream-node-max-entries", "int", 100, hi=2**63 - 1)
ENCODERS[Stream] = lambda config, value: b"stream"

_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
XREAD_BLOCKED_DEFAULT_COUNT = 1000


# --- ids -------------------------------------------------------------------------------------------
def _strtoull(s: bytes) -> int | None:
    """Redis's string2ull: a canonical int64 must be >= 0; otherwise strtoull's looser syntax."""
    try:
        v = to_int(s)
    except CommandError:
        m = _STRTOULL.fullmatch(s)
        if m is None or int(m.group(2)) > U64_MAX:
            return None
        v = int(m.group(2))
        return (-v) % (U64_MAX + 1) if m.group(1) == b"-" else v
    return v if v >= 0 else None


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False) -> tuple[StreamID, bool]:
    """streamGenericParseIDOrReply → (id, seq_given). `seq_star` accepts XADD's `<ms>-*`."""
    if len(arg) > 127:
        raise CommandError(errors.STREAM_INVALID_ID)
    if arg in (b"-", b"+"):
        if strict:
            raise CommandError(errors.STREAM_INVALID_ID)
        return (MIN_ID if arg == b"-" else MAX_ID), True
    ms_part, dash, seq_part = arg.partition(b"-")
    ms = _strtoull(ms_part)
    if ms is None:
        raise CommandError(errors.STREAM_INVALID_ID)
    if not dash:
        return (ms, missing_seq), True
    if seq_star and seq_part == b"*":
        return (ms, 0), False
    seq = _strtoull(seq_part)
    if seq is None:
        raise CommandError(errors.STREAM_INVALID_ID)
    return (ms, seq), True


def strict_id(arg: bytes) -> StreamID:
    return parse_id(arg, strict=True)[0]


def parse_interval(arg: bytes, missing_seq: int, is_start: bool) -> StreamID:
    """A range bound: `-`, `+`, an id, or `(id` (exclusive, made inclusive by stepping one id)."""
    if len(arg) > 1 and arg[:1] == b"(":
        sid = parse_id(arg[1:], missing_seq, strict=True)[0]
        stepped = incr_id(sid) if is_start else decr_id(sid)
        if stepped is None:
            raise err("invalid start ID for the interval" if is_start else "invalid end ID for the interval")
        return stepped
    return parse_id(arg, missing_seq)[0]


def entry_reply(sid: StreamID, pairs: list[bytes]) -> list[Any]:
    return [format_id(sid), list(pairs)]


def entries_raw(items: list[tuple[StreamID, list[bytes]]]) -> Raw:
    """A list of entries encoded once, here: arrays and bulk strings are the same bytes in RESP2 and
    RESP3, and the generic encoder's recursion cost ~5x more than the range scan on XRANGE COUNT 10."""
    out = [b"*%d\r\n" % len(items)]
    append = out.append
    for sid, pairs in items:
        i = b"%d-%d" % sid
        append(b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(i), i, len(pairs)))
        for x in pairs:
            append(b"$%d\r\n%b\r\n" % (len(x), x))
    return Raw(b"".join(out))


def _get_stream(ctx: Client, key: bytes) -> Stream | None:
    return ctx.db.get_typed(key, Stream)


def _node_limits(ctx: Client) -> tuple[int, int]:
    cfg = ctx.server.config
    return cfg.stream_node_max_bytes, cfg.stream_node_max_entries


def _propagate(ctx: Client, argvs: list[list[bytes]]) -> None:
    """Log `argvs` in place of the command: all but the last go on the queue now, the last through
    propagate_argv so dispatch (or the blocked-client server) appends it in order."""
    if not argvs:
        return
    queue = ctx.server.propagation
    for argv in argvs[:-1]:
        queue.append((ctx.db.id, argv))
    ctx.propagate_argv = argvs[-1]
    ctx.keyspace.dirty += 1


def _xclaim_argv(key: bytes, gname: bytes, group: Group, sid: StreamID, nack: NACK) -> list[bytes]:
    return [
        b"XCLAIM", key, gname, nack.consumer.name, b"0", format_id(sid),  # type: ignore[union-attr]
        b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
        b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id),
    ]


def _setid_argv(key: bytes, gname: bytes, group: Group) -> list[bytes]:
    return [b"XGROUP", b"SETID", key, gname, format_id(group.last_id), b"ENTRIESREAD", b"%d" % group.entries_read]


# --- XADD / XTRIM ------------------------------------------------------------------------------------
class TrimArgs:
    __slots__ = ("approx", "arg_idx", "limit", "maxlen", "minid", "strategy")

    def __init__(self) -> None:
        self.strategy: bytes | None = None
        self.approx = False
        self.maxlen = 0
        self.minid: StreamID = MIN_ID
        self.limit = 0
        self.arg_idx = 0


def _parse_trim(ctx: Client, argv: tuple[bytes, ...], start: int, xadd: bool) -> tuple[TrimArgs, int, dict[str, Any]]:
    """streamParseAddOrTrimArgsOrReply. Returns (trim args, index reached, XADD id info)."""
    t = TrimArgs()
    info: dict[str, Any] = {"id": None, "seq_given": True, "nomkstream": False, "limit_idx": None}
    limit_given = False
    i = start
    n = len(argv)
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low in (b"maxlen", b"minid") and more:
            if t.strategy is not None:
                raise err("syntax error, MAXLEN and MINID options at the same time are not compatible")
            t.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt in (b"~", b"="):
                t.approx = nxt == b"~"
                i += 1
            if low == b"maxlen":
                t.maxlen = to_int(argv[i + 1])
                if t.maxlen < 0:
                    raise err("The MAXLEN argument must be >= 0.")
            else:
                t.minid = strict_id(argv[i + 1])
            i += 1
            t.strategy = low
            t.arg_idx = i
        elif low == b"limit" and more:
            t.limit = to_int(argv[i + 1])
            if t.limit < 0:
                raise err("The LIMIT argument must be >= 0.")
            limit_given = True
            info["limit_idx"] = i
            i += 1
        elif xadd and low == b"nomkstream":
            info["nomkstream"] = True
        elif xadd:
            info["id"], info["seq_given"] = parse_id(opt, strict=True, seq_star=True)
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if t.limit and t.strategy is None:
        raise err("syntax error, LIMIT cannot be used without specifying a trimming strategy")
    if not xadd and t.strategy is None:
        raise err("syntax error, XTRIM must be called with a trimming strategy")
    if limit_given:
        if not t.approx:
            raise err("syntax error, LIMIT cannot be used without the special ~ option")
    else:
        t.limit = 100 * ctx.server.config.stream_node_max_entries if t.approx else 0
    return t, i, info


def _do_trim(s: Stream, t: TrimArgs) -> int:
    if t.strategy == b"maxlen":
        return s.trim(t.maxlen, None, t.approx, t.limit)
    return s.trim(None, t.minid, t.approx, t.limit)


def _rewrite_trim(argv: list[bytes], s: Stream, t: TrimArgs, limit_idx: int | None) -> list[bytes]:
    """A limited (`~`) trim is logged as the exact trim it turned out to be, so replay agrees. The
    LIMIT pair is dropped: it is only legal with `~`, and an exact trim needs no limit."""
    argv[t.arg_idx - 1] = b"="
    if t.strategy == b"maxlen":
        argv[t.arg_idx] = b"%d" % len(s)
    else:
        argv[t.arg_idx] = format_id(s.entries.first() if len(s) else MAX_ID)
    if limit_idx is not None:
        del argv[limit_idx : limit_idx + 2]
    return argv


@command("xadd")
def xadd(ctx: Client, key: bytes, *args: bytes) -> bytes | None:
    if args and args[0] == b"*" and len(args) % 2 == 1 and len(args) > 1:
        # The common form, `XADD key * field value ...`: no options to parse.
        return _xadd_auto(ctx, key, list(args[1:]))
    argv = (b"xadd", key, *args)
    t, idpos, info = _parse_trim(ctx, argv, 2, True)
    field_pos = idpos + 1
    nfields = len(argv) - field_pos
    if nfields < 2 or nfields % 2:
        raise CommandError(errors.WRONG_ARGS.format(name="xadd"))
    given: StreamID | None = info["id"]
    seq_given = info["seq_given"]
    if given is not None and seq_given and given == MIN_ID:
        raise err("The ID specified in XADD must be greater than 0-0")
    db = ctx.db
    s = _get_stream(ctx, key)
    if s is None:
        if info["nomkstream"]:
            return None
        s = Stream()
        db.add(key, s)
    last = s.last_id
    if last == MAX_ID:
        raise err("The stream has exhausted the last possible ID, unable to add more items")
    if given is None:
        ms = now_ms()
        sid = (ms, 0) if ms > last[0] else incr_id(last)
    elif not seq_given and given[0] == last[0]:
        if last[1] == U64_MAX:
            raise CommandError(errors.XADD_ID_TOO_SMALL)
        sid = (last[0], last[1] + 1)
    else:
        sid = given
    if sid <= last:  # type: ignore[operator]
        raise CommandError(errors.XADD_ID_TOO_SMALL)
    pairs = list(argv[field_pos:])
    s.append(sid, pairs, *_node_limits(ctx))  # type: ignore[arg-type]
    db.changed(key, "t", "xadd")
    out = list(argv)
    out[0] = b"XADD"
    if t.strategy is not None:
        if _do_trim(s, t):
            db.event(key, "t", "xtrim")
        if t.approx:
            out = _rewrite_trim(out, s, t, info["limit_idx"])
            if info["limit_idx"] is not None and info["limit_idx"] < idpos:
                idpos -= 2
    if given is None or not seq_given:
        out[idpos] = format_id(sid)  # type: ignore[arg-type]
    ctx.propagate_argv = out
    db.signal_ready(key)
    return format_id(sid)  # type: ignore[arg-type]


def _xadd_auto(ctx: Client, key: bytes, pairs: list[bytes]) -> bytes:
    db = ctx.db
    s = db.get(key)
    if s is None:
        s = Stream()
        db.add(key, s)
    elif s.__class__ is not Stream:
        raise WrongType()
    last = s.last_id
    if last == MAX_ID:
        raise err("The stream has exhausted the last possible ID, unable to add more items")
    ms = now_ms()
    sid = (ms, 0) if ms > last[0] else incr_id(last)
    cfg = ctx.server.config
    s.append(sid, pairs, cfg.stream_node_max_bytes, cfg.stream_node_max_entries)  # type: ignore[arg-type]
    db.changed(key, "t", "xadd")
    reply = b"%d-%d" % sid  # type: ignore[str-format]
    ctx.propagate_argv = [b"XADD", key, reply, *pairs]
    db.signal_ready(key)
    return reply


@command("xtrim")
def xtrim(ctx: Client, key: bytes, *args: bytes) -> int:
    argv = (b"xtrim", key, *args)
    t, _, info = _parse_trim(ctx, argv, 2, False)
    s = _get_stream(ctx, key)
    if s is None:
        return 0
    deleted = _do_trim(s, t)
    if deleted:
        ctx.db.changed(key, "t", "xtrim")
        if t.approx:
            ctx.propagate_argv = _rewrite_trim([b"XTRIM", *argv[1:]], s, t, info["limit_idx"])
    return deleted


@command("xdel")
def xdel(ctx: Client, key: bytes, *ids: bytes) -> int:
    s = _get_stream(ctx, key)
    if s is None:
        return 0
    parsed = [strict_id(a) for a in ids]
    deleted = 0
    first_gone = False
    for sid in parsed:
        if s.delete(sid):
            if sid == s.first_id:
                first_gone = True
            if sid > s.max_deleted_id:
                s.max_deleted_id = sid
            deleted += 1
    if deleted:
        if not len(s) or first_gone:
            s.refresh_first_id()
        ctx.db.changed(key, "t", "xdel")
    return deleted


@command("xlen")
def xlen(ctx: Client, key: bytes) -> int:
    s = _get_stream(ctx, key)
    return 0 if s is None else len(s)


def _xrange(ctx: Client, key: bytes, start_arg: bytes, end_arg: bytes, opts: tuple[bytes, ...], rev: bool) -> Any:
    start = parse_interval(start_arg, 0, True)
    end = parse_interval(end_arg, U64_MAX, False)
    count = -1
    i = 0
    while i < len(opts):
        if opts[i].lower() == b"count" and i + 1 < len(opts):
            count = max(to_int(opts[i + 1]), 0)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    s = _get_stream(ctx, key)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return entries_raw(s.range(start, end, max(count, 0), rev))


@command("xrange")
def xrange(ctx: Client, key: bytes, start: bytes, end: bytes, *opts: bytes) -> Any:
    return _xrange(ctx, key, start, end, opts, False)


@command("xrevrange")
def xrevrange(ctx: Client, key: bytes, end: bytes, start: bytes, *opts: bytes) -> Any:
    return _xrange(ctx, key, start, end, opts, True)


@command("xsetid")
def xsetid(ctx: Client, key: bytes, last: bytes, *opts: bytes) -> Any:
    sid = strict_id(last)
    entries_added = -1
    max_xdel = MIN_ID
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        if opt == b"entriesadded" and i + 1 < len(opts):
            entries_added = to_int(opts[i + 1])
            if entries_added < 0:
                raise err("entries_added must be positive")
        elif opt == b"maxdeletedid" and i + 1 < len(opts):
            max_xdel = strict_id(opts[i + 1])
            if sid < max_xdel:
                raise err("The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    s = _get_stream(ctx, key)
    if s is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if len(s):
        if sid < s.last_valid_id():
            raise err("The ID specified in XSETID is smaller than the target stream top item")
        if entries_added != -1 and len(s) > entries_added:
            raise err("The entries_added specified in XSETID is smaller than the target stream length")
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel != MIN_ID:
        s.max_deleted_id = max_xdel
    ctx.db.changed(key, "t", "xsetid")
    return OK


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
            prop.append(_xclaim_argv(key, gname, group, sid, nack))
        out.append(entry_reply(sid, s.entries[sid]))
        if count and len(out) >= count:
            break
    if propagate_last_id:
        prop.append(_setid_argv(key, gname, group))
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


def _ensure_consumer(ctx: Client, key: bytes, gname: bytes, group: Group, cname: bytes, noack: bool,
                     prop: list[list[bytes]]) -> None:
    """Look the consumer up (refreshing seen-time) or create it. Redis 7.0 logs the creation only for
    NOACK reads: otherwise the XCLAIM ... FORCE it logs creates the consumer on replay."""
    consumer = group.consumers.get(cname)
    if consumer is None:
        group.create_consumer(cname, now_ms())
        ctx.db.event(key, "t", "xgroup-createconsumer")
        if noack:
            prop.append([b"XGROUP", b"CREATECONSUMER", key, gname, cname])
    else:
        consumer.seen_time = now_ms()


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
                raise CommandError(errors.XREADGROUP_NOGROUP.format(key=_s(key), group=_s(gname)))
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
            _ensure_consumer(ctx, key, gname, group, cname, noack, prop)  # type: ignore[arg-type]
        elif len(s) and s.last_valid_id() > gt:
            serve = True
        if not serve:
            continue
        start = incr_id(gt) or MAX_ID
        if history:
            items.append((key, _history(s, group, cname, start, count)))  # type: ignore[arg-type]
        elif group is not None:
            items.append((key, group_read(ctx, key, s, gname, group, cname, start, count, noack, prop)))  # type: ignore[arg-type]
        else:
            items.append((key, entries_raw(s.range(start, MAX_ID, count))))
    _propagate(ctx, prop)
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
        if group is not None:
            _ensure_consumer(ctx, key, gname, group, cname, noack, prop)  # type: ignore[arg-type]
            entries = group_read(ctx, key, s, gname, group, cname, start, count, noack, prop)  # type: ignore[arg-type]
        else:
            entries = entries_raw(s.range(start, MAX_ID, count))
        _propagate(ctx, prop)
        return _xread_reply(ctx, [(key, entries)])
    return NOT_READY


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


@command("xread")
def xread(ctx: Client, *args: bytes) -> Any:
    return _xread(ctx, args, False)


@command("xreadgroup")
def xreadgroup(ctx: Client, *args: bytes) -> Any:
    return _xread(ctx, args, True)


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
            raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub=_s(sub)[:128], cmd="XGROUP"))
    return mkstream, entries_read


def _group_target(ctx: Client, key: bytes, gname: bytes, need_group: bool) -> tuple[Stream, Group | None]:
    s = _get_stream(ctx, key)
    if s is None:
        raise CommandError(errors.XGROUP_NO_KEY)
    group = s.groups.get(gname)
    if group is None and need_group:
        raise CommandError(errors.NOGROUP_KEY.format(group=_s(gname), key=_s(key)))
    return s, group


@command("xgroup|create")
def xgroup_create(ctx: Client, key: bytes, gname: bytes, raw: bytes, *opts: bytes) -> Any:
    mkstream, entries_read = _group_opts(opts, b"CREATE", True)
    db = ctx.db
    s = _get_stream(ctx, key)
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
    s = _get_stream(ctx, key)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_OR_KEY.format(key=_s(key), group=_s(gname)))
    return s, group  # type: ignore[return-value]


@command("xack")
def xack(ctx: Client, key: bytes, gname: bytes, *ids: bytes) -> int:
    s = _get_stream(ctx, key)
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
    s = _get_stream(ctx, key)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_OR_KEY.format(key=_s(key), group=_s(gname)))
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


def _claim_consumer(ctx: Client, key: bytes, group: Group, cname: bytes) -> None:
    # A claimer is created like a reader; its creation is not logged (the XCLAIM FORCE creates it).
    _ensure_consumer(ctx, key, b"", group, cname, False, [])


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
            raise err(f"Unrecognized XCLAIM option '{_s(args[j])}'")
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
    for sid in ids:
        nack = group.pel.get(sid)
        if sid not in s.entries:
            if nack is not None:
                # The entry is gone: drop it from the PEL, and log that as an XCLAIM too.
                prop.append(_xclaim_argv(key, gname, group, sid, nack))
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
            _claim_consumer(ctx, key, group, cname)
            have_consumer = True
        _claim_one(group, sid, nack, cname, deliverytime, retrycount, justid)
        out.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        prop.append(_xclaim_argv(key, gname, group, sid, nack))
        propagate_last_id = False
    if propagate_last_id:
        prop.append(_setid_argv(key, gname, group))
    _propagate(ctx, prop)
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
    # The loop visits at most `attempts` PEL entries and the cursor is the one after: snapshot only those.
    pel_ids = list(islice(group.pel.irange(start, None), attempts + 1))
    pos = 0
    while attempts and count and pos < len(pel_ids):
        attempts -= 1
        sid = pel_ids[pos]
        pos += 1
        nack = group.pel[sid]
        if sid not in s.entries:
            prop.append(_xclaim_argv(key, gname, group, sid, nack))
            del group.pel[sid]
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            deleted.append(format_id(sid))
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if not have_consumer:
            _claim_consumer(ctx, key, group, cname)
            have_consumer = True
        _claim_one(group, sid, nack, cname, now, -1, justid)
        claimed.append(format_id(sid) if justid else entry_reply(sid, s.entries[sid]))
        count -= 1
        prop.append(_xclaim_argv(key, gname, group, sid, nack))
    cursor = format_id(pel_ids[pos]) if pos < len(pel_ids) else b"0-0"
    _propagate(ctx, prop)
    return [cursor, claimed, deleted]


# --- XINFO ----------------------------------------------------------------------------------------------
def _stream_for_info(ctx: Client, key: bytes) -> Stream:
    s = _get_stream(ctx, key)
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
        raise CommandError(errors.NOGROUP_KEY.format(group=_s(gname), key=_s(key)))
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
