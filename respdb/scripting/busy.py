"""Serving clients while a slow script holds the event loop (Redis's processEventsWhileBlocked).

A script runs on the event-loop thread, so while it runs asyncio delivers nothing. Past
`busy-reply-threshold` the Lua hook calls `BusyService.serve()` every few milliseconds: it polls the
client sockets and the listening sockets itself, answers every command with BUSY except the ones
Redis flags allow-busy (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, AUTH, HELLO, MULTI, ...), and
accepts new connections (so `redis-cli SCRIPT KILL` from a fresh terminal works). Those new
connections are handed to the event loop when the script ends. Nothing here runs on the fast path.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from typing import TYPE_CHECKING, Any

from respdb import errors
from respdb.commands.dispatch import _error_bytes, execute, resolve
from respdb.protocol import ProtocolError
from respdb.server.connection import Connection

if TYPE_CHECKING:
    from respdb.scripting.engine import LuaEngine, RunContext
    from respdb.server.app import Server


class _BusyTransport:
    """Just enough of an asyncio transport for a connection accepted while the loop is held."""

    def __init__(self, sock: socket.socket, protocol: Connection) -> None:
        self.sock = sock
        self.protocol = protocol
        self.closing = False

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
        except OSError:
            return default
        if name == "socket":
            return self.sock
        return default

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.sock.close()
            self.protocol.connection_lost(None)

    abort = close

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


class AdoptedConnection(Connection):
    """A connection accepted during a busy script; keeps its client when the loop takes it over."""

    def connection_made(self, transport: Any) -> None:
        if self.client is None:
            super().connection_made(transport)
            return
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BusyService:
    """Lives from the moment a script passes the threshold until it returns."""

    def __init__(self, server: Server, engine: LuaEngine, run: RunContext) -> None:
        self.server = server
        self.engine = engine
        self.run = run
        self.busy_error = errors.BUSY_EVAL if run.is_eval else errors.BUSY_FUNCTION
        self.listeners: list[socket.socket] = []
        for lsock in server.listening_sockets():
            with contextlib.suppress(OSError):
                dup = socket.socket(fileno=os.dup(lsock.fileno()))
                dup.setblocking(False)
                self.listeners.append(dup)
        self.adopted: list[tuple[AdoptedConnection, socket.socket]] = []
        self.eof: set[int] = set()
        server.busy_script = run
        kind = "SCRIPT KILL" if run.is_eval else "FUNCTION KILL"
        server.log.warning(
            f"Slow script detected: still in execution after {server.config.busy_reply_threshold} milliseconds. "
            f"You can try killing the script using the {kind} command. "
            f"Script name is: {run.funcname.decode('utf-8', 'replace')}."
        )

    def serve(self) -> None:
        """One round of I/O: accept, read, answer. Called from the Lua hook."""
        poller = select.poll()
        targets: dict[int, Any] = {}
        for lsock in self.listeners:
            targets[lsock.fileno()] = lsock
            poller.register(lsock.fileno(), select.POLLIN)
        caller = self.run.caller
        for client in list(self.server.clients.values()):
            conn = client.conn
            fd = client.fd
            # The caller is protected (Redis does not read from it); blocked or paused clients wait.
            if client is caller or conn is None or conn.closed or fd < 0 or fd in self.eof:
                continue
            if client.blocked is not None or conn.pending or conn.paused:
                continue
            targets[fd] = conn
            poller.register(fd, select.POLLIN)
        try:
            events = poller.poll(0)
        except OSError:
            return
        for fd, _ in events:
            target = targets[fd]
            if isinstance(target, socket.socket):
                self._accept(target)
            else:
                self._read(fd, target)

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                sock, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.settimeout(5.0)
            conn = AdoptedConnection(self.server)
            conn.connection_made(_BusyTransport(sock, conn))
            if conn.client is not None:
                conn.client.fd = sock.fileno()
                self.adopted.append((conn, sock))

    def _read(self, fd: int, conn: Connection) -> None:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.eof.add(fd)
            return
        if not data:
            self.eof.add(fd)  # the event loop sees the EOF again once it runs
            return
        try:
            cmds = conn.parser.feed(data)
        except ProtocolError as exc:
            conn.write(b"-ERR " + str(exc).encode() + b"\r\n")
            conn.close()
            return
        client = conn.client
        out = []
        for argv in cmds:
            reply = self._execute(client, argv)
            if reply is not None:
                out.append(reply)
            if client.close_after_reply or conn.closed:  # type: ignore[union-attr]
                break
        if out:
            conn.write(b"".join(out))
        if client.close_after_reply:  # type: ignore[union-attr]
            conn.close()

    def _execute(self, client: Any, argv: list[bytes]) -> bytes | None:
        """processCommand's busy rule: allow-busy commands run, everything else gets BUSY."""
        spec = resolve(argv)
        if spec.__class__ is not str:
            allowed = "allow_busy" in spec.flags  # type: ignore[union-attr]
            is_shutdown = spec.name == "shutdown"  # type: ignore[union-attr]
            if is_shutdown and not any(a.lower() == b"nosave" for a in argv[1:]):
                allowed = False  # only SHUTDOWN NOSAVE may stop a busy script
            if not allowed and (client.authenticated or spec.noauth):  # type: ignore[union-attr]
                if client.multi is not None:
                    client.multi_error = True
                spec.rejected_calls += 1  # type: ignore[union-attr]
                self.server.stat_errors(self.busy_error, rejected=True)
                return _error_bytes(self.busy_error)
            if allowed and is_shutdown:
                reply = execute(client, argv)
                self.run.killed = True  # the server is going away: stop the script unconditionally
                return reply
        return execute(client, argv)

    def finish(self, run: RunContext) -> None:
        """The script returned: give the loop back its sockets and the new connections."""
        self.server.busy_script = None
        self.engine.busy = None
        for lsock in self.listeners:
            lsock.close()
        loop = self.server.loop
        for conn, sock in self.adopted:
            if conn.closed or loop is None:
                continue
            sock.setblocking(False)
            loop.create_task(loop.connect_accepted_socket(lambda c=conn: c, sock))
