"""Differential tests for sorted sets: the same request bytes go to respdb and to redis-server 7.0 and
every reply must be identical byte for byte, in RESP2 and RESP3.

Fixed scripts pin the corners (option conflicts, argument-check order, score parsing and formatting,
-0 and inf, exclusive and lexical bounds, LIMIT, encodings, set algebra with weights and sets as
inputs); Hypothesis then sends random ZADD/ZINCRBY/ZRANGE*/ZREM*/pop/store sequences with random scores
(inf and -0 included) and random, often exclusive, bounds. Keyspace events are compared too.
"""

from __future__ import annotations

import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ

# One command per line, shell-quoted; each script starts on an empty server.
BASICS = """
    zadd z 1 a 2 b 3 c 1.1 d 0.30000000000000004 e 1e20 f inf g -inf h -0 i
    zrange z 0 -1 withscores
    zrange z 0 -1
    zscore z d
    zscore z g
    zscore z i
    zscore z nope
    zmscore z a nope b
    zmscore nokey a b
    zcard z
    zcard nokey
    zadd z
    zadd z 1
    zadd z nx xx 1 a
    zadd z gt lt 1 a
    zadd z gt nx 1 a
    zadd z incr 1 a 2 b
    zadd z abc a
    zadd z 1 a abc b
    zadd z nan a
    zadd z 1e400 a
    zadd z 0x10 hx
    zadd z " 1" a
    zadd z xx ch 5 a 6 newone
    zadd z nx ch 5 a 6 newone
    zadd z gt ch 1 a 10 b
    zadd z lt ch 1 a 10 c
    zadd z incr 2.5 a
    zadd z incr nx 2.5 a
    zadd z incr xx 2.5 nothere
    zadd z2 xx 1 a
    zadd z2 xx incr 1 a
    exists z2
    zadd z incr -inf g
    zincrby z 1.5 a
    zincrby z abc a
    zincrby z 1 newmember
    zincrby z inf h
    zincrby z -inf g
    zrange z 0 -1 withscores
    zrank z a
    zrevrank z a
    zrank z nope
    zrank nokey a
    zrank z a withscore
    zcount z -inf +inf
    zcount z (1 3
    zcount z 1 (3
    zcount z abc 3
    zcount z ( (
    zcount nokey 0 1
    zrangebyscore z -inf +inf withscores
    zrangebyscore z (1 3 withscores limit 1 2
    zrangebyscore z (1 3 withscores limit -1 2
    zrangebyscore z -inf +inf limit 2 -1
    zrangebyscore z -inf +inf limit 2 0
    zrangebyscore z -inf +inf limit 100 2
    zrangebyscore z -inf +inf limit 1
    zrangebyscore z 3 1
    zrangebyscore z -inf +inf rev
    zrevrangebyscore z +inf -inf withscores
    zrevrangebyscore z 3 (1 withscores limit 1 1
    zrevrangebyscore z 1 3
    zrange z 1 3 byscore withscores
    zrange z 3 1 byscore rev withscores
    zrange z 3 1 byscore rev limit 1 2 withscores
    zrange z 0 -1 rev
    zrange z -3 -1 withscores
    zrange z 5 2
    zrange z -100 100
    zrange z 0 1 limit 0 1
    zrange z a b
    zrange z 0 1 foo
    zrange z 0 -1 byscore bylex
    zrevrange z 0 2 withscores
    zrevrange z 0 2 withscores foo
    zrange nokey 0 -1
    zadd lex 0 a 0 b 0 c 0 d 0 e 0 foo 0 zap 0 zip
    zrangebylex lex - +
    zrangebylex lex [b (e
    zrangebylex lex (b [e limit 1 2
    zrangebylex lex + -
    zrangebylex lex - + withscores
    zrangebylex lex a c
    zrevrangebylex lex + -
    zrevrangebylex lex [e (b
    zrevrangebylex lex [e (b limit 1 1
    zrange lex [e (b bylex rev
    zrange lex (b [e bylex limit 0 2
    zlexcount lex - +
    zlexcount lex [b [f
    zlexcount lex x y
    zlexcount lex (a (a
    zlexcount lex [a [a
    zremrangebylex lex [zap [zip
    zrange lex 0 -1
    zremrangebyrank lex 0 1
    zremrangebyrank lex -1 -1
    zremrangebyrank lex 5 1
    zremrangebyrank lex a 1
    zrange lex 0 -1
    zremrangebyscore z (1 3
    zremrangebyscore z a 3
    zrange z 0 -1 withscores
    zrangestore dst z 0 -1
    zrange dst 0 -1 withscores
    zrangestore dst z 0 -1 withscores
    zrangestore dst z -inf +inf byscore limit 1 2
    zrange dst 0 -1 withscores
    zrangestore dst nokey 0 -1
    exists dst
    zrangestore dst lex - + bylex rev
    zrange dst 0 -1
    zrem z a nope b
    zrem z nope
    zrem nokey a
    set str x
    zadd str 1 a
    zscore str a
    zrange str 0 -1
    zrangestore dst str 0 -1
    zrem str a
    zcard str
    zpopmin z
    zpopmax z
    zpopmin z 2
    zpopmax z 2
    zpopmin z 0
    zpopmin z -1
    zpopmin z a
    zpopmin z 1 2
    zpopmin nokey
    zpopmin nokey 2
    zpopmin str 0
    zpopmax z 100
    exists z
    zadd m1 1 a 2 b 3 c
    zadd m2 4 d
    zmpop 2 nokey m1 min
    zmpop 2 nokey m1 max count 5
    zmpop 2 nokey m1 max count 5
    zmpop 2 m2 m1 min count 1
    zmpop 1 nokey min
    zmpop 0 nokey min
    zmpop a nokey min
    zmpop 1 nokey foo
    zmpop 1 nokey min count 0
    zmpop 1 nokey min count 1 count 2
    zmpop 1 nokey min foo
    zmpop 5 nokey min
    zmpop 1 str min
    bzmpop 0.01 1 nokey min
    bzpopmin nokey 0.01
    bzpopmin str 0
    bzpopmin nokey -1
    bzpopmin nokey abc
    bzmpop abc 1 nokey min
    bzmpop -1 1 nokey min
    zadd b1 1 a 2 b
    bzpopmin nokey b1 0
    bzpopmax nokey b1 0
    zadd b1 1 a 2 b
    bzmpop 0 2 nokey b1 min count 10
"""

