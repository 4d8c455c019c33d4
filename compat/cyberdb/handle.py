"""What every table object shares: the proxy's connection handle and the error translation."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from cyberdb.extensions import DisconCyberDBError, WrongPasswordCyberDBError

F = TypeVar("F", bound=Callable[..., Any])


def translated(exc: BaseException) -> BaseException:
    """The cyberdb.extensions exception for a redis-py failure (or the exception itself)."""
    if isinstance(exc, redis.AuthenticationError):
        return WrongPasswordCyberDBError(str(exc))
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return DisconCyberDBError(f"cannot reach the CyberDB server: {exc}")
    if isinstance(exc, redis.ResponseError):
        text = str(exc)
        if text.startswith("NOAUTH"):
            return WrongPasswordCyberDBError(text)
        if text.startswith(("connection refused", "DENIED", "max number of clients")):
            # The server's admission refusals (allowlist, protected mode, maxclients).
            return DisconCyberDBError(f"the CyberDB server refused the connection: {text}")
    return exc


def translate_errors(fn: F) -> F:
    """Turn redis-py's connection and auth failures into the cyberdb.extensions classes callers catch."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise translated(exc) from exc

    return wrapper  # type: ignore[return-value]


def translate_async_errors(cls: type) -> type:
    """translate_errors for every coroutine method of an asyncio class."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except redis.RedisError as exc:
                raise translated(exc) from exc

        return wrapper

    for name, attr in list(vars(cls).items()):
        if inspect.iscoroutinefunction(attr):
            setattr(cls, name, wrap(attr))
    return cls


class Handle:
    """What tables hold: the proxy's connection, or None once the proxy is closed."""

    __slots__ = ("r",)

    def __init__(self) -> None:
        self.r: Any = None


def closed() -> Any:
    raise DisconCyberDBError("There is no connection: call proxy.connect() first.")




def atomic(r: Any, key: bytes, plan: Callable[[Any], Callable[[list[Any]], Any]]) -> Any:
    """Optimistic transaction on one key: WATCH it, let `plan(pipe)` read (immediate mode), call
    pipe.multi() and queue writes, then EXEC; retried from scratch if another client changed the key.
    `plan` must call pipe.multi() and returns a function of the EXEC replies that gives the result. Works with Redis, respdb and
    Redis Cluster alike (one key, one slot), unlike Lua, which a server may not have."""
    with r.pipeline(True) as pipe:
        while True:
            try:
                pipe.watch(key)
                finish = plan(pipe)
                replies = pipe.execute(raise_on_error=False)
                return finish(replies)
            except redis.WatchError:
                pipe.reset()
                continue
