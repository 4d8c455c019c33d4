"""cyberdb.Server runs respdb: options, TLS with trust on first use, IP allowlist, backups, legacy files."""

from __future__ import annotations

import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import cyberdb
import pytest
import redis
from cyberdb.extensions import (
    BackupCyberDBError,
    DisconCyberDBError,
    TypeCyberDBError,
    WrongFilenameCyberDBError,
    WrongInputCyberDBError,
)
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers import free_port

PASSWORD = "hWjYvVdqRC"


@pytest.fixture
def trust_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CYBERDB_TRUST_DIR", str(tmp_path / "trusted"))
    return tmp_path / "trusted"


@pytest.fixture
def make_server() -> Iterator:
    servers: list[cyberdb.Server] = []

    def make() -> cyberdb.Server:
        servers.append(cyberdb.Server())
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def test_server_start_maps_options(make_server) -> None:
    s = make_server()
    port = free_port()
    s.start(port=port, password=PASSWORD, max_con=77, timeout=30)
    r = redis.Redis(port=port, password=PASSWORD)
    assert r.config_get("maxclients") == {"maxclients": "77"}
    assert r.config_get("timeout") == {"timeout": "30"}
    assert r.config_get("requirepass")["requirepass"] == PASSWORD
    s.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, password=PASSWORD, retry=Retry(NoBackoff(), 0)).ping()


def test_server_start_reports_failure(make_server) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(RuntimeError, match="exited during startup"):
            make_server().start(port=busy.getsockname()[1], password=PASSWORD)
    with pytest.raises(RuntimeError, match=r"The password cannot be empty\."):
        make_server().start(port=free_port())


def test_server_encrypt_alone_gives_working_tls(make_server, trust_dir: Path, tmp_path: Path) -> None:
    s = make_server()
    port = free_port()
    s.set_backup(str(tmp_path / "data.cdb"), cycle=300)
    s.start(port=port, password=PASSWORD, encrypt=True)
    assert (tmp_path / "cyberdb-cert.pem").exists()
    client = cyberdb.connect(port=port, password=PASSWORD, encrypt=True, time_out=900)
    with client.get_proxy() as proxy:
        proxy.create_cyberdict("centre")
        proxy.get_cyberdict("centre")["content"] = "Hello CyberDB!"
    assert list(trust_dir.iterdir())  # pinned on first use
    # Plain text is not accepted on the TLS port.
    with pytest.raises(DisconCyberDBError):
        cyberdb.connect(port=port, password=PASSWORD)
    # Another certificate on the same host:port (a different server) is refused with a clear message.
    s.stop()
    other = make_server()
    other.set_backup(str(tmp_path / "other" / "data.cdb"), cycle=300)
    other.start(port=port, password=PASSWORD, encrypt=True)
    with pytest.raises(DisconCyberDBError, match="differs from the one pinned"):
        cyberdb.connect(port=port, password=PASSWORD, encrypt=True)
    cyberdb.tls.forget("127.0.0.1", port)
    assert cyberdb.connect(port=port, password=PASSWORD, encrypt=True).get_proxy() is not None


def test_server_encrypt_with_given_ca(make_server, tmp_path: Path) -> None:
    cert, key = cyberdb.tls.ensure_certificate(tmp_path / "ca")
    port = free_port()
    make_server().start(port=port, password=PASSWORD, encrypt=True, certfile=cert, keyfile=key)
    client = cyberdb.connect(port=port, password=PASSWORD, encrypt=True, ca_certs=cert)
    with client.get_proxy() as proxy:
        assert proxy.tables() == {}


def _outside_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_server_ip_whitelist_is_enforced(make_server) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("no non-loopback address to connect from")
    s = make_server()
    with pytest.raises(WrongInputCyberDBError):
        s.set_ip_whitelist(["999.1.1.1"])
    s.set_ip_whitelist(["192.0.2.7", "2001:db8::/32"])
    port = free_port()
    s.start(host="0.0.0.0", port=port, password=PASSWORD)
    assert cyberdb.connect(port=port, password=PASSWORD).get_proxy() is not None  # loopback stays allowed
    with pytest.raises(DisconCyberDBError):
        cyberdb.connect(host=outside, port=port, password=PASSWORD)
    s.set_ip_whitelist([outside])  # applied to the running server
    assert cyberdb.connect(host=outside, port=port, password=PASSWORD).get_proxy() is not None


