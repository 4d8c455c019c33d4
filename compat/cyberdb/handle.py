"""What every table object shares: the proxy's connection handle and the error translation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from cyberdb.extensions import DisconCyberDBError, WrongPasswordCyberDBError

F = TypeVar("F", bound=Callable[..., Any])


def translate_errors(fn: F) -> F:
    """Turn redis-py's connection and auth failures into the cyberdb.extensions classes callers catch."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.AuthenticationError as exc:
            raise WrongPasswordCyberDBError(str(exc)) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise DisconCyberDBError(f"cannot reach the CyberDB server: {exc}") from exc
        except redis.ResponseError as exc:
            text = str(exc)
            if text.startswith("NOAUTH"):
                raise WrongPasswordCyberDBError(text) from exc
            if text.startswith(("connection refused", "DENIED", "max number of clients")):
                # The server's admission refusals (allowlist, protected mode, maxclients).
                raise DisconCyberDBError(f"the CyberDB server refused the connection: {text}") from exc
            raise

    return wrapper  # type: ignore[return-value]


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
