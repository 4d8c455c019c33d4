"""Snapshots with real processes and real files: SAVE/BGSAVE round trips, point-in-time BGSAVE, shutdown
saves, save rules, corrupt and encrypted files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.diff import Differ
from tests.servers import ROOT, Raw, ServerProcess, free_port, resp, respdb_server


def _wait(cond, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _shutdown(sp: ServerProcess, *args: str) -> None:
    """SHUTDOWN over a raw socket (redis-py would retry the closed connection for seconds)."""
    raw = Raw(sp.port)
    raw.send(resp("SHUTDOWN", *args))
    assert raw.read_all() == b""  # no reply: the connection just closes
    raw.close()
    assert sp.proc.wait(10) == 0


def _info(r: redis.Redis) -> dict:
    return r.info("persistence")


def _wait_bgsave(r: redis.Redis) -> None:
    _wait(lambda: _info(r)["rdb_bgsave_in_progress"] == 0, "BGSAVE to finish")


def fill_all_types(r: redis.Redis) -> dict:
    """Every type on several dbs, some keys with a TTL; returns the expected state."""
    expected = {}
    far = int(time.time() * 1000) + 3_600_000
    for db in (0, 3, 15):
        c = r if db == 0 else redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=db)
        c.set("str", f"v{db}\x00\xff".encode("latin-1"))
        c.set("num", 12345)
        c.hset("hash", mapping={"a": "1", "b": f"{db}"})
        c.rpush("list", "x", "y", "x", "")
        c.sadd("set", "m1", "m2", "m3")
        c.zadd("zset", {"a": 1.5, "b": -3, "c": float("inf"), "d": float("-inf")})
        c.set("ttl", "t")
        c.pexpireat("ttl", far)
        c.set("gone", "x", px=1)  # expired before any save: must not come back
        big = {f"f{i}": f"v{i}" for i in range(2000)}
        c.hset("bighash", mapping=big)
        expected[db] = state(c)
        expected[db]["pexpiretime"] = far
    time.sleep(0.01)
    return expected


def state(c: redis.Redis) -> dict:
    return {
        "str": c.get("str"),
        "num": c.get("num"),
        "hash": c.hgetall("hash"),
        "list": c.lrange("list", 0, -1),
        "set": c.smembers("set"),
        "zset": c.zrange("zset", 0, -1, withscores=True),
        "ttl": c.get("ttl"),
        "bighash": c.hgetall("bighash"),
        "types": sorted(c.type(k) for k in c.keys("*")),
    }


def check_all_types(port: int, expected: dict) -> None:
    for db, want in expected.items():
        c = redis.Redis(port=port, db=db)
        got = state(c)
        got["pexpiretime"] = c.pexpiretime("ttl")
        assert got == want, f"db {db}"
        assert c.exists("gone") == 0
        assert c.ttl("str") == -1


def test_save_round_trip_every_type_and_expiry(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        expected = fill_all_types(r)
        assert r.save() is True
        sp.stop(signal.SIGKILL)  # no shutdown save: what is on disk is what SAVE wrote
    assert (tmp_path / "dump.cdb").exists()
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        check_all_types(sp.port, expected)
        info = _info(sp.client())
        assert info["rdb_last_load_keys_loaded"] == 24
        assert info["rdb_changes_since_last_save"] == 0


def test_bgsave_round_trip_every_type_and_expiry(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        expected = fill_all_types(r)
        assert r.bgsave() is True
        _wait_bgsave(r)
        info = _info(r)
        assert info["rdb_last_bgsave_status"] == "ok"
        assert info["rdb_changes_since_last_save"] == 0
        sp.stop(signal.SIGKILL)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        check_all_types(sp.port, expected)


def test_bgsave_holds_the_data_of_the_fork_moment(tmp_path: Path) -> None:
    n = 20_000
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"k{i}", "old")
        pipe.execute()
        for i in range(40):  # large values keep the child busy while the writes below run
            r.set(f"big{i}", b"o" * (2 << 20))
        r.bgsave()  # the reply comes after the fork: everything below happens after the snapshot point
        writes = 0
        while _info(r)["rdb_bgsave_in_progress"] or writes == 0:
            pipe = r.pipeline(transaction=False)
            for i in range(writes, writes + 500):
                pipe.set(f"k{i % n}", "new")
                pipe.set(f"added{i}", "x")
            pipe.execute()
            writes += 500
        assert _info(r)["rdb_last_bgsave_status"] == "ok"
        assert _info(r)["rdb_changes_since_last_save"] == 2 * writes
        sp.stop(signal.SIGKILL)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.dbsize() == n + 40
        assert r.keys("added*") == []
        values = r.mget([f"k{i}" for i in range(0, n, 97)])
        assert set(values) == {b"old"}


def test_bgsave_replies_and_errors_match_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    d = Differ(server, oracle)
    try:
        for args in (("BGSAVE", "foo"), ("BGSAVE", "SCHEDULE", "x"), ("SAVE", "x"), ("LASTSAVE", "x"), ("BGREWRITEAOF", "x")):
            d.check(*args)
    finally:
        d.close()


@pytest.mark.slow
def test_bgsave_twice_reports_in_progress(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        blob = b"x" * (2 << 20)
        for i in range(100):  # ~200 MB to checksum and write: the child runs long enough
            r.set(f"k{i}", blob)
        raw = Raw(sp.port)
        assert raw.request(resp("BGSAVE")) == b"+Background saving started\r\n"
        assert raw.request(resp("BGSAVE")) == b"-ERR Background save already in progress\r\n"
        assert raw.request(resp("BGSAVE", "SCHEDULE")) == b"-ERR Background save already in progress\r\n"
        assert raw.request(resp("SAVE")) == b"-ERR Background save already in progress\r\n"
        assert raw.request(resp("BGREWRITEAOF")) == b"+Background append only file rewriting scheduled\r\n"
        raw.close()
        _wait(lambda: _info(r)["aof_rewrite_scheduled"] == 0 and _info(r)["aof_rewrite_in_progress"] == 0 and _info(r)["rdb_bgsave_in_progress"] == 0, "children")
        assert (tmp_path / "appendonly.aof").exists()


def test_lastsave_advances_on_save(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        before = r.lastsave()
        assert abs(before.timestamp() - time.time()) < 60
        r.set("a", "1")
        assert _info(r)["rdb_changes_since_last_save"] == 1
        r.save()
        assert r.lastsave() >= before
        assert _info(r)["rdb_saves"] == 1


def test_shutdown_saves_when_rules_are_configured(tmp_path: Path) -> None:
    with respdb_server(workdir=tmp_path) as sp:  # default rules "3600 1 300 100 60 10000"
        sp.client().set("a", "1")
        _shutdown(sp)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        assert sp.client().get("a") == b"1"


def test_sigterm_saves_when_rules_are_configured(tmp_path: Path) -> None:
    with respdb_server("--save", "3600 1", workdir=tmp_path) as sp:
        sp.client().set("a", "sig")
        sp.stop(signal.SIGTERM)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        assert sp.client().get("a") == b"sig"


def test_shutdown_without_rules_saves_only_when_asked(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        sp.client().set("a", "1")
        sp.stop(signal.SIGTERM)
    assert not (tmp_path / "dump.cdb").exists()
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        sp.client().set("b", "2")
        _shutdown(sp, "SAVE")
    with respdb_server("--save", "3600 1", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.get("b") == b"2"
        r.set("c", "3")
        _shutdown(sp, "NOSAVE")
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        assert sp.client().get("c") is None


def test_save_rules_trigger_bgsave(tmp_path: Path) -> None:
    with respdb_server("--save", "1 2", workdir=tmp_path) as sp:
        r = sp.client()
        r.set("a", "1")
        r.set("b", "2")
        _wait(lambda: _info(r)["rdb_saves"] >= 1, "the save rule to fire", timeout=10)
        assert _info(r)["rdb_changes_since_last_save"] == 0
        r.config_set("save", "")
        assert r.config_get("save") == {"save": ""}
        r.config_set("save", "100 5 10 20")
        assert r.config_get("save") == {"save": "100 5 10 20"}


# --- files that cannot be loaded ---------------------------------------------------------------------
def _start_fails(workdir: Path, *args: str) -> str:
    """Start respdb expecting it to refuse; returns its output."""
    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "respdb", "--port", str(port), "--save", "", *args],
        cwd=workdir, capture_output=True, timeout=30, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    return (proc.stdout + proc.stderr).decode()


def _saved_file(workdir: Path, *args: str) -> bytes:
    with respdb_server("--save", "", *args, workdir=workdir) as sp:
        r = sp.client()
        for i in range(50):
            r.set(f"k{i}", f"value{i}")
        r.hset("h", mapping={"a": "1"})
        r.save()
    return (workdir / "dump.cdb").read_bytes()


@pytest.fixture(scope="module")
def good_cdb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _saved_file(tmp_path_factory.mktemp("good"))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b[:5] + bytes([b[5] ^ 0x40]) + b[6:], "wrong magic"),
        (lambda b: b[:40] + bytes([b[40] ^ 0x01]) + b[41:], "checksum mismatch"),
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b"", "empty file"),
        (lambda b: b + b"\x00", "unexpected bytes"),
    ],
)
def test_corrupt_cdb_refuses_to_start_and_keeps_the_file(tmp_path: Path, good_cdb: bytes, mangle, message: str) -> None:
    bad = mangle(good_cdb)
    (tmp_path / "dump.cdb").write_bytes(bad)
    out = _start_fails(tmp_path)
    assert "dump.cdb" in out and message in out, out
    assert (tmp_path / "dump.cdb").read_bytes() == bad


def test_every_flipped_byte_is_detected(good_cdb: bytes) -> None:
    from respdb.persistence.snapshot import SnapshotError, parse

    for i in range(len(good_cdb)):
        for bit in (0x01, 0x80):
            bad = bytearray(good_cdb)
            bad[i] ^= bit
            with pytest.raises(SnapshotError):
                parse(bytes(bad), None)
    for cut in range(len(good_cdb)):
        with pytest.raises(SnapshotError):
            parse(good_cdb[:cut], None)


def test_encrypted_snapshot_round_trip_and_wrong_key(tmp_path: Path) -> None:
    good = _saved_file(tmp_path, "--cdb-encryption-key", "s3cret")
    assert b"value1" not in good and b"k1" not in good
    with respdb_server("--save", "", "--cdb-encryption-key", "s3cret", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.get("k7") == b"value7" and r.hgetall("h") == {b"a": b"1"}
    out = _start_fails(tmp_path, "--cdb-encryption-key", "wrong")
    assert "wrong encryption key" in out and "dump.cdb" in out
    out = _start_fails(tmp_path)
    assert "no cdb-encryption-key" in out
    bad = bytearray(good)
    bad[-20] ^= 0x04
    (tmp_path / "dump.cdb").write_bytes(bytes(bad))
    out = _start_fails(tmp_path, "--cdb-encryption-key", "s3cret")
    assert "modified or truncated" in out
    assert (tmp_path / "dump.cdb").read_bytes() == bytes(bad)


def test_key_file_and_plain_file_upgraded_to_encrypted(tmp_path: Path) -> None:
    _saved_file(tmp_path)  # written without a key
    (tmp_path / "key.txt").write_text("from-a-file\n")
    with respdb_server("--save", "", "--cdb-encryption-key-file", "key.txt", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.get("k1") == b"value1"  # a plain file loads under a configured key
        r.save()
    assert b"value1" not in (tmp_path / "dump.cdb").read_bytes()
    with respdb_server("--save", "", "--cdb-encryption-key", "from-a-file", workdir=tmp_path) as sp:
        assert sp.client().get("k3") == b"value3"


def test_info_persistence_fields_match_redis(r: redis.Redis, oracle: ServerProcess) -> None:
    ours = list(r.info("persistence"))
    theirs = list(oracle.client().info("persistence"))
    assert ours == theirs


def test_persistence_config_parameters_match_redis(server: ServerProcess, oracle: ServerProcess) -> None:
    d = Differ(server, oracle)
    try:
        for name in (
            "appendonly", "appendfsync", "appendfilename", "auto-aof-rewrite-percentage",
            "auto-aof-rewrite-min-size", "aof-load-truncated", "stop-writes-on-bgsave-error",
        ):
            d.check("CONFIG", "GET", name)
        d.check("CONFIG", "SET", "appendfsync", "sometimes")
        d.check("CONFIG", "SET", "appendfsync", "no")
        d.check("CONFIG", "GET", "appendfsync")
        d.check("CONFIG", "SET", "appendfsync", "everysec")
        d.check("CONFIG", "SET", "save", "100 x")
        d.check("CONFIG", "SET", "save", "100 10 20 30")
        d.check("CONFIG", "GET", "save")
        d.check("CONFIG", "SET", "save", "")
        d.check("CONFIG", "GET", "save")
        d.check("CONFIG", "SET", "appendfilename", "other.aof")
        d.check("CONFIG", "SET", "save", "3600 1 300 100 60 10000")
    finally:
        d.close()


def test_failed_saves_report_errors_and_block_shutdown(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with respdb_server("--save", "3600 1", "--dir", "sub", workdir=tmp_path) as sp:
        r = sp.client()
        r.set("a", "1")
        (tmp_path / "sub").rmdir()  # every save now fails: its temp file has nowhere to go
        raw = Raw(sp.port)
        assert raw.request(resp("SAVE")) == b"-ERR\r\n"
        assert raw.request(resp("BGSAVE")) == b"+Background saving started\r\n"
        _wait(lambda: _info(r)["rdb_last_bgsave_status"] == "err", "the failed BGSAVE")
        # stop-writes-on-bgsave-error: writes and PING are refused, reads are not; inside MULTI the
        # refusal comes at queueing time, as in Redis
        misconf = b"-MISCONF Redis is configured to save RDB snapshots"
        assert raw.request(resp("SET", "b", "2")).startswith(misconf)
        assert raw.request(resp("PING")).startswith(misconf)
        assert raw.request(resp("GET", "a")) == b"$1\r\n1\r\n"
        assert raw.request(resp("MULTI")) == b"+OK\r\n"
        assert raw.request(resp("SET", "b", "2")).startswith(misconf)
        assert raw.request(resp("DISCARD")) == b"+OK\r\n"
        r.config_set("stop-writes-on-bgsave-error", "no")
        _wait(lambda: raw.request(resp("SET", "b", "2")) == b"+OK\r\n", "writes accepted again")
        assert raw.request(resp("SHUTDOWN")) == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert sp.proc.poll() is None
        raw.send(resp("SHUTDOWN", "FORCE"))
        assert raw.read_all() == b""
        assert sp.proc.wait(10) == 0
