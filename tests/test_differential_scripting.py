"""Differential tests for scripting and functions: the same EVAL/FCALL/SCRIPT/FUNCTION requests go to
respdb and to redis-server 7.0.15 and the raw reply bytes must be equal, in RESP2 and RESP3.

The corpus covers every Lua <-> RESP conversion, error texts (with their "script: <sha>, on
@user_script:N." suffix), the sandbox, shebang flags and the function-library rules. A Hypothesis
test adds random Lua return values. Raw replies are read with a local hiredis reader because a RESP3
`#f` parses to False, which tests/servers.Raw takes for "incomplete".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.servers import ServerProcess, resp

_INCOMPLETE = object()


class Conn:
    """A raw connection that reads exactly one reply per request."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader(notEnoughData=_INCOMPLETE)

    def request(self, *args: bytes | str) -> bytes:
        self.sock.sendall(resp(*args))
        data = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            self.reader.feed(chunk)
            if self.reader.gets() is not _INCOMPLETE:
                return data

    def close(self) -> None:
        self.sock.close()


class Pair:
    def __init__(self, ours: ServerProcess, theirs: ServerProcess, resp3: bool) -> None:
        self.a = Conn(ours.port)
        self.b = Conn(theirs.port)
        if resp3:
            self.a.request("HELLO", "3")
            self.b.request("HELLO", "3")
        for conn in (self.a, self.b):
            conn.request("FLUSHALL")
            conn.request("FUNCTION", "FLUSH")
            conn.request("SCRIPT", "FLUSH")

    def check(self, *args: bytes | str) -> bytes:
        x = self.a.request(*args)
        y = self.b.request(*args)
        assert x == y, f"{args!r}: respdb {x!r} != redis {y!r}"
        return x

    def close(self) -> None:
        for conn in (self.a, self.b):
            conn.request("FUNCTION", "FLUSH")
            conn.close()


@pytest.fixture(params=[False, True], ids=["resp2", "resp3"])
def both(request: pytest.FixtureRequest, server: ServerProcess, oracle: ServerProcess) -> Iterator[Pair]:
    pair = Pair(server, oracle, resp3=request.param)
    yield pair
    pair.close()


