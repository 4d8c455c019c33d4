"""MONITOR, SLOWLOG, LATENCY, WAIT, CLIENT PAUSE over TCP."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.servers import Raw, resp


def test_slowlog_records_commands_over_threshold(r):
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.set("slow", "v")
        entries = r.execute_command("SLOWLOG", "GET", "1")
        assert entries[0][3] == [b"SET", b"slow", b"v"]  # as the client sent it
        assert r.slowlog_len() >= 1
        with pytest.raises(redis.ResponseError, match="count should be greater than or equal to -1"):
            r.execute_command("SLOWLOG", "GET", "-2")
        r.slowlog_reset()
        assert r.slowlog_len() in (0, 1)  # the RESET itself may be logged, as in Redis
    finally:
        r.config_set("slowlog-log-slower-than", 10000)


def test_slowlog_truncates_long_arguments(r):
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.set("big", "x" * 200)
        entry = next(e for e in r.execute_command("SLOWLOG", "GET", "5") if e[3][:2] == [b"SET", b"big"])
        assert entry[3][2] == b"x" * 128 + b"... (72 more bytes)"
    finally:
        r.config_set("slowlog-log-slower-than", 10000)


def test_latency_monitor_records_slow_command(r):
    r.config_set("latency-monitor-threshold", 1)
    try:
        r.execute_command("DEBUG", "SLEEP", "0.02")
        latest = r.execute_command("LATENCY", "LATEST")
        assert any(row[0] == b"command" and row[2] >= 20 for row in latest)
        assert r.execute_command("LATENCY", "HISTORY", "command")
        assert b"latency spikes" in r.execute_command("LATENCY", "DOCTOR")
        assert r.execute_command("LATENCY", "RESET") >= 1
    finally:
        r.config_set("latency-monitor-threshold", 0)


def test_monitor_streams_commands_in_redis_format(server, r):
    mon = Raw(server.port)
    assert mon.request(resp("MONITOR")) == b"+OK\r\n"
    r.set("mon key", 'va"l')
    line = mon.read_until_count(1)
    assert line.startswith(b"+") and line.endswith(b'"SET" "mon key" "va\\"l"\r\n')
    assert b"[0 127.0.0.1:" in line
    mon.close()


def test_wait_without_replicas(r):
    assert r.execute_command("WAIT", "0", "0") == 0
    assert r.execute_command("WAIT", "1", "50") == 0


def test_client_pause_write_holds_writes_not_reads(server, r):
    r.set("p", "1")
    other = server.client()
    r.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    assert other.get("p") == b"1"  # reads go through
    done = threading.Event()

    def writer() -> None:
        other.set("p", "2")
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    assert not done.wait(0.1)  # held while paused
    r.execute_command("CLIENT", "UNPAUSE")
    assert done.wait(10)
    t.join()
    assert r.get("p") == b"2"


def test_client_pause_expires_by_itself(server, r):
    r.execute_command("CLIENT", "PAUSE", "100")
    other = server.client()
    assert other.ping() is True  # held, then released when the pause runs out
    with pytest.raises(redis.ResponseError, match="CLIENT PAUSE mode must be WRITE or ALL"):
        r.execute_command("CLIENT", "PAUSE", "10", "FOO")
