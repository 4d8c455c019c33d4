"""Command execution: name → spec → arity → auth → context checks → handler → reply bytes.

This is Redis's processCommand + call(): the one place where MULTI queueing, subscriber-mode checks,
blocking, per-command stats, write propagation and serving blocked clients hook in, so handlers only
parse arguments, touch the keyspace and return a reply value.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.commands.registry import COMMANDS, LOOKUP, CommandSpec, lookup
from respdb.errors import CommandError
from respdb.protocol.types import QUEUED, Map, Raw, Set
from respdb.server.latency_hist import bucket_of

if TYPE_CHECKING:
    from respdb.server.client import Client

# Commands allowed while a RESP2 client has subscriptions (Redis's subscriber context).
_SUBSCRIBER_OK = frozenset(
    {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset"}
)
# Commands executed immediately even inside MULTI.
_MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
_perf = time.perf_counter
_perf_ns = time.perf_counter_ns


def _error_bytes(text: str) -> bytes:
    # Redis replaces newlines in error texts so the reply stays one line.
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace") + b"\r\n"


def unknown_command_error(argv: list[bytes]) -> str:
    """Redis's text: the name to 128 bytes, then quoted arguments while the list is under 128 bytes,
    each cut to what is left of them; both are C strings there, so a NUL ends them."""
    name = argv[0].split(b"\0", 1)[0][:128].decode("utf-8", "replace")
    args = b""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + a.split(b"\0", 1)[0][: 128 - len(args)] + b"' "
    return errors.UNKNOWN_COMMAND.format(name=name, args=args.decode("utf-8", "replace"))


def resolve(argv: list[bytes]) -> CommandSpec | str:
    """The spec to run for argv, or the error text (unknown command/subcommand, arity)."""
    spec = LOOKUP.get(argv[0]) or lookup(argv[0])
    if spec is None:
        return unknown_command_error(argv)
    if spec.subcommands and (len(argv) >= 2 or spec.handler is None):
        if len(argv) < 2:
            return errors.WRONG_ARGS.format(name=spec.name)
        sub = spec.subcommands.get(argv[1].decode("latin-1").lower())
        if sub is None:
            return errors.UNKNOWN_SUBCOMMAND.format(
                sub=argv[1].decode("utf-8", "replace")[:128], cmd=spec.name.upper()
            )
        spec = sub
    arity = spec.arity
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        return errors.WRONG_ARGS.format(name=spec.name)
    return spec


def call(client: Client, spec: CommandSpec, argv: list[bytes]) -> Any:
    """Run the handler with stats; errors are raised to the caller (EXEC and scripts use this).

    A call that changed data queues what it is logged as (argv, or `client.propagate_argv` when the
    handler rewrote it) on `server.propagation` while anything consumes it (AOF); the top-level
    command flushes that queue as one batch, so EXEC and scripts come out as one atomic unit.
    """
    ks = client.keyspace
    dirty = ks.dirty
    reading = ks.reading
    ks.reading = spec.reads
    start = _perf_ns()
    try:
        if spec.parent is None:
            reply = spec.handler(client, *argv[1:])  # type: ignore[misc]
        else:
            reply = spec.handler(client, *argv[2:])  # type: ignore[misc]
    except CommandError:
        ks.reading = reading
        _call_stats(client, spec, argv, _perf_ns() - start)
        spec.failed_calls += 1
        client.propagate_argv = None
        raise
    except BaseException as exc:
        ks.reading = reading  # EXEC and scripts call commands from inside another command
        _call_stats(client, spec, argv, _perf_ns() - start)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt/SystemExit: stats kept, nothing converted
        # A handler bug must cost one error reply, never the connection.
        spec.failed_calls += 1
        client.propagate_argv = None
        client.server.log.warning(f"Internal error in '{spec.name}': {exc!r}")
        raise CommandError(f"ERR internal error in '{spec.name}': {type(exc).__name__}") from exc
    ks.reading = reading  # EXEC and scripts call commands from inside another command
    _call_stats(client, spec, argv, _perf_ns() - start)
    if ks.dirty != dirty:
        server = client.server
        logged = client.propagate_argv or argv
        if server.propagate_hooks and logged is not ALREADY_PROPAGATED:
            server.propagation.append((client.db.id, logged))
        client.propagate_argv = None
    return reply


def _call_stats(client: Client, spec: CommandSpec, argv: list[bytes], elapsed: int) -> None:
    """call()'s per-command stats (commandstats, latency histogram, slowlog)."""
    spec.calls += 1
    spec.usec += elapsed / 1e9
    server = client.server
    if server.config.latency_tracking:
        hist = spec.latency
        bucket = bucket_of(elapsed)
        hist[bucket] = hist.get(bucket, 0) + 1
    if elapsed / 1e9 >= server.slow_threshold:
        server.observer.record_slow(client, spec, argv, elapsed / 1e9)