ALGEBRA_AND_ENCODING = """
    zadd A 0.1 x 5 f1 6 f2
    zadd B 0.2 x 2 y
    zadd C 0.3 x 7 f3 -inf y
    sadd S x f1 q
    set str v
    zunion 3 A B C withscores
    zunion 3 A B C
    zinter 3 A B C withscores
    zdiff 3 A B C withscores
    zdiff 1 A
    zunion 2 A S withscores
    zinter 2 A S withscores
    zdiff 2 S A withscores
    zunion 3 A B C weights 1 2 3 withscores
    zunion 3 A B C weights 1 2 withscores
    zunion 3 A B C weights 1 2 abc withscores
    zunion 3 A B C aggregate min withscores
    zunion 3 A B C aggregate max withscores
    zunion 3 A B C aggregate foo withscores
    zunion 3 A B C aggregate
    zinter 3 A B C weights 0 1 1 aggregate max withscores
    zunion 2 C C weights inf 0 withscores
    zunion 2 C C weights 1 -1 withscores
    zinter 2 C C weights inf -inf withscores
    zdiff 2 A B weights 1 1
    zdiff 2 A B aggregate sum
    zunion 0 A
    zunion -1 A
    zunion abc A
    zunion 5 A
    zunion 2 A str
    zunion 2 str A foo
    zunion 1 nokey
    zinter 2 A nokey
    zunionstore d 3 A B C weights 2 2 2
    zrange d 0 -1 withscores
    zunionstore d 3 A B C withscores
    zinterstore d 2 A B aggregate min
    zrange d 0 -1 withscores
    zdiffstore d 2 A B
    zrange d 0 -1 withscores
    zdiffstore d 2 A A
    exists d
    zinterstore d 1 nokey
    zunionstore str2 1 A
    zunionstore
    zintercard 2 A B
    zintercard 3 A B C
    zintercard 2 A B limit 0
    zintercard 2 A B limit 1
    zintercard 2 A B limit -1
    zintercard 2 A B limit abc
    zintercard 0 A
    zintercard 2 A B withscores
    zintercard 2 A B weights 1 1
    zintercard 2 A str
    zrandmember nokey
    zrandmember nokey 5
    zrandmember str
    zrandmember A 0
    zrandmember A 10
    zrandmember A 3 withscores
    zrandmember A 10 withscores
    zrandmember A 1 foo
    zrandmember A 1 withscores foo
    zrandmember A abc
    zrandmember A -9223372036854775808
    zrandmember A 9223372036854775807 withscores
    zrandmember A -4611686018427387904 withscores
    zrandmember A 4611686018427387904 withscores
    zscan A 0
    zscan A 0 match f*
    zscan A 0 count 0
    zscan A 0 count 1
    zscan A abc
    zscan A 0 foo
    zscan nokey 0 foo
    zscan str 0
    zscan C 0
    object encoding A
    config set zset-max-listpack-entries 3
    zadd big 1 a 2 b 3 c
    object encoding big
    zadd big 4 d
    object encoding big
    zrem big a b c
    object encoding big
    zadd big2 1 a 2 b 3 c 4 d
    object encoding big2
    config set zset-max-listpack-entries 128
    config set zset-max-listpack-value 5
    zadd big3 1 abcdef
    object encoding big3
    zadd big4 1 abcde
    object encoding big4
    zadd big4 1 abcdefgh
    object encoding big4
    zunionstore big5 1 big4
    object encoding big5
    zrangestore big6 big4 0 -1
    object encoding big6
    config set zset-max-listpack-value 64
    config get zset-max-ziplist-entries
    config set zset-max-ziplist-entries 100
    config get zset-max-listpack-entries
    config set zset-max-ziplist-entries 128
    zadd neg -0 a
    zscore neg a
    zrange neg 0 -1 withscores
    zincrby neg -0 a
    zadd neg incr -0 b
    zrange neg 0 -1 withscores
    zunion 1 C weights -0 withscores
    zunionstore negd 1 C weights -0
    zrange negd 0 -1 withscores
    type A
"""

