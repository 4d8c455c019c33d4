"""Stream commands over TCP with redis-py: ids, ranges, trimming, groups, claims, XINFO, blocking reads
across connections, keyspace events and what the AOF logs (XADD ids, XREADGROUP as XCLAIM)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis

from tests.servers import respdb_server


def _wait_blocked(r: redis.Redis, n: int = 1, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while r.info("clients")["blocked_clients"] < n:
        assert time.monotonic() < end, "client did not block"
        time.sleep(0.01)


def _in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # the assertion happens in the test thread
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, out


# --- XADD / XLEN / XRANGE ------------------------------------------------------------------------------
def test_xadd_auto_id_is_monotonic_and_explicit_ids_checked(r):
    first = r.xadd("s", {"a": 1})
    ms, seq = map(int, first.split(b"-"))
    assert abs(ms - time.time() * 1000) < 10_000
    second = r.xadd("s", {"a": 2})
    assert tuple(map(int, second.split(b"-"))) > (ms, seq)
    with pytest.raises(redis.ResponseError, match="equal or smaller than the target stream top item"):
        r.xadd("s", {"a": 3}, id="1-1")
    assert r.xadd("t", {"f": "v"}, id="5-*") == b"5-0"
    assert r.xadd("t", {"f": "v"}, id="5-*") == b"5-1"
    assert r.xadd("t", {"f": "v"}, id="6") == b"6-0"
    with pytest.raises(redis.ResponseError, match="must be greater than 0-0"):
        r.xadd("n", {"f": "v"}, id="0-0")
    assert r.exists("n") == 0
    with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
        r.xadd("t", {"f": "v"}, id="abc")
    assert r.xlen("t") == 3 and r.xlen("missing") == 0


def test_xadd_nomkstream_and_odd_fields(r):
    assert r.xadd("s", {"a": 1}, nomkstream=True) is None
    assert r.exists("s") == 0
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'xadd'"):
        r.execute_command("XADD", "s", "*", "a")


def test_xadd_maxlen_and_minid_trim(r):
    for i in range(1, 11):
        r.xadd("s", {"i": i}, id=f"{i}-0", maxlen=5, approximate=False)
    assert [e[0] for e in r.xrange("s")] == [b"6-0", b"7-0", b"8-0", b"9-0", b"10-0"]
    r.xadd("s", {"i": 11}, id="11-0", minid="9", approximate=False)
    assert r.xlen("s") == 3
    with pytest.raises(redis.ResponseError, match="LIMIT cannot be used without the special ~ option"):
        r.execute_command("XADD", "s", "MAXLEN", "2", "LIMIT", "1", "*", "a", "b")
    with pytest.raises(redis.ResponseError, match="MAXLEN and MINID options at the same time"):
        r.execute_command("XADD", "s", "MAXLEN", "2", "MINID", "1", "*", "a", "b")


def test_xrange_xrevrange_exclusive_bounds_and_count(r):
    for i in range(1, 6):
        r.xadd("s", {"i": i}, id=f"{i}-1")
    assert [e[0] for e in r.xrange("s", "(2-1", "+")] == [b"3-1", b"4-1", b"5-1"]
    assert [e[0] for e in r.xrange("s", "-", "(3-1")] == [b"1-1", b"2-1"]
    assert [e[0] for e in r.xrange("s", "2", "3")] == [b"2-1", b"3-1"]
    assert r.xrange("s", count=2) == [(b"1-1", {b"i": b"1"}), (b"2-1", {b"i": b"2"})]
    assert [e[0] for e in r.xrevrange("s", "+", "-", count=2)] == [b"5-1", b"4-1"]
    assert r.execute_command("XRANGE", "s", "-", "+", "COUNT", "0") is None
    with pytest.raises(redis.ResponseError, match="invalid end ID for the interval"):
        r.xrange("s", "-", "(0-0")
    assert r.xrange("missing") == []


def test_xdel_keeps_empty_stream_and_tracks_max_deleted(r):
    r.xadd("s", {"a": 1}, id="1-1")
    r.xadd("s", {"a": 2}, id="2-1")
    assert r.xdel("s", "2-1", "9-9") == 1
    assert r.xdel("s", "1-1") == 1
    assert r.exists("s") == 1 and r.xlen("s") == 0 and r.type("s") == b"stream"
    info = r.xinfo_stream("s")
    assert info["max-deleted-entry-id"] == b"2-1" and info["entries-added"] == 2
    assert info["first-entry"] is None and info["last-generated-id"] == b"2-1"
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        r.xadd("s", {"a": 3}, id="2-1")


def test_xtrim_exact_and_approximate(r):
    for i in range(1, 251):
        r.xadd("s", {"f": "v"}, id=f"{i}-0")
    # `~` only drops whole nodes of 100 entries.
    assert r.xtrim("s", maxlen=180, approximate=True) == 0
    assert r.xtrim("s", maxlen=140, approximate=True) == 100
    assert r.xtrim("s", maxlen=140, approximate=False) == 10
    assert r.xtrim("s", minid="201", approximate=False) == 90
    assert r.xlen("s") == 50
    with pytest.raises(redis.ResponseError, match="LIMIT cannot be used without specifying a trimming strategy"):
        r.execute_command("XTRIM", "s", "LIMIT", "5")
    with pytest.raises(redis.ResponseError, match="XTRIM must be called with a trimming strategy"):
        r.execute_command("XTRIM", "s", "LIMIT", "0")
    assert r.xtrim("missing", maxlen=0) == 0


def test_xsetid_rules(r):
    r.xadd("s", {"a": 1}, id="5-5")
    with pytest.raises(redis.ResponseError, match="smaller than the target stream top item"):
        r.execute_command("XSETID", "s", "1-1")
    assert r.execute_command("XSETID", "s", "10-0", "ENTRIESADDED", "7", "MAXDELETEDID", "3-0")
    info = r.xinfo_stream("s")
    assert (info["last-generated-id"], info["entries-added"], info["max-deleted-entry-id"]) == (b"10-0", 7, b"3-0")
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.execute_command("XSETID", "missing", "1-1")


# --- groups --------------------------------------------------------------------------------------------
def test_xgroup_lifecycle(r):
    with pytest.raises(redis.ResponseError, match="requires the key to exist"):
        r.xgroup_create("s", "g", id="0")
    assert r.xgroup_create("s", "g", id="$", mkstream=True)
    with pytest.raises(redis.ResponseError, match="BUSYGROUP"):
        r.xgroup_create("s", "g", id="0")
    assert r.xgroup_createconsumer("s", "g", "alice") == 1
    assert r.xgroup_createconsumer("s", "g", "alice") == 0
    with pytest.raises(redis.ResponseError, match="NOGROUP No such consumer group 'x' for key name 's'"):
        r.xgroup_createconsumer("s", "x", "alice")
    r.xadd("s", {"a": 1}, id="1-0")
    assert r.xgroup_setid("s", "g", id="0", entries_read=0)
    assert r.xreadgroup("g", "alice", {"s": ">"}) == [[b"s", [(b"1-0", {b"a": b"1"})]]]
    assert r.xgroup_delconsumer("s", "g", "alice") == 1
    assert r.xpending("s", "g")["pending"] == 0
    assert r.xgroup_destroy("s", "g") == 1
    assert r.xgroup_destroy("s", "g") == 0


def test_xreadgroup_pel_history_and_xack(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    for i in range(1, 4):
        r.xadd("s", {"i": i}, id=f"{i}-0")
    assert [e[0] for e in r.xreadgroup("g", "c1", {"s": ">"}, count=2)[0][1]] == [b"1-0", b"2-0"]
    assert [e[0] for e in r.xreadgroup("g", "c2", {"s": ">"})[0][1]] == [b"3-0"]
    assert r.xreadgroup("g", "c2", {"s": ">"}) == []
    # History: the consumer's own pending entries, a deleted one with nil fields (parsed as {}).
    r.xdel("s", "2-0")
    assert r.xreadgroup("g", "c1", {"s": "0"}) == [[b"s", [(b"1-0", {b"i": b"1"}), (b"2-0", {})]]]
    summary = r.xpending("s", "g")
    assert summary["pending"] == 3 and summary["min"] == b"1-0" and summary["max"] == b"3-0"
    assert summary["consumers"] == [{"name": b"c1", "pending": 2}, {"name": b"c2", "pending": 1}]
    detail = r.xpending_range("s", "g", "-", "+", 10, consumername="c1")
    assert [(d["message_id"], d["times_delivered"]) for d in detail] == [(b"1-0", 2), (b"2-0", 1)]
    assert r.xack("s", "g", "1-0", "3-0", "9-0") == 2
    assert r.xack("s", "nogroup", "1-0") == 0
    with pytest.raises(redis.ResponseError, match="The \\$ ID is meaningless"):
        r.xreadgroup("g", "c1", {"s": "$"})
    with pytest.raises(redis.ResponseError, match="NOGROUP No such key 'x' or consumer group 'g' in XREADGROUP"):
        r.xreadgroup("g", "c1", {"x": ">"})


def test_xreadgroup_noack_moves_group_without_pel(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    r.xadd("s", {"a": 1}, id="1-0")
    assert r.xreadgroup("g", "c", {"s": ">"}, noack=True)[0][1][0][0] == b"1-0"
    assert r.xpending("s", "g")["pending"] == 0
    group = r.xinfo_groups("s")[0]
    assert group["last-delivered-id"] == b"1-0" and group["entries-read"] == 1 and group["lag"] == 0


def test_xpending_idle_filter(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    r.xadd("s", {"a": 1}, id="1-0")
    r.xadd("s", {"a": 2}, id="2-0")
    r.xreadgroup("g", "c", {"s": ">"})
    # Backdate one delivery by an hour with XCLAIM TIME.
    r.xclaim("s", "g", "c", 0, ["1-0"], time=int(time.time() * 1000) - 3_600_000, justid=True)
    old = r.xpending_range("s", "g", "-", "+", 10, idle=60_000)
    assert [d["message_id"] for d in old] == [b"1-0"] and old[0]["time_since_delivered"] >= 3_600_000


def test_xclaim_options(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    r.xadd("s", {"a": 1}, id="1-0")
    r.xadd("s", {"a": 2}, id="2-0")
    r.xreadgroup("g", "alice", {"s": ">"}, count=1)
    assert r.xclaim("s", "g", "bob", 3_600_000, ["1-0"]) == []  # not idle long enough
    assert r.xclaim("s", "g", "bob", 0, ["1-0"]) == [(b"1-0", {b"a": b"1"})]
    assert r.xclaim("s", "g", "bob", 0, ["1-0"], retrycount=9, justid=True) == [b"1-0"]
    assert r.xpending_range("s", "g", "-", "+", 10)[0]["times_delivered"] == 9
    assert r.xclaim("s", "g", "bob", 0, ["2-0"], justid=True) == []  # not pending, no FORCE
    assert r.xclaim("s", "g", "bob", 0, ["2-0"], force=True, justid=True) == [b"2-0"]
    r.execute_command("XCLAIM", "s", "g", "bob", "0", "9-0", "LASTID", "5-0")
    assert r.xinfo_groups("s")[0]["last-delivered-id"] == b"5-0"
    with pytest.raises(redis.ResponseError, match="Unrecognized XCLAIM option 'BOGUS'"):
        r.execute_command("XCLAIM", "s", "g", "bob", "0", "1-0", "BOGUS")
    with pytest.raises(redis.ResponseError, match="NOGROUP No such key 's' or consumer group 'x'"):
        r.xclaim("s", "x", "bob", 0, ["1-0"])


def test_xautoclaim_cursor_and_deleted_entries(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    for i in range(1, 6):
        r.xadd("s", {"i": i}, id=f"{i}-0")
    r.xreadgroup("g", "alice", {"s": ">"})
    r.xdel("s", "2-0")
    reply = r.execute_command("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "2")
    assert reply == [b"3-0", [(b"1-0", {b"i": b"1"})], [b"2-0"]]
    reply = r.xautoclaim("s", "g", "bob", 0, start_id=reply[0], justid=True)
    assert reply == [b"3-0", b"4-0", b"5-0"]
    assert r.xpending("s", "g")["consumers"] == [{"name": b"bob", "pending": 4}]
    with pytest.raises(redis.ResponseError, match="COUNT must be > 0"):
        r.execute_command("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "0")


def test_xinfo_stream_groups_consumers(r):
    r.xgroup_create("s", "g", id="0", mkstream=True)
    r.xadd("s", {"a": 1}, id="1-0")
    r.xadd("s", {"b": 2}, id="2-0")
    r.xreadgroup("g", "c", {"s": ">"}, count=1)
    info = r.xinfo_stream("s")
    assert info["length"] == 2 and info["radix-tree-keys"] == 1 and info["groups"] == 1
    assert info["first-entry"] == (b"1-0", {b"a": b"1"}) and info["last-entry"] == (b"2-0", {b"b": b"2"})
    full = r.xinfo_stream("s", full=True)
    group = full["groups"][0]
    assert group["name"] == b"g" and group["pel-count"] == 1 and group["lag"] == 1
    consumer = group["consumers"][0]
    assert consumer["name"] == b"c" and consumer["pel-count"] == 1
    assert abs(consumer["seen-time"] - time.time() * 1000) < 10_000
    assert [c["name"] for c in r.xinfo_consumers("s", "g")] == [b"c"]
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.xinfo_stream("missing")
    assert r.object("encoding", "s") == b"stream"


def test_xread_resp3_replies_are_maps(r3):
    r3.xadd("s", {"a": 1}, id="1-0")
    r3.xadd("t", {"b": 2}, id="1-0")
    reply = r3.xread({"s": 0, "t": 0})
    assert reply == {b"s": [[(b"1-0", {b"a": b"1"})]], b"t": [[(b"1-0", {b"b": b"2"})]]}


# --- blocking -----------------------------------------------------------------------------------------
def test_xread_block_served_by_xadd_from_another_connection(server, r):
    r.xadd("s", {"old": 1}, id="1-0")
    reader = server.client()
    t, out = _in_thread(lambda: reader.xread({"s": "$"}, block=10_000))
    _wait_blocked(r)
    r.xadd("s", {"new": 2}, id="2-0")
    t.join(10)
    assert out == [[[b"s", [(b"2-0", {b"new": b"2"})]]]]


def test_xread_block_times_out_with_nil(r):
    start = time.monotonic()
    assert r.xread({"s": "$"}, block=100) == []  # redis-py's reading of the nil reply
    assert time.monotonic() - start >= 0.09


def test_xread_block_inside_multi_does_not_block(r):
    pipe = r.pipeline(transaction=True)
    pipe.xread({"s": "$"}, block=0)
    assert pipe.execute() == [[]]


def test_xreadgroup_block_served_and_pending(server, r):
    r.xgroup_create("s", "g", id="$", mkstream=True)
    reader = server.client()
    t, out = _in_thread(lambda: reader.xreadgroup("g", "c", {"s": ">"}, block=10_000))
    _wait_blocked(r)
    r.xadd("s", {"a": 1}, id="1-0")
    t.join(10)
    assert out == [[[b"s", [(b"1-0", {b"a": b"1"})]]]]
    assert r.xpending("s", "g")["consumers"] == [{"name": b"c", "pending": 1}]


def test_xreadgroup_block_gets_nogroup_when_group_destroyed(server, r):
    r.xgroup_create("s", "g", id="$", mkstream=True)
    reader = server.client()
    t, out = _in_thread(lambda: reader.xreadgroup("g", "c", {"s": ">"}, block=10_000))
    _wait_blocked(r)
    r.xgroup_destroy("s", "g")
    t.join(10)
    assert isinstance(out[0], redis.ResponseError)
    assert "consumer group this client was blocked on no longer exists" in str(out[0])


# --- events and propagation -------------------------------------------------------------------------
def test_stream_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = server.client().pubsub()
        p.psubscribe("__keyevent@0__:*")
        assert p.get_message(timeout=5)["type"] == "psubscribe"
        r.xadd("s", {"a": 1}, id="1-0")
        r.xadd("s", {"a": 2}, id="2-0", maxlen=1, approximate=False)
        r.xdel("s", "2-0")
        r.xgroup_create("s", "g", id="0")
        r.xgroup_setid("s", "g", id="0")
        r.xgroup_createconsumer("s", "g", "c")
        r.xgroup_delconsumer("s", "g", "c")
        r.xgroup_destroy("s", "g")
        r.execute_command("XSETID", "s", "9-9")
        events = []
        end = time.monotonic() + 5
        while len(events) < 10 and time.monotonic() < end:
            m = p.get_message(timeout=1)
            if m and m["type"] == "pmessage":
                events.append(m["channel"].split(b":", 1)[1])
        assert events == [
            b"xadd", b"xadd", b"xtrim", b"xdel", b"xgroup-create", b"xgroup-setid",
            b"xgroup-createconsumer", b"xgroup-delconsumer", b"xgroup-destroy", b"xsetid",
        ]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_stream_writes_are_logged_replayably(tmp_path: Path):
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        auto = r.xadd("s", {"a": 1})
        r.xgroup_create("s", "g", id="0")
        r.xreadgroup("g", "alice", {"s": ">"})
        reader = sp.client()
        t, out = _in_thread(lambda: reader.xreadgroup("g", "bob", {"s": ">"}, block=10_000))
        _wait_blocked(r)
        third = r.xadd("s", {"c": 3}, maxlen=1, approximate=True)
        t.join(10)
        assert out[0][0][1][0][0] == third
        # A limited `~` trim is logged as the exact trim it did; replaying must not hit the
        # "LIMIT cannot be used without the special ~ option" error.
        r.execute_command("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "100", "*", "d", "4")
        r.execute_command("XTRIM", "s", "MINID", "~", "0", "LIMIT", "100")
        # Redis 7.0 logs a group read as XCLAIM ... LASTID, which does not carry entries-read: a
        # replayed group has it unknown (None), exactly like a Redis 7.0 replica.
        before = (r.xrange("s"), r.xpending("s", "g"), r.xinfo_groups("s")[0]["last-delivered-id"])
    log = b"".join(p.read_bytes() for p in tmp_path.rglob("*.aof*") if p.is_file())
    assert auto in log and b"XREADGROUP" not in log.upper() and log.count(b"XCLAIM") == 2
    assert b"LIMIT" not in log
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert (r.xrange("s"), r.xpending("s", "g"), r.xinfo_groups("s")[0]["last-delivered-id"]) == before


def test_stream_survives_snapshot_and_restore(tmp_path: Path):
    """SAVE + restart and DUMP/RESTORE keep entries, tombstone counters, groups, PELs and the node
    layout (so XINFO's radix counts and later `~` trims are unchanged)."""
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        for i in range(1, 260):
            r.xadd("s", {"f": "v" * (i % 50)}, id=f"{i}-0")
        r.xdel("s", "3-0", "150-0")
        r.xtrim("s", maxlen=200, approximate=False)
        r.xgroup_create("s", "g", id="0")
        r.xreadgroup("g", "alice", {"s": ">"}, count=5)
        r.xgroup_createconsumer("s", "g", "bob")
        before = r.xinfo_stream("s", full=True)
        dumped = r.dump("s")
        r.restore("copy", 0, dumped)
        assert r.xinfo_stream("copy", full=True) == before
        r.save()
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.xinfo_stream("s", full=True) == before
        assert r.xtrim("s", maxlen=50, approximate=True) == r.xtrim("copy", maxlen=50, approximate=True)
