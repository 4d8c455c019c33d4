"""The `struct` library Redis bundles (struct.c 1.8 by Roberto Ierusalimschy: pack, unpack, size),
in Python.

Sizes are those of Redis's x86-64 build (short 2, int 4, long and size_t 8, float 4, double 8,
native little endian, maximum alignment 8, integers up to 32 bytes), and the C behaviour is kept:
integers wider than 8 bytes pad with zeros when packing, `(long)n` of an out-of-range number is
LONG_MIN, and the "string too short" check names the argument after the string, as the C code does.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from respdb.scripting.bitlib import _lua_number, _type_name

_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
MAXINTSIZE = 32
INT_MAX = 2**31 - 1
MAXALIGN = 8
_MASK64 = (1 << 64) - 1


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


class StructLib:
    """struct.pack / struct.unpack; `raise_error(msg)` raises a positioned Lua error."""

    def __init__(self, raise_error: Callable[[str], Exception]) -> None:
        self.raise_error = raise_error

    # --- helpers --------------------------------------------------------------------------------
    def _check_string(self, args: tuple[Any, ...], i: int, missing: str = "no value") -> bytes:
        value = args[i] if i < len(args) else None
        cls = value.__class__
        if cls is bytes:
            return value
        if cls is int or cls is float:
            return b"%.14g" % value
        got = missing if i >= len(args) else _type_name(value)
        raise self.raise_error(f"bad argument #{i + 1} to '{{name}}' (string expected, got {got})")

    def _check_number(self, args: tuple[Any, ...], i: int, missing: str = "no value") -> float:
        value = args[i] if i < len(args) else None
        number = _lua_number(value)
        if number is None:
            got = missing if i >= len(args) else _type_name(value)
            raise self.raise_error(f"bad argument #{i + 1} to '{{name}}' (number expected, got {got})")
        return number

    def _getnum(self, fmt: bytes, pos: int, default: int) -> tuple[int, int]:
        if pos >= len(fmt) or not 48 <= fmt[pos] <= 57:
            return default, pos
        value = 0
        while pos < len(fmt) and 48 <= fmt[pos] <= 57:
            digit = fmt[pos] - 48
            if value > INT_MAX // 10 or value * 10 > INT_MAX - digit:
                raise self.raise_error("integral size overflow")
            value = value * 10 + digit
            pos += 1
        return value, pos

    def _optsize(self, opt: str, fmt: bytes, pos: int) -> tuple[int, int]:
        if opt in _SIZES:
            return _SIZES[opt], pos
        if opt == "c":
            return self._getnum(fmt, pos, 1)
        if opt in "iI":
            size, pos = self._getnum(fmt, pos, 4)
            if size > MAXINTSIZE:
                raise self.raise_error(f"integral size {size} is larger than limit of {MAXINTSIZE}")
            return size, pos
        return 0, pos  # other options need no alignment

    @staticmethod
    def _toalign(length: int, align: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        size = min(size, align)
        return (size - (length & (size - 1))) & (size - 1)

    def _control(self, opt: str, fmt: bytes, pos: int, state: dict[str, int]) -> int:
        """controloptions: endianness, alignment, spaces; anything else is an invalid option."""
        if opt == " ":
            return pos
        if opt == ">":
            state["little"] = 0
        elif opt == "<":
            state["little"] = 1
        elif opt == "!":
            align, pos = self._getnum(fmt, pos, MAXALIGN)
            if not _is_pow2(align):
                raise self.raise_error(f"alignment {align} is not a power of 2")
            state["align"] = align
        else:
            raise self.raise_error(f"bad argument #1 to '{{name}}' (invalid format option '{opt}')")
        return pos

    # --- pack / unpack --------------------------------------------------------------------------
    def pack(self, *args: Any) -> bytes:
        fmt = self._check_string(args, 0)
        state = {"little": 1, "align": 1}
        out = bytearray()
        arg = 1
        pos = 0
        total = 0
        while pos < len(fmt):
            opt = chr(fmt[pos])
            pos += 1
            size, pos = self._optsize(opt, fmt, pos)
            pad = self._toalign(total, state["align"], opt, size)
            total += pad
            out += b"\x00" * pad
            if opt in "bBhHlLTiI":
                n = self._check_number(args, arg, "nil")
                arg += 1
                if n < 0:  # (Uinttype)(Inttype)n; out of range gives LONG_MIN on x86
                    value = int(n) if n >= -(2**63) else -(2**63)
                else:  # (Uinttype)n
                    value = int(n) if math.isfinite(n) and n < 2**64 else 0
                raw = (value & _MASK64).to_bytes(8, "little").ljust(size, b"\x00")[:size]
                out += raw if state["little"] else raw[::-1]
            elif opt == "x":
                out += b"\x00"
            elif opt in "fd":
                n = self._check_number(args, arg, "nil")
                arg += 1
                code = ("<" if state["little"] else ">") + opt
                if opt == "f" and math.isfinite(n) and abs(n) > 3.4028234663852886e38:
                    n = math.copysign(math.inf, n)  # (float) of a too-large double
                out += struct.pack(code, n)
            elif opt in "cs":
                data = self._check_string(args, arg, "nil")
                arg += 1
                if size == 0:
                    size = len(data)
                if len(data) < size:
                    raise self.raise_error(f"bad argument #{arg + 1} to '{{name}}' (string too short)")
                out += data[:size]
                if opt == "s":
                    out += b"\x00"
                    size += 1
            else:
                pos = self._control(opt, fmt, pos, state)
            total += size
        return bytes(out)

    def unpack(self, *args: Any) -> tuple[Any, ...]:
        fmt = self._check_string(args, 0)
        data = self._check_string(args, 1)
        start = 1
        if len(args) > 2 and args[2] is not None:
            start = int(self._check_number(args, 2))
        if start < 1:
            raise self.raise_error("bad argument #3 to '{name}' (offset must be 1 or greater)")
        pos = start - 1
        state = {"little": 1, "align": 1}
        results: list[Any] = []
        i = 0
        while i < len(fmt):
            opt = chr(fmt[i])
            i += 1
            size, i = self._optsize(opt, fmt, i)
            pos += self._toalign(pos, state["align"], opt, size)
            if pos + size > len(data):
                raise self.raise_error("bad argument #2 to '{name}' (data string too short)")
            if opt in "bBhHlLTiI":
                results.append(self._getinteger(data, pos, state["little"], opt.islower(), size))
            elif opt in "fd":
                code = ("<" if state["little"] else ">") + opt
                results.append(struct.unpack(code, data[pos:pos + size])[0])
            elif opt == "c":
                if size == 0:
                    previous = _lua_number(results[-1]) if results else None
                    if previous is None:
                        raise self.raise_error("format 'c0' needs a previous size")
                    size = int(previous)
                    results.pop()
                    if pos + size > len(data):
                        raise self.raise_error("bad argument #2 to '{name}' (data string too short)")
                results.append(data[pos:pos + size])
            elif opt == "s":
                end = data.find(b"\x00", pos)
                if end < 0:
                    raise self.raise_error("unfinished string in data")
                size = end - pos + 1
                results.append(data[pos:end])
            elif opt != "x":
                i = self._control(opt, fmt, i, state)
            pos += size
        results.append(pos + 1)
        return tuple(results)

    @staticmethod
    def _getinteger(data: bytes, pos: int, little: int, signed: bool, size: int) -> float:
        chunk = data[pos:pos + size]
        value = int.from_bytes(chunk, "little" if little else "big") & _MASK64  # `l <<= 8` keeps 64 bits
        if not signed:
            return float(value)
        mask = (_MASK64 << ((size * 8 - 1) & 63)) & _MASK64  # x86 masks the shift count
        if value & mask:
            value |= mask
        if value >= 2**63:
            value -= 2**64
        return float(value)

    def size(self, *args: Any) -> int:
        fmt = self._check_string(args, 0)
        state = {"little": 1, "align": 1}
        pos = total = 0
        while pos < len(fmt):
            opt = chr(fmt[pos])
            pos += 1
            size, pos = self._optsize(opt, fmt, pos)
            total += self._toalign(total, state["align"], opt, size)
            if opt == "s":
                raise self.raise_error("bad argument #1 to '{name}' (option 's' has no fixed size)")
            if opt == "c" and size == 0:
                raise self.raise_error("bad argument #1 to '{name}' (option 'c0' has no fixed size)")
            if not opt.isalnum():
                pos = self._control(opt, fmt, pos, state)
            total += size
        return total

    def functions(self) -> dict[bytes, Callable[..., Any]]:
        return {b"pack": self.pack, b"unpack": self.unpack, b"size": self.size}
