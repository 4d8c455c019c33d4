"""The pub/sub registry: channel, pattern and shard-channel subscribers, message delivery, and the
`client-output-buffer-limit pubsub` guard that disconnects a subscriber which stops reading.

One `PubSub` per server (`server.pubsub`). Subscriber sets are insertion-ordered dicts of clients, so
delivery order is subscription order and membership changes are O(1). Messages are encoded once per
protocol and queued per subscriber; the queues are written at the end of the event-loop turn, one
write per subscriber (as Redis batches pending writes), and the output-buffer limit is checked after
each write. Two cases keep Redis's ordering against replies: a message addressed to the client whose
command is running right now (a RESP3 client publishing to itself, a keyspace event caused by its own
write, SUBSCRIBE then PUBLISH inside EXEC) is held and joined to that command's reply, and a queue
still pending when its subscriber's next command runs is sent ahead of that reply (dispatch does both).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from respdb.protocol.types import Raw
from respdb.server.hooks import on_server_init
from respdb.storage.glob import compile_glob

if TYPE_CHECKING:
    from respdb.server.app import Server
    from respdb.server.client import Client


# Write-through thresholds for a subscriber's queue within one loop turn: a message this large, or a
# queue this size (its byte size is summed every 128 messages, to keep the common path cheap).
_QUEUE_BYTES = 64 * 1024
_QUEUE_TOTAL_BYTES = 1024 * 1024


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


class PubSub:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, dict[Client, None]] = {}
        # pattern → (matcher, subscribers); a dict keeps PSUBSCRIBE order for pmessage delivery.
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], dict[Client, None]]] = {}
        self.shard_channels: dict[bytes, dict[Client, None]] = {}
        # The client whose command dispatch is running, and messages addressed to it meanwhile.
        self.current: Client | None = None
        self.current_argv: list[bytes] | None = None
        self.held: list[bytes] = []
        # Messages not yet written, per subscriber, flushed once per event-loop turn.
        self.pending: dict[Client, list[bytes]] = {}
        self.pending_size: dict[Client, int] = {}  # bytes counted so far in long queues
        self.flush_scheduled = False
        # client id → monotonic time its output buffer was first seen past the soft limit.
        self.soft_since: dict[int, float] = {}
        self.limits = (0, 0, 0)
        self._set_limits(server.config.client_output_buffer_limit)
        server.config.on_change("client-output-buffer-limit", self._set_limits)

    def _set_limits(self, value: dict[str, tuple[int, int, int]]) -> None:
        self.limits = value.get("pubsub", (0, 0, 0))

    # --- subscriptions -------------------------------------------------------------------------
    def subscribe(self, client: Client, channel: bytes) -> None:
        if channel not in client.channels:
            client.channels.add(channel)
            self.channels.setdefault(channel, {})[client] = None

    def unsubscribe(self, client: Client, channel: bytes) -> None:
        if channel in client.channels:
            client.channels.discard(channel)
            _drop(self.channels, channel, client)

    def psubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern not in client.patterns:
            client.patterns.add(pattern)
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (compile_glob(pattern), {})
            entry[1][client] = None

    def punsubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern in client.patterns:
            client.patterns.discard(pattern)
            entry = self.patterns.get(pattern)
            if entry is not None:
                entry[1].pop(client, None)
                if not entry[1]:
                    del self.patterns[pattern]

    def ssubscribe(self, client: Client, channel: bytes) -> None:
        if channel not in client.shard_channels:
            client.shard_channels.add(channel)
            self.shard_channels.setdefault(channel, {})[client] = None

    def sunsubscribe(self, client: Client, channel: bytes) -> None:
        if channel in client.shard_channels:
            client.shard_channels.discard(channel)
            _drop(self.shard_channels, channel, client)

    def forget(self, client: Client) -> None:
        """Drop every subscription of `client` without confirmations (disconnect, RESET)."""
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)
        for channel in list(client.shard_channels):
            self.sunsubscribe(client, channel)
        self.soft_since.pop(client.id, None)
        client.refresh_plain()

    # --- delivery ------------------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """PUBLISH: deliver to channel subscribers, then to matching patterns; the receiver count.

        Delivery never changes the subscriber sets (writes are deferred to flush()), so they are
        iterated in place."""
        subs = self.channels.get(channel)
        patterns = self.patterns
        if subs is None and not patterns:
            return 0
        receivers = 0
        if subs:
            self._send_all(subs, b"*3\r\n$7\r\nmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message))
            receivers = len(subs)
        if patterns:
            for pattern, (match, clients) in patterns.items():
                if match(channel):
                    self._send_all(
                        clients,
                        b"*4\r\n$8\r\npmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
                        % (len(pattern), pattern, len(channel), channel, len(message), message),
                    )
                    receivers += len(clients)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        self._send_all(subs, b"*3\r\n$8\r\nsmessage\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(channel), channel, len(message), message))
        return len(subs)

    def _send_all(self, clients: dict[Client, None], resp2: bytes) -> None:
        # Encoded once per protocol: RESP3 gets a push (`>`) of the same elements as the RESP2 array.
        resp3 = None
        send = self.send
        for client in clients:
            if client.resp3:
                if resp3 is None:
                    resp3 = b">" + resp2[1:]
                send(client, resp3)
            else:
                send(client, resp2)

    def send(self, client: Client, data: bytes) -> None:
        """Queue a message for a subscriber; queued messages go out in one write per subscriber at
        the end of the event-loop turn (Redis's pending-writes batching), which turns a pipelined
        burst of PUBLISHes into one send() per subscriber instead of one per message. A large
        message, or a queue past ~1 MiB, is written at once, so one long turn cannot pile up
        memory ahead of the output-buffer limit check."""
        if client is self.current:
            self.held.append(data)
            return
        parts = self.pending.get(client)
        if parts is None:
            parts = self.pending[client] = []
            if not self.flush_scheduled:
                loop = self.server.loop
                if loop is not None:
                    self.flush_scheduled = True
                    loop.call_soon(self.flush)
        parts.append(data)
        if len(data) >= _QUEUE_BYTES or self.server.loop is None:
            del self.pending[client]
            if self.pending_size:
                self.pending_size.pop(client, None)
            self._write(client, parts)
        elif not len(parts) & 127:
            # Every 128 messages, add up the last 128: amortised O(1) size tracking.
            size = self.pending_size.get(client, 0) + sum(map(len, parts[-128:]))
            if size >= _QUEUE_TOTAL_BYTES:
                del self.pending[client]
                self.pending_size.pop(client, None)
                self._write(client, parts)
            else:
                self.pending_size[client] = size

    def flush(self) -> None:
        """Write the queued messages of this loop turn."""
        self.flush_scheduled = False
        pending, self.pending = self.pending, {}
        if self.pending_size:
            self.pending_size.clear()
        for client, parts in pending.items():
            self._write(client, parts)

    def _write(self, client: Client, parts: list[bytes]) -> None:
        """One write of queued messages, then the pubsub output-buffer limit check."""
        conn = client.conn
        if conn is None or conn.closed:
            return
        conn.write(parts[0] if len(parts) == 1 else b"".join(parts))
        hard, soft, soft_seconds = self.limits
        if hard or soft:
            self._check_limit(client, conn.output_buffer_size(), hard, soft, soft_seconds)

    def _check_limit(self, client: Client, used: int, hard: int, soft: int, soft_seconds: int) -> None:
        # Redis's checkClientOutputBufferLimits: past hard at once, or past soft for longer than
        # soft_seconds without dropping below it in between.
        over = bool(hard) and used >= hard
        if soft and used >= soft:
            now = time.monotonic()
            since = self.soft_since.setdefault(client.id, now)
            if now - since > soft_seconds:
                over = True
        else:
            self.soft_since.pop(client.id, None)
        if over:
            self.soft_since.pop(client.id, None)
            self.server.log.warning(
                f"Client id={client.id} addr={client.addr} scheduled to be closed ASAP for overcoming of output buffer limits."
            )
            # abort(), not close(): close() would keep the unread buffer until it drains, which a
            # subscriber that stopped reading never does.
            client.conn.abort()

    def take_held(self) -> bytes:
        held = b"".join(self.held)
        self.held.clear()
        return held

    # --- introspection -------------------------------------------------------------------------
    def numsub(self, channel: bytes) -> int:
        return len(self.channels.get(channel, ()))

    def shard_numsub(self, channel: bytes) -> int:
        return len(self.shard_channels.get(channel, ()))


def _drop(registry: dict[bytes, dict[Any, None]], channel: bytes, client: Client) -> None:
    subs = registry.get(channel)
    if subs is not None:
        subs.pop(client, None)
        if not subs:
            del registry[channel]


def confirmation(client: Client, kind: bytes, name: bytes | None, count: int) -> bytes:
    """One (un)subscribe confirmation: [kind, name, count], a push in RESP3."""
    name_part = _bulk(name) if name is not None else (b"_\r\n" if client.resp3 else b"$-1\r\n")
    return b"%b3\r\n%b%b:%d\r\n" % (b">" if client.resp3 else b"*", _bulk(kind), name_part, count)


def confirmations(parts: list[bytes]) -> Raw:
    """Several replies for one command, written back to back as Redis does."""
    return Raw(b"".join(parts))


@on_server_init
def install(server: Server) -> None:
    pubsub = PubSub(server)
    server.pubsub = pubsub
    server.disconnect_hooks.append(pubsub.forget)
    server.reset_hooks.append(pubsub.forget)
    # INFO stats gains Redis's pubsub_channels/pubsub_patterns/pubsubshard_channels; an override of
    # the section installed before this one is kept and extended.
    previous = server.info_sections.get("stats")

    def stats(s: Server) -> list[tuple[str, Any]]:
        if previous is not None:
            rows = list(previous(s))
        else:
            from respdb.server.info import SECTIONS

            rows = list(SECTIONS["stats"](s))
        return [
            *rows,
            ("pubsub_channels", len(pubsub.channels)),
            ("pubsub_patterns", len(pubsub.patterns)),
            ("pubsubshard_channels", len(pubsub.shard_channels)),
        ]

    server.info_sections["stats"] = stats
