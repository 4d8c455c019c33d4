"""Keyspace notifications: `notify-keyspace-events` flags, the __keyspace@N__/__keyevent@N__ channels,
class filtering, `expired` and `new` events, observed by a real subscriber and compared with the
events redis-server 7.0 publishes for the same commands."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from tests.servers import Raw, ServerProcess, resp

# String and generic commands whose events are compared with Redis's, in order.
_SEQUENCE: list[tuple[str, ...]] = [
    ("SET", "a", "1"), ("SET", "a", "2", "EX", "100"), ("INCR", "a"), ("INCRBYFLOAT", "a", "1.5"),
    ("APPEND", "a", "x"), ("SETRANGE", "a", "0", "zz"), ("GETDEL", "a"), ("MSET", "b", "1", "c", "2"),
    ("MSETNX", "d", "1", "e", "2"), ("SETNX", "f", "1"), ("SETEX", "g", "10", "v"), ("PSETEX", "h", "1000", "v"),
    ("GETEX", "g", "PERSIST"), ("GETEX", "g", "EX", "50"), ("EXPIRE", "b", "100"), ("PERSIST", "b"),
    ("RENAME", "b", "bb"), ("RENAMENX", "c", "cc"), ("COPY", "bb", "b2"), ("MOVE", "b2", "3"),
    ("DEL", "bb", "cc", "zz"), ("UNLINK", "d"), ("GETSET", "e", "9"), ("DECRBY", "e", "3"), ("DECR", "e"),
    ("INCRBY", "e", "2"), ("EXPIRE", "e", "0"), ("SET", "k", "v", "KEEPTTL"), ("PEXPIREAT", "k", "1"),
    ("SETRANGE", "q", "0", ""), ("SETRANGE", "q", "2", "x"), ("SET", "x", "1", "PX", "1"),
    ("SWAPDB", "0", "3"), ("FLUSHDB",), ("SET", "n", "1"), ("EXPIRE", "n", "-1"),
]


def _drain(ps: redis.client.PubSub, quiet_s: float = 0.3) -> list[tuple[bytes, bytes]]:
    """Messages until none arrives for `quiet_s` (the end of a burst)."""
    out = []
    while True:
        msg = ps.get_message(timeout=quiet_s)
        if msg is None:
            return out
        if msg["type"] in ("message", "pmessage"):
            out.append((msg["channel"], msg["data"]))


def _wait_key_gone(r: redis.Redis, deadline_s: float = 5.0) -> None:
    end = time.monotonic() + deadline_s
    while r.dbsize():
        assert time.monotonic() < end, "key was not expired"
        time.sleep(0.01)


@pytest.fixture
def events(server: ServerProcess, r: redis.Redis) -> Iterator[tuple[redis.Redis, redis.client.PubSub]]:
    """(client, subscriber to every keyspace channel); flags are reset afterwards."""
    sub = server.client()
    ps = sub.pubsub()
    ps.psubscribe("__key*__:*")
    ps.get_message(timeout=1)
    yield r, ps
    r.config_set("notify-keyspace-events", "")
    ps.close()
    sub.close()


def _run_sequence(r: redis.Redis, ps: redis.client.PubSub, flags: str) -> list[tuple[bytes, bytes]]:
    r.flushall()
    _drain(ps, 0.05)
    r.config_set("notify-keyspace-events", flags)
    for cmd in _SEQUENCE:
        r.execute_command(*cmd)
    # The 1 ms key "x" has expired by now; reading it deletes it and publishes "expired".
    time.sleep(0.01)
    r.get("x")
    events = _drain(ps)
    r.config_set("notify-keyspace-events", "")
    return events


@pytest.mark.parametrize("flags", ["KEA", "Kg", "E$", "KEAn", "Kx"])
def test_notify_events_match_redis(server, oracle, flags):
    got = {}
    for name, sp in (("respdb", server), ("redis", oracle)):
        client = sp.client()
        ps = client.pubsub()
        ps.psubscribe("__key*__:*")
        ps.get_message(timeout=1)
        got[name] = _run_sequence(client, ps, flags)
        ps.close()
        client.close()
    assert got["respdb"] == got["redis"]
    if flags != "Kx":
        assert len(got["redis"]) > 10  # the comparison saw real traffic


def test_notify_keyspace_and_keyevent_channels(events):
    r, ps = events
    r.config_set("notify-keyspace-events", "KE$")
    r.set("greeting", "hi")
    assert _drain(ps) == [(b"__keyspace@0__:greeting", b"set"), (b"__keyevent@0__:set", b"greeting")]


def test_notify_keyspace_only(events):
    r, ps = events
    r.config_set("notify-keyspace-events", "Kg")
    r.set("a", "1")  # a string event: class $ is off
    r.delete("a")
    assert _drain(ps) == [(b"__keyspace@0__:a", b"del")]


def test_notify_keyevent_only_other_db(events, server):
    r, ps = events
    r.config_set("notify-keyspace-events", "E$")
    other = server.client(db=5)
    other.append("k", "x")
    other.close()
    assert _drain(ps) == [(b"__keyevent@5__:append", b"k")]


def test_notify_off_publishes_nothing(events):
    r, ps = events
    r.config_set("notify-keyspace-events", "KEA")
    r.config_set("notify-keyspace-events", "")
    r.set("a", "1")
    assert _drain(ps, 0.2) == []


def test_notify_expired_by_active_expiry(events):
    r, ps = events
    r.config_set("notify-keyspace-events", "Ex")
    r.set("short", "v", px=20)
    _wait_key_gone(r)  # DBSIZE does not touch the key: the server's own expiry cycle removes it
    assert _drain(ps) == [(b"__keyevent@0__:expired", b"short")]


def test_notify_new_event(events):
    r, ps = events
    r.config_set("notify-keyspace-events", "Kn$")
    r.set("fresh", "1")
    r.set("fresh", "2")
    assert _drain(ps) == [
        (b"__keyspace@0__:fresh", b"new"), (b"__keyspace@0__:fresh", b"set"), (b"__keyspace@0__:fresh", b"set")
    ]


@pytest.mark.parametrize(
    ("flags", "shown"),
    [("KEA", "AKE"), ("KEAn", "AKE"), ("Kn", "nK"), ("Em", "Em"), ("g$lshzxetdnm", "Am"), ("Ktd", "tdK"), ("", "")],
)
def test_notify_config_get_format(server, oracle, flags, shown):
    for sp in (server, oracle):
        client = sp.client()
        client.config_set("notify-keyspace-events", flags)
        assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}
        client.config_set("notify-keyspace-events", "")
        client.close()


def test_notify_config_invalid_flag(r):
    with pytest.raises(redis.ResponseError) as exc:
        r.config_set("notify-keyspace-events", "KQ")
    assert str(exc.value) == (
        "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    )


def test_notify_own_write_resp3_order(server, r):
    r.config_set("notify-keyspace-events", "K$")
    try:
        raw = Raw(server.port)
        raw.request(resp("HELLO", "3"))
        raw.request(resp("SUBSCRIBE", "__keyspace@0__:mine"))
        # The event of its own SET reaches the client just before the SET's reply, in order.
        out = raw.request(resp("PING") + resp("SET", "mine", "1"), 3)
        assert out == b"+PONG\r\n>3\r\n$7\r\nmessage\r\n$19\r\n__keyspace@0__:mine\r\n$3\r\nset\r\n+OK\r\n"
        raw.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_notify_flags_from_command_line():
    from tests.servers import respdb_server

    with respdb_server("--notify-keyspace-events", "Eg") as sp:
        client = sp.client()
        assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "gE"}
        ps = client.pubsub()
        ps.subscribe("__keyevent@0__:del")
        ps.get_message(timeout=1)
        client.set("k", "v")
        client.delete("k")
        assert _drain(ps) == [(b"__keyevent@0__:del", b"k")]
        ps.close()
        client.close()
