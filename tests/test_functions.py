"""Redis 7 functions over TCP with redis-py: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL,
FCALL and FCALL_RO. Byte-exact replies and error texts are checked against redis-server in
test_differential_scripting.py; this file covers library life cycles and the persistence API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.servers import ServerProcess

LIB = """#!lua name=mylib
local function bump(keys, args)
  return redis.call('incrby', keys[1], args[1] or 1)
end
redis.register_function('bump', bump)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}, description='read a counter'}
"""

OTHER = """#!lua name=other
redis.register_function('hello', function(keys, args) return 'hello ' .. (args[1] or 'world') end)
"""


@pytest.fixture
def f(r: redis.Redis) -> Iterator[redis.Redis]:
    r.function_flush()
    yield r
    r.function_flush()


def test_function_load_and_fcall(f: redis.Redis) -> None:
    assert f.function_load(LIB) == "mylib" or f.function_list()  # redis-py decodes the name or not
    assert f.fcall("bump", 1, "counter", 5) == 5
    assert f.fcall("BUMP", 1, "counter") == 6  # function names are case-insensitive
    assert f.fcall_ro("peek", 1, "counter") == b"6"
    with pytest.raises(redis.ResponseError, match=r"^Can not execute a script with write flag using \*_ro command\.$"):
        f.fcall_ro("bump", 1, "counter")
    with pytest.raises(redis.ResponseError, match=r"^Function not found$"):
        f.fcall("nosuch", 0)


def test_function_load_replace_and_collisions(f: redis.Redis) -> None:
    f.function_load(LIB)
    with pytest.raises(redis.ResponseError, match=r"^Library 'mylib' already exists$"):
        f.function_load(LIB)
    f.function_load(LIB.replace("incrby", "decrby"), replace=True)
    assert f.fcall("bump", 1, "c", 2) == -2
    with pytest.raises(redis.ResponseError, match=r"^Function bump already exists$"):
        f.function_load("#!lua name=clash\nredis.register_function('bump', function() return 1 end)")


def test_function_list_shapes(f: redis.Redis) -> None:
    f.function_load(LIB)
    f.function_load(OTHER)
    libs = {entry[b"library_name"]: entry for entry in map(_as_dict, f.function_list())}
    assert set(libs) == {b"mylib", b"other"}
    functions = {fn[b"name"]: fn for fn in map(_as_dict, libs[b"mylib"][b"functions"])}
    assert functions[b"peek"][b"description"] == b"read a counter"
    assert functions[b"peek"][b"flags"] in ([b"no-writes"], {b"no-writes"})
    assert functions[b"bump"][b"description"] is None
    coded = [_as_dict(x) for x in f.function_list(library="myl*", withcode=True)]
    assert len(coded) == 1 and coded[0][b"library_code"] == LIB.encode()


def _as_dict(entry: object) -> dict:
    if isinstance(entry, dict):
        return entry
    items = list(entry)  # type: ignore[call-overload]
    return dict(zip(items[::2], items[1::2], strict=True))


def test_function_delete_and_flush(f: redis.Redis) -> None:
    f.function_load(LIB)
    f.function_load(OTHER)
    assert f.function_delete("mylib")
    with pytest.raises(redis.ResponseError, match=r"^Library not found$"):
        f.function_delete("mylib")
    with pytest.raises(redis.ResponseError, match=r"^Function not found$"):
        f.fcall("bump", 1, "k")
    assert f.fcall("hello", 0, "you") == b"hello you"
    assert f.function_flush()
    assert f.function_list() == []


def test_function_dump_restore_policies(f: redis.Redis) -> None:
    f.function_load(LIB)
    payload = f.function_dump()
    with pytest.raises(redis.ResponseError, match=r"^Library mylib already exists$"):
        f.function_restore(payload)
    assert f.function_restore(payload, "REPLACE")
    f.function_flush()
    f.function_load(OTHER)
    assert f.function_restore(payload)  # APPEND
    assert {_as_dict(x)[b"library_name"] for x in f.function_list()} == {b"mylib", b"other"}
    assert f.function_restore(payload, "FLUSH")
    assert [_as_dict(x)[b"library_name"] for x in f.function_list()] == [b"mylib"]
    assert f.fcall("bump", 1, "k") == 1
    with pytest.raises(redis.ResponseError, match=r"^DUMP payload version or checksum are wrong$"):
        f.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match=r"^Wrong restore policy given"):
        f.function_restore(payload, "MERGE")


def test_function_restore_refuses_function_collision(f: redis.Redis) -> None:
    f.function_load(LIB)
    payload = f.function_dump()
    f.function_flush()
    f.function_load("#!lua name=squatter\nredis.register_function('peek', function() return 0 end)")
    with pytest.raises(redis.ResponseError, match=r"^Function peek already exists$"):
        f.function_restore(payload, "REPLACE")
    assert [_as_dict(x)[b"library_name"] for x in f.function_list()] == [b"squatter"]


def test_function_stats_counts(f: redis.Redis) -> None:
    f.function_load(LIB)
    stats = _as_dict(f.function_stats())
    assert stats[b"running_script"] is None
    engines = _as_dict(stats[b"engines"])
    assert _as_dict(engines[b"LUA"]) == {b"libraries_count": 1, b"functions_count": 2}


def test_function_load_limits_api_and_timeout(f: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'call'"):
        f.function_load("#!lua name=bad\nredis.call('ping')")
    with pytest.raises(redis.ResponseError, match=r"^Error registering functions: ERR FUNCTION LOAD timeout"):
        f.function_load("#!lua name=slow\nwhile true do end")
    assert f.function_list() == []


def test_function_kill_stops_busy_function(server: ServerProcess, f: redis.Redis) -> None:
    f.function_load("#!lua name=spin\nredis.register_function('spin', function() while true do end end)")
    f.config_set("busy-reply-threshold", 100)
    runner = server.client()
    box: dict = {}

    def target() -> None:
        try:
            runner.fcall("spin", 0)
        except redis.ResponseError as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    other = server.client()
    try:
        end = time.monotonic() + 10
        while True:
            try:
                other.ping()
            except redis.ResponseError as exc:
                assert str(exc) == "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
                break
            assert time.monotonic() < end
            time.sleep(0.02)
        stats = _as_dict(other.function_stats())
        assert _as_dict(stats[b"running_script"])[b"name"] == b"spin"
        with pytest.raises(redis.ResponseError, match=r"^BUSY Redis is busy running a script"):
            other.script_kill()
        assert other.function_kill()
        thread.join(10)
        assert str(box["error"]).startswith("Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    finally:
        other.config_set("busy-reply-threshold", 5000)
        other.close()
        runner.close()


def test_export_import_libraries_for_persistence(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The persistence layer saves export_libraries() and loads them back with import_libraries()."""
    from respdb import scripting

    monkeypatch.chdir(tmp_path)  # in-process servers: no data file from the working directory
    from respdb.server.app import Server

    first = Server()
    first.scripting.functions.load(LIB.encode(), replace=False)
    saved = scripting.export_libraries()
    assert saved == [LIB.encode()]
    second = Server()  # the newest server is the one the module-level API serves
    assert scripting.export_libraries() == []
    scripting.import_libraries(saved)
    assert list(second.scripting.functions.libraries) == [b"mylib"]
    assert sorted(second.scripting.functions.functions) == [b"bump", b"peek"]
