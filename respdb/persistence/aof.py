"""The append-only log: every write as a RESP command, replayed at start.

Plain file: an optional .cdb snapshot (the "preamble", written by a rewrite) followed by RESP commands,
the same shape as Redis's AOF with an RDB preamble. Encrypted file (cdb-encryption-key set): a header
(magic "RESPDAOF", version, file id, key header) then records `u64 length | nonce | ciphertext | tag`,
each authenticated with the file id and its index as associated data; record 0 of a rewritten log is
the snapshot.

Durability: `appendfsync always` writes and fdatasyncs inside the propagate hook, which runs before the
command's reply is handed to the transport, so no client sees an acknowledgement for a write that is not
on disk. `everysec` and `no` buffer the writes of one event-loop pass and write them in a call_soon
callback (one syscall per pass); `everysec` fdatasyncs from the cron at most once a second.

Rewrite (BGREWRITEAOF, automatic growth rule, enabling AOF at run time): a forked child writes the
snapshot of the fork moment to a temp file while the parent keeps appending to the old log *and*
buffers the same writes; when the child succeeds the parent appends the buffer to the temp file, fsyncs
it and renames it over the log. A crash at any moment leaves a complete old or new log.
"""

from __future__ import annotations

import os
import struct
import time
from typing import TYPE_CHECKING, Any

from respdb.errors import StartupError
from respdb.persistence import snapshot
from respdb.persistence.crypto import Sealer
from respdb.persistence.libraries import export_libraries

if TYPE_CHECKING:
    from respdb.persistence.manager import Persistence

MAGIC_AOF = b"RESPDAOF"
AOF_VERSION = 1
AOF_HEADER = struct.Struct("<8sHBB16s")
_LEN = struct.Struct("<Q")
_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


def encode_command(argv: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in argv])


class Incomplete(Exception):
    """The data ends in the middle of a command or record (a torn last write)."""


class BadFormat(Exception):
    """Bytes that are not a RESP command where one must start."""


def parse_command(buf: bytes, pos: int) -> tuple[list[bytes], int]:
    """One multibulk command at `pos` → (argv, next position)."""
    n = len(buf)
    if buf[pos] != 0x2A:  # '*'
        raise BadFormat(pos)
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        raise Incomplete
    try:
        count = int(buf[pos + 1 : eol])
    except ValueError:
        raise BadFormat(pos) from None
    if count < 1:
        raise BadFormat(pos)
    pos = eol + 2
    argv = []
    for _ in range(count):
        if pos >= n:
            raise Incomplete
        if buf[pos] != 0x24:  # '$'
            raise BadFormat(pos)
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete
        try:
            size = int(buf[pos + 1 : eol])
        except ValueError:
            raise BadFormat(pos) from None
        if size < 0:
            raise BadFormat(pos)
        pos = eol + 2
        if pos + size + 2 > n:
            raise Incomplete
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise BadFormat(pos)
        argv.append(buf[pos : pos + size])
        pos += size + 2
    return argv, pos


def seal_record(sealer: Sealer, file_id: bytes, index: int, plaintext: bytes) -> bytes:
    sealed = sealer.seal(plaintext, file_id + _LEN.pack(index))
    return _LEN.pack(len(sealed)) + sealed