EDGES = """
    zadd mix 1 d 2 a 3 c 4 b 5 e 0 z
    zrangebylex mix - +
    zrangebylex mix [b [d
    zrangebylex mix (a +
    zrevrangebylex mix [d [b
    zrevrangebylex mix + (c
    zlexcount mix [b [d
    zlexcount mix - [c
    zremrangebylex mix [b [c
    zrange mix 0 -1 withscores
    zrange mix [a [z bylex rev limit 0 2
    config set zset-max-listpack-entries 0
    zadd big 1 a 2 b 3 c 4 d 5 e
    object encoding big
    zrangebylex big - +
    zrangebyscore big (1 (5 withscores
    zrevrange big 0 -1 withscores
    zpopmin big
    zpopmax big 2
    zrange big 0 -1 withscores
    zadd big -0 neg
    zscore big neg
    zrange big 0 -1 withscores
    zunionstore u 1 big
    object encoding u
    zrange u 0 -1 withscores
    zrangestore u2 big 0 -1
    object encoding u2
    zrange u2 0 -1 withscores
    zadd big 3 x 3 y 3 z 3 w
    zrangebylex big [w [z
    zrangebyscore big 3 3
    zrank big z
    zrevrank big z
    zremrangebyscore big 3 3
    zrange big 0 -1 withscores
    config set zset-max-listpack-entries 128
    zadd dup 1 a 1 a 1 a
    zcard dup
    zadd nn 1.5 a 2.25 b 3.125 c 1e-5 d 123456789012345678 e 1.7976931348623157e308 f 5e-324 g -1e-320 h
    zrange nn 0 -1 withscores
    zincrby nn 0.1 a
    zincrby nn 0.2 a
    zincrby nn 1.7976931348623157e308 f
    zincrby nn -inf f
    zadd nn incr inf f
    zadd nn incr -inf f
    zrangebyscore nn 1e-5 (2.25 withscores
    zrangebyscore nn (0x1 0x3 withscores
    zrangebyscore nn -1e-400 1e400
    zcount nn (-inf (inf
    zcount nn -inf -inf
    zcount nn +inf +inf
    zcount nn "(+inf" "+inf"
    zcount nn infinity INF
    zcount nn nan 1
    zcount nn 1 (nan
    zcount nn "1 " 2
    zcount nn " 1" 2
    zcount nn 1e 2
"""

