"""Lua scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.

The engine (respdb/scripting) does the work; this module parses arguments in Redis's order
(evalGenericCommand) and applies the shebang-flag rules of scriptPrepareForRun.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import ALREADY_PROPAGATED
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.protocol.types import OK, Raw, Simple

if TYPE_CHECKING:
    from respdb.scripting.engine import LuaEngine, Script
    from respdb.server.client import Client

RO_WITH_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command."


def parse_numkeys(raw: bytes, nargs: int) -> int:
    """numkeys as evalGenericCommand/fcallCommandGeneric check it."""
    numkeys = to_int(raw)
    if numkeys > nargs:
        raise CommandError(errors.NUMKEYS_GREATER)
    if numkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
    return numkeys


def _run(ctx: Client, argv: list[bytes], body: bytes, numkeys: bytes, args: tuple[bytes, ...], evalsha: bool, ro: bool) -> Raw:
    engine: LuaEngine = ctx.server.scripting  # type: ignore[attr-defined]
    if evalsha and len(body) != 40:
        raise CommandError(errors.NOSCRIPT)
    nkeys = parse_numkeys(numkeys, len(args))
    script: Script | None
    if evalsha:
        # Clients send the SHA as SCRIPT LOAD returned it (lower case): try it as is first.
        script = engine.scripts.get(body)
        if script is not None:
            sha = body
        else:
            sha = body.lower()
            script = engine.scripts.get(sha)
            if script is None:
                raise CommandError(errors.NOSCRIPT)
    else:
        sha, script = engine.create_script(body)
    flags = script.flags
    if flags is not None and ro and "no-writes" not in flags:
        raise CommandError(RO_WITH_WRITE_FLAG)
    read_only = ro or (flags is not None and "no-writes" in flags)
    dirty = ctx.keyspace.dirty
    try:
        return engine.run(ctx, script.fn, sha, nkeys, args, is_eval=True, read_only=read_only, argv=argv)
    finally:
        if ctx.keyspace.dirty != dirty:
            ctx.propagate_argv = ALREADY_PROPAGATED  # the script's own writes are queued already


@command("eval")
def eval_(ctx: Client, body: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _run(ctx, [b"eval", body, numkeys, *args], body, numkeys, args, evalsha=False, ro=False)


@command("evalsha")
def evalsha(ctx: Client, sha: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _run(ctx, [b"evalsha", sha, numkeys, *args], sha, numkeys, args, evalsha=True, ro=False)


@command("eval_ro")
def eval_ro(ctx: Client, body: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _run(ctx, [b"eval_ro", body, numkeys, *args], body, numkeys, args, evalsha=False, ro=True)


@command("evalsha_ro")
def evalsha_ro(ctx: Client, sha: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _run(ctx, [b"evalsha_ro", sha, numkeys, *args], sha, numkeys, args, evalsha=True, ro=True)


@command("script|load")
def script_load(ctx: Client, body: bytes) -> bytes:
    sha, _ = ctx.server.scripting.create_script(body)  # type: ignore[attr-defined]
    return sha


@command("script|exists")
def script_exists(ctx: Client, *shas: bytes) -> list[int]:
    scripts = ctx.server.scripting.scripts  # type: ignore[attr-defined]
    return [1 if sha.lower() in scripts else 0 for sha in shas]


@command("script|flush")
def script_flush(ctx: Client, *args: bytes) -> Raw:
    if len(args) > 1 or (args and args[0].lower() not in (b"sync", b"async")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    ctx.server.scripting.flush_scripts()  # type: ignore[attr-defined]
    return OK


@command("script|kill")
def script_kill(ctx: Client) -> Raw:
    return ctx.server.scripting.kill(is_eval=True)  # type: ignore[attr-defined]


_SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@command("script|help")
def script_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _SCRIPT_HELP]
