"""`cjson.encode` / `cjson.decode` / `cjson.null` as Redis bundles them (lua-cjson 2.1.0, default
configuration), in Python: lupa ships no cjson module.

Encoding follows json_append_data: strings escaped with lua-cjson's table (`/` becomes `\\/`), numbers
as %.14g, NaN/Inf refused, a table is an array when every key is an integer >= 1 (holes become null,
"excessively sparse" arrays are refused), else an object in lua_next order; nesting stops at 1000.
Decoding ports lua-cjson's tokenizer (strtod numbers, so NaN/Infinity/hex/leading zeros are accepted)
and its error texts ("Expected value but found T_END at character 1"); tables are built by inserting
from an empty table in document order, as lua_rawset does, so later iteration order matches too.
The configuration functions (encode_keep_buffer, encode_max_depth, ...) and cjson.new are not provided.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any

from lupa import lua51

sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))  # 1000 levels of nesting, two frames each

MAX_DEPTH = 1000
SPARSE_RATIO = 2
SPARSE_SAFE = 10


class JsonError(Exception):
    """An error lua-cjson raises with luaL_error (the engine adds the caller's position)."""


def _escape_table() -> list[bytes]:
    table = [bytes([c]) for c in range(256)]
    for c in range(32):
        table[c] = b"\\u%04x" % c
    for c, esc in ((8, b"\\b"), (9, b"\\t"), (10, b"\\n"), (12, b"\\f"), (13, b"\\r")):
        table[c] = esc
    table[ord('"')] = b'\\"'
    table[ord("\\")] = b"\\\\"
    table[ord("/")] = b"\\/"
    table[127] = b"\\u007f"
    return table


_ESCAPES = _escape_table()
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\/\x7f]')


def _encode_string(value: bytes) -> bytes:
    if _NEEDS_ESCAPE.search(value) is None:
        return b'"' + value + b'"'
    return b'"' + b"".join(_ESCAPES[c] for c in value) + b'"'


def _encode_number(value: float, owner: str) -> bytes:
    if math.isinf(value) or math.isnan(value):
        raise JsonError(f"Cannot serialise {owner}: must not be NaN or Inf")
    return b"%.14g" % value


def _lua_type(value: Any) -> str:
    if value is None:
        return "nil"
    cls = value.__class__
    if cls is bool:
        return "boolean"
    if cls is bytes:
        return "string"
    if cls is int or cls is float:
        return "number"
    # A host (Python) function comes back as the Python callable; scripts know it as a function.
    return lua51.lua_type(value) or ("function" if callable(value) else "userdata")


class CJson:
    """The cjson functions bound to one Lua runtime; `null` is a Lua userdata made by the prelude."""

    def __init__(
        self, null: Any, new_table: Callable[[], Any], rawset: Callable[..., Any], rawget: Callable[..., Any],
        rawequal: Callable[..., Any], see_through: Callable[[Any], Any],
    ) -> None:
        self.see_through = see_through  # a readonly proxy encodes as the table behind it
        self.null = null
        self.new_table = new_table
        self.rawset = rawset
        self.rawget = rawget
        self.rawequal = rawequal

    # --- encode ---------------------------------------------------------------------------------
    def encode(self, value: Any) -> bytes:
        out: list[bytes] = []
        self._append(value, 0, out)
        return b"".join(out)

    def _append(self, value: Any, depth: int, out: list[bytes]) -> None:
        kind = _lua_type(value)
        if kind == "string":
            out.append(_encode_string(value))
        elif kind == "number":
            out.append(_encode_number(value, "number"))
        elif kind == "boolean":
            out.append(b"true" if value else b"false")
        elif kind == "nil":
            out.append(b"null")
        elif kind == "table":
            value = self.see_through(value)
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonError(f"Cannot serialise, excessive nesting ({depth})")
            length = self._array_length(value)
            if length > 0:
                out.append(b"[")
                for i in range(1, length + 1):
                    if i > 1:
                        out.append(b",")
                    self._append(self.rawget(value, i), depth, out)
                out.append(b"]")
            else:
                self._append_object(value, depth, out)
        elif kind == "userdata" and self.rawequal(value, self.null):
            out.append(b"null")
        else:
            raise JsonError(f"Cannot serialise {kind}: type not supported")

    def _array_length(self, table: Any) -> int:
        """lua_array_length: the largest key when all keys are integers >= 1, else -1."""
        largest = items = 0
        for key in table:  # a Lua table iterates its keys (lua_next order)
            if key.__class__ in (int, float) and key >= 1 and (math.isinf(key) or math.floor(key) == key):
                if key > largest:
                    # `max = k` stores a double into a C int: out of range gives INT_MIN on x86.
                    largest = int(key) if key < 2**31 else -(2**31)
                items += 1
                continue
            return -1
        if largest > items * SPARSE_RATIO and largest > SPARSE_SAFE:
            raise JsonError("Cannot serialise table: excessively sparse array")
        return largest

    def _append_object(self, table: Any, depth: int, out: list[bytes]) -> None:
        out.append(b"{")
        first = True
        for key, value in table.items():
            if not first:
                out.append(b",")
            first = False
            kind = _lua_type(key)
            if kind == "number":
                out.append(b'"' + _encode_number(key, "number") + b'":')
            elif kind == "string":
                out.append(_encode_string(key) + b":")
            else:
                raise JsonError(f"Cannot serialise {kind}: table key must be a number or string")
            self._append(value, depth, out)
        out.append(b"}")

    # --- decode ---------------------------------------------------------------------------------
    def decode(self, data: bytes) -> Any:
        if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
            raise JsonError("JSON parser does not support UTF-16 or UTF-32")
        parser = _Parser(data, self)
        token = parser.next_token()
        value = parser.value(token)
        token = parser.next_token()
        if token[0] != "T_END":
            parser.fail("the end", token)
        return value


