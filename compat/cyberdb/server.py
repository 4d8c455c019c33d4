"""cyberdb.Server: CyberDB's server object, running a respdb server process with the matching options.

respdb runs as a child process (`python -m respdb`), not inside the caller's interpreter: it has its own
event loop and forks for background saves, and forking a caller that runs threads or gevent is unsafe;
the child also keeps its GIL to itself, and a crash on either side leaves the other intact. stop() sends
SIGTERM, on which respdb saves (when backups are on) and exits; the child is also stopped when the
calling process exits (atexit, and on Linux PR_SET_PDEATHSIG if the caller is killed).

Option mapping: host → --bind, port → --port (or --tls-port with encrypt), password → --requirepass,
max_con → --maxclients, timeout → --timeout (idle seconds), print_log → --loglevel verbose on stdout,
encrypt → TLS with a self-signed certificate generated beside the data file (or certfile/keyfile),
set_ip_whitelist → --ip-allowlist, set_backup(file, cycle) → --dir/--dbfilename and --save "<cycle> 1".
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cyberdb import legacy, tls
from cyberdb.extensions import BackupCyberDBError, TypeCyberDBError, WrongFilenameCyberDBError, WrongInputCyberDBError

SNAPSHOT_MAGIC = b"RESPDCDB"
START_DEADLINE = 30.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _check_cdb_name(file_name: object) -> Path:
    if not isinstance(file_name, str | os.PathLike) or not str(file_name).endswith(".cdb"):
        raise WrongFilenameCyberDBError("The file name must end in .cdb.")
    return Path(file_name).resolve()


class Server:
    """A respdb server configured the CyberDB way. Call load_db/set_backup/set_ip_whitelist first, then
    start() (returns once the server answers) or run() (blocks until stop() or Ctrl-C)."""

    def __init__(self) -> None:
        self.ips: set[str] | None = None
        self._backup: tuple[Path, int] | None = None
        self._snapshot: Path | None = None
        self._pending_tables: dict[str, dict | list] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._conn: dict[str, Any] = {}
        self._ready = False

    # -- configuration --------------------------------------------------------------------------------
    def set_ip_whitelist(self, ips: list[str]) -> None:
        """Only these addresses (IPv4 or IPv6, CIDR blocks too) and loopback may connect."""
        if isinstance(ips, str) or not all(isinstance(ip, str) for ip in ips):
            raise WrongInputCyberDBError("ips must be a list of IP address strings.")
        for ip in ips:
            try:
                ipaddress.ip_network(ip, strict=False)
            except ValueError:
                raise WrongInputCyberDBError(f"{ip!r} is not an IPv4 or IPv6 address.") from None
        self.ips = {*ips, "127.0.0.1", "::1"}
        if self._proc is not None:
            self._command("CONFIG", "SET", "ip-allowlist", " ".join(sorted(self.ips)))

    def set_backup(self, file_name: str = "data.cdb", cycle: int = 900) -> None:
        """Snapshot to file_name every `cycle` seconds when anything changed, and on stop()."""
        path = _check_cdb_name(file_name)
        if not isinstance(cycle, int) or isinstance(cycle, bool):
            raise TypeCyberDBError("cycle must be an int.")
        if cycle <= 0:
            raise WrongInputCyberDBError("cycle must be a positive number of seconds.")
        if self._proc is not None:
            raise BackupCyberDBError("set_backup must be called before start()/run().")
        self._backup = (path, cycle)

    def save_db(self, file_name: str = "data.cdb") -> None:
        """Write a snapshot of the running server to file_name (fsynced, then renamed into place)."""
        target = _check_cdb_name(file_name)
        if self._proc is None:
            raise BackupCyberDBError("save_db needs a running server: call start() first.")
        self._command("SAVE")
        source = self._data_path()
        if source == target:
            return
        tmp = target.with_name(f".{target.name}.tmp")
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)

    def load_db(self, file_name: str = "data.cdb") -> None:
        """Load a respdb snapshot (before start) or a CyberDB 0.9.3 data file (any time, read safely)."""
        path = Path(file_name).resolve()
        with open(path, "rb") as f:
            head = f.read(len(SNAPSHOT_MAGIC))
        if head.startswith(SNAPSHOT_MAGIC):
            if self._proc is not None:
                raise BackupCyberDBError("a respdb snapshot must be loaded before start()/run().")
            self._snapshot = path
            return
        tables = legacy.read_tables(path)
        if self._proc is not None:
            self._import(tables)
        else:
            self._pending_tables = tables

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 9980, password: str | None = None, max_con: int = 500,
              timeout: int = 0, print_log: bool = False, encrypt: bool = False, *,
              certfile: str | None = None, keyfile: str | None = None) -> None:
        """Start the server in the background; returns once it answers, raises if it cannot start."""
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError("the server is already running")
        if not password:
            raise RuntimeError("The password cannot be empty.")
        data_path = self._prepare_data()
        args = [sys.executable, "-m", "respdb", "--bind", host, "--requirepass", password,
                "--maxclients", str(max_con), "--timeout", str(timeout),
                "--dir", str(data_path.parent), "--dbfilename", data_path.name,
                "--loglevel", "verbose" if print_log else "notice"]
        # Without set_backup nothing is written to disk, as CyberDB wrote nothing unless asked.
        args += ["--save", f"{self._backup[1]} 1" if self._backup else ""]
        if not print_log:
            args += ["--logfile", str(self._workdir_path() / "cyberdb-server.log")]
        if self.ips is not None:
            args += ["--ip-allowlist", " ".join(sorted(self.ips))]
        if encrypt:
            if not (certfile and keyfile):
                # Beside the data file; without one, in a per-user directory — either way the same
                # certificate after a restart, so clients' trust-on-first-use pins stay valid.
                cert_dir = data_path.parent if self._backup else Path.home() / ".cyberdb" / "server"
                certfile, keyfile = tls.ensure_certificate(cert_dir, [host])
            args += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", certfile,
                     "--tls-key-file", keyfile, "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(port)]
        probe_host = {"0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}.get(host, host.split()[0])
        self._conn = {"host": probe_host, "port": port, "password": password, "socket_timeout": 10}
        if encrypt:
            self._conn.update(ssl=True, ssl_cert_reqs="none", ssl_check_hostname=False)
        out = None if print_log else open(self._workdir_path() / "cyberdb-server.out", "ab")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(args, preexec_fn=_die_with_parent, stdout=out, stderr=out)
        finally:
            if out is not None:
                out.close()
        atexit.register(self.stop)
        self._wait_ready()
        self._ready = True
        if self._pending_tables is not None:
            tables, self._pending_tables = self._pending_tables, None
            self._import(tables)

    def run(self, host: str = "127.0.0.1", port: int = 9980, password: str | None = None, max_con: int = 500,
            timeout: int = 0, print_log: bool = False, encrypt: bool = False, *,
            certfile: str | None = None, keyfile: str | None = None) -> None:
        """Start the server and block until it exits (stop() from another thread, SIGTERM, or Ctrl-C)."""
        self.start(host, port, password, max_con, timeout, print_log, encrypt, certfile=certfile, keyfile=keyfile)
        proc = self._proc
        previous = None
        if threading.current_thread() is threading.main_thread():
            # SIGTERM to this process stops the server cleanly (it saves), as Ctrl-C does.
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            if proc is not None:
                proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        """Stop the server (it saves first when set_backup is on)."""
        proc, self._proc, self._ready = self._proc, None, False
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        atexit.unregister(self.stop)
        if self._workdir is not None:  # logs only: the data lives where set_backup put it
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- helpers ----------------------------------------------------------------------------------------
    def _workdir_path(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="cyberdb-server-"))
        return self._workdir

    def _data_path(self) -> Path:
        return self._backup[0] if self._backup else self._workdir_path() / "dump.cdb"

    def _prepare_data(self) -> Path:
        """The server's data file; a loaded snapshot is copied there so the server starts from it."""
        path = self._data_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._snapshot is not None and self._snapshot != path:
            shutil.copyfile(self._snapshot, path)
        elif self._snapshot is None and not self._backup and path.exists():
            path.unlink()
        elif path.exists() and legacy.is_legacy_file(path):
            # The seed's `load_db('data.cdb'); set_backup('data.cdb')` on an old CyberDB file: its tables
            # are imported after start (load_db), and the server writes its own format under this name
            # from now on. The old file is kept beside it rather than overwritten.
            os.replace(path, path.with_name(path.name + ".cyberdb093"))
        return path

    def _client(self) -> redis.Redis:
        return redis.Redis(**self._conn)

    def _command(self, *args: str) -> Any:
        with self._client() as r:
            return r.execute_command(*args)

    def _wait_ready(self) -> None:
        end = time.monotonic() + START_DEADLINE
        last: Exception | None = None
        while time.monotonic() < end:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                self._proc = None
                raise RuntimeError(f"the CyberDB server exited during startup (exit code {code}){self._log_tail()}")
            try:
                with redis.Redis(**{**self._conn, "socket_timeout": 1, "socket_connect_timeout": 1,
                                   "retry": Retry(NoBackoff(), 0)}) as r:
                    r.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                last = exc
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the CyberDB server did not answer within {START_DEADLINE} s: {last}{self._log_tail()}")

    def _log_tail(self) -> str:
        text = ""
        for name in ("cyberdb-server.out", "cyberdb-server.log"):
            log = self._workdir_path() / name
            if log.exists():
                text += log.read_text(errors="replace")[-2000:]
        return "\n" + text.strip() if text.strip() else ""

    def _import(self, tables: dict[str, dict | list]) -> None:
        from cyberdb.client import Client

        proxy = Client(self._client()).get_proxy()
        with proxy:
            legacy.import_tables(proxy, tables)

    @property
    def port(self) -> int | None:
        return self._conn.get("port")

    @property
    def running(self) -> bool:
        """True once the server answers, until it stops."""
        return self._ready and self._proc is not None and self._proc.poll() is None
