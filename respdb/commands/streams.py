"""Stream commands on the entries themselves: XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID, and the
helpers every stream module shares (id parsing, entry replies, propagation of rewritten commands).

Reading lives in stream_read.py (XREAD, XREADGROUP) and consumer groups in stream_groups.py (XGROUP,
XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO). Argument order, error texts and what is propagated follow
Redis 7.0's t_stream.c: XREADGROUP, XCLAIM and XAUTOCLAIM are never logged as themselves but as the
XCLAIM/XGROUP SETID/CREATECONSUMER commands that reproduce their effect, and XADD is logged with the
concrete id it generated.
"""

from __future__ import annotations

import re
from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import ALREADY_PROPAGATED
from respdb.commands.generic import ENCODERS
from respdb.commands.registry import command
from respdb.config import param
from respdb.errors import CommandError, err
from respdb.protocol.types import NULL_ARRAY, OK, Raw
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


def get_stream(ctx: Client, key: bytes) -> Stream | None:
    return ctx.db.get_typed(key, Stream)


def _node_limits(ctx: Client) -> tuple[int, int]:
    cfg = ctx.server.config
    return cfg.stream_node_max_bytes, cfg.stream_node_max_entries


def propagate(ctx: Client, argvs: list[list[bytes]], changes: int, served: bool = False) -> None:
    """Add `changes` to the dirty counter (what Redis adds: it counts claims, consumers created and
    streams read, not what it logs) and log `argvs` in place of the command: all but the last go on
    the queue now, the last through propagate_argv so dispatch appends it in order. Dispatch logs
    only a command that moved the counter, and the blocked-client server only a propagate_argv, so
    a blocked read being `served` (or a call that counted nothing) queues them all here."""
    ctx.keyspace.dirty += changes
    queue = ctx.server.propagation
    if served or not changes:
        queue.extend((ctx.db.id, argv) for argv in argvs)
        return
    if not argvs:
        ctx.propagate_argv = ALREADY_PROPAGATED  # counted, but nothing to log (a history read)
        return
    for argv in argvs[:-1]:
        queue.append((ctx.db.id, argv))
    ctx.propagate_argv = argvs[-1]


def xclaim_argv(key: bytes, gname: bytes, group: Group, sid: StreamID, nack: NACK) -> list[bytes]:
    return [
        b"XCLAIM", key, gname, nack.consumer.name, b"0", format_id(sid),  # type: ignore[union-attr]
        b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
        b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id),
    ]


def setid_argv(key: bytes, gname: bytes, group: Group) -> list[bytes]:
    return [b"XGROUP", b"SETID", key, gname, format_id(group.last_id), b"ENTRIESREAD", b"%d" % group.entries_read]


def text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def ensure_consumer(ctx: Client, key: bytes, gname: bytes, group: Group, cname: bytes, noack: bool,
                     prop: list[list[bytes]]) -> int:
    """Look the consumer up (refreshing seen-time) or create it; 1 if created (a change Redis counts),
    else 0. Redis 7.0 logs the creation only for NOACK reads: otherwise the XCLAIM ... FORCE it logs
    creates the consumer on replay."""
    consumer = group.consumers.get(cname)
    if consumer is None:
        group.create_consumer(cname, now_ms())
        ctx.db.event(key, "t", "xgroup-createconsumer")
        if noack:
            prop.append([b"XGROUP", b"CREATECONSUMER", key, gname, cname])
        return 1
    consumer.seen_time = now_ms()
    return 0



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
    s = get_stream(ctx, key)
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
    s = get_stream(ctx, key)
    if s is None:
        return 0
    deleted = _do_trim(s, t)
    if deleted:
        ctx.db.changed(key, "t", "xtrim", deleted)  # one change per entry trimmed, as Redis counts them
        if t.approx:
            ctx.propagate_argv = _rewrite_trim([b"XTRIM", *argv[1:]], s, t, info["limit_idx"])
    return deleted


@command("xdel")
def xdel(ctx: Client, key: bytes, *ids: bytes) -> int:
    s = get_stream(ctx, key)
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
        ctx.db.changed(key, "t", "xdel", deleted)  # one change per entry deleted, as Redis counts them
    return deleted


@command("xlen")
def xlen(ctx: Client, key: bytes) -> int:
    s = get_stream(ctx, key)
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
    s = get_stream(ctx, key)
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
    s = get_stream(ctx, key)
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
