"""MULTI/EXEC/DISCARD/WATCH/UNWATCH over TCP: redis-py pipelines, WATCH races between clients,
EXECABORT, errors returned inside EXEC, and the WATCH outcomes Redis 7.0 gives for expiry, FLUSHDB,
FLUSHALL and SWAPDB (each outcome below was first observed on redis-server 7.0.15)."""

from __future__ import annotations

import time

import pytest
import redis

from tests.servers import Raw, resp


def _server_ms(r: redis.Redis) -> int:
    secs, micros = r.time()
    return secs * 1000 + micros // 1000


def _wait_until(r: redis.Redis, until_ms: int, deadline_s: float = 5.0) -> None:
    """Wait for the server clock to pass `until_ms` without touching any key (a read of an expired
    key would delete it and so change what is being tested)."""
    end = time.monotonic() + deadline_s
    while _server_ms(r) <= until_ms:
        assert time.monotonic() < end, "server clock did not advance"
        time.sleep(0.01)


# --- pipelines ---------------------------------------------------------------------------------
def test_multi_pipeline_transaction(r):
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").incr("a").get("a").delete("a")
        assert pipe.execute() == [True, 2, b"2", 1]
    assert r.exists("a") == 0


def test_multi_pipeline_without_transaction(r):
    with r.pipeline(transaction=False) as pipe:
        pipe.set("a", "1").incrby("a", 5).get("a")
        assert pipe.execute() == [True, 6, b"6"]


def test_multi_pipeline_resp3(r3):
    with r3.pipeline(transaction=True) as pipe:
        pipe.set("a", "x").get("a").exists("a", "b")
        assert pipe.execute() == [True, b"x", 1]


def test_exec_runtime_errors_returned_in_place(r):
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "x").incr("a").get("a")
        result = pipe.execute(raise_on_error=False)
    assert result[0] is True
    assert isinstance(result[1], redis.ResponseError)
    assert str(result[1]) == "value is not an integer or out of range"
    assert result[2] == b"x"


def test_exec_runtime_errors_raw(server):
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    out = raw.request(resp("MULTI") + resp("SET", "a", "x") + resp("INCR", "a") + resp("GET", "a") + resp("EXEC"), 5)
    assert out == (
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
        b"*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n$1\r\nx\r\n"
    )