_WHITESPACE = frozenset(b" \t\n\r")
_SINGLE = {ord("{"): "T_OBJ_BEGIN", ord("}"): "T_OBJ_END", ord("["): "T_ARR_BEGIN", ord("]"): "T_ARR_END",
           ord(","): "T_COMMA", ord(":"): "T_COLON"}
_UNKNOWN_START = frozenset(b"fiInNt\"+-0123456789")
_ESCAPE_CHARS = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b", ord("f"): b"\f",
                 ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?")
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(rb"([+-]?)(?:(inf(?:inity)?)|(nan(?:\([0-9A-Za-z_]*\))?))", re.IGNORECASE)


def _strtod(data: bytes, pos: int) -> tuple[float, int] | None:
    """C strtod on data[pos:]: (value, end) or None when nothing converts."""
    m = _HEX.match(data, pos)
    if m:
        text = m.group().decode()
        sign = -1.0 if text.startswith("-") else 1.0
        return sign * float.fromhex(text.lstrip("+-")), m.end()
    m = _SPECIAL.match(data, pos)
    if m:
        sign = -1.0 if m.group(1) == b"-" else 1.0
        return (sign * math.inf if m.group(2) else math.nan), m.end()
    m = _DECIMAL.match(data, pos)
    if m:
        return float(m.group()), m.end()
    return None


def _is_invalid_number(data: bytes, pos: int) -> bool:
    """json_is_invalid_number: '+', hex, leading zeros, inf/nan."""
    if data[pos:pos + 1] == b"+":
        return True
    if data[pos:pos + 1] == b"-":
        pos += 1
    c = data[pos:pos + 1]
    if c == b"0":
        c2 = data[pos + 1:pos + 2]
        return c2 in (b"x", b"X") or (c2 != b"" and c2.isdigit())
    if c != b"" and c <= b"9":
        return False
    low = data[pos:pos + 3].lower()
    return low in (b"inf", b"nan")


