"""Pub/sub over TCP: redis-py `PubSub.listen()` in RESP2 and RESP3, pattern and shard channels,
PUBSUB introspection, subscriber mode, messages to oneself, and the slow-subscriber guard
(`client-output-buffer-limit pubsub`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from tests.servers import Raw, ServerProcess, resp


def _next_message(ps: redis.client.PubSub, deadline_s: float = 5.0) -> dict:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        msg = ps.get_message(timeout=0.1)
        if msg is not None:
            return msg
    raise AssertionError("no pub/sub message arrived")


def _poll(predicate, deadline_s: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def sub_client(request, server: ServerProcess) -> Iterator[redis.Redis]:
    client = server.client(protocol=request.param)
    yield client
    client.close()


# --- redis-py listen() ------------------------------------------------------------------------
def test_subscribe_listen(sub_client, r):
    ps = sub_client.pubsub()
    ps.subscribe("news")
    listener = ps.listen()
    assert next(listener) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert r.publish("news", "hello") == 1
    assert next(listener) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    ps.unsubscribe("news")
    assert next(listener) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 0}
    ps.close()


def test_psubscribe_listen(sub_client, r):
    ps = sub_client.pubsub()
    ps.psubscribe("news.*")
    assert _next_message(ps)["type"] == "psubscribe"
    assert r.publish("news.sport", "goal") == 1
    assert r.publish("weather", "rain") == 0
    assert _next_message(ps) == {"type": "pmessage", "pattern": b"news.*", "channel": b"news.sport", "data": b"goal"}
    ps.close()


def test_subscribe_handler_thread(server, r):
    client = server.client(protocol=3)
    got = []
    ps = client.pubsub()
    ps.subscribe(events=lambda m: got.append(m["data"]))
    thread = ps.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        _poll(lambda: r.pubsub_numsub("events") == [(b"events", 1)], what="subscription")
        for i in range(5):
            r.publish("events", str(i))
        _poll(lambda: len(got) == 5, what="5 messages")
        assert got == [b"0", b"1", b"2", b"3", b"4"]
    finally:
        thread.stop()
        thread.join(5)
        client.close()


def test_publish_counts_channel_and_pattern_receivers(server, r):
    a, b = server.client(), server.client()
    pa, pb = a.pubsub(), b.pubsub()
    pa.subscribe("ch")
    pb.psubscribe("c*", "*h")
    _next_message(pa)
    _next_message(pb)
    _next_message(pb)
    # One channel subscriber plus two matching patterns of the same client: three deliveries.
    assert r.publish("ch", "x") == 3
    assert _next_message(pa)["data"] == b"x"
    assert {_next_message(pb)["pattern"], _next_message(pb)["pattern"]} == {b"c*", b"*h"}
    pa.close()
    pb.close()
    a.close()
    b.close()


# --- raw replies ------------------------------------------------------------------------------
def test_subscribe_confirmations_raw(server):
    raw = Raw(server.port)
    out = raw.request(resp("SUBSCRIBE", "a", "b", "a"), 3)
    assert out == (
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n"
    )
    assert raw.request(resp("PSUBSCRIBE", "p*")) == b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n"
    # Shard channels are counted on their own.
    assert raw.request(resp("SSUBSCRIBE", "s")) == b"*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
    assert raw.request(resp("UNSUBSCRIBE", "a", "zz"), 2) == (
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nzz\r\n:2\r\n"
    )
    raw.close()


def test_unsubscribe_without_subscriptions(server):
    raw = Raw(server.port)
    assert raw.request(resp("UNSUBSCRIBE")) == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert raw.request(resp("PUNSUBSCRIBE")) == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    assert raw.request(resp("SUNSUBSCRIBE")) == b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n"
    raw.request(resp("HELLO", "3"))
    assert raw.request(resp("UNSUBSCRIBE")) == b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"


def test_subscriber_mode_resp2_rejects_other_commands(server):
    raw = Raw(server.port)
    raw.request(resp("SUBSCRIBE", "ch"))
    assert raw.request(resp("GET", "x")) == (
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        b"are allowed in this context\r\n"
    )
    assert raw.request(resp("CONFIG", "GET", "x")).startswith(b"-ERR Can't execute 'config|get': ")
    assert raw.request(resp("PING")) == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert raw.request(resp("PING", "hi")) == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    assert raw.request(resp("UNSUBSCRIBE")) == b"*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    assert raw.request(resp("GET", "x")) == b"$-1\r\n"  # back to normal


def test_subscriber_resp3_runs_any_command(server, r):
    raw = Raw(server.port)
    raw.request(resp("HELLO", "3"))
    assert raw.request(resp("SUBSCRIBE", "ch")) == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert raw.request(resp("SET", "k", "v")) == b"+OK\r\n"
    assert raw.request(resp("PING")) == b"+PONG\r\n"
    r.publish("ch", "m")
    assert raw.read_until_count(1) == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"


def test_publish_to_self_keeps_pipeline_order(server):
    raw = Raw(server.port)
    raw.request(resp("HELLO", "3"))
    # Pipelined: the message caused by PUBLISH must not overtake the SUBSCRIBE confirmation.
    out = raw.request(resp("SUBSCRIBE", "me") + resp("PUBLISH", "me", "hi") + resp("PING"), 4)
    assert out == (
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n"
        b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n:1\r\n+PONG\r\n"
    )


def test_subscribe_and_publish_inside_exec(server):
    raw = Raw(server.port)
    raw.request(resp("HELLO", "3"))
    out = raw.request(resp("MULTI") + resp("SUBSCRIBE", "q") + resp("PUBLISH", "q", "hi") + resp("EXEC"), 4)
    assert out == (
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n"
        b"*2\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$1\r\nq\r\n$2\r\nhi\r\n:1\r\n"
    )


def test_spublish_reaches_shard_subscribers_only(server, r):
    raw = Raw(server.port)
    raw.request(resp("SSUBSCRIBE", "s1"))
    assert r.publish("s1", "x") == 0
    assert r.execute_command("SPUBLISH", "s1", "hello") == 1
    assert raw.read_until_count(1) == b"*3\r\n$8\r\nsmessage\r\n$2\r\ns1\r\n$5\r\nhello\r\n"


# --- PUBSUB ------------------------------------------------------------------------------------
def test_pubsub_numsub_numpat_channels(server, r):
    raw1, raw2 = Raw(server.port), Raw(server.port)
    raw1.request(resp("SUBSCRIBE", "n1", "n2"), 2)
    raw2.request(resp("SUBSCRIBE", "n1"))
    raw2.request(resp("PSUBSCRIBE", "x*", "y*"), 2)
    raw1.request(resp("PSUBSCRIBE", "x*"))
    raw1.request(resp("SSUBSCRIBE", "sh"))
    assert r.pubsub_numsub("n1", "n2", "none") == [(b"n1", 2), (b"n2", 1), (b"none", 0)]
    assert r.pubsub_numpat() == 2  # distinct patterns
    assert sorted(r.pubsub_channels()) == [b"n1", b"n2"]
    assert r.pubsub_channels("*2") == [b"n2"]
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") == [b"sh"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "sh", "x") == [b"sh", 1, b"x", 0]
    raw1.close()
    raw2.close()
    _poll(lambda: r.pubsub_numpat() == 0 and r.pubsub_channels() == [], what="cleanup on disconnect")


def test_pubsub_errors_and_help(r):
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand or wrong number of arguments for 'CHANNELS'\. Try PUBSUB HELP\.$"):
        r.execute_command("PUBSUB", "CHANNELS", "a", "b")
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'FOO'\. Try PUBSUB HELP\.$"):
        r.execute_command("PUBSUB", "FOO")
    help_lines = r.execute_command("PUBSUB", "HELP")
    assert help_lines[0] == b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert len(help_lines) == 14


def test_reset_drops_subscriptions(server, r):
    raw = Raw(server.port)
    raw.request(resp("SUBSCRIBE", "gone"))
    assert raw.request(resp("RESET")) == b"+RESET\r\n"
    assert r.pubsub_numsub("gone") == [(b"gone", 0)]
    assert raw.request(resp("GET", "x")) == b"$-1\r\n"


# --- slow subscribers --------------------------------------------------------------------------
def _stalled_subscriber(port: int, channel: str) -> socket.socket:
    """A subscriber with a tiny receive buffer that never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(resp("SUBSCRIBE", channel))
    return sock


