"""Per-connection state: the `ctx` every command handler receives."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from respdb.protocol import encode_resp2, encode_resp3

if TYPE_CHECKING:
    from respdb.server.app import Server
    from respdb.storage.keyspace import Database


class Client:
    """One connected client. `plain` is True while nothing special applies (authenticated, no MULTI,
    no subscriptions, no block, replies on): dispatch then takes its short path."""

    def __init__(self, server: Server, client_id: int, addr: str, laddr: str, fd: int = -1) -> None:
        self.server = server
        self.id = client_id
        self.addr = addr
        self.laddr = laddr
        self.fd = fd
        self.keyspace = server.keyspace
        self.db: Database = server.keyspace[0]
        self.resp3 = False
        self.encode: Callable[[Any], bytes] = encode_resp2
        self.authenticated = not server.auth_required()
        self.user = "default"
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.created = time.time()
        self.last_interaction = self.created
        self.last_cmd = "NULL"
        # MULTI: queued (spec, argv) list while in a transaction, else None.
        self.multi: list[Any] | None = None
        self.multi_error = False
        self.watching: list[tuple[int, bytes]] = []
        self.watch_dirty = False
        # Pub/sub.
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        # Blocking: the Block being waited on, and commands that arrived meanwhile.
        self.blocked: Any = None
        self.in_exec = False  # inside EXEC or a script: blocking commands do not block
        self.reply_mode = b"on"  # CLIENT REPLY on|off|skip
        self.no_evict = False
        self.no_touch = False
        self.close_after_reply = False
        self.killed = False
        self.flags_extra: set[str] = set()
        self.propagate_argv: list[bytes] | None = None  # what a write is logged as, if not argv
        self.conn: Any = None  # the transport-side object (write, close)
        self.plain = self.authenticated

    def kill(self, current: Client | None) -> None:
        """Close this connection (CLIENT KILL, ACL changes): after its reply when it is `current`, the
        client whose command does the killing; at once otherwise."""
        self.killed = True
        if self is current:
            self.close_after_reply = True
        elif self.conn is not None:
            self.conn.close()

    def refresh_plain(self) -> None:
        self.plain = (
            self.authenticated
            and self.multi is None
            and not self.channels
            and not self.patterns
            and not self.shard_channels
            and self.blocked is None
            and self.reply_mode == b"on"
            and not self.flags_extra
            and not self.no_touch  # dispatch's slow path stops access tracking for it
        )

    def set_protocol(self, resp3: bool) -> None:
        self.resp3 = resp3
        self.encode = encode_resp3 if resp3 else encode_resp2

    def select(self, index: int) -> None:
        self.db = self.keyspace[index]

    def write(self, data: bytes) -> None:
        """Send bytes outside the request/reply cycle (unblocked replies, pub/sub messages)."""
        if self.conn is not None:
            self.conn.write(data)

    @property
    def subscription_count(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def flags_string(self) -> str:
        flags = ""
        if self.multi is not None:
            flags += "x"
        if self.blocked is not None:
            flags += "b"
        if self.channels or self.patterns or self.shard_channels:
            flags += "P"
        if self.watching and self.watch_dirty:
            flags += "d"
        if self.close_after_reply:
            flags += "c"
        if self.no_evict:
            flags += "e"
        if self.no_touch:
            flags += "T"
        return flags or "N"