# --- EXECABORT ---------------------------------------------------------------------------------
def test_exec_execabort_after_unknown_command(server):
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    out = raw.request(resp("MULTI") + resp("SET", "a", "1") + resp("NOSUCH", "x") + resp("EXEC"), 4)
    assert out == (
        b"+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    )
    assert raw.request(resp("EXISTS", "a")) == b":0\r\n"  # nothing ran
    assert raw.request(resp("EXEC")) == b"-ERR EXEC without MULTI\r\n"


def test_exec_execabort_after_arity_error(r):
    with pytest.raises(redis.ResponseError) as exc, r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1")
        pipe.execute_command("GET")
        pipe.execute()
    # redis-py reports the queuing error that made the server answer EXECABORT.
    assert "wrong number of arguments for 'get' command" in str(exc.value)
    assert r.exists("a") == 0


def test_exec_with_wrong_arity_aborts_transaction(server):
    raw = Raw(server.port)
    out = raw.request(resp("MULTI") + resp("PING") + resp("EXEC", "x") + resp("EXEC"), 4)
    assert out == (
        b"+OK\r\n+QUEUED\r\n"
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
        b"-ERR EXEC without MULTI\r\n"
    )
    # Outside MULTI a malformed EXEC answers the same way.
    assert raw.request(resp("EXEC", "x")) == (
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    )


# --- state errors ------------------------------------------------------------------------------
def test_multi_nested_and_without_multi_errors(server):
    raw = Raw(server.port)
    assert raw.request(resp("EXEC")) == b"-ERR EXEC without MULTI\r\n"
    assert raw.request(resp("DISCARD")) == b"-ERR DISCARD without MULTI\r\n"
    out = raw.request(resp("MULTI") + resp("MULTI") + resp("WATCH", "x") + resp("PING") + resp("EXEC"), 5)
    # Neither error dooms the transaction.
    assert out == (
        b"+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n"
        b"+QUEUED\r\n*1\r\n+PONG\r\n"
    )


def test_multi_no_multi_command_rejected(server):
    raw = Raw(server.port)
    out = raw.request(resp("MULTI") + resp("SHUTDOWN") + resp("EXEC"), 3)
    assert out == (
        b"+OK\r\n-ERR Command not allowed inside a transaction\r\n"
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    )


def test_discard_drops_queue(r):
    raw = Raw(r.connection_pool.connection_kwargs["port"])
    out = raw.request(resp("MULTI") + resp("SET", "a", "1") + resp("DISCARD") + resp("GET", "a"), 4)
    assert out == b"+OK\r\n+QUEUED\r\n+OK\r\n$-1\r\n"


def test_exec_empty_transaction(server):
    raw = Raw(server.port)
    assert raw.request(resp("MULTI") + resp("EXEC"), 2) == b"+OK\r\n*0\r\n"


def test_exec_select_inside_transaction(server):
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    out = raw.request(resp("MULTI") + resp("SELECT", "99") + resp("SELECT", "2") + resp("SET", "x", "1") + resp("EXEC"), 5)
    assert out.endswith(b"*3\r\n-ERR DB index is out of range\r\n+OK\r\n+OK\r\n")
    assert raw.request(resp("DBSIZE")) == b":1\r\n"  # the SELECT inside EXEC stays in effect


def test_reset_leaves_multi(server):
    raw = Raw(server.port)
    out = raw.request(resp("MULTI") + resp("RESET") + resp("EXEC"), 3)
    assert out == b"+OK\r\n+RESET\r\n-ERR EXEC without MULTI\r\n"


# --- WATCH -------------------------------------------------------------------------------------
def test_watch_race_between_two_clients(r, server):
    other = server.client()
    r.set("counter", "0")
    with r.pipeline() as pipe:
        pipe.watch("counter")
        value = int(pipe.get("counter"))
        other.incr("counter")  # the race: someone else writes between WATCH and EXEC
        pipe.multi()
        pipe.set("counter", value + 10)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("counter") == b"1"
    other.close()


def test_watch_unchanged_key_commits(r):
    r.set("k", "1")
    with r.pipeline() as pipe:
        pipe.watch("k")
        pipe.multi()
        pipe.incr("k")
        assert pipe.execute() == [2]


def test_watch_transaction_helper_retries(r, server):
    other = server.client()
    r.set("balance", "100")
    attempts = []

    def debit(pipe: redis.client.Pipeline) -> None:
        balance = int(pipe.get("balance"))
        if not attempts:
            other.decrby("balance", 30)  # first attempt loses the race
        attempts.append(balance)
        pipe.multi()
        pipe.set("balance", balance - 10)

    r.transaction(debit, "balance")
    assert attempts == [100, 70]
    assert r.get("balance") == b"60"
    other.close()


def test_watch_own_write_fails_exec(server):
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    out = raw.request(resp("WATCH", "k") + resp("SET", "k", "1") + resp("MULTI") + resp("PING") + resp("EXEC"), 5)
    assert out.endswith(b"*-1\r\n")


def test_watch_noop_writes_keep_transaction(server):
    raw, other = Raw(server.port), Raw(server.port)
    raw.request(resp("FLUSHALL"))
    other.request(resp("SET", "k", "v"))
    raw.request(resp("WATCH", "k", "missing"))
    # No change: deleting a missing key, SETNX on an existing one, PERSIST without a TTL, a write
    # to the same key name in another database.
    other.request(resp("DEL", "missing") + resp("SETNX", "k", "w") + resp("PERSIST", "k"), 3)
    other.request(resp("SELECT", "1") + resp("SET", "k", "x") + resp("SELECT", "0"), 3)
    assert raw.request(resp("MULTI") + resp("PING") + resp("EXEC"), 3).endswith(b"*1\r\n+PONG\r\n")


def test_unwatch_forgets_changes(server):
    raw, other = Raw(server.port), Raw(server.port)
    raw.request(resp("WATCH", "k"))
    other.request(resp("SET", "k", "changed"))
    assert raw.request(resp("UNWATCH")) == b"+OK\r\n"
    assert raw.request(resp("MULTI") + resp("PING") + resp("EXEC"), 3).endswith(b"*1\r\n+PONG\r\n")


def test_watch_reset_after_exec(server):
    raw, other = Raw(server.port), Raw(server.port)
    raw.request(resp("WATCH", "k") + resp("MULTI") + resp("PING") + resp("EXEC"), 4)
    other.request(resp("SET", "k", "after"))
    # EXEC unwatched everything: a later write does not fail the next transaction.
    assert raw.request(resp("MULTI") + resp("PING") + resp("EXEC"), 3).endswith(b"*1\r\n+PONG\r\n")


def _watch_then(server, setup, between) -> bytes:
    raw, other = Raw(server.port), Raw(server.port)
    raw.request(resp("FLUSHALL"))
    setup(other)
    raw.request(resp("WATCH", "k"))
    between(other)
    out = raw.request(resp("MULTI") + resp("PING") + resp("EXEC"), 3)
    raw.close()
    other.close()
    return out[len(b"+OK\r\n+QUEUED\r\n"):]


def test_watch_key_expiring_before_exec_fails(server, r):
    until = {}

    def setup(o):
        o.request(resp("SET", "k", "v", "PX", "100"))
        until["ms"] = r.pexpiretime("k")

    # Nobody touches the key: it just expires between WATCH and EXEC.
    assert _watch_then(server, setup, lambda o: _wait_until(r, until["ms"])) == b"*-1\r\n"


def _set_expired(o: Raw, r: redis.Redis) -> None:
    o.request(resp("SET", "k", "v", "PX", "30"))
    _wait_until(r, r.pexpiretime("k"))


def test_watch_key_already_expired_at_watch_then_deleted(server, r):
    # Its deletion by expiry is no logical change (Redis 7.0's watchedKey.expired).
    out = _watch_then(server, lambda o: _set_expired(o, r), lambda o: o.request(resp("GET", "k")))
    assert out == b"*1\r\n+PONG\r\n"


def test_watch_key_already_expired_untouched(server, r):
    assert _watch_then(server, lambda o: _set_expired(o, r), lambda o: None) == b"*1\r\n+PONG\r\n"


def test_watch_key_already_expired_then_set_fails(server, r):
    out = _watch_then(server, lambda o: _set_expired(o, r), lambda o: o.request(resp("SET", "k", "new")))
    assert out == b"*-1\r\n"


@pytest.mark.parametrize(
    ("existing", "command", "expected"),
    [
        ("k", ("FLUSHALL",), b"*-1\r\n"),
        ("j", ("FLUSHALL",), b"*1\r\n+PONG\r\n"),
        ("k", ("FLUSHDB",), b"*-1\r\n"),
        ("j", ("FLUSHDB",), b"*1\r\n+PONG\r\n"),
        ("k", ("SWAPDB", "0", "1"), b"*-1\r\n"),
        ("j", ("SWAPDB", "0", "1"), b"*1\r\n+PONG\r\n"),
        ("k", ("SWAPDB", "2", "1"), b"*1\r\n+PONG\r\n"),
    ],
)
def test_watch_flush_and_swapdb(server, existing, command, expected):
    def setup(o):
        o.request(resp("SET", existing, "v"))

    assert _watch_then(server, setup, lambda o: o.request(resp(*command))) == expected


def test_watch_swapdb_brings_key_in(server):
    def setup(o):
        o.request(resp("SELECT", "1") + resp("SET", "k", "v") + resp("SELECT", "0"), 3)

    # The watched key did not exist in db 0 but does in the db swapped in: that is a change.
    assert _watch_then(server, setup, lambda o: o.request(resp("SWAPDB", "0", "1"))) == b"*-1\r\n"


def test_watch_cleared_on_disconnect(server):
    raw = Raw(server.port)
    raw.request(resp("WATCH", "k1", "k2"))
    info = server.client()
    assert info.info("clients")["watching_clients"] >= 1
    raw.close()
    end = time.monotonic() + 5
    while info.info("clients")["watching_clients"] != 0:
        assert time.monotonic() < end, "watches not released on disconnect"
        time.sleep(0.01)
    info.close()


def test_exec_writes_reach_the_aof(tmp_path):
    """Writes inside EXEC, and the writes after a read-only EXEC, survive a restart from the AOF."""
    from tests.servers import respdb_server

    args = ("--appendonly", "yes", "--save", "")
    with respdb_server(*args, workdir=tmp_path) as sp:
        raw = Raw(sp.port)
        raw.request(resp("MULTI") + resp("SET", "a", "1") + resp("INCR", "a") + resp("EXEC"), 4)
        raw.request(resp("MULTI") + resp("GET", "a") + resp("EXEC"), 3)
        raw.request(resp("SET", "b", "2"))
        raw.request(resp("MULTI") + resp("EXEC"), 2)
        raw.request(resp("SET", "c", "3"))
        raw.close()
    with respdb_server(*args, workdir=tmp_path) as sp:
        client = sp.client()
        assert client.mget("a", "b", "c") == [b"2", b"2", b"3"]
        client.close()


def test_watch_key_expiring_during_sleep_fails_exec(server):
    """The key's TTL passes while the server is stuck in DEBUG SLEEP, and EXEC runs right after in
    the same batch, before any expiry cycle could delete the key: EXEC itself must notice."""
    raw = Raw(server.port)
    raw.request(resp("FLUSHALL"))
    raw.request(resp("SET", "k", "v", "PX", "150") + resp("WATCH", "k"), 2)
    out = raw.request(resp("DEBUG", "SLEEP", "0.3") + resp("MULTI") + resp("PING") + resp("EXEC"), 4)
    assert out == b"+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n"
    raw.close()
