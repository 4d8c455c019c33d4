"""CLIENT TRACKING: invalidation messages in RESP3 and via REDIRECT in RESP2, compared with redis-server."""

from __future__ import annotations

import re

import pytest

from tests.servers import Raw, resp


def _session(port: int, script: list[tuple[str, tuple[str, ...]]]) -> list[bytes]:
    """Run (connection, command) steps over two connections a and b; collect each reply."""
    conns = {"a": Raw(port), "b": Raw(port)}
    out = []
    try:
        for who, cmd in script:
            if who == "a<":  # read one pending push on a
                out.append(conns["a"].read_until_count(1))
                continue
            out.append(conns[who].request(resp(*cmd)))
    finally:
        for c in conns.values():
            c.close()
    return out


RESP3_DEFAULT = [
    ("b", ("FLUSHALL",)),
    ("a", ("HELLO", "3")),
    ("a", ("CLIENT", "TRACKING", "ON")),
    ("a", ("GET", "k")),
    ("b", ("SET", "k", "1")),
    ("a<", ()),
    ("b", ("SET", "k", "2")),  # not read again: no second message
    ("a", ("MGET", "k", "j")),
    ("b", ("DEL", "j")),  # j does not exist: DEL changes nothing, no message
    ("b", ("MSET", "k", "3", "j", "4")),
    ("a<", ()),
    ("a", ("CLIENT", "TRACKINGINFO")),
    ("a", ("CLIENT", "GETREDIR")),
    ("a", ("CLIENT", "CACHING", "YES")),
    ("a", ("CLIENT", "TRACKING", "OFF")),
    ("a", ("CLIENT", "TRACKINGINFO")),
]

RESP3_BCAST = [
    ("b", ("FLUSHALL",)),
    ("a", ("HELLO", "3")),
    ("a", ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP")),
    ("a", ("SET", "user:1", "x")),  # NOLOOP: own write is not announced
    ("b", ("SET", "other", "1")),
    ("b", ("SET", "user:2", "1")),
    ("a<", ()),
    ("a", ("CLIENT", "TRACKINGINFO")),
    ("a", ("CLIENT", "TRACKING", "ON", "PREFIX", "use")),
]

RESP3_OPTIN = [
    ("b", ("FLUSHALL",)),
    ("a", ("HELLO", "3")),
    ("a", ("CLIENT", "TRACKING", "ON", "OPTIN")),
    ("a", ("GET", "notcached")),
    ("a", ("CLIENT", "CACHING", "YES")),
    ("a", ("GET", "cached")),
    ("b", ("SET", "notcached", "1")),
    ("b", ("SET", "cached", "1")),
    ("a<", ()),
    ("a", ("CLIENT", "CACHING", "NO")),
    ("a", ("CLIENT", "TRACKING", "ON", "OPTOUT")),
]

ERRORS = [
    ("a", ("CLIENT", "TRACKING", "ON", "REDIRECT", "999999")),
    ("a", ("CLIENT", "TRACKING", "ON", "PREFIX", "x")),
    ("a", ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT")),
    ("a", ("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN")),
    ("a", ("CLIENT", "TRACKING", "MAYBE")),
    ("a", ("CLIENT", "CACHING", "YES")),
    ("a", ("CLIENT", "GETREDIR")),
]


@pytest.mark.parametrize("script", [RESP3_DEFAULT, RESP3_BCAST, RESP3_OPTIN, ERRORS], ids=["default", "bcast", "optin", "errors"])
def test_tracking_transcript_matches_redis(server, oracle, script):
    def masked(port: int) -> list[bytes]:
        # HELLO's reply carries the connection id, which differs between the two servers.
        return [re.sub(rb"id\r\n:\d+", b"id", r) for r in _session(port, script)]

    assert masked(server.port) == masked(oracle.port)


def test_tracking_redirect_resp2_and_flush(server):
    sub, tracker, writer = Raw(server.port), Raw(server.port), Raw(server.port)
    sub_id = int(sub.request(resp("CLIENT", "ID"))[1:-2])
    assert sub.request(resp("SUBSCRIBE", "__redis__:invalidate")).startswith(b"*3\r\n$9\r\nsubscribe")
    assert tracker.request(resp("CLIENT", "TRACKING", "ON", "REDIRECT", str(sub_id))) == b"+OK\r\n"
    tracker.request(resp("GET", "rk"))
    writer.request(resp("SET", "rk", "v"))
    assert sub.read_until_count(1) == b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$2\r\nrk\r\n"
    writer.request(resp("FLUSHALL"))
    assert sub.read_until_count(1) == b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    assert tracker.request(resp("CLIENT", "GETREDIR")) == b":%d\r\n" % sub_id
