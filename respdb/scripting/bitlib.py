"""The `bit` library Redis bundles (LuaBitOp 1.0.2), in Python: lupa ships no bit module.

Numbers are normalised exactly as LuaBitOp's barg() does: add 2^52+2^51 to the double and keep the
low 32 bits, so rounding, wrap-around and NaN/inf results match. A bad argument raises LuaBitOp's
"bad argument #n to 'name' (number expected, got <type>)" with the caller's position, as
luaL_argerror would.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

_MAGIC = 6755399441055744.0  # 2^52 + 2^51
_pack_double = struct.Struct("<d").pack
_unpack_u64 = struct.Struct("<Q").unpack


def _lua_number(value: Any) -> float | None:
    """lua_tonumber: numbers, and strings Lua reads as numbers (decimal, hex, exponents)."""
    cls = value.__class__
    if cls is int or cls is float:
        return float(value)
    if cls is bytes:
        text = value.strip()
        try:
            if text[:2].lower() == b"0x" or text[:3].lower() in (b"-0x", b"+0x"):
                return float(int(text, 16))
            if b"_" in text:  # Python's float() accepts digit separators, strtod does not
                return None
            return float(text)
        except ValueError:
            return None
    return None


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    cls = value.__class__
    if cls is bool:
        return "boolean"
    if cls is bytes:
        return "string"
    if cls is int or cls is float:
        return "number"
    name = cls.__name__
    if "Table" in name:
        return "table"
    if "Function" in name:
        return "function"
    if "Thread" in name:
        return "thread"
    return "userdata"


def _signed(b: int) -> int:
    return b - (1 << 32) if b & 0x80000000 else b


class BitLib:
    """The functions of `bit`; `raise_error(msg)` raises a positioned Lua error."""

    def __init__(self, raise_error: Callable[[str], Exception]) -> None:
        self.raise_error = raise_error

    def barg(self, name: str, args: tuple[Any, ...], i: int) -> int:
        value = args[i] if i < len(args) else None
        number = _lua_number(value)
        y = (number if number is not None else 0.0) + _MAGIC
        b = _unpack_u64(_pack_double(y))[0] & 0xFFFFFFFF
        if b == 0 and number is None:
            got = "no value" if i >= len(args) else _type_name(value)
            # `{name}`: the name at the call site (luaL_argerror), filled in by the engine.
            raise self.raise_error(f"bad argument #{i + 1} to '{{name}}' (number expected, got {got})")
        return b

    def functions(self) -> dict[bytes, Callable[..., Any]]:
        def tobit(*args: Any) -> int:
            return _signed(self.barg("tobit", args, 0))

        def bnot(*args: Any) -> int:
            return _signed(~self.barg("bnot", args, 0) & 0xFFFFFFFF)

        def reducer(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
            def run(*args: Any) -> int:
                b = self.barg(name, args, 0)
                for i in range(1, len(args)):
                    b = op(b, self.barg(name, args, i))
                return _signed(b)

            return run

        def shifter(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
            def run(*args: Any) -> int:
                b = self.barg(name, args, 0)
                n = self.barg(name, args, 1) & 31
                return _signed(op(b, n) & 0xFFFFFFFF)

            return run

        def arshift(b: int, n: int) -> int:
            return _signed(b) >> n

        def rol(b: int, n: int) -> int:
            return (b << n) | (b >> (32 - n)) if n else b

        def ror(b: int, n: int) -> int:
            return (b >> n) | (b << (32 - n)) if n else b

        def bswap(*args: Any) -> int:
            b = self.barg("bswap", args, 0)
            return _signed(int.from_bytes(b.to_bytes(4, "little"), "big"))

        def tohex(*args: Any) -> bytes:
            b = self.barg("tohex", args, 0)
            n = 8 if len(args) < 2 else _signed(self.barg("tohex", args, 1))
            digits = "0123456789abcdef"
            if n < 0:
                n = -n
                digits = digits.upper()
            n = min(n, 8)
            out = []
            for _ in range(n):
                out.append(digits[b & 15])
                b >>= 4
            return "".join(reversed(out)).encode()

        return {
            b"tobit": tobit,
            b"bnot": bnot,
            b"band": reducer("band", lambda a, b: a & b),
            b"bor": reducer("bor", lambda a, b: a | b),
            b"bxor": reducer("bxor", lambda a, b: a ^ b),
            b"lshift": shifter("lshift", lambda b, n: b << n),
            b"rshift": shifter("rshift", lambda b, n: b >> n),
            b"arshift": shifter("arshift", arshift),
            b"rol": shifter("rol", rol),
            b"ror": shifter("ror", ror),
            b"bswap": bswap,
            b"tohex": tohex,
        }
