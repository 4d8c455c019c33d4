"""Value serialization shared by DUMP/RESTORE, .cdb snapshots and the AOF preamble.

A value is written as a one-byte type tag followed by a length-prefixed, columnar body: all element
lengths first (one `array` of u32, or u64 when an element is >= 4 GiB), then the elements concatenated.
Decoding is a handful of C-speed operations per value (array.frombytes, itertools.accumulate, slicing)
instead of a Python loop per byte, which is what makes loading a million keys take seconds.

Nothing here evaluates or unpickles anything: a hostile input can only raise `CorruptData`. Every count
is checked against the bytes that remain before anything is allocated, and nested plain data (stream
state) has a depth limit.
"""

from __future__ import annotations

import struct
import sys
from array import array
from itertools import accumulate, chain
from typing import Any

from respdb.storage.quicklist import QuickList

T_STRING, T_HASH, T_LIST, T_SET, T_ZSET, T_STREAM = 0, 1, 2, 3, 4, 5
_WIDE = 0x80  # tag bit: the length array is u64, not u32
_BIG = sys.byteorder == "big"  # arrays are written little-endian
_U32_MAX = 0xFFFFFFFF
_U64 = struct.Struct("<Q")
_TAG_COUNT = struct.Struct("<BQ")
MAX_DEPTH = 64


class CorruptData(ValueError):
    """The bytes are not a valid encoding (bad tag, count past the end, empty collection...)."""


def _zset_class() -> Any:
    from respdb.storage.zset import ZSet  # imported late: written by the data-types work

    return ZSet


def _stream_class() -> Any:
    from respdb.storage.stream import Stream

    return Stream


# --- length arrays --------------------------------------------------------------------------------
def lengths(items: Any) -> tuple[bytes, bool]:
    """(little-endian length array bytes, wide?) for a sequence of bytes objects."""
    lens = array("I")
    try:
        lens.fromlist(list(map(len, items)))
        wide = False
    except OverflowError:
        lens = array("Q", map(len, items))
        wide = True
    if _BIG:
        lens.byteswap()
    return lens.tobytes(), wide


def pack_blobs(items: list[bytes], out: list[bytes]) -> bool:
    """Append the length array and the concatenated items to `out`; returns whether it is wide."""
    lens, wide = lengths(items)
    out.append(lens)
    out.append(b"".join(items))
    return wide


