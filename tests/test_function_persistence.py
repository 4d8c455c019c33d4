"""Function libraries are kept with the data, as in Redis: SAVE, BGSAVE, AOF rewrite, export."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.servers import REDIS_CLI, ROOT, respdb_server

LIB = "#!lua name=mylib\nredis.register_function('hi', function(keys, args) return 'hello ' .. args[1] end)"


def _wait_bg(r, field: str) -> None:
    deadline = time.monotonic() + 30
    while r.info("persistence")[field] and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["save", "bgsave"])
def test_functions_survive_snapshot_restart(tmp_path, how):
    with respdb_server("--save", "", workdir=tmp_path) as srv:
        r = srv.client()
        assert r.function_load(LIB) == b"mylib"
        r.set("k", "v")
        if how == "save":
            r.save()
        else:
            r.bgsave()
            _wait_bg(r, "rdb_bgsave_in_progress")
    with respdb_server("--save", "", workdir=tmp_path) as srv:
        r = srv.client()
        assert r.fcall("hi", 0, "world") == b"hello world"
        assert r.get("k") == b"v"


def test_functions_survive_aof_rewrite(tmp_path):
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as srv:
        r = srv.client()
        r.function_load(LIB)
        r.bgrewriteaof()
        _wait_bg(r, "aof_rewrite_in_progress")
        r.set("after", "1")
    with respdb_server("--appendonly", "yes", "--save", "", workdir=tmp_path) as srv:
        r = srv.client()
        assert r.fcall("hi", 0, "aof") == b"hello aof"
        assert r.get("after") == b"1"


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli not installed")
def test_check_cdb_exports_functions(tmp_path, oracle):
    with respdb_server("--save", "", workdir=tmp_path) as srv:
        r = srv.client()
        r.function_load(LIB)
        r.save()
    report = subprocess.run([sys.executable, "-m", "respdb.check_cdb", str(tmp_path / "dump.cdb")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "1 function libraries" in report.stdout
    export = subprocess.run([sys.executable, "-m", "respdb.check_cdb", "--export-resp", "-", str(tmp_path / "dump.cdb")], capture_output=True, cwd=ROOT, timeout=60)
    oracle.client().function_flush()
    loaded = subprocess.run([REDIS_CLI, "-p", str(oracle.port), "--pipe"], input=export.stdout, capture_output=True, timeout=60)
    assert b"errors: 0" in loaded.stdout
    assert oracle.client().fcall("hi", 0, "redis") == b"hello redis"
    oracle.client().function_flush()
