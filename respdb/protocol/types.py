"""Reply markers: what handlers return when a plain int/bytes/None/list does not say enough.

The encoder dispatches on the exact class, never on content, so each RESP type has its own marker.
"""

from __future__ import annotations


class Raw(bytes):
    """Already-encoded RESP, written as is (pre-encoded constant replies such as +OK)."""

    __slots__ = ()


class Simple(bytes):
    """Simple string: +text."""

    __slots__ = ()


class ErrorReply(bytes):
    """An error returned in place (inside EXEC results or a script's reply), not raised."""

    __slots__ = ()


class Double(float):
    """RESP3 double (`,`), a bulk string in RESP2."""

    __slots__ = ()


class Map(list):
    """RESP3 map from a flat [k1, v1, k2, v2, ...] list; a flat array in RESP2."""

    __slots__ = ()


class PairList(list):
    """A list of [k, v] pairs: RESP3 array of 2-element arrays, RESP2 flat array (e.g. ZRANGE WITHSCORES)."""

    __slots__ = ()


class Set(list):
    """RESP3 set (`~`), an array in RESP2."""

    __slots__ = ()


class Push(list):
    """RESP3 push (`>`), an array in RESP2 (pub/sub messages, invalidations)."""

    __slots__ = ()


class Verbatim(bytes):
    """RESP3 verbatim string (`=txt:`), a bulk string in RESP2 (INFO, CLIENT INFO)."""

    __slots__ = ()


class Bool:
    """RESP3 boolean (`#t`/`#f`), the integer 1/0 in RESP2."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


class BigNumber(int):
    """RESP3 big number (`(`), a bulk string in RESP2."""

    __slots__ = ()


class _NullArray:
    """`*-1` in RESP2, `_` in RESP3 (e.g. EXEC aborted by WATCH, BLPOP timeout)."""

    __slots__ = ()


NULL_ARRAY = _NullArray()
OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")
