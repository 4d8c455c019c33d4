"""The asyncio.Protocol for one client: read → parse → execute → one write per batch.

Flow control: when the transport's write buffer passes its high-water mark (a client that sends
requests faster than it reads replies), reading from that client pauses until the buffer drains.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import TYPE_CHECKING

from respdb.commands.dispatch import execute_batch
from respdb.protocol import ProtocolError, RequestParser
from respdb.server.client import Client

if TYPE_CHECKING:
    from respdb.server.app import Server


class Connection(asyncio.Protocol):
    __slots__ = ("client", "closed", "parser", "paused", "pending", "server", "soft_since", "transport")

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self.parser = RequestParser(server.config.proto_max_bulk_len)
        self.pending: deque[list[bytes]] = deque()  # commands that arrived while blocked
        self.paused = False
        self.closed = False
        self.soft_since: float | None = None

    # --- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        server = self.server
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        client = Client(server, server.next_client_id(), _fmt_addr(peer), _fmt_addr(local), sock.fileno() if sock else -1)
        client.conn = self
        self.client = client
        refusal = server.accept_client(client, peer)
        if refusal is not None:
            transport.write(refusal)
            transport.close()
            self.closed = True
            return
        self.parser.auth_required = not client.authenticated

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.client is not None:
            self.server.remove_client(self.client)

    def pause_writing(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None or self.closed:
            return
        self.server.net_input_bytes += len(data)
        self._consume(data)

    def _consume(self, data: bytes) -> None:
        """Parse and run what `data` completes. An unauthenticated client's commands come out of the
        parser one at a time (RequestParser.feed), so this loops until the parser has no complete one."""
        client = self.client
        while True:
            one_at_a_time = self.parser.auth_required
            try:
                cmds = self.parser.feed(data)
            except ProtocolError as exc:
                self.server.log.verbose(f"Protocol error ({exc}) from client: id={client.id} addr={client.addr}")  # type: ignore[union-attr]
                if exc.commands and client.blocked is None and not self.pending:  # type: ignore[union-attr]
                    self.run(exc.commands)
                if not self.closed:
                    # Protocol errors are ASCII but for "got '%c'", which Redis sends as the raw byte.
                    self.transport.write(b"-ERR " + str(exc).encode("latin-1") + b"\r\n")  # type: ignore[union-attr]
                self.close()
                return
            if not cmds:
                self._check_query_buffer()
                return
            client.last_interaction = self.server.clock  # type: ignore[union-attr]
            if client.blocked is not None or self.pending or self in self.server.paused_conns:  # type: ignore[union-attr]
                self.pending.extend(cmds)
                return  # resume() comes back here for any commands still in the parser
            self.run(cmds)
            if not one_at_a_time or self.closed:
                return
            data = b""

    # --- execution -----------------------------------------------------------------------------
    def run(self, cmds: list[list[bytes]]) -> None:
        client = self.client
        out: list[bytes] = []
        server = self.server
        done = execute_batch(client, cmds, out)  # type: ignore[arg-type]
        if done < len(cmds) and client.blocked is None and not client.close_after_reply:  # type: ignore[union-attr]
            # CLIENT PAUSE held the next command: it and the rest wait, in order, for the unpause.
            if self not in server.paused_conns:
                server.paused_conns.append(self)
        server.commands_processed += done
        if out and not self.closed:
            payload = b"".join(out) if len(out) > 1 else out[0]
            server.net_output_bytes += len(payload)
            barrier = server.reply_barrier
            # appendfsync always: the barrier holds replies until the writes they acknowledge are on disk.
            if barrier is None or not barrier(self, payload):
                self.transport.write(payload)  # type: ignore[union-attr]
            if server.normal_obuf_limits is not None:
                self._check_output_limit(server.normal_obuf_limits)
        if client.close_after_reply:  # type: ignore[union-attr]
            self.close()
            return
        if done < len(cmds):
            # Blocked mid-pipeline: the rest waits, in order, ahead of anything that arrives later.
            self.pending.extendleft(reversed(cmds[done:]))
        self.parser.auth_required = not client.authenticated  # type: ignore[union-attr]

    def resume(self) -> None:
        """Run the commands that queued up while the client was blocked or paused."""
        if self.pending and not self.closed and self.client is not None and self.client.blocked is None:
            cmds = list(self.pending)
            self.pending.clear()
            self.run(cmds)
            if not self.pending and not self.closed and self.client.blocked is None and self.parser.pending():
                self._consume(b"")  # commands an unauthenticated client sent that the parser still holds

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            barrier = self.server.reply_barrier
            if barrier is None or not barrier(self, data):
                self.transport.write(data)

    def output_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _check_output_limit(self, limits: tuple[int, int, int]) -> None:
        """client-output-buffer-limit normal: close a client whose unread replies pass the hard
        limit, or stay over the soft limit for longer than its seconds (as Redis does)."""
        hard, soft, secs = limits
        used = self.output_buffer_size()
        over_soft = soft and used > soft
        if not over_soft:
            self.soft_since = None
        elif self.soft_since is None:
            self.soft_since = self.server.clock
        if (hard and used > hard) or (over_soft and self.soft_since is not None and self.server.clock - self.soft_since >= secs):
            self.server.log.warning(
                f"Client id={self.client.id} addr={self.client.addr} scheduled to be closed ASAP for overcoming of output buffer limits."  # type: ignore[union-attr]
            )
            self.abort()

    def _check_query_buffer(self) -> None:
        limit = self.server.config.client_query_buffer_limit
        if self.parser.pending() > limit:
            self.server.log.warning(f"Closing client that reached max query buffer length: id={self.client.id}")  # type: ignore[union-attr]
            self.close()


def _fmt_addr(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    if isinstance(addr, str):
        return addr + ":0"
    return "?:0"
