"""The `cmsgpack` library Redis bundles (lua-cmsgpack 0.4.0 for Lua 5.1), in Python.

pack(...) encodes each argument and concatenates them: integral numbers that fit int64 as the
smallest integer type, other numbers as float32 when exact else float64, strings as fixstr/str8/16/32,
a table whose keys are exactly the numbers 1..n as an array (read with #t and t[i]) and any other
table as a map in lua_next order, tables nested 16 deep as nil. unpack/unpack_one/unpack_limit
decode with the same 5.1 quirks (uint64 values pass through a signed lua_Integer) and error texts.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from lupa import lua51

from respdb.scripting.bitlib import _type_name

MAX_NESTING = 16
INT_MAX = 2**31 - 1


class MsgpackError(Exception):
    """A luaL_error raised by lua-cmsgpack (the engine adds the caller's position)."""


def _encode_int(n: int) -> bytes:
    if n >= 0:
        if n <= 127:
            return bytes([n])
        if n <= 0xFF:
            return b"\xcc" + bytes([n])
        if n <= 0xFFFF:
            return b"\xcd" + n.to_bytes(2, "big")
        if n <= 0xFFFFFFFF:
            return b"\xce" + n.to_bytes(4, "big")
        return b"\xcf" + n.to_bytes(8, "big")
    if n >= -32:
        return bytes([n & 0xFF])
    if n >= -128:
        return b"\xd0" + (n & 0xFF).to_bytes(1, "big")
    if n >= -32768:
        return b"\xd1" + (n & 0xFFFF).to_bytes(2, "big")
    if n >= -(2**31):
        return b"\xd2" + (n & 0xFFFFFFFF).to_bytes(4, "big")
    return b"\xd3" + (n & (2**64 - 1)).to_bytes(8, "big")


def _encode_number(n: float) -> bytes:
    if math.isfinite(n) and -(2**63) <= n < 2**63 and int(n) == n:  # IS_INT64_EQUIVALENT
        return _encode_int(int(n))
    try:
        as_float = struct.unpack(">f", struct.pack(">f", n))[0]
    except OverflowError:  # (float) of a double beyond float range: inf, never equal
        as_float = None
    if as_float is not None and as_float == n:  # NaN never compares equal: float64, as in C
        return b"\xca" + struct.pack(">f", n)
    return b"\xcb" + struct.pack(">d", n)


def _encode_bytes(s: bytes) -> bytes:
    n = len(s)
    if n < 32:
        return bytes([0xA0 | n]) + s
    if n <= 0xFF:
        return b"\xd9" + bytes([n]) + s
    if n <= 0xFFFF:
        return b"\xda" + n.to_bytes(2, "big") + s
    return b"\xdb" + (n & 0xFFFFFFFF).to_bytes(4, "big") + s


def _header(kind_fix: int, kind16: int, n: int) -> bytes:
    if n <= 15:
        return bytes([kind_fix | n])
    if n <= 65535:
        return bytes([kind16]) + n.to_bytes(2, "big")
    return bytes([kind16 + 1]) + (n & 0xFFFFFFFF).to_bytes(4, "big")


class Cmsgpack:
    """cmsgpack functions bound to one Lua runtime (`length` is Lua's # on a table)."""

    def __init__(
        self, raise_error: Callable[[str], Exception], new_table: Callable[[], Any], length: Callable[[Any], int],
        see_through: Callable[[Any], Any],
    ) -> None:
        self.see_through = see_through  # a readonly proxy encodes as the table behind it
        self.raise_error = raise_error
        self.new_table = new_table
        self.length = length

    # --- pack -----------------------------------------------------------------------------------
    def pack(self, *args: Any) -> bytes:
        if not args:
            raise self.raise_error("bad argument #0 to '{name}' (MessagePack pack needs input.)")
        out: list[bytes] = []
        for value in args:
            self._encode(value, 0, out)
        return b"".join(out)

    def _encode(self, value: Any, level: int, out: list[bytes]) -> None:
        cls = value.__class__
        if cls is bytes:
            out.append(_encode_bytes(value))
        elif cls is bool:
            out.append(b"\xc3" if value else b"\xc2")
        elif cls is int or cls is float:
            out.append(_encode_number(value))
        elif value is not None and lua51.lua_type(value) == "table" and level != MAX_NESTING:
            value = self.see_through(value)
            if self._is_array(value):
                n = self.length(value)
                out.append(_header(0x90, 0xDC, n))
                for i in range(1, n + 1):
                    self._encode(value[i], level + 1, out)
            else:
                items = list(value.items())
                out.append(_header(0x80, 0xDE, len(items)))
                for key, item in items:
                    self._encode(key, level + 1, out)
                    self._encode(item, level + 1, out)
        else:
            out.append(b"\xc0")

    @staticmethod
    def _is_array(table: Any) -> bool:
        """table_is_an_array: only number keys, each a positive C int, and max == count."""
        count = largest = 0
        for key in table:
            if key.__class__ not in (int, float) or key <= 0 or not (key < 2**31 and int(key) == key):
                return False
            largest = max(largest, int(key))
            count += 1
        return largest == count

    # --- unpack ---------------------------------------------------------------------------------
    def _data(self, args: tuple[Any, ...]) -> bytes:
        value = args[0] if args else None
        if value.__class__ is bytes:
            return value
        if value.__class__ in (int, float):
            return b"%.14g" % value
        got = "no value" if not args else _type_name(value)
        raise self.raise_error(f"bad argument #1 to '{{name}}' (string expected, got {got})")

    def _int_arg(self, args: tuple[Any, ...], i: int, default: int | None) -> int:
        value = args[i] if i < len(args) else None
        if value is None and default is not None:
            return default
        if value.__class__ is bytes:
            try:
                value = float(value)
            except ValueError:
                value = None
        if value.__class__ not in (int, float) or value is None:
            got = "no value" if i >= len(args) else _type_name(args[i])
            raise self.raise_error(f"bad argument #{i + 1} to '{{name}}' (number expected, got {got})")
        return int(value) if math.isfinite(value) else -(2**31)

    def unpack(self, *args: Any) -> tuple[Any, ...]:
        return self._unpack_full(self._data(args), 0, 0)

    def unpack_one(self, *args: Any) -> tuple[Any, ...]:
        offset = self._int_arg(args, 1, 0)
        return self._unpack_full(self._data(args), 1, offset)

    def unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        limit = self._int_arg(args, 1, None)
        offset = self._int_arg(args, 2, 0)
        return self._unpack_full(self._data(args), limit, offset)

    def _unpack_full(self, data: bytes, limit: int, offset: int) -> tuple[Any, ...]:
        decode_all = limit == 0 and offset == 0
        if offset < 0 or limit < 0:
            # lua-cmsgpack prints the input length where it means the limit.
            raise self.raise_error(f"Invalid request to unpack with offset of {offset} and limit of {len(data)}.")
        if offset > len(data):
            raise self.raise_error(f"Start offset {offset} greater than input length {len(data)}.")
        if decode_all:
            limit = INT_MAX
        cursor = _Cursor(data, offset, self.new_table)
        values: list[Any] = []
        while cursor.pos < len(data) and len(values) < limit:
            try:
                values.append(cursor.decode())
            except MsgpackError as exc:
                raise self.raise_error(str(exc)) from None
        if not decode_all:
            values.insert(0, -1 if cursor.pos >= len(data) else cursor.pos)
        return tuple(values)

    def functions(self) -> dict[bytes, Any]:
        return {b"pack": self.pack, b"unpack": self.unpack, b"unpack_one": self.unpack_one, b"unpack_limit": self.unpack_limit}


class _Cursor:
    def __init__(self, data: bytes, pos: int, new_table: Callable[[], Any]) -> None:
        self.data = data
        self.pos = pos
        self.new_table = new_table

    def need(self, n: int) -> None:
        if len(self.data) - self.pos < n:
            raise MsgpackError("Missing bytes in input.")

    def take(self, n: int) -> bytes:
        self.need(n)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def decode(self) -> Any:
        self.need(1)
        tag = self.data[self.pos]
        self.pos += 1
        if tag <= 0x7F:
            return tag
        if tag >= 0xE0:
            return tag - 256
        if 0xA0 <= tag <= 0xBF:
            return self.take(tag & 0x1F)
        if 0x90 <= tag <= 0x9F:
            return self.array(tag & 0x0F)
        if 0x80 <= tag <= 0x8F:
            return self.map(tag & 0x0F)
        if tag == 0xC0:
            return None
        if tag == 0xC2:
            return False
        if tag == 0xC3:
            return True
        if tag == 0xCC:
            return self.uint(1)
        if tag == 0xCD:
            return self.uint(2)
        if tag == 0xCE:
            return self.uint(4)
        if tag == 0xCF:
            value = self.uint(8)  # lua_pushunsigned is lua_pushinteger in 5.1: signed
            return value - 2**64 if value >= 2**63 else value
        if tag in (0xD0, 0xD1, 0xD2, 0xD3):
            size = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[tag]
            return int.from_bytes(self.take(size), "big", signed=True)
        if tag == 0xCA:
            return struct.unpack(">f", self.take(4))[0]
        if tag == 0xCB:
            return struct.unpack(">d", self.take(8))[0]
        if tag == 0xD9:
            return self.take(self.uint(1))
        if tag == 0xDA:
            return self.take(self.uint(2))
        if tag == 0xDB:
            return self.take(self.uint(4))
        if tag == 0xDC:
            return self.array(self.uint(2))
        if tag == 0xDD:
            return self.array(self.uint(4))
        if tag == 0xDE:
            return self.map(self.uint(2))
        if tag == 0xDF:
            return self.map(self.uint(4))
        self.pos -= 1
        raise MsgpackError("Bad data format in input.")

    def array(self, n: int) -> Any:
        table = self.new_table()
        for i in range(1, n + 1):
            table[i] = self.decode()
        return table

    def map(self, n: int) -> Any:
        table = self.new_table()
        for _ in range(n):
            key = self.decode()
            value = self.decode()
            if key is None:
                raise MsgpackError("table index is nil")
            table[key] = value
        return table
