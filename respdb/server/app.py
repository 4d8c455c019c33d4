"""Server lifecycle: listeners, the client registry, command admission, the cron, shutdown.

`Server` owns the Config, the Keyspace and the clients. Dispatch calls back into it at fixed points
(`reject` before a command runs, `after_write` after one changed data, `block_client` when a command
parks), which is where auth, subscriber mode, blocking and later features (ACL, OOM, AOF, MONITOR)
plug in without touching handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from respdb import __version__, errors
from respdb.commands import load_all
from respdb.commands.dispatch import _SUBSCRIBER_OK, NOT_READY, Block, _error_bytes
from respdb.commands.registry import CommandSpec
from respdb.config import Config
from respdb.errors import StartupError
from respdb.server.admission import refusal, tls_context
from respdb.server.client import Client
from respdb.server.connection import Connection
from respdb.server.hooks import INSTALLERS
from respdb.server.log import Log
from respdb.storage.keyspace import Keyspace, now_ms

_NOAUTH_OK = frozenset({"auth", "hello", "quit", "reset"})


class Server:
    def __init__(self, config: Config | None = None) -> None:
        load_all()
        self.config = config or Config()
        self.log = Log(self.config.loglevel, self.config.logfile)
        self.config.on_change("loglevel", self.log.set_level)
        self.keyspace = Keyspace(self.config.databases)
        self.clients: dict[int, Client] = {}
        self._next_id = 0
        self.start_time = time.time()
        self.clock = self.start_time  # refreshed by the cron; coarse time for idle tracking
        self.commands_processed = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        # Samples for INFO's instantaneous_* rates: (time, ops, input bytes, output bytes), last 16.
        self.rate_samples: deque[tuple[float, int, int, int]] = deque(maxlen=16)
        self.connections_received = 0
        self.rejected_connections = 0
        self.error_counts: dict[str, int] = {}
        self.total_error_replies = 0
        # Set by server/memory.py while maxmemory > 0: fn(db) -> whether memory may be over the
        # limit, when dispatch's fast path sends a denyoom command through reject() (eviction, OOM).
        self.oom_guard: Any = None
        self.post_command_needed = False  # set by features that watch every command (MONITOR)
        self.post_command_hooks: list[Callable[[Client, CommandSpec, list[bytes]], None]] = []
        # Writes of the current command as (db id, argv), flushed to propagate_hooks (AOF) per command.
        self.propagation: list[tuple[int, list[bytes]]] = []
        self.propagate_hooks: list[Callable[[list[tuple[int, list[bytes]]]], None]] = []
        # Set while logged writes await fsync (appendfsync always): called with (connection, bytes)
        # before any reply is written; True means it holds the bytes and sends them after the fsync.
        self.reply_barrier: Callable[[Any, bytes], bool] | None = None
        self.reject_hooks: list[Callable[[Client, CommandSpec, list[bytes]], str | None]] = []
        self.shutdown_hooks: list[Callable[[], None]] = []
        self.prepare_shutdown_hooks: list[Callable[[bool, bool, bool], None]] = []
        self.disconnect_hooks: list[Callable[[Client], None]] = []
        self.reset_hooks: list[Callable[[Client], None]] = []
        self.cron_hooks: list[Callable[[], None]] = []
        self.info_sections: dict[str, Callable[[], list[tuple[str, Any]]]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._stopped: asyncio.Event | None = None
        self.port = self.config.port
        self.run_id = os.urandom(20).hex()
        self.shutdown_asap = False
        self.slow_threshold = math.inf  # seconds; set by server/observe.py from the slowlog/latency knobs
        self.observer: Any = None
        self.paused_until: float | None = None
        self.pause_writes_only = False
        self.paused_conns: list[Any] = []
        self._pause_timer: Any = None
        self.handle_signals = True  # False when embedded: the host process owns its signals
        self.flushall_hooks: list[Callable[[], None]] = []
        # client-output-buffer-limit normal: None while unlimited (Redis's default), so the reply
        # path checks nothing.
        self.normal_obuf_limits: tuple[int, int, int] | None = None
        self.config.on_change("client-output-buffer-limit", self._set_obuf_limits)
        self._set_obuf_limits(self.config.client_output_buffer_limit)
        self.config.on_change("proto-max-bulk-len", self._set_max_bulk_len)
        for install in INSTALLERS:
            install(self)

    # --- clients -------------------------------------------------------------------------------
    def next_client_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def auth_required(self) -> bool:
        return bool(self.config.requirepass)

    def accept_client(self, client: Client, peer: Any) -> bytes | None:
        """Admit a new connection, or return the error to send before closing it."""
        self.connections_received += 1
        if len(self.clients) >= self.config.maxclients:
            self.rejected_connections += 1
            return _error_bytes(errors.MAX_CLIENTS)
        acl = getattr(self, "acl", None)
        denied = refusal(self.config, peer, None if acl is None else "nopass" in acl.default.flags)
        if denied is not None:
            self.rejected_connections += 1
            return denied
        self.clients[client.id] = client
        return None

    def remove_client(self, client: Client) -> None:
        if self.clients.pop(client.id, None) is None:
            return
        if client.blocked is not None:
            self.unblock(client, None, send=False)
        for hook in self.disconnect_hooks:
            hook(client)

    def _set_max_bulk_len(self, value: int) -> None:
        for client in self.clients.values():
            if client.conn is not None:
                client.conn.parser.max_bulk_len = value  # applies to requests already connected, as in Redis

    def _set_obuf_limits(self, value: dict[str, tuple[int, int, int]]) -> None:
        hard, soft, secs = value.get("normal", (0, 0, 0))
        self.normal_obuf_limits = (hard, soft, secs) if hard or soft else None

    # --- CLIENT PAUSE ----------------------------------------------------------------------------
    def pause_clients(self, seconds: float, writes_only: bool) -> None:
        """Hold commands (all, or those that write) until the deadline or CLIENT UNPAUSE.
        A later pause extends an earlier one and ALL wins over WRITE, as in Redis."""
        until = time.monotonic() + seconds
        if self.paused_until is not None and not writes_only:
            self.pause_writes_only = False
        elif self.paused_until is None:
            self.pause_writes_only = writes_only
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
            if self._pause_timer is not None:
                self._pause_timer.cancel()
            if self.loop is not None:
                self._pause_timer = self.loop.call_later(seconds, self.unpause_clients)

    def unpause_clients(self) -> None:
        self.paused_until = None
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        conns, self.paused_conns = self.paused_conns, []
        for conn in conns:
            conn.resume()

    def pause_holds(self, argv: list[bytes]) -> bool:
        """Whether a paused server must hold this command now."""
        if not self.pause_writes_only:
            return True
        from respdb.commands.dispatch import resolve

        spec = resolve(argv)
        return not isinstance(spec, str) and (spec.write or "may_replicate" in spec.flags)

    def used_memory(self) -> int:
        """Estimated bytes in use (server/memory.py): what maxmemory and INFO memory account against."""
        return self.memory.used_memory()  # type: ignore[attr-defined]

    def reset_stats(self) -> None:
        from respdb.commands.registry import COMMANDS

        self.commands_processed = 0
        self.net_input_bytes = self.net_output_bytes = 0
        self.rate_samples.clear()
        self.connections_received = 0
        self.rejected_connections = 0
        self.error_counts.clear()
        self.total_error_replies = 0
        self.keyspace.expired_keys = 0
        self.memory.evicted_keys = 0  # type: ignore[attr-defined]
        self.keyspace.hits = self.keyspace.misses = 0
        for spec in COMMANDS.values():
            for sp in [spec, *spec.subcommands.values()]:
                sp.calls = sp.failed_calls = sp.rejected_calls = 0
                sp.usec = 0.0
                sp.latency.clear()  # the latency histograms too, as Redis's resetCommandTableStats

    def prepare_shutdown(self, save: bool, nosave: bool, force: bool) -> None:
        """Run the pre-shutdown steps (final snapshot); a failing step raises unless forced."""
        for hook in self.prepare_shutdown_hooks:
            hook(save, nosave, force)

    # --- admission and post-command hooks ------------------------------------------------------
    def reject(self, client: Client, spec: CommandSpec, argv: list[bytes]) -> str | None:
        """Why this command may not run now (the error text), or None. Order as processCommand."""
        name = spec.name if spec.parent is None else spec.parent.name
        if not client.authenticated and not spec.noauth and name not in _NOAUTH_OK:
            return errors.NOAUTH
        if client.multi is not None and "no_multi" in spec.flags:
            return errors.NOT_IN_MULTI
        for hook in self.reject_hooks:
            text = hook(client, spec, argv)
            if text is not None:
                return text
        if (client.channels or client.patterns or client.shard_channels) and not client.resp3:
            if name not in _SUBSCRIBER_OK:
                # Redis names the subcommand too: 'config|get'.
                return errors.NOT_IN_SUBSCRIBE.format(name=spec.name)
        return None

    def after_write(self, client: Client, spec: CommandSpec, argv: list[bytes], dirty_before: int) -> None:
        if self.propagation:
            self.flush_propagation()
        for hook in self.post_command_hooks:
            hook(client, spec, argv)
        if self.keyspace.ready_keys:
            self.serve_ready_keys()

    def flush_propagation(self) -> None:
        """Hand the writes of the command just run to the propagate hooks as one batch (a batch of
        more than one entry came from EXEC or a script and must be applied atomically)."""
        batch, self.propagation = self.propagation, []
        for hook in self.propagate_hooks:
            hook(batch)

    def stat_errors(self, text: str, rejected: bool = False) -> None:
        code = text.split(" ", 1)[0]
        self.error_counts[code] = self.error_counts.get(code, 0) + 1
        self.total_error_replies += 1

    # --- blocking ------------------------------------------------------------------------------
    def block_client(self, client: Client, block: Block) -> None:
        """Park `client` until one of block.keys is served or the deadline passes."""
        client.blocked = block
        block.db_id = client.db.id
        client.plain = False
        waiting = self.keyspace.blocking_keys.setdefault(block.db_id, {})
        for key in block.keys:
            waiting.setdefault(key, deque()).append(client)
        if block.deadline is not None and self.loop is not None:
            delay = max(0.0, block.deadline - time.monotonic())
            block.timer = self.loop.call_later(delay, self._block_timeout, client, block)
        return None

    def _block_timeout(self, client: Client, block: Block) -> None:
        if client.blocked is block:
            self.unblock(client, block.timeout_reply)

    def unblock(self, client: Client, reply: Any, send: bool = True, error: str | None = None) -> None:
        block = client.blocked
        if block is None:
            return
        client.blocked = None
        if block.timer is not None:
            block.timer.cancel()
        waiting = self.keyspace.blocking_keys.get(block.db_id, {})
        for key in block.keys:
            queue = waiting.get(key)
            if queue is not None:
                with contextlib.suppress(ValueError):
                    queue.remove(client)
                if not queue:
                    del waiting[key]
        if not waiting:
            # An empty db entry would keep blocking_keys truthy: pushes would keep checking for
            # waiters (and the native LPUSH/RPUSH would pass to Python) after the last one left.
            self.keyspace.blocking_keys.pop(block.db_id, None)
        client.refresh_plain()
        if send and client.conn is not None:
            if error is not None:
                client.write(_error_bytes(error))
            elif client.reply_mode == b"on":
                client.write(client.encode(reply))
            if self.loop is not None:
                self.loop.call_soon(client.conn.resume)

    def serve_ready_keys(self) -> None:
        """Hand elements to clients blocked on keys that just received some, first come first served."""
        ks = self.keyspace
        # Serving is no client's read (Redis counts no keyspace hit for it); the command that filled
        # the key may be a reading one (COPY), and the C dispatch loop caches `reading`, so restore it.
        reading, ks.reading = ks.reading, False
        try:
            self._serve_ready_keys(ks)
        finally:
            ks.reading = reading

    def _serve_ready_keys(self, ks: Keyspace) -> None:
        while ks.ready_keys:
            ready, ks.ready_keys = ks.ready_keys, []
            for db_id, key in ready:
                queue = ks.blocking_keys.get(db_id, {}).get(key)
                if not queue:
                    continue
                # In arrival order; a waiter that cannot take from this key (it waits for another
                # type, or the key ran dry) is skipped, and the ones behind it still get their turn.
                data = ks.dbs[db_id].data
                for client in list(queue):
                    if key not in data:
                        break  # nothing left to hand out (a popped-empty list is deleted)
                    block = client.blocked
                    if block is None:
                        continue  # served or gone while earlier waiters were handled
                    block.ready_key = key
                    dirty = ks.dirty
                    try:
                        reply = block.serve()
                    except errors.CommandError as exc:
                        client.propagate_argv = None
                        self.unblock(client, None, error=exc.text)
                        continue
                    if reply is NOT_READY:
                        continue
                    if ks.dirty != dirty and client.propagate_argv:
                        self.propagation.append((client.db.id, client.propagate_argv))
                    client.propagate_argv = None
                    self.unblock(client, reply)
                    if self.propagation:
                        self.flush_propagation()

    # --- cron ----------------------------------------------------------------------------------
    async def _cron(self) -> None:
        while True:
            await asyncio.sleep(1 / self.config.hz)
            try:
                self.cron()
            except Exception as exc:
                self.log.warning(f"cron failed: {exc!r}")

    def cron(self) -> None:
        self.clock = time.time()
        self.rate_samples.append((time.monotonic(), self.commands_processed, self.net_input_bytes, self.net_output_bytes))
        now = now_ms()
        # Active expiry: Redis spends ~25% of a cycle; a fixed budget per db keeps latency bounded.
        for db in self.keyspace.dbs:
            if db.expires:
                db.active_expire(now, 200)
        if self.keyspace.ready_keys:
            self.serve_ready_keys()
        timeout = self.config.timeout
        if timeout:
            for client in list(self.clients.values()):
                if client.blocked is None and not client.channels and not client.patterns and not client.shard_channels and self.clock - client.last_interaction > timeout:
                    self.log.verbose(f"Closing idle client id={client.id}")
                    client.conn.close()
        for hook in self.cron_hooks:
            hook()
        if self.shutdown_asap:
            self.shutdown_asap = False
            self.request_shutdown()

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        backlog = self.config.tcp_backlog
        port = self.config.port
        if port or not (self.config.unixsocket or self.config.tls_port):
            hosts = [h.lstrip("-") for h in self.config.bind]
            for host in hosts:
                optional = self.config.bind[hosts.index(host)].startswith("-")
                try:
                    srv = await self.loop.create_server(
                        lambda: Connection(self), host=None if host == "*" else host, port=port, backlog=backlog, reuse_address=True
                    )
                except OSError as exc:
                    if optional:
                        continue
                    raise OSError(f"Could not create server TCP listening socket {host}:{port}: {exc.strerror}") from exc
                self._servers.append(srv)
                if port == 0:
                    port = srv.sockets[0].getsockname()[1]
            self.port = port
        if self.config.tls_port:
            try:
                ctx = tls_context(self.config)
            except (OSError, ValueError) as exc:
                raise StartupError(f"Failed to configure TLS: {exc}") from exc
            for host in [h.lstrip("-") for h in self.config.bind]:
                try:
                    srv = await self.loop.create_server(
                        lambda: Connection(self), host=None if host == "*" else host, port=self.config.tls_port,
                        backlog=backlog, reuse_address=True, ssl=ctx,
                    )
                except OSError as exc:
                    if self.config.bind[[h.lstrip("-") for h in self.config.bind].index(host)].startswith("-"):
                        continue
                    raise OSError(f"Could not create server TLS listening socket {host}:{self.config.tls_port}: {exc.strerror}") from exc
                self._servers.append(srv)
        if self.config.unixsocket:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.unixsocket)  # a stale socket file from a previous run
            srv = await self.loop.create_unix_server(lambda: Connection(self), path=self.config.unixsocket, backlog=backlog)
            if self.config.unixsocketperm:
                os.chmod(self.config.unixsocket, self.config.unixsocketperm)
            self._servers.append(srv)
        self._cron_task = self.loop.create_task(self._cron())
        if self.handle_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self.loop.add_signal_handler(sig, self._on_signal, sig)
        self.log.notice(f"respdb {__version__} (pid {os.getpid()}) running in standalone mode")
        if port:
            self.log.notice(f"Running on port {self.port}")
        if self.config.tls_port:
            self.log.notice(f"TLS on port {self.config.tls_port}")
        if self.config.unixsocket:
            self.log.notice(f"Unix socket {self.config.unixsocket}")
        self.log.notice("Ready to accept connections")

    def _on_signal(self, sig: int) -> None:
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        self.log.warning(f"Received {name} scheduling shutdown...")
        try:
            self.prepare_shutdown(save=False, nosave=False, force=False)
        except Exception as exc:
            self.log.warning(f"Errors trying to shut down the server: {exc}. Check the logs for more information.")
            return
        self.request_shutdown()

    def request_shutdown(self) -> None:
        """Graceful stop: run shutdown hooks (final save), close listeners and clients."""
        self.log.warning("User requested shutdown...")
        for hook in self.shutdown_hooks:
            hook()
        for srv in self._servers:
            srv.close()
        for client in list(self.clients.values()):
            if client.conn is not None:
                client.conn.close()
        self.log.warning("respdb is now ready to exit, bye bye...")
        if self._stopped is not None:
            self._stopped.set()

    async def serve_forever(self) -> None:
        await self.start()
        await self.wait_stopped()

    async def wait_stopped(self) -> None:
        """Wait for shutdown, then release the listeners, the cron and the Unix socket file."""
        if self._stopped is not None:
            await self._stopped.wait()
        self._cron_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._cron_task
        for srv in self._servers:
            srv.close()
            with contextlib.suppress(Exception):
                await srv.wait_closed()
        if self.config.unixsocket:
            with contextlib.suppress(OSError):
                os.unlink(self.config.unixsocket)
        self.log.close()

    def listening_sockets(self) -> list[socket.socket]:
        return [s for srv in self._servers for s in srv.sockets]


def run(config: Config) -> None:
    """Run a server until SHUTDOWN or a signal; uvloop when installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay runnable without it
        uvloop = None
    server = Server(config)
    if uvloop is not None:
        uvloop.run(server.serve_forever())
    else:
        asyncio.run(server.serve_forever())