def test_server_ipv6_whitelist_entries_and_loopback(make_server) -> None:
    s = make_server()
    s.set_ip_whitelist(["fe80::1", "10.0.0.0/8"])
    port = free_port()
    try:
        s.start(host="::1", port=port, password=PASSWORD)
    except RuntimeError:
        pytest.skip("no IPv6 loopback here")
    c = cyberdb.connect(host="::1", port=port, password=PASSWORD)
    with c.get_proxy() as p:
        p.create_cyberlist("l", [1])
        assert p.get_cyberlist("l") == [1]


def test_server_backup_survives_restart_and_save_db_copies(make_server, tmp_path: Path) -> None:
    data = tmp_path / "data.cdb"
    s = make_server()
    with pytest.raises(WrongFilenameCyberDBError):
        s.set_backup(str(tmp_path / "data.db"))
    with pytest.raises(TypeCyberDBError):
        s.set_backup(str(data), cycle="300")  # type: ignore[arg-type]
    s.set_backup(str(data), cycle=300)
    port = free_port()
    s.start(port=port, password=PASSWORD)
    with cyberdb.connect(port=port, password=PASSWORD).get_proxy() as p:
        p.create_cyberdict("centre", {"content": "Hello CyberDB!", "n": 0})
        p.create_cyberlist("empty")
    s.save_db(str(tmp_path / "copy.cdb"))
    s.stop()  # saves on the way out
    for source in (data, tmp_path / "copy.cdb"):
        s2 = make_server()
        s2.load_db(str(source))
        port = free_port()
        s2.start(port=port, password=PASSWORD)
        with cyberdb.connect(port=port, password=PASSWORD).get_proxy() as p:
            assert p.tables() == {"centre": "CyberDict", "empty": "CyberList"}
            assert p.get_cyberdict("centre") == {"content": "Hello CyberDB!", "n": 0}
        s2.stop()


def test_server_save_db_needs_running_server(make_server, tmp_path: Path) -> None:
    with pytest.raises(BackupCyberDBError):
        make_server().save_db(str(tmp_path / "x.cdb"))


def legacy_file(path: Path, db: dict, protocol: int = 4) -> Path:
    """A data file as CyberDB 0.9.3's save_db wrote it (plain pickle of its _data dict)."""
    config = {"host": "127.0.0.1", "port": 9980, "password": "old", "print_log": False, "encrypt": False}
    path.write_bytes(pickle.dumps({"config": config, "db": db}, protocol=protocol))
    return path


def test_server_load_db_imports_cyberdb_093_file(make_server, tmp_path: Path) -> None:
    db = {"centre": {"content": "Hello CyberDB!", 0: None, (1, 2): {"x": b"y"}},
          "items": [1, 0, "", False, [], {}, 2.5, {1, 2}, frozenset({3})]}
    for protocol in (4, 5):
        s = make_server()
        s.load_db(str(legacy_file(tmp_path / f"old{protocol}.cdb", db, protocol)))
        port = free_port()
        s.start(port=port, password=PASSWORD)
        with cyberdb.connect(port=port, password=PASSWORD).get_proxy() as p:
            assert p.tables() == {"centre": "CyberDict", "items": "CyberList"}
            assert p.get_cyberdict("centre").todict() == db["centre"]
            assert p.get_cyberlist("items").tolist() == db["items"]
            # Loading into the running server replaces tables of the same name.
            p.get_cyberdict("centre")["content"] = "changed"
            s.load_db(str(tmp_path / f"old{protocol}.cdb"))
            assert p.get_cyberdict("centre")["content"] == "Hello CyberDB!"
        s.stop()


class Exploit:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("touch /tmp/cyberdb-pwned-marker",))


