"""Conversions between the host and Lua for scripts: command replies into the Lua values
redisProtocolToLuaType makes of them, Lua arguments into a command's argv, Lua's number/string
coercions, and the exception that carries a Lua error value out of a Python callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from respdb.protocol.encoder import format_double
from respdb.protocol.types import (
    OK,
    BigNumber,
    Bool,
    Double,
    ErrorReply,
    Map,
    PairList,
    Push,
    Raw,
    Set,
    Simple,
    Verbatim,
    _NullArray,
)


class ReplyConverter:
    """Command replies for Lua; tables are built in the Lua state through the given helpers."""

    def __init__(self, table: Callable[[Any], Any], status_table: Callable[[bytes], Any], error_table: Callable[[bytes], Any]) -> None:
        self._table = table
        self._status_table = status_table
        self._error_table = error_table

    def to_lua(self, reply: Any, resp3: bool) -> tuple[int, Any]:
        """A command's reply for Lua: (0, value), (1, status text) or (2, "-error")."""
        cls = reply.__class__
        if cls is bytes or cls is int:
            return 0, reply
        if cls is Simple:
            return 1, bytes(reply)
        if cls is Raw:
            if reply is OK:
                return 1, b"OK"
            return self.to_lua(parse_resp(bytes(reply)), resp3)
        if cls is ErrorReply:
            return 2, b"-" + bytes(reply)
        return 0, self.value(reply, resp3)

    def value(self, v: Any, resp3: bool) -> Any:
        """A command reply as the Lua value redisProtocolToLuaType makes of it."""
        cls = v.__class__
        if cls is bytes or cls is int:
            return v
        if v is None or cls is _NullArray:
            return None if resp3 else False
        if cls is bool:
            return int(v)
        if cls is list or cls is tuple or cls is Push:
            return self._table([self.value(x, resp3) for x in v])
        if cls is Simple:
            return self._status_table(bytes(v))
        if cls is ErrorReply:
            return self._error_table(b"-" + bytes(v))
        if cls is Map:
            if resp3:
                return self._table({b"map": self._table({self.value(v[i], resp3): self.value(v[i + 1], resp3) for i in range(0, len(v), 2)})})
            return self._table([self.value(x, resp3) for x in v])
        if cls is PairList:
            if resp3:
                return self._table([self._table([self.value(x, resp3) for x in pair]) for pair in v])
            return self._table([self.value(x, resp3) for pair in v for x in pair])
        if cls is Set:
            if resp3:
                return self._table({b"set": self._table({self.value(x, resp3): True for x in v})})
            return self._table([self.value(x, resp3) for x in v])
        if cls is Double or cls is float:
            return self._table({b"double": float(v)}) if resp3 else format_double(v)
        if cls is Bool:
            return bool(v.value) if resp3 else int(v.value)
        if cls is BigNumber:
            return self._table({b"big_number": b"%d" % v}) if resp3 else b"%d" % v
        if cls is Verbatim:
            if resp3:
                return self._table({b"verbatim_string": self._table({b"format": b"txt", b"string": bytes(v)})})
            return bytes(v)
        if cls is Raw:
            return self.value(parse_resp(bytes(v)), resp3)
        if isinstance(v, bytes):
            return bytes(v)
        if isinstance(v, int):
            return int(v)
        raise TypeError(f"cannot convert reply of type {cls.__name__} for Lua")


class ScriptError(Exception):
    """Raised by a Python callback to raise a Lua error whose value is `value` (a Lua table, or a
    string); the Lua side unwraps it (prelude.py err_handler / pcall)."""

    def __init__(self, value: Any) -> None:
        super().__init__("script error")
        self.value = value


def unwrap(exc: Any) -> Any:
    if isinstance(exc, ScriptError):
        return exc.value
    return str(exc).encode("utf-8", "replace")


def argv_from_lua(args: tuple[Any, ...]) -> list[bytes] | bytes:
    """luaArgsToRedisArgv: the command's argv, or the error message."""
    if not args:
        return b"Please specify at least one argument for this redis lib call"
    argv: list[bytes] = []
    for arg in args:
        cls = arg.__class__
        if cls is bytes:
            argv.append(arg)
        elif cls is int or cls is float:
            # Redis formats Lua numbers with %.17g (lua_tolstring would lose precision).
            argv.append(b"%.17g" % arg)
        else:
            return b"Lua redis lib command arguments must be strings or integers"
    return argv


def lua_tonumber(value: Any) -> float | None:
    """lua_tonumber/lua_isnumber: numbers, and strings that read as numbers."""
    cls = value.__class__
    if cls is int or cls is float:
        return value
    if cls is bytes:
        try:
            return float(value.strip()) if not value.strip().lower().startswith(b"0x") else float(int(value, 16))
        except ValueError:
            return None
    return None


def lua_tostring(value: Any) -> bytes | None:
    """lua_tolstring: strings as they are, numbers as Lua prints them (%.14g), else None."""
    cls = value.__class__
    if cls is bytes:
        return value
    if cls is int or cls is float:
        return b"%.14g" % value
    return None


def parse_resp(data: bytes) -> Any:
    """Decode one pre-encoded reply (a Raw constant) back into reply values."""
    value, _ = _parse(data, 0)
    return value


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos:pos + 1]
    end = data.index(b"\r\n", pos)
    line = data[pos + 1:end]
    pos = end + 2
    if kind == b"+":
        return Simple(line), pos
    if kind == b"-":
        return ErrorReply(line), pos
    if kind == b":":
        return int(line), pos
    if kind in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, pos
        body = data[pos:pos + n]
        return (Verbatim(body[4:]) if kind == b"=" else body), pos + n + 2
    if kind == b"_":
        return None, pos
    if kind == b",":
        return Double(float(line)), pos
    if kind == b"#":
        return Bool(line == b"t"), pos
    if kind == b"(":
        return BigNumber(int(line)), pos
    n = int(line)
    if n < 0:
        return None, pos
    count = n * 2 if kind == b"%" else n
    items = []
    for _ in range(count):
        item, pos = _parse(data, pos)
        items.append(item)
    cls = {b"%": Map, b"~": Set, b">": Push}.get(kind, list)
    return cls(items), pos
