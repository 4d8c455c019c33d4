"""connect(), Client and Proxy: table registry, type checks, error classes, pooling and idle drop."""

from __future__ import annotations

import socket

import cyberdb
import pytest
import redis
from cyberdb.extensions import (
    CyberDBError,
    DisconCyberDBError,
    TypeCyberDBError,
    WrongInputCyberDBError,
    WrongPasswordCyberDBError,
    WrongTableNameCyberDBError,
)

from tests.servers import free_port, respdb_server


def test_proxy_empty_tables_exist(proxy: cyberdb.Proxy) -> None:
    proxy.create_cyberdict("d")
    proxy.create_cyberlist("l")
    assert proxy.tables() == {"d": "CyberDict", "l": "CyberList"}
    assert len(proxy.get_cyberdict("d")) == 0 and len(proxy.get_cyberlist("l")) == 0


def test_proxy_create_with_content_and_duplicates(proxy: cyberdb.Proxy) -> None:
    proxy.create_cyberdict("d", {"a": 1})
    proxy.create_cyberlist("l", [1, 2])
    assert proxy.get_cyberdict("d") == {"a": 1} and proxy.get_cyberlist("l") == [1, 2]
    with pytest.raises(WrongTableNameCyberDBError, match="Duplicate table names already exist!"):
        proxy.create_cyberdict("l")
    with pytest.raises(WrongInputCyberDBError):
        proxy.create_cyberdict(5)  # type: ignore[arg-type]
    with pytest.raises(WrongInputCyberDBError):
        proxy.create_cyberdict("x", [1])  # type: ignore[arg-type]
    with pytest.raises(WrongInputCyberDBError):
        proxy.create_cyberlist("x", {"a": 1})  # type: ignore[arg-type]


def test_proxy_get_is_type_checked(proxy: cyberdb.Proxy) -> None:
    proxy.create_cyberdict("d")
    with pytest.raises(TypeCyberDBError, match="d is a CyberDict, not a CyberList"):
        proxy.get_cyberlist("d")
    with pytest.raises(WrongTableNameCyberDBError, match=r"nope table does not exist\."):
        proxy.get_cyberdict("nope")


def test_proxy_delete_table_then_recreate_empty(proxy: cyberdb.Proxy) -> None:
    proxy.create_cyberdict("d", {"a": 1})
    proxy.delete_table("d")
    assert proxy.tables() == {}
    with pytest.raises(WrongTableNameCyberDBError):
        proxy.delete_table("d")
    proxy.create_cyberlist("d")
    assert proxy.get_cyberlist("d") == []


def test_proxy_print_tables(proxy: cyberdb.Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    proxy.print_tables()
    assert capsys.readouterr().out == ""
    proxy.create_cyberdict("centre")
    proxy.print_tables()
    assert capsys.readouterr().out == "table name: centre  type name: CyberDict\n"


def test_proxy_context_manager_propagates_exceptions(client: cyberdb.Client) -> None:
    with pytest.raises(ZeroDivisionError), client.get_proxy() as p:
        p.create_cyberdict("d")
        1 / 0  # noqa: B018
    p2 = client.get_proxy()
    with pytest.raises(DisconCyberDBError):
        p2.tables()


def test_proxy_unicode_and_brace_table_names(proxy: cyberdb.Proxy) -> None:
    for name in ["日本", "a}b", "{x}", ""]:
        proxy.create_cyberdict(name, {"k": name})
        assert proxy.get_cyberdict(name)["k"] == name
    assert set(proxy.tables()) == {"日本", "a}b", "{x}", ""}


def test_connect_wrong_password_fails_fast() -> None:
    with respdb_server("--requirepass", "secret", password="secret") as sp:
        with pytest.raises(WrongPasswordCyberDBError):
            cyberdb.connect(port=sp.port, password="wrong")
        with pytest.raises(WrongPasswordCyberDBError):
            cyberdb.connect(port=sp.port)
        c = cyberdb.connect(port=sp.port, password="secret")
        with c.get_proxy() as p:
            p.create_cyberdict("d")
            assert p.tables() == {"d": "CyberDict"}


def test_connect_refused_fails_fast() -> None:
    with pytest.raises(DisconCyberDBError) as info:
        cyberdb.connect(port=free_port(), password="x")
    assert isinstance(info.value, CyberDBError)


def test_connect_checks_argument_types() -> None:
    with pytest.raises(WrongPasswordCyberDBError):
        cyberdb.connect(password=123)  # type: ignore[arg-type]
    with pytest.raises(cyberdb.extensions.TypeCyberDBError):
        cyberdb.connect(password="x", time_out="9")  # type: ignore[arg-type]


def test_connect_time_out_drops_idle_connections(compat_respdb) -> None:
    c = cyberdb.connect(port=compat_respdb.port, time_out=0)
    r = c.redis
    r.set("k", "1")
    first = r.client_id()
    # time_out=0: every connection counts as idle at its next checkout, so each command reconnects.
    assert r.client_id() != first
    c2 = cyberdb.connect(port=compat_respdb.port, time_out=900)
    assert c2.redis.client_id() == c2.redis.client_id()


def test_connect_server_gone_mid_session_raises_discon() -> None:
    with respdb_server() as sp:
        c = cyberdb.connect(port=sp.port)
        p = c.get_proxy()
        p.connect()
        p.create_cyberdict("d")
        d = p.get_cyberdict("d")
        sp.stop()
        with pytest.raises(DisconCyberDBError):
            d["a"] = 1


def test_connect_socket_has_timeouts(compat_respdb) -> None:
    c = cyberdb.connect(port=compat_respdb.port)
    conn = c.redis.connection_pool.get_connection()
    try:
        assert conn.socket_timeout == 60 and isinstance(conn._sock, socket.socket)
    finally:
        c.redis.connection_pool.release(conn)
    assert isinstance(c.redis, redis.Redis)


def test_proxy_holds_one_connection_and_time_out_renews_idle_ones(compat_respdb) -> None:
    c = cyberdb.connect(port=compat_respdb.port, time_out=0)
    p = c.get_proxy()
    p.connect()
    p.create_cyberdict("d")
    d = p.get_cyberdict("d")
    first = p._handle.r.client_id()
    assert p._handle.r.client_id() == first  # the proxy's own connection, not a pool checkout per command
    p.close()
    p.connect()  # the same pooled connection, idle longer than time_out=0: reconnected
    assert p._handle.r.client_id() != first
    d["a"] = 1
    assert d["a"] == 1
    p.close()
    p.close()
    c2 = cyberdb.connect(port=compat_respdb.port, time_out=900)
    with c2.get_proxy() as p2:
        kept = p2._handle.r.client_id()
    with c2.get_proxy() as p3:
        assert p3._handle.r.client_id() == kept


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import sys
import gevent
import cyberdb

client = cyberdb.connect(port=int(sys.argv[1]), time_out=900)
with client.get_proxy() as proxy:
    proxy.create_cyberdict("g")

def worker(n):
    with client.get_proxy() as proxy:
        d = proxy.get_cyberdict("g")
        for i in range(20):
            d[f"{n}:{i}"] = i
        return sum(d[f"{n}:{i}"] for i in range(20))

jobs = [gevent.spawn(worker, n) for n in range(50)]
gevent.joinall(jobs, raise_error=True)
assert [j.value for j in jobs] == [190] * 50
with client.get_proxy() as proxy:
    assert len(proxy.get_cyberdict("g")) == 1000
print("ok")
"""


def test_connect_works_under_gevent_monkey_patching(compat_respdb) -> None:
    import subprocess
    import sys

    compat_respdb.client().flushall()
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT, str(compat_respdb.port)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
