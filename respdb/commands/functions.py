"""Redis 7 functions: FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL|HELP, FCALL, FCALL_RO.

Libraries live in respdb/scripting/library.py; this module parses arguments in Redis's order
(functions.c) and shapes the replies.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.dispatch import ALREADY_PROPAGATED
from respdb.commands.registry import command
from respdb.commands.scripting import RO_WITH_WRITE_FLAG
from respdb.errors import CommandError
from respdb.protocol.types import OK, Map, Raw, Set, Simple
from respdb.storage.glob import glob_match

if TYPE_CHECKING:
    from respdb.scripting.library import FunctionRegistry
    from respdb.server.client import Client


def _registry(ctx: Client) -> FunctionRegistry:
    return ctx.server.scripting.functions  # type: ignore[attr-defined]


def _fcall(ctx: Client, argv: list[bytes], name: bytes, numkeys: bytes, args: tuple[bytes, ...], ro: bool) -> Raw:
    function = _registry(ctx).functions.get(name.lower())
    if function is None:
        raise errors.err("Function not found")
    try:
        nkeys = to_int(numkeys)
    except CommandError:
        raise errors.err("Bad number of keys provided") from None
    if nkeys > len(args):
        raise CommandError(errors.NUMKEYS_GREATER)
    if nkeys < 0:
        raise CommandError(errors.NUMKEYS_NEGATIVE)
    no_writes = "no-writes" in function.flags
    if ro and not no_writes:
        raise CommandError(RO_WITH_WRITE_FLAG)
    engine = ctx.server.scripting  # type: ignore[attr-defined]
    dirty = ctx.keyspace.dirty
    try:
        return engine.run(ctx, function.callback, name, nkeys, args, is_eval=False, read_only=ro or no_writes, argv=argv)
    finally:
        if ctx.keyspace.dirty != dirty:
            ctx.propagate_argv = ALREADY_PROPAGATED  # the function's own writes are queued already


@command("fcall")
def fcall(ctx: Client, name: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _fcall(ctx, [b"fcall", name, numkeys, *args], name, numkeys, args, ro=False)


@command("fcall_ro")
def fcall_ro(ctx: Client, name: bytes, numkeys: bytes, *args: bytes) -> Raw:
    return _fcall(ctx, [b"fcall_ro", name, numkeys, *args], name, numkeys, args, ro=True)


@command("function|load")
def function_load(ctx: Client, *args: bytes) -> bytes:
    replace = False
    for arg in args[:-1]:
        if arg.lower() != b"replace":
            raise errors.err("Unknown option given: " + arg.decode("utf-8", "replace"))
        replace = True
    if not args:
        raise errors.err("Function code is missing")
    name = _registry(ctx).load(args[-1], replace)
    # Redis counts a library change as one change to the dataset: that is also what logs it (AOF).
    ctx.keyspace.dirty += 1
    return name


@command("function|delete")
def function_delete(ctx: Client, name: bytes) -> Raw:
    _registry(ctx).delete(name)
    ctx.keyspace.dirty += 1  # as FUNCTION LOAD
    return OK


def _flush_mode(args: tuple[bytes, ...]) -> None:
    if len(args) > 1 or (args and args[0].lower() not in (b"sync", b"async")):
        raise errors.err("FUNCTION FLUSH only supports SYNC|ASYNC option")


@command("function|flush")
def function_flush(ctx: Client, *args: bytes) -> Raw:
    _flush_mode(args)
    _registry(ctx).flush()
    ctx.keyspace.dirty += 1  # as FUNCTION LOAD, even with no library to flush
    return OK


@command("function|list")
def function_list(ctx: Client, *args: bytes) -> list[Map]:
    with_code = False
    pattern: bytes | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        low = arg.lower()
        if not with_code and low == b"withcode":
            with_code = True
        elif pattern is None and low == b"libraryname":
            if i >= len(args) - 1:
                raise errors.err("library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise errors.err("Unknown argument " + arg.decode("utf-8", "replace"))
        i += 1
    out = []
    for library in _registry(ctx).libraries.values():
        if pattern is not None and not glob_match(pattern, library.name, nocase=True):
            continue
        functions = [
            Map([b"name", f.name, b"description", f.description, b"flags", Set([Simple(fl.encode()) for fl in sorted(f.flags, key=_flag_order)])])
            for f in library.functions.values()
        ]
        entry: list[Any] = [b"library_name", library.name, b"engine", b"LUA", b"functions", functions]
        if with_code:
            entry += [b"library_code", library.code]
        out.append(Map(entry))
    return out


def _flag_order(flag: str) -> int:
    from respdb.scripting.engine import SCRIPT_FLAGS

    return SCRIPT_FLAGS.index(flag)


@command("function|dump")
def function_dump(ctx: Client) -> bytes:
    return _registry(ctx).dump()


@command("function|restore")
def function_restore(ctx: Client, payload: bytes, *args: bytes) -> Raw:
    policy = "append"
    if len(args) == 1:
        policy = args[0].decode("latin-1").lower()
        if policy not in ("append", "replace", "flush"):
            raise errors.err("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    elif len(args) > 1:
        raise errors.err("unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.")
    _registry(ctx).restore(payload, policy)
    ctx.keyspace.dirty += 1  # as FUNCTION LOAD
    return OK


@command("function|stats")
def function_stats(ctx: Client) -> Map:
    engine = ctx.server.scripting  # type: ignore[attr-defined]
    run = engine.current
    running: Any = None
    if run is not None:
        duration = int((time.perf_counter() - run.start) * 1000)
        running = Map([b"name", run.funcname, b"command", list(run.argv), b"duration_ms", duration])
    registry = engine.functions
    counts = Map([b"libraries_count", len(registry.libraries), b"functions_count", len(registry.functions)])
    return Map([b"running_script", running, b"engines", Map([b"LUA", counts])])


@command("function|kill")
def function_kill(ctx: Client) -> Raw:
    return ctx.server.scripting.kill(is_eval=False)  # type: ignore[attr-defined]


_FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@command("function|help")
def function_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _FUNCTION_HELP]
