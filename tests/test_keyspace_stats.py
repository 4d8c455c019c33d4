"""INFO keyspace_hits / keyspace_misses counted like redis-server 7.0: differential, command by command.

Each probe runs on both servers after the same fresh data set; the hit and miss deltas around it (read
from INFO stats, which counts nothing itself) must be equal. The probes cover every key-taking command
family, existing / missing / wrong-type keys, the STORE variants, SORT BY/GET patterns, EVAL and MULTI.
At the end, differential checks of the side effects the fast INCR / SET / MSET write paths must keep
(TTLs, WATCH, encodings, keyspace events).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp

SETUP = [
    "SET s hello", "SET n 10", "SETBIT b 7 1", "HSET h f1 v1 f2 v2", "RPUSH l a b c", "SADD st a b c",
    "SADD st2 b c d", "ZADD z 1 a 2 b 3 c", "ZADD z2 2 b 4 d", "XADD x 1-0 f v", "XADD x 2-0 f v",
    "XGROUP CREATE x g 0", "XREADGROUP GROUP g c1 COUNT 1 STREAMS x >", "PFADD hll a b c", "PFADD hll2 c d",
    "GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", "SET w_a 3", "SET w_b 1",
    "SET o_b ob", "HSET hw_a f 2", "RPUSH nl 3 1 2",
]

# One probe per entry of a line (" | "); " ; " chains commands into one probe. `nokey` never exists.
PROBES = """
GET s | GET nokey | GET h | MGET s nokey h n
SET s v2 | SET s v2 GET | SET nokey v GET | SET s v NX | SET s v XX GET | SET h v GET | SET nokey v NX GET
SETNX s v | SETEX s 10 v | PSETEX s 1000 v | GETSET s v | GETSET nokey v | GETSET h v
GETDEL s | GETDEL nokey | GETEX s EX 100 | GETEX nokey PERSIST | GETEX s | GETEX s PXAT 1
MSET s 1 n 2 | MSETNX s 1 new 2 | MSETNX new1 1 new2 2
APPEND s x | APPEND nokey x | STRLEN s | STRLEN nokey | GETRANGE s 0 2 | SUBSTR s 0 2 | SETRANGE s 1 x
INCR n | DECR n | INCRBY n 5 | DECRBY n 2 | INCRBYFLOAT n 1.5 | INCR s | INCR nokey | INCR h
LCS s n | LCS s nokey | LCS s h
GETBIT b 7 | GETBIT nokey 1 | SETBIT b 1 1 | BITCOUNT b | BITCOUNT nokey | BITPOS b 1 | BITOP NOT dest nokey
BITFIELD b GET u8 0 | BITFIELD nokey GET u8 0 | BITFIELD_RO b GET u8 0
PFADD hll x | PFCOUNT hll | PFCOUNT hll hll2 | PFCOUNT nokey | PFCOUNT hll nokey
HGET h f1 | HGET nokey f | HGET s f | HMGET h f1 f2 x | HLEN h | HSTRLEN h f1 | HEXISTS h f1
HGETALL h | HKEYS h | HVALS h | HRANDFIELD h | HRANDFIELD h 2 | HSCAN h 0 | HGETALL nokey
HSET h f3 v | HSETNX h f1 v | HMSET h a b | HDEL h f1 | HINCRBY h n 1 | HINCRBYFLOAT h n 1.5
LLEN l | LINDEX l 0 | LRANGE l 0 -1 | LPOS l b | LRANGE nokey 0 -1 | LLEN s
LPUSH l x | LPUSHX l x | LPUSHX nokey x | RPUSH l x | RPUSHX l x | LINSERT l BEFORE b x | LSET l 0 x
LPOP l | RPOP l | LPOP nokey | LREM l 0 a | LTRIM l 0 1
LMOVE l l2 LEFT RIGHT | RPOPLPUSH l l2 | LMPOP 2 nokey l LEFT | LMOVE nokey l LEFT LEFT
BLPOP l 0 | BRPOP nokey l 0 | BLMOVE l l2 LEFT LEFT 0 | BRPOPLPUSH l l2 0 | BLMPOP 0 1 l LEFT
SCARD st | SISMEMBER st a | SMISMEMBER st a z | SMEMBERS st | SRANDMEMBER st | SRANDMEMBER st 2 | SSCAN st 0
SINTER st st2 nokey | SUNION st nokey | SDIFF st st2 | SINTERCARD 2 st st2 | SMEMBERS nokey | SINTER st h
SINTERSTORE d nokey st | SDIFFSTORE d nokey st | SUNIONSTORE d st h
SADD st x | SREM st a | SPOP st | SMOVE st st2 a | SMOVE nokey st a
ZSCORE z a | ZMSCORE z a x | ZCARD z | ZRANK z a | ZREVRANK z a | ZCOUNT z 0 10 | ZLEXCOUNT z - +
ZRANGE z 0 -1 | ZRANGE z 0 -1 WITHSCORES | ZRANGEBYSCORE z 0 10 | ZREVRANGEBYSCORE z 10 0
ZRANGEBYLEX z - + | ZREVRANGEBYLEX z + - | ZREVRANGE z 0 -1 | ZRANDMEMBER z | ZSCAN z 0 | ZSCORE nokey a
ZRANGESTORE d nokey 0 -1 | ZINTERSTORE d 2 z nokey
ZUNION 2 z z2 | ZINTER 2 z nokey | ZDIFF 2 z z2 | ZINTERCARD 2 z z2 | ZUNION 2 z st
ZADD z 5 e | ZINCRBY z 1 a | ZREM z a | ZPOPMIN z | ZPOPMAX z | ZPOPMIN nokey
ZREMRANGEBYRANK z 0 0 | ZREMRANGEBYSCORE z 0 1 | ZREMRANGEBYLEX z - [a
ZMPOP 2 nokey z MIN | BZPOPMIN z 0 | BZPOPMAX z 0 | BZMPOP 0 1 z MAX
GEOPOS geo Palermo | GEODIST geo Palermo Catania | GEOHASH geo Palermo | GEOPOS nokey a
GEORADIUS geo 15 37 200 km | GEORADIUS_RO geo 15 37 200 km | GEORADIUS nokey 15 37 200 km
GEORADIUSBYMEMBER geo Palermo 200 km | GEORADIUSBYMEMBER_RO geo Palermo 200 km
GEOSEARCH geo FROMLONLAT 15 37 BYRADIUS 200 km | GEOSEARCH nokey FROMMEMBER a BYRADIUS 1 km
GEOSEARCHSTORE d nokey FROMLONLAT 15 37 BYRADIUS 200 km | GEOADD geo 1 1 m
XLEN x | XRANGE x - + | XREVRANGE x + - | XLEN nokey | XRANGE nokey - +
XREAD STREAMS x 0 | XREAD STREAMS x nokey 0 0 | XREAD COUNT 1 STREAMS x x 0 0
XREADGROUP GROUP g c2 STREAMS x > | XREADGROUP GROUP g c1 STREAMS x 0 | XREADGROUP GROUP g c1 STREAMS nokey 0
XPENDING x g | XPENDING x g - + 10 | XPENDING nokey g
XINFO STREAM x | XINFO GROUPS x | XINFO CONSUMERS x g | XINFO STREAM nokey
XADD x * f v | XTRIM x MAXLEN 10 | XDEL x 1-0 | XACK x g 1-0 | XACK nokey g 1-0
XCLAIM x g c2 0 1-0 | XAUTOCLAIM x g c2 0 0 | XSETID x 5-0
XGROUP CREATE x g2 0 | XGROUP SETID x g 0 | XGROUP CREATECONSUMER x g c3 | XGROUP DELCONSUMER x g c1
XGROUP DESTROY x g | XGROUP CREATE nokey g 0 MKSTREAM | XGROUP CREATE nokey g 0
EXISTS s nokey h | EXISTS s s | TYPE s | TYPE nokey | TTL s | PTTL nokey | EXPIRETIME s | PEXPIRETIME s
TOUCH s nokey | DUMP s | DUMP nokey | MEMORY USAGE s | MEMORY USAGE nokey
OBJECT ENCODING s | OBJECT REFCOUNT s | OBJECT IDLETIME s | OBJECT FREQ s | OBJECT ENCODING nokey
DEL s nokey | UNLINK s h | EXPIRE s 100 | PEXPIRE s 100 | EXPIREAT s 9999999999 | PEXPIREAT s 9999999999999
PERSIST s | EXPIRE nokey 10 | RENAME s s2 | RENAMENX h n | RENAME nokey x | MOVE s 1 | MOVE nokey 1
COPY nokey s3
SORT l ALPHA | SORT nokey | SORT_RO l ALPHA | SORT nokey STORE d | SORT nl | SORT l ALPHA BY w_*
SORT l ALPHA BY nosort GET o_* GET # | SORT l ALPHA BY hw_*->f GET h->f1
WATCH s nokey | RANDOMKEY | KEYS * | SCAN 0 | DBSIZE
EVAL "return redis.call('get', KEYS[1])" 1 s | EVAL_RO "return redis.call('get', KEYS[1])" 1 nokey
EVAL "return redis.call('set', KEYS[1], 'x')" 1 s | EVAL "return redis.pcall('incr', KEYS[1])" 1 s
MULTI ; GET s ; GET nokey ; SET s x ; SMEMBERS st ; EXEC
GET s ; CONFIG RESETSTAT ; GET nokey
BITOP AND dest b s | BITOP OR s s nokey | BITFIELD b INCRBY u8 0 1 | PFMERGE hll3 hll hll2 | PFMERGE nokey
SINTERSTORE d st st2 | SUNIONSTORE d st st2 | SDIFFSTORE d st st2
ZUNIONSTORE d 2 z z2 | ZINTERSTORE d 2 z z2 | ZDIFFSTORE d 2 z z2 | ZRANGESTORE d z 0 -1
GEOSEARCHSTORE d geo FROMLONLAT 15 37 BYRADIUS 200 km | GEORADIUS geo 15 37 200 km STORE d
COPY s s3 | COPY s n | COPY s n REPLACE | SORT l ALPHA STORE d
"""

def _probes() -> list[list[list[str]]]:
    out = []
    for line in PROBES.strip().splitlines():
        for probe in line.split(" | "):
            out.append([shlex.split(cmd) for cmd in probe.split(" ; ")])
    return out


ALL_PROBES = _probes()
_STATS = re.compile(rb"keyspace_hits:(\d+)\r\nkeyspace_misses:(\d+)")


def _stats(conn: Raw) -> tuple[int, int]:
    text = conn.request(resp("INFO", "stats"))
    found = _STATS.search(text)
    if found is None:
        raise AssertionError(f"no keyspace_hits/keyspace_misses lines in INFO stats: {text[:300]!r}")
    return int(found.group(1)), int(found.group(2))


def _fresh(conn: Raw) -> None:
    conn.request(resp("RESET"))  # drops WATCHes and MULTI left by an earlier probe
    conn.request(resp("FLUSHALL"))
    conn.request(b"".join(resp(*shlex.split(cmd)) for cmd in SETUP), len(SETUP))


def _delta(conn: Raw, commands: list[list[str]]) -> tuple[int, int]:
    """Hits and misses counted while `commands` ran (CONFIG RESETSTAT inside restarts the count)."""
    hits0, misses0 = _stats(conn)
    for argv in commands:
        conn.request(resp(*argv))
        if argv[:2] == ["CONFIG", "RESETSTAT"]:
            hits0 = misses0 = 0
    hits1, misses1 = _stats(conn)
    return hits1 - hits0, misses1 - misses0


@pytest.fixture(scope="module")
def conns(server: ServerProcess, oracle: ServerProcess) -> Iterator[tuple[Raw, Raw]]:
    ours, theirs = Raw(server.port), Raw(oracle.port)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.parametrize("probe", ALL_PROBES, ids=[" ; ".join(" ".join(a) for a in p)[:60] for p in ALL_PROBES])
def test_info_keyspace_hits_misses_per_command_match_redis(conns: tuple[Raw, Raw], probe: list[list[str]]) -> None:
    ours, theirs = conns
    _fresh(ours)
    _fresh(theirs)
    assert _delta(ours, probe) == _delta(theirs, probe)


def test_info_keyspace_misses_count_an_expired_key(conns: tuple[Raw, Raw]) -> None:
    for conn in conns:
        _fresh(conn)
        conn.request(resp("SET", "e", "v", "PX", "1"))
    end = time.monotonic() + 5
    # KEYS skips logically expired keys without counting (keyIsExpired), so it can tell us when to look.
    while any(conn.request(resp("KEYS", "e")) != b"*0\r\n" for conn in conns):
        if time.monotonic() > end:
            raise AssertionError("key did not expire within 5 s")
    probe = [["GET", "e"], ["TTL", "e"], ["EXISTS", "e", "s"]]
    ours, theirs = conns
    assert _delta(ours, probe) == _delta(theirs, probe) == (1, 3)


# Single probes whose effect on later commands is the same on both servers: no random choices (SPOP,
# XADD *), no blocking (a BLPOP after the list emptied would wait forever), no sub-second TTLs (the two
# servers run the sequence at different moments).
_UNSEQUENCED = {"SRANDMEMBER", "SPOP", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY", "XADD", "PSETEX", "PEXPIRE"}
_SEQUENCE_POOL = [
    p for p in ALL_PROBES
    if len(p) == 1
    and p[0][0] not in _UNSEQUENCED
    and "STORE" not in p[0]
    and not (p[0][0].startswith("B") and p[0][0][:3] != "BIT")
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_SEQUENCE_POOL), min_size=1, max_size=12))
def test_info_keyspace_hits_misses_after_command_sequences_match_redis(
    conns: tuple[Raw, Raw], sequence: list[list[list[str]]]
) -> None:
    commands = [argv for probe in sequence for argv in probe]
    ours, theirs = conns
    _fresh(ours)
    _fresh(theirs)
    assert _delta(ours, commands) == _delta(theirs, commands), commands


@pytest.fixture
def differ(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    d = Differ(server, oracle)
    yield d
    d.close()


def test_mset_drops_ttls_and_keeps_encodings_like_redis(differ: Differ) -> None:
    # A db with TTLs takes MSET's per-key path; one without, the batched one: both must agree with Redis.
    for setup in ([], [("SET", "a", "old", "EX", "100")]):
        differ.check("FLUSHALL")
        for argv in setup:
            differ.check(*argv)
        differ.check("SETRANGE", "c", "0", "x")  # leaves a raw 1-byte string behind
        differ.check("MSET", "a", "1", "b", "", "c", "y", "a", "12345678901234567890", "d", "x" * 50)
        for key in ("a", "b", "c", "d"):
            differ.check("TTL", key)
            differ.check("OBJECT", "ENCODING", key)
        differ.check("MGET", "a", "b", "c", "d")
        differ.check("INFO", "keyspace")


def test_mset_invalidates_watch_like_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    for sp in (server, oracle):
        watcher, writer = Raw(sp.port), Raw(sp.port)
        watcher.request(resp("FLUSHALL"))
        watcher.request(resp("WATCH", "w"))
        writer.request(resp("MSET", "x", "1", "w", "2"))
        assert watcher.request(resp("MULTI") + resp("GET", "w") + resp("EXEC"), 3) == b"+OK\r\n+QUEUED\r\n*-1\r\n"
        watcher.close()
        writer.close()


def test_incr_keeps_ttl_and_shared_integer_encoding_like_redis(differ: Differ) -> None:
    differ.check("SET", "n", "9", "EX", "100")
    differ.check("INCR", "n")
    differ.check("TTL", "n")
    differ.check("OBJECT", "ENCODING", "n")
    differ.check("SETRANGE", "m", "0", "5")  # raw "5"; INCRBY back to a 1-byte value is int again
    differ.check("INCRBY", "m", "-2")
    differ.check("OBJECT", "ENCODING", "m")
    for value in ("007", "-0", "-12", "9223372036854775806", "99999999999999999999", " 1", "1 "):
        differ.check("SET", "v", value)
        differ.check("INCR", "v")
        differ.check("DECRBY", "v", "3")
    differ.check("INCR", "new")
    differ.check("TTL", "new")


def test_incr_and_mset_keyspace_events_like_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    got = []
    for sp in (server, oracle):
        ctl, sub = Raw(sp.port), Raw(sp.port)
        ctl.request(resp("CONFIG", "SET", "notify-keyspace-events", "KEAn"))
        ctl.request(resp("FLUSHALL"))
        ctl.request(resp("SET", "t", "1", "EX", "100"))
        sub.request(resp("PSUBSCRIBE", "__key*__:*"))
        for argv in (("INCR", "n"), ("INCR", "n"), ("MSET", "n", "5", "t", "6", "u", "7"), ("SET", "n", "x")):
            ctl.request(resp(*argv))
        ctl.request(resp("PUBLISH", "__keyspace@0__:end", "end"))
        data = b""
        end = time.monotonic() + 5
        while b"$3\r\nend\r\n" not in data and time.monotonic() < end:
            data += sub.sock.recv(65536)
        ctl.request(resp("CONFIG", "SET", "notify-keyspace-events", ""))
        got.append(data)
        ctl.close()
        sub.close()
    assert got[0] == got[1]


def _keymiss_events(conn: Raw, sub: Raw, probe: list[list[str]]) -> bytes:
    """The keymiss (and expired) event messages `probe` caused, ended by a sentinel PUBLISH."""
    _fresh(conn)
    for argv in probe:
        conn.request(resp(*argv))
    conn.request(resp("PUBLISH", "__keyevent@0__:keymiss", "END"))
    data = b""
    while not data.endswith(b"$3\r\nEND\r\n"):
        data += sub.sock.recv(65536)
    return data


def test_keymiss_events_fire_on_read_misses_like_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    pairs = []
    for sp in (server, oracle):
        conn, sub = Raw(sp.port), Raw(sp.port)
        conn.request(resp("CONFIG", "SET", "notify-keyspace-events", "Egm"))
        sub.request(resp("SUBSCRIBE", "__keyevent@0__:keymiss"))
        pairs.append((conn, sub))
    try:
        for probe in ALL_PROBES:
            ours, theirs = (_keymiss_events(conn, sub, probe) for conn, sub in pairs)
            assert ours == theirs, probe
    finally:
        for conn, sub in pairs:
            conn.request(resp("CONFIG", "SET", "notify-keyspace-events", ""))
            conn.close()
            sub.close()


def test_serving_a_blocked_client_counts_no_hit_like_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    """COPY (a counting command) fills a stream an XREAD client is blocked on: serving that client is
    not a read of its own in Redis."""
    deltas = []
    for sp in (server, oracle):
        conn, blocked = Raw(sp.port), Raw(sp.port)
        try:
            conn.request(resp("FLUSHALL"))
            conn.request(resp("XADD", "src", "2-0", "f", "v"))
            conn.request(resp("XADD", "dst", "1-0", "f", "v"))
            blocked.send(resp("XREAD", "BLOCK", "0", "STREAMS", "dst", "$"))
            # Wait until the server has parked it (CLIENT LIST shows the blocked XREAD).
            while b"cmd=xread" not in conn.request(resp("CLIENT", "LIST")):
                time.sleep(0.01)
            before = _stats(conn)
            conn.request(resp("COPY", "src", "dst", "REPLACE"))
            assert b"dst" in blocked.read_until_count(1)
            after = _stats(conn)
            deltas.append((after[0] - before[0], after[1] - before[1]))
        finally:
            conn.close()
            blocked.close()
    assert deltas[0] == deltas[1], deltas
