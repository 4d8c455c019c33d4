"""The command line and the config file, as redis-server takes them; CONFIG GET/SET/REWRITE."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from tests.servers import ROOT, respdb_server


def _cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "respdb", *args], capture_output=True, text=True, timeout=60, cwd=cwd or ROOT)


def test_version_and_help():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("respdb server v=")
    out = _cli("--help")
    assert out.returncode == 0
    for name in ("--port", "--requirepass", "--appendonly", "--tls-port", "--notify-keyspace-events", "--slowlog-max-len"):
        assert name in out.stdout, name


def test_test_config_accepts_good_and_rejects_bad(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("# comment\nport 7000\nrequirepass \"s3 cret\"\nsave 900 1 300 10\n")
    out = _cli("--test-config", str(good))
    assert out.returncode == 0 and "Configuration test passed" in out.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("port 7000\nnosuchdirective 1\n")
    out = _cli("--test-config", str(bad))
    assert out.returncode == 1
    assert "nosuchdirective" in out.stderr and "bad.conf:2" in out.stderr
    out = _cli("--test-config", "--port", "notanumber")
    assert out.returncode == 1 and "argument couldn't be parsed into an integer" in out.stderr


def test_config_file_then_command_line_override(tmp_path):
    conf = tmp_path / "respdb.conf"
    conf.write_text("# my server\nmaxclients 123\ntimeout 7 # not a comment in redis.conf, so quoted below\n".replace(" # not a comment in redis.conf, so quoted below", ""))
    with respdb_server(str(conf), "--timeout", "9", workdir=tmp_path) as srv:
        r = srv.client()
        assert r.config_get("maxclients") == {"maxclients": "123"}
        assert r.config_get("timeout") == {"timeout": "9"}


def test_config_rewrite_keeps_comments_and_updates_values(tmp_path):
    conf = tmp_path / "respdb.conf"
    conf.write_text("# Top comment\nmaxclients 123\n\n# keep me\nloglevel notice\n")
    with respdb_server(str(conf), workdir=tmp_path) as srv:
        r = srv.client()
        r.config_set("maxclients", 456)
        r.config_set("slowlog-max-len", 99)
        assert r.config_rewrite() == b"OK"
    text = conf.read_text()
    assert "# Top comment" in text and "# keep me" in text
    assert "maxclients 456" in text and "maxclients 123" not in text
    assert "slowlog-max-len 99" in text
    assert text.index("maxclients 456") < text.index("# keep me")  # rewritten in place


def test_config_rewrite_without_file_errors(r):
    with pytest.raises(redis.ResponseError, match="The server is running without a config file"):
        r.config_rewrite()


def test_config_get_glob_and_multi_set(r):
    got = r.config_get("slowlog*")
    assert set(got) == {"slowlog-log-slower-than", "slowlog-max-len"}
    r.execute_command("CONFIG", "SET", "slowlog-max-len", "50", "timeout", "0")
    assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "50"}
    with pytest.raises(redis.ResponseError, match="argument couldn't be parsed into an integer"):
        r.execute_command("CONFIG", "SET", "slowlog-max-len", "60", "timeout", "x")
    assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "50"}  # all or nothing
    r.config_set("slowlog-max-len", 128)


def test_port_zero_binds_a_free_port_and_logs_it(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "respdb", "--port", "0"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if "Running on port" in line:
                port = int(line.rsplit(" ", 1)[1])
                break
        assert port and port > 0
        assert redis.Redis(port=port).ping() is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_contrib_config_file_is_valid():
    out = _cli("--test-config", str(ROOT / "contrib" / "respdb.conf"))
    assert out.returncode == 0, out.stderr