SCRIPT_CASES = [
    ('eval', 'return 1', '0'),
    ('eval', 'return x.y', '0'),
    ('eval', 'x = 1', '0'),
    ('eval', "return redis.call('nosuch')", '0'),
    ('eval', "return redis.pcall('nosuch')", '0'),
    ('eval', "return redis.call('set','a')", '0'),
    ('eval', "return {err='My Error'}", '0'),
    ('eval', "return redis.error_reply('x y')", '0'),
    ('eval', "error('boom')", '0'),
    ('eval', "error({err='tbl'})", '0'),
    ('eval', 'return 1 +', '0'),
    ('evalsha', 'ffffffffffffffffffffffffffffffffffffffff', '0'),
    ('eval', "return os.execute('ls')", '0'),
    ('eval', "return loadstring('return 1')()", '0'),
    ('eval', "return require('x')", '0'),
    ('eval', 'return io', '0'),
    ('eval', "return redis.call('incr', KEYS[1])", '1', 's'),
    ('eval', "redis.call('set',KEYS[1],'a'); return redis.call('incr', KEYS[1])", '1', 's'),
    ('eval_ro', "return redis.call('set','a','b')", '0'),
    ('eval', "return redis.call('blpop','x',0)", '0'),
    ('eval', "return redis.call('eval','return 1',0)", '0'),
    ('eval', 'return 3.7', '0'),
    ('eval', 'return {1,2,3,nil,4}', '0'),
    ('eval', "return {1,'a',{ok='OK'},true,false,3.99}", '0'),
    ('eval', "redis.call('set','k',3.14); return redis.call('get','k')", '0'),
    ('eval', "redis.call('set','k',1e20); return redis.call('get','k')", '0'),
    ('eval', "return redis.call('set','k',{})", '0'),
    ('eval', "return redis.call('set','k',true)", '0'),
    ('eval', 'return redis.call()', '0'),
    ('eval', 'return redis.pcall()', '0'),
    ('eval', "return redis.pcall('set','k',{})", '0'),
    ('eval', 'return loadstring(string.dump(function() return 1 end))', '0'),
    ('eval', "return rawset(_G,'x',1)", '0'),
    ('eval', 'string.x = 1', '0'),
    ('eval', 'redis.call = 1', '0'),
    ('eval', 'error()', '0'),
    ('eval', 'error(nil)', '0'),
    ('eval', 'error(12)', '0'),
    ('eval', "error('a\\nb')", '0'),
    ('eval', "error('x', 0)", '0'),
    ('eval', "return {err='a\\r\\nb'}", '0'),
    ('eval', "return {ok='a\\r\\nb'}", '0'),
    ('eval', "return {err=''}", '0'),
    ('eval', "return {1, {err='x'}, {ok='y'}}", '0'),
    ('eval', 'return 1/0', '0'),
    ('eval', 'return -1/0', '0'),
    ('eval', 'return 0/0', '0'),
    ('eval', 'return 2^63', '0'),
    ('eval', 'return -3.9', '0'),
    ('eval', 'return {double=3.5}', '0'),
    ('eval', 'return {double=1/0}', '0'),
    ('eval', 'return {map={a=1}}', '0'),
    ('eval', 'return {set={a=true}}', '0'),
    ('eval', "return {verbatim_string={format='txtx', string='hi'}}", '0'),
    ('eval', 'return true', '0'),
    ('eval', 'return false', '0'),
    ('eval', 'return nil', '0'),
    ('eval', 'redis.setresp(3); return true', '0'),
    ('eval', 'redis.setresp(3); return false', '0'),
    ('eval', "redis.setresp(3); return redis.call('hgetall','nokey')", '0'),
    ('eval', 'redis.setresp(4)', '0'),
    ('eval', "return redis.sha1hex('')", '0'),
    ('eval', 'return redis.sha1hex()', '0'),
    ('eval', 'return redis.error_reply()', '0'),
    ('eval', "return redis.status_reply('x')", '0'),
    ('eval', "return redis.log(redis.LOG_WARNING, 'hi', 1)", '0'),
    ('eval', "return redis.log(99, 'hi')", '0'),
    ('eval', 'return redis.REDIS_VERSION', '0'),
    ('eval', 'return redis.REDIS_VERSION_NUM', '0'),
    ('eval', 'return redis.set_repl(redis.REPL_ALL)', '0'),
    ('eval', 'return redis.set_repl(99)', '0'),
    ('eval', 'return redis.breakpoint()', '0'),
    ('eval', "return redis.debug('x')", '0'),
    ('eval', 'return redis.replicate_commands()', '0'),
    ('eval', 'return {KEYS[1], ARGV[1], #KEYS, #ARGV}', '1', 'k', 'a'),
    ('eval', 'return 1', '-1'),
    ('eval', 'return 1', 'x'),
    ('eval', 'return 1', '2', 'a'),
    ('eval', '#!lua\nreturn 1', '0'),
    ('eval', "#!lua flags=no-writes\nreturn redis.call('set','a','b')", '0'),
    ('eval', '#!lua flags=bad\nreturn 1', '0'),
    ('eval', '#!luax\nreturn 1', '0'),
    ('eval', '#!lua x=1\nreturn 1', '0'),
    ('eval', '#!lua\nreturn x', '0'),
    ('eval', "#!lua\nreturn redis.call('get','a')", '0'),
    ('eval_ro', '#!lua\nreturn 1', '0'),
    ('eval', 'local t={} for k,v in pairs(redis) do t[#t+1]=k end table.sort(t) return t', '0'),
    ('eval', 'return {loadstring(string.dump(function() return 1 end))}', '0'),
    ('eval', "local t = redis.pcall('incr','nokey'); t = redis.pcall('hset','x'); local r={} for k,v in pairs(t) do r[#r+1]=k; r[#r+1]=tostring(v) end return r", '0'),
    ('eval', "redis.call('set','s','x'); local t = redis.pcall('incr','s'); local r={} for k,v in pairs(t) do r[#r+1]=k; r[#r+1]=tostring(v) end return r", '0'),
    ('eval', "local t = redis.call('ping'); return {type(t), t.ok}", '0'),
    ('eval', "redis.setresp(3); local t = redis.call('hgetall','h'); return type(t.map)", '0'),
    ('eval', "return redis.call('get', 'nokey') == false", '0'),
    ('eval', "redis.setresp(3); return redis.call('get', 'nokey') == nil", '0'),
    ('eval', 'return getmetatable(_G) ~= nil', '0'),
    ('eval', 'return setmetatable(_G, nil)', '0'),
    ('eval', 'return getfenv(1) == _G', '0'),
    ('eval', 'return {tostring(1e15), tostring(0.1)}', '0'),
    ('eval', "return {pcall(error, 'x')}", '0'),
    ('eval', "local ok, e = pcall(redis.call, 'nosuch'); return e", '0'),
    ('eval', 'local ok, e = pcall(function() local x = nil; return x.y end); return e', '0'),
    ('eval', 'local x; return x.y', '0'),
    ('eval', "return redis.call('multi')", '0'),
    ('eval', "return redis.call('subscribe', 'x')", '0'),
    ('eval', "return redis.call('publish', 'x', 'y')", '0'),
    ('eval_ro', "return redis.call('publish', 'x', 'y')", '0'),
    ('eval', 'return coroutine.running()', '0'),
    ('eval', "return redis.error_reply('My err')", '0'),
    ('eval', "return redis.error_reply('-My err')", '0'),
    ('eval', "return redis.error_reply('boom')", '0'),
    ('eval', 'return redis.status_reply()', '0'),
    ('eval', 'return redis.status_reply(1)', '0'),
    ('eval', 'return redis.error_reply(1)', '0'),
    ('eval', 'return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}', '0'),
    ('eval', 'return redis.log()', '0'),
    ('eval', 'return redis.log(1)', '0'),
    ('eval', "return redis.log('a','b')", '0'),
    ('eval', 'return redis.setresp()', '0'),
    ('eval', "return redis.setresp('3')", '0'),
    ('eval', 'return redis.setresp(3.5)', '0'),
    ('eval', 'return redis.set_repl()', '0'),
    ('eval', 'return redis.sha1hex(1)', '0'),
    ('eval', 'return redis.sha1hex({})', '0'),
    ('eval', 'return redis.call(1)', '0'),
    ('eval', "return redis.call('GET')", '0'),
    ('eval', "return redis.call('config')", '0'),
    ('eval', "return redis.call('config','nosuch')", '0'),
    ('evalsha', 'ffff', '0'),
    ('script', 'load', 'return 1'),
    ('evalsha', 'E0E1F9FABFC9D4800C877A703B823AC0578FF8DB', '0'),
    ('script', 'exists', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 'x'),
    ('script', 'load', 'return +'),
    ('script', 'kill'),
    ('script', 'help'),
    ('eval', 'local a = {} a[1]=1 a[2]=nil a[3]=3 return a', '0'),
    ('eval', "return {1, 2, 3.5, 'x', false, true, nil, 7}", '0'),
    ('eval', "return redis.call('lrange', 'nolist', 0, -1)", '0'),
    ('eval', 'return {1,2}', '0', 'extra'),
    ('eval', 'return redis.nosuch', '0'),
    ('eval', 'return error', '0'),
    ('eval', "return {redis.call('set','x','1'), redis.call('get','x'), redis.call('del','x'), redis.call('get','x')}", '0'),
    ('eval', "redis.setresp(3); return {redis.call('set','x','1'), redis.call('get','x'), redis.call('del','x'), redis.call('get','x')}", '0'),
    ('eval', "redis.call('hset','h','a','1','b','2'); redis.setresp(3); local t = redis.call('hgetall','h'); return {t.map.a, t.map.b}", '0'),
    ('eval', "redis.call('sadd','st','a'); redis.setresp(3); local t = redis.call('smembers','st'); return tostring(t.set.a)", '0'),
    ('eval', "redis.call('sadd','st','a'); redis.setresp(3); return redis.call('smembers','st')", '0'),
    ('eval', "redis.call('hset','h','a','1'); redis.setresp(3); return redis.call('hgetall','h')", '0'),
    ('eval', "redis.call('hset','h','a','1'); return redis.call('hgetall','h')", '0'),
    ('eval', "redis.setresp(3); return redis.call('incrbyfloat','f','1.5')", '0'),
    ('eval', "redis.call('zadd','z','1.5','a'); redis.setresp(3); local r = redis.call('zscore','z','a'); return r", '0'),
    ('eval', "redis.call('zadd','z','1.5','a'); return redis.call('zscore','z','a')", '0'),
    ('eval', "redis.call('zadd','z','1.5','a'); redis.setresp(3); return redis.call('zrange','z',0,-1,'withscores')", '0'),
    ('eval', "redis.setresp(3); return redis.call('exists','nokey')", '0'),
    ('eval', "return redis.call('type','nokey')", '0'),
    ('eval', "return redis.call('ping')", '0'),
    ('eval', "return redis.pcall('incr','s')", '0'),
    ('eval', "return {redis.pcall('incr','s')}", '0'),
    ('eval', "return select('#', redis.call('get', 'nokey'))", '0'),
    ('eval', "return tonumber('0x10')", '0'),
    ('eval', "return string.format('%d %s %5.2f', 3, 'x', 1.5)", '0'),
    ('eval', 'return {math.floor(3.7), math.huge == 1/0}', '0'),
    ('eval', "return table.concat({1,2,3}, ',')", '0'),
    ('eval', 'return unpack({1,2,3})', '0'),
    ('eval', 'local s = 0; for i=1,100000 do s = s + i end return s', '0'),
    ('eval', "return string.rep('x', 3)", '0'),
    ('eval', 'return #KEYS', '0'),
    ('eval', "KEYS[1] = 'z'; return KEYS[1]", '0'),
    ('eval', 'return _G.KEYS ~= nil', '0'),
    ('eval', 'return _G.nosuch', '0'),
    ('eval', "return rawget(_G, 'nosuch')", '0'),
    ('eval', 'return {next(redis) ~= nil}', '0'),
    ('eval', 'local ok, err = pcall(function() nosuchglobal = 1 end) return err', '0'),
    ('eval', 'return load(function() return nil end)', '0'),
    ('eval', 'return gcinfo() > 0', '0'),
    ('eval', "return redis.call('select', '1')", '0'),
    ('eval', "redis.call('select', '1'); redis.call('set', 'indb1', 'v'); return redis.call('dbsize')", '0'),
    ('get', 'indb1'),
    ('eval', "return redis.call('get', KEYS[1])", '1', 'indb1'),
    ('eval', "return redis.acl_check_cmd('get', 'x')", '0'),
    ('eval', "return redis.acl_check_cmd('nosuch')", '0'),
    ('eval', "return redis.call('client', 'id') > 0", '0'),
    ('eval', 'return {1, 2, {3, {4, {5}}}}', '0'),
    ('eval', 'return {map={}}', '0'),
    ('eval', 'return {set={}}', '0'),
    ('eval', 'return {}', '0'),
    ('eval', 'return {1, nil, 3}', '0'),
    ('eval', 'return {err=1}', '0'),
    ('eval', 'return {ok=1}', '0'),
    ('eval', 'return {ok={}}', '0'),
    ('eval', "return {double='x'}", '0'),
    ('eval', 'return function() end', '0'),
    ('eval', 'return 9007199254740993', '0'),
    ('eval', 'return -0.5', '0'),
    ('eval', "return '\\0abc'", '0'),
    ('eval', 'return {double=0.1}', '0'),
    ('eval', 'return {double=-1/0}', '0'),
    ('eval', 'return {double=0/0}', '0'),
    ('eval', 'return redis.setresp(3)', '0'),
    ('eval', 'redis.setresp(2); return true', '0'),
    ('eval', "return redis.status_reply('a\\nb')", '0'),
    ('eval', "return redis.error_reply('ERR\\n')", '0'),
    ('eval', "return redis.error_reply('')", '0'),
    ('eval', "return redis.error_reply('-')", '0'),
    ('eval', "return redis.pcall('eval', 'return 1', '0')", '0'),
    ('eval', 'error(true)', '0'),
    ('eval', "local function f() error('deep') end local function g() f() end g()", '0'),
    ('eval', "\n\nerror('line3')", '0'),
    ('eval', "redis.call('set', 'str', 'v'); return redis.call('lpush', 'str', 'x')", '0'),
    ('eval', "redis.call('set', 'str', 'v'); return redis.pcall('lpush', 'str', 'x')", '0'),
    ('eval', "return redis.call('set', 'k', 'v', 'badopt')", '0'),
    ('eval', "return redis.call('object', 'encoding')", '0'),
    ('eval', "return redis.call('script', 'load', 'return 1')", '0'),
    ('eval', "return redis.call('shutdown')", '0'),
    ('eval', "return redis.call('function', 'list')", '0'),
    ('eval', "return redis.call('fcall', 'x', '0')", '0'),
    ('eval', 'return tostring(coroutine.wrap(function() return 5 end)())', '0'),
    ('eval', 'local co = coroutine.create(function(a) coroutine.yield(a+1) return 9 end) local ok, v = coroutine.resume(co, 1) return v', '0'),
]

