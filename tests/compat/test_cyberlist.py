"""CyberList against Python's list, on respdb, redis-server and a Redis Cluster."""

from __future__ import annotations

import threading
from collections.abc import MutableSequence
from typing import Any

import cyberdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.strategies import values

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def lst(proxy: cyberdb.Proxy) -> cyberdb.CyberList:
    proxy.create_cyberlist("t")
    return proxy.get_cyberlist("t")


def test_cyberlist_is_a_mutable_sequence(lst: cyberdb.CyberList) -> None:
    assert isinstance(lst, MutableSequence)


def test_cyberlist_falsy_values_and_empty_len(lst: cyberdb.CyberList) -> None:
    assert len(lst) == 0 and lst.tolist() == [] and list(lst) == []
    falsy = [0, "", False, [], {}, None, 0.0, b""]
    lst.extend(falsy)
    assert lst.tolist() == falsy and [type(v) for v in lst] == [type(v) for v in falsy]
    assert lst.index(0) == 0 and lst.count(None) == 1 and lst.count("zz") == 0


def test_cyberlist_pop_returns_the_value(lst: cyberdb.CyberList) -> None:
    lst.extend([1, 2, 3, 4])
    assert lst.pop() == 4 and lst.pop(0) == 1 and lst.pop(1) == 3 and lst.tolist() == [2]
    with pytest.raises(IndexError, match="pop index out of range"):
        lst.pop(5)
    lst.pop()
    with pytest.raises(IndexError, match="pop from empty list"):
        lst.pop()


def test_cyberlist_index_errors(lst: cyberdb.CyberList) -> None:
    with pytest.raises(IndexError, match="list index out of range"):
        lst[0]
    with pytest.raises(IndexError, match="list assignment index out of range"):
        lst[0] = 1
    with pytest.raises(IndexError):
        del lst[0]
    with pytest.raises(TypeError, match="list indices must be integers or slices, not str"):
        lst["a"]
    with pytest.raises(ValueError, match=r"list\.remove"):
        lst.remove(1)
    with pytest.raises(ValueError, match="is not in list"):
        lst.index(1)
    lst.append(1)
    assert lst[10**30 - 10**30] == 1
    with pytest.raises(IndexError):
        lst[10**30]


def test_cyberlist_sort_with_builtin_closure_and_lambda_with_equals(lst: cyberdb.CyberList) -> None:
    lst.extend(["b", "A", "c"])
    lst.sort(key=str.lower)
    assert lst.tolist() == ["A", "b", "c"]
    lst.sort(key=lambda x: x == "A")
    assert lst[-1] == "A"
    order = {"c": 0, "b": 1, "A": 2}
    lst.sort(key=lambda x: order[x], reverse=True)
    assert lst.tolist() == ["A", "b", "c"]


def test_cyberlist_operators(lst: cyberdb.CyberList) -> None:
    lst.extend([1, 2])
    assert lst + [3] == [1, 2, 3] and [0] + lst == [0, 1, 2] and lst * 2 == [1, 2, 1, 2] and 2 * lst == [1, 2, 1, 2]
    lst += (3,)
    lst *= 2
    assert lst == [1, 2, 3, 1, 2, 3] and lst != [1] and lst < [2] and lst >= [1, 2]
    assert list(reversed(lst)) == [3, 2, 1, 3, 2, 1] and lst.copy() == lst.tolist()
    assert repr(lst) == "[1, 2, 3, 1, 2, 3]" and 3 in lst and 9 not in lst
    assert lst.index(3, 3) == 5 and lst.index(1, -3, -1) == 3
    with pytest.raises(ValueError):
        lst.index(1, 1, 3)


def test_cyberlist_extend_with_itself_and_other_cyberlists(proxy: cyberdb.Proxy, lst: cyberdb.CyberList) -> None:
    lst.extend([1, 2])
    lst.extend(lst)
    proxy.create_cyberlist("u", ["x"])
    lst.extend(proxy.get_cyberlist("u"))
    assert lst == [1, 2, 1, 2, "x"]