def execute(client: Client, argv: list[bytes]) -> bytes | None:
    """Run one request and return its encoded reply (None when nothing is to be sent now)."""
    out: list[bytes] = []
    execute_batch(client, (argv,), out, False)
    return out[0] if out else None


def _execute_batch_py(client: Client, cmds: Any, out: list[bytes], honor_pause: bool = True) -> int:
    """Run pipelined requests in order, appending their encoded replies to `out`; returns how many
    ran. It stops early when the client blocks or must close, or (honor_pause) when CLIENT PAUSE
    holds the next command.

    The loop body's first branch is the hot path: a plain client (authenticated, not in MULTI, not
    subscribed, replies on) running a command without subcommands. It runs the handler inline and
    skips every hook that has nothing to do; one loop per batch instead of one call per command is
    what keeps per-request overhead near the floor. respdb/_speedups.c is this function in C (used
    when built); the two are kept step for step the same.
    """
    server = client.server
    ks = client.keyspace
    append = out.append
    lookup = LOOKUP.get
    done = 0
    for argv in cmds:
        if honor_pause and server.paused_until is not None and server.pause_holds(argv):
            break
        done += 1
        spec = lookup(argv[0])
        if (
            spec is None
            or not client.plain
            or not spec.simple
            # Rare: an arity error (counted, and it aborts a pending EXEC), or maxmemory reached.
            or (spec.arity > 0 and len(argv) != spec.arity)
            or len(argv) < -spec.arity
            or (spec.denyoom and server.oom_guard is not None and server.oom_guard(client.db))
        ):
            reply = _execute_slow(client, argv)
            if reply is not None:
                append(reply)
            if client.blocked is not None or client.close_after_reply:
                break
            continue
        ks.reading = spec.reads
        dirty = ks.dirty
        start = _perf_ns()
        try:
            reply = spec.handler(client, *argv[1:])  # type: ignore[misc]
        except Exception as exc:
            append(_fast_failed(client, spec, argv, exc, _perf_ns() - start))
            continue
        elapsed = _perf_ns() - start
        spec.usec += elapsed / 1e9
        spec.calls += 1
        if server.config.latency_tracking:
            hist = spec.latency
            bucket = bucket_of(elapsed)
            hist[bucket] = hist.get(bucket, 0) + 1
        client.last_cmd = spec.name
        if elapsed / 1e9 >= server.slow_threshold:
            server.observer.record_slow(client, spec, argv, elapsed / 1e9)
        if ks.dirty != dirty:
            _fast_dirty(client, spec, argv)
        if server.post_command_needed:
            server.after_write(client, spec, argv, dirty)
        cls = reply.__class__
        if cls is bytes:
            append(b"$%d\r\n%b\r\n" % (len(reply), reply))
        elif cls is Raw:
            append(reply)
        elif cls is Block:
            server.block_client(client, reply)
            break
        elif cls is not NoReply:
            append(client.encode(reply))
        if client.close_after_reply:
            break
    return done


def _fast_failed(client: Client, spec: CommandSpec, argv: list[bytes], exc: Exception, elapsed: int) -> bytes:
    """The error reply for a handler that raised on the fast path after `elapsed` ns. As in Redis, a
    failed command is still a call: commandstats usec, a latency sample, the slowlog, CLIENT LIST cmd=."""
    _call_stats(client, spec, argv, elapsed)
    spec.failed_calls += 1
    client.last_cmd = spec.name
    client.propagate_argv = None
    server = client.server
    if isinstance(exc, CommandError):
        server.stat_errors(exc.text)
        return _error_bytes(exc.text)
    # A handler bug costs one error reply, never the connection.
    server.log.warning(f"Internal error in '{spec.name}': {exc!r}")
    return _error_bytes(f"ERR internal error in '{spec.name}': {type(exc).__name__}")


