"""INFO persistence `rdb_changes_since_last_save` (Redis's `server.dirty`) moves as in redis-server 7.0.

Redis counts most writes per element (HSET of two pairs adds 2, DEL of three keys adds 3, a no-op adds
0, an error adds nothing). Every probe below runs its setup commands on a flushed respdb and on a
flushed redis-server, then reads the counter right before and right after the probed command: the
two deltas must be equal. Every write command respdb registers must be probed here or sit in the
commented skip list (a test fails otherwise). respdb runs twice, with the C command loop and native
handlers (which keep the counter in C during a run) and pure Python (RESPDB_NO_EXTENSIONS=1).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Iterator

import pytest

from tests.servers import Raw, ServerProcess, resp, respdb_server

Cmd = tuple[str, ...]


def commands_of(text: str) -> list[Cmd]:
    """`SET k v; LPUSH l "a b"` → [("SET", "k", "v"), ("LPUSH", "l", "a b")] (shell quoting)."""
    return [tuple(shlex.split(part)) for part in text.split(";") if part.strip()]


_STREAM = "XADD s 1-1 f v; XADD s 2-1 f v; XADD s 3-1 f v; XGROUP CREATE s g 0"
_PEL = _STREAM + "; XREADGROUP GROUP g c COUNT 10 STREAMS s >"
_HLL = "PFADD h1 a b c; PFADD h2 c d e"

# (setup, probed command). Setups are separated by ';'.
PROBES: list[tuple[str, str]] = [
    # --- strings
    ("", "SET k v"), ("SET k v", "SET k w"), ("SET k v", "SET k w NX"), ("", "SET k v XX"), ("SET k v", "SET k w XX GET"),
    ("", "SET k v EX 100"), ("SET k v", "SET k v KEEPTTL"), ("", "SET k v EX 0"), ("LPUSH k a", "SET k v GET"),
    ("", "SETNX k v"), ("SET k v", "SETNX k w"), ("", "SETEX k 100 v"), ("", "SETEX k 0 v"), ("", "PSETEX k 100000 v"),
    ("", "GETSET k v"), ("SET k v", "GETSET k w"), ("SET k v", "GETDEL k"), ("", "GETDEL k"),
    ("SET k v", "GETEX k"), ("SET k v", "GETEX k EX 100"), ("SET k v EX 100", "GETEX k PERSIST"), ("SET k v", "GETEX k PERSIST"),
    ("SET k v", "GETEX k PX 0"), ("", "GETEX k EX 100"),
    ("", "MSET a 1"), ("", "MSET a 1 b 2 c 3"), ("SET a 0", "MSET a 1 a 2"), ("", "MSET a 1 b"),
    ("", "MSETNX a 1 b 2"), ("SET b 0", "MSETNX a 1 b 2"), ("", "MSETNX a 1 a 2"),
    ("", "INCR n"), ("SET n 5", "INCR n"), ("SET n x", "INCR n"), ("SET n 5", "DECR n"), ("", "DECR n"),
    ("SET n 5", "INCRBY n 10"), ("SET n 5", "INCRBY n 0"), ("SET n 9223372036854775807", "INCRBY n 1"),
    ("SET n 5", "DECRBY n 3"), ("", "DECRBY n x"),
    ("", "INCRBYFLOAT f 1.5"), ("SET f 1", "INCRBYFLOAT f 0"), ("SET f x", "INCRBYFLOAT f 1"),
    ("", "APPEND k abc"), ("SET k v", "APPEND k abc"), ("SET k v", "APPEND k ''"), ("", "APPEND k ''"),
    ("", "SETRANGE k 2 abc"), ("SET k hello", "SETRANGE k 1 ''"), ("", "SETRANGE k 0 ''"), ("SET k hello", "SETRANGE k 1 xy"),
    ("", "SETRANGE k -1 x"),
    # --- bitmaps
    ("", "SETBIT b 7 1"), ("SETBIT b 7 1", "SETBIT b 7 1"), ("SETBIT b 7 1", "SETBIT b 7 0"), ("", "SETBIT b 7 0"),
    ("SET a x; SET b y", "BITOP AND d a b"), ("", "BITOP OR d a b"), ("SET d x", "BITOP OR d a b"), ("SET a x", "BITOP NOT d a"),
    ("", "BITFIELD b SET u8 0 255"), ("", "BITFIELD b GET u8 0"), ("", "BITFIELD b INCRBY u8 0 10 INCRBY u8 8 1"),
    ("", "BITFIELD b OVERFLOW FAIL INCRBY u8 0 300"), ("BITFIELD b SET u8 0 255", "BITFIELD b OVERFLOW FAIL INCRBY u8 0 1"),
    ("", "BITFIELD b SET u8 0 1 GET u8 0 SET u8 8 2"), ("", "BITFIELD b SET u99 0 1"),
    # --- generic
    ("SET a 1", "DEL a"), ("SET a 1; SET b 2", "DEL a b c"), ("", "DEL a b"), ("SET a 1", "DEL a a"),
    ("SET a 1; LPUSH b x", "UNLINK a b c"), ("", "UNLINK a"),
    ("SET k v", "EXPIRE k 100"), ("", "EXPIRE k 100"), ("SET k v", "EXPIRE k 0"), ("SET k v", "EXPIRE k -1"),
    ("SET k v EX 100", "EXPIRE k 200 NX"), ("SET k v EX 100", "EXPIRE k 200 XX"), ("SET k v", "EXPIRE k 200 XX"),
    ("SET k v EX 100", "EXPIRE k 50 GT"), ("SET k v EX 100", "EXPIRE k 50 LT"), ("SET k v", "EXPIRE k x"),
    ("SET k v", "PEXPIRE k 100000"), ("SET k v", "EXPIREAT k 99999999999"), ("SET k v", "EXPIREAT k 1"),
    ("SET k v", "PEXPIREAT k 99999999999999"), ("SET k v", "PEXPIREAT k 1"),
    ("SET k v EX 100", "PERSIST k"), ("SET k v", "PERSIST k"), ("", "PERSIST k"),
    ("SET a 1", "RENAME a b"), ("SET a 1; SET b 2", "RENAME a b"), ("SET a 1", "RENAME a a"), ("", "RENAME a b"),
    ("SET a 1", "RENAMENX a b"), ("SET a 1; SET b 2", "RENAMENX a b"), ("SET a 1", "RENAMENX a a"),
    ("SET a 1", "COPY a b"), ("SET a 1; SET b 2", "COPY a b"), ("SET a 1; SET b 2", "COPY a b REPLACE"), ("", "COPY a b"),
    ("SET a 1", "COPY a b DB 1"), ("SET a 1", "COPY a a"),
    ("SET a 1", "MOVE a 1"), ("", "MOVE a 1"), ("SET a 1", "MOVE a 0"),
    ("SET a 1", "SWAPDB 0 1"), ("", "SWAPDB 0 0"), ("", "SWAPDB 0 99"),
    ("SET a 1; SET b 2; SELECT 1; SET c 3; SELECT 0", "FLUSHDB"), ("", "FLUSHDB"), ("SET a 1; SET b 2", "FLUSHDB ASYNC"),
    ("SET a 1; SET b 2; SELECT 1; SET c 3; SELECT 0", "FLUSHALL"), ("", "FLUSHALL"), ("SET a 1", "FLUSHALL SYNC"),
    # RESTORE of a DUMP made by the same server: the payload is read from the server the probe runs on.
    ("SET a hello", "RESTORE b 0 {dump:a}"), ("SET a hello; SET b x", "RESTORE b 0 {dump:a} REPLACE"),
    ("SET a hello", "RESTORE a 0 {dump:a}"), ("SET a hello", "RESTORE b 0 bad"),
    ("RPUSH l 3 1 2", "SORT l STORE d"), ("", "SORT l STORE d"), ("RPUSH l 3 1 2", "SORT l"), ("RPUSH l 3 1 2; SET d x", "SORT nol STORE d"),
    # --- hashes
    ("", "HSET h a 1"), ("", "HSET h a 1 b 2"), ("HSET h a 1", "HSET h a 2 b 2"), ("HSET h a 1", "HSET h a 1"),
    ("", "HSET h a 1 b"), ("SET h x", "HSET h a 1"),
    ("", "HMSET h a 1 b 2 c 3"), ("HSET h a 1", "HMSET h a 1"),
    ("", "HSETNX h a 1"), ("HSET h a 1", "HSETNX h a 2"),
    ("HSET h a 1 b 2", "HDEL h a b"), ("HSET h a 1 b 2", "HDEL h a x"), ("HSET h a 1", "HDEL h x"), ("", "HDEL h a"),
    ("HSET h a 1 b 2", "HDEL h a b a"),
    ("", "HINCRBY h a 5"), ("HSET h a 1", "HINCRBY h a 0"), ("HSET h a x", "HINCRBY h a 1"),
    ("", "HINCRBYFLOAT h a 1.5"), ("HSET h a 1", "HINCRBYFLOAT h a 0"),
    # --- lists
    ("", "LPUSH l a"), ("", "LPUSH l a b c"), ("LPUSH l x", "LPUSH l a"), ("LPUSH l x", "LPUSH l a b c"),
    ("", "RPUSH l a"), ("", "RPUSH l a b c"), ("RPUSH l x", "RPUSH l a"), ("RPUSH l x", "RPUSH l a b"),
    ("", "LPUSHX l a b"), ("RPUSH l x", "LPUSHX l a b"), ("", "RPUSHX l a"), ("RPUSH l x", "RPUSHX l a b c"),
    ("RPUSH l a b c", "LPOP l"), ("RPUSH l a b c", "LPOP l 2"), ("RPUSH l a b c", "LPOP l 5"), ("RPUSH l a", "LPOP l"),
    ("RPUSH l a b c", "LPOP l 0"), ("", "LPOP l"), ("", "LPOP l 2"),
    ("RPUSH l a b c", "RPOP l"), ("RPUSH l a b c", "RPOP l 2"), ("RPUSH l a b c", "RPOP l 3"), ("RPUSH l a b c", "RPOP l 0"),
    ("", "RPOP l"),
    ("RPUSH l a b a c a", "LREM l 0 a"), ("RPUSH l a b a c a", "LREM l -2 a"), ("RPUSH l a b", "LREM l 0 x"),
    ("RPUSH l a a", "LREM l 0 a"), ("", "LREM l 0 a"),
    ("RPUSH l a b c d e", "LTRIM l 1 2"), ("RPUSH l a b c", "LTRIM l 0 -1"), ("RPUSH l a b c", "LTRIM l 5 10"),
    ("RPUSH l a b c", "LTRIM l 0 0"), ("", "LTRIM l 0 1"),
    ("RPUSH l a b c", "LSET l 1 x"), ("RPUSH l a b c", "LSET l 1 b"), ("RPUSH l a", "LSET l 5 x"), ("", "LSET l 0 x"),
    ("RPUSH l a b c", "LINSERT l BEFORE b x"), ("RPUSH l a b c", "LINSERT l AFTER z x"), ("", "LINSERT l AFTER a x"),
    ("RPUSH l a b c", "LMOVE l d LEFT RIGHT"), ("RPUSH l a b c", "LMOVE l l LEFT RIGHT"), ("", "LMOVE l d LEFT LEFT"),
    ("RPUSH l a", "LMOVE l d RIGHT LEFT"), ("RPUSH l a; SET d x", "LMOVE l d RIGHT LEFT"),
    ("RPUSH l a b c", "RPOPLPUSH l d"), ("RPUSH l a", "RPOPLPUSH l l"), ("", "RPOPLPUSH l d"),
    ("RPUSH l a b c", "LMPOP 2 x l LEFT COUNT 2"), ("RPUSH l a b c", "LMPOP 1 l RIGHT"), ("", "LMPOP 1 l RIGHT"),
    ("RPUSH l a b c", "LMPOP 1 l RIGHT COUNT 10"),
    ("RPUSH l a b c", "BLPOP l 0"), ("RPUSH l a", "BLPOP x l 0"), ("RPUSH l a b", "BRPOP l 0"),
    ("RPUSH l a b", "BLMOVE l d LEFT RIGHT 0"), ("RPUSH l a b", "BRPOPLPUSH l d 0"),
    ("RPUSH l a b c", "BLMPOP 0 1 l LEFT COUNT 2"), ("RPUSH l a b c", "BLMPOP 0 1 l RIGHT COUNT 9"),
    # --- sets
    ("", "SADD s a"), ("", "SADD s a b c"), ("SADD s a", "SADD s a b"), ("SADD s a", "SADD s a"), ("SADD s x", "SADD s a"),
    ("", "SADD s a a b"), ("SET s x", "SADD s a"),
    ("SADD s a b c", "SREM s a b"), ("SADD s a b c", "SREM s a x"), ("SADD s a", "SREM s a"), ("SADD s a", "SREM s x"),
    ("", "SREM s a"),
    ("SADD s a b c", "SPOP s"), ("SADD s a b c", "SPOP s 2"), ("SADD s a b c", "SPOP s 3"), ("SADD s a b c", "SPOP s 10"),
    ("SADD s a b c", "SPOP s 0"), ("", "SPOP s"), ("", "SPOP s 2"), ("SADD s a", "SPOP s"),
    ("SADD s a b c d e f g h i j", "SPOP s 8"),
    ("SADD s a b; SADD d c", "SMOVE s d a"), ("SADD s a b", "SMOVE s d a"), ("SADD s a", "SMOVE s d a"),
    ("SADD s a; SADD d a", "SMOVE s d a"), ("SADD s a b", "SMOVE s d x"), ("SADD s a b", "SMOVE s s a"), ("", "SMOVE s d a"),
    ("SADD a 1 2 3; SADD b 2 3 4", "SINTERSTORE d a b"), ("SADD a 1; SADD b 2; SET d x", "SINTERSTORE d a b"),
    ("", "SINTERSTORE d a b"), ("SADD a 1 2 3; SADD b 2 3 4", "SUNIONSTORE d a b"), ("", "SUNIONSTORE d a"),
    ("SADD a 1 2 3; SADD b 2 3 4", "SDIFFSTORE d a b"), ("SADD a 1; SADD b 1; SADD d x", "SDIFFSTORE d a b"),
    # --- sorted sets
    ("", "ZADD z 1 a"), ("", "ZADD z 1 a 2 b 3 c"), ("ZADD z 1 a", "ZADD z 1 a"), ("ZADD z 1 a", "ZADD z 2 a 3 b"),
    ("ZADD z 1 a", "ZADD z NX 2 a 3 b"), ("ZADD z 1 a", "ZADD z XX 2 a 3 b"), ("ZADD z 1 a", "ZADD z CH 2 a 3 b"),
    ("ZADD z 1 a", "ZADD z INCR 5 a"), ("ZADD z 1 a", "ZADD z INCR 0 a"), ("ZADD z 1 a", "ZADD z GT 0 a"),
    ("ZADD z 1 a", "ZADD z LT 0 a 5 b"), ("", "ZADD z 1 a 2"), ("", "ZADD z x a"),
    ("ZADD z 1 a", "ZINCRBY z 2 a"), ("", "ZINCRBY z 2 a"), ("ZADD z 1 a", "ZINCRBY z 0 a"),
    ("ZADD z 1 a 2 b 3 c", "ZREM z a b"), ("ZADD z 1 a", "ZREM z a x"), ("ZADD z 1 a", "ZREM z x"), ("", "ZREM z a"),
    ("ZADD z 1 a 2 b 3 c", "ZREMRANGEBYSCORE z 1 2"), ("ZADD z 1 a 2 b 3 c", "ZREMRANGEBYSCORE z 5 6"),
    ("ZADD z 1 a 2 b 3 c", "ZREMRANGEBYRANK z 0 -1"), ("ZADD z 1 a 2 b 3 c", "ZREMRANGEBYRANK z 5 6"),
    ("ZADD z 0 a 0 b 0 c", "ZREMRANGEBYLEX z [a [b"), ("ZADD z 0 a 0 b 0 c", "ZREMRANGEBYLEX z [x [y"),
    ("ZADD z 1 a 2 b 3 c", "ZPOPMIN z"), ("ZADD z 1 a 2 b 3 c", "ZPOPMIN z 2"), ("ZADD z 1 a 2 b 3 c", "ZPOPMAX z 5"),
    ("ZADD z 1 a", "ZPOPMAX z 0"), ("", "ZPOPMIN z"), ("", "ZPOPMAX z 3"),
    ("ZADD z 1 a 2 b 3 c", "ZMPOP 1 z MIN COUNT 2"), ("", "ZMPOP 1 z MAX"),
    ("ZADD z 1 a 2 b", "BZPOPMIN z 0"), ("ZADD z 1 a 2 b", "BZPOPMAX z 0"), ("ZADD z 1 a 2 b 3 c", "BZMPOP 0 1 z MAX COUNT 2"),
    ("ZADD a 1 x 2 y; ZADD b 3 y", "ZUNIONSTORE d 2 a b"), ("", "ZUNIONSTORE d 1 a"), ("ZADD d 1 x", "ZUNIONSTORE d 1 a"),
    ("ZADD a 1 x 2 y; ZADD b 3 y", "ZINTERSTORE d 2 a b"), ("ZADD a 1 x 2 y; ZADD b 3 y", "ZDIFFSTORE d 2 a b"),
    ("ZADD a 1 x 2 y 3 z", "ZRANGESTORE d a 0 1"), ("ZADD a 1 x", "ZRANGESTORE d a 5 6"), ("ZADD d 1 x", "ZRANGESTORE d a 0 -1"),
    # --- geo
    ("", "GEOADD g 13.361389 38.115556 a"), ("", "GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b"),
    ("GEOADD g 13.361389 38.115556 a", "GEOADD g 13.361389 38.115556 a"), ("GEOADD g 1 1 a", "GEOADD g NX 2 2 a 3 3 b"),
    ("GEOADD g 1 1 a", "GEOADD g CH 2 2 a 3 3 b"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 200 km"),
    ("GEOADD g 13.361389 38.115556 a", "GEOSEARCHSTORE d g FROMLONLAT 0 0 BYRADIUS 1 km"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEORADIUS g 15 37 200 km STORE d"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEORADIUS g 15 37 200 km STOREDIST d"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEORADIUS g 15 37 200 km"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEORADIUSBYMEMBER g a 300 km STORE d"),
    # --- hyperloglog
    ("", "PFADD h a b c"), ("PFADD h a", "PFADD h a"), ("", "PFADD h"), ("PFADD h a", "PFADD h"), ("SET h x", "PFADD h a"),
    (_HLL, "PFMERGE d h1 h2"), ("", "PFMERGE d"), (_HLL + "; PFMERGE d h1 h2", "PFMERGE d h1"), (_HLL, "PFCOUNT h1"),
    (_HLL + "; PFCOUNT h1", "PFCOUNT h1"), (_HLL, "PFCOUNT h1 h2"),
    # --- streams
    ("", "XADD s * f v"), ("", "XADD s NOMKSTREAM * f v"), ("XADD s 5-1 f v", "XADD s 1-1 f v"),
    (_STREAM, "XADD s MAXLEN 2 * f v"), (_STREAM, "XADD s MAXLEN 5 * f v"),
    (_STREAM, "XDEL s 1-1 2-1 9-9"), (_STREAM, "XDEL s 9-9"), ("", "XDEL s 1-1"),
    (_STREAM, "XTRIM s MAXLEN 1"), (_STREAM, "XTRIM s MAXLEN 5"), (_STREAM, "XTRIM s MINID 3"), ("", "XTRIM s MAXLEN 0"),
    (_STREAM, "XSETID s 10-1"), (_STREAM, "XSETID s 1-1"),
    (_STREAM, "XGROUP CREATE s g2 $"), (_STREAM, "XGROUP CREATE s g $"), ("", "XGROUP CREATE s g $ MKSTREAM"),
    (_STREAM, "XGROUP SETID s g 2-1"), (_STREAM, "XGROUP SETID s nog 2-1"),
    (_PEL, "XGROUP DESTROY s g"), (_STREAM, "XGROUP DESTROY s nog"),
    (_STREAM, "XGROUP CREATECONSUMER s g c2"), (_PEL, "XGROUP CREATECONSUMER s g c"),
    (_PEL, "XGROUP DELCONSUMER s g c"), (_STREAM, "XGROUP DELCONSUMER s g nobody"),
    (_STREAM, "XREADGROUP GROUP g c COUNT 2 STREAMS s >"), (_PEL, "XREADGROUP GROUP g c STREAMS s >"),
    (_PEL, "XREADGROUP GROUP g c STREAMS s 0"), (_STREAM, "XREADGROUP GROUP g c NOACK STREAMS s >"),
    (_PEL, "XREADGROUP GROUP g c2 STREAMS s 0"),
    (_PEL, "XACK s g 1-1 2-1 9-9"), (_PEL, "XACK s g 9-9"), (_STREAM, "XACK s nog 1-1"),
    (_PEL, "XCLAIM s g c2 0 1-1 2-1"), (_PEL, "XCLAIM s g c2 0 1-1 JUSTID"), (_PEL, "XCLAIM s g c2 99999999 1-1"),
    (_PEL + "; XDEL s 2-1", "XCLAIM s g c2 0 1-1 2-1"),
    (_PEL, "XAUTOCLAIM s g c2 0 0"), (_PEL, "XAUTOCLAIM s g c2 0 0 COUNT 1 JUSTID"), (_PEL, "XAUTOCLAIM s g c2 99999999 0"),
    (_PEL + "; XDEL s 2-1", "XAUTOCLAIM s g c2 0 0"),
    # --- more shapes
    ("SET k v", "SET k v GET"), ("HSET k a 1", "GETSET k v"), ("SET k 5", "INCRBYFLOAT k 1e400"), ("SET k v", "GETEX k PXAT 1"),
    ("SET k v", "SET k w PX 100000 GET"), ("SET k abc", "SETRANGE k 10 x"), ("", "MSET a 1 b 2 a 3"),
    ("SETBIT b 100 1", "SETBIT b 7 0"), ("SET b x", "SETBIT b 100 0"), ("SET b x", "BITFIELD b SET u8 0 120"),
    ("SET b x", "BITFIELD b GET u8 0 OVERFLOW FAIL INCRBY u8 0 300 OVERFLOW SAT INCRBY u8 0 300 SET u4 0 1"),
    ("", "BITFIELD b OVERFLOW FAIL INCRBY u8 0 300 SET u8 8 1"), ("SET b x", "BITFIELD b INCRBY u8 0 256"),
    ("SET b x", "BITFIELD b SET u8 0 120 SET u8 0 121"), ("SET b x", "BITFIELD b SET u8 0 121 SET u8 0 120"),
    ("SET b x", "BITFIELD b SET u8 0 120 SET u8 8 0"), ("SET b x", "BITFIELD b OVERFLOW SAT SET u8 0 1000 SET u8 0 255"),
    ("SET b x", "BITFIELD b SET i8 0 -1 SET u8 0 255 INCRBY i8 0 256"), ("SET b x", "BITFIELD_RO b GET u8 0"),
    ("HSET h a 1 b 2", "HSET h a 1 b 2 c 3"), ("HSET h a 1", "HINCRBYFLOAT h a x"), ("HSET h a 1", "HDEL h a"),
    ("", "HMSET h a 1"), ("SET h x", "HDEL h a"),
    ("RPUSH l a", "LPUSH l a b c d e f g h i j"), ("SET l x", "RPUSH l a b"), ("RPUSH l a b c", "LINSERT l AFTER c x"),
    ("RPUSH l a b c", "LPOP l x"), ("RPUSH l a b c", "LRANGE l 0 -1"), ("RPUSH l a; RPUSH m b c d", "LMPOP 2 l m LEFT COUNT 5"),
    ("RPUSH l a b c; SET d x", "RPOPLPUSH l d"), ("RPUSH l a b c", "LTRIM l -1 -1"), ("RPUSH l a b c", "LTRIM l 2 1"),
    ("SADD s 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40",
     "SPOP s 30"),
    ("SADD s 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40",
     "SPOP s 5"),
    ("SADD s a b c", "SREM s a b c d"), ("SADD a 1 2; SADD d x", "SINTERSTORE d a nokey"),
    ("ZADD z 1 a 2 b", "ZADD z GT CH 5 a 0 b 3 c"), ("ZADD z 1 a", "ZADD z XX INCR 1 b"), ("ZADD z 1 a", "ZADD z NX INCR 1 a"),
    ("ZADD z 1 a 2 b", "ZREM z a b a"), ("ZADD d 1 x", "ZUNIONSTORE d 1 nokey"), ("ZADD a 1 x 2 y 3 z", "ZRANGESTORE d a 1 2 BYSCORE"),
    ("ZADD a 1 x; ZADD b 1 y", "ZINTERSTORE d 2 a b"), ("ZADD z 1 a 2 b 3 c", "ZREMRANGEBYSCORE z -inf +inf"),
    ("ZADD z 1 a; ZADD y 2 b", "BZPOPMIN x y z 0"), ("ZADD z 1 a 2 b 3 c", "ZMPOP 1 z MAX COUNT 9"),
    ("GEOADD g 1 1 a", "GEOADD g XX CH 2 2 a 3 3 b"), ("GEOADD g 1 1 a", "GEOADD g 1 1 a 2 2 b"), ("", "GEOADD g 1 100 a"),
    ("GEOADD g 13.361389 38.115556 a 15.087269 37.502669 b", "GEOSEARCHSTORE d g FROMMEMBER a BYBOX 400 400 km STOREDIST"),
    ("GEOADD g 13.361389 38.115556 a; SET d x", "GEORADIUS g 0 0 1 km STORE d"),
    ("SET a 1; SELECT 1; SET b 2; SELECT 0", "SWAPDB 0 1"), ("SET a 1; SELECT 1; SET a 2; SELECT 0", "MOVE a 1"),
    ("SET a 1; SELECT 1; SET b 2; SELECT 0", "COPY a b DB 1 REPLACE"), ("SET a 1", "COPY a b DB 99"),
    ("SET a 1 EX 100", "RENAME a b"), ("SET k v EX 100", "PERSIST k"), ("SET k v", "EXPIRE k 100 GT"),
    ("SET k v EX 100", "PEXPIRE k 100000 NX"), ("SET k v", "EXPIRE k 100 NX XX"),
    ("SET a hello", "RESTORE b 100000 {dump:a} IDLETIME 10"), ("SET a hello", "RESTORE b 1 {dump:a} ABSTTL"),
    ("RPUSH l 3 1 2; SET w_1 a; SET w_2 b; SET w_3 c", "SORT l BY nosort GET # GET w_* STORE d"),
    ("RPUSH l 3 1 2", "SORT l LIMIT 0 1 STORE d"), ("SET l x", "SORT l STORE d"),
    ("PFADD h1 a", "PFADD h1 a b"), ("", "PFADD h1"), ("PFADD h1 a", "PFMERGE h1 h1"), ("SET x y", "PFMERGE d x"),
    ("", "XADD s NOMKSTREAM MAXLEN 1 * f v"), (_STREAM, "XADD s MAXLEN ~ 1 * f v"), (_STREAM, "XTRIM s MAXLEN ~ 0"),
    (_STREAM, "XTRIM s MINID 0"), (_STREAM, "XDEL s 1-1 1-1"), (_STREAM, "XSETID s 3-1 ENTRIESADDED 5 MAXDELETEDID 2-1"),
    (_STREAM, "XSETID s 3-1 ENTRIESADDED 1"), (_STREAM, "XGROUP CREATE s g3 0 ENTRIESREAD 2"),
    (_PEL, "XGROUP SETID s g $"), (_PEL, "XGROUP DELCONSUMER s g c"),
    (_STREAM + "; XADD t 1-1 f v; XGROUP CREATE t g 0", "XREADGROUP GROUP g c STREAMS s t > >"),
    (_STREAM + "; XADD t 1-1 f v; XGROUP CREATE t g 0", "XREADGROUP GROUP g c NOACK COUNT 1 STREAMS s t > >"),
    (_STREAM, "XREADGROUP GROUP nog c STREAMS s >"), ("XGROUP CREATE s g $ MKSTREAM", "XREADGROUP GROUP g c STREAMS s >"),
    (_STREAM, "XREAD STREAMS s 0"),
    (_PEL, "XCLAIM s g c 0 1-1 2-1 3-1 9-9"), (_PEL, "XCLAIM s g c2 0 1-1 LASTID 2-0"), (_PEL, "XCLAIM s g c 0 9-9 FORCE"),
    (_STREAM, "XCLAIM s g c 0 1-1 FORCE"), (_STREAM, "XCLAIM s g c 0 1-1 LASTID 9-0"), (_PEL, "XCLAIM s g c2 0 1-1 IDLE x"),
    (_PEL, "XAUTOCLAIM s g c 0 0 COUNT 2"), (_PEL, "XAUTOCLAIM s g c2 0 3-1"), (_STREAM, "XAUTOCLAIM s g c 0 0"),
    (_PEL, "XACK s g 1-1 1-1"), (_STREAM + "; XDEL s 1-1 2-1 3-1", "XREADGROUP GROUP g c STREAMS s >"),
    (_STREAM + "; XDEL s 2-1", "XREADGROUP GROUP g c STREAMS s >"), (_PEL + "; XDEL s 1-1 2-1", "XREADGROUP GROUP g c STREAMS s 0"),
    (_PEL + "; XTRIM s MAXLEN 0", "XAUTOCLAIM s g c 0 0 COUNT 1"), (_PEL, "XCLAIM s g c 0 1-1 2-1 LASTID 9-0 JUSTID"),
    ("XADD s 1-1 f v; XDEL s 1-1", "XADD s 1-2 f v"),
    ("", "PFADD h " + " ".join(f"e{i}" for i in range(400))), ("PFADD h a", "PFADD h " + " ".join(f"e{i}" for i in range(3000))),
    # --- not write commands, but some move the counter (SAVE resets it)
    ("SAVE; SET a 1; SET b 2", "SAVE"), ("", "SCRIPT LOAD \"return 1\""), ("", "PUBLISH ch m"), ("SET k v", "TOUCH k"),
    # --- scripting, functions, transactions
    ("", "EVAL \"redis.call('sadd', 's', 'a', 'b', 'c') return redis.call('lpop', 'nolist')\" 0"),
    ("", "EVAL \"redis.call('rpush', 'l', 'a', 'b') return redis.call('incr', 'l')\" 0"),
    ("", "EVAL \"redis.call('set', 'k', 'v') error('boom')\" 0"),
    ("MULTI; SET k v; LPUSH k a b; SADD s a b", "EXEC"), ("MULTI; SET k v; NOSUCH", "EXEC"), ("MULTI; FLUSHALL; FLUSHDB", "EXEC"),
    ("", "EVAL \"redis.call('hset', 'h', 'a', 1, 'b', 2) return 1\" 0"),
    ("", "EVAL \"redis.call('set', 'k', 'v') redis.call('del', 'k', 'x') return 1\" 0"),
    ("", "EVAL \"return redis.call('get', 'k')\" 0"),
    ("MULTI; HSET h a 1 b 2; RPUSH l a b c", "EXEC"), ("MULTI; SET k v; INCR k", "EXEC"), ("WATCH k; SET k v; MULTI; DEL k", "EXEC"),
    ("FUNCTION FLUSH", "FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\""),
    ("FUNCTION FLUSH", "FUNCTION LOAD bad"),
    ("FUNCTION FLUSH; FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\"", "FUNCTION DELETE lib"),
    ("FUNCTION FLUSH", "FUNCTION DELETE nolib"), ("FUNCTION FLUSH", "FUNCTION FLUSH"),
    ("FUNCTION FLUSH; FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function(k) return redis.call('sadd', k[1], 'a', 'b') end)\"",
     "FCALL f 1 s"),
    ("FUNCTION FLUSH; FUNCTION LOAD \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\"",
     "FUNCTION RESTORE {fdump} REPLACE"),
]

# Write commands (spec.write) not probed above, and why. Empty: every one is probed.
SKIPPED: dict[str, str] = {}


def _probed_name(cmd: Cmd) -> str:
    name = cmd[0].lower()
    return f"{name}|{cmd[1].lower()}" if name in ("xgroup", "function") else name


def _write_commands() -> set[str]:
    """The names of respdb's write commands (subcommands as 'parent|sub'), from its command table."""
    import importlib
    import pkgutil

    import respdb.commands
    from respdb.commands import registry

    for module in pkgutil.iter_modules(respdb.commands.__path__):
        importlib.import_module(f"respdb.commands.{module.name}")
    names = set()
    for name, spec in registry.COMMANDS.items():
        if spec.write:
            names.add(name)
        for sub, sub_spec in (spec.subcommands or {}).items():
            if sub_spec.write:
                names.add(f"{name}|{sub}")
    return names


