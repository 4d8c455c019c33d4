"""List commands over TCP with redis-py and raw sockets: replies, RESP2/RESP3 nulls, big lists,
keyspace events and write propagation (AOF) compared with redis-server 7.0."""

from __future__ import annotations

import time
from pathlib import Path

import hiredis
import pytest
import redis

from tests.servers import Raw, resp, respdb_server


def test_lpush_rpush_order(r):
    assert r.lpush("l", "a", "b", "c") == 3
    assert r.rpush("l", "x", "y") == 5
    assert r.lrange("l", 0, -1) == [b"c", b"b", b"a", b"x", b"y"]
    assert r.type("l") == b"list"
    assert r.object("encoding", "l") == b"quicklist"


def test_lpushx_rpushx_only_existing(r):
    assert r.lpushx("l", "a") == 0
    assert r.rpushx("l", "a") == 0
    assert r.exists("l") == 0
    r.rpush("l", "m")
    assert r.lpushx("l", "a", "b") == 3
    assert r.rpushx("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"z"]


def test_lpop_rpop_count_and_empty_key_deleted(r):
    r.rpush("l", *"abcde")
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"e"
    assert r.lpop("l", 2) == [b"b", b"c"]
    assert r.rpop("l", 10) == [b"d"]
    assert r.exists("l") == 0
    assert r.lpop("l") is None


@pytest.mark.parametrize(
    ("request_", "resp2", "resp3"),
    [
        (("LPOP", "none", "1"), b"*-1\r\n", b"_\r\n"),
        (("LPOP", "none"), b"$-1\r\n", b"_\r\n"),
        (("RPOP", "none", "0"), b"*-1\r\n", b"_\r\n"),
        (("LMPOP", "1", "none", "LEFT"), b"*-1\r\n", b"_\r\n"),
        (("BLPOP", "none", "0.01"), b"*-1\r\n", b"_\r\n"),
        (("BLMOVE", "none", "d", "LEFT", "LEFT", "0.01"), b"*-1\r\n", b"_\r\n"),
        (("LINDEX", "none", "0"), b"$-1\r\n", b"_\r\n"),
        (("LPOS", "none", "a"), b"$-1\r\n", b"_\r\n"),
        (("LPOS", "none", "a", "COUNT", "0"), b"*0\r\n", b"*0\r\n"),
    ],
)
def test_lpop_null_replies_differ_by_protocol(server, request_, resp2, resp3):
    raw = Raw(server.port)
    try:
        assert raw.request(resp("FLUSHALL")) == b"+OK\r\n"
        assert raw.request(resp(*request_)) == resp2
        raw.request(resp("HELLO", "3"))
        assert raw.request(resp(*request_)) == resp3
    finally:
        raw.close()


def test_lpop_count_zero_on_existing_list_is_empty_array(r):
    r.rpush("l", "a")
    assert r.lpop("l", 0) == []
    assert r.llen("l") == 1


def test_lrange_both_walk_directions(r):
    r.rpush("l", *range(1000))
    assert r.lrange("l", 0, 2) == [b"0", b"1", b"2"]
    assert r.lrange("l", 995, 2000) == [b"995", b"996", b"997", b"998", b"999"]
    assert r.lrange("l", -3, -1) == [b"997", b"998", b"999"]
    assert r.lrange("l", 600, 604) == [b"600", b"601", b"602", b"603", b"604"]
    assert r.lrange("l", -2000, 1) == [b"0", b"1"]
    assert r.lrange("l", 5, 4) == []


def test_lrange_mixed_and_uniform_lengths_resp3(r3):
    r3.rpush("u", "aa", "bb", "cc")
    r3.rpush("m", "a", "", "ccc", "é")
    assert r3.lrange("u", 0, -1) == [b"aa", b"bb", b"cc"]
    assert r3.lrange("m", 0, -1) == [b"a", b"", b"ccc", "é".encode()]
    assert r3.lrange("none", 0, -1) == []


def test_lrange_600_raw_reply(server):
    raw = Raw(server.port)
    try:
        raw.request(resp("FLUSHALL"))
        raw.request(resp("RPUSH", "l", *["xxx"] * 600))
        reply = raw.request(resp("LRANGE", "l", "0", "599"))
        assert reply == b"*600\r\n" + b"$3\r\nxxx\r\n" * 600
    finally:
        raw.close()


def test_lpush_on_million_element_list(r):
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.rpush("big", *range(i * 10000, (i + 1) * 10000))
    pipe.execute()
    assert r.llen("big") == 1_000_000
    assert r.lpush("big", "head") == 1_000_001
    assert r.rpush("big", "tail") == 1_000_002
    assert r.lindex("big", 0) == b"head"
    assert r.lindex("big", -1) == b"tail"
    assert r.lindex("big", 500_001) == b"500000"
    assert r.lrange("big", -3, -1) == [b"999998", b"999999", b"tail"]
    assert r.lpop("big") == b"head"
    r.delete("big")


def test_lindex_lset_linsert(r):
    r.rpush("l", "a", "b", "c")
    assert r.lindex("l", 1) == b"b"
    assert r.lindex("l", -1) == b"c"
    assert r.lindex("l", 3) is None
    assert r.lset("l", -1, "C") is True
    with pytest.raises(redis.ResponseError, match=r"^index out of range$"):
        r.lset("l", 5, "x")
    with pytest.raises(redis.ResponseError, match=r"^no such key$"):
        r.lset("none", 0, "x")
    assert r.linsert("l", "BEFORE", "b", "x") == 4
    assert r.linsert("l", "AFTER", "C", "y") == 5
    assert r.linsert("l", "AFTER", "nope", "y") == -1
    assert r.linsert("none", "AFTER", "a", "y") == 0
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"b", b"C", b"y"]


