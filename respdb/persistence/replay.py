"""Loading an append-only log: reading plain or encrypted files and replaying their commands.

A fake client (no connection) runs each logged command via dispatch.call, so replay applies writes
exactly as they were applied live. MULTI ... EXEC blocks are collected and applied only when their EXEC
is read: a transaction cut off by a crash is dropped whole and reported as a torn tail, never half-applied.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import hiredis

from respdb.commands.dispatch import call, resolve
from respdb.errors import CommandError, StartupError
from respdb.persistence import snapshot
from respdb.persistence.aof import _LEN, AOF, AOF_HEADER, AOF_VERSION, MAGIC_AOF, BadFormat, Incomplete, parse_command
from respdb.persistence.crypto import KEY_HEADER, AuthError, KeyError_, sealer_for
from respdb.persistence.libraries import install_functions
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

    def run_stream(
        self, buf: bytes, pos: int, passphrase: bytes | None, top: bool, progress: snapshot.LoadProgress | None = None
    ) -> tuple[int, bool]:
        """Apply the commands in buf[pos:]; returns (offset of the last whole unit, torn tail?).
        `progress` hears the offset reached in buf (a CDB preamble reports on its own)."""
        if top and snapshot.is_snapshot(buf, pos):
            preamble = None
            if progress is not None:
                preamble = snapshot.LoadProgress(self.server.log, "CDB preamble", progress.interval)
            try:
                loaded = snapshot.parse(buf, passphrase, pos=pos, progress=preamble)
                snapshot.install_into(self.server.keyspace, loaded)
                install_functions(loaded)
            except snapshot.SnapshotError as exc:
                raise StartupError(f"Bad CDB preamble in the append only file {self.shown}: {exc}") from None
            pos = loaded.end
        # hiredis parses the commands at C speed; byte offsets (needed only for a torn tail) are
        # recovered afterwards by re-walking the commands with the Python parser.
        reader = hiredis.Reader()
        fed = pos
        end = len(buf)
        # Progress can be reported only between slices: a step smaller than a slice makes them smaller.
        step = min(_SLICE, progress.interval) if progress is not None else _SLICE
        index = 0
        multi_at = 0
        while True:
            try:
                argv = reader.gets()
            except hiredis.ProtocolError:
                argv = None
            if argv is False:
                # Every whole command fed so far has been applied: a good moment to report.
                if progress is not None and fed >= progress.next_at:
                    progress.report(min(fed, end), end, self.keys())
                if fed >= end:
                    break
                # Fed in slices: the reader compacts its buffer as it goes, which is quadratic
                # over one huge buffer.
                reader.feed(buf, fed, min(step, end - fed))
                fed += step
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

    def keys(self) -> int:
        return sum(len(db.data) for db in self.server.keyspace.dbs)

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


def load_log(aof: AOF, passphrase: bytes | None) -> None:
    """Load the append-only log at start: torn tails as Redis handles them, anything else fatal."""
    path = aof.path
    shown = os.path.abspath(path)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as exc:
        raise StartupError(f"Can't open the append only file {shown}: {exc.strerror}") from None
    start = time.monotonic()
    replay = Replayer(aof.server, shown)
    progress = aof.p.load_progress("AOF")
    aof.loading = True
    try:
        if buf.startswith(MAGIC_AOF):
            valid, truncated = _load_encrypted(aof, buf, passphrase, replay, shown, progress)
        else:
            valid, truncated = replay.run_stream(buf, 0, passphrase, top=True, progress=progress)
    finally:
        aof.loading = False
        aof.server.propagation.clear()
    if truncated:
        if not aof.config.aof_load_truncated:
            raise StartupError(
                f"Unexpected end of file reading the append only file {shown}. You can set the "
                "'aof-load-truncated' configuration option to yes and restart the server."
            )
        aof.server.log.warning(f"!!! Warning: short read while loading the AOF file {shown}!!!")
        aof.server.log.warning(f"!!! Truncating the AOF at offset {valid} !!!")
        with open(path, "r+b") as f:
            f.truncate(valid)
            os.fsync(f.fileno())
        aof.server.log.warning("AOF loaded anyway because aof-load-truncated is enabled")
    aof.server.reset_stats()
    aof.server.keyspace.dirty = 0
    aof.p.keys_loaded = sum(len(db.data) for db in aof.server.keyspace.dbs)
    aof.server.log.notice(f"DB loaded from append only file: {time.monotonic() - start:.3f} seconds")
    aof.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    aof.current_size = aof.base_size = valid
    aof.state = "on"
    aof.sync_hook()
    if aof.sealer is None and passphrase is not None:
        aof.rewrite_scheduled = True  # a key was configured since: re-write the log encrypted

def _load_encrypted(
    aof: AOF, buf: bytes, passphrase: bytes | None, replay: Replayer, shown: str, progress: snapshot.LoadProgress
) -> tuple[int, bool]:
    head = AOF_HEADER.size + KEY_HEADER.size
    if len(buf) < head:
        raise StartupError(f"Bad file format reading the append only file {shown}: truncated header")
    _, version, _, _, file_id = AOF_HEADER.unpack_from(buf)
    if version != AOF_VERSION:
        raise StartupError(f"Unsupported append only file version {version} in {shown}")
    try:
        sealer = sealer_for(buf[AOF_HEADER.size : head], passphrase)
    except KeyError_ as exc:
        raise StartupError(f"Can't load the append only file {shown}: {exc}") from None
    aof.p.adopt_salt(buf[AOF_HEADER.size : head])
    pos, index = head, 0
    while pos < len(buf):
        if pos + 8 > len(buf):
            return pos, True
        (size,) = _LEN.unpack_from(buf, pos)
        if pos + 8 + size > len(buf):
            return pos, True
        try:
            plain = sealer.open(buf[pos + 8 : pos + 8 + size], file_id + _LEN.pack(index))
        except AuthError:
            raise StartupError(f"Record {index} of the append only file {shown} failed authentication (modified or corrupted data)") from None
        _, torn = replay.run_stream(plain, 0, passphrase, top=index == 0)
        if torn:
            raise StartupError(f"Bad file format reading the append only file {shown}: record {index} ends mid-command")
        pos += 8 + size
        index += 1
        if pos >= progress.next_at:
            progress.report(pos, len(buf), replay.keys())
    aof.sealer, aof.file_id, aof.next_index = sealer, file_id, index
    return pos, False