def write_base(path: str, dbs: list[Any], sealer: Sealer | None, file_id: bytes, functions: list[bytes]) -> None:
    """A rewritten log's base (the snapshot of `dbs` and the function libraries) in a new file,
    fsynced. Not renamed here."""
    data = snapshot.build(dbs, None, functions=functions)
    if sealer is not None:
        data = AOF_HEADER.pack(MAGIC_AOF, AOF_VERSION, 1, 0, file_id) + sealer.header + seal_record(sealer, file_id, 0, data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class AOF:
    def __init__(self, persistence: Persistence) -> None:
        self.p = persistence
        self.server = persistence.server
        self.config = persistence.config
        self.fd: int | None = None
        self.state = "off"  # on | off | wait_rewrite (enabled, first rewrite not finished yet)
        self.cur_db = -1
        self.pending: list[bytes] = []
        self.held: list[tuple[Any, bytes]] = []  # replies waiting for the fsync (appendfsync always)
        self.flush_scheduled = False
        self.rewrite_buf: list[bytes] | None = None
        self.rewrite_tmp = ""
        self.rewrite_key: tuple[Sealer | None, bytes] = (None, b"")
        self.rewrite_scheduled = False
        self.loading = False
        self.unsynced = False
        self.last_fsync = time.monotonic()
        self.write_error: str | None = None
        self.base_size = 0
        self.current_size = 0
        self.last_rewrite_ok = True
        self.last_rewrite_secs = -1
        self.rewrites = 0
        self.failures = 0
        self.sealer: Sealer | None = None
        self.file_id = b""
        self.next_index = 0

    @property
    def path(self) -> str:
        return os.path.join(self.config.dir, self.config.appendfilename)

    def sync_hook(self) -> None:
        """Be a propagate hook only while something is logged: with no consumer, dispatch skips
        building the propagation batch altogether (the hot path stays as fast as without AOF)."""
        hooks = self.server.propagate_hooks
        wanted = self.state != "off" or self.rewrite_buf is not None
        if wanted and self.propagate not in hooks:
            hooks.append(self.propagate)
        elif not wanted and self.propagate in hooks:
            hooks.remove(self.propagate)

    # --- the write path --------------------------------------------------------------------------
    def propagate(self, batch: list[tuple[int, list[bytes]]]) -> None:
        if self.loading or (self.state == "off" and self.rewrite_buf is None):
            return
        parts = []
        if len(batch) > 1:
            if batch[0][0] != self.cur_db:
                self.cur_db = batch[0][0]
                parts.append(encode_command([b"SELECT", b"%d" % self.cur_db]))
            parts.append(_MULTI)
        for dbid, argv in batch:
            if dbid != self.cur_db:
                self.cur_db = dbid
                parts.append(encode_command([b"SELECT", b"%d" % dbid]))
            parts.append(encode_command(argv))
        if len(batch) > 1:
            parts.append(_EXEC)
        data = b"".join(parts)
        if self.rewrite_buf is not None:
            self.rewrite_buf.append(data)
        if self.state != "on":
            return
        self.pending.append(data)
        if self.config.appendfsync == "always":
            # Replies written from now on are held by the barrier; _flush_soon (after every client's
            # input of this loop pass) writes and fsyncs the log once, then sends them: one fsync per
            # pass for all clients, as Redis does in beforeSleep.
            self.server.reply_barrier = self.barrier
        if not self.flush_scheduled and self.server.loop is not None:
            self.flush_scheduled = True
            self.server.loop.call_soon(self._flush_soon)

    def barrier(self, conn: Any, data: bytes) -> bool:
        """Hold a reply until the log is durable (True), or sync now when the connection is about to
        close right after this reply (False: the caller writes it)."""
        client = conn.client
        if client is not None and client.close_after_reply:
            self.sync_always()
            return False
        self.held.append((conn, data))
        return True

    def sync_always(self) -> None:
        """Write and fsync the pending log, then release the held replies."""
        self.server.reply_barrier = None
        try:
            self.flush(fsync=True)
        except OSError as exc:
            # The writes are applied in memory but cannot be made durable, and their replies must
            # not go out: Redis exits here too rather than acknowledge them.
            self.server.log.warning(f"Can't write to the AOF with appendfsync always ({exc}). Exiting...")
            os._exit(1)
        held, self.held = self.held, []
        for conn, data in held:
            if not conn.closed and conn.transport is not None:
                conn.transport.write(data)

    def _flush_soon(self) -> None:
        self.flush_scheduled = False
        if self.server.reply_barrier is not None or self.held:
            self.sync_always()
            return
        try:
            self.flush()
        except OSError:
            pass  # recorded in write_error; the cron retries

    def flush(self, fsync: bool = False) -> None:
        """Write pending data to the log (and fdatasync it when asked). OSError leaves it pending."""
        if self.fd is None:
            self.pending.clear()
            return
        if self.pending:
            data = b"".join(self.pending) if len(self.pending) > 1 else self.pending[0]
            if self.sealer is not None:
                data = seal_record(self.sealer, self.file_id, self.next_index, data)
            before = self.current_size
            try:
                self._write(self.fd, data)
            except OSError as exc:
                self.write_error = exc.strerror or str(exc)
                self.server.log.warning(f"Error writing to the AOF file: {self.write_error}")
                try:
                    os.ftruncate(self.fd, before)  # drop a partial record so the log stays parseable
                except OSError:
                    pass
                raise
            if self.sealer is not None:
                self.next_index += 1
            self.pending.clear()
            self.current_size = before + len(data)
            self.unsynced = True
            if self.write_error is not None:
                self.server.log.warning("AOF write error looks solved, Redis can write again.")
                self.write_error = None
        if fsync and self.unsynced:
            os.fdatasync(self.fd)
            self.unsynced = False
            self.last_fsync = time.monotonic()

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def cron(self) -> None:
        if self.fd is None:
            return
        everysec = self.config.appendfsync == "everysec"
        try:
            self.flush(fsync=everysec and time.monotonic() - self.last_fsync >= 1.0)
        except OSError:
            pass

    def close(self) -> None:
        if self.server.reply_barrier is not None or self.held:
            self.sync_always()
        if self.fd is not None:
            try:
                self.flush(fsync=True)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None

    # --- on / off --------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        """CONFIG SET appendonly: start a log with a rewrite of the current data, or stop logging."""
        if on and self.state == "off":
            self.state = "wait_rewrite"
            if self.p.child_kind == "aof":
                self.p.kill_child()
            if self.p.child_pid is None:
                self.start_rewrite()
            else:
                self.rewrite_scheduled = True
        elif not on and self.state != "off":
            if self.p.child_kind == "aof":
                self.p.kill_child()
            self.close()
            self.state = "off"
            self.rewrite_scheduled = False
            self.sync_hook()

    # --- rewrite ---------------------------------------------------------------------------------
    def start_rewrite(self) -> None:
        self.rewrite_scheduled = False
        try:
            self.flush()
        except OSError:
            pass
        tmp = os.path.join(self.config.dir, f"temp-rewriteaof-bg-{os.getpid()}.aof")
        sealer = self.p.sealer()
        file_id = os.urandom(16)
        dbs = self.server.keyspace.dbs
        try:
            functions = export_libraries()
            self.p.fork("aof", lambda: write_base(tmp, dbs, sealer, file_id, functions), self._rewrite_done)
        except OSError as exc:
            self.server.log.warning(f"Can't rewrite append only file in background: fork: {exc.strerror}")
            self.last_rewrite_ok = False
            self.failures += 1
            raise
        self.rewrite_buf = []
        self.rewrite_tmp = tmp
        self.rewrite_key = (sealer, file_id)
        self.cur_db = -1  # the new log starts in db 0 after its preamble: force a SELECT
        self.sync_hook()
        self.server.log.notice(f"Background append only file rewriting started by pid {self.p.child_pid}")

    def rewrite_abandoned(self) -> None:
        self.rewrite_buf = None
        self.sync_hook()
        try:
            os.unlink(self.rewrite_tmp)
        except OSError:
            pass

    def _rewrite_done(self, ok: bool) -> None:
        self.last_rewrite_secs = int(time.time() - self.p.child_start)
        buf, self.rewrite_buf = self.rewrite_buf or [], None
        tmp = self.rewrite_tmp
        self.sync_hook()
        if ok:
            try:
                self._switch_to(tmp, buf)
            except OSError as exc:
                self.server.log.warning(f"Error trying to install the rewritten AOF: {exc}")
                ok = False
        if not ok:
            self.last_rewrite_ok = False
            self.failures += 1
            self.rewrite_abandoned()
            self.server.log.warning("Background AOF rewrite terminated with error")
            if self.state == "wait_rewrite":
                self.rewrite_scheduled = True
            return
        self.last_rewrite_ok = True
        self.failures = 0
        self.rewrites += 1
        self.server.log.notice("Background AOF rewrite finished successfully")

    def _switch_to(self, tmp: str, buf: list[bytes]) -> None:
        """Append the writes made during the rewrite to the new log, make it durable, swap it in."""
        try:
            self.flush()  # the old log must be complete up to the switch
        except OSError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_APPEND)
        try:
            sealer, file_id = self.rewrite_key
            data = b"".join(buf)
            if data:
                self._write(fd, seal_record(sealer, file_id, 1, data) if sealer is not None else data)
            os.fsync(fd)
            os.replace(tmp, self.path)
            snapshot.fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        except OSError:
            os.close(fd)
            raise
        if self.fd is not None:
            os.close(self.fd)
        self.pending.clear()
        self.sealer, self.file_id = sealer, file_id
        self.next_index = 2 if data else 1
        self.current_size = self.base_size = os.fstat(fd).st_size
        self.unsynced = False
        if self.state == "off":  # BGREWRITEAOF with appendonly no: the file is written, not kept open
            os.close(fd)
            self.fd = None
            return
        self.fd = fd
        self.state = "on"
        self.sync_hook()

    def maybe_auto_rewrite(self) -> None:
        perc = self.config.auto_aof_rewrite_percentage
        if self.state != "on" or not perc or self.current_size < self.config.auto_aof_rewrite_min_size:
            return
        base = self.base_size or 1
        growth = (self.current_size - base) * 100 // base
        if growth >= perc:
            self.server.log.notice(f"Starting automatic rewriting of AOF on {growth}% growth")
            try:
                self.start_rewrite()
            except OSError:
                pass

    def create_from_memory(self) -> None:
        """Start a log at server start when none exists: its base is the data loaded so far."""
        tmp = self.path + ".tmp"
        sealer = self.p.sealer()
        file_id = os.urandom(16)
        try:
            write_base(tmp, self.server.keyspace.dbs, sealer, file_id, export_libraries())
            self.rewrite_key = (sealer, file_id)
            self.state = "on"
            self._switch_to(tmp, [])
        except OSError as exc:
            raise StartupError(f"Can't create the append only file {os.path.abspath(self.path)}: {exc}") from None

    # --- loading ---------------------------------------------------------------------------------
    def load(self, passphrase: bytes | None) -> None:
        """Replay the log into the keyspace and open it for appending (replay.load_log)."""
        from respdb.persistence.replay import load_log

        load_log(self, passphrase)

    def info(self, child: bool, now: float) -> list[tuple[str, Any]]:
        fields: list[tuple[str, Any]] = [
            ("aof_enabled", int(self.state != "off")),
            ("aof_rewrite_in_progress", int(child)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_secs),
            ("aof_current_rewrite_time_sec", int(now - self.p.child_start) if child else -1),
            ("aof_last_bgrewrite_status", "ok" if self.last_rewrite_ok else "err"),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.failures),
            ("aof_last_write_status", "ok" if self.write_error is None else "err"),
            ("aof_last_cow_size", 0),
        ]
        if self.state != "off":
            fields += [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)),
                ("aof_buffer_length", sum(map(len, self.pending))),
                ("aof_pending_bio_fsync", 0),
                ("aof_delayed_fsync", 0),
            ]
        return fields