def _fast_dirty(client: Client, spec: CommandSpec, argv: list[bytes]) -> None:
    """A fast-path command changed data: log it (AOF) and serve clients blocked on keys it filled."""
    server = client.server
    if server.propagate_hooks:
        logged = client.propagate_argv or argv
        if logged is not ALREADY_PROPAGATED:  # EVAL/FCALL queued their writes already
            server.propagation.append((client.db.id, logged))
        server.flush_propagation()
    client.propagate_argv = None
    if client.keyspace.ready_keys:
        server.serve_ready_keys()


def _execute_slow(client: Client, argv: list[bytes]) -> bytes | None:
    server = client.server
    pending = server.pubsub.pending
    if pending and client in pending:
        # Messages queued for this subscriber earlier in this loop turn go out ahead of its reply,
        # in the order Redis would have written them.
        early = b"".join(pending.pop(client))
        out = _execute_slow(client, argv)
        return early if out is None else early + out
    # Redis's processCommand sets c->lastcmd as soon as it has looked the command up, before any
    # check: CLIENT LIST shows itself as client|list, a refused command by its name, an unknown one NULL.
    looked_up = _looked_up(argv)
    client.last_cmd = looked_up.name if looked_up is not None else "NULL"
    queue = client.multi
    if queue is not None:
        # Queueing inside MULTI, short form: a well-formed plain command that passes admission.
        spec = LOOKUP.get(argv[0])
        if spec is not None and spec.simple and spec.name not in _MULTI_IMMEDIATE:
            arity = spec.arity
            n = len(argv)
            if not ((arity > 0 and n != arity) or n < -arity):
                rejection = server.reject(client, spec, argv)
                if rejection is None:
                    queue.append((spec, argv))
                    if client.reply_mode == b"on":
                        return QUEUED
                    return _reply(client, QUEUED)
                client.multi_error = True
                spec.rejected_calls += 1
                server.stat_errors(rejection, rejected=True)
                return _reply(client, _error_bytes(rejection))
    resolved = resolve(argv)
    if resolved.__class__ is str:
        _count_rejected(argv)
        if argv[0].lower() == b"exec":
            resolved = _abort_exec(client, resolved)  # type: ignore[arg-type]
        elif client.multi is not None:
            client.multi_error = True
        server.stat_errors(resolved, rejected=True)  # type: ignore[arg-type]
        return _reply(client, _error_bytes(resolved))  # type: ignore[arg-type]
    spec: CommandSpec = resolved  # type: ignore[assignment]
    name = spec.name.split("|", 1)[0]
    rejection = server.reject(client, spec, argv)
    if rejection is not None:
        # Like Redis's rejectCommand: any refusal while in MULTI dooms the transaction, and a refused
        # EXEC discards it on the spot.
        if name == "exec":
            rejection = _abort_exec(client, rejection)
        elif client.multi is not None:
            client.multi_error = True
        spec.rejected_calls += 1
        server.stat_errors(rejection, rejected=True)
        return _reply(client, _error_bytes(rejection))
    if client.multi is not None and name not in _MULTI_IMMEDIATE:
        client.multi.append((spec, argv))
        return _reply(client, QUEUED)
    dirty = client.keyspace.dirty
    pubsub = server.pubsub
    # Messages published to this client while its own command runs are held and sent just ahead of
    # its reply, so they cannot overtake replies to earlier commands of the same pipelined batch.
    pubsub.current = client
    pubsub.current_argv = argv
    try:
        if client.no_touch and name != "touch":  # CLIENT NO-TOUCH (Redis 7.2): TOUCH still touches
            reply = _call_no_touch(client, spec, argv)
        else:
            reply = call(client, spec, argv)
    except CommandError as exc:
        pubsub.current = None
        server.stat_errors(exc.text)
        return _with_held(pubsub, _reply(client, _error_bytes(exc.text)))
    pubsub.current = None
    if "tracking" in client.flags_extra:
        server.tracker.after_command(client, spec, argv)
    if client.keyspace.dirty != dirty or server.post_command_needed or server.propagation:
        server.after_write(client, spec, argv, dirty)
    if reply.__class__ is Block:
        return _with_held(pubsub, server.block_client(client, reply))
    if reply.__class__ is NoReply:
        return _with_held(pubsub, None)
    return _with_held(pubsub, _reply(client, client.encode(reply)))