STORES = """
    zadd a 1 x 2 y 3 z
    zadd b 10 y 20 w
    zunionstore a 2 a b
    zrange a 0 -1 withscores
    zinterstore a 2 a b weights 2 0.5 aggregate min
    zrange a 0 -1 withscores
    sadd s y q
    zintercard 2 s b
    zintercard 2 s b limit 1
    zinter 2 s b withscores
    zrangestore d b (0 +inf byscore rev limit 0 1
    zrange d 0 -1 withscores
    zrangestore d b + - bylex rev limit 1 5
    zrange d 0 -1
    zrangestore d b 0 -1 rev
    zrange d 0 -1 withscores
    bzpopmin b b 0
    bzpopmax b nokey b 0
    zadd long 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 2 b
    object encoding long
    zunionstore long2 1 long
    object encoding long2
    zrangestore long3 long 1 1
    object encoding long3
    zrangestore long4 long 0 0
    object encoding long4
    zscan long 0 match b
    geoadd gg 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
    georadius gg 15 37 200 km count 1 any store st
    zrange st 0 -1 withscores
    georadius gg 15 37 200 km count 1 storedist st
    zrange st 0 -1 withscores
    object encoding st
    georadiusbymember gg Palermo 100 km store st
    georadiusbymember gg Palermo 100 km storedist st2 asc count 1
    zrange st2 0 -1 withscores
    geosearchstore st3 gg fromlonlat 15 37 bybox 400 400 km storedist desc count 1
    zrange st3 0 -1 withscores
    geosearch gg fromlonlat 15 37 bybox 400 400 km count 1 any withcoord
    geopos gg
    geohash gg
    geodist gg Palermo Palermo
    geodist gg Palermo Catania KM
"""

# Replies seen from Lua, in RESP2 and (redis.setresp(3)) RESP3: scores and coordinates as doubles.
FROM_LUA = """
    zadd z 1.5 a 2 b
    eval "redis.setresp(3); return redis.call('zrange', KEYS[1], 0, -1, 'withscores')" 1 z
    eval "return redis.call('zrange', KEYS[1], 0, -1, 'withscores')" 1 z
    eval "redis.setresp(3); return redis.call('zscore', KEYS[1], 'a')" 1 z
    eval "redis.setresp(3); return redis.call('zpopmin', KEYS[1])" 1 z
    eval "return redis.call('zadd', KEYS[1], 1, 'q')" 1 z
    geoadd g 13.361389 38.115556 Palermo
    eval "redis.setresp(3); return redis.call('geopos', KEYS[1], 'Palermo')" 1 g
    eval "return redis.call('geopos', KEYS[1], 'Palermo')" 1 g
    eval "redis.setresp(3); return redis.call('geosearch', KEYS[1], 'fromlonlat', 13, 38, 'byradius', 100, 'km', 'withcoord', 'withdist')" 1 g
"""

SCRIPTS = {"basics": BASICS, "algebra_encoding": ALGEBRA_AND_ENCODING, "edges": EDGES, "stores": STORES, "from_lua": FROM_LUA}


def _reset_config(differ: Differ) -> None:
    differ.both("CONFIG", "SET", "zset-max-listpack-entries", "128", compare=False)
    differ.both("CONFIG", "SET", "zset-max-listpack-value", "64", compare=False)


@pytest.fixture(params=[False, True], ids=["resp2", "resp3"])
def differ(request, server, oracle):
    d = Differ(server, oracle, resp3=request.param)
    yield d
    _reset_config(d)
    d.close()


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_zsets_script_matches_redis(differ, name):
    for line in SCRIPTS[name].strip().splitlines():
        differ.check(*shlex.split(line))


# --- random sequences ------------------------------------------------------------------------------
KEYS = ["z1", "z2", "z3"]
MEMBERS = ["a", "b", "c", "d", "e", "f", ""]
SCORES = ["0", "-0", "1", "2", "3", "1.5", "-2.5", "0.1", "0.2", "10", "1e20", "-1e-5", "inf", "-inf", "+inf"]
BOUNDS = SCORES + ["(" + s for s in SCORES] + ["abc", "(", ""]
LEX = ["-", "+", "[a", "(a", "[c", "(c", "[e", "(f", "[", "(", "a", "[b"]
INDEXES = [str(i) for i in range(-6, 7)]

key = st.sampled_from(KEYS)
member = st.sampled_from(MEMBERS)
score = st.sampled_from(SCORES)
bound = st.sampled_from(BOUNDS)
lexb = st.sampled_from(LEX)
index = st.sampled_from(INDEXES)
limit = st.one_of(st.just(()), st.tuples(st.just("LIMIT"), st.sampled_from(["0", "1", "2", "-1", "5"]), st.sampled_from(["0", "1", "2", "-1", "3"])))
withscores = st.sampled_from([(), ("WITHSCORES",)])
pairs = st.lists(st.tuples(score, member).map(list), min_size=1, max_size=4).map(lambda ps: [x for p in ps for x in p])


