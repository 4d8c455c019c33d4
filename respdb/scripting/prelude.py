"""The trusted Lua code that builds the script sandbox: Redis's `redis` API, the readonly globals, the
error handler, and the conversion of a script's return value into RESP bytes.

It runs once per Lua state with the real (unsandboxed) globals and receives the Python callbacks as
arguments; user code only ever sees the protected environments it builds. Everything mirrors Redis 7.0's
script_lua.c / function_lua.c so that replies and error texts come out byte for byte the same.
"""

from respdb.scripting.prelude_run import RUN

_SANDBOX = rb"""
local py = ...  -- the Python callbacks table built in engine.py (LuaEngine.__init__)
local py_hook, py_register, py_unwrap = py.hook, py.register, py.unwrap
local HOOK_COUNT, VERSION, VERSION_NUM = py.HOOK_COUNT, py.VERSION, py.VERSION_NUM

local dbg = debug
local real_loadstring, real_setfenv = loadstring, setfenv
local setmetatable, getmetatable, rawget, rawset, rawequal = setmetatable, getmetatable, rawget, rawset, rawequal
local type, error, tostring, tonumber, next, select, xpcall, pcall, unpack = type, error, tostring, tonumber, next, select, xpcall, pcall, unpack
local concat, sformat, gsub, find, sub, byte = table.concat, string.format, string.gsub, string.find, string.sub, string.byte
local co_create, co_wrap = coroutine.create, coroutine.wrap
local INTERNAL = "=respdb"
local INF = 1/0

-- cjson.null: Redis has a NULL lightuserdata; a proxy userdata that prints the same stands in.
local json_null = newproxy(true)
getmetatable(json_null).__tostring = function() return "userdata: (nil)" end
getmetatable(json_null).__metatable = false

-- Every global of the host state that a script could use to reach the host goes away for good.
python = nil; os = nil; io = nil; package = nil; require = nil; module = nil
dofile = nil; loadfile = nil; print = nil; debug = nil; newproxy = nil

---------------------------------------------------------------------------------------------------
-- Readonly tables. Lua 5.1 has none (Redis patches its VM), so user code sees empty proxies whose
-- __index is the real table; pairs/next/rawget look through them.
local real_of = setmetatable({}, {__mode = "k"})

local function ro_newindex() error("Attempt to modify a readonly table", 2) end

local function protect(real)
  local proxy = {}
  setmetatable(proxy, {__index = real, __newindex = ro_newindex, __metatable = false})
  real_of[proxy] = real
  return proxy
end

local function missing_global(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

local function see_through(t) return real_of[t] or t end

local function safe_pairs(t)
  local real = real_of[t]
  if real == nil then return next, t, nil end
  local k
  return function() local v; k, v = next(real, k); return k, v end
end

local function safe_next(t, k) return next(see_through(t), k) end
local function safe_rawget(t, k) return rawget(see_through(t), k) end
local function is_readonly(t) return real_of[t] ~= nil end

local function copy(t) local c = {} for k, v in next, t do c[k] = v end return c end

---------------------------------------------------------------------------------------------------
-- Error tables (luaPushErrorBuff): "-CODE msg" or "msg" become {err="CODE msg"}.
local function trim_nl(s) return (gsub(gsub(s, "^[\r\n]+", ""), "[\r\n]+$", "")) end

local function error_table(s)
  local code, msg
  if sub(s, 1, 1) == "-" then
    local sp = find(s, " ", 1, true)
    if sp then code, msg = sub(s, 2, sp - 1), sub(s, sp + 1) else code, msg = "ERR", sub(s, 2) end
  else
    code, msg = "ERR", s
  end
  local t = {}
  t.err = code .. " " .. trim_nl(msg)
  return t
end

local function raise(msg) error(error_table(msg)) end

-- Redis's __redis__err__handler: attach the source and line of the user code that failed. Redis skips
-- one C frame; the frames of this prelude are skipped as well, since Redis has them in C.
local function err_handler(err)
  if type(err) == "userdata" then err = py_unwrap(err) end
  local level = 2
  local i = dbg.getinfo(level, "nSl")
  while i and (i.what == "C" or i.source == INTERNAL) and level < 8 do
    level = level + 1
    i = dbg.getinfo(level, "nSl")
  end
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if i then
    err["source"] = i.source
    err["line"] = i.currentline
  end
  return err
end

---------------------------------------------------------------------------------------------------
-- Script kill: the count hook asks Python (which also serves other clients once the script is slow).
local hook
local hook_every_instruction = false
hook = function()
  local msg = py_hook()
  if msg then
    local info = dbg.getinfo(2, "S")
    if info and info.source == INTERNAL then return end
    if not hook_every_instruction then
      -- Fire on every instruction from now on, so a pcall in the script cannot swallow the kill.
      hook_every_instruction = true
      dbg.sethook(hook, "", 1)
    end
    raise(msg)
  end
end
dbg.sethook(hook, "", HOOK_COUNT)

local function reset_hook()
  if hook_every_instruction then
    hook_every_instruction = false
    dbg.sethook(hook, "", HOOK_COUNT)
  end
end

-- Coroutines do not inherit the Lua-level hook in 5.1: install it inside each new one.
local function hooked(f)
  if type(f) ~= "function" then return f end
  return function(...)
    dbg.sethook(hook, "", hook_every_instruction and 1 or HOOK_COUNT)
    return f(...)
  end
end

local coroutine_lib = copy(coroutine)
coroutine_lib.create = function(f) return co_create(hooked(f)) end
coroutine_lib.wrap = function(f) return co_wrap(hooked(f)) end

---------------------------------------------------------------------------------------------------
-- The redis.* API.
local script_resp = 2

local function error_reply(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then return error_table("wrong number or type of arguments") end
  if sub(e, 1, 1) ~= "-" then e = "-" .. e end
  return error_table(e)
end

local function status_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then return error_table("wrong number or type of arguments") end
  local t = {}
  t.ok = s
  return t
end

local function add_constants(r)
  r.LOG_DEBUG = 0; r.LOG_VERBOSE = 1; r.LOG_NOTICE = 2; r.LOG_WARNING = 3
  r.REDIS_VERSION = VERSION; r.REDIS_VERSION_NUM = VERSION_NUM
end

local redis_real = {
  call = py.call, pcall = py.pcall, log = py.log, sha1hex = py.sha1hex,
  error_reply = error_reply, status_reply = status_reply, setresp = py.setresp, set_repl = py.set_repl,
  replicate_commands = function() return true end, breakpoint = function() return false end,
  debug = function() end, acl_check_cmd = py.acl_check_cmd,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
}
add_constants(redis_real)
local redis_api = protect(redis_real)

---------------------------------------------------------------------------------------------------
-- Loading code: no bytecode (it can break out of any sandbox), and chunks get the sandbox globals.
local eval_globals  -- set below

local function safe_loadstring(s, name)
  if type(s) == "string" and byte(s, 1) == 27 then return nil end
  local f, e = real_loadstring(s, name)
  if f then real_setfenv(f, eval_globals) end
  return f, e
end

local function plain_error(e)
  if type(e) == "userdata" then e = py_unwrap(e) end
  if type(e) == "table" then
    local msg = e.err
    if type(msg) == "string" or type(msg) == "number" then return msg end
  end
  return e
end

local function safe_pcall(f, ...)
  local res = {pcall(f, ...)}
  if not res[1] then return false, plain_error(res[2]) end
  return unpack(res, 1, table.maxn(res))
end

local function safe_xpcall(f, handler)
  return xpcall(f, function(e)
    if type(e) == "userdata" then e = py_unwrap(e) end
    return handler(e)
  end)
end

local bit_lib = protect(copy(py.bit))
local struct_lib = protect(copy(py.struct))
-- Fields in luaopen_create's order, so lua_next walks them as Redis's table.
local cmsgpack_real = {}
cmsgpack_real.pack = py.cmsgpack.pack
cmsgpack_real.unpack = py.cmsgpack.unpack
cmsgpack_real.unpack_one = py.cmsgpack.unpack_one
cmsgpack_real.unpack_limit = py.cmsgpack.unpack_limit
cmsgpack_real._NAME = "cmsgpack"
cmsgpack_real._VERSION = "lua-cmsgpack 0.4.0"
cmsgpack_real._COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo"
cmsgpack_real._DESCRIPTION = "MessagePack C implementation for Lua"
local cmsgpack_lib = protect(cmsgpack_real)
local cjson_lib = protect({encode = py.cjson_encode, decode = py.cjson_decode, null = json_null,
                           _NAME = "cjson", _VERSION = "2.1.0"})

-- Host (Python) functions are userdata in Lua; scripts must see them as functions, as Redis's C
-- functions are.
local host_functions = setmetatable({}, {__mode = "k"})
local function register_host_functions(t)
  for _, v in next, t do
    if type(v) == "userdata" then host_functions[v] = true end
  end
end
register_host_functions(py)
register_host_functions(py.bit)
register_host_functions(py.struct)
register_host_functions(py.cmsgpack)

local function safe_type(v)
  local t = type(v)
  if t == "userdata" and host_functions[v] then return "function" end
  return t
end

-- One readonly copy of each standard library, shared by EVAL and FCALL; strings index the same
-- `string` table scripts see (getmetatable('').__index == string, as in Redis).
local string_lib, table_lib, math_lib = protect(copy(string)), protect(copy(table)), protect(copy(math))
local coroutine_ro = protect(coroutine_lib)
getmetatable("").__index = string_lib
-- Scripts get a readonly view of the string metatable (Redis's is readonly too): changing it would
-- leak into every later script.
getmetatable("").__metatable = protect({__index = string_lib})

local function base_env()
  return {
    assert = assert, collectgarbage = collectgarbage, error = error, gcinfo = gcinfo,
    getmetatable = getmetatable, ipairs = ipairs, load = py.load, loadstring = safe_loadstring,
    next = safe_next, pairs = safe_pairs, pcall = safe_pcall, rawequal = rawequal, rawget = safe_rawget,
    rawset = py.rawset, select = select, setmetatable = py.setmetatable, tonumber = tonumber,
    tostring = tostring, type = safe_type, unpack = unpack, xpcall = safe_xpcall, _VERSION = _VERSION,
    string = string_lib, table = table_lib, math = math_lib,
    coroutine = coroutine_ro, redis = redis_api, bit = bit_lib, cjson = cjson_lib, struct = struct_lib, cmsgpack = cmsgpack_lib,
  }
end

local function make_globals(real)
  setmetatable(real, {__index = missing_global})
  local g = protect(real)
  real._G = g
  return g
end

local eval_real = base_env()
eval_real.__redis__err__handler = err_handler
eval_globals = make_globals(eval_real)

-- Functions (FCALL) share one globals proxy whose __index is the library-load API while a library
-- loads and the full environment afterwards, as Redis swaps the globals' metatable.
local func_real = base_env()
setmetatable(func_real, {__index = missing_global})
local load_redis = {log = py.log}
add_constants(load_redis)
setmetatable(load_redis, {__index = missing_global})
local load_real = {redis = protect(load_redis)}
setmetatable(load_real, {__index = missing_global})
local func_mt = {__index = func_real, __newindex = ro_newindex, __metatable = false}
local func_globals = setmetatable({}, func_mt)
real_of[func_globals] = func_real
func_real._G = func_globals

"""

# One chunk: the second half uses the locals of the first.
PRELUDE = _SANDBOX + RUN