def _flood_until_dropped(r: redis.Redis, channel: str, deadline_s: float) -> float:
    payload = b"x" * 65536
    start = time.monotonic()
    end = start + deadline_s
    while r.pubsub_numsub(channel)[0][1] != 0:
        assert time.monotonic() < end, "slow subscriber was never disconnected"
        for _ in range(16):
            r.publish(channel, payload)
        time.sleep(0.005)
    return time.monotonic() - start


def test_slow_subscriber_disconnected_past_hard_limit(server, r):
    old = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    try:
        sock = _stalled_subscriber(server.port, "flood")
        _poll(lambda: r.pubsub_numsub("flood") == [(b"flood", 1)], what="subscription")
        _flood_until_dropped(r, "flood", 30)
        assert "overcoming of output buffer limits" in server.log_text()
        sock.close()
    finally:
        r.config_set("client-output-buffer-limit", old)


def test_slow_subscriber_soft_limit_needs_time(server, r):
    old = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", "pubsub 0 512kb 1")
    try:
        sock = _stalled_subscriber(server.port, "soft")
        _poll(lambda: r.pubsub_numsub("soft") == [(b"soft", 1)], what="subscription")
        # Past the soft limit the client survives until it has stayed there for over a second.
        assert _flood_until_dropped(r, "soft", 30) > 1.0
        sock.close()
    finally:
        r.config_set("client-output-buffer-limit", old)