@st.composite
def zadd(draw):
    opts = draw(st.lists(st.sampled_from(["NX", "XX", "GT", "LT", "CH", "INCR"]), max_size=2, unique=True))
    return ["ZADD", draw(key), *opts, *draw(pairs)]


@st.composite
def zrange_any(draw):
    kind = draw(st.sampled_from(["rank", "score", "lex"]))
    rev = draw(st.sampled_from([(), ("REV",)]))
    if kind == "rank":
        return ["ZRANGE", draw(key), draw(index), draw(index), *rev, *draw(withscores)]
    if kind == "score":
        return ["ZRANGE", draw(key), draw(bound), draw(bound), "BYSCORE", *rev, *draw(limit), *draw(withscores)]
    return ["ZRANGE", draw(key), draw(lexb), draw(lexb), "BYLEX", *rev, *draw(limit)]


@st.composite
def setop(draw):
    srcs = draw(st.lists(key, min_size=1, max_size=3))
    n = str(len(srcs))
    op = draw(st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZUNION", "ZINTER", "ZDIFF"]))
    extra: list[str] = []
    if "DIFF" not in op:
        if draw(st.booleans()):
            extra += ["WEIGHTS", *draw(st.lists(st.sampled_from(["1", "2", "-1", "0.5", "0", "inf"]), min_size=len(srcs), max_size=len(srcs)))]
        if draw(st.booleans()):
            extra += ["AGGREGATE", draw(st.sampled_from(["SUM", "MIN", "MAX"]))]
    if op.endswith("STORE"):
        return [op, draw(key), n, *srcs, *extra]
    return [op, n, *srcs, *extra, *draw(withscores)]


def commands(lex: bool = True):
    choices = [
        zadd(),
        st.tuples(st.just("ZINCRBY"), key, score, member).map(list),
        st.tuples(st.just("ZREM"), key, member, member).map(list),
        st.tuples(st.just("ZSCORE"), key, member).map(list),
        st.tuples(st.just("ZMSCORE"), key, member, member).map(list),
        st.tuples(st.sampled_from(["ZRANK", "ZREVRANK"]), key, member).map(list),
        st.tuples(st.just("ZCARD"), key).map(list),
        st.tuples(st.just("ZCOUNT"), key, bound, bound).map(list),
        st.tuples(st.sampled_from(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), key, bound, bound, withscores, limit).map(lambda t: [*t[:4], *t[4], *t[5]]),
        st.tuples(st.just("ZREVRANGE"), key, index, index, withscores).map(lambda t: [*t[:4], *t[4]]),
        st.tuples(st.just("ZREMRANGEBYRANK"), key, index, index).map(list),
        st.tuples(st.just("ZREMRANGEBYSCORE"), key, bound, bound).map(list),
        st.tuples(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), key, st.sampled_from([(), ("0",), ("1",), ("2",), ("10",)])).map(lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.just("ZMPOP"), st.sampled_from([["1", "z1"], ["2", "z1", "z2"], ["3", "z3", "z2", "z1"]]), st.sampled_from(["MIN", "MAX"]), st.sampled_from([(), ("COUNT", "2")])).map(lambda t: ["ZMPOP", *t[1], t[2], *t[3]]),
        st.tuples(st.just("ZRANGESTORE"), key, key, index, index).map(list),
        st.tuples(st.just("ZINTERCARD"), st.sampled_from([["1", "z1"], ["2", "z1", "z2"], ["3", "z1", "z2", "z3"]])).map(lambda t: ["ZINTERCARD", *t[1]]),
        zrange_any() if lex else zrange_any().filter(lambda c: "BYLEX" not in c),
        setop(),
    ]
    if lex:
        choices += [
            st.tuples(st.just("ZLEXCOUNT"), key, lexb, lexb).map(list),
            st.tuples(st.sampled_from(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), key, lexb, lexb, limit).map(lambda t: [*t[:4], *t[4]]),
            st.tuples(st.just("ZREMRANGEBYLEX"), key, lexb, lexb).map(list),
        ]
    return st.one_of(*choices)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(commands(), min_size=1, max_size=25), resp3=st.booleans())
def test_zsets_random_sequences_match_redis(server, oracle, seq, resp3):
    d = Differ(server, oracle, resp3=resp3)
    try:
        for cmd in seq:
            d.check(*cmd)
        for k in KEYS:
            d.check("ZRANGE", k, "0", "-1", "WITHSCORES")
            d.check("OBJECT", "ENCODING", k)
    finally:
        d.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(commands(lex=False), min_size=1, max_size=25))