@contextlib.contextmanager
def respdb_kind(kind: str) -> Iterator[ServerProcess]:
    """respdb with the C loop and native handlers ("native") or pure Python ("python"); no save rules
    (as the oracle)."""
    if kind == "python":
        os.environ["RESPDB_NO_EXTENSIONS"] = "1"
    try:
        with respdb_server("--save", "") as sp:
            os.environ.pop("RESPDB_NO_EXTENSIONS", None)
            yield sp
    finally:
        os.environ.pop("RESPDB_NO_EXTENSIONS", None)


@pytest.fixture(scope="module", params=["native", "python"])
def ours(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with respdb_kind(request.param) as sp:
        yield sp


class Probe:
    """A connection for the commands and one for reading INFO (so MULTI on the first cannot queue it)."""

    def __init__(self, server: ServerProcess) -> None:
        self.conn = Raw(server.port)
        self.control = Raw(server.port)
        self.control.request(resp("FLUSHALL"))

    def dirty(self) -> int:
        return info_int(self.control, "persistence", "rdb_changes_since_last_save")

    def call(self, cmd: Cmd) -> bytes:
        return self.conn.request(resp(*(self._expand(a) for a in cmd)))

    def _expand(self, arg: str) -> bytes:
        """{dump:KEY} and {fdump} stand for DUMP KEY / FUNCTION DUMP made by this same server."""
        if arg.startswith("{dump:"):
            return _bulk(self.control.request(resp("DUMP", arg[6:-1])))
        if arg == "{fdump}":
            return _bulk(self.control.request(resp("FUNCTION", "DUMP")))
        return arg.encode()

    def run(self, setup: list[Cmd], probe: Cmd) -> tuple[int, bytes]:
        for cmd in setup:
            self.call(cmd)
        before = self.dirty()
        reply = self.call(probe)
        return self.dirty() - before, reply

    def close(self) -> None:
        self.conn.close()
        self.control.close()


def info_int(conn: Raw, section: str, field: str) -> int:
    info = conn.request(resp("INFO", section))
    return int(re.search(rb"%s:(\d+)" % field.encode(), info).group(1))  # type: ignore[union-attr]


def _bulk(reply: bytes) -> bytes:
    header, _, rest = reply.partition(b"\r\n")
    return rest[: int(header[1:])]


def dirty_delta(server: ServerProcess, setup: str, probe: str) -> tuple[int, bytes]:
    session = Probe(server)
    try:
        return session.run(commands_of(setup), commands_of(probe)[0])
    finally:
        session.close()


def test_dirty_probe_table_covers_every_write_command() -> None:
    probed = {_probed_name(commands_of(probe)[0]) for _, probe in PROBES}
    missing = _write_commands() - probed - set(SKIPPED)
    assert not missing, f"write commands with no dirty-count probe: {sorted(missing)}"


@pytest.mark.parametrize(("setup", "probe"), PROBES, ids=[p for _, p in PROBES])
def test_dirty_delta_matches_redis(ours: ServerProcess, oracle: ServerProcess, setup: str, probe: str) -> None:
    got, reply = dirty_delta(ours, setup, probe)
    want, want_reply = dirty_delta(oracle, setup, probe)
    # Errors add nothing, on both sides; the reply kind (error or not) must agree too.
    assert reply.startswith(b"-") == want_reply.startswith(b"-"), (reply, want_reply)
    assert got == want, f"{probe!r} after {setup!r}: respdb dirty +{got}, redis +{want} (reply {want_reply!r})"
