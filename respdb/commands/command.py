"""COMMAND and its subcommands, answered from the command table (and so from Redis's own metadata)."""

from __future__ import annotations

from typing import Any

from respdb import errors
from respdb.commands.dispatch import resolve
from respdb.commands.registry import COMMANDS, CommandSpec, command
from respdb.errors import CommandError, err
from respdb.protocol.types import Map, Set, Simple
from respdb.server.client import Client
from respdb.storage.glob import compile_glob


def to_reply(value: Any) -> Any:
    """Tagged JSON (see tools/dump_command_table.py) → reply markers."""
    if isinstance(value, dict):
        if "%" in value:
            flat: list[Any] = []
            for k, v in value["%"]:
                flat.append(to_reply(k))
                flat.append(to_reply(v))
            return Map(flat)
        if "~" in value:
            return Set([to_reply(x) for x in value["~"]])
        return Simple(value["+"].encode())
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [to_reply(x) for x in value]
    return value


def info_row(spec: CommandSpec) -> list[Any]:
    row = to_reply(spec.info)
    if spec.subcommands:  # only the subcommands respdb implements
        row[9] = [info_row(sub) for sub in spec.subcommands.values() if sub.handler is not None]
    return row


def docs_of(spec: CommandSpec) -> Map:
    doc = to_reply(spec.docs or {"%": []})
    if spec.subcommands:
        out = Map()
        for i in range(0, len(doc), 2):
            if doc[i] == b"subcommands":
                continue
            out += [doc[i], doc[i + 1]]
        subs = Map()
        for sub in spec.subcommands.values():
            if sub.handler is not None:
                subs += [sub.name.encode(), docs_of(sub)]
        out += [b"subcommands", subs]
        return out
    return doc


def _registered() -> list[CommandSpec]:
    return [s for s in COMMANDS.values() if s.handler is not None or any(x.handler for x in s.subcommands.values())]


@command("command")
def command_(ctx: Client) -> list[Any]:
    return [info_row(s) for s in _registered()]


@command("command|count")
def command_count(ctx: Client) -> int:
    return len(_registered())


def _find(name: bytes) -> CommandSpec | None:
    text = name.decode("latin-1").lower()
    if "|" in text:
        parent, sub = text.split("|", 1)
        spec = COMMANDS.get(parent)
        found = spec.subcommands.get(sub) if spec is not None else None
        return found if found is not None and found.handler is not None else None
    spec = COMMANDS.get(text)
    return spec if spec is not None and spec in _registered() else None


@command("command|info")
def command_info(ctx: Client, *names: bytes) -> list[Any]:
    if not names:
        return command_(ctx)
    out: list[Any] = []
    for name in names:
        spec = _find(name)
        out.append(info_row(spec) if spec is not None else None)
    return out


@command("command|docs")
def command_docs(ctx: Client, *names: bytes) -> Map:
    specs = [s for s in (_find(n) for n in names) if s is not None] if names else _registered()
    out = Map()
    for spec in specs:
        out += [spec.name.encode(), docs_of(spec)]
    return out


@command("command|list")
def command_list(ctx: Client, *args: bytes) -> list[bytes]:
    specs = _registered()
    names: list[str] = []
    for spec in specs:
        names.append(spec.name)
        names.extend(s.name for s in spec.subcommands.values() if s.handler is not None)
    if not args:
        return [n.encode() for n in names]
    if len(args) != 3 or args[0].lower() != b"filterby":
        raise CommandError(errors.SYNTAX)
    kind, value = args[1].lower(), args[2]
    if kind == b"module":
        return []
    if kind == b"aclcat":
        cat = "@" + value.decode("latin-1").lower()
        return [n.encode() for n in names if cat in _spec_by_name(n).acl_categories]
    if kind == b"pattern":
        match = compile_glob(value, nocase=True)
        return [n.encode() for n in names if match(n.encode())]
    raise CommandError(errors.SYNTAX)


def _spec_by_name(name: str) -> CommandSpec:
    if "|" in name:
        parent, sub = name.split("|", 1)
        return COMMANDS[parent].subcommands[sub]
    return COMMANDS[name]


def _getkeys(argv: tuple[bytes, ...]) -> tuple[CommandSpec, list[int]]:
    resolved = resolve(list(argv))
    if isinstance(resolved, str):
        if resolved.startswith("ERR wrong number"):
            raise err("Invalid number of arguments specified for command")
        raise err("Invalid command specified")
    keys = resolved.key_positions(list(argv))
    if not keys:
        raise err("The command has no key arguments")
    return resolved, keys


@command("command|getkeys")
def command_getkeys(ctx: Client, *argv: bytes) -> list[bytes]:
    _, keys = _getkeys(argv)
    return [argv[i] for i in keys]


@command("command|getkeysandflags")
def command_getkeysandflags(ctx: Client, *argv: bytes) -> list[Any]:
    spec, keys = _getkeys(argv)
    flags = spec.key_flags(list(argv))
    return [[argv[i], Set([Simple(f.encode()) for f in flags.get(i, [])])] for i in keys]


@command("command|help")
def command_help(ctx: Client) -> list[Any]:
    lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
    ]
    return [Simple(line.encode()) for line in lines]