def test_zsets_random_sequences_skiplist_match_redis(server, oracle, seq):
    """The same with every set in the skiplist encoding (where -0 survives). Lex ranges are left out:
    over members with mixed scores they depend on the skiplist's random shape."""
    d = Differ(server, oracle)
    try:
        d.both("CONFIG", "SET", "zset-max-listpack-entries", "1", compare=False)
        for cmd in seq:
            d.check(*cmd)
        for k in KEYS:
            d.check("ZRANGE", k, "0", "-1", "WITHSCORES")
    finally:
        _reset_config(d)
        d.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(commands(), min_size=1, max_size=25), big=st.booleans())
def test_zsets_random_lex_sequences_match_redis(server, oracle, seq, big):
    """Lex ranges where they are defined (every score 0), in both encodings."""
    d = Differ(server, oracle)
    try:
        if big:
            d.both("CONFIG", "SET", "zset-max-listpack-entries", "1", compare=False)
        for cmd in seq:
            if cmd[0] in ("ZADD", "ZINCRBY"):
                # Every score forced to 0: members then sort by their bytes alone.
                cmd = ["0" if _is_score_slot(cmd, i) else a for i, a in enumerate(cmd)]
            d.check(*cmd)
        for k in KEYS:
            d.check("ZRANGEBYLEX", k, "-", "+")
    finally:
        _reset_config(d)
        d.close()


def _is_score_slot(cmd: list[str], i: int) -> bool:
    """Whether cmd[i] is a score (ZADD pairs after the options; ZINCRBY's increment)."""
    if cmd[0] == "ZINCRBY":
        return i == 2
    first = 2
    while first < len(cmd) and cmd[first] in ("NX", "XX", "GT", "LT", "CH", "INCR"):
        first += 1
    return i >= first and (i - first) % 2 == 0


# --- keyspace events -----------------------------------------------------------------------------------
EVENT_SEQUENCE = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "1", "a"), ("ZADD", "z", "INCR", "1", "a"),
    ("ZINCRBY", "z", "1", "b"), ("ZREM", "z", "nope"), ("ZREM", "z", "a"), ("ZADD", "y", "1", "x"),
    ("ZREM", "y", "x"), ("ZADD", "z", "4", "d", "5", "e", "6", "f"), ("ZREMRANGEBYRANK", "z", "0", "0"),
    ("ZREMRANGEBYSCORE", "z", "(3", "4"), ("ZREMRANGEBYLEX", "z", "-", "[c"), ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "5"),
    ("ZADD", "a", "1", "x", "2", "y"), ("ZADD", "b", "1", "y"), ("ZUNIONSTORE", "u", "2", "a", "b"),
    ("ZINTERSTORE", "i", "2", "a", "b"), ("ZDIFFSTORE", "d", "2", "a", "b"), ("ZDIFFSTORE", "d", "2", "a", "a"),
    ("ZDIFFSTORE", "d2", "1", "nope"), ("ZRANGESTORE", "r", "a", "0", "-1"), ("ZRANGESTORE", "r", "a", "5", "6"),
    ("ZMPOP", "1", "a", "MIN", "COUNT", "5"), ("BZPOPMIN", "b", "0"), ("GEOADD", "g", "1", "2", "p"),
    ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "1", "2", "BYRADIUS", "10", "km"),
    ("GEORADIUS", "g", "1", "2", "10", "km", "STORE", "gr"), ("GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", "50", "50", "BYRADIUS", "1", "m"),
]


def _drain(ps, quiet_s: float = 0.3) -> list[tuple[bytes, bytes]]:
    out = []
    while True:
        msg = ps.get_message(timeout=quiet_s)
        if msg is None:
            return out
        if msg["type"] == "pmessage":
            out.append((msg["channel"], msg["data"]))


def test_zsets_keyspace_events_match_redis(server, oracle):
    got = {}
    for name, sp in (("respdb", server), ("redis", oracle)):
        client = sp.client()
        client.flushall()
        ps = client.pubsub()
        ps.psubscribe("__key*__:*")
        ps.get_message(timeout=1)
        client.config_set("notify-keyspace-events", "KEA")
        try:
            for cmd in EVENT_SEQUENCE:
                client.execute_command(*cmd)
            got[name] = _drain(ps)
        finally:
            client.config_set("notify-keyspace-events", "")
            ps.close()
            client.close()
    assert len(got["redis"]) > 40
    assert got["respdb"] == got["redis"]