def test_server_load_db_refuses_pickle_with_global(make_server, tmp_path: Path) -> None:
    marker = Path("/tmp/cyberdb-pwned-marker")
    marker.unlink(missing_ok=True)
    bad = tmp_path / "bad.cdb"
    bad.write_bytes(pickle.dumps({"config": {}, "db": {"t": {"x": Exploit()}}}))
    with pytest.raises(BackupCyberDBError, match=r"refused global posix\.system"):
        make_server().load_db(str(bad))
    assert not marker.exists()
    # Even a harmless-looking global (datetime) is refused: only plain built-in values load.
    import datetime

    legacy_file(bad, {"t": {"when": datetime.date(2022, 6, 30)}})
    with pytest.raises(BackupCyberDBError, match=r"refused global datetime\.date"):
        make_server().load_db(str(bad))
    bad.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(BackupCyberDBError, match="not a CyberDB data file"):
        make_server().load_db(str(bad))


def test_server_encrypt_with_aioconnect(make_server, trust_dir: Path) -> None:
    import asyncio

    port = free_port()
    cert, key = cyberdb.tls.ensure_certificate(trust_dir.parent / "srv")
    make_server().start(port=port, password=PASSWORD, encrypt=True, certfile=cert, keyfile=key)

    async def main() -> None:
        client = cyberdb.aioconnect(port=port, password=PASSWORD, encrypt=True)
        async with client.get_proxy() as proxy:
            await proxy.create_cyberlist("l", [1, "two"])
            assert await (await proxy.get_cyberlist("l")).tolist() == [1, "two"]
        await client.close()

    asyncio.run(main())


def test_server_print_log_goes_to_stdout(make_server, capfd: pytest.CaptureFixture[str]) -> None:
    s = make_server()
    s.start(port=free_port(), password=PASSWORD, print_log=True)
    s.stop()
    out = capfd.readouterr().out
    assert "Ready to accept connections" in out and "bye bye" in out


def test_server_run_blocks_until_stopped(make_server) -> None:
    import threading

    s = make_server()
    port = free_port()
    runner = threading.Thread(target=s.run, kwargs={"port": port, "password": PASSWORD})
    runner.start()
    end = time.monotonic() + 30
    while not s.running and time.monotonic() < end:
        time.sleep(0.05)
    assert cyberdb.connect(port=port, password=PASSWORD).get_proxy() is not None
    assert runner.is_alive()
    s.stop()
    runner.join(timeout=30)
    assert not runner.is_alive()


def test_server_max_con_limits_clients(make_server) -> None:
    port = free_port()
    make_server().start(port=port, password=PASSWORD, max_con=2)
    held = [cyberdb.connect(port=port, password=PASSWORD) for _ in range(2)]
    with pytest.raises(DisconCyberDBError, match="max number of clients reached"):
        cyberdb.connect(port=port, password=PASSWORD)
    for c in held:
        c.close()


def test_server_seed_flow_on_an_old_cyberdb_file(make_server, tmp_path: Path) -> None:
    """load_db('data.cdb'); set_backup('data.cdb') where data.cdb was written by CyberDB 0.9.3."""
    data = legacy_file(tmp_path / "data.cdb", {"centre": {"content": "Hello CyberDB!"}})
    s = make_server()
    s.load_db(str(data))
    s.set_backup(str(data), cycle=300)
    port = free_port()
    s.start(port=port, password=PASSWORD)
    with cyberdb.connect(port=port, password=PASSWORD).get_proxy() as p:
        assert p.get_cyberdict("centre")["content"] == "Hello CyberDB!"
    s.stop()
    assert (tmp_path / "data.cdb.cyberdb093").read_bytes()[:1] == b"\x80"  # the old file, kept
    assert data.read_bytes().startswith(b"RESPDCDB")
    s2 = make_server()
    s2.load_db(str(data))
    s2.set_backup(str(data), cycle=300)
    port = free_port()
    s2.start(port=port, password=PASSWORD)
    with cyberdb.connect(port=port, password=PASSWORD).get_proxy() as p:
        assert p.get_cyberdict("centre").todict() == {"content": "Hello CyberDB!"}
