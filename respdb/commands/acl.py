"""ACL commands: CAT, DELUSER, DRYRUN, GENPASS, GETUSER, HELP, LIST, LOAD, LOG, SAVE, SETUSER, USERS,
WHOAMI. They act on the per-server state in respdb/server/acl_state.py (users, log, aclfile) with
the rules of respdb/server/acl.py."""

from __future__ import annotations

import secrets
import time
from typing import Any

from respdb import errors
from respdb.commands.args import to_int
from respdb.commands.registry import command, lookup
from respdb.errors import CommandError, err
from respdb.protocol.types import OK, Double, Map, Set, Simple
from respdb.server import acl as rules
from respdb.server.acl import RuleError, User, has_spaces, merge_selector_args
from respdb.server.acl_state import REASONS, AclState
from respdb.server.client import Client


def _s(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _subcommand_syntax(ctx: Client, sub: str) -> CommandError:
    # Redis echoes the subcommand as the client spelled it (argv[1]).
    argv = ctx.server.pubsub.current_argv
    typed = _s(argv[1])[:128] if argv and len(argv) > 1 and argv[1].lower() == sub.encode() else sub
    return CommandError(errors.SUBCOMMAND_SYNTAX.format(sub=typed, cmd="ACL"))


def _state(ctx: Client) -> AclState:
    return ctx.server.acl  # type: ignore[no-any-return]


@command("acl|setuser")
def acl_setuser(ctx: Client, username: bytes, *ops: bytes) -> object:
    if has_spaces(username):
        raise err("Usernames can't contain spaces or null characters")
    merged, bad = merge_selector_args(list(ops))
    if merged is None:
        raise err(f"Unmatched parenthesis in acl selector starting at '{_s(ops[bad])}'.")
    state = _state(ctx)
    # Stage every rule on a copy: a bad rule leaves the user exactly as it was.
    existing = state.users.get(username)
    staged = state.new_user(username)
    if existing is not None:
        staged.copy_from(existing)
    for op in merged:
        try:
            staged.apply(op, state.pubsub_all)
        except RuleError as exc:
            raise err(f"Error in ACL SETUSER modifier '{_s(op)}': {exc}") from None
    if existing is None:
        state.users[username] = staged
    else:
        _kill_pubsub_if_needed(state, existing, staged, ctx)
        existing.copy_from(staged)
    state.sync_clients()
    return OK


def _kill_pubsub_if_needed(state: AclState, old: User, new: User, current: Client) -> None:
    """ACLKillPubsubClientsIfNeeded: subscribers whose channels the new rules no longer allow go."""
    if any(s.allchannels for s in new.selectors):
        return
    upcoming = [c for s in new.selectors for c in s.channels]
    if all(c in upcoming for s in old.selectors for c in s.channels):
        return
    for client in list(state.server.clients.values()):
        if state.user_of(client) is not old or not (client.channels or client.patterns or client.shard_channels):
            continue
        bad = any(p not in upcoming for p in client.patterns) or any(
            not rules._channel_allowed(upcoming, ch, False) for ch in (*client.channels, *client.shard_channels)
        )
        if bad:
            client.kill(current)


@command("acl|deluser")
def acl_deluser(ctx: Client, *names: bytes) -> int:
    if b"default" in names:
        raise err("The 'default' user cannot be removed")
    state = _state(ctx)
    gone = set()
    for name in names:
        user = state.users.pop(name, None)
        if user is not None:
            gone.add(id(user))
    state.kill_clients_of(gone, ctx)
    return len(gone)


def _selector_fields(s: rules.Selector) -> list[Any]:
    return [b"commands", s.describe_commands(), b"keys", s.describe_keys(), b"channels", s.describe_channels()]


@command("acl|getuser")
def acl_getuser(ctx: Client, name: bytes) -> object:
    user = _state(ctx).users.get(name)
    if user is None:
        return None
    return Map(
        [
            b"flags", Set([f.encode() for f in rules.USER_FLAGS if f in user.flags]),
            b"passwords", list(user.passwords),
            *_selector_fields(user.root),
            b"selectors", [Map(_selector_fields(s)) for s in user.selectors[1:]],
        ]
    )


@command("acl|list")
def acl_list(ctx: Client) -> list[bytes]:
    users = _state(ctx).users
    return [b"user " + name + b" " + users[name].describe() for name in sorted(users)]


@command("acl|users")
def acl_users(ctx: Client) -> list[bytes]:
    return sorted(_state(ctx).users)


@command("acl|whoami")
def acl_whoami(ctx: Client) -> bytes:
    return _state(ctx).user_of(ctx).name


_NO_ACLFILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
    "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) "
    "in order to store users in the Redis configuration."
)