def test_lrem_directions(r):
    r.rpush("l", "a", "b", "a", "c", "a")
    assert r.lrem("l", -1, "a") == 1
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"a", b"c"]
    assert r.lrem("l", 1, "a") == 1
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"c"]
    assert r.lrem("l", 0, "a") == 1
    assert r.lrem("l", 0, "b") == 1
    assert r.lrem("l", 0, "c") == 1
    assert r.exists("l") == 0


def test_ltrim(r):
    r.rpush("l", *range(10))
    assert r.ltrim("l", 2, -3) is True
    assert r.lrange("l", 0, -1) == [b"2", b"3", b"4", b"5", b"6", b"7"]
    assert r.ltrim("l", 100, 200) is True
    assert r.exists("l") == 0


def test_lpos_options(r):
    r.rpush("l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "c", rank=2) == 6
    assert r.lpos("l", "c", rank=-1) == 7
    assert r.lpos("l", "c", count=0) == [2, 6, 7]
    assert r.lpos("l", "c", count=2, rank=-1) == [7, 6]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "x", count=3) == []
    with pytest.raises(redis.ResponseError, match=r"^RANK can't be zero"):
        r.lpos("l", "c", rank=0)


def test_lmove_rotation_and_wrongtype(r):
    r.rpush("l", "a", "b", "c")
    assert r.lmove("l", "l", "LEFT", "RIGHT") == b"a"
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a"]
    assert r.rpoplpush("l", "d") == b"a"
    assert r.lrange("d", 0, -1) == [b"a"]
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
        r.lmove("l", "s", "LEFT", "LEFT")
    assert r.llen("l") == 2  # nothing popped when the destination is of the wrong type
    assert r.lmove("none", "d", "LEFT", "LEFT") is None


def test_lmpop(r):
    r.rpush("b", "1", "2", "3")
    assert r.lmpop(2, "a", "b", direction="RIGHT", count=2) == [b"b", [b"3", b"2"]]
    assert r.lmpop(1, "b", direction="LEFT") == [b"b", [b"1"]]
    assert r.lmpop(1, "b", direction="LEFT") is None
    assert r.exists("b") == 0


def test_list_commands_wrongtype(r):
    r.set("s", "v")
    for call in (lambda: r.lpush("s", "a"), lambda: r.lrange("s", 0, -1), lambda: r.llen("s"), lambda: r.lpop("s"), lambda: r.lpos("s", "a"), lambda: r.ltrim("s", 0, 1)):
        with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE"):
            call()


