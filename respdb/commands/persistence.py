"""Persistence commands: SAVE, BGSAVE [SCHEDULE], LASTSAVE, BGREWRITEAOF (the work is in respdb.persistence)."""

from __future__ import annotations

from respdb import errors
from respdb.commands.registry import command
from respdb.errors import CommandError
from respdb.persistence import setup as _setup  # noqa: F401  (registers the parameters and the installer)
from respdb.protocol.types import OK, Simple
from respdb.server.client import Client


@command("save")
def save(ctx: Client) -> object:
    p = ctx.server.persistence
    if p.child_kind == "rdb":
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    try:
        p.save_now()
    except OSError:
        raise CommandError("ERR") from None  # Redis replies a bare -ERR; the reason is in the log
    return OK


@command("bgsave")
def bgsave(ctx: Client, *args: bytes) -> object:
    schedule = False
    if len(args) == 1 and args[0].lower() == b"schedule":
        schedule = True
    elif args:
        raise CommandError(errors.SYNTAX)
    p = ctx.server.persistence
    if p.child_kind == "rdb":
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    if p.child_pid is not None or ctx.in_exec:
        if schedule or ctx.in_exec:
            p.bgsave_scheduled = True
            return Simple(b"Background saving scheduled")
        raise CommandError(errors.BGSAVE_CHILD_ACTIVE)
    try:
        p.bgsave()
    except OSError:
        raise CommandError("ERR") from None
    return Simple(b"Background saving started")


@command("lastsave")
def lastsave(ctx: Client) -> int:
    return ctx.server.persistence.lastsave


@command("bgrewriteaof")
def bgrewriteaof(ctx: Client) -> object:
    p = ctx.server.persistence
    if p.child_kind == "aof":
        raise CommandError(errors.AOF_REWRITE_IN_PROGRESS)
    if p.child_pid is not None or ctx.in_exec:
        p.aof.rewrite_scheduled = True
        p.aof.failures = 0
        return Simple(b"Background append only file rewriting scheduled")
    try:
        p.aof.start_rewrite()
    except OSError:
        raise CommandError(errors.AOF_REWRITE_FAILED) from None
    return Simple(b"Background append only file rewriting started")
