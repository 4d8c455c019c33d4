"""Persistence state of one server: loading at start, SAVE/BGSAVE, the save rules, the forked child,
shutdown saves, the MISCONF write guard and INFO persistence.

One child process at a time, as in Redis: a BGSAVE or an AOF rewrite. The child is made with
os.fork(), so it serializes the databases exactly as they were at the fork (copy-on-write gives the
consistent point-in-time view); it writes a temp file, fsyncs, renames, fsyncs the directory and leaves
with os._exit. The parent never waits for it: the cron reaps it with WNOHANG and records the outcome.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from respdb.errors import StartupError
from respdb.persistence import snapshot
from respdb.persistence.aof import AOF
from respdb.persistence.crypto import Sealer, new_sealer, read_passphrase
from respdb.persistence.libraries import export_libraries, install_functions

if TYPE_CHECKING:
    from respdb.server.app import Server

BGSAVE_RETRY_DELAY = 5  # seconds before the save rules retry after a failed BGSAVE (Redis's value)


class Persistence:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.config = server.config
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_secs = -1
        self.rdb_saves = 0
        self.bgsave_scheduled = False
        self.keys_loaded = 0
        self.keys_expired = 0
        self.child_pid: int | None = None
        self.child_kind = ""  # "rdb" or "aof"
        self.child_start = 0.0
        self.child_tmp = ""
        self.child_done: Callable[[bool], None] | None = None
        self.dirty_at_fork = 0
        self._passphrase: bytes | None = None
        self._guarded: list[Any] = []  # write specs taken off the dispatch fast path (MISCONF)
        self._salt: bytes | None = None
        self.aof = AOF(self)

    # --- configuration ---------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return os.path.join(self.config.dir, self.config.dbfilename)

    def passphrase(self) -> bytes | None:
        if self._passphrase is None:
            self._passphrase = read_passphrase(self.config.cdb_encryption_key, self.config.cdb_encryption_key_file)
        return self._passphrase

    def sealer(self) -> Sealer | None:
        """The key new files are sealed with (None: write plaintext). The salt is chosen once per
        process (or taken from the file loaded at start), so scrypt runs once, not per save."""
        phrase = self.passphrase()
        if phrase is None:
            return None
        sealer = new_sealer(phrase, self._salt)
        self._salt = sealer.header[3:19]
        return sealer

    def adopt_salt(self, key_header: bytes) -> None:
        if key_header:
            self._salt = key_header[3:19]

    # --- loading ---------------------------------------------------------------------------------
    def load_at_start(self) -> None:
        """AOF when enabled and present, else the .cdb; any failure stops the server (StartupError)."""
        try:
            phrase = self.passphrase()
        except OSError as exc:
            raise StartupError(f"can't read cdb-encryption-key-file: {exc}") from None
        log = self.server.log
        if self.config.appendonly and os.path.exists(self.aof.path):
            self.aof.load(phrase)
            return
        path = self.path
        start = time.monotonic()
        if os.path.exists(path):
            progress = self.load_progress("CDB")
            try:
                loaded = snapshot.read_file(path, phrase, progress=progress)
                snapshot.install_into(self.server.keyspace, loaded)
                install_functions(loaded)
            except snapshot.SnapshotError as exc:
                raise StartupError(f"Can't load the data file {os.path.abspath(path)}: {exc}") from None
            except OSError as exc:
                raise StartupError(f"Can't read the data file {os.path.abspath(path)}: {exc.strerror}") from None
            self.adopt_salt(loaded.key_header)
            self.keys_loaded, self.keys_expired = loaded.keys_loaded, loaded.keys_expired
            log.notice(
                f"Done loading CDB, keys loaded: {loaded.keys_loaded}, keys expired: {loaded.keys_expired}."
            )
            log.notice(f"DB loaded from disk: {time.monotonic() - start:.3f} seconds")
        if self.config.appendonly:
            # No log yet: start one holding the data just loaded, so nothing depends on the .cdb later.
            self.aof.create_from_memory()

    def load_progress(self, what: str) -> snapshot.LoadProgress:
        """The progress reporter of a load at start."""
        return snapshot.LoadProgress(self.server.log, what, self.config.loading_process_events_interval_bytes)

    # --- saving ----------------------------------------------------------------------------------
    def save_now(self) -> None:
        """SAVE: write the snapshot synchronously. Raises OSError on failure."""
        try:
            snapshot.write_atomic(self.path, snapshot.build(self.server.keyspace.dbs, self.sealer(), functions=export_libraries()))
        except OSError as exc:
            self.server.log.warning(f"Failed saving the DB: {exc}")
            raise
        self.server.keyspace.dirty = 0
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.rdb_saves += 1
        self.sync_guard()
        self.server.log.notice("DB saved on disk")

    def bgsave(self) -> None:
        """Fork a child that writes the snapshot. Raises OSError when the fork fails."""
        path = self.path
        sealer = self.sealer()
        dbs = self.server.keyspace.dbs
        functions = export_libraries()
        self.last_bgsave_try = time.time()

        def work() -> None:
            snapshot.write_atomic(path, snapshot.build(dbs, sealer, functions=functions))

        self.fork("rdb", work, self._bgsave_done)
        self.dirty_at_fork = self.server.keyspace.dirty
        self.server.log.notice(f"Background saving started by pid {self.child_pid}")

    def _bgsave_done(self, ok: bool) -> None:
        self.last_bgsave_secs = int(time.time() - self.child_start)
        if ok:
            self.server.keyspace.dirty = max(0, self.server.keyspace.dirty - self.dirty_at_fork)
            self.lastsave = int(time.time())
            self.last_bgsave_ok = True
            self.rdb_saves += 1
            self.server.log.notice("Background saving terminated with success")
        else:
            self.last_bgsave_ok = False
            self.server.log.warning("Background saving error")
        self.sync_guard()

    # --- the child process -----------------------------------------------------------------------
    def fork(self, kind: str, work: Callable[[], None], done: Callable[[bool], None]) -> None:
        pid = os.fork()
        if pid == 0:  # child: never returns to the event loop
            code = 1
            try:
                # The parent's signal wakeup fd is shared: a signal to the child must not wake the
                # parent's loop, and SIGTERM/SIGUSR1 must simply end the child.
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                    signal.signal(sig, signal.SIG_DFL)
                gc.disable()  # collector passes would touch every object and un-share the pages
                work()
                code = 0
            except BaseException:
                traceback.print_exc(file=sys.stderr)
            finally:
                os._exit(code)
        self.child_pid, self.child_kind, self.child_start, self.child_done = pid, kind, time.time(), done

    def reap(self) -> None:
        if self.child_pid is None:
            return
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child_pid, 1
        if pid == 0:
            return
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        done = self.child_done
        self.child_pid, self.child_kind, self.child_done = None, "", None
        if done is not None:
            done(ok)

    def kill_child(self) -> None:
        """Stop a running child and wait for it (shutdown, or a rewrite made pointless)."""
        if self.child_pid is None:
            return
        try:
            os.kill(self.child_pid, signal.SIGUSR1)
            os.waitpid(self.child_pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        kind, self.child_pid, self.child_kind, self.child_done = self.child_kind, None, "", None
        if kind == "aof":
            self.aof.rewrite_abandoned()

    # --- cron ------------------------------------------------------------------------------------
    def cron(self) -> None:
        self.reap()
        self.aof.cron()
        self.sync_guard()
        if self.child_pid is not None:
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self._try_bgsave()
            return
        if self.aof.rewrite_scheduled:
            self.aof.start_rewrite()
            return
        now = time.time()
        dirty = self.server.keyspace.dirty
        for seconds, changes in self.config.save:
            if dirty >= changes and now - self.lastsave > seconds and (self.last_bgsave_ok or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY):
                self.server.log.notice(f"{changes} changes in {seconds} seconds. Saving...")
                self._try_bgsave()
                return
        self.aof.maybe_auto_rewrite()

    def _try_bgsave(self) -> None:
        try:
            self.bgsave()
        except OSError as exc:
            self.last_bgsave_ok = False
            self.server.log.warning(f"Can't save in background: fork: {exc.strerror}")

    # --- shutdown --------------------------------------------------------------------------------
    def prepare_shutdown(self, save: bool, nosave: bool, force: bool) -> None:
        """SHUTDOWN / SIGTERM: final AOF flush, and a snapshot when save rules exist or SAVE was given."""
        from respdb.config import ConfigError

        self.kill_child()
        try:
            self.aof.flush(fsync=True)
        except OSError as exc:
            self.server.log.warning(f"Error flushing the AOF at shutdown: {exc}")
            if not force:
                raise ConfigError("Errors trying to SHUTDOWN. Check logs.") from None
        if (self.config.save or save) and not nosave:
            self.server.log.notice("Saving the final CDB snapshot before exiting.")
            try:
                self.save_now()
            except OSError:
                self.server.log.warning("Error trying to save the DB, can't exit.")
                if not force:
                    raise ConfigError("Errors trying to SHUTDOWN. Check logs.") from None

    def after_flushall(self) -> None:
        """FLUSHALL: a running BGSAVE is now stale; with save rules, persist the empty dataset at once
        (the dirty count is kept so the FLUSHALL still reaches the AOF and the rules)."""
        if self.child_kind == "rdb":
            self.kill_child()
        if self.config.save:
            dirty = self.server.keyspace.dirty
            try:
                self.save_now()
            except OSError:
                pass
            self.server.keyspace.dirty = dirty

    def shutdown(self) -> None:
        self.kill_child()
        self.aof.close()

    # --- write guard and INFO --------------------------------------------------------------------
    def reject(self, client: Any, spec: Any, argv: list[bytes]) -> str | None:
        if not (spec.write or spec.name == "ping"):
            return None
        if self.config.stop_writes_on_bgsave_error and self.config.save and not self.last_bgsave_ok:
            from respdb.errors import MISCONF_BGSAVE

            return MISCONF_BGSAVE
        if self.aof.write_error is not None:
            return "MISCONF Errors writing to the AOF file: " + self.aof.write_error
        return None

    def sync_guard(self) -> None:
        """While writes must be refused, take the write commands (and PING) off dispatch's inline
        fast path, which skips admission checks; `reject` then answers MISCONF for every client."""
        active = bool(
            (self.config.stop_writes_on_bgsave_error and self.config.save and not self.last_bgsave_ok)
            or self.aof.write_error is not None
        )
        if active == bool(self._guarded):
            return
        from respdb.commands.registry import COMMANDS

        if active:
            self._guarded = [s for s in COMMANDS.values() if s.simple and (s.write or s.name == "ping")]
            for spec in self._guarded:
                spec.simple = False
        else:
            for spec in self._guarded:
                spec.simple = True
            self._guarded = []

    def info(self) -> list[tuple[str, Any]]:
        now = time.time()
        rdb_child = self.child_kind == "rdb"
        aof_child = self.child_kind == "aof"
        fields: list[tuple[str, Any]] = [
            ("loading", 0),
            ("async_loading", 0),
            ("current_cow_peak", 0),
            ("current_cow_size", 0),
            ("current_cow_size_age", 0),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", 0),
            ("current_save_keys_total", 0),
            ("rdb_changes_since_last_save", self.server.keyspace.dirty),
            ("rdb_bgsave_in_progress", int(rdb_child)),
            ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_secs),
            ("rdb_current_bgsave_time_sec", int(now - self.child_start) if rdb_child else -1),
            ("rdb_saves", self.rdb_saves),
            ("rdb_last_cow_size", 0),
            ("rdb_last_load_keys_expired", self.keys_expired),
            ("rdb_last_load_keys_loaded", self.keys_loaded),
        ]
        fields += self.aof.info(aof_child, now)
        fields += [("module_fork_in_progress", 0), ("module_fork_last_cow_size", 0)]
        return fields
