"""Replaying an append-only log into the keyspace through the normal command handlers.

A fake client (no connection) runs each logged command via dispatch.call, so replay applies writes
exactly as they were applied live. MULTI ... EXEC blocks are collected and applied only when their EXEC
is read: a transaction cut off by a crash is dropped whole and reported as a torn tail, never half-applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hiredis

from respdb.commands.dispatch import call, resolve
from respdb.errors import CommandError, StartupError
from respdb.persistence import snapshot
from respdb.persistence.aof import BadFormat, Incomplete, parse_command
from respdb.server.client import Client

if TYPE_CHECKING:
    from respdb.server.app import Server


_SLICE = 1 << 16


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
        # hiredis parses the commands at C speed; byte offsets (needed only for a torn tail) are
        # recovered afterwards by re-walking the commands with the Python parser.
        reader = hiredis.Reader()
        fed = pos
        end = len(buf)
        index = 0
        multi_at = 0
        while True:
            try:
                argv = reader.gets()
            except hiredis.ProtocolError:
                argv = None
            if argv is False:
                if fed >= end:
                    break
                # Fed in slices: the reader compacts its buffer as it goes, which is quadratic
                # over one huge buffer.
                reader.feed(buf, fed, min(_SLICE, end - fed))
                fed += _SLICE
                continue
            if argv.__class__ is not list or not argv or not all(a.__class__ is bytes for a in argv):
                at = self._offset_of(buf, pos, index)
                raise StartupError(f"Bad file format reading the append only file {self.shown} at offset {at}")
            name = argv[0].lower()
            if name == b"multi":
                multi_at = index
                self.multi = []
            elif name == b"exec" and self.multi is not None:
                queued, self.multi = self.multi, None
                for queued_argv in queued:
                    self._apply(queued_argv)
            elif self.multi is not None:
                self.multi.append(argv)
            else:
                self._apply(argv)
            index += 1
        torn = reader.has_data()
        if self.multi is not None:
            if not torn:
                self.server.log.warning(f"Revert incomplete MULTI/EXEC transaction in AOF file {self.shown}")
            self.multi = None
            return self._offset_of(buf, pos, multi_at), True
        if torn:
            return self._offset_of(buf, pos, index), True
        return len(buf), False

    def _offset_of(self, buf: bytes, pos: int, index: int) -> int:
        """Byte offset where command number `index` (0-based) starts."""
        for _ in range(index):
            try:
                _, pos = parse_command(buf, pos)
            except (Incomplete, BadFormat):
                break
        return pos

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