FUNCTION_CASES = [
    ('function', 'load', 'return 1'),
    ('function', 'load', '#!lua\nreturn 1'),
    ('function', 'load', '#!lua name=a b=c\nreturn 1'),
    ('function', 'load', '#!lua name=a-b\nreturn 1'),
    ('function', 'load', '#!lua name=lib1\nreturn 1'),
    ('function', 'load', "#!lua name=lib1\nlocal t={} for k,v in pairs(redis) do t[#t+1]=k end table.sort(t) error(table.concat(t, ','))"),
    ('function', 'load', "#!lua name=lib1\nredis.call('ping')"),
    ('function', 'load', "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return {keys[1], args[1]} end)"),
    ('function', 'load', "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function('f1', function(keys, args) return 1 end)"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function('f-1', function(keys, args) return 1 end)"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function('f2', 1)"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function('f2')"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes', 'bad'}}"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes'}, description='desc', x=1}"),
    ('function', 'load', "#!lua name=lib2\nredis.register_function{function_name='f2', callback=function() return 2 end, flags={'no-writes'}, description='desc'}"),
    ('fcall', 'f1', '1', 'k', 'a'),
    ('fcall', 'nosuch', '0'),
    ('fcall_ro', 'f1', '0'),
    ('fcall_ro', 'f2', '0'),
    ('fcall', 'f1', '5'),
    ('fcall', 'f1', '-1'),
    ('fcall', 'f1', 'x'),
    ('function', 'list', 'libraryname'),
    ('function', 'list', 'bad'),
    ('function', 'list', 'withcode', 'libraryname', 'lib2'),
    ('function', 'list', 'libraryname', 'LIB2'),
    ('function', 'list', 'libraryname', 'nomatch'),
    ('function', 'stats'),
    ('function', 'delete', 'nosuch'),
    ('function', 'kill'),
    ('function', 'restore', 'garbage'),
    ('function', 'restore', 'garbage', 'bad'),
    ('function', 'flush', 'bad'),
    ('function', 'load', 'replace', "#!lua name=lib2\nredis.register_function('f2', function() return error('boom') end)"),
    ('fcall', 'f2', '0'),
    ('function', 'load', "#!lua name=lib3\nredis.register_function('f9', function() local x; return x.y end)"),
    ('fcall', 'f9', '0'),
    ('function', 'load', "#!lua name=lib4\nredis.register_function('f10', function() return redis.call('nosuch') end)"),
    ('fcall', 'f10', '0'),
    ('function', 'load', '#!lua name=lib5\nx=1'),
    ('function', 'load', '#!lua name=lib5\nreturn +'),
    ('function', 'load', "#!lua name=lib5\nerror('boom')"),
    ('function', 'load', "#!lua name=lib5\nredis.register_function('f1', function() return 1 end)"),
    ('function', 'help'),
    ('function', 'load', "#!lua name=lib5\nredis.register_function('f11', function() return 1 end)\nredis.register_function('f11', function() return 1 end)"),
    ('function', 'load', '#!lua name=lib6 name=lib7\nreturn 1'),
    ('function', 'load', "#!lua name=lib6\nlocal function helper(k) return redis.call('incr', k) end\nredis.register_function('incr6', function(keys) return helper(keys[1]) end)"),
    ('fcall', 'incr6', '1', 'cnt'),
    ('fcall', 'INCR6', '1', 'cnt'),
    ('fcall_ro', 'incr6', '1', 'cnt'),
    ('function', 'load', "#!lua name=lib7\nredis.register_function{function_name='ro7', callback=function(keys) return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}"),
    ('fcall', 'ro7', '1', 'k'),
    ('fcall_ro', 'ro7', '1', 'k'),
    ('function', 'load', "#!lua name=lib8\nredis.register_function{function_name='g8', callback=function() return 1 end, flags='no-writes'}"),
    ('function', 'load', '#!lua name=lib8\nredis.register_function{function_name=1, callback=function() return 1 end}'),
    ('function', 'load', '#!lua name=lib8\nredis.register_function{callback=function() return 1 end}'),
    ('function', 'load', "#!lua name=lib8\nredis.register_function{function_name='x'}"),
    ('function', 'load', "#!lua name=lib8\nredis.register_function{function_name='x', callback=function() end, description=1}"),
    ('function', 'load', "#!lua name=lib8\nredis.register_function('a', function() end, 3)"),
    ('function', 'load', '#!lua name=lib8\nredis.register_function()'),
    ('function', 'load', '#!lua name=lib8\nredis.register_function(1, function() end)'),
    ('function', 'load', "#!lua name=lib8\nredis.register_function{function_name='G8', callback=function() return 1 end, flags={'NO-WRITES', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}"),
    ('function', 'list', 'libraryname', 'lib8'),
    ('function', 'load', "#!LUA name=lib9\nredis.register_function('g9', function() return redis.setresp(3) end)"),
    ('function', 'load', "#!js name=lib9\nredis.register_function('g9', function() return 1 end)"),
    ('function', 'load', "#!lua name=lib9\nredis.log(redis.LOG_NOTICE, 'loading')\nredis.register_function('g9', function() return redis.REDIS_VERSION end)"),
    ('fcall', 'g9', '0'),
    ('function', 'load', "#!lua name=lib10\nredis.register_function('g10', function(keys, args) return {#keys, #args, _G ~= nil} end)"),
    ('fcall', 'g10', '2', 'a', 'b', 'c'),
    ('function', 'load', "#!lua name=lib11\nredis.register_function('g11', function() x = 5 end)"),
    ('fcall', 'g11', '0'),
    ('function', 'load', "#!lua name=lib12\nredis.register_function('g12', function() return nosuch end)"),
    ('fcall', 'g12', '0'),
    ('function', 'load'),
    ('function', 'load', 'replace'),
    ('function', 'load', 'bad', "#!lua name=lib13\nredis.register_function('g13', function() return 1 end)"),
    ('function', 'load', 'replace', 'replace', "#!lua name=lib13\nredis.register_function('g13', function() return 1 end)"),
    ('function', 'delete', 'lib1'),
    ('fcall', 'f1', '0'),
    ('function', 'stats'),
    ('function', 'dump', 'x'),
    ('function', 'restore'),
    ('function', 'restore', 'a', 'b', 'c'),
    ('function', 'flush', 'async'),
    ('function', 'stats'),
    ('function', 'list'),
]

# The bundled libraries: bit, struct, cjson, cmsgpack (respdb/scripting/bitlib.py, structlib.py, cjsonlib.py,
# msgpacklib.py), and the full list of globals.
LIBRARY_CASES = [
    ('eval', "local t={} for k,v in pairs(_G) do t[#t+1]=k end table.sort(t) return t", '0'),
    ('eval', "local t={} for k,v in pairs(cmsgpack) do t[#t+1]=k .. '=' .. tostring(type(v)=='string' and v or type(v)) end table.sort(t) return t", '0'),
    ('eval', "return cmsgpack.pack(1, 'ab', {1,2}, {a=1}, 1.5, -1, true, nil)", '0'),
    ('eval', "return cmsgpack.pack(string.rep('x', 40))", '0'),
    ('eval', "return cmsgpack.pack(string.rep('x', 300))", '0'),
    ('eval', 'return cmsgpack.pack(0.1, 2^40, -2^40, 1/0, -1/0, 0/0)', '0'),
    ('eval', 'return cmsgpack.pack()', '0'),
    ('eval', "return {cmsgpack.unpack('\\196\\2ab')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\1\\2\\3')}", '0'),
    ('eval', "return {cmsgpack.unpack_one('\\1\\2\\3')}", '0'),
    ('eval', "return {cmsgpack.unpack_one('\\1\\2\\3', 2)}", '0'),
    ('eval', "return {cmsgpack.unpack_limit('\\1\\2\\3', 2)}", '0'),
    ('eval', "return {cmsgpack.unpack_limit('\\1\\2\\3', -1)}", '0'),
    ('eval', "return {cmsgpack.unpack_one('\\1\\2\\3', 9)}", '0'),
    ('eval', "return {cmsgpack.unpack('\\205\\1')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\193')}", '0'),
    ('eval', "return cmsgpack.pack({['1']=5})", '0'),
    ('eval', 'return cmsgpack.pack({1, 2, nil, 4})', '0'),
    ('eval', 'return cmsgpack.pack({[1]=1, [3]=3})', '0'),
    ('eval', 'return cmsgpack.pack(2^31, 2^63, -2^63, 0.5, 1e300)', '0'),
    ('eval', 'local t = {} t[1] = t return cmsgpack.pack(t)', '0'),
    ('eval', 'return {cmsgpack.unpack(cmsgpack.pack({a=1, b={1,2}}))}', '0'),
    ('eval', 'local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={1,2}})) return {t.a, t.b[2]}', '0'),
    ('eval', 'return cmsgpack.unpack({})', '0'),
    ('eval', "return {cmsgpack.unpack('')}", '0'),
    ('eval', 'return cmsgpack.pack(-33, -128, -129, -32768, -32769, -2^31, -2^31-1, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32)', '0'),
    ('eval', 'return {cmsgpack.unpack(cmsgpack.pack(-33, -128, -129, -32768, -32769, -2^31, -2^31-1, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32))}', '0'),
    ('eval', 'local t = {} for i=1,20 do t[i] = i end return cmsgpack.pack(t)', '0'),
    ('eval', "local t = {} for i=1,20 do t['k'..i] = i end return cmsgpack.pack(t)", '0'),
    ('eval', 'return cmsgpack.pack(function() end, cmsgpack)', '0'),
    ('eval', "local s = cmsgpack.pack({1,{2,{3}},{x='y'}}) local t = cmsgpack.unpack(s) return cmsgpack.pack(t) == s", '0'),
    ('eval', "return {cmsgpack.unpack('\\202\\63\\192\\0\\0\\203\\63\\248\\0\\0\\0\\0\\0\\0')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\146\\1')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\217\\3abc\\218\\0\\1z\\219\\0\\0\\0\\1q')}", '0'),
    ('eval', "return {cmsgpack.unpack('\\192\\194\\195\\208\\255\\209\\255\\0\\210\\255\\255\\255\\0\\211\\255\\255\\255\\255\\255\\255\\255\\0')}", '0'),
    ('eval', "return {cmsgpack.unpack_limit('\\1\\2\\3', 0, 1)}", '0'),
    ('eval', "return {cmsgpack.unpack_limit('\\1\\2\\3')}", '0'),
    ('eval', "return {cmsgpack.unpack_limit('\\1\\2\\3', 'x')}", '0'),
    ('eval', "return {cmsgpack.unpack_one('\\1\\2\\3', '1')}", '0'),
    ('eval', 'return {cmsgpack.unpack(12)}', '0'),
    ('eval', 'cmsgpack.pack = 1', '0'),
    ('eval', 'return {type(redis.call), type(cmsgpack.pack), type(bit.band), type(print), type(1), type(cjson.null)}', '0'),
    ('eval', 'return cjson.encode(redis)', '0'),
    ('eval', "return {struct.pack('>i', 1), struct.pack('<i', -2), struct.pack('h', 300), struct.pack('B', 255), struct.pack('b', -1)}", '0'),
    ('eval', "return {struct.pack('>I2', 258), struct.pack('i8', 2^40), struct.pack('l', -5), struct.pack('L', 2^63)}", '0'),
    ('eval', "return struct.pack('i16', 1)", '0'),
    ('eval', "return struct.pack('i3', 1)", '0'),
    ('eval', "return struct.pack('q', 1)", '0'),
    ('eval', "return struct.pack('>d', 1.5)", '0'),
    ('eval', "return struct.pack('<f', 1.5)", '0'),
    ('eval', "return struct.pack('f', 1e300)", '0'),
    ('eval', "return struct.pack('c3', 'abcdef')", '0'),
    ('eval', "return struct.pack('c0', 'abcdef')", '0'),
    ('eval', "return struct.pack('c5', 'ab')", '0'),
    ('eval', "return struct.pack('s', 'hi')", '0'),
    ('eval', "return struct.pack('!4 b i', 1, 2)", '0'),
    ('eval', "return struct.pack('!3 b i', 1, 2)", '0'),
    ('eval', "return struct.pack('!b d', 1, 2)", '0'),
    ('eval', "return struct.pack('x b x', 7)", '0'),
    ('eval', "return struct.pack('i')", '0'),
    ('eval', "return struct.pack('i', 'x')", '0'),
    ('eval', "return struct.pack('i', '12')", '0'),
    ('eval', 'return struct.pack()', '0'),
    ('eval', 'return struct.pack(5)', '0'),
    ('eval', "return struct.pack('i', 0/0)", '0'),
    ('eval', "return struct.pack('i', 1e30)", '0'),
    ('eval', "return struct.pack('i', -1e30)", '0'),
    ('eval', "return struct.pack('I', 2^64+10)", '0'),
    ('eval', "return {struct.unpack('>i', struct.pack('>i', -7))}", '0'),
    ('eval', "return {struct.unpack('<h H', struct.pack('<h H', -2, 65535))}", '0'),
    ('eval', "return {struct.unpack('i', 'ab')}", '0'),
    ('eval', "return {struct.unpack('c2 c2', 'abcd')}", '0'),
    ('eval', "return {struct.unpack('b c0', struct.pack('b', 3) .. 'xyz!')}", '0'),
    ('eval', "return {struct.unpack('c0', 'xyz')}", '0'),
    ('eval', "return {struct.unpack('s s', 'ab\\0cd\\0')}", '0'),
    ('eval', "return {struct.unpack('s', 'abc')}", '0'),
    ('eval', "return {struct.unpack('b', 'abc', 2)}", '0'),
    ('eval', "return {struct.unpack('b', 'abc', 4)}", '0'),
    ('eval', "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}", '0'),
    ('eval', "return {struct.unpack('d', struct.pack('d', 0.1))}", '0'),
    ('eval', "return tostring(struct.unpack('f', struct.pack('f', 0.1)))", '0'),
    ('eval', "return {struct.unpack('i16', string.rep('\\255', 16))}", '0'),
    ('eval', "return {struct.unpack('I8', string.rep('\\255', 8))}", '0'),
    ('eval', "return {struct.unpack('z', 'abc')}", '0'),
    ('eval', "return {struct.unpack('i')}", '0'),
    ('eval', "return {struct.unpack('>I3', '\\1\\2\\3')}", '0'),
    ('eval', "return {struct.unpack('x b', 'ab')}", '0'),
    ('eval', 'local t={} for k,v in pairs(struct) do t[#t+1]=k end table.sort(t) return t', '0'),
    ('eval', "return {struct.size('i'), struct.size('!4 b i'), struct.size('i3 d'), struct.size('q'), struct.size('>T')}", '0'),
    ('eval', "return struct.size('s')", '0'),
    ('eval', "return struct.size('c0')", '0'),
    ('eval', "return struct.size('%')", '0'),
    ('eval', "return struct.pack('i33', 1)", '0'),
    ('eval', "return struct.pack('i99999999999', 1)", '0'),
    ('eval', "return {struct.unpack('i', 'abcd', 9)}", '0'),
    ('eval', "return {struct.unpack('i', 'abcd', 0)}", '0'),
    ('eval', "return {struct.unpack('b', 'ab', 'x')}", '0'),
    ('eval', "return {struct.unpack('c2 c0', '02xyz')}", '0'),
    ('eval', "return {struct.unpack('>i16', string.rep('\\255', 16))}", '0'),
    ('eval', "return struct.pack('T', 5)", '0'),
    ('eval', "return struct.pack('!8 b d', 1, 2)", '0'),
    ('eval', "return struct.pack('i', -2^63 - 5000)", '0'),
    ('eval', "return struct.pack('%', 1)", '0'),
    ('eval', 'local t={} for k,v in pairs(bit) do t[#t+1]=k end table.sort(t) return t', '0'),
    ('eval', "return {bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(2^53+3), bit.tobit('7'), bit.tobit(0xffffffff)}", '0'),
    ('eval', 'return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(1, 20), bit.tohex(255, 0), bit.tohex(255, 2)}', '0'),
    ('eval', 'return {bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0), bit.lshift(1, 33), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.rol(0x80000001, 1), bit.ror(1, 1), bit.bswap(0x12345678)}', '0'),
    ('eval', 'return bit.band()', '0'),
    ('eval', 'return bit.band(nil)', '0'),
    ('eval', "return bit.band('x')", '0'),
    ('eval', 'return bit.band({})', '0'),
    ('eval', 'return bit.tohex()', '0'),
    ('eval', 'return bit.lshift(1)', '0'),
    ('eval', 'return bit._VERSION', '0'),
    ('eval', 'return bit.tobit(0/0)', '0'),
    ('eval', 'return bit.tobit(1/0)', '0'),
    ('eval', 'return bit.tohex(-1, 8)', '0'),
    ('eval', 'return bit.tohex(0x1234, -3)', '0'),
    ('eval', 'return bit.lshift(1, -1)', '0'),
    ('eval', 'return bit.bor(1.7, 2.2)', '0'),
    ('eval', 'return {bit.tobit(-2.5), bit.tobit(-3.5), bit.tobit(2^31), bit.tobit(-(2^31)-1), bit.tobit(1e300), bit.tobit(-1e300), bit.tobit(2^52+0.5)}', '0'),
    ('eval', 'local x = 1\nreturn bit.bxor(x, true)', '0'),
    ('eval', "return pcall(bit.band, 'q')", '0'),
    ('eval', "local ok, e = pcall(bit.band, 'q') return e", '0'),
    ('eval', 'bit.band = 1', '0'),
    ('eval', 'return {bit.rol(1, 32), bit.ror(0x12345678, 36), bit.arshift(0x80000000, 31), bit.rshift(0x80000000, 31), bit.tohex(-5, -8), bit.bswap(-1)}', '0'),
    ('eval', "return {bit.band(' 12 '), bit.band('0x10'), bit.band('1e2'), bit.tobit('inf')}", '0'),
    ('eval', 'local b = bit.band; return b(nil)', '0'),
    ('eval', 'return {cjson._NAME, cjson._VERSION, type(cjson.null), tostring(cjson.null)}', '0'),
    ('eval', 'return cjson.encode({cjson.null, {}, {[1]=cjson.null}})', '0'),
    ('eval', "return cjson.decode('[]') ~= nil", '0'),
    ('eval', "return cjson.encode(cjson.decode('{}'))", '0'),
    ('eval', 'return cjson.encode({1,2,3})', '0'),
    ('eval', 'return cjson.encode({a=1})', '0'),
    ('eval', 'return cjson.encode({})', '0'),
    ('eval', 'return cjson.encode({1,nil,3})', '0'),
    ('eval', 'return cjson.encode({[1]=1,[20]=2})', '0'),
    ('eval', 'return cjson.encode({[1]=1,[2]=2,[3]=3,[4]=4,[5]=5,[6]=6,[7]=7,[8]=8,[9]=9,[10]=10,[12]=1})', '0'),
    ('eval', 'return cjson.encode({[1]=1,[5]=2})', '0'),
    ('eval', 'return cjson.encode({[1.5]=1})', '0'),
    ('eval', 'return cjson.encode({[true]=1})', '0'),
    ('eval', 'return cjson.encode(\'a/b"c\\\\d\\n\\r\\t\\b\\f\\1\\127\\200\')', '0'),
    ('eval', 'return cjson.encode(1/3)', '0'),
    ('eval', 'return cjson.encode(1e15)', '0'),
    ('eval', 'return cjson.encode(100)', '0'),
    ('eval', 'return cjson.encode(1/0)', '0'),
    ('eval', 'return cjson.encode(0/0)', '0'),
    ('eval', 'return cjson.encode(nil)', '0'),
    ('eval', 'return cjson.encode()', '0'),
    ('eval', 'return cjson.encode(1, 2)', '0'),
    ('eval', 'return cjson.encode(true)', '0'),
    ('eval', 'return cjson.encode(function() end)', '0'),
    ('eval', 'return cjson.encode({f=function() end})', '0'),
    ('eval', 'return cjson.encode(cjson.null)', '0'),
    ('eval', "return cjson.encode({a={b={c={1,2,{d='x'}}}}})", '0'),
    ('eval', 'local t = {} t.t = t return cjson.encode(t)', '0'),
    ('eval', "return cjson.encode({[1]='a', x='b'})", '0'),
    ('eval', "return cjson.encode({[-1]='a'})", '0'),
    ('eval', "return cjson.encode({[0]='a'})", '0'),
    ('eval', 'return cjson.encode({1, 2, [4]=4})', '0'),
    ('eval', 'return cjson.encode({a=1, b=2, c=3, d=4, e=5})', '0'),
    ('eval', 'return cjson.encode({[1/0]=1})', '0'),
    ('eval', 'return cjson.encode({[2^53]=1})', '0'),
    ('eval', 'return cjson.encode({x={y={}}, [3]=1})', '0'),
    ('eval', "local t = {} for i=1,20 do t['k'..i] = i end return cjson.encode(t)", '0'),
    ('eval', 'local t = {} for i=1,12 do t[i] = i end t[5] = nil return cjson.encode(t)', '0'),
    ('eval', "return cjson.decode('[1,2,3]')", '0'),
    ('eval', 'return cjson.decode(\'{"a":1}\').a', '0'),
    ('eval', "return type(cjson.decode('null'))", '0'),
    ('eval', "return cjson.decode('null') == cjson.null", '0'),
    ('eval', "return {cjson.decode('[1,null,3]')}", '0'),
    ('eval', 'return cjson.decode(\'"\\\\u00e9\\\\u20ac\\\\ud83d\\\\ude00"\')', '0'),
    ('eval', "return cjson.decode('1.5e3')", '0'),
    ('eval', "return cjson.decode('')", '0'),
    ('eval', "return cjson.decode('[1,2')", '0'),
    ('eval', 'return cjson.decode(\'{"a" 1}\')', '0'),
    ('eval', "return cjson.decode('tru')", '0'),
    ('eval', "return cjson.decode('[1,]')", '0'),
    ('eval', "return cjson.decode('1 2')", '0'),
    ('eval', 'return cjson.decode(\'"abc\')', '0'),
    ('eval', 'return cjson.decode(\'"\\\\x"\')', '0'),
    ('eval', "return cjson.decode('{1:2}')", '0'),
    ('eval', "return cjson.decode('0x10')", '0'),
    ('eval', "return cjson.decode(' [ true , false ] ')", '0'),
    ('eval', 'return cjson.decode()', '0'),
    ('eval', 'return cjson.decode(5)', '0'),
    ('eval', 'return cjson.decode({})', '0'),
    ('eval', 'return cjson.decode(nil)', '0'),
    ('eval', "return cjson.decode('NaN')", '0'),
    ('eval', "return cjson.decode('-Infinity')", '0'),
    ('eval', 'return cjson.decode(\'"\\\\ud800"\')', '0'),
    ('eval', 'return cjson.decode(\'"\\\\udc00"\')', '0'),
    ('eval', 'return cjson.decode(\'"\\\\u12"\')', '0'),
    ('eval', "return cjson.decode('01')", '0'),
    ('eval', "return cjson.decode('-')", '0'),
    ('eval', "return cjson.decode('+1')", '0'),
    ('eval', "return cjson.decode('.5')", '0'),
    ('eval', "return cjson.decode('1.')", '0'),
    ('eval', "return cjson.decode('1e')", '0'),
    ('eval', "return cjson.decode('inf')", '0'),
    ('eval', "return cjson.decode('nul')", '0'),
    ('eval', "return cjson.decode('[' .. string.rep('[', 1100) .. ']')", '0'),
    ('eval', "return cjson.decode(string.rep('[', 999) .. string.rep(']', 999))[1] ~= nil", '0'),
    ('eval', 'return cjson.decode(\'{"a":{"b":\' .. string.rep(\'[\', 1000) .. \'}}\')', '0'),
    ('eval', 'return cjson.encode(cjson.decode(\'{"b":[1,2,{"c":null}],"a":"x"}\'))', '0'),
    ('eval', 'return cjson.encode(cjson.decode(\'{"z":1,"y":2,"x":3,"w":4,"v":5,"u":6}\'))', '0'),
    ('eval', 'local t = cjson.decode(\'{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7}\') local r = {} for k, v in pairs(t) do r[#r+1] = k end return r', '0'),
    ('eval', 'return cjson.decode(\'"a\\\\/b\\\\\\\\c\\\\"d\\\\b\\\\f\\\\n\\\\r\\\\t"\')', '0'),
    ('eval', 'return cjson.decode(\'"a\\0b"\')', '0'),
    ('eval', "return cjson.decode('a\\0')", '0'),
    ('eval', "return cjson.decode('}')", '0'),
    ('eval', "return cjson.decode('[1 2]')", '0'),
    ('eval', 'return cjson.decode(\'{"a":1 "b":2}\')', '0'),
    ('eval', 'return cjson.decode(\'{"a":}\')', '0'),
    ('eval', "return cjson.decode('{,}')", '0'),
    ('eval', "return cjson.decode('[1e400, -1e400, 0x1p4, 1E2, -0]')", '0'),
    ('eval', "return cjson.encode(cjson.decode('[1e400]'))", '0'),
    ('eval', "local ok, e = pcall(cjson.decode, '[') return e", '0'),
    ('eval', 'cjson.encode = nil', '0'),
    ('eval', "return cjson.encode({['a']={1,2}, ['b']={x=cjson.null}})", '0'),
    ('eval', "return cjson.encode(string.rep('\\226\\130\\172', 3))", '0'),
]


def test_eval_corpus_matches_redis(both: Pair) -> None:
    for case in SCRIPT_CASES:
        both.check(*case)


def test_bit_and_cjson_corpus_matches_redis(both: Pair) -> None:
    for case in LIBRARY_CASES:
        both.check(*case)


def test_function_corpus_matches_redis(both: Pair) -> None:
    for case in FUNCTION_CASES:
        both.check(*case)


def test_eval_command_replies_converted_as_redis(both: Pair) -> None:
    """Replies of many command families go through redis.call under RESP2 and RESP3 scripts."""
    setup = (
        "redis.call('rpush','l','a','b'); redis.call('hset','h','f','v'); redis.call('sadd','s','m');"
        "redis.call('zadd','z','1.5','a','2','b'); redis.call('set','n','10');"
    )
    calls = [
        "'lrange','l',0,-1", "'hgetall','h'", "'smembers','s'", "'zrange','z',0,-1,'withscores'",
        "'zscore','z','a'", "'incrbyfloat','n','0.5'", "'get','nokey'", "'lpop','nokey'", "'exists','l','h'",
        "'type','z'", "'hget','h','nokey'", "'zrank','z','nokey'", "'ttl','n'", "'mget','n','nokey'",
        "'blpop','nokey',0", "'zpopmin','z'", "'hrandfield','nokey'", "'object','encoding','l'", "'echo','hi'",
        "'incr','l'",
    ]
    for resp_version in ("2", "3"):
        for call in calls:
            script = f"{setup} redis.setresp({resp_version}); return redis.pcall({call})"
            both.check("EVAL", script, "0")
            both.check("FLUSHALL")


def test_eval_readonly_and_write_dirty_rules_match_redis(both: Pair) -> None:
    both.check("SET", "k", "v")
    both.check("EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k")
    both.check("EVAL_RO", "return redis.call('del', KEYS[1])", "1", "k")
    both.check("EVAL_RO", "return redis.pcall('del', KEYS[1])", "1", "k")
    sha = both.check("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])").split(b"\r\n")[1]
    both.check("EVALSHA_RO", sha, "1", "counter")
    both.check("EVALSHA", sha, "1", "counter")
    both.check("EVALSHA", sha.upper(), "1", "counter")
    both.check("EVALSHA", sha[:39], "1", "counter")
    both.check("GET", "counter")


_leaf = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: repr(x)),
    st.text(alphabet="abc xyz\r\n", max_size=6).map(lambda s: repr(s).replace("\\\\", "\\")),
    st.sampled_from(["true", "false", "nil", "{ok='fine'}", "{err='ERR bad'}", "{double=2.5}", "{double=1/0}",
                     "{big_number='12345678901234567890'}", "{verbatim_string={format='txt', string='v'}}",
                     "{map={k=1}}", "{set={x=true}}", "{}"]),
)
_lua_value = st.recursive(_leaf, lambda children: st.lists(children, max_size=4).map(lambda xs: "{" + ", ".join(xs) + "}"), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(value=_lua_value, script_resp=st.sampled_from(["", "redis.setresp(3); "]), caller_resp3=st.booleans())
def test_eval_random_return_values_match_redis(server: ServerProcess, oracle: ServerProcess, value: str, script_resp: str, caller_resp3: bool) -> None:
    pair = Pair(server, oracle, resp3=caller_resp3)
    try:
        pair.check("EVAL", f"{script_resp}return {value}", "0")
        pair.check("EVAL", f"{script_resp}return redis.pcall('echo', {value})", "0")
    finally:
        pair.close()