def _call_no_touch(client: Client, spec: CommandSpec, argv: list[bytes]) -> Any:
    ks = client.keyspace
    saved, ks.touch_clock = ks.touch_clock, None
    try:
        return call(client, spec, argv)
    finally:
        ks.touch_clock = saved


def _looked_up(argv: list[bytes]) -> CommandSpec | None:
    """The command Redis's lookupCommand finds for argv (the subcommand when argv names one, None
    for an unknown command or subcommand), whatever its arity."""
    spec = LOOKUP.get(argv[0]) or lookup(argv[0])
    if spec is not None and spec.subcommands and len(argv) >= 2:
        spec = spec.subcommands.get(argv[1].decode("latin-1").lower())
    return spec


def _count_rejected(argv: list[bytes]) -> None:
    """A known command refused for its arity counts in its rejected_calls, as in Redis."""
    spec = _looked_up(argv)
    if spec is not None:
        spec.rejected_calls += 1


def _with_held(pubsub: Any, data: bytes | None) -> bytes | None:
    if not pubsub.held:
        return data
    held = pubsub.take_held()
    return held + data if data is not None else held


def _abort_exec(client: Client, text: str) -> str:
    """A refused EXEC discards the transaction, with Redis's execCommandAbort text (an `ERR `
    prefix is dropped, any other error code kept)."""
    from respdb.commands.transactions import discard_transaction

    if client.multi is not None:
        discard_transaction(client)
    reason = text[4:] if text.startswith("ERR ") else text
    return "EXECABORT Transaction discarded because of: " + reason


def _reply(client: Client, data: bytes) -> bytes | None:
    mode = client.reply_mode
    if mode == b"on":
        return data
    if mode == b"skip":
        client.reply_mode = b"on"
        client.refresh_plain()
    return None


class Block:
    """Returned by a blocking command that found nothing: park the client on `keys`.

    `serve()` is retried whenever one of the keys is signalled ready and returns NOT_READY or the
    reply; `timeout_reply` is sent when `deadline` (monotonic seconds, None = forever) passes.
    `ready_key` is the key being served when `serve()` runs (Redis serves a waiter from that key).
    A CommandError raised by `serve()` unblocks the client with that error (BLMOVE to a WRONGTYPE key).
    """

    __slots__ = ("db_id", "deadline", "keys", "ready_key", "serve", "timeout_reply", "timer")

    def __init__(self, keys: list[bytes], deadline: float | None, serve: Any, timeout_reply: Any) -> None:
        self.keys = keys
        self.deadline = deadline
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer: Any = None
        self.db_id = 0
        self.ready_key: bytes = keys[0] if keys else b""


class NoReply:
    """A handler that has already written its reply itself (SUBSCRIBE's per-channel confirmations)."""

    __slots__ = ()


NO_REPLY = NoReply()
NOT_READY = object()
# Set as `client.propagate_argv` by a command whose effects were already logged by the commands it
# ran through call() (EXEC): nothing more is queued for it.
ALREADY_PROPAGATED: list[bytes] = [b"<already propagated>"]


def _load_extension() -> Any:
    """respdb._speedups (the loop above in C) unless it is missing or RESPDB_NO_EXTENSIONS is set."""
    if os.environ.get("RESPDB_NO_EXTENSIONS"):
        return None
    try:
        from respdb import _speedups
    except ImportError:
        return None
    from respdb.commands.registry import CommandSpec as _Spec

    _speedups.configure(LOOKUP, _execute_slow, _fast_failed, _fast_dirty, bucket_of, Raw, Block, NoReply, _Spec, Map, Set)
    from respdb.commands.encoding_history import _FORCED, SINGLETONS
    from respdb.protocol.types import OK, PONG
    from respdb.storage.keyspace import Database
    from respdb.storage.quicklist import CHUNK, QuickList
    from respdb.storage.zset import ZSet

    _speedups.configure_native(Database, QuickList, CHUNK, ZSet, SINGLETONS, _FORCED, OK, PONG)
    return _speedups


def mark_native_commands() -> None:
    """Number the commands that have a native handler (respdb/_native.c) in their specs; commands.load_all
    calls it once every command is registered. Without the extension every spec keeps native = 0."""
    if _ext is not None:
        for number, name in enumerate(_ext.NATIVE_COMMANDS, 1):
            COMMANDS[name].native = number


_ext = _load_extension()
execute_batch = _ext.execute_batch if _ext is not None else _execute_batch_py
