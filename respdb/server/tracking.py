"""Client-side caching (CLIENT TRACKING): remember who read which key, tell them when it changes.

Default mode keeps Redis's tracking table, key → ids of the clients that read it; a change to the key
(write, expiry, eviction) sends each of them one `invalidate` message and forgets the key. BCAST mode
needs no table: every change to a key under a registered prefix is announced. Messages go to the
client itself in RESP3, or, with REDIRECT, to another connection (RESP2: as a message on
`__redis__:invalidate`). `keyspace.on_change` is set only while some client tracks, so the write
path pays nothing otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from respdb.protocol.types import Push
from respdb.server.hooks import on_server_init

if TYPE_CHECKING:
    from respdb.commands.registry import CommandSpec
    from respdb.server.app import Server
    from respdb.server.client import Client
    from respdb.storage.keyspace import Database

INVALIDATE_CHANNEL = b"__redis__:invalidate"


@dataclass(eq=False)
class TrackingState:
    redirect: int = 0
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    prefixes: list[bytes] = field(default_factory=list)
    caching: bool | None = None  # CLIENT CACHING yes/no, for the next command only
    broken_redirect: bool = False


class Tracker:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.table: dict[bytes, set[int]] = {}
        self.clients: dict[int, Client] = {}

    def enable(self, client: Client, state: TrackingState) -> None:
        client.tracking = state  # type: ignore[attr-defined]
        client.flags_extra.add("tracking")
        client.refresh_plain()
        self.clients[client.id] = client
        self.server.keyspace.on_change = self.on_change

    def disable(self, client: Client) -> None:
        if getattr(client, "tracking", None) is None:
            return
        client.tracking = None  # type: ignore[attr-defined]
        client.flags_extra.discard("tracking")
        client.refresh_plain()
        self.clients.pop(client.id, None)
        if not self.clients:
            self.server.keyspace.on_change = None
            self.table.clear()

    # --- reads -----------------------------------------------------------------------------------
    def after_command(self, client: Client, spec: CommandSpec, argv: list[bytes]) -> None:
        """Remember the keys a tracking client just read (default mode, honouring OPTIN/OPTOUT)."""
        state: TrackingState | None = getattr(client, "tracking", None)
        if state is None:
            return
        caching, state.caching = state.caching, None
        if spec.name in ("client|caching",):
            state.caching = caching
            return
        if state.bcast or "readonly" not in spec.flags:
            return
        if (state.optin and caching is not True) or (state.optout and caching is False):
            return
        for i in spec.key_positions(argv):
            self.table.setdefault(argv[i], set()).add(client.id)

    # --- writes ----------------------------------------------------------------------------------
    def on_change(self, db: Database, key: bytes | None) -> None:
        if key is None:  # FLUSHDB / FLUSHALL: everyone drops everything
            self.table.clear()
            for client in list(self.clients.values()):
                self._send(client, None)
            return
        current = self.server.pubsub.current if getattr(self.server, "pubsub", None) else None
        ids = self.table.pop(key, None)
        if ids:
            for cid in ids:
                client = self.clients.get(cid)
                if client is None or client.tracking is None or client.tracking.bcast:  # type: ignore[attr-defined]
                    continue
                if client.tracking.noloop and client is current:  # type: ignore[attr-defined]
                    continue
                self._send(client, [key])
        for client in list(self.clients.values()):
            state = client.tracking  # type: ignore[attr-defined]
            if state is not None and state.bcast and not (state.noloop and client is current):
                if not state.prefixes or any(key.startswith(p) for p in state.prefixes):
                    self._send(client, [key])

    def _send(self, client: Client, keys: list[bytes] | None) -> None:
        state: TrackingState = client.tracking  # type: ignore[attr-defined]
        target = client
        if state.redirect:
            target = self.server.clients.get(state.redirect)  # type: ignore[assignment]
            if target is None:
                if not state.broken_redirect:
                    state.broken_redirect = True
                    if client.resp3:
                        self._deliver(client, client.encode(Push([b"tracking-redir-broken", state.redirect])))
                return
        if target.resp3:
            data = target.encode(Push([b"invalidate", keys]))
        elif state.redirect and INVALIDATE_CHANNEL in target.channels:
            data = target.encode(Push([b"message", INVALIDATE_CHANNEL, keys]))
        else:
            return  # a RESP2 connection without redirect cannot receive invalidations
        self._deliver(target, data)

    def _deliver(self, client: Client, data: bytes) -> None:
        pubsub = getattr(self.server, "pubsub", None)
        if pubsub is not None:
            pubsub.send(client, data)  # ordered with the client's replies, batched per loop turn
        else:
            client.write(data)

    def forget(self, client: Client) -> None:
        self.disable(client)


@on_server_init
def install(server: Server) -> None:
    tracker = Tracker(server)
    server.tracker = tracker
    server.disconnect_hooks.append(tracker.forget)
    server.reset_hooks.append(tracker.forget)


def tracking_state(client: Client) -> Any:
    return getattr(client, "tracking", None)
