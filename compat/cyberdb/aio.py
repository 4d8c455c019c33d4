"""aioconnect(): the same API on redis.asyncio, for asyncio programs.

As in CyberDB, aioconnect() itself is a plain call (it checks the server and password before returning);
everything after it is awaited: `await proxy.connect()` / `async with client.get_proxy() as proxy`,
`await proxy.get_cyberdict(name)`, `await d[key]`, `await d.setitem(key, value)`, `async for k in d`.
Python cannot await `d[k] = v`, `del d[k]`, `k in d` or `len(d)`, so those are the methods setitem,
delitem, contains and len. The key layout, the codec and the atomicity (MULTI/EXEC, WATCH) are the sync
client's: both share layout.py and codec.py, and the read-modify-write steps of lists use the same
local transformations. Redis Cluster is supported by the sync client only.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.connection import Connection, SSLConnection

from cyberdb import client as sync_client
from cyberdb import layout
from cyberdb.codec import decode, encode, encode_key, encoded_items
from cyberdb.extensions import TypeCyberDBError, WrongInputCyberDBError, WrongTableNameCyberDBError
from cyberdb.handle import Handle, closed, translate_async_errors

_MISSING: Any = object()


class _IdleDrop:
    idle_limit: float | None = None
    _last_used = 0.0

    async def connect(self) -> None:
        import time

        if self.idle_limit is not None and self.is_connected and time.monotonic() - self._last_used > self.idle_limit:  # type: ignore[attr-defined]
            await self.disconnect()  # type: ignore[attr-defined]
        await super().connect()  # type: ignore[misc]

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        import time

        try:
            return await super().read_response(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._last_used = time.monotonic()


def aioconnect(host: str = "127.0.0.1", port: int = 9980, password: str | None = None, encrypt: bool = False,
               time_out: float | None = None, *, username: str | None = None, ca_certs: str | None = None,
               max_connections: int | None = None) -> AioClient:
    """Check the server synchronously (fail fast, like connect()), then return an asyncio client."""
    checked = sync_client.connect(host, port, password, encrypt, time_out, username=username, ca_certs=ca_certs)
    options = dict(checked.redis.connection_pool.connection_kwargs)
    checked.close()
    base = SSLConnection if encrypt else Connection
    cls = type("CyberDBAioConnection", (_IdleDrop, base), {"idle_limit": time_out})
    for key in ("redis_connect_func", "retry"):
        options.pop(key, None)
    pool = redis.asyncio.ConnectionPool(connection_class=cls, max_connections=max_connections, **options)
    return AioClient(redis.asyncio.Redis(connection_pool=pool))


async def _atomic(r: Any, key: bytes, plan: Callable[[Any], Awaitable[Callable[[list[Any]], Any]]]) -> Any:
    """The async twin of handle.atomic: WATCH, read, MULTI, queue, EXEC, retry on conflict."""
    async with r.pipeline(True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                finish = await plan(pipe)
                return finish(await pipe.execute(raise_on_error=False))
            except redis.WatchError:
                await pipe.reset()


class AioClient:
    def __init__(self, conn: redis.asyncio.Redis) -> None:
        self.redis = conn

    def get_proxy(self) -> AioProxy:
        return AioProxy(self)

    async def close(self) -> None:
        await self.redis.aclose()


@translate_async_errors
class AioProxy:
    def __init__(self, client: AioClient) -> None:
        self._client = client
        self._handle = Handle()

    async def connect(self) -> None:
        self._handle.r = self._client.redis

    async def close(self) -> None:
        self._handle.r = None

    async def __aenter__(self) -> AioProxy:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _create(self, name: object, content: Any, kind: type, type_tag: bytes) -> None:
        name = sync_client.check_name(name)
        if type(content) is not kind:
            raise WrongInputCyberDBError(f"The content must be a {kind.__name__}.")
        r = self._handle.r or closed()
        if not await r.hsetnx(layout.REGISTRY, name, type_tag):
            raise WrongTableNameCyberDBError("Duplicate table names already exist!")
        key = layout.table_key(name)
        async with r.pipeline(True) as pipe:
            pipe.delete(key)
            if kind is dict:
                pairs = encoded_items(content)
                for i in range(0, len(pairs), 2 * layout.CHUNK):
                    pipe.hset(key, items=pairs[i:i + 2 * layout.CHUNK])
            else:
                values = [encode(v) for v in content]
                for i in range(0, len(values), layout.CHUNK):
                    pipe.rpush(key, *values[i:i + layout.CHUNK])
            await pipe.execute()

    async def create_cyberdict(self, table_name: str, content: dict | None = None) -> None:
        await self._create(table_name, {} if content is None else content, dict, layout.DICT_TYPE)

    async def create_cyberlist(self, table_name: str, content: list | None = None) -> None:
        await self._create(table_name, [] if content is None else content, list, layout.LIST_TYPE)

    async def _open(self, name: object, type_tag: bytes) -> str:
        name = sync_client.check_name(name)
        found = await (self._handle.r or closed()).hget(layout.REGISTRY, name)
        if found is None:
            raise WrongTableNameCyberDBError(f"{name} table does not exist.")
        if found != type_tag:
            raise TypeCyberDBError(f"{name} is a {found.decode()}, not a {type_tag.decode()}.")
        return name

    async def get_cyberdict(self, table_name: str) -> AioCyberDict:
        return AioCyberDict(self._handle, await self._open(table_name, layout.DICT_TYPE))

    async def get_cyberlist(self, table_name: str) -> AioCyberList:
        return AioCyberList(self._handle, await self._open(table_name, layout.LIST_TYPE))

    async def tables(self) -> dict[str, str]:
        raw = await (self._handle.r or closed()).hgetall(layout.REGISTRY)
        return {k.decode("utf-8", "surrogatepass"): v.decode() for k, v in raw.items()}

    async def print_tables(self) -> None:
        for name, kind in (await self.tables()).items():
            print(f"table name: {name}  type name: {kind}")

    async def delete_table(self, table_name: str) -> None:
        name = sync_client.check_name(table_name)
        r = self._handle.r or closed()
        if not await r.hdel(layout.REGISTRY, name):
            raise WrongTableNameCyberDBError(f"{name} table does not exist.")
        await r.delete(layout.table_key(name))


class _Table:
    def __init__(self, handle: Handle, name: str) -> None:
        self._h = handle
        self.name = name
        self._key = layout.table_key(name)

    @property
    def _r(self) -> Any:
        return self._h.r or closed()


@translate_async_errors
class AioCyberDict(_Table):
    """The CyberDict API with awaitable methods (see the module docstring for the spelling)."""

    def __getitem__(self, key: Any) -> Awaitable[Any]:
        return self.getitem(key)

    async def getitem(self, key: Any) -> Any:
        raw = await self._r.hget(self._key, encode_key(key))
        if raw is None:
            raise KeyError(key)
        return decode(raw)

    async def setitem(self, key: Any, value: Any) -> None:
        await self._r.hset(self._key, encode_key(key), encode(value))

    async def delitem(self, key: Any) -> None:
        if not await self._r.hdel(self._key, encode_key(key)):
            raise KeyError(key)

    async def contains(self, key: Any) -> bool:
        try:
            field = encode_key(key)
        except TypeError:
            return False
        return bool(await self._r.hexists(self._key, field))

    async def len(self) -> int:
        return await self._r.hlen(self._key)

    async def get(self, key: Any, default: Any = None) -> Any:
        raw = await self._r.hget(self._key, encode_key(key))
        return default if raw is None else decode(raw)

    async def setdefault(self, key: Any, default: Any = None) -> Any:
        field = encode_key(key)
        async with self._r.pipeline(True) as pipe:
            _, raw = await pipe.hsetnx(self._key, field, encode(default)).hget(self._key, field).execute()
        return decode(raw)

    async def pop(self, key: Any, default: Any = _MISSING) -> Any:
        field = encode_key(key)
        async with self._r.pipeline(True) as pipe:
            raw, _ = await pipe.hget(self._key, field).hdel(self._key, field).execute()
        if raw is None:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return decode(raw)

    async def popitem(self) -> tuple[Any, Any]:
        while True:
            scan = self._r.hscan_iter(self._key, count=10)
            try:
                field, _ = await anext(scan)
            except StopAsyncIteration:
                raise KeyError("popitem(): dictionary is empty") from None
            finally:
                await scan.aclose()
            async with self._r.pipeline(True) as pipe:
                raw, deleted = await pipe.hget(self._key, field).hdel(self._key, field).execute()
            if deleted:
                return decode(field), decode(raw)

    async def update(self, other: Any = (), /, **kwargs: Any) -> None:
        fields = encoded_items(other) + (encoded_items(kwargs) if kwargs else [])
        if not fields:
            return
        async with self._r.pipeline(True) as pipe:
            for i in range(0, len(fields), 2 * layout.CHUNK):
                pipe.hset(self._key, items=fields[i:i + 2 * layout.CHUNK])
            await pipe.execute()

    async def clear(self) -> None:
        await self._r.delete(self._key)

    async def _scan(self) -> AsyncIterator[tuple[bytes, bytes]]:
        seen: set[bytes] = set()
        async for field, value in self._r.hscan_iter(self._key, count=1000):
            if field not in seen:
                seen.add(field)
                yield field, value

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for field, _ in self._scan():
            yield decode(field)

    async def keys(self) -> list[Any]:
        return [k async for k in self]

    async def values(self) -> list[Any]:
        return [decode(v) async for _, v in self._scan()]

    async def items(self) -> list[tuple[Any, Any]]:
        return [(decode(f), decode(v)) async for f, v in self._scan()]

    async def todict(self) -> dict[Any, Any]:
        return {decode(f): decode(v) for f, v in (await self._r.hgetall(self._key)).items()}

    copy = todict


@translate_async_errors
class AioCyberList(_Table):
    """The CyberList API with awaitable methods (see the module docstring for the spelling)."""

    def __getitem__(self, i: Any) -> Awaitable[Any]:
        return self.getitem(i)

    async def getitem(self, i: Any) -> Any:
        if isinstance(i, slice):
            if i.step is not None and i.step != 1:
                return (await self.tolist())[i]
            bounds = layout.norm_slice_range(i)
            return [] if bounds is None else [decode(v) for v in await self._r.lrange(self._key, *bounds)]
        raw = await self._r.lindex(self._key, layout.clamp(i.__index__()))
        if raw is None:
            raise IndexError("list index out of range")
        return decode(raw)

    async def _rewrite(self, change: Callable[[list[Any]], Any]) -> Any:
        async def plan(pipe: Any) -> Callable[[list[Any]], Any]:
            local = [decode(v) for v in await pipe.lrange(self._key, 0, -1)]
            result = change(local)
            pipe.multi()
            pipe.delete(self._key)
            encoded = [encode(v) for v in local]
            for j in range(0, len(encoded), layout.CHUNK):
                pipe.rpush(self._key, *encoded[j:j + layout.CHUNK])
            return lambda replies: result

        return await _atomic(self._r, self._key, plan)

    async def setitem(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            values = await self._as_list(value)

            def assign(local: list[Any]) -> None:
                local[i] = values

            await self._rewrite(assign)
            return
        try:
            await self._r.lset(self._key, layout.clamp(i.__index__()), encode(value))
        except redis.ResponseError as exc:
            raise IndexError("list assignment index out of range") from exc

    async def delitem(self, i: Any) -> None:
        if isinstance(i, slice):

            def delete(local: list[Any]) -> None:
                del local[i]

            await self._rewrite(delete)
        elif await self._take(layout.clamp(i.__index__())) is None:
            raise IndexError("list assignment index out of range")

    async def _take(self, index: int) -> bytes | None:
        mark = layout.marker()
        async with self._r.pipeline(True) as pipe:
            pipe.lindex(self._key, index).lset(self._key, index, mark).lrem(self._key, 1, mark)
            raw, set_reply, _ = await pipe.execute(raise_on_error=False)
        return None if isinstance(set_reply, Exception) else raw

    async def len(self) -> int:
        return await self._r.llen(self._key)

    async def __aiter__(self) -> AsyncIterator[Any]:
        start = 0
        while True:
            page = await self._r.lrange(self._key, start, start + 511)
            for raw in page:
                yield decode(raw)
            if len(page) < 512:
                return
            start += 512

    async def contains(self, value: Any) -> bool:
        return any(v is value or v == value for v in await self.tolist())

    async def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        return (await self.tolist()).index(value, start, stop)

    async def count(self, value: Any) -> int:
        return (await self.tolist()).count(value)

    async def append(self, value: Any) -> None:
        await self._r.rpush(self._key, encode(value))

    async def _as_list(self, values: Iterable[Any]) -> list[Any]:
        return await values.tolist() if isinstance(values, AioCyberList) else list(values)

    async def extend(self, values: Iterable[Any]) -> None:
        encoded = [encode(v) for v in await self._as_list(values)]
        if encoded:
            async with self._r.pipeline(True) as pipe:
                for j in range(0, len(encoded), layout.CHUNK):
                    pipe.rpush(self._key, *encoded[j:j + layout.CHUNK])
                await pipe.execute()

    async def insert(self, index: Any, value: Any) -> None:
        index, encoded = index.__index__(), encode(value)

        async def plan(pipe: Any) -> Callable[[list[Any]], None]:
            n = await pipe.llen(self._key)
            i = index + n if index < 0 else index
            if i >= n or i <= 0:
                pipe.multi()
                (pipe.rpush if i >= n else pipe.lpush)(self._key, encoded)
            else:
                old, mark = await pipe.lindex(self._key, i), layout.marker()
                pipe.multi()
                pipe.lset(self._key, i, mark).linsert(self._key, "BEFORE", mark, encoded).lset(self._key, i + 1, old)
            return lambda replies: None

        await _atomic(self._r, self._key, plan)

    async def pop(self, index: Any = -1) -> Any:
        index = layout.clamp(index.__index__())
        if index == -1:
            raw = await self._r.rpop(self._key)
        elif index == 0:
            raw = await self._r.lpop(self._key)
        else:
            raw = await self._take(index)
            if raw is None and await self._r.llen(self._key):
                raise IndexError("pop index out of range")
        if raw is None:
            raise IndexError("pop from empty list")
        return decode(raw)

    async def remove(self, value: Any) -> None:
        async def plan(pipe: Any) -> Callable[[list[Any]], None]:
            for position, raw in enumerate(await pipe.lrange(self._key, 0, -1)):
                v = decode(raw)
                if v is value or v == value:
                    mark = layout.marker()
                    pipe.multi()
                    pipe.lset(self._key, position, mark).lrem(self._key, 1, mark)
                    return lambda replies: None
            raise ValueError("list.remove(x): x not in list")

        await _atomic(self._r, self._key, plan)

    async def clear(self) -> None:
        await self._r.delete(self._key)

    async def reverse(self) -> None:
        await self._rewrite(lambda local: local.reverse())

    async def sort(self, *, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
        await self._rewrite(lambda local: local.sort(key=key, reverse=reverse))

    async def tolist(self) -> list[Any]:
        return [decode(v) for v in await self._r.lrange(self._key, 0, -1)]

    copy = tolist
