"""EVAL/EVALSHA/EVAL_RO, SCRIPT LOAD|EXISTS|FLUSH|KILL and the Lua sandbox, over TCP with redis-py.

Exact reply bytes are compared with redis-server in test_differential_scripting.py; here the
behaviour that needs several clients or a library (redis.lock.Lock, a rate limiter, SCRIPT KILL of a
runaway script from another connection, SHUTDOWN NOSAVE while busy) is exercised.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.lock import Lock

from tests.servers import ServerProcess, resp, respdb_server


@pytest.fixture
def fast_busy(server: ServerProcess) -> Iterator[None]:
    """A low busy-reply-threshold so a runaway script turns BUSY quickly."""
    admin = server.client()
    admin.config_set("busy-reply-threshold", 100)
    yield
    admin.config_set("busy-reply-threshold", 5000)
    admin.close()


def _wait_busy(client: redis.Redis, deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            client.ping()
        except redis.exceptions.BusyLoadingError:
            return
        except redis.exceptions.ResponseError as exc:
            if str(exc).startswith("BUSY"):
                return
            raise
        time.sleep(0.02)
    raise AssertionError("server never became BUSY")


def _run_async(fn) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except Exception as exc:  # the outcome is asserted by the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_eval_keys_and_argv(r: redis.Redis) -> None:
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", 2, "k1", "k2", "a1", "a2") == [b"k1", b"k2", b"a1", 2]


def test_eval_conversions_lua_to_resp2(r: redis.Redis) -> None:
    assert r.eval("return 3.99", 0) == 3
    assert r.eval("return -3.99", 0) == -3
    assert r.eval("return {1, 2, nil, 4}", 0) == [1, 2]
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return {ok='FINE'}", 0) == b"FINE"
    assert r.eval("return {double=1.5}", 0) == b"1.5"
    assert r.eval("return {map={a=1}}", 0) == [b"a", 1]
    with pytest.raises(redis.ResponseError, match=r"^MY error$"):
        r.eval("return {err='MY error'}", 0)


def test_eval_conversions_lua_to_resp3(r3: redis.Redis) -> None:
    assert r3.eval("redis.setresp(3); return {double=1.5}", 0) == 1.5
    assert r3.eval("redis.setresp(3); return {map={a=1}}", 0) == {b"a": 1}
    assert r3.eval("redis.setresp(3); return {set={a=true}}", 0) in ([b"a"], {b"a"})  # redis-py version dependent
    assert r3.eval("redis.setresp(3); return false", 0) is False
    assert r3.eval("return false", 0) is None


def test_eval_conversions_resp_to_lua(r: redis.Redis) -> None:
    r.hset("h", "f", "v")
    assert r.eval("return type(redis.call('get', 'nokey'))", 0) == b"boolean"
    assert r.eval("redis.setresp(3); return type(redis.call('get', 'nokey'))", 0) == b"nil"
    assert r.eval("return redis.call('ping').ok", 0) == b"PONG"
    assert r.eval("redis.setresp(3); return redis.call('hgetall', 'h').map.f", 0) == b"v"
    assert r.eval("return redis.call('hgetall', 'h')[2]", 0) == b"v"
    assert r.eval("redis.call('set', 'n', 3.5); return redis.call('get', 'n')", 0) == b"3.5"
    assert r.eval("return redis.pcall('incr', 'h').err", 0).startswith(b"WRONGTYPE")


def test_eval_error_texts(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match=r"^Unknown Redis command called from script script: [0-9a-f]{40}, on @user_script:1\.$"):
        r.eval("return redis.call('nosuch')", 0)
    with pytest.raises(redis.ResponseError, match=r"^user_script:2: boom script: .*, on @user_script:2\.$"):
        r.eval("local x = 1\nerror('boom')", 0)
    with pytest.raises(redis.ResponseError, match=r"^Error compiling script \(new function\): user_script:1:"):
        r.eval("return +", 0)


def test_evalsha_and_noscript(r: redis.Redis) -> None:
    sha = r.script_load("return ARGV[1]")
    assert r.evalsha(sha, 0, "x") == b"x"
    assert r.evalsha(sha.upper(), 0, "y") == b"y"
    with pytest.raises(redis.exceptions.NoScriptError, match=r"No matching script\. Please use EVAL\."):
        r.evalsha("f" * 40, 0)


def test_script_exists_and_flush(r: redis.Redis) -> None:
    sha = r.script_load("return 1")
    assert r.script_exists(sha, "0" * 40) == [True, False]
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    r.eval("return 2", 0)  # EVAL caches the script too
    assert r.script_exists("7f923f79fe76194c868d7e1d0820de36700eb649") == [True]


def test_eval_ro_refuses_writes(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(redis.ResponseError, match=r"^Write commands are not allowed from read-only scripts\. script:"):
        r.eval_ro("return redis.call('set', KEYS[1], 'x')", 1, "k")
    with pytest.raises(redis.ResponseError, match=r"^Can not execute a script with write flag using \*_ro command\.$"):
        r.eval_ro("#!lua\nreturn 1", 0)
    assert r.eval_ro("#!lua flags=no-writes\nreturn 1", 0) == 1
    assert r.get("k") == b"v"


@pytest.mark.parametrize(
    "script",
    [
        "return os.execute('id')",
        "return io.open('/etc/passwd')",
        "return require('os')",
        "return dofile('/etc/passwd')",
        "return loadfile('/etc/passwd')",
        "return package.loaded",
        "return debug.getinfo(1)",
        "return python.eval('1')",
        "return getfenv(1)",
        "return print('x')",
    ],
)
def test_sandbox_refuses_host_access(r: redis.Redis, script: str) -> None:
    with pytest.raises(redis.ResponseError, match="Script attempted to access nonexistent global variable"):
        r.eval(script, 0)


def test_sandbox_globals_are_readonly(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("x = 1", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("redis.call = function() end", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("rawset(_G, 'x', 1)", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval("string.upper = nil", 0)
    # loadstring works, but never for bytecode, and loaded chunks see the sandbox only.
    assert r.eval("return loadstring('return 1 + 1')()", 0) == 2
    assert r.eval("return loadstring(string.dump(function() return 1 end)) == nil", 0) == 1
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'os'"):
        r.eval("return loadstring('return os')()", 0)


def test_sandbox_state_does_not_leak_between_scripts(r: redis.Redis) -> None:
    for script in (
        "getmetatable('').__index = {upper = function() return 'evil' end}",
        "string.upper = function() return 'evil' end",
        "rawset(_G, 'upper', 1)",
        "setmetatable(_G, {})",
        "coroutine.create = nil",
    ):
        with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
            r.eval(script, 0)
    assert r.eval("return ('a'):upper() .. string.upper('b')", 0) == b"AB"
    assert r.eval("return rawget(_G, 'upper')", 0) is None


def test_sandbox_python_objects_unreachable(r: redis.Redis) -> None:
    # redis.call is a host function: it must not expose attributes of the Python object behind it.
    with pytest.raises(redis.ResponseError):
        r.eval("return redis.call.__class__", 0)
    assert r.eval("return type(redis.call)", 0) in (b"userdata", b"function")


def test_redis_lock_acquire_extend_release(r: redis.Redis) -> None:
    lock = Lock(r, "resource", timeout=10)
    assert lock.acquire(blocking=False)
    other = Lock(r, "resource", timeout=10)
    assert not other.acquire(blocking=False)
    assert lock.extend(5)
    assert 10_000 < r.pttl("resource") <= 15_000
    assert lock.reacquire()
    token = lock.local.token
    lock.release()
    assert r.get("resource") is None
    assert other.acquire(blocking=False)
    lock.local.token = token  # a stale owner: the scripts must refuse it
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    other.release()
    assert r.get("resource") is None


RATE_LIMITER = """
local current = redis.call('incr', KEYS[1])
if current == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
if current > tonumber(ARGV[1]) then return 0 end
return 1
"""


def test_rate_limiter_script(r: redis.Redis) -> None:
    limiter = r.register_script(RATE_LIMITER)
    results = [limiter(keys=["rl:user"], args=[3, 60_000]) for _ in range(5)]
    assert results == [1, 1, 1, 0, 0]
    assert 0 < r.pttl("rl:user") <= 60_000
    assert r.get("rl:user") == b"5"


def test_eval_inside_multi(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.eval("return redis.call('incr', KEYS[1])", 1, "c")
    pipe.eval("return redis.call('incr', KEYS[1])", 1, "c")
    assert pipe.execute() == [1, 2]


def test_script_kill_stops_runaway_script(server: ServerProcess, fast_busy: None) -> None:
    runner = server.client()
    thread, box = _run_async(lambda: runner.eval("while true do end", 0))
    other = server.client()  # a fresh connection made while the script is running
    _wait_busy(other)
    with pytest.raises(redis.ResponseError, match=r"^BUSY Redis is busy running a script\. You can only call SCRIPT KILL or SHUTDOWN NOSAVE\.$"):
        other.get("x")
    with pytest.raises(redis.ResponseError, match=r"^BUSY Redis is busy running a script\. You can only call SCRIPT KILL"):
        other.function_kill()
    stats = other.function_stats()
    assert stats[b"running_script"][b"command"][0] == b"eval"
    assert other.script_kill() is True
    thread.join(10)
    assert isinstance(box.get("error"), redis.ResponseError)
    assert str(box["error"]).startswith("Script killed by user with SCRIPT KILL... script:")
    assert other.ping() is True
    assert runner.eval("return 1", 0) == 1
    with pytest.raises(redis.ResponseError, match=r"^NOTBUSY No scripts in execution right now\.$"):
        other.script_kill()
    runner.close()
    other.close()


def test_script_kill_refused_after_write(server: ServerProcess, fast_busy: None) -> None:
    runner = server.client()
    thread, box = _run_async(lambda: runner.eval("redis.call('set', 'w', '1') local i = 0 while i < 3e7 do i = i + 1 end return i", 0))
    other = server.client()
    _wait_busy(other)
    with pytest.raises(redis.ResponseError, match=r"^UNKILLABLE Sorry the script already executed write commands"):
        other.script_kill()
    thread.join(60)
    assert box.get("result") == 30_000_000
    assert other.get("w") == b"1"
    runner.close()
    other.close()


def test_script_kill_cannot_be_caught_by_pcall(server: ServerProcess, fast_busy: None) -> None:
    runner = server.client()
    thread, box = _run_async(lambda: runner.eval("while true do pcall(function() while true do end end) end", 0))
    other = server.client()
    _wait_busy(other)
    assert other.script_kill() is True
    thread.join(10)
    assert "Script killed by user" in str(box.get("error"))
    runner.close()
    other.close()


def test_busy_script_pipelined_commands_wait(server: ServerProcess, fast_busy: None) -> None:
    """The caller's own pipelined commands run after its script, never during it."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(resp("EVAL", "local i = 0 while i < 2e7 do i = i + 1 end return i", "0") + resp("PING"))
    data = b""
    while not data.endswith(b"+PONG\r\n"):
        chunk = sock.recv(4096)
        assert chunk
        data += chunk
    assert data == b":20000000\r\n+PONG\r\n"
    sock.close()


