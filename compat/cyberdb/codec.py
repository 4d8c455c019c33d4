"""The value codec: Python values <-> the bytes stored in Redis hash fields and list elements.

Layout (documented for other Redis clients in docs/compat.md):
- `str` is stored as its plain UTF-8 bytes, so `redis-cli HGET` shows it as written.
- Every other value starts with the byte 0xFF, which never occurs in valid UTF-8, so a stored value can
  never be mistaken for a string and no string needs escaping. The next byte is a type tag:
  `b` bytes (raw), `i` int (decimal), `f` float (`repr`, so inf/nan/-0.0 round-trip), `T`/`F` bool,
  `N` None, `x` an int of more than 14000 bits (hex: Python limits decimal conversion), `s` a str that is not valid UTF-8 (lone surrogates, stored with `surrogatepass`),
  `j` a container (list/tuple/dict/set/frozenset, nested) as JSON with tagged objects (see `_to_tree`).
No pickle: decoding never constructs anything but built-in values, so data read from Redis cannot run code.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

TAG = 0xFF
_PREFIX = b"\xff"
_NONE = b"\xffN"
_TRUE = b"\xffT"
_FALSE = b"\xffF"

# JSON objects whose single key starts with NUL are tagged values; a plain dict whose keys are all str
# and none starts with NUL is stored as a JSON object, every other dict as a tagged list of pairs.
_T_TUPLE = "\x00t"
_T_DICT = "\x00d"
_T_BYTES = "\x00b"
_T_SET = "\x00s"
_T_FROZENSET = "\x00f"
_T_BIGINT = "\x00x"
# Python refuses int <-> decimal str conversions past 4300 digits (CVE-2020-10735); bigger ints use hex.
_BIG_BITS = 14000

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _to_tree(value: Any) -> Any:
    """Turn a value into something json can write, with NUL-tagged objects for what JSON lacks."""
    cls = value.__class__
    if cls is int and value.bit_length() > _BIG_BITS:
        return {_T_BIGINT: hex(value)}
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is list:
        return [_to_tree(v) for v in value]
    if cls is tuple:
        return {_T_TUPLE: [_to_tree(v) for v in value]}
    if cls is dict:
        if all(k.__class__ is str and not k.startswith("\x00") for k in value):
            return {k: _to_tree(v) for k, v in value.items()}
        return {_T_DICT: [[_to_tree(k), _to_tree(v)] for k, v in value.items()]}
    if cls is bytes:
        return {_T_BYTES: base64.b64encode(value).decode("ascii")}
    if cls is set or cls is frozenset:
        # Sorted by encoding so equal sets always encode to equal bytes (frozensets can be dict keys).
        items = sorted((_to_tree(v) for v in value), key=lambda t: _encoder.encode(t))
        return {(_T_SET if cls is set else _T_FROZENSET): items}
    raise TypeError(f"cyberdb cannot store values of type {cls.__name__!r}")


def _from_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, inner),) = obj.items()
        if key.startswith("\x00"):
            if key == _T_TUPLE:
                return tuple(inner)
            if key == _T_DICT:
                return {k: v for k, v in inner}
            if key == _T_BYTES:
                return base64.b64decode(inner)
            if key == _T_SET:
                return set(inner)
            if key == _T_FROZENSET:
                return frozenset(inner)
            if key == _T_BIGINT:
                return int(inner, 16)
            raise ValueError(f"unknown cyberdb tag {key!r}")
    return obj


_decoder = json.JSONDecoder(object_hook=_from_object)


def encode(value: Any) -> bytes:
    """Encode one value for storage (a hash field value or a list element)."""
    cls = value.__class__
    if cls is str:
        try:
            return value.encode()
        except UnicodeEncodeError:
            return b"\xffs" + value.encode("utf-8", "surrogatepass")
    if cls is bytes:
        return b"\xffb" + value
    if cls is int:
        if value.bit_length() > _BIG_BITS:
            return b"\xffx" + hex(value).encode()
        return b"\xffi" + str(value).encode()
    if cls is bool:
        return _TRUE if value else _FALSE
    if value is None:
        return _NONE
    if cls is float:
        return b"\xfff" + repr(value).encode()
    return b"\xffj" + _encoder.encode(_to_tree(value)).encode("utf-8", "surrogatepass")


def decode(data: bytes) -> Any:
    """Decode bytes written by `encode` (or by any client writing plain UTF-8 text)."""
    if not data or data[0] != TAG:
        try:
            return data.decode()
        except UnicodeDecodeError:
            # Written by another client as raw binary: hand it back as bytes rather than fail the read.
            return bytes(data)
    tag = data[1:2]
    if tag == b"b":
        return data[2:]
    if tag == b"i":
        return int(data[2:])
    if tag == b"f":
        return float(data[2:])
    if tag == b"x":
        return int(data[2:], 16)
    if tag == b"T":
        return True
    if tag == b"F":
        return False
    if tag == b"N":
        return None
    if tag == b"j":
        return _decoder.decode(data[2:].decode("utf-8", "surrogatepass"))
    if tag == b"s":
        return data[2:].decode("utf-8", "surrogatepass")
    raise ValueError(f"not a cyberdb value: {data[:16]!r}")


def canonical_key(key: Any) -> Any:
    """The form of a dict key that equal keys share: Python treats True, 1 and 1.0 as one key, so do we."""
    cls = key.__class__
    if cls is bool:
        return int(key)
    if cls is float and math.isfinite(key) and key.is_integer():
        return int(key)
    if cls is tuple:
        return tuple(canonical_key(k) for k in key)
    if cls is frozenset:
        return frozenset(canonical_key(k) for k in key)
    return key


def encode_key(key: Any) -> bytes:
    """Encode a CyberDict key as a hash field. Unhashable keys raise TypeError, as with dict."""
    if key.__class__ is str:
        return encode(key)
    hash(key)
    return encode(canonical_key(key))


def encoded_items(mapping: Any) -> list[bytes]:
    """field1, value1, field2, value2, ... for HSET, later duplicates of a key winning as in dict.update."""
    merged: dict[bytes, bytes] = {}
    pairs = mapping.items() if hasattr(mapping, "keys") else mapping
    for k, v in pairs:
        merged[encode_key(k)] = encode(v)
    out: list[bytes] = []
    for f, v in merged.items():
        out.append(f)
        out.append(v)
    return out