def test_fast_subscriber_survives_default_limit(server, r):
    client = server.client()
    ps = client.pubsub()
    ps.subscribe("bulk")
    _next_message(ps)
    payload = b"y" * 10000
    for _ in range(200):
        r.publish("bulk", payload)
    for _ in range(200):
        assert _next_message(ps)["data"] == payload
    ps.close()
    client.close()


def test_pubsub_info_stats_counts(server, r):
    raw = Raw(server.port)
    raw.request(resp("SUBSCRIBE", "i1", "i2"), 2)
    raw.request(resp("PSUBSCRIBE", "i*"))
    raw.request(resp("SSUBSCRIBE", "is"))
    stats = r.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (2, 1, 1)
    raw.close()
    _poll(lambda: r.info("stats")["pubsub_channels"] == 0, what="cleanup on disconnect")


def _wait_server_busy(port: int, deadline_s: float = 5.0) -> None:
    """Poll with PINGs until one goes unanswered for 50 ms: the server is inside DEBUG SLEEP."""
    probe = socket.create_connection(("127.0.0.1", port), timeout=5)
    probe.settimeout(0.05)
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            probe.sendall(b"PING\r\n")
            try:
                probe.recv(64)
            except TimeoutError:
                return
        raise AssertionError("server never became busy")
    finally:
        probe.close()


def test_message_queued_before_subscriber_command_keeps_order(server):
    sub, pub, control = Raw(server.port), Raw(server.port), Raw(server.port)
    sub.request(resp("HELLO", "3"))
    sub.request(resp("SUBSCRIBE", "ord"))
    # While the server sleeps, the publisher's PUBLISH and then the subscriber's PING arrive; the
    # next loop turn handles both, PUBLISH first. As in Redis, the message must reach the
    # subscriber before the PING reply.
    control.send(resp("DEBUG", "SLEEP", "0.5"))
    _wait_server_busy(server.port)
    pub.send(resp("PUBLISH", "ord", "first"))
    sub.send(resp("PING"))
    assert sub.read_until_count(2) == b">3\r\n$7\r\nmessage\r\n$3\r\nord\r\n$5\r\nfirst\r\n+PONG\r\n"
    assert pub.read_until_count(1) == b":1\r\n"
    for raw in (sub, pub, control):
        raw.close()
