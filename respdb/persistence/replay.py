"""Replaying an append-only log into the keyspace through the normal command handlers.

A fake client (no connection) runs each logged command via dispatch.call, so replay applies writes
exactly as they were applied live. MULTI ... EXEC blocks are collected and applied only when their EXEC
is read: a transaction cut off by a crash is dropped whole and reported as a torn tail, never half-applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from respdb.commands.dispatch import call, resolve
from respdb.errors import CommandError, StartupError
from respdb.persistence import snapshot
from respdb.persistence.aof import BadFormat, Incomplete, parse_command
from respdb.server.client import Client

if TYPE_CHECKING:
    from respdb.server.app import Server


class Replayer:
    def __init__(self, server: Server, shown: str) -> None:
        self.server = server
        self.shown = shown
        client = Client(server, 0, "aof", "aof")
        client.authenticated = True
        client.in_exec = True  # a blocking command in the log must not block
        client.refresh_plain()
        self.client = client
        self.multi: list[list[bytes]] | None = None

    def run_stream(self, buf: bytes, pos: int, passphrase: bytes | None, top: bool) -> tuple[int, bool]:
        """Apply the commands in buf[pos:]; returns (offset of the last whole unit, torn tail?)."""
        if top and snapshot.is_snapshot(buf, pos):
            try:
                loaded = snapshot.parse(buf, passphrase, pos=pos)
                snapshot.install_into(self.server.keyspace, loaded)
            except snapshot.SnapshotError as exc:
                raise StartupError(f"Bad CDB preamble in the append only file {self.shown}: {exc}") from None
            pos = loaded.end
        before_multi = pos
        end = len(buf)
        while pos < end:
            try:
                argv, nxt = parse_command(buf, pos)
            except Incomplete:
                torn_at = before_multi if self.multi is not None else pos
                self.multi = None
                return torn_at, True
            except BadFormat:
                raise StartupError(f"Bad file format reading the append only file {self.shown} at offset {pos}") from None
            name = argv[0].lower()
            if name == b"multi":
                before_multi = pos
                self.multi = []
            elif name == b"exec" and self.multi is not None:
                queued, self.multi = self.multi, None
                for queued_argv in queued:
                    self._apply(queued_argv)
            elif self.multi is not None:
                self.multi.append(argv)
            else:
                self._apply(argv)
            pos = nxt
        if self.multi is not None:
            self.server.log.warning(f"Revert incomplete MULTI/EXEC transaction in AOF file {self.shown}")
            self.multi = None
            return before_multi, True
        return pos, False

    def _apply(self, argv: list[bytes]) -> None:
        spec = resolve(argv)
        if isinstance(spec, str):
            name = argv[0].decode("utf-8", "replace")
            raise StartupError(f"Unknown command '{name}' reading the append only file {self.shown} ({spec})")
        try:
            call(self.client, spec, argv)
        except CommandError:
            pass  # as in Redis: a logged command that fails now failed then too
        self.server.propagation.clear()
        self.server.keyspace.ready_keys.clear()
