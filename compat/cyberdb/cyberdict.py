"""CyberDict: a collections.abc.MutableMapping stored in one Redis hash (see layout.py and codec.py).

Every method is one round trip (or one MULTI/EXEC) except iteration, which pages through HSCAN.
Differences from dict, all documented in docs/compat.md: iteration order is the hash's, not insertion
order; popitem() removes an arbitrary item; keys that compare equal (True, 1, 1.0) share one field,
stored in int form.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from typing import Any

import redis

from cyberdb import layout
from cyberdb.codec import decode, encode, encode_key, encoded_items
from cyberdb.handle import Handle, closed, translate_errors, translated

_MISSING: Any = object()
_SCAN_COUNT = 1000


class CyberDict(MutableMapping):
    """A remote dict. Values are copies: mutate a nested value, then assign it back."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, handle: Handle, name: str) -> None:
        self._h = handle
        self.name = name
        self._key = layout.table_key(name)

    # -- the core mapping protocol ------------------------------------------------------------------
    @translate_errors
    def __getitem__(self, key: Any) -> Any:
        raw = (self._h.r or closed()).hget(self._key, encode_key(key))
        if raw is None:
            raise KeyError(key)
        return decode(raw)

    @translate_errors
    def __setitem__(self, key: Any, value: Any) -> None:
        (self._h.r or closed()).hset(self._key, encode_key(key), encode(value))

    @translate_errors
    def __delitem__(self, key: Any) -> None:
        if not (self._h.r or closed()).hdel(self._key, encode_key(key)):
            raise KeyError(key)

    @translate_errors
    def __contains__(self, key: object) -> bool:
        try:
            field = encode_key(key)
        except TypeError:
            return False  # an unhashable or unstorable key is in no dict
        return bool((self._h.r or closed()).hexists(self._key, field))

    @translate_errors
    def __len__(self) -> int:
        return (self._h.r or closed()).hlen(self._key)

    def _scan(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (field, value) once: HSCAN may repeat an entry while the hash rehashes."""
        r = self._h.r or closed()
        seen: set[bytes] = set()
        cursor = 0
        while True:
            try:
                cursor, page = r.hscan(self._key, cursor, count=_SCAN_COUNT)
            except redis.RedisError as exc:
                raise translated(exc) from exc
            for field, value in page.items():
                if field not in seen:
                    seen.add(field)
                    yield field, value
            if cursor == 0:
                return

    def __iter__(self) -> Iterator[Any]:
        for field, _ in self._scan():
            yield decode(field)

    # -- dict methods with a faster or atomic form --------------------------------------------------
    @translate_errors
    def get(self, key: Any, default: Any = None) -> Any:
        raw = (self._h.r or closed()).hget(self._key, encode_key(key))
        return default if raw is None else decode(raw)

    @translate_errors
    def setdefault(self, key: Any, default: Any = None) -> Any:
        field = encode_key(key)
        with (self._h.r or closed()).pipeline(True) as pipe:
            pipe.hsetnx(self._key, field, encode(default))
            pipe.hget(self._key, field)
            _, raw = pipe.execute()
        return decode(raw)

    @translate_errors
    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        field = encode_key(key)
        with (self._h.r or closed()).pipeline(True) as pipe:
            pipe.hget(self._key, field)
            pipe.hdel(self._key, field)
            raw, _ = pipe.execute()
        if raw is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return decode(raw)

    @translate_errors
    def popitem(self) -> tuple[Any, Any]:
        r = self._h.r or closed()
        while True:
            cursor, page = r.hscan(self._key, 0, count=10)
            while not page and cursor != 0:
                cursor, page = r.hscan(self._key, cursor, count=10)
            if not page:
                raise KeyError("popitem(): dictionary is empty")
            field = next(iter(page))
            with r.pipeline(True) as pipe:
                pipe.hget(self._key, field)
                pipe.hdel(self._key, field)
                raw, deleted = pipe.execute()
            if deleted:  # else another client took it first: pick again
                return decode(field), decode(raw)

    @translate_errors
    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        fields = encoded_items(other)
        if kwargs:
            fields += encoded_items(kwargs)
        if not fields:
            return
        r = self._h.r or closed()
        if len(fields) <= 2 * layout.CHUNK:
            r.hset(self._key, items=fields)
            return
        with r.pipeline(True) as pipe:
            for i in range(0, len(fields), 2 * layout.CHUNK):
                pipe.hset(self._key, items=fields[i:i + 2 * layout.CHUNK])
            pipe.execute()

    @translate_errors
    def clear(self) -> None:
        # The table stays registered; Redis simply has no hash for an empty one.
        (self._h.r or closed()).delete(self._key)

    def keys(self) -> KeysView:
        return KeysView(self)

    def values(self) -> ValuesView:
        return _Values(self)

    def items(self) -> ItemsView:
        return _Items(self)

    @translate_errors
    def todict(self) -> dict[Any, Any]:
        raw = (self._h.r or closed()).hgetall(self._key)
        return {decode(f): decode(v) for f, v in raw.items()}

    def copy(self) -> dict[Any, Any]:
        """A plain dict snapshot (a second remote table would need a name)."""
        return self.todict()

    def generate(self) -> Iterator[Any]:
        """CyberDB's key generator; the same as iter()."""
        return iter(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CyberDict):
            return self.todict() == other.todict()
        if isinstance(other, Mapping):
            return self.todict() == dict(other.items())
        return NotImplemented

    def __or__(self, other: object) -> dict[Any, Any]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.todict() | dict(other.items())

    def __ror__(self, other: object) -> dict[Any, Any]:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(other.items()) | self.todict()

    def __ior__(self, other: Any) -> CyberDict:
        self.update(other)
        return self

    def __repr__(self) -> str:
        return repr(self.todict())

    __str__ = __repr__


class _Items(ItemsView):
    """items() whose iteration reads values with the keys (HSCAN) instead of one HGET per key."""

    _mapping: CyberDict

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for field, value in self._mapping._scan():
            yield decode(field), decode(value)


class _Values(ValuesView):
    _mapping: CyberDict

    def __iter__(self) -> Iterator[Any]:
        for _, value in self._mapping._scan():
            yield decode(value)
