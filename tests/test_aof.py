"""The append-only log with real processes: crash tests, torn tails, rewrites, encryption."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.servers import ROOT, Raw, free_port, resp, respdb_server


def _wait(cond, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _info(r: redis.Redis) -> dict:
    return r.info("persistence")


def _start_fails(workdir: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "respdb", "--port", str(free_port()), "--save", "", *args],
        cwd=workdir, capture_output=True, timeout=30, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    return (proc.stdout + proc.stderr).decode()


def _crash_while_writing(sp, kill_after: int) -> int:
    """Write SET k<i> sequentially; SIGKILL the server from another thread mid-stream. Returns the
    number of acknowledged writes."""
    acked = 0
    r = sp.client(socket_timeout=10)

    def killer() -> None:
        while acked < kill_after:
            time.sleep(0.001)
        sp.proc.send_signal(signal.SIGKILL)

    t = threading.Thread(target=killer)
    t.start()
    try:
        while True:
            r.set(f"k{acked}", acked)
            acked += 1
    except (redis.ConnectionError, redis.TimeoutError):
        pass
    t.join()
    sp.proc.wait()
    return acked


AOF_ALWAYS = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")


def test_aof_always_sigkill_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        acked = _crash_while_writing(sp, 300)
    assert acked >= 300
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        values = r.mget([f"k{i}" for i in range(acked)])
        missing = [i for i, v in enumerate(values) if v != str(i).encode()]
        assert missing == []
        assert r.dbsize() in (acked, acked + 1)  # + the one write in flight at the kill, if it landed


def test_aof_everysec_sigkill_loses_at_most_a_second(tmp_path: Path) -> None:
    args = ("--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
    with respdb_server(*args, workdir=tmp_path) as sp:
        start = time.monotonic()
        acked = _crash_while_writing(sp, 1000)
        rate = acked / (time.monotonic() - start)
    with respdb_server(*args, workdir=tmp_path) as sp:
        r = sp.client()
        present = sum(1 for v in r.mget([f"k{i}" for i in range(acked)]) if v is not None)
    assert acked - present <= rate  # at most one second's worth of writes


def test_aof_transactions_replay_atomically(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        for _ in range(50):
            pipe = r.pipeline(transaction=True)
            pipe.incr("a")
            pipe.select(2) if False else None
            pipe.incr("b")
            pipe.execute()
        r2 = sp.client(db=2)
        r2.set("in2", "x")
        sp.stop(signal.SIGKILL)
    text = (tmp_path / "appendonly.aof").read_bytes()
    assert text.count(b"MULTI") == 50
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        assert r.mget("a", "b") == [b"50", b"50"]
        assert sp.client(db=2).get("in2") == b"x"
        assert r.get("in2") is None


def test_aof_relative_expiry_is_not_extended_by_replay(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        r.set("a", "1", ex=100)
        r.expire("a", 200)
        r.restore("b", 300_000, r.dump("a"))  # logged as RESTORE ... ABSTTL
        whens = [r.pexpiretime("a"), r.pexpiretime("b")]
        sp.stop(signal.SIGKILL)
    assert b"ABSTTL" in (tmp_path / "appendonly.aof").read_bytes()
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        assert [r.pexpiretime("a"), r.pexpiretime("b")] == whens
        assert r.get("b") == b"1"


def _aof_with_tail(tmp_path: Path, tail: bytes) -> tuple[bytes, bytes]:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        for i in range(10):
            r.set(f"k{i}", i)
        sp.stop(signal.SIGKILL)
    path = tmp_path / "appendonly.aof"
    whole = path.read_bytes()
    path.write_bytes(whole + tail)
    return whole, whole + tail


@pytest.mark.parametrize(
    "tail",
    [
        b"*3\r\n$3\r\nSET\r\n$2\r\nkX\r\n$3\r\nva",  # a torn last command
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$2\r\nkX\r\n$1\r\nv\r\n",  # a transaction without its EXEC
    ],
)
def test_aof_truncated_tail_loads_what_is_whole(tmp_path: Path, tail: bytes) -> None:
    whole, torn = _aof_with_tail(tmp_path, tail)
    out = _start_fails(tmp_path, "--appendonly", "yes", "--aof-load-truncated", "no")
    assert "appendonly.aof" in out and "Unexpected end of file" in out
    assert (tmp_path / "appendonly.aof").read_bytes() == torn
    with respdb_server("--save", "", "--appendonly", "yes", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.dbsize() == 10 and r.get("kX") is None
        assert "aof-load-truncated" in sp.log_text()
    assert (tmp_path / "appendonly.aof").read_bytes().startswith(whole)


def test_aof_bad_format_in_the_middle_refuses_to_start(tmp_path: Path) -> None:
    whole, _ = _aof_with_tail(tmp_path, b"")
    bad = whole.replace(b"$2\r\nk5", b"#2\r\nk5")
    (tmp_path / "appendonly.aof").write_bytes(bad)
    out = _start_fails(tmp_path, "--appendonly", "yes")
    assert "Bad file format" in out and "appendonly.aof" in out
    assert (tmp_path / "appendonly.aof").read_bytes() == bad


def test_bgrewriteaof_under_writes_loses_nothing(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        pipe = r.pipeline(transaction=False)
        for i in range(30_000):
            pipe.set(f"key{i % 1000}", i)  # a log much longer than the data
        pipe.execute()
        size_before = (tmp_path / "appendonly.aof").stat().st_size
        raw = Raw(sp.port)
        assert raw.request(resp("BGREWRITEAOF")) == b"+Background append only file rewriting started\r\n"
        assert raw.request(resp("BGREWRITEAOF")) == b"-ERR Background append only file rewriting already in progress\r\n"
        assert raw.request(resp("BGSAVE")).startswith(b"-ERR Another child process is active (AOF?)")
        assert raw.request(resp("BGSAVE", "SCHEDULE")) == b"+Background saving scheduled\r\n"
        raw.close()
        n = 0
        while _info(r)["aof_rewrite_in_progress"] or n < 10:
            r.incr("counter")
            n += 1
        for _ in range(10):
            r.incr("counter")
            n += 1
        info = _info(r)
        assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrites"] == 1
        assert (tmp_path / "appendonly.aof").stat().st_size < size_before / 5
        _wait(lambda: _info(r)["rdb_saves"] == 1, "the scheduled BGSAVE")
        sp.stop(signal.SIGKILL)
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        assert int(r.get("counter")) == n
        assert r.dbsize() == 1001


def test_config_set_appendonly_yes_starts_a_log_with_existing_data(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        r.set("before", "1")
        r.rpush("list", "a", "b")
        assert _info(r)["aof_enabled"] == 0
        r.config_set("appendonly", "yes")
        r.set("after", "2")
        _wait(lambda: _info(r)["aof_rewrites"] == 1, "the initial rewrite")
        r.set("later", "3")
        _wait(lambda: _info(r)["aof_buffer_length"] == 0, "the log flush")
        sp.stop(signal.SIGKILL)
    with respdb_server("--save", "", "--appendonly", "yes", workdir=tmp_path) as sp:
        r = sp.client()
        assert r.mget("before", "after", "later") == [b"1", b"2", b"3"]
        assert r.lrange("list", 0, -1) == [b"a", b"b"]
        r.config_set("appendonly", "no")
        assert _info(r)["aof_enabled"] == 0


def test_appendonly_at_start_takes_over_the_snapshot(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        sp.client().set("from-cdb", "1")
        sp.client().save()
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        assert r.get("from-cdb") == b"1"
        r.set("x", "y")
        sp.stop(signal.SIGKILL)
    (tmp_path / "dump.cdb").unlink()
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        assert sp.client().mget("from-cdb", "x") == [b"1", b"y"]


def test_auto_rewrite_on_growth(tmp_path: Path) -> None:
    args = (*AOF_ALWAYS, "--auto-aof-rewrite-min-size", "20kb", "--auto-aof-rewrite-percentage", "100")
    with respdb_server(*args, workdir=tmp_path) as sp:
        r = sp.client()
        pipe = r.pipeline(transaction=False)
        for i in range(2000):
            pipe.set("same", i)
        pipe.execute()
        _wait(lambda: _info(r)["aof_rewrites"] >= 1, "an automatic rewrite")
        assert r.get("same") == b"1999"
        sp.stop(signal.SIGKILL)
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        assert sp.client().get("same") == b"1999"


ENC = ("--cdb-encryption-key", "aof-secret")


def test_encrypted_aof_round_trip_wrong_key_and_tampering(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, *ENC, workdir=tmp_path) as sp:
        r = sp.client()
        r.set("secret-key", "secret-value")
        r.hset("h", mapping={"f": "v"})
        r.bgrewriteaof()
        _wait(lambda: _info(r)["aof_rewrites"] == 1, "rewrite")
        r.set("after", "rewrite")
        sp.stop(signal.SIGKILL)
    path = tmp_path / "appendonly.aof"
    data = path.read_bytes()
    assert b"secret" not in data and b"rewrite" not in data
    with respdb_server(*AOF_ALWAYS, *ENC, workdir=tmp_path) as sp:
        r = sp.client()
        assert r.mget("secret-key", "after") == [b"secret-value", b"rewrite"]
        assert r.hgetall("h") == {b"f": b"v"}
        sp.stop(signal.SIGKILL)
    assert "wrong encryption key" in _start_fails(tmp_path, "--appendonly", "yes", "--cdb-encryption-key", "nope")
    data = path.read_bytes()
    bad = data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]
    path.write_bytes(bad)
    assert "failed authentication" in _start_fails(tmp_path, "--appendonly", "yes", *ENC)
    assert path.read_bytes() == bad
    path.write_bytes(data[:-7])  # a torn last record: everything before it loads
    with respdb_server(*AOF_ALWAYS, *ENC, workdir=tmp_path) as sp:
        r = sp.client()
        assert r.get("secret-key") == b"secret-value" and r.get("after") is None


def test_aof_info_fields(tmp_path: Path) -> None:
    with respdb_server(*AOF_ALWAYS, workdir=tmp_path) as sp:
        r = sp.client()
        r.set("a", "1")
        info = _info(r)
        assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
        assert info["aof_current_size"] == (tmp_path / "appendonly.aof").stat().st_size
        for field in ("aof_base_size", "aof_pending_rewrite", "aof_buffer_length", "aof_rewrite_scheduled"):
            assert field in info