def _events(client: redis.Redis, commands: list[tuple], settle_key: str = "settle") -> list[tuple[bytes, bytes]]:
    """Run commands and collect (event, key) keyevent notifications, ending at a marker SET."""
    client.config_set("notify-keyspace-events", "KEAn")
    p = client.pubsub()
    p.psubscribe("__keyevent@0__:*")
    p.get_message(timeout=5)
    for cmd in commands:
        try:
            client.execute_command(*cmd)
        except redis.ResponseError:
            pass
    client.set(settle_key, "1")
    out = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msg = p.get_message(timeout=1)
        if msg is None or msg["type"] != "pmessage":
            continue
        event = msg["channel"].split(b":", 1)[1]
        out.append((event, msg["data"]))
        if msg["data"] == settle_key.encode() and event == b"set":
            break
    p.close()
    client.config_set("notify-keyspace-events", "")
    return out


LIST_EVENT_COMMANDS = [
    ("RPUSH", "l", "a", "b", "c", "d"),
    ("LPUSH", "l", "z"),
    ("LPUSHX", "none", "z"),
    ("LSET", "l", "0", "y"),
    ("LINSERT", "l", "BEFORE", "a", "q"),
    ("LREM", "l", "1", "q"),
    ("LREM", "l", "1", "nothing"),
    ("LTRIM", "l", "0", "-1"),
    ("LTRIM", "l", "1", "-1"),
    ("LMOVE", "l", "m", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "m", "m"),
    ("LMPOP", "1", "l", "LEFT", "COUNT", "10"),
    ("BLPOP", "m", "0"),
    ("SETBIT", "b", "3", "1"),
    ("BITFIELD", "b", "SET", "u8", "0", "1"),
    ("BITOP", "NOT", "c", "b"),
    ("BITOP", "AND", "c", "none"),
]


def test_list_keyspace_events_match_redis(r, oracle):
    theirs = oracle.client(protocol=2)
    theirs.flushall()
    try:
        assert _events(r, LIST_EVENT_COMMANDS) == _events(theirs, LIST_EVENT_COMMANDS)
    finally:
        theirs.close()


def _aof_commands(path: Path) -> list[list[bytes]]:
    """The commands of an append-only file (after its snapshot preamble), names upper-cased."""
    data = path.read_bytes()
    reader = hiredis.Reader()
    reader.feed(data[data.index(b"*2\r\n$6\r\nSELECT"):])
    out = []
    while (cmd := reader.gets()) is not False:
        out.append([cmd[0].upper(), *cmd[1:]])
    return out


def test_list_writes_propagate_as_redis_does(tmp_path):
    with respdb_server("--appendonly", "yes", "--appendfsync", "always", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        r.rpush("l", "a", "b", "c", "d", "e")
        r.blpop("l", 0)
        r.lmpop(1, "l", direction="RIGHT", count=10)
        r.rpush("l", "a", "b", "c")
        r.blmpop(0, 1, "l", direction="LEFT", count=2)
        r.ltrim("l", 0, -1)  # trims nothing: not logged
        r.brpoplpush("l", "l", 0)
        r.execute_command("BLMOVE", "l", "m", "left", "RIGHT", "0")
        expected_tail = list(r.lrange("m", 0, -1))
    logged = [c for c in _aof_commands(tmp_path / "appendonly.aof") if c[0] not in (b"SELECT", b"MULTI", b"EXEC")]
    assert logged == [
        [b"RPUSH", b"l", b"a", b"b", b"c", b"d", b"e"],
        [b"LPOP", b"l"],
        [b"RPOP", b"l", b"4"],
        [b"RPUSH", b"l", b"a", b"b", b"c"],
        [b"LPOP", b"l", b"2"],
        [b"RPOPLPUSH", b"l", b"l"],
        [b"LMOVE", b"l", b"m", b"left", b"RIGHT"],
    ]
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.exists("l") == 0
        assert r.lrange("m", 0, -1) == expected_tail


def test_lists_and_bitmaps_survive_save_and_restart(tmp_path):
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        r.rpush("l", *[f"e{i}" for i in range(1000)], "", "é")
        r.lpush("l", "head")
        r.setbit("bits", 1000, 1)
        r.execute_command("BITFIELD", "bf", "SET", "i64", "0", "-5")
        expected = r.lrange("l", 0, -1)
        sp.client(db=3).rpush("other-db", "x")
        assert r.save() is True
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.lrange("l", 0, -1) == expected
        assert r.object("encoding", "l") == b"quicklist"
        assert r.getbit("bits", 1000) == 1 and r.strlen("bits") == 126
        assert r.execute_command("BITFIELD_RO", "bf", "GET", "i64", "0") == [-5]
        assert sp.client(db=3).lrange("other-db", 0, -1) == [b"x"]
