"""CyberDict against Python's dict, on respdb, redis-server and a Redis Cluster."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import cyberdb
import pytest
import redis
from cyberdb.extensions import DisconCyberDBError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.strategies import small_keys, values

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def d(proxy: cyberdb.Proxy) -> cyberdb.CyberDict:
    proxy.create_cyberdict("t")
    return proxy.get_cyberdict("t")


def test_cyberdict_is_a_mutable_mapping(d: cyberdb.CyberDict) -> None:
    assert isinstance(d, MutableMapping)


def test_cyberdict_falsy_values_come_back_as_themselves(d: cyberdb.CyberDict) -> None:
    for i, v in enumerate([0, "", False, [], {}, None, 0.0, b"", ()]):
        d[i] = v
        assert d[i] == v and type(d[i]) is type(v)
    assert len(d) == 9


def test_cyberdict_empty_len_is_zero(d: cyberdb.CyberDict) -> None:
    assert len(d) == 0 and list(d) == [] and d.todict() == {} and not d


def test_cyberdict_missing_key_raises_key_error_and_stays_usable(d: cyberdb.CyberDict) -> None:
    with pytest.raises(KeyError):
        d["nope"]
    with pytest.raises(KeyError):
        del d["nope"]
    with pytest.raises(KeyError):
        d.pop("nope")
    with pytest.raises(KeyError, match="popitem"):
        d.popitem()
    d["a"] = 1
    assert d["a"] == 1 and d.pop("nope", 5) == 5


def test_cyberdict_update_with_kwargs_and_pairs(d: cyberdb.CyberDict) -> None:
    d.update({"a": 1}, b=2)
    d.update([("c", 3), ("c", 4)])
    d |= {"e": 5}
    assert d == {"a": 1, "b": 2, "c": 4, "e": 5}
    assert d.copy() == {"a": 1, "b": 2, "c": 4, "e": 5} and type(d.copy()) is dict
    assert (d | {"a": 0})["a"] == 0 and ({"a": 0, "z": 1} | d) == {"a": 1, "b": 2, "c": 4, "e": 5, "z": 1}


def test_cyberdict_contains_is_one_hexists(d: cyberdb.CyberDict, client: cyberdb.Client) -> None:
    d.update({str(i): i for i in range(50)})
    assert "7" in d and "x" not in d and [1] not in d
    assert set(d.keys()) == {str(i) for i in range(50)}
    assert sorted(d.values()) == list(range(50))
    assert dict(d.items()) == {str(i): i for i in range(50)}
    assert ("3", 3) in d.items() and ("3", 4) not in d.items()


def test_cyberdict_iteration_pages_through_hscan(d: cyberdb.CyberDict) -> None:
    d.update({i: "x" * 10 for i in range(2500)})
    assert sorted(d) == list(range(2500))
    assert len(list(d.generate())) == 2500


def test_cyberdict_plain_str_is_readable_by_other_clients(d: cyberdb.CyberDict, client: cyberdb.Client) -> None:
    d["content"] = "Hello CyberDB!"
    assert client.redis.hget("cyberdb:{t}", "content") == b"Hello CyberDB!"
    client.redis.hset("cyberdb:{t}", "other", "from redis-cli")
    assert d["other"] == "from redis-cli"


def test_cyberdict_ten_megabyte_value(d: cyberdb.CyberDict) -> None:
    big = "x" * (10 << 20)
    d["big"] = big
    assert d["big"] == big
    blob = bytes(range(256)) * (40 << 10)
    d["blob"] = blob
    assert d.todict()["blob"] == blob


def test_cyberdict_closed_proxy_raises_discon(proxy: cyberdb.Proxy, d: cyberdb.CyberDict) -> None:
    proxy.close()
    with pytest.raises(DisconCyberDBError):
        d["a"] = 1
    with pytest.raises(DisconCyberDBError):
        list(d)
    proxy.connect()
    d["a"] = 1
    assert d["a"] == 1


def test_cyberdict_repr_and_eq(d: cyberdb.CyberDict) -> None:
    d["a"] = [1, 2]
    assert repr(d) == "{'a': [1, 2]}" and str(d) == repr(d)
    assert d == {"a": [1, 2]} and d != {"a": [1]} and d != [1]
    with pytest.raises(TypeError):
        hash(d)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), small_keys, values),
        st.tuples(st.just("get"), small_keys),
        st.tuples(st.just("getitem"), small_keys),
        st.tuples(st.just("del"), small_keys),
        st.tuples(st.just("pop"), small_keys),
        st.tuples(st.just("pop_default"), small_keys, values),
        st.tuples(st.just("setdefault"), small_keys, values),
        st.tuples(st.just("update"), st.dictionaries(small_keys, values, max_size=3)),
        st.tuples(st.just("contains"), small_keys),
        st.tuples(st.just("len")),
        st.tuples(st.just("popitem")),
        st.tuples(st.just("clear")),
    ),
    max_size=25,
)


def apply(target: Any, op: tuple) -> Any:
    """Run one operation; return its result or the exception type it raised."""
    name, *args = op
    try:
        if name == "set":
            target[args[0]] = args[1]
            return None
        if name == "get":
            return target.get(args[0])
        if name == "getitem":
            return target[args[0]]
        if name == "del":
            del target[args[0]]
            return None
        if name == "pop":
            return target.pop(args[0])
        if name == "pop_default":
            return target.pop(args[0], args[1])
        if name == "setdefault":
            return target.setdefault(args[0], args[1])
        if name == "update":
            return target.update(args[0])
        if name == "contains":
            return args[0] in target
        if name == "len":
            return len(target)
        if name == "clear":
            return target.clear()
        raise AssertionError(name)
    except KeyError:
        return KeyError


@SETTINGS
@given(ops)
def test_cyberdict_matches_dict(proxy: cyberdb.Proxy, sequence: list[tuple]) -> None:
    if "h" in proxy.tables():
        proxy.delete_table("h")
    proxy.create_cyberdict("h")
    ours, model = proxy.get_cyberdict("h"), {}
    for op in sequence:
        if op[0] == "popitem":
            # Redis has no insertion order: any item may come out, but it must be one of the model's.
            if not model:
                with pytest.raises(KeyError):
                    ours.popitem()
                continue
            k, v = ours.popitem()
            assert k in model and model.pop(k) == v
            continue
        assert apply(ours, op) == apply(model, op), op
    assert ours.todict() == model
    assert ours == model and len(ours) == len(model)
    assert len(list(ours)) == len(model) and all(k in model for k in ours)


def test_cyberdict_survives_redis_errors_cleanly(d: cyberdb.CyberDict, client: cyberdb.Client) -> None:
    client.redis.set("cyberdb:{t}", "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        d["a"]
