"""connect() → Client → Proxy: CyberDB 0.9.3's client entry points on a redis-py connection pool."""

from __future__ import annotations

import time
from typing import Any

import redis
import redis.cluster
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from cyberdb import layout, tls
from cyberdb.codec import encode, encoded_items
from cyberdb.cyberdict import CyberDict
from cyberdb.cyberlist import CyberList
from cyberdb.extensions import (
    DisconCyberDBError,
    TypeCyberDBError,
    WrongInputCyberDBError,
    WrongPasswordCyberDBError,
    WrongTableNameCyberDBError,
)
from cyberdb.handle import Handle, closed, translate_errors


class _IdleDropMixin:
    """A pooled connection that reconnects when it sat idle longer than the client's time_out."""

    idle_limit: float | None = None
    _last_used = 0.0

    def connect(self) -> None:
        # The pool calls connect() on every checkout; that is where a stale socket gets dropped.
        limit = self.idle_limit
        if limit is not None and self._sock is not None and time.monotonic() - self._last_used > limit:  # type: ignore[attr-defined]
            self.disconnect()  # type: ignore[attr-defined]
        super().connect()  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._last_used = time.monotonic()


def _connection_classes(time_out: float | None) -> tuple[type, type]:
    attrs = {"idle_limit": time_out}
    plain = type("CyberDBConnection", (_IdleDropMixin, Connection), attrs)
    secure = type("CyberDBSSLConnection", (_IdleDropMixin, SSLConnection), attrs)
    return plain, secure


def redis_options(host: str, port: int, password: str | None, encrypt: bool, time_out: float | None,
                  username: str | None, ca_certs: str | None) -> dict[str, Any]:
    """redis-py keyword arguments shared by the sync and async clients."""
    options: dict[str, Any] = {
        "host": host, "port": port, "password": password, "username": username,
        # The original had no socket timeouts: a stalled server hung the client forever.
        "socket_connect_timeout": 10, "socket_timeout": 60,
        # A few quick retries ride out a dropped connection; redis-py's default (10, backing off to
        # seconds) would make connect() slow to report a server that refuses us.
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.25), 3),
    }
    if encrypt:
        # With a CA, the certificate must also name the host; a pinned certificate is checked whole.
        options.update(ssl=True, ssl_check_hostname=bool(ca_certs), ssl_cert_reqs="required",
                       ssl_ca_certs=ca_certs or tls.trusted_certificate(host, port))
    return options


def _check_connect_args(password: object, time_out: object) -> None:
    if password is not None and not isinstance(password, str):
        raise WrongPasswordCyberDBError("The password must be a str.")
    if time_out is not None and (isinstance(time_out, bool) or not isinstance(time_out, int | float)):
        raise TypeCyberDBError("time_out must be a number of seconds.")


@translate_errors
def connect(host: str = "127.0.0.1", port: int = 9980, password: str | None = None, encrypt: bool = False,
            time_out: float | None = None, *, username: str | None = None, cluster: bool = False,
            ca_certs: str | None = None, max_connections: int | None = None) -> Client:
    """Connect to a CyberDB (respdb) server — or any Redis — and check the password now, not later.

    encrypt=True speaks TLS: with `ca_certs` the server certificate must chain to that CA; without it the
    certificate is trusted on first use and pinned (see cyberdb.tls). `time_out`: pooled connections idle
    longer than this many seconds are reconnected. `cluster=True` talks to a Redis Cluster.
    """
    _check_connect_args(password, time_out)
    try:
        options = redis_options(host, port, password, encrypt, time_out, username, ca_certs)
    except OSError as exc:  # first-contact certificate fetch: refused, reset, or not TLS at all
        raise DisconCyberDBError(f"cannot reach the CyberDB server over TLS: {exc}") from exc
    plain, secure = _connection_classes(time_out)
    if cluster:
        # RedisCluster builds its per-node pools itself (no connection_class hook): time_out does not apply.
        conn: Any = redis.cluster.RedisCluster(max_connections=max_connections or 2**31, **options)
    else:
        ssl_on = options.pop("ssl", False)
        if not ssl_on:
            options = {k: v for k, v in options.items() if not k.startswith("ssl_")}
        pool = redis.ConnectionPool(connection_class=secure if encrypt else plain,
                                    max_connections=max_connections, **options)
        conn = redis.Redis(connection_pool=pool)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        if encrypt and not ca_certs and "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise DisconCyberDBError(
                f"the TLS certificate of {host}:{port} differs from the one pinned on first use in "
                f"{tls.trust_dir()}; if the server's certificate was changed on purpose, remove the pin with "
                f"cyberdb.tls.forget({host!r}, {port})") from exc
        raise
    return Client(conn, time_out)