class Reader:
    """A cursor over a bytes buffer; every read checks bounds and raises CorruptData past the end."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def take(self, n: int) -> bytes:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise CorruptData("unexpected end of data")
        self.pos = pos + n
        return self.buf[pos : pos + n]

    def u8(self) -> int:
        if self.pos >= self.end:
            raise CorruptData("unexpected end of data")
        self.pos += 1
        return self.buf[self.pos - 1]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def count(self, min_bytes_each: int) -> int:
        """An element count, refused when the remaining bytes cannot hold that many elements."""
        n = self.u64()
        if n * min_bytes_each > self.end - self.pos:
            raise CorruptData("element count exceeds the data")
        return n

    def blobs(self, n: int, wide: bool) -> list[bytes]:
        """n length-prefixed items written by pack_blobs."""
        lens = array("Q" if wide else "I")
        lens.frombytes(self.take(n * lens.itemsize))
        if _BIG:
            lens.byteswap()
        ends = list(accumulate(lens))
        total = ends[-1] if ends else 0
        blob = self.take(total)
        starts = [0, *ends[:-1]] if ends else []
        return [blob[s:e] for s, e in zip(starts, ends, strict=True)]


# --- values ---------------------------------------------------------------------------------------
def encode_value(value: Any, out: list[bytes]) -> None:
    """Append the encoding of one keyspace value (tag + body) to `out`."""
    cls = value.__class__
    if cls is bytes:
        if len(value) > _U32_MAX:
            out.append(_TAG_COUNT.pack(T_STRING | _WIDE, len(value)))
        else:
            out.append(_TAG_COUNT.pack(T_STRING, len(value)))
        out.append(value)
        return
    if cls is dict:
        items = list(chain.from_iterable(value.items()))
        tag, count = T_HASH, len(value)
    elif cls is QuickList:
        items, tag, count = list(value), T_LIST, len(value)
    elif cls is set:
        items, tag, count = list(value), T_SET, len(value)
    elif cls.__name__ == "ZSet":
        pairs = list(value.items())
        members = [m for m, _ in pairs]
        scores = array("d", [s for _, s in pairs])
        if _BIG:
            scores.byteswap()
        body: list[bytes] = []
        wide = pack_blobs(members, body)
        out.append(_TAG_COUNT.pack(T_ZSET | (_WIDE if wide else 0), len(pairs)))
        out.extend(body)
        out.append(scores.tobytes())
        return
    elif cls.__name__ == "Stream":
        out.append(_TAG_COUNT.pack(T_STREAM, 0))
        encode_plain(value.to_state(), out)
        return
    else:
        raise TypeError(f"cannot serialize a {cls.__name__}")
    body = []
    wide = pack_blobs(items, body)
    out.append(_TAG_COUNT.pack(tag | (_WIDE if wide else 0), count))
    out.extend(body)


def decode_value(r: Reader) -> Any:
    """Read one value written by encode_value. Empty collections are refused, as Redis refuses them."""
    tag = r.u8()
    wide = bool(tag & _WIDE)
    tag &= ~_WIDE
    if tag == T_STRING:
        return r.take(r.u64())
    if tag == T_STREAM:
        r.u64()
        try:
            return _stream_class().from_state(decode_plain(r, 0))
        except CorruptData:
            raise
        except Exception as exc:  # a crafted state the Stream class rejects: still just bad data
            raise CorruptData(f"invalid stream: {exc}") from None
    if tag not in (T_HASH, T_LIST, T_SET, T_ZSET):
        raise CorruptData(f"unknown value type {tag}")
    width = 8 if wide else 4
    n = r.count(width * (2 if tag == T_HASH else 1))
    if n == 0:
        raise CorruptData("empty collection")
    if tag == T_HASH:
        items = r.blobs(2 * n, wide)
        value: Any = dict(zip(items[::2], items[1::2], strict=True))
        if len(value) != n:
            raise CorruptData("duplicate hash field")
        return value
    items = r.blobs(n, wide)
    if tag == T_LIST:
        return QuickList.from_list(items)
    if tag == T_SET:
        value = set(items)
        if len(value) != n:
            raise CorruptData("duplicate set member")
        return value
    scores = array("d")
    scores.frombytes(r.take(8 * n))
    if _BIG:
        scores.byteswap()
    if any(s != s for s in scores) or len(set(items)) != n:
        raise CorruptData("invalid sorted set")
    return _zset_class().from_items(list(zip(items, scores, strict=True)))


# --- plain data (stream state) --------------------------------------------------------------------
# Tags: N None, T/F bools, I int (signed, length-prefixed two's complement), D float, B bytes, S str,
# L list, U tuple, M dict.
def encode_plain(obj: Any, out: list[bytes]) -> None:
    cls = obj.__class__
    if obj is None:
        out.append(b"N")
    elif cls is bool:
        out.append(b"T" if obj else b"F")
    elif cls is int:
        raw = obj.to_bytes((obj.bit_length() + 8) // 8 or 1, "little", signed=True)
        out.append(b"I" + _U64.pack(len(raw)) + raw)
    elif cls is float:
        out.append(b"D" + struct.pack("<d", obj))
    elif cls is bytes:
        out.append(b"B" + _U64.pack(len(obj)))
        out.append(obj)
    elif cls is str:
        raw = obj.encode("utf-8", "surrogatepass")
        out.append(b"S" + _U64.pack(len(raw)))
        out.append(raw)
    elif cls is list or cls is tuple:
        out.append((b"L" if cls is list else b"U") + _U64.pack(len(obj)))
        for item in obj:
            encode_plain(item, out)
    elif cls is dict:
        out.append(b"M" + _U64.pack(len(obj)))
        for k, v in obj.items():
            encode_plain(k, out)
            encode_plain(v, out)
    else:
        raise TypeError(f"cannot serialize plain data of type {cls.__name__}")


def decode_plain(r: Reader, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CorruptData("nesting too deep")
    tag = r.u8()
    if tag == 0x4E:  # N
        return None
    if tag == 0x54:  # T
        return True
    if tag == 0x46:  # F
        return False
    if tag == 0x49:  # I
        n = r.u64()
        if n > 1024:
            raise CorruptData("integer too long")
        return int.from_bytes(r.take(n), "little", signed=True)
    if tag == 0x44:  # D
        return struct.unpack("<d", r.take(8))[0]
    if tag == 0x42:  # B
        return r.take(r.u64())
    if tag == 0x53:  # S
        try:
            return r.take(r.u64()).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise CorruptData("invalid text") from None
    if tag in (0x4C, 0x55):  # L, U
        n = r.count(1)
        items = [decode_plain(r, depth + 1) for _ in range(n)]
        return items if tag == 0x4C else tuple(items)
    if tag == 0x4D:  # M
        n = r.count(2)
        out = {}
        for _ in range(n):
            k = decode_plain(r, depth + 1)
            v = decode_plain(r, depth + 1)
            try:
                out[k] = v
            except TypeError:
                raise CorruptData("unhashable map key") from None
        return out
    raise CorruptData(f"unknown plain-data tag {tag}")
