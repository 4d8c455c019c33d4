"""rdb_changes_since_last_save beyond single commands, against redis-server 7.0: blocked clients served by
a later write, expired keys, random pipelined write sequences (with MULTI blocks and scripts), FLUSHALL
under save rules; and the writes Redis counts less than it logs still reach the AOF. The probe table of
single commands and the servers (C loop and pure Python) are in test_dirty_counts.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Raw, ServerProcess, redis_oracle, resp, respdb_server
from tests.test_dirty_counts import Cmd, commands_of, dirty_delta, info_int, respdb_kind


@pytest.fixture(scope="module", params=["native", "python"])
def ours(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with respdb_kind(request.param) as sp:
        yield sp

# --- blocked clients served by a later write ------------------------------------------------------------
# (blocking command, the write that serves it): Redis 7.0 counts nothing for a served BLPOP/BRPOP/BLMOVE
# (it logs the pop with alsoPropagate), the popped elements of a served BLMPOP/BZMPOP, one for a BZPOP*,
# and for a served XREADGROUP only the consumer it creates.
BLOCKED: list[tuple[str, str]] = [
    ("BLPOP l 0", "RPUSH l a b c"), ("BLPOP l 0", "RPUSH l a"), ("BRPOP x l 0", "LPUSH l a b"),
    ("BLMOVE l d LEFT RIGHT 0", "RPUSH l a b"), ("BRPOPLPUSH l d 0", "RPUSH l a"), ("BLMOVE l l RIGHT LEFT 0", "RPUSH l a"),
    ("BLMPOP 0 1 l LEFT COUNT 2", "RPUSH l a b c"), ("BLMPOP 0 1 l RIGHT COUNT 5", "RPUSH l a b"),
    ("BZPOPMIN z 0", "ZADD z 1 a 2 b"), ("BZPOPMAX z 0", "ZADD z 1 a"), ("BZMPOP 0 1 z MIN COUNT 2", "ZADD z 1 a 2 b 3 c"),
    ("XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "XADD s 5-1 f v"),
    ("XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS s >", "XADD s 5-1 f v"), ("XREAD BLOCK 0 STREAMS s $", "XADD s 5-1 f v"),
]


def _served_delta(server: ServerProcess, blocking: str, write: str, existing_consumer: bool) -> tuple[int, int, bytes]:
    """(dirty added by blocking, dirty added by the write and the serving, the served reply)."""
    control, waiter = Raw(server.port), Raw(server.port)
    try:
        control.request(resp("FLUSHALL"))
        control.request(resp("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"))
        if existing_consumer:
            control.request(resp("XGROUP", "CREATECONSUMER", "s", "g", "c"))
        before = info_int(control, "persistence", "rdb_changes_since_last_save")
        waiter.send(resp(*commands_of(blocking)[0]))
        deadline = time.monotonic() + 10
        while info_int(control, "clients", "blocked_clients") != 1:
            assert time.monotonic() < deadline, "the client never blocked"
            time.sleep(0.005)
        blocked = info_int(control, "persistence", "rdb_changes_since_last_save")
        control.request(resp(*commands_of(write)[0]))
        reply = waiter.read_until_count(1)
        after = info_int(control, "persistence", "rdb_changes_since_last_save")
        return blocked - before, after - blocked, reply
    finally:
        control.close()
        waiter.close()


@pytest.mark.parametrize("existing_consumer", [False, True], ids=["new-consumer", "known-consumer"])
@pytest.mark.parametrize(("blocking", "write"), BLOCKED, ids=[b for b, _ in BLOCKED])
def test_dirty_delta_of_served_blocked_client_matches_redis(ours: ServerProcess, oracle: ServerProcess, blocking: str,
                                                            write: str, existing_consumer: bool) -> None:
    got = _served_delta(ours, blocking, write, existing_consumer)
    want = _served_delta(oracle, blocking, write, existing_consumer)
    assert got[:2] == want[:2], f"{blocking!r} served by {write!r}: respdb {got}, redis {want}"


# --- expiry ----------------------------------------------------------------------------------------------
def _server_ms(conn: Raw) -> int:
    secs, micros = re.findall(rb"\$\d+\r\n(\d+)", conn.request(resp("TIME")))
    return int(secs) * 1000 + int(micros) // 1000


def _expiry_deltas(server: ServerProcess) -> tuple[int, int, list[bytes]]:
    """(dirty added by writes with a TTL, dirty added by commands meeting the keys expired)."""
    conn = Raw(server.port)
    try:
        conn.request(resp("FLUSHALL"))
        before = info_int(conn, "persistence", "rdb_changes_since_last_save")
        start = _server_ms(conn)
        for cmd in [("SET", "k", "v", "PX", "20"), ("SET", "k2", "v", "PX", "20"), ("RPUSH", "l", "a", "b"), ("PEXPIRE", "l", "20")]:
            conn.request(resp(*cmd))
        armed = info_int(conn, "persistence", "rdb_changes_since_last_save")
        deadline = time.monotonic() + 10
        while _server_ms(conn) < start + 40:  # by the server's clock: expired, lazily or actively
            assert time.monotonic() < deadline
            time.sleep(0.005)
        replies = [conn.request(resp(*cmd)) for cmd in [("GET", "k"), ("LPUSH", "l", "c"), ("DEL", "k2"), ("DBSIZE",)]]
        after = info_int(conn, "persistence", "rdb_changes_since_last_save")
        return armed - before, after - armed, replies
    finally:
        conn.close()


def test_dirty_expired_keys_add_nothing_as_in_redis(ours: ServerProcess, oracle: ServerProcess) -> None:
    got, want = _expiry_deltas(ours), _expiry_deltas(oracle)
    assert got == want == (5, 1, [b"$-1\r\n", b":1\r\n", b":0\r\n", b":1\r\n"])


# --- writes Redis skips ------------------------------------------------------------------------------------
def _watch_transcript(server: ServerProcess, touch: list[Cmd]) -> list[bytes]:
    watcher, other = Raw(server.port), Raw(server.port)
    try:
        steps = [(watcher, ("FLUSHALL",)), (watcher, ("SETBIT", "k", "7", "1")), (watcher, ("SET", "x", "abc")),
                 (watcher, ("WATCH", "k", "x")), *[(other, cmd) for cmd in touch],
                 (watcher, ("MULTI",)), (watcher, ("GET", "k")), (watcher, ("EXEC",))]
        return [conn.request(resp(*cmd)) for conn, cmd in steps]
    finally:
        watcher.close()
        other.close()


@pytest.mark.parametrize("touch", [
    [("SETBIT", "k", "7", "1"), ("BITFIELD", "x", "SET", "u8", "0", "97", "INCRBY", "u8", "8", "256")],  # no-ops: EXEC runs
    [("SETBIT", "k", "7", "0")], [("BITFIELD", "x", "SET", "u8", "0", "98")], [("SETRANGE", "x", "0", "a")],  # writes: aborts
], ids=["no-ops", "setbit", "bitfield", "setrange-same-bytes"])
def test_dirty_no_op_bit_writes_leave_watch_alone_as_in_redis(ours: ServerProcess, oracle: ServerProcess, touch: list[Cmd]) -> None:
    """A SETBIT/BITFIELD that changes no bit is no write in Redis 7.0: no count, no event, WATCH intact."""
    got = _watch_transcript(ours, touch)
    assert got == _watch_transcript(oracle, touch)
    assert got[-1] == (b"*1\r\n$1\r\n\x01\r\n" if len(touch) == 2 else b"*-1\r\n")


# --- random write sequences ---------------------------------------------------------------------------
_KEYS = ["a", "b", "c"]
_MEMBERS = ["x", "y", "z", "1", "2"]


def _write_commands_strategy() -> st.SearchStrategy[Cmd]:
    key, member = st.sampled_from(_KEYS), st.sampled_from(_MEMBERS)
    members = st.lists(member, min_size=1, max_size=4)
    num = st.sampled_from(["0", "1", "2", "-1", "5"])
    pairs = st.lists(st.tuples(member, num), min_size=1, max_size=3).map(lambda ps: [x for p in ps for x in p])
    return st.one_of(
        st.tuples(st.sampled_from(["SET", "APPEND", "SETNX", "GETSET"]), key, member),
        # (No SPOP: it picks at random, so the two servers' sets would part ways.)
        st.tuples(st.sampled_from(["INCR", "DECR", "GETDEL", "PERSIST", "LPOP", "RPOP"]), key),
        st.tuples(st.sampled_from(["LPOP", "RPOP", "ZPOPMIN", "ZPOPMAX"]), key, num),
        st.tuples(st.sampled_from(["INCRBY", "SETBIT"]), key, num.map(lambda n: n.lstrip("-"))).map(
            lambda c: (*c, "1") if c[0] == "SETBIT" else c),
        st.tuples(st.just("EXPIRE"), key, st.sampled_from(["0", "1000"])),  # no TTL that could run out mid-test
        st.builds(lambda c, k, ms: (c, k, *ms), st.sampled_from(["LPUSH", "RPUSH", "RPUSHX", "SADD", "SREM", "HDEL", "ZREM",
                                                                  "PFADD", "DEL", "UNLINK"]), key, members),
        st.builds(lambda c, k, ps: (c, k, *ps), st.sampled_from(["HSET", "HMSET", "MSET"]), key, pairs),
        st.builds(lambda k, ps: ("ZADD", k, *[x for i in range(0, len(ps), 2) for x in (ps[i + 1], ps[i])]), key, pairs),
        st.tuples(st.just("LREM"), key, num, member), st.tuples(st.just("LTRIM"), key, num, num),
        st.tuples(st.sampled_from(["RENAME", "COPY", "SMOVE", "LMOVE", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key, key).map(
            lambda c: (*c, "x") if c[0] == "SMOVE" else (*c, "LEFT", "RIGHT") if c[0] == "LMOVE" else c),
        st.tuples(st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE"]), key, st.just("2"), key, key),
        st.tuples(st.just("BITFIELD"), key, st.just("SET"), st.just("u4"), st.sampled_from(["0", "4"]), num.map(lambda n: n.lstrip("-"))),
        st.tuples(st.just("SETRANGE"), key, st.sampled_from(["0", "3"]), st.sampled_from(["", "ab"])),
        st.tuples(st.just("SORT"), key, st.just("ALPHA"), st.just("STORE"), key),
        # Streams: explicit IDs (so both servers make the same ones), a group on the first XADD.
        st.tuples(st.just("XADD"), key, st.sampled_from(["1-1", "2-1", "3-1", "9-1"]), st.just("f"), member),
        st.tuples(st.just("XGROUP"), st.just("CREATE"), key, st.just("g"), st.just("0"), st.just("MKSTREAM")),
        st.tuples(st.just("XREADGROUP"), st.just("GROUP"), st.just("g"), st.sampled_from(["c", "d"]), st.just("STREAMS"), key,
                  st.sampled_from([">", "0"])),
        st.builds(lambda k, ids: ("XACK", k, "g", *ids), key, st.lists(st.sampled_from(["1-1", "2-1", "3-1"]), min_size=1, max_size=3)),
        st.builds(lambda k, ids: ("XDEL", k, *ids), key, st.lists(st.sampled_from(["1-1", "2-1", "3-1"]), min_size=1, max_size=3)),
        st.tuples(st.just("XCLAIM"), key, st.just("g"), st.sampled_from(["c", "d"]), st.just("0"), st.sampled_from(["1-1", "2-1"])),
        st.tuples(st.just("XAUTOCLAIM"), key, st.just("g"), st.sampled_from(["c", "d"]), st.just("0"), st.just("0")),
        st.tuples(st.just("XTRIM"), key, st.just("MAXLEN"), st.sampled_from(["0", "1"])),
        # Transactions and scripts count what their commands count.
        st.lists(st.deferred(lambda: _simple), min_size=1, max_size=3).map(lambda cs: ("MULTI", *cs, "EXEC")),
        st.tuples(st.just("EVAL"), st.just("redis.call('sadd', KEYS[1], 'p', 'q') return redis.call('rpush', KEYS[2], 'r', 's')"),
                  st.just("2"), key, key),
    )


# Commands for MULTI blocks: each is flattened into the pipeline between MULTI and EXEC.
_simple = st.sampled_from([("HSET", "a", "x", "1", "y", "2"), ("RPUSH", "b", "x", "y"), ("LPOP", "b", "2"), ("DEL", "a", "b", "c"),
                           ("SADD", "c", "x", "y", "z"), ("INCR", "a")])


def _final_dirty(server: ServerProcess, cmds: list[Cmd]) -> int:
    conn = Raw(server.port)
    try:
        conn.request(resp("FLUSHALL"))
        before = info_int(conn, "persistence", "rdb_changes_since_last_save")
        # Pipelined, as a client would: the C loop keeps the counter of native commands during a run.
        flat: list[Cmd] = []
        for cmd in cmds:
            if cmd[0] == "MULTI":
                flat += [("MULTI",), *cmd[1:-1], ("EXEC",)]  # type: ignore[list-item]
            else:
                flat.append(cmd)
        conn.request(b"".join(resp(*cmd) for cmd in flat), len(flat))
        return info_int(conn, "persistence", "rdb_changes_since_last_save") - before
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_write_commands_strategy(), min_size=1, max_size=25))
def test_dirty_counter_after_random_writes_matches_redis(ours: ServerProcess, oracle: ServerProcess, cmds: list[Cmd]) -> None:
    got = _final_dirty(ours, cmds)
    want = _final_dirty(oracle, cmds)
    assert got == want


# --- save rules: FLUSHALL saves at once ---------------------------------------------------------------------
def test_dirty_flushall_with_save_rules_matches_redis() -> None:
    """With save rules FLUSHALL saves the emptied dataset, which zeroes the counter in Redis 7.0."""
    cases = [("SET a 1; SET b 2", "FLUSHALL"), ("", "FLUSHALL"), ("SET a 1", "FLUSHDB"), ("SET a 1", "FLUSHALL ASYNC")]
    with respdb_server("--save", "3600 1") as mine, redis_oracle("--save", "3600 1") as theirs:
        for setup, probe in cases:
            assert dirty_delta(mine, setup, probe)[0] == dirty_delta(theirs, setup, probe)[0], (setup, probe)


# --- what the counter decides reaches the AOF ------------------------------------------------------------
def _snapshot(conn: Raw) -> list[bytes]:
    """The state the writes below leave, read back through commands."""
    # (XINFO GROUPS is left out: entries-read is not logged, so it is unknown after a restart, as in Redis.)
    reads = [("LRANGE", "l", "0", "-1"), ("LRANGE", "d", "0", "-1"), ("GET", "b"), ("XPENDING", "s", "g"),
             ("XRANGE", "s", "-", "+"), ("FUNCTION", "LIST"), ("SMEMBERS", "set"), ("DBSIZE",)]
    return [conn.request(resp(*cmd)) for cmd in reads]


def test_dirty_uncounted_writes_still_reach_the_aof(tmp_path: Path) -> None:
    """Served BLPOP/BLMOVE and XREADGROUP count as Redis counts them (nothing, or less than they
    log); their writes must be logged all the same, and counted-but-unlogged history reads must log
    nothing, so a restart from the AOF gives back the same data."""
    args = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    with respdb_server(*args, workdir=tmp_path) as sp:
        control, waiter = Raw(sp.port), Raw(sp.port)
        lib = "#!lua name=lib\nredis.register_function('f', function() return 1 end)"
        for cmd in [("FLUSHDB",), ("FUNCTION", "LOAD", lib), ("MULTI",), ("FLUSHDB",), ("SET", "b", "x"), ("EXEC",),
                    ("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"), ("SETBIT", "b", "1", "1"),
                    ("SADD", "set", "a", "b", "c"), ("SPOP", "set", "2")]:
            control.request(resp(*cmd))
        for blocking, write in [(("BLPOP", "l", "0"), ("RPUSH", "l", "a", "b")),
                                (("BLMOVE", "l2", "d", "LEFT", "RIGHT", "0"), ("RPUSH", "l2", "c")),
                                (("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"), ("XADD", "s", "1-1", "f", "v")),
                                (("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"), ("XADD", "s", "2-1", "f", "v"))]:
            waiter.send(resp(*blocking))
            deadline = time.monotonic() + 10
            while info_int(control, "clients", "blocked_clients") != 1:
                assert time.monotonic() < deadline, "the client never blocked"
                time.sleep(0.005)
            control.request(resp(*write))
            waiter.read_until_count(1)
        control.request(resp("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"))
        before = _snapshot(control)
        control.close()
        waiter.close()
    with respdb_server(*args, workdir=tmp_path) as sp:
        conn = Raw(sp.port)
        try:
            after = _snapshot(conn)
        finally:
            conn.close()
    assert after == before
    # The served pops and reads really happened (so the comparison above covers them).
    assert before[:4] == [b"*1\r\n$1\r\nb\r\n", b"*1\r\n$1\r\nc\r\n", b"$1\r\nx\r\n",
                          b"*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n2\r\n"]


def test_dirty_zeroed_flushall_still_reaches_the_aof(tmp_path: Path) -> None:
    """A FLUSHALL whose save leaves the counter where it was (zero) is logged all the same."""
    args = ("--save", "3600 1", "--appendonly", "yes", "--appendfsync", "always")
    with respdb_server(*args, workdir=tmp_path) as sp:
        conn = Raw(sp.port)
        for cmd in [("SET", "a", "1"), ("SAVE",), ("FLUSHALL",), ("SET", "b", "2"), ("SAVE",), ("FLUSHALL",), ("SET", "c", "3")]:
            conn.request(resp(*cmd))
        assert info_int(conn, "persistence", "rdb_changes_since_last_save") == 1
        conn.close()
    with respdb_server(*args, workdir=tmp_path) as sp:
        conn = Raw(sp.port)
        try:
            assert conn.request(resp("KEYS", "*")) == b"*1\r\n$1\r\nc\r\n"
        finally:
            conn.close()