def test_cyberlist_concurrent_index_inserts_never_interleave(client: cyberdb.Client, lst: cyberdb.CyberList) -> None:
    lst.extend(range(10))

    def worker(tag: int) -> None:
        with client.get_proxy() as p:
            mine = p.get_cyberlist("t")
            for i in range(20):
                mine.insert(5, (tag, i))
                del mine[1]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = lst.tolist()
    assert len(final) == 10
    assert final[0] == 0 and all(isinstance(v, tuple | int) for v in final)


def test_cyberlist_large_values(lst: cyberdb.CyberList) -> None:
    big = b"\x00" * (10 << 20)
    lst.append(big)
    lst.insert(0, "small")
    assert lst[1] == big and lst.pop() == big


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), values),
        st.tuples(st.just("extend"), st.lists(values, max_size=3)),
        st.tuples(st.just("insert"), st.integers(-6, 6), values),
        st.tuples(st.just("getitem"), st.integers(-6, 6)),
        st.tuples(st.just("setitem"), st.integers(-6, 6), values),
        st.tuples(st.just("delitem"), st.integers(-6, 6)),
        st.tuples(st.just("pop"), st.integers(-6, 6)),
        st.tuples(st.just("pop_last")),
        st.tuples(st.just("getslice"), st.integers(-7, 7) | st.none(), st.integers(-7, 7) | st.none(),
                  st.sampled_from([None, 1, 2, -1, -2])),
        st.tuples(st.just("setslice"), st.integers(-7, 7) | st.none(), st.integers(-7, 7) | st.none(),
                  st.sampled_from([None, 1, 2, -1]), st.lists(st.integers(), max_size=3)),
        st.tuples(st.just("delslice"), st.integers(-7, 7) | st.none(), st.integers(-7, 7) | st.none(),
                  st.sampled_from([None, 1, 2, -1])),
        st.tuples(st.just("remove"), st.integers(0, 3)),
        st.tuples(st.just("index"), st.integers(0, 3), st.integers(-5, 5), st.integers(-5, 5)),
        st.tuples(st.just("count"), st.integers(0, 3)),
        st.tuples(st.just("contains"), st.integers(0, 3)),
        st.tuples(st.just("len")),
        st.tuples(st.just("reverse")),
        st.tuples(st.just("sort")),
        st.tuples(st.just("clear")),
        st.tuples(st.just("imul"), st.integers(-1, 2)),
    ),
    max_size=25,
)


def apply(target: Any, op: tuple) -> Any:
    """Run one operation; return its result or the exception type it raised."""
    name, *a = op
    try:
        match name:
            case "append":
                return target.append(a[0])
            case "extend":
                return target.extend(a[0])
            case "insert":
                return target.insert(a[0], a[1])
            case "getitem":
                return target[a[0]]
            case "setitem":
                target[a[0]] = a[1]
                return None
            case "delitem":
                del target[a[0]]
                return None
            case "pop":
                return target.pop(a[0])
            case "pop_last":
                return target.pop()
            case "getslice":
                return target[a[0]:a[1]:a[2]]
            case "setslice":
                target[a[0]:a[1]:a[2]] = a[3]
                return None
            case "delslice":
                del target[a[0]:a[1]:a[2]]
                return None
            case "remove":
                return target.remove(a[0])
            case "index":
                return target.index(*a)
            case "count":
                return target.count(a[0])
            case "contains":
                return a[0] in target
            case "len":
                return len(target)
            case "reverse":
                return target.reverse()
            case "sort":
                return target.sort(key=repr)
            case "clear":
                return target.clear()
            case "imul":
                target *= a[0]
                return None
        raise AssertionError(name)
    except (IndexError, ValueError) as exc:
        return type(exc)


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=6), ops)
def test_cyberlist_matches_list(proxy: cyberdb.Proxy, start: list[int], sequence: list[tuple]) -> None:
    if "l" in proxy.tables():
        proxy.delete_table("l")
    proxy.create_cyberlist("l", start)
    ours, model = proxy.get_cyberlist("l"), list(start)
    for op in sequence:
        assert apply(ours, op) == apply(model, op), op
    assert ours.tolist() == model and list(ours) == model and len(ours) == len(model)
