"""The value codec on its own: exact round trips (types included), readable strings, no pickle."""

from __future__ import annotations

import math
from typing import Any

import pytest
from cyberdb.codec import decode, encode, encode_key
from hypothesis import given, settings

from tests.compat.strategies import hashables, values


def shape(x: Any) -> Any:
    """A comparable, type-exact fingerprint: equal only when the values and all their types match."""
    cls = type(x)
    if cls in (list, tuple):
        return (cls.__name__, [shape(v) for v in x])
    if cls is dict:
        return ("dict", sorted((repr(shape(k)), shape(v)) for k, v in x.items()))
    if cls in (set, frozenset):
        return (cls.__name__, sorted(repr(shape(v)) for v in x))
    if cls is float:
        return ("float", repr(x))
    if cls is int:
        return ("int", hex(x))  # repr() refuses ints past 4300 digits
    return (cls.__name__, repr(x))


@settings(max_examples=100, deadline=None)
@given(values)
def test_codec_round_trip_exact(value: Any) -> None:
    assert shape(decode(encode(value))) == shape(value)


@pytest.mark.parametrize("value", [0, "", False, [], {}, (), None, 0.0, -0.0, b"", set(), frozenset(), 10**40,
                                   math.inf, -math.inf, "\udc80", {"\x00t": 1}, {1: "a", "1": "b"}, [(1,), [1]]])
def test_codec_falsy_and_edge_values_survive(value: Any) -> None:
    assert shape(decode(encode(value))) == shape(value)


def test_codec_ints_past_pythons_decimal_limit() -> None:
    for value in [10**5000, -(2**20000), [10**5000, {"k": 10**6000}], (10**4999,)]:
        assert shape(decode(encode(value))) == shape(value)
    assert encode(10**5000)[:2] == b"\xffx"


def test_codec_nan_round_trips() -> None:
    assert math.isnan(decode(encode(math.nan)))


def test_codec_str_is_plain_utf8() -> None:
    assert encode("Hello CyberDB!") == b"Hello CyberDB!"
    assert encode("日本") == "日本".encode()
    assert encode("") == b""


def test_codec_other_types_are_tagged_and_cannot_look_like_text() -> None:
    for value in [b"Hello", 1, 1.5, True, None, [1], {"a": 1}]:
        data = encode(value)
        assert data[0] == 0xFF
        with pytest.raises(UnicodeDecodeError):
            data.decode()


def test_codec_foreign_plain_text_reads_as_str_and_binary_as_bytes() -> None:
    assert decode(b"written by redis-cli") == "written by redis-cli"
    assert decode(b"\x80\x81") == b"\x80\x81"


def test_codec_refuses_unknown_types() -> None:
    class Custom:
        pass

    with pytest.raises(TypeError, match="cannot store values of type 'Custom'"):
        encode(Custom())
    with pytest.raises(TypeError):
        encode(bytearray(b"x"))


@settings(max_examples=100, deadline=None)
@given(hashables, hashables)
def test_codec_equal_keys_share_one_field(a: Any, b: Any) -> None:
    if a == b:
        assert encode_key(a) == encode_key(b)
    else:
        assert encode_key(a) != encode_key(b)


def test_codec_unhashable_key_raises_type_error() -> None:
    with pytest.raises(TypeError):
        encode_key([1])