def test_shutdown_nosave_stops_busy_script() -> None:
    with respdb_server("--busy-reply-threshold", "100") as sp:
        runner = sp.client()
        thread, box = _run_async(lambda: runner.eval("while true do end", 0))
        other = sp.client()
        _wait_busy(other)
        with pytest.raises(redis.ResponseError, match=r"^BUSY"):
            other.shutdown()
        other.shutdown(nosave=True)  # redis-py treats the closed connection as success
        thread.join(10)
        assert isinstance(box.get("error"), redis.exceptions.ConnectionError)
        assert sp.proc.wait(10) == 0


def test_redis_log_reaches_server_log() -> None:
    with respdb_server() as sp:
        client = sp.client()
        client.eval("redis.log(redis.LOG_WARNING, 'hello from lua', 42)", 0)
        end = time.monotonic() + 5
        while "hello from lua 42" not in sp.log_text():
            assert time.monotonic() < end, sp.log_text()
            time.sleep(0.02)


def test_eval_writes_replay_from_aof(tmp_path) -> None:
    """A script's writes reach the append-only log as one MULTI/EXEC batch (with its SELECTs), and
    redis.set_repl(redis.REPL_NONE) keeps a write out of it, as in Redis."""
    args = ("--appendonly", "yes", "--appendfsync", "always")
    with respdb_server(*args, workdir=tmp_path) as sp:
        client = sp.client()
        script = "redis.call('set', KEYS[1], '1') redis.call('incr', KEYS[1]) redis.call('select', '3') redis.call('set', KEYS[2], 'x') return 1"
        assert client.eval(script, 2, "a", "b") == 1
        assert client.eval("redis.set_repl(redis.REPL_NONE) redis.call('set', 'unlogged', '1') return 1", 0) == 1
        assert client.get("unlogged") == b"1"
        client.close()
    with respdb_server(*args, workdir=tmp_path) as sp:
        client = sp.client()
        assert client.get("a") == b"2"
        assert client.get("unlogged") is None
        assert sp.client(db=3).get("b") == b"x"
        client.close()
