"""CyberList: a collections.abc.MutableSequence stored in one Redis list (see layout.py and codec.py).

Redis addresses list elements by value for LINSERT/LREM; index operations it lacks (insert at an index,
delete at an index) first overwrite the slot with a unique marker (LSET) and then act on the marker, inside
MULTI/EXEC — so concurrent clients never interleave them. Operations that must read first (insert, remove,
slice assignment, sort, reverse) WATCH the key and retry if another client wrote it meanwhile.
Value comparisons (index, count, remove, in) use Python's == on decoded values, as list does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from typing import Any

import redis

from cyberdb import layout
from cyberdb.codec import decode, encode
from cyberdb.handle import Handle, atomic, closed, translate_errors, translated

_PAGE = 512


def _as_list(values: Iterable[Any]) -> list[Any]:
    return values.tolist() if isinstance(values, CyberList) else list(values)


def _index(i: Any, kind: str) -> int:
    try:
        return i.__index__()
    except AttributeError:
        raise TypeError(f"list {kind} must be integers or slices, not {type(i).__name__}") from None


class CyberList(MutableSequence):
    """A remote list. Values are copies: mutate a nested value, then assign it back."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, handle: Handle, name: str) -> None:
        self._h = handle
        self.name = name
        self._key = layout.table_key(name)

    def _replace(self, pipe: Any, values: list[Any]) -> None:
        """Queue (inside MULTI) the commands that make the list exactly `values`."""
        pipe.delete(self._key)
        encoded = [encode(v) for v in values]
        for i in range(0, len(encoded), layout.CHUNK):
            pipe.rpush(self._key, *encoded[i:i + layout.CHUNK])

    def _rewrite(self, change: Callable[[list[Any]], Any]) -> Any:
        """Read the whole list, apply `change` to a local copy, write it back — atomically (WATCH)."""

        def plan(pipe: Any) -> Callable[[list[Any]], Any]:
            local = [decode(v) for v in pipe.lrange(self._key, 0, -1)]
            result = change(local)  # may raise (e.g. ValueError for a bad extended-slice size): no write
            pipe.multi()
            self._replace(pipe, local)
            return lambda replies: result

        return atomic(self._h.r or closed(), self._key, plan)

    # -- indexing -------------------------------------------------------------------------------------
    @translate_errors
    def __getitem__(self, i: Any) -> Any:
        r = self._h.r or closed()
        if isinstance(i, slice):
            if i.step is not None and i.step != 1:
                return [decode(v) for v in r.lrange(self._key, 0, -1)][i]
            bounds = layout.norm_slice_range(i)
            return [] if bounds is None else [decode(v) for v in r.lrange(self._key, *bounds)]
        raw = r.lindex(self._key, layout.clamp(_index(i, "indices")))
        if raw is None:
            raise IndexError("list index out of range")
        return decode(raw)

    @translate_errors
    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            values = _as_list(value)

            def assign(local: list[Any]) -> None:
                local[i] = values

            self._rewrite(assign)
            return
        try:
            (self._h.r or closed()).lset(self._key, layout.clamp(_index(i, "indices")), encode(value))
        except redis.ResponseError as exc:  # "no such key" (empty list) or "index out of range"
            raise IndexError("list assignment index out of range") from exc

    @translate_errors
    def __delitem__(self, i: Any) -> None:
        if isinstance(i, slice):

            def delete(local: list[Any]) -> None:
                del local[i]

            self._rewrite(delete)
            return
        if self._take(layout.clamp(_index(i, "indices"))) is None:
            raise IndexError("list assignment index out of range")

    def _take(self, index: int) -> bytes | None:
        """Remove and return the raw element at `index` in one MULTI; None when out of range."""
        mark = layout.marker()
        with (self._h.r or closed()).pipeline(True) as pipe:
            pipe.lindex(self._key, index)
            pipe.lset(self._key, index, mark)
            pipe.lrem(self._key, 1, mark)
            raw, set_reply, _ = pipe.execute(raise_on_error=False)
        return None if isinstance(set_reply, Exception) else raw

    # -- size, iteration, search ------------------------------------------------------------------
    @translate_errors
    def __len__(self) -> int:
        return (self._h.r or closed()).llen(self._key)

    def _pages(self, start: int = 0) -> Iterator[list[bytes]]:
        r = self._h.r or closed()
        while True:
            try:
                page = r.lrange(self._key, start, start + _PAGE - 1)
            except redis.RedisError as exc:
                raise translated(exc) from exc
            if page:
                yield page
            if len(page) < _PAGE:
                return
            start += _PAGE

    def __iter__(self) -> Iterator[Any]:
        for page in self._pages():
            for raw in page:
                yield decode(raw)

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.tolist())

    def __contains__(self, value: object) -> bool:
        return any(v is value or v == value for v in self)

    @translate_errors
    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        if start < 0 or stop < 0:
            n = len(self)
            start = max(start + n, 0) if start < 0 else start
            stop = max(stop + n, 0) if stop < 0 else stop
        position = start
        for page in self._pages(start):
            for raw in page:
                if position >= stop:
                    break
                v = decode(raw)
                if v is value or v == value:
                    return position
                position += 1
        raise ValueError(f"{value!r} is not in list")

    def count(self, value: Any) -> int:
        return sum(1 for v in self if v is value or v == value)

    # -- growing and shrinking --------------------------------------------------------------------
    @translate_errors
    def append(self, value: Any) -> None:
        (self._h.r or closed()).rpush(self._key, encode(value))

    @translate_errors
    def extend(self, values: Iterable[Any]) -> None:
        encoded = [encode(v) for v in _as_list(values)]
        if not encoded:
            return
        r = self._h.r or closed()
        if len(encoded) <= layout.CHUNK:
            r.rpush(self._key, *encoded)
            return
        with r.pipeline(True) as pipe:
            for i in range(0, len(encoded), layout.CHUNK):
                pipe.rpush(self._key, *encoded[i:i + layout.CHUNK])
            pipe.execute()

    @translate_errors
    def insert(self, index: Any, value: Any) -> None:
        index = _index(index, "indices")
        encoded = encode(value)

        def plan(pipe: Any) -> Callable[[list[Any]], None]:
            n = pipe.llen(self._key)
            i = index + n if index < 0 else index
            if i >= n:
                pipe.multi()
                pipe.rpush(self._key, encoded)
            elif i <= 0:
                pipe.multi()
                pipe.lpush(self._key, encoded)
            else:
                # Mark slot i, insert before the mark, then put the displaced element back after it.
                old = pipe.lindex(self._key, i)
                mark = layout.marker()
                pipe.multi()
                pipe.lset(self._key, i, mark)
                pipe.linsert(self._key, "BEFORE", mark, encoded)
                pipe.lset(self._key, i + 1, old)
            return lambda replies: None

        atomic(self._h.r or closed(), self._key, plan)

    @translate_errors
    def pop(self, index: Any = -1) -> Any:
        index = layout.clamp(_index(index, "indices"))
        r = self._h.r or closed()
        if index == -1:
            raw = r.rpop(self._key)
        elif index == 0:
            raw = r.lpop(self._key)
        else:
            raw = self._take(index)
            if raw is None and r.llen(self._key):
                raise IndexError("pop index out of range")
        if raw is None:
            raise IndexError("pop from empty list")
        return decode(raw)

    @translate_errors
    def remove(self, value: Any) -> None:
        def plan(pipe: Any) -> Callable[[list[Any]], None]:
            position = 0
            for page in self._pages_of(pipe):
                for raw in page:
                    v = decode(raw)
                    if v is value or v == value:
                        pipe.multi()
                        mark = layout.marker()
                        pipe.lset(self._key, position, mark)
                        pipe.lrem(self._key, 1, mark)
                        return lambda replies: None
                    position += 1
            raise ValueError("list.remove(x): x not in list")

        atomic(self._h.r or closed(), self._key, plan)

    def _pages_of(self, pipe: Any) -> Iterator[list[bytes]]:
        start = 0
        while True:
            page = pipe.lrange(self._key, start, start + _PAGE - 1)
            if page:
                yield page
            if len(page) < _PAGE:
                return
            start += _PAGE

    @translate_errors
    def clear(self) -> None:
        # The table stays registered; Redis simply has no list for an empty one.
        (self._h.r or closed()).delete(self._key)

    @translate_errors
    def reverse(self) -> None:
        self._rewrite(lambda local: local.reverse())

    @translate_errors
    def sort(self, *, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
        """Sorted here with any key function (lambdas, closures, builtins), written back atomically.
        CyberDB shipped the key's source text to the server to exec() it."""
        self._rewrite(lambda local: local.sort(key=key, reverse=reverse))

    # -- copies and operators -----------------------------------------------------------------------
    @translate_errors
    def tolist(self) -> list[Any]:
        return [decode(v) for v in (self._h.r or closed()).lrange(self._key, 0, -1)]

    def copy(self) -> list[Any]:
        """A plain list snapshot (a second remote table would need a name)."""
        return self.tolist()

    def generate(self) -> Iterator[Any]:
        """CyberDB's element generator; the same as iter()."""
        return iter(self)

    def __add__(self, other: Any) -> list[Any]:
        if not isinstance(other, list | CyberList):
            return NotImplemented
        return self.tolist() + _as_list(other)

    def __radd__(self, other: Any) -> list[Any]:
        if not isinstance(other, list):
            return NotImplemented
        return other + self.tolist()

    def __iadd__(self, other: Iterable[Any]) -> CyberList:
        self.extend(other)
        return self

    def __mul__(self, n: Any) -> list[Any]:
        return self.tolist() * _index(n, "multiplier")

    __rmul__ = __mul__

    def __imul__(self, n: Any) -> CyberList:
        times = _index(n, "multiplier")

        def repeat(local: list[Any]) -> None:
            local *= times

        self._rewrite(repeat)
        return self

    def _other(self, other: Any) -> list[Any] | None:
        return _as_list(other) if isinstance(other, list | CyberList) else None

    def __eq__(self, other: object) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is None else self.tolist() == theirs

    def __lt__(self, other: Any) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is None else self.tolist() < theirs

    def __le__(self, other: Any) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is None else self.tolist() <= theirs

    def __gt__(self, other: Any) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is None else self.tolist() > theirs

    def __ge__(self, other: Any) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is None else self.tolist() >= theirs

    def __repr__(self) -> str:
        return repr(self.tolist())

    __str__ = __repr__
