"""respdb-check-cdb: verdicts on sound and broken files, and --export-resp loaded by redis-cli --pipe
into a real redis-server; streams and sorted sets through snapshots and DUMP/RESTORE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.servers import REDIS_CLI, ROOT, ServerProcess, respdb_server


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "respdb.check_cdb", *args], cwd=cwd, capture_output=True, timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def fill(r: redis.Redis) -> None:
    r.set("s", "v")
    r.set("ttl", "t", px=3_600_000)
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", *[f"e{i}" for i in range(1500)])  # more than one export chunk
    r.sadd("st", "x", "y")
    r.zadd("z", {"a": 1.25, "b": float("-inf"), "c": 1e-300})
    r.xadd("x", {"f": "v"}, id="1-1")
    r.xadd("x", {"g": "w", "h": "u"}, id="2-5")
    r.xadd("x", {"i": "j"}, id="3-0")
    r.xdel("x", "3-0")
    r.xgroup_create("x", "grp", id="0")
    r.xreadgroup("grp", "alice", {"x": ">"}, count=1)
    r.xgroup_createconsumer("x", "grp", "bob")
    r.execute_command("SELECT", 0)
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=7)
    other.set("in7", "seven")


def describe(c: redis.Redis) -> dict:
    full = c.execute_command("XINFO", "STREAM", "x", "FULL")
    return {
        "keys": sorted(c.keys("*")),
        "s": c.get("s"),
        "h": c.hgetall("h"),
        "l": c.lrange("l", 0, -1),
        "st": c.smembers("st"),
        "z": c.zrange("z", 0, -1, withscores=True),
        "x": c.xrange("x"),
        "xfull": _strip_times(full),
        "pending": c.xpending("x", "grp")["pending"],
    }


def _strip_times(value: object) -> object:
    # A consumer's seen-time / active-time is the clock of the server that recreated it; everything
    # else, delivery times and counts of pending entries included, must match.
    if isinstance(value, dict):
        return {k: _strip_times(v) for k, v in value.items() if k not in (b"seen-time", b"active-time", "seen-time", "active-time")}
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    return value


def test_check_cdb_reports_a_sound_file(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        fill(sp.client())
        sp.client().save()
    proc = check("dump.cdb", cwd=tmp_path)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out
    assert "db 0: 7 keys" in out and "stream 1" in out and "zset 1" in out and "1 with an expiry" in out
    assert "db 7: 1 keys" in out
    assert "[ok] CDB looks OK!" in out


def test_check_cdb_rejects_broken_files(tmp_path: Path) -> None:
    with respdb_server("--save", "", "--cdb-encryption-key", "pw", workdir=tmp_path) as sp:
        fill(sp.client())
        sp.client().save()
    good = (tmp_path / "dump.cdb").read_bytes()
    assert check("dump.cdb", "--key", "pw", cwd=tmp_path).returncode == 0
    wrong = check("dump.cdb", "--key", "nope", cwd=tmp_path)
    assert wrong.returncode == 1 and b"wrong encryption key" in wrong.stdout
    (tmp_path / "dump.cdb").write_bytes(good[:-1])
    cut = check("dump.cdb", "--key", "pw", cwd=tmp_path)
    assert cut.returncode == 1 and b"NOT sound" in cut.stdout
    assert check("missing.cdb", cwd=tmp_path).returncode == 1


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_export_resp_loads_into_redis_with_redis_cli_pipe(tmp_path: Path, oracle: ServerProcess) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        fill(sp.client())
        ours = describe(sp.client())
        sp.client().save()
    proc = check("dump.cdb", "--export-resp", "out.resp", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    theirs = oracle.client()
    theirs.flushall()
    with open(tmp_path / "out.resp", "rb") as f:
        piped = subprocess.run([REDIS_CLI, "-p", str(oracle.port), "--pipe"], stdin=f, capture_output=True, timeout=60)
    assert piped.returncode == 0 and b"errors: 0" in piped.stdout, piped.stdout
    assert describe(theirs) == ours
    assert 3_500_000 < theirs.pttl("ttl") <= 3_600_000
    assert redis.Redis(port=oracle.port, db=7).get("in7") == b"seven"
    theirs.flushall()


def test_streams_and_zsets_survive_save_restart_and_dump_restore(tmp_path: Path) -> None:
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        r = sp.client()
        fill(r)
        before = describe(r)
        r.restore("x2", 0, r.dump("x"))
        r.restore("z2", 0, r.dump("z"))
        assert r.xinfo_stream("x2")["length"] == 2
        assert r.zrange("z2", 0, -1, withscores=True) == before["z"]
        r.delete("x2", "z2")
        r.bgsave()
        while r.info("persistence")["rdb_bgsave_in_progress"]:
            pass
        sp.stop(9)
    with respdb_server("--save", "", workdir=tmp_path) as sp:
        assert describe(sp.client()) == before
