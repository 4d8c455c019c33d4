"""Command execution: name → spec → arity → auth → context checks → handler → reply bytes.

This is Redis's processCommand + call(): the one place where MULTI queueing, subscriber-mode checks,
blocking, per-command stats, write propagation and serving blocked clients hook in, so handlers only
parse arguments, touch the keyspace and return a reply value.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.commands.registry import LOOKUP, CommandSpec, lookup
from respdb.errors import CommandError
from respdb.protocol.types import QUEUED

if TYPE_CHECKING:
    from respdb.server.client import Client

# Commands allowed while a RESP2 client has subscriptions (Redis's subscriber context).
_SUBSCRIBER_OK = frozenset(
    {"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset"}
)
# Commands executed immediately even inside MULTI.
_MULTI_IMMEDIATE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
_perf = time.perf_counter


def _error_bytes(text: str) -> bytes:
    # Redis replaces newlines in error texts so the reply stays one line.
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace") + b"\r\n"


def unknown_command_error(argv: list[bytes]) -> str:
    name = argv[0].decode("utf-8", "replace")[:128]
    args = " ".join("'" + a.decode("utf-8", "replace")[:128] + "'" for a in argv[1:])
    return errors.UNKNOWN_COMMAND.format(name=name, args=args + " " if args else "")


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
    """Run the handler with stats; errors are raised to the caller.

    A call that changed data queues what it is logged as (argv, or `client.propagate_argv` when the
    handler rewrote it) on `server.propagation`; the top-level command flushes that queue to the
    propagate hooks (AOF) in one batch, so EXEC and scripts come out as one atomic unit.
    """
    start = _perf()
    ks = client.keyspace
    dirty = ks.dirty
    try:
        if spec.parent is None:
            reply = spec.handler(client, *argv[1:])  # type: ignore[misc]
        else:
            reply = spec.handler(client, *argv[2:])  # type: ignore[misc]
        if ks.dirty != dirty:
            client.server.propagation.append((client.db.id, client.propagate_argv or argv))
        client.propagate_argv = None
        return reply
    except CommandError:
        client.propagate_argv = None
        spec.failed_calls += 1
        raise
    except Exception as exc:  # a handler bug must cost one error reply, never the connection
        spec.failed_calls += 1
        client.server.log.warning(f"Internal error in '{spec.name}': {exc!r}")
        raise CommandError(f"ERR internal error in '{spec.name}': {type(exc).__name__}") from exc
    finally:
        spec.calls += 1
        spec.usec += (_perf() - start) * 1e6


def execute(client: Client, argv: list[bytes]) -> bytes | None:
    """Run one request and return its encoded reply (None when nothing is to be sent now)."""
    spec = LOOKUP.get(argv[0])
    if spec is not None and client.plain and not spec.subcommands:
        arity = spec.arity
        n = len(argv)
        if (arity > 0 and n != arity) or n < -arity:
            return _error_bytes(errors.WRONG_ARGS.format(name=spec.name))
        server = client.server
        dirty = client.keyspace.dirty
        try:
            reply = call(client, spec, argv)
        except CommandError as exc:
            server.stat_errors(exc.text)
            return _error_bytes(exc.text)
        if client.keyspace.dirty != dirty or server.post_command_needed:
            server.after_write(client, spec, argv, dirty)
        server.commands_processed += 1
        client.last_cmd = spec.name
        cls = reply.__class__
        if cls is bytes:
            return b"$%d\r\n%b\r\n" % (len(reply), reply)
        if cls is Block:
            return server.block_client(client, reply)
        if cls is NoReply:
            return None
        return client.encode(reply)
    return _execute_slow(client, argv)


def _execute_slow(client: Client, argv: list[bytes]) -> bytes | None:
    server = client.server
    resolved = resolve(argv)
    if resolved.__class__ is str:
        if client.multi is not None:
            client.multi_error = True
        server.stat_errors(resolved, rejected=True)  # type: ignore[arg-type]
        return _reply(client, _error_bytes(resolved))  # type: ignore[arg-type]
    spec: CommandSpec = resolved  # type: ignore[assignment]
    name = spec.name.split("|", 1)[0]
    rejection = server.reject(client, spec, argv)
    if rejection is not None:
        if client.multi is not None and name not in _MULTI_IMMEDIATE:
            client.multi_error = True
        spec.rejected_calls += 1
        server.stat_errors(rejection, rejected=True)
        return _reply(client, _error_bytes(rejection))
    if client.multi is not None and name not in _MULTI_IMMEDIATE:
        client.multi.append((spec, argv))
        return _reply(client, client.encode(QUEUED))
    dirty = client.keyspace.dirty
    try:
        reply = call(client, spec, argv)
    except CommandError as exc:
        server.stat_errors(exc.text)
        return _reply(client, _error_bytes(exc.text))
    if client.keyspace.dirty != dirty or server.post_command_needed:
        server.after_write(client, spec, argv, dirty)
    server.commands_processed += 1
    client.last_cmd = spec.name
    if reply.__class__ is Block:
        return server.block_client(client, reply)
    if reply.__class__ is NoReply:
        return None
    return _reply(client, client.encode(reply))


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
    """

    __slots__ = ("db_id", "deadline", "keys", "serve", "timeout_reply", "timer")

    def __init__(self, keys: list[bytes], deadline: float | None, serve: Any, timeout_reply: Any) -> None:
        self.keys = keys
        self.deadline = deadline
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer: Any = None
        self.db_id = 0


class NoReply:
    """A handler that has already written its reply itself (SUBSCRIBE's per-channel confirmations)."""

    __slots__ = ()


NO_REPLY = NoReply()
NOT_READY = object()
