"""Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB introspection.

The registry and delivery live in respdb/server/pubsub.py. Each (un)subscribe confirmation is a reply
of its own (`SUBSCRIBE a b` answers twice), so these handlers return the confirmations already encoded
and joined; inside EXEC they land in the EXEC array exactly as Redis writes them. A RESP2 client with
subscriptions is in subscriber mode (Server.reject allows only the commands below, PING, QUIT, RESET);
a RESP3 client may run anything and receives messages as push replies.
"""

from __future__ import annotations

from collections.abc import Callable

from respdb import errors
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.protocol.types import Raw, Simple
from respdb.server.client import Client
from respdb.server.pubsub import confirmation, confirmations
from respdb.storage.glob import compile_glob


def _all_count(ctx: Client) -> int:
    # SUBSCRIBE/PSUBSCRIBE count channels and patterns together; shard channels are counted apart.
    return len(ctx.channels) + len(ctx.patterns)


def _shard_count(ctx: Client) -> int:
    return len(ctx.shard_channels)


def _join(ctx: Client, names: tuple[bytes, ...], add: Callable[[Client, bytes], None], kind: bytes,
          count: Callable[[Client], int]) -> Raw:
    """(P|S)SUBSCRIBE: one confirmation per name, each with the count after joining it."""
    out = []
    for name in names:
        add(ctx, name)
        out.append(confirmation(ctx, kind, name, count(ctx)))
    ctx.refresh_plain()
    return confirmations(out)


def _leave(ctx: Client, names: tuple[bytes, ...], current: set[bytes], remove: Callable[[Client, bytes], None],
           kind: bytes, count: Callable[[Client], int]) -> Raw:
    """(P|S)UNSUBSCRIBE: the given names, or every current one; with nothing to leave, one
    confirmation with a null name."""
    targets = names or tuple(current)
    out = []
    for name in targets:
        remove(ctx, name)
        out.append(confirmation(ctx, kind, name, count(ctx)))
    if not targets:
        out.append(confirmation(ctx, kind, None, count(ctx)))
    ctx.refresh_plain()
    return confirmations(out)


@command("subscribe")
def subscribe(ctx: Client, *channels: bytes) -> Raw:
    return _join(ctx, channels, ctx.server.pubsub.subscribe, b"subscribe", _all_count)


@command("psubscribe")
def psubscribe(ctx: Client, *patterns: bytes) -> Raw:
    return _join(ctx, patterns, ctx.server.pubsub.psubscribe, b"psubscribe", _all_count)


@command("ssubscribe")
def ssubscribe(ctx: Client, *channels: bytes) -> Raw:
    return _join(ctx, channels, ctx.server.pubsub.ssubscribe, b"ssubscribe", _shard_count)


@command("unsubscribe")
def unsubscribe(ctx: Client, *channels: bytes) -> Raw:
    return _leave(ctx, channels, ctx.channels, ctx.server.pubsub.unsubscribe, b"unsubscribe", _all_count)


@command("punsubscribe")
def punsubscribe(ctx: Client, *patterns: bytes) -> Raw:
    return _leave(ctx, patterns, ctx.patterns, ctx.server.pubsub.punsubscribe, b"punsubscribe", _all_count)


@command("sunsubscribe")
def sunsubscribe(ctx: Client, *channels: bytes) -> Raw:
    return _leave(ctx, channels, ctx.shard_channels, ctx.server.pubsub.sunsubscribe, b"sunsubscribe", _shard_count)


@command("publish")
def publish(ctx: Client, channel: bytes, message: bytes) -> int:
    return ctx.server.pubsub.publish(channel, message)


@command("spublish")
def spublish(ctx: Client, channel: bytes, message: bytes) -> int:
    return ctx.server.pubsub.spublish(channel, message)


# --- PUBSUB ------------------------------------------------------------------------------------
def _matching(ctx: Client, names: dict[bytes, object], args: tuple[bytes, ...], sub: str) -> list[bytes]:
    if len(args) > 1:
        # Redis echoes the subcommand as the client spelled it; dispatch leaves the argv in
        # pubsub.current_argv (absent when called from a script: then the canonical name).
        argv = ctx.server.pubsub.current_argv
        if argv and len(argv) > 1 and argv[0].lower() == b"pubsub":
            sub = argv[1].decode("utf-8", "replace")
        raise CommandError(errors.SUBCOMMAND_SYNTAX.format(sub=sub, cmd="PUBSUB"))
    if not args:
        return list(names)
    match = compile_glob(args[0])
    return [name for name in names if match(name)]


@command("pubsub|channels")
def pubsub_channels(ctx: Client, *args: bytes) -> list[bytes]:
    return _matching(ctx, ctx.server.pubsub.channels, args, "channels")


@command("pubsub|shardchannels")
def pubsub_shardchannels(ctx: Client, *args: bytes) -> list[bytes]:
    return _matching(ctx, ctx.server.pubsub.shard_channels, args, "shardchannels")


@command("pubsub|numsub")
def pubsub_numsub(ctx: Client, *channels: bytes) -> list[object]:
    pubsub = ctx.server.pubsub
    out: list[object] = []
    for channel in channels:
        out += [channel, pubsub.numsub(channel)]
    return out


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(ctx: Client, *channels: bytes) -> list[object]:
    pubsub = ctx.server.pubsub
    out: list[object] = []
    for channel in channels:
        out += [channel, pubsub.shard_numsub(channel)]
    return out


@command("pubsub|numpat")
def pubsub_numpat(ctx: Client) -> int:
    return len(ctx.server.pubsub.patterns)


_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command("pubsub|help")
def pubsub_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _HELP]
