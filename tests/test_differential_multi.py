"""Differential checks against redis-server 7.0: MULTI/EXEC/WATCH sequences and pub/sub
confirmation replies sent as the same bytes to both servers, replies compared byte for byte."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.diff import Differ
from tests.servers import Raw, ServerProcess, resp

# Fixed scripts: each step is (connection index, argv, number of replies it produces).
_SCRIPTS: dict[str, list[tuple[int, tuple[str, ...], int]]] = {
    "basic": [(0, ("MULTI",), 1), (0, ("SET", "a", "1"), 1), (0, ("INCR", "a"), 1), (0, ("GET", "a"), 1), (0, ("EXEC",), 1)],
    "errors-in-exec": [
        (0, ("SET", "s", "text"), 1), (0, ("MULTI",), 1), (0, ("INCR", "s"), 1), (0, ("APPEND", "s", "!"), 1),
        (0, ("EXPIRE", "s", "notanumber"), 1), (0, ("GETRANGE", "s", "0", "-1"), 1), (0, ("EXEC",), 1),
    ],
    "execabort-unknown": [(0, ("MULTI",), 1), (0, ("SET", "a", "1"), 1), (0, ("FOO", "bar"), 1), (0, ("EXEC",), 1), (0, ("GET", "a"), 1)],
    "execabort-arity": [(0, ("MULTI",), 1), (0, ("GET",), 1), (0, ("SET", "x"), 1), (0, ("EXEC",), 1)],
    "execabort-subcommand": [(0, ("MULTI",), 1), (0, ("CONFIG", "NOPE"), 1), (0, ("CONFIG", "GET"), 1), (0, ("EXEC",), 1)],
    "exec-arity": [(0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC", "now"), 1), (0, ("EXEC",), 1), (0, ("EXEC", "x"), 1)],
    "no-multi-command": [(0, ("MULTI",), 1), (0, ("SAVE",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1)],
    "state-errors": [
        (0, ("EXEC",), 1), (0, ("DISCARD",), 1), (0, ("MULTI",), 1), (0, ("MULTI",), 1), (0, ("WATCH", "k"), 1),
        (0, ("UNWATCH",), 1), (0, ("DISCARD",), 1), (0, ("DISCARD",), 1), (0, ("WATCH",), 1), (0, ("MULTI", "x"), 1),
    ],
    "arity-of-immediate": [(0, ("MULTI",), 1), (0, ("DISCARD", "x"), 1), (0, ("PING",), 1), (0, ("EXEC",), 1)],
    "watch-other-client": [
        (0, ("SET", "w", "1"), 1), (0, ("WATCH", "w"), 1), (1, ("INCR", "w"), 1), (0, ("MULTI",), 1),
        (0, ("SET", "w", "100"), 1), (0, ("EXEC",), 1), (0, ("GET", "w"), 1),
    ],
    "watch-untouched": [(0, ("WATCH", "w", "v"), 1), (1, ("SET", "other", "1"), 1), (0, ("MULTI",), 1), (0, ("SET", "w", "1"), 1), (0, ("EXEC",), 1)],
    "watch-then-unwatch": [(0, ("WATCH", "w"), 1), (1, ("SET", "w", "1"), 1), (0, ("UNWATCH",), 1), (0, ("MULTI",), 1), (0, ("GET", "w"), 1), (0, ("EXEC",), 1)],
    "watch-dirty-then-discard": [
        (0, ("WATCH", "w"), 1), (1, ("DEL", "w"), 1), (1, ("SET", "w", "1"), 1), (0, ("MULTI",), 1), (0, ("DISCARD",), 1),
        (0, ("MULTI",), 1), (0, ("GET", "w"), 1), (0, ("EXEC",), 1),
    ],
    "watch-flushall": [(1, ("SET", "w", "1"), 1), (0, ("WATCH", "w"), 1), (1, ("FLUSHALL",), 1), (0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1)],
    "watch-flushall-missing": [(0, ("WATCH", "w"), 1), (1, ("SET", "z", "1"), 1), (1, ("FLUSHALL",), 1), (0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1)],
    "watch-swapdb": [
        (1, ("SELECT", "1"), 1), (1, ("SET", "w", "1"), 1), (0, ("WATCH", "w"), 1), (1, ("SWAPDB", "0", "1"), 1),
        (0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1),
    ],
    "watch-many-dbs": [
        (0, ("SELECT", "2"), 1), (0, ("WATCH", "w"), 1), (0, ("SELECT", "0"), 1), (1, ("SET", "w", "1"), 1),
        (0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1), (1, ("SELECT", "2"), 1), (0, ("WATCH", "w"), 1),
        (1, ("SET", "w", "1"), 1), (0, ("MULTI",), 1), (0, ("PING",), 1), (0, ("EXEC",), 1),
    ],
    "exec-select": [(0, ("MULTI",), 1), (0, ("SELECT", "99"), 1), (0, ("SELECT", "4"), 1), (0, ("SET", "x", "1"), 1), (0, ("EXEC",), 1), (0, ("DBSIZE",), 1)],
    "reset-in-multi": [(0, ("WATCH", "r"), 1), (0, ("MULTI",), 1), (0, ("RESET",), 1), (0, ("EXEC",), 1), (0, ("DISCARD",), 1)],
    "subscribe-confirmations": [
        (0, ("SUBSCRIBE", "a", "b", "a"), 3), (0, ("PSUBSCRIBE", "p*", "q?"), 2), (0, ("SSUBSCRIBE", "s1", "s2"), 2),
        (0, ("PING",), 1), (0, ("PING", "msg"), 1), (0, ("GET", "x"), 1), (0, ("CONFIG", "GET", "port"), 1),
        (0, ("MULTI",), 1), (0, ("EXEC",), 1), (1, ("PUBLISH", "a", "hello"), 1), (0, (), 1), (1, ("PUBLISH", "qq", "pat"), 1),
        (0, (), 1), (1, ("SPUBLISH", "s2", "sh"), 1), (0, (), 1), (1, ("PUBSUB", "NUMSUB", "a", "b", "c"), 1),
        (1, ("PUBSUB", "SHARDNUMSUB", "s1"), 1),
        (0, ("UNSUBSCRIBE", "a", "zz"), 2), (0, ("PUNSUBSCRIBE", "q?"), 1), (0, ("SUNSUBSCRIBE", "s1"), 1),
        (0, ("UNSUBSCRIBE", "b"), 1), (0, ("PUNSUBSCRIBE", "p*"), 1), (0, ("SUNSUBSCRIBE", "s2"), 1), (0, ("PING",), 1),
        (0, ("UNSUBSCRIBE",), 1), (0, ("PUNSUBSCRIBE",), 1), (0, ("SUNSUBSCRIBE",), 1),
    ],
    "subscribe-resp3": [
        (0, ("HELLO", "3"), 1), (0, ("SUBSCRIBE", "a"), 1), (0, ("PSUBSCRIBE", "a*"), 1), (0, ("SET", "k", "v"), 1),
        (1, ("PUBLISH", "a", "x"), 1), (0, (), 2), (0, ("UNSUBSCRIBE", "a"), 1), (0, ("PUNSUBSCRIBE", "a*"), 1),
        (0, ("UNSUBSCRIBE",), 1), (0, ("PING",), 1),
    ],
    "subscribe-in-exec": [
        (0, ("MULTI",), 1), (0, ("SUBSCRIBE", "t"), 1), (0, ("PUBLISH", "t", "self"), 1), (0, ("EXEC",), 1),
        (0, ("PING",), 1), (0, ("UNSUBSCRIBE", "t"), 1),
    ],
    "pubsub-errors": [
        (0, ("PUBSUB",), 1), (0, ("PUBSUB", "CHANNELS", "a", "b"), 1), (0, ("PUBSUB", "SHARDCHANNELS", "a", "b"), 1),
        (0, ("PUBSUB", "NUMPAT", "x"), 1), (0, ("PUBSUB", "HELP"), 1), (0, ("PUBSUB", "nope"), 1), (0, ("PUBLISH", "a"), 1),
        (0, ("SUBSCRIBE",), 1), (0, ("PUBSUB", "CHANNELS", "nomatch*"), 1), (0, ("PUBSUB", "NUMSUB"), 1),
    ],
}


class Pair:
    """Two connections to each server, the same bytes sent to both sides, replies compared."""

    def __init__(self, ours: ServerProcess, theirs: ServerProcess) -> None:
        self.ours = [Raw(ours.port), Raw(ours.port)]
        self.theirs = [Raw(theirs.port), Raw(theirs.port)]
        self.step(0, ("FLUSHALL",), 1)

    def step(self, conn: int, argv: tuple[str, ...], replies: int) -> tuple[bytes, bytes]:
        # An empty argv reads pending replies (pub/sub messages) without sending anything.
        if argv:
            a = self.ours[conn].request(resp(*argv), replies)
            b = self.theirs[conn].request(resp(*argv), replies)
        else:
            a = self.ours[conn].read_until_count(replies)
            b = self.theirs[conn].read_until_count(replies)
        return a, b

    def close(self) -> None:
        for raw in self.ours + self.theirs:
            raw.close()


@pytest.fixture
def pair_conns(server: ServerProcess, oracle: ServerProcess) -> Iterator[Pair]:
    p = Pair(server, oracle)
    yield p
    p.close()


@pytest.mark.parametrize("name", sorted(_SCRIPTS))
def test_differential_multi_script(pair_conns, name):
    for conn, argv, replies in _SCRIPTS[name]:
        ours, theirs = pair_conns.step(conn, argv, replies)
        if argv[:1] == ("HELLO",):
            continue  # carries the connection id, which differs between servers
        assert ours == theirs, f"{name}: {argv!r}: respdb {ours!r} != redis {theirs!r}"


def test_differential_multi_resp3_exec(server, oracle):
    d = Differ(server, oracle, resp3=True)
    d.check("MULTI")
    d.check("SET", "a", "1.5")
    d.check("INCRBYFLOAT", "a", "1")
    d.check("INCR", "a")
    d.check("GET", "a")
    d.check("EXEC")
    d.check("MULTI")
    d.check("GET")
    d.check("EXEC")
    d.close()


# --- random transactions -------------------------------------------------------------------------
_KEYS = st.sampled_from(["k1", "k2", "k3"])
_VALUES = st.sampled_from(["1", "7", "-3", "abc", ""])
_IN_TX = st.one_of(
    st.tuples(st.just("SET"), _KEYS, _VALUES),
    st.tuples(st.just("GET"), _KEYS),
    st.tuples(st.just("INCR"), _KEYS),
    st.tuples(st.just("APPEND"), _KEYS, _VALUES),
    st.tuples(st.just("DEL"), _KEYS),
    st.tuples(st.just("EXISTS"), _KEYS, _KEYS),
    st.tuples(st.just("EXPIRE"), _KEYS, st.sampled_from(["100", "x", "-1"])),
    st.tuples(st.just("GET")),  # arity error: dooms the transaction
    st.tuples(st.just("NOSUCHCMD"), _KEYS),
    st.tuples(st.just("MULTI")),
    st.tuples(st.just("WATCH"), _KEYS),
    st.tuples(st.just("UNWATCH")),
)
_OTHER = st.one_of(
    st.tuples(st.just("SET"), _KEYS, _VALUES),
    st.tuples(st.just("DEL"), _KEYS),
    st.tuples(st.just("SETNX"), _KEYS, _VALUES),
    st.tuples(st.just("PERSIST"), _KEYS),
    st.tuples(st.just("FLUSHDB")),
)
_STEP = st.one_of(
    st.tuples(st.just(0), _IN_TX),
    st.tuples(st.just(1), _OTHER),
    st.tuples(st.just(0), st.sampled_from([("MULTI",), ("EXEC",), ("DISCARD",), ("WATCH", "k1", "k2")])),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, min_size=1, max_size=25))
def test_differential_multi_random(server, oracle, steps):
    p = Pair(server, oracle)
    try:
        for conn, argv in [*steps, (0, ("EXEC",)), (0, ("GET", "k1"))]:
            ours, theirs = p.step(conn, argv, 1)
            assert ours == theirs, f"{argv!r}: respdb {ours!r} != redis {theirs!r}\nsteps: {steps!r}"
    finally:
        p.close()


# --- random pub/sub sessions ---------------------------------------------------------------------
_CHANNELS = st.lists(st.sampled_from(["c1", "c2", "news.a"]), min_size=1, max_size=2)
_PATTERNS = st.lists(st.sampled_from(["c*", "news.*", "?2"]), min_size=1, max_size=2)
_PUBSUB_STEP = st.one_of(
    st.tuples(st.just("SUBSCRIBE"), _CHANNELS),
    st.tuples(st.just("UNSUBSCRIBE"), _CHANNELS),
    st.tuples(st.just("PSUBSCRIBE"), _PATTERNS),
    st.tuples(st.just("PUNSUBSCRIBE"), _PATTERNS),
    st.tuples(st.just("SSUBSCRIBE"), _CHANNELS),
    st.tuples(st.just("SUNSUBSCRIBE"), _CHANNELS),
    st.tuples(st.just("PUBLISH"), st.sampled_from([["c1"], ["c2"], ["news.a"]])),
    st.tuples(st.just("SPUBLISH"), st.sampled_from([["c1"], ["news.a"]])),
    st.tuples(st.just("PING"), st.just([])),
    st.tuples(st.just("GET"), st.just(["k"])),
)


def _parse_all(data: bytes) -> list[object]:
    import hiredis

    reader = hiredis.Reader()
    reader.feed(data)
    out = []
    while (item := reader.gets()) is not False:
        out.append(item)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_PUBSUB_STEP, min_size=1, max_size=15), resp3=st.booleans())
def test_differential_pubsub_random(server, oracle, steps, resp3):
    p = Pair(server, oracle)
    try:
        if resp3:
            p.step(0, ("HELLO", "3"), 1)  # the subscriber gets pushes and may run any command
        for cmd, args in steps:
            if cmd in ("PUBLISH", "SPUBLISH"):
                ours, theirs = p.step(1, (cmd, *args, "m"), 1)
                assert ours == theirs, f"{cmd} {args}: respdb {ours!r} != redis {theirs!r}"
                count = int(ours[1:-2])
                if count:
                    # Deliveries to several patterns come in Redis's dict order: compare as multisets.
                    a, b = p.step(0, (), count)
                    assert sorted(map(repr, _parse_all(a))) == sorted(map(repr, _parse_all(b)))
                continue
            ours, theirs = p.step(0, (cmd, *args), max(1, len(args)))
            assert ours == theirs, f"{cmd} {args}: respdb {ours!r} != redis {theirs!r}\nsteps: {steps!r}"
    finally:
        p.close()


def test_differential_multi_stats(server, oracle):
    """Calls, rejected and failed calls, and error counts after transactions, as Redis counts them."""
    wanted = ("cmdstat_set", "cmdstat_incr", "cmdstat_exec", "cmdstat_multi", "cmdstat_get")
    seen = []
    for sp in (server, oracle):
        client = sp.client()
        client.config_resetstat()
        raw = Raw(sp.port)
        raw.request(resp("MULTI") + resp("NOSUCH") + resp("SET", "a") + resp("INCR") + resp("EXEC"), 5)
        raw.request(resp("MULTI") + resp("SET", "s", "x") + resp("INCR", "s") + resp("GET", "s") + resp("EXEC"), 5)
        raw.request(resp("EXEC") + resp("GET"), 2)
        raw.close()
        stats = client.info("commandstats")
        errors = client.info("errorstats")
        seen.append(
            (
                {k: {f: stats[k][f] for f in ("calls", "rejected_calls", "failed_calls")} for k in wanted if k in stats},
                errors,
            )
        )
        client.close()
    assert seen[0] == seen[1]