class _Parser:
    def __init__(self, data: bytes, lib: CJson) -> None:
        # lua-cjson reads a NUL-terminated buffer: an embedded NUL ends the text.
        self.data = data + b"\x00"
        self.pos = 0
        self.depth = 0
        self.lib = lib

    def fail(self, expected: str, token: tuple[str, Any, int]) -> None:
        found = token[1] if token[0] == "T_ERROR" else token[0]
        raise JsonError(f"Expected {expected} but found {found} at character {token[2] + 1}")

    def next_token(self) -> tuple[str, Any, int]:
        data = self.data
        while data[self.pos] in _WHITESPACE:
            self.pos += 1
        pos = self.pos
        ch = data[pos]
        if ch == 0:
            return ("T_END", None, pos)
        single = _SINGLE.get(ch)
        if single is not None:
            self.pos += 1
            return (single, None, pos)
        if ch not in _UNKNOWN_START:
            return ("T_ERROR", "invalid token", pos)
        if ch == 0x22:
            return self._string()
        if ch == 0x2D or 0x30 <= ch <= 0x39:
            return self._number()
        if data.startswith(b"true", pos):
            self.pos += 4
            return ("T_BOOLEAN", True, pos)
        if data.startswith(b"false", pos):
            self.pos += 5
            return ("T_BOOLEAN", False, pos)
        if data.startswith(b"null", pos):
            self.pos += 4
            return ("T_NULL", None, pos)
        if _is_invalid_number(data, pos):
            return self._number()
        return ("T_ERROR", "invalid token", pos)

    def _number(self) -> tuple[str, Any, int]:
        pos = self.pos
        parsed = _strtod(self.data, pos)
        if parsed is None:
            return ("T_ERROR", "invalid number", pos)
        self.pos = parsed[1]
        return ("T_NUMBER", parsed[0], pos)

    def _string(self) -> tuple[str, Any, int]:
        data = self.data
        start = self.pos
        self.pos += 1
        out = bytearray()
        while True:
            ch = data[self.pos]
            if ch == 0x22:
                break
            if ch == 0:
                return ("T_ERROR", "unexpected end of string", self.pos)
            if ch == 0x5C:
                code = data[self.pos + 1]
                if code == 0x75:  # \u
                    if not self._unicode_escape(out):
                        return ("T_ERROR", "invalid unicode escape code", self.pos)
                    continue
                translated = _ESCAPE_CHARS.get(code)
                if translated is None:
                    return ("T_ERROR", "invalid escape code", self.pos)
                out += translated
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        self.pos += 1
        return ("T_STRING", bytes(out), start)

    def _hex4(self, pos: int) -> int:
        digits = self.data[pos:pos + 4]
        if len(digits) != 4 or not all(c in b"0123456789abcdefABCDEF" for c in digits):
            return -1
        return int(digits, 16)

    def _unicode_escape(self, out: bytearray) -> bool:
        pos = self.pos
        codepoint = self._hex4(pos + 2)
        if codepoint < 0:
            return False
        length = 6
        if codepoint & 0xF800 == 0xD800:
            if codepoint & 0x400 or self.data[pos + 6:pos + 8] != b"\\u":
                return False
            low = self._hex4(pos + 8)
            if low < 0 or low & 0xFC00 != 0xDC00:
                return False
            codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
            length = 12
        out += chr(codepoint).encode("utf-8", "surrogatepass")
        self.pos += length
        return True

    def _descend(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise JsonError(f"Found too many nested data structures ({self.depth}) at character {self.pos}")

    def value(self, token: tuple[str, Any, int]) -> Any:
        kind = token[0]
        if kind in ("T_STRING", "T_NUMBER", "T_BOOLEAN"):
            return token[1]
        if kind == "T_NULL":
            return self.lib.null
        if kind == "T_OBJ_BEGIN":
            return self._object()
        if kind == "T_ARR_BEGIN":
            return self._array()
        self.fail("value", token)
        return None

    def _object(self) -> Any:
        self._descend()
        table = self.lib.new_table()
        token = self.next_token()
        if token[0] == "T_OBJ_END":
            self.depth -= 1
            return table
        while True:
            if token[0] != "T_STRING":
                self.fail("object key string", token)
            key = token[1]
            token = self.next_token()
            if token[0] != "T_COLON":
                self.fail("colon", token)
            self.lib.rawset(table, key, self.value(self.next_token()))
            token = self.next_token()
            if token[0] == "T_OBJ_END":
                self.depth -= 1
                return table
            if token[0] != "T_COMMA":
                self.fail("comma or object end", token)
            token = self.next_token()

    def _array(self) -> Any:
        self._descend()
        table = self.lib.new_table()
        token = self.next_token()
        if token[0] == "T_ARR_END":
            self.depth -= 1
            return table
        i = 1
        while True:
            self.lib.rawset(table, i, self.value(token))
            token = self.next_token()
            if token[0] == "T_ARR_END":
                self.depth -= 1
                return table
            if token[0] != "T_COMMA":
                self.fail("comma or array end", token)
            token = self.next_token()
            i += 1