@command("acl|load")
def acl_load(ctx: Client) -> object:
    path = ctx.server.config.aclfile
    if not path:
        raise CommandError(_NO_ACLFILE)
    problems = _state(ctx).load_file(path, ctx)
    if problems is not None:
        raise err(problems)
    return OK


@command("acl|save")
def acl_save(ctx: Client) -> object:
    path = ctx.server.config.aclfile
    if not path:
        raise CommandError(_NO_ACLFILE)
    if not _state(ctx).save_file(path):
        raise err("There was an error trying to save the ACLs. Please check the server logs for more information")
    return OK


@command("acl|cat")
def acl_cat(ctx: Client, *args: bytes) -> list[bytes]:
    if not args:
        return [c.encode() for c in rules.CATEGORIES]
    if len(args) > 1:
        raise _subcommand_syntax(ctx, "cat")
    cat = args[0].decode("latin-1").lower()
    if cat not in rules.CATEGORIES:
        raise err(f"Unknown category '{_s(args[0])[:128]}'")
    return sorted(n.encode() for n in rules.table().members[cat])


@command("acl|genpass")
def acl_genpass(ctx: Client, *args: bytes) -> bytes:
    if len(args) > 1:
        raise _subcommand_syntax(ctx, "genpass")
    bits = to_int(args[0]) if args else 256
    if bits <= 0 or bits > 4096:
        raise err("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars].encode()


@command("acl|log")
def acl_log(ctx: Client, *args: bytes) -> object:
    if len(args) > 1:
        raise _subcommand_syntax(ctx, "log")
    state = _state(ctx)
    count = 10
    if args:
        if args[0].lower() == b"reset":
            state.log.clear()
            return OK
        count = max(0, to_int(args[0]))
    now = time.time() * 1000
    return [
        Map(
            [
                b"count", e.count,
                b"reason", REASONS[e.reason],
                b"context", e.context,
                b"object", e.object,
                b"username", e.username,
                b"age-seconds", Double(int(now - e.ctime) / 1000),
                b"client-info", e.cinfo,
            ]
        )
        for e in state.log[:count]
    ]


@command("acl|dryrun")
def acl_dryrun(ctx: Client, username: bytes, *argv: bytes) -> object:
    user = _state(ctx).users.get(username)
    if user is None:
        raise err(f"User '{_s(username)}' not found")
    spec = lookup(argv[0])
    if spec is not None and spec.subcommands and len(argv) >= 2:
        spec = spec.subcommands.get(argv[1].decode("latin-1").lower())
    if spec is None:
        raise err(f"Command '{_s(argv[0])}' not found")
    n = len(argv)
    if (spec.arity > 0 and n != spec.arity) or n < -spec.arity:
        raise CommandError(errors.WRONG_ARGS.format(name=spec.name))
    result, idx = user.check(spec, list(argv))
    if result == rules.DENIED_CMD:
        return f"This user has no permissions to run the '{spec.name}' command".encode()
    if result == rules.DENIED_KEY:
        return b"This user has no permissions to access the '" + argv[idx] + b"' key"
    if result == rules.DENIED_CHANNEL:
        return b"This user has no permissions to access the '" + argv[idx] + b"' channel"
    return OK


_HELP = (
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
)


@command("acl|help")
def acl_help(ctx: Client) -> list[Simple]:
    return [Simple(line.encode()) for line in _HELP]