class Client:
    """A connection pool to one server (or cluster); hands out proxies.

    As in CyberDB, a connected proxy holds one connection until close(): its commands then skip the pool
    checkout redis-py does per command (measured ~1.5x more operations/s). The connections come from a
    free list of single-connection redis-py clients, because building one costs ~0.4 ms and the seed
    app connects a proxy per request.
    """

    def __init__(self, conn: redis.Redis | redis.cluster.RedisCluster, time_out: float | None = None) -> None:
        self.redis = conn
        self._time_out = time_out
        self._free: list[redis.Redis] = []
        # RedisCluster routes each command to a node itself: its proxies share it.
        self._pin = isinstance(conn, redis.Redis)

    def get_proxy(self) -> Proxy:
        return Proxy(self)

    def acquire(self) -> Any:
        if not self._pin:
            return self.redis
        try:
            pinned = self._free.pop()
        except IndexError:
            return redis.Redis(connection_pool=self.redis.connection_pool, single_connection_client=True)
        conn = pinned.connection
        limit = self._time_out
        if limit is not None and conn is not None and time.monotonic() - getattr(conn, "_last_used", 0.0) > limit:
            conn.disconnect()  # idle longer than time_out: the next command reconnects
        return pinned

    def release(self, pinned: Any) -> None:
        if pinned is not self.redis:
            self._free.append(pinned)

    def close(self) -> None:
        """Close every pooled connection (the original had no way to)."""
        while self._free:
            self._free.pop().close()
        self.redis.close()


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise WrongInputCyberDBError("The table name must be a str.")
    return name


class Proxy:
    """One user's view of the database: creates, opens, lists and deletes tables.

    As in CyberDB, connect() before use and close() after, or use it as a context manager — which, unlike
    CyberDB's, lets exceptions propagate.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._handle = Handle()

    def connect(self) -> None:
        # The tables share this handle, so they work again after a reconnect, as in CyberDB.
        if self._handle.r is None:
            self._handle.r = self._client.acquire()

    def close(self) -> None:
        pinned, self._handle.r = self._handle.r, None
        if pinned is not None:
            self._client.release(pinned)

    def __enter__(self) -> Proxy:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _r(self) -> Any:
        return self._handle.r or closed()

    @translate_errors
    def _create(self, name: object, content: object, kind: type, type_tag: bytes) -> None:
        name = check_name(name)
        if type(content) is not kind:
            raise WrongInputCyberDBError(f"The content must be a {kind.__name__}.")
        r = self._r()
        if not r.hsetnx(layout.REGISTRY, name, type_tag):
            raise WrongTableNameCyberDBError("Duplicate table names already exist!")
        key = layout.table_key(name)
        # Clear anything left under the key by a half-finished delete, then write the content atomically.
        with r.pipeline(True) as pipe:
            pipe.delete(key)
            if kind is dict:
                pairs = encoded_items(content)
                for i in range(0, len(pairs), 2 * layout.CHUNK):
                    pipe.hset(key, items=pairs[i:i + 2 * layout.CHUNK])
            else:
                values = [encode(v) for v in content]  # type: ignore[attr-defined]
                for i in range(0, len(values), layout.CHUNK):
                    pipe.rpush(key, *values[i:i + layout.CHUNK])
            pipe.execute()

    def create_cyberdict(self, table_name: str, content: dict | None = None) -> None:
        self._create(table_name, {} if content is None else content, dict, layout.DICT_TYPE)

    def create_cyberlist(self, table_name: str, content: list | None = None) -> None:
        self._create(table_name, [] if content is None else content, list, layout.LIST_TYPE)

    @translate_errors
    def _open(self, name: object, type_tag: bytes) -> str:
        name = check_name(name)
        found = self._r().hget(layout.REGISTRY, name)
        if found is None:
            raise WrongTableNameCyberDBError(f"{name} table does not exist.")
        if found != type_tag:
            raise TypeCyberDBError(f"{name} is a {found.decode()}, not a {type_tag.decode()}.")
        return name

    def get_cyberdict(self, table_name: str) -> CyberDict:
        name = self._open(table_name, layout.DICT_TYPE)
        return CyberDict(self._handle, name)

    def get_cyberlist(self, table_name: str) -> CyberList:
        name = self._open(table_name, layout.LIST_TYPE)
        return CyberList(self._handle, name)

    @translate_errors
    def tables(self) -> dict[str, str]:
        """Every table: name → 'CyberDict' or 'CyberList'."""
        raw = self._r().hgetall(layout.REGISTRY)
        return {k.decode("utf-8", "surrogatepass"): v.decode() for k, v in raw.items()}

    def print_tables(self) -> None:
        for name, kind in self.tables().items():
            print(f"table name: {name}  type name: {kind}")

    @translate_errors
    def delete_table(self, table_name: str) -> None:
        name = check_name(table_name)
        r = self._r()
        # Registry first: from then on nobody can open the table, so deleting its data races with no one.
        if not r.hdel(layout.REGISTRY, name):
            raise WrongTableNameCyberDBError(f"{name} table does not exist.")
        r.delete(layout.table_key(name))
