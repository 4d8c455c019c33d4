"""Keyspace notifications (`notify-keyspace-events`): writes published as pub/sub messages.

For an event of class `cls` (g $ l s h z x e t d n; the config normalises `A`) on `key` in db N,
Redis's notifyKeyspaceEvent publishes `__keyspace@N__:<key>` → event name when `K` is set and
`__keyevent@N__:<event>` → key when `E` is set. The publisher is installed as `keyspace.notify`
only while the flags can produce an event at all, so a server with notifications off pays one
`is None` check per write. Key-miss events (`m`) come from the keyspace's read path: every miss a
reading command counts (keyspace_misses) fires `keymiss`, as Redis's lookupKey does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from respdb.server.hooks import on_server_init

# Imported for its side effect too: its installer (server.pubsub) must run before ours.
from respdb.server.pubsub import PubSub

if TYPE_CHECKING:
    from respdb.server.app import Server


def make_notifier(flags: str, pubsub: PubSub) -> Callable[[str, str, bytes, int], None] | None:
    """The `keyspace.notify(cls, event, key, dbid)` function for `flags`, or None when silent."""
    keyspace_on = "K" in flags
    keyevent_on = "E" in flags
    classes = frozenset(c for c in flags if c not in "KE")
    if not (keyspace_on or keyevent_on) or not classes:
        return None
    publish = pubsub.publish

    def notify(cls: str, event: str, key: bytes, dbid: int) -> None:
        if cls not in classes or not (pubsub.channels or pubsub.patterns):
            return  # building the channel names is the cost; skip it when nobody can listen
        name = event.encode()
        if keyspace_on:
            publish(b"__keyspace@%d__:%b" % (dbid, key), name)
        if keyevent_on:
            publish(b"__keyevent@%d__:%b" % (dbid, name), key)

    return notify


@on_server_init
def install(server: Server) -> None:
    def apply(flags: str) -> None:
        server.keyspace.notify = make_notifier(flags, server.pubsub)

    apply(server.config.notify_keyspace_events)
    server.config.on_change("notify-keyspace-events", apply)
