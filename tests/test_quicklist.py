"""The chunked list type (respdb/storage/quicklist.py) and the list commands on lists big enough to span
many chunks.

Unit tests drive a QuickList with random operation sequences beside a plain Python list (the model) and
check contents and layout invariants after every step. Differential tests build lists of 5,000+
elements (several chunks of CHUNK slots) on respdb and on redis-server 7.0 and compare every reply byte
for byte: indexed reads and writes at chunk boundaries, middle insertions and removals, trims, LPOS,
counted pops, SORT, COPY, OBJECT ENCODING. The DUMP payload of a list is pinned to the bytes the
deque-based version wrote, so snapshots made before the change still load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from respdb.storage.quicklist import CHUNK, QuickList
from tests.diff import Differ
from tests.servers import ServerProcess, respdb_server

BIG = 5 * CHUNK + 123  # several full chunks and a partial one


def _elements(n: int, mod: int = 37, prefix: bytes = b"e") -> list[bytes]:
    return [b"%s%d" % (prefix, i % mod) for i in range(n)]


# --- the type against a Python list ----------------------------------------------------------------
def _check(ql: QuickList, model: list[bytes]) -> None:
    assert ql.layout_errors() == []
    assert len(ql) == len(model)
    assert list(ql) == model
    assert list(reversed(ql)) == model[::-1]


_value = st.integers(0, 9).map(lambda i: b"v%d" % i)
_many = st.integers(0, 2 * CHUNK + 10).map(lambda k: tuple(b"m%d" % (i % 7) for i in range(k)))
_ops = st.one_of(
    st.tuples(st.just("append"), _value),
    st.tuples(st.just("appendleft"), _value),
    st.tuples(st.just("extend"), _many),
    st.tuples(st.just("extendleft"), _many),
    st.tuples(st.just("pop"), st.just(None)),
    st.tuples(st.just("popleft"), st.just(None)),
    st.tuples(st.just("popleft_many"), st.floats(0, 1)),
    st.tuples(st.just("pop_many"), st.floats(0, 1)),
    st.tuples(st.just("get_set"), st.floats(-1, 1, exclude_max=True)),
    st.tuples(st.just("range"), st.tuples(st.floats(0, 1), st.floats(0, 1))),
    st.tuples(st.just("insert"), st.tuples(st.floats(0, 1), _value)),
    st.tuples(st.just("remove"), st.tuples(_value, st.sampled_from([0, 1, 2, -1, -3, 1000, -1000]))),
    st.tuples(st.just("trim"), st.tuples(st.floats(0, 1), st.floats(0, 1))),
    st.tuples(st.just("positions"), st.tuples(_value, st.booleans(), st.sampled_from([0, 1, 10, CHUNK + 1]))),
    st.tuples(st.just("index"), _value),
)


def _apply(ql: QuickList, model: list[bytes], op: str, arg: object) -> list[bytes]:
    """Run one operation on both; returns the (possibly new) model."""
    n = len(model)
    if op == "append":
        ql.append(arg)  # type: ignore[arg-type]
        model.append(arg)  # type: ignore[arg-type]
    elif op == "appendleft":
        ql.appendleft(arg)  # type: ignore[arg-type]
        model.insert(0, arg)  # type: ignore[arg-type]
    elif op == "extend":
        ql.extend(arg)  # type: ignore[arg-type]
        model.extend(arg)  # type: ignore[arg-type]
    elif op == "extendleft":
        ql.extendleft(arg)  # type: ignore[arg-type]
        model[0:0] = arg[::-1]  # type: ignore[index]
    elif op == "pop" and n:
        assert ql.pop() == model.pop()
    elif op == "popleft" and n:
        assert ql.popleft() == model.pop(0)
    elif op == "popleft_many":
        k = int(arg * n)  # type: ignore[operator]
        assert ql.popleft_many(k) == model[:k]
        model = model[k:]
    elif op == "pop_many":
        k = int(arg * n)  # type: ignore[operator]
        assert ql.pop_many(k) == model[::-1][:k]
        model = model[:n - k]
    elif op == "get_set" and n:
        i = int(arg * n)  # type: ignore[operator]
        assert ql[i] == model[i]
        ql[i] = model[i] = b"set%d" % i
    elif op == "range":
        a, b = sorted(int(f * n) for f in arg)  # type: ignore[attr-defined]
        assert ql.range(a, b) == model[a:b]
    elif op == "insert":
        i = int(arg[0] * n)  # type: ignore[index]
        ql.insert(i, arg[1])  # type: ignore[index]
        model.insert(i, arg[1])  # type: ignore[index]
    elif op == "remove":
        x, count = arg  # type: ignore[misc]
        hits = [i for i, e in enumerate(model) if e == x]
        gone = set(hits if count == 0 else hits[:count] if count > 0 else hits[count:])
        assert ql.remove(x, count) == len(gone)
        model = [e for i, e in enumerate(model) if i not in gone]
    elif op == "trim":
        left = int(arg[0] * n)  # type: ignore[index]
        right = int(arg[1] * (n - left))  # type: ignore[index]
        ql.trim(left, right)
        model = model[left:n - right]
    elif op == "positions":
        x, from_tail, limit = arg  # type: ignore[misc]
        scan = range(n - 1, n - 1 - min(n, limit or n), -1) if from_tail else range(min(n, limit or n))
        assert list(ql.positions(x, from_tail, limit)) == [i for i in scan if model[i] == x]
    elif op == "index":
        if arg in model:
            assert ql.index(arg) == model.index(arg)  # type: ignore[arg-type]
        else:
            with pytest.raises(ValueError):
                ql.index(arg)  # type: ignore[arg-type]
    return model


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([0, 1, 9, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, BIG]), st.lists(_ops, min_size=10, max_size=60))
def test_quicklist_random_ops_match_a_python_list(size: int, ops: list[tuple[str, object]]) -> None:
    model = [b"i%d" % (i % 11) for i in range(size)]
    ql = QuickList(model)
    _check(ql, model)
    for op, arg in ops:
        model = _apply(ql, model, op, arg)
        _check(ql, model)
    copy = ql.copy()
    assert copy == ql
    copy.append(b"only in the copy")
    _check(ql, model)


def test_quicklist_insert_and_remove_in_every_chunk() -> None:
    model = _elements(BIG)
    ql = QuickList(model)
    ql.extendleft(tuple(_elements(CHUNK + 7, prefix=b"h")))  # chunk 0 gets front padding
    model[0:0] = _elements(CHUNK + 7, prefix=b"h")[::-1]
    for i in range(0, len(model), 97):
        ql.insert(i, b"new")
        model.insert(i, b"new")
        _check(ql, model)
    for _ in range(3 * CHUNK):  # grows one chunk past CHUNK: it splits
        ql.insert(CHUNK * 3 + 5, b"split")
        model.insert(CHUNK * 3 + 5, b"split")
    _check(ql, model)
    for count, x in ((5, b"e3"), (-5, b"e4"), (0, b"new"), (0, b"split"), (0, b"h1"), (-1000, b"e5")):
        hits = [i for i, e in enumerate(model) if e == x]
        gone = set(hits if count == 0 else hits[:count] if count > 0 else hits[count:])
        assert ql.remove(x, count) == len(gone)
        model = [e for i, e in enumerate(model) if i not in gone]
        _check(ql, model)
        for i in range(0, len(model), 251):
            assert ql[i] == model[i]


def test_quicklist_lpush_run_spans_chunks_with_indexed_access() -> None:
    ql = QuickList()
    for i in range(BIG):
        ql.appendleft(b"%d" % i)
    model = [b"%d" % i for i in reversed(range(BIG))]
    _check(ql, model)
    for i in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, BIG // 2, BIG - 1, -1, -BIG):
        assert ql[i] == model[i]
    with pytest.raises(IndexError):
        ql[BIG]
    assert ql.range(CHUNK - 3, 3 * CHUNK + 3) == model[CHUNK - 3:3 * CHUNK + 3]


def test_quicklist_queue_use_drops_drained_chunks() -> None:
    # RPUSH + LPOP forever must not accumulate drained chunks or padding.
    ql = QuickList()
    for i in range(20 * CHUNK):
        ql.append(b"%d" % i)
        if i >= 10:
            assert ql.popleft() == b"%d" % (i - 10)
    assert list(ql) == [b"%d" % i for i in range(20 * CHUNK - 10, 20 * CHUNK)]
    assert ql.layout_errors() == []
    assert ql.container_bytes() < 3 * QuickList(list(range(CHUNK))).container_bytes()  # type: ignore[arg-type]


def test_quicklist_pops_to_empty_reset_the_layout() -> None:
    ql = QuickList(_elements(3 * CHUNK))
    for _ in range(3 * CHUNK):
        ql.popleft()
    assert len(ql) == 0 and ql.layout_errors() == []
    with pytest.raises(IndexError):
        ql.pop()
    ql.extendleft((b"a", b"b"))
    _check(ql, [b"b", b"a"])


# --- list commands on big lists against redis-server ------------------------------------------------
@pytest.fixture
def d(server: ServerProcess, oracle: ServerProcess) -> Iterator[Differ]:
    differ = Differ(server, oracle)
    yield differ
    differ.close()


def _fill(d: Differ, key: str = "big", n: int = BIG, mod: int = 37) -> None:
    # Half LPUSH (chunk 0 grows padding at its front), half RPUSH, in slices that stay in one request.
    elems = _elements(n, mod)
    half = n // 2
    for i in range(0, half, 1000):
        d.check("LPUSH", key, *elems[i:min(i + 1000, half)])
    for i in range(half, n, 1000):
        d.check("RPUSH", key, *elems[i:min(i + 1000, n)])


_EDGES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, BIG // 2, BIG - CHUNK, BIG - 2, BIG - 1, BIG, BIG + 5]


def test_lindex_big_list_matches_redis(d: Differ) -> None:
    _fill(d)
    for i in _EDGES:
        d.check("LINDEX", "big", str(i))
        d.check("LINDEX", "big", str(-i - 1))
    d.check("OBJECT", "ENCODING", "big")
    d.check("LLEN", "big")


def test_lrange_big_list_windows_match_redis(d: Differ) -> None:
    _fill(d)
    for a in _EDGES:
        for width in (1, 100, CHUNK + 7, 3 * CHUNK):
            d.check("LRANGE", "big", str(a), str(a + width - 1))
            d.check("LRANGE", "big", str(-a - 1), str(-a - 1 + width))
    d.check("LRANGE", "big", "0", "-1")
    d.check("LRANGE", "big", str(-BIG - 10), str(BIG + 10))


def test_lset_linsert_big_list_match_redis(d: Differ) -> None:
    _fill(d)
    for i in _EDGES:
        d.check("LSET", "big", str(i), f"set{i}")
        d.check("LSET", "big", str(-i - 1), f"neg{i}")
    for pivot in ("set0", f"set{CHUNK}", f"set{BIG // 2}", "e5", "missing"):
        d.check("LINSERT", "big", "BEFORE", pivot, "before-" + pivot)
        d.check("LINSERT", "big", "AFTER", pivot, "after-" + pivot)
    for _ in range(CHUNK + 50):  # one chunk must split
        d.check("LINSERT", "big", "AFTER", f"set{BIG // 2}", "x")
    d.check("LRANGE", "big", "0", "-1")
    for i in _EDGES:
        d.check("LINDEX", "big", str(i))


def test_lrem_big_list_matches_redis(d: Differ) -> None:
    _fill(d)
    for count, element in (("3", "e1"), ("-3", "e2"), ("0", "e3"), ("100", "e4"), ("-100", "e5"), ("0", "none"), ("1", "e36")):
        d.check("LREM", "big", count, element)
        d.check("LLEN", "big")
    for i in range(7, 37):
        d.check("LREM", "big", "0", f"e{i}")  # most of every chunk goes: chunks merge
    d.check("LRANGE", "big", "0", "-1")
    d.check("LINDEX", "big", "100")
    d.check("LREM", "big", "0", "e0")
    d.check("LREM", "big", "0", "e6")
    for i in range(1, 6):
        d.check("LREM", "big", "0", f"e{i}")
    d.check("EXISTS", "big")


def test_ltrim_big_list_matches_redis(d: Differ) -> None:
    _fill(d)
    for start, stop in (("1", "-2"), (str(CHUNK - 5), "-1"), ("0", str(-CHUNK - 3)), ("10", str(2 * CHUNK)), ("0", "-1")):
        d.check("LTRIM", "big", start, stop)
        d.check("LLEN", "big")
        d.check("LINDEX", "big", "0")
        d.check("LINDEX", "big", "-1")
    d.check("LPUSH", "big", "head")
    d.check("LRANGE", "big", "0", "-1")
    d.check("LTRIM", "big", "5", "1")
    d.check("EXISTS", "big")


def test_lpos_big_list_matches_redis(d: Differ) -> None:
    _fill(d)
    d.check("LSET", "big", str(BIG - 3), "rare")
    d.check("LSET", "big", "2", "rare")
    for args in (("e7",), ("e7", "RANK", "50"), ("e7", "RANK", "-50"), ("e7", "COUNT", "0"), ("e7", "COUNT", "10", "RANK", "-20"),
                 ("e7", "MAXLEN", str(CHUNK + 3), "COUNT", "0"), ("e7", "RANK", "-1", "MAXLEN", str(CHUNK), "COUNT", "0"),
                 ("rare", "COUNT", "0"), ("rare", "RANK", "-1"), ("rare", "RANK", "2"), ("rare", "MAXLEN", str(BIG - 3)),
                 ("missing",), ("missing", "COUNT", "0"), ("e7", "RANK", "1000")):
        d.check("LPOS", "big", *args)


def test_counted_pops_and_moves_big_list_match_redis(d: Differ) -> None:
    _fill(d)
    for cmd in (("LPOP", "big", str(CHUNK + 1)), ("RPOP", "big", str(CHUNK - 1)), ("LPOP", "big", "1"), ("RPOP", "big"),
                ("LMPOP", "1", "big", "LEFT", "COUNT", str(2 * CHUNK)), ("LMOVE", "big", "other", "RIGHT", "LEFT"),
                ("LMOVE", "big", "big", "LEFT", "RIGHT"), ("LINDEX", "big", "-1"), ("LLEN", "big"), ("LRANGE", "big", "0", "-1"),
                ("RPOP", "big", str(BIG)), ("EXISTS", "big"), ("LRANGE", "other", "0", "-1")):
        d.check(*cmd)


def test_sort_and_copy_big_list_match_redis(d: Differ) -> None:
    _fill(d, n=BIG, mod=BIG)
    d.check("SORT", "big", "BY", "nosort", "LIMIT", str(CHUNK - 2), "7")
    d.check("SORT", "big", "BY", "nosort", "LIMIT", str(CHUNK - 2), "7", "DESC")
    d.check("SORT", "big", "BY", "nosort", "LIMIT", str(BIG - 3), "10", "DESC")
    d.check("SORT", "big", "ALPHA", "LIMIT", "100", str(CHUNK))
    d.check("SORT", "big", "ALPHA", "STORE", "sorted")
    d.check("LRANGE", "sorted", str(CHUNK - 5), str(CHUNK + 5))
    d.check("OBJECT", "ENCODING", "sorted")
    d.check("COPY", "big", "copy")
    d.check("RPUSH", "copy", "tail")
    d.check("LSET", "copy", "0", "changed")
    d.check("LRANGE", "big", "0", "2")
    d.check("LRANGE", "copy", "0", "2")
    d.check("LLEN", "big")
    d.check("LLEN", "copy")


_cmd = st.one_of(
    st.tuples(st.sampled_from(["LINDEX"]), st.integers(-BIG - 5, BIG + 5).map(str)),
    st.tuples(st.just("LRANGE"), st.integers(-BIG, BIG).map(str), st.integers(-BIG, BIG).map(str)),
    st.tuples(st.just("LSET"), st.integers(-BIG, BIG).map(str), st.just("s")),
    st.tuples(st.just("LINSERT"), st.sampled_from(["BEFORE", "AFTER"]), st.sampled_from(["e3", "e30", "s", "zz"]), st.just("i")),
    st.tuples(st.just("LREM"), st.sampled_from(["0", "2", "-2", "50", "-50"]), st.sampled_from(["e3", "e30", "s", "i"])),
    st.tuples(st.just("LTRIM"), st.integers(-BIG, BIG // 4).map(str), st.integers(-BIG // 4, BIG).map(str)),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.integers(1, 2 * CHUNK).map(str)),
    st.tuples(st.sampled_from(["LPUSH", "RPUSH"]), st.sampled_from(["e3", "p"])),
    st.tuples(st.just("LPOS"), st.sampled_from(["e3", "s", "i"]), st.just("RANK"), st.sampled_from(["1", "3", "-1", "-4"]),
              st.just("COUNT"), st.sampled_from(["0", "2"])),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_cmd, min_size=1, max_size=25))
def test_list_commands_big_list_random_sequences_match_redis(server: ServerProcess, oracle: ServerProcess, cmds: list[tuple[str, ...]]) -> None:
    d = Differ(server, oracle)
    try:
        _fill(d)
        for cmd in cmds:
            d.check(cmd[0], "big", *cmd[1:])
        d.check("LRANGE", "big", "0", "-1")
    finally:
        d.close()


# --- persistence format ----------------------------------------------------------------------------
# DUMP payloads written by the deque-based list type (commit 62e6cc9) for the lists built below. .cdb
# snapshots encode values with the same codec, so equal DUMP bytes mean old snapshots still load.
_SMALL_DUMP = bytes.fromhex("020300000000000000010000000200000003000000616262636363524401008186222d78f718f5")
_BIG_DUMP_SHA256 = "ae9c1564b1589552bca3c3aaa712e72c48e18df82f39556b8ff624ed07f032b5"


def test_dump_list_payload_unchanged_from_deque_format(r: redis.Redis) -> None:
    r.rpush("small", "a", "bb", "ccc")
    assert r.dump("small") == _SMALL_DUMP
    r.lpush("big", *[b"e%d" % (i % 97) for i in range(3000)])
    r.rpush("big", *[b"x" * (i % 50) for i in range(2000)])
    r.lpop("big", 10)
    r.rpop("big", 10)
    payload = r.dump("big")
    assert hashlib.sha256(payload).hexdigest() == _BIG_DUMP_SHA256
    r.restore("old", 0, _SMALL_DUMP)
    assert r.lrange("old", 0, -1) == [b"a", b"bb", b"ccc"]
    r.restore("copy", 0, payload)
    assert r.lrange("copy", 0, -1) == r.lrange("big", 0, -1)
    assert r.lindex("copy", 2500) == r.lindex("big", 2500)


def test_save_and_reload_big_list(tmp_path) -> None:
    elems = _elements(BIG, BIG)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        c = sp.client()
        c.lpush("big", *elems)
        c.linsert("big", "BEFORE", elems[100], "inserted")
        c.lrem("big", 1, elems[3000])
        expected = c.lrange("big", 0, -1)
        assert c.save()
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        c = sp.client()
        assert c.lrange("big", 0, -1) == expected
        assert c.lindex("big", CHUNK + 1) == expected[CHUNK + 1]
        assert c.object("encoding", "big") == b"quicklist"


def test_memory_usage_big_list_counts_its_elements(r: redis.Redis) -> None:
    r.rpush("big", *[b"x" * 100] * BIG)
    r.rpush("small", b"x" * 100)
    assert r.memory_usage("big", samples=0) > BIG * 100 > r.memory_usage("small", samples=0)
