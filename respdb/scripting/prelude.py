"""The trusted Lua code that builds the script sandbox: Redis's `redis` API, the readonly globals, the
error handler, and the conversion of a script's return value into RESP bytes.

It runs once per Lua state with the real (unsandboxed) globals and receives the Python callbacks as
arguments; user code only ever sees the protected environments it builds. Everything mirrors Redis 7.0's
script_lua.c / function_lua.c so that replies and error texts come out byte for byte the same.
"""

PRELUDE = rb"""
local py = ...  -- the Python callbacks (engine.py LuaEngine._lua_api)
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

local function safe_load(reader, name)
  local parts = {}
  if type(reader) ~= "function" then return safe_loadstring(reader, name) end
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  return safe_loadstring(concat(parts), name or "=(load)")
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
local cjson_lib = protect({encode = py.cjson_encode, decode = py.cjson_decode, null = json_null,
                           _NAME = "cjson", _VERSION = "2.1.0"})

local function base_env()
  local string_lib, table_lib, math_lib = copy(string), copy(table), copy(math)
  return {
    assert = assert, collectgarbage = collectgarbage, error = error, gcinfo = gcinfo,
    getmetatable = getmetatable, ipairs = ipairs, load = safe_load, loadstring = safe_loadstring,
    next = safe_next, pairs = safe_pairs, pcall = safe_pcall, rawequal = rawequal, rawget = safe_rawget,
    rawset = py.rawset, select = select, setmetatable = py.setmetatable, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack, xpcall = safe_xpcall, _VERSION = _VERSION,
    string = protect(string_lib), table = protect(table_lib), math = protect(math_lib),
    coroutine = protect(coroutine_lib), redis = redis_api, bit = bit_lib, cjson = cjson_lib,
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

---------------------------------------------------------------------------------------------------
-- Lua value -> RESP bytes (luaReplyToRedisReply).
local function clean_line(s) return (gsub(s, "[\r\n]", " ")) end

local function fmt_double(d)
  if d == INF then return "inf" elseif d == -INF then return "-inf" end
  return sformat("%.17g", d)
end

local enc
enc = function(v, out, c3)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = "$" .. #v .. "\r\n" .. v .. "\r\n"
  elseif t == "number" then
    out[#out + 1] = sformat(":%d\r\n", v)
  elseif t == "boolean" then
    if script_resp == 2 then
      out[#out + 1] = v and ":1\r\n" or (c3 and "_\r\n" or "$-1\r\n")
    elseif c3 then
      out[#out + 1] = v and "#t\r\n" or "#f\r\n"
    else
      out[#out + 1] = v and ":1\r\n" or ":0\r\n"
    end
  elseif t == "table" then
    local x = rawget(v, "err")
    if type(x) == "string" then
      out[#out + 1] = "-" .. clean_line(gsub(x, "[\r\n]+$", "")) .. "\r\n"
      return
    end
    x = rawget(v, "ok")
    if type(x) == "string" then out[#out + 1] = "+" .. clean_line(x) .. "\r\n"; return end
    x = rawget(v, "double")
    if type(x) == "number" then
      local s = fmt_double(x)
      out[#out + 1] = c3 and ("," .. s .. "\r\n") or ("$" .. #s .. "\r\n" .. s .. "\r\n")
      return
    end
    x = rawget(v, "big_number")
    if type(x) == "string" then
      x = clean_line(x)
      out[#out + 1] = c3 and ("(" .. x .. "\r\n") or ("$" .. #x .. "\r\n" .. x .. "\r\n")
      return
    end
    x = rawget(v, "verbatim_string")
    if type(x) == "table" then
      local f, s = rawget(x, "format"), rawget(x, "string")
      if type(f) == "string" and type(s) == "string" then
        if c3 then
          f = sub(f .. "   ", 1, 3)
          out[#out + 1] = "=" .. (#s + 4) .. "\r\n" .. f .. ":" .. s .. "\r\n"
        else
          out[#out + 1] = "$" .. #s .. "\r\n" .. s .. "\r\n"
        end
        return
      end
    end
    x = rawget(v, "map")
    if type(x) == "table" then
      local pos, n = #out + 1, 0
      out[pos] = ""
      for k, val in next, x do enc(k, out, c3); enc(val, out, c3); n = n + 1 end
      out[pos] = c3 and ("%" .. n .. "\r\n") or ("*" .. (2 * n) .. "\r\n")
      return
    end
    x = rawget(v, "set")
    if type(x) == "table" then
      local pos, n = #out + 1, 0
      out[pos] = ""
      for k in next, x do enc(k, out, c3); n = n + 1 end
      out[pos] = (c3 and "~" or "*") .. n .. "\r\n"
      return
    end
    local pos, j = #out + 1, 1
    out[pos] = ""
    while true do
      local item = rawget(v, j)
      if item == nil then break end
      enc(item, out, c3)
      j = j + 1
    end
    out[pos] = "*" .. (j - 1) .. "\r\n"
  else
    out[#out + 1] = c3 and "_\r\n" or "$-1\r\n"
  end
end

-- (1, resp) on success; (0, error text) when the script failed or returned an error table.
local function finish(ok, res, funcname, c3)
  if hook_every_instruction then reset_hook() end
  if ok then
    -- The common replies, without building a table of parts.
    local t = type(res)
    if t == "number" then return 1, sformat(":%d\r\n", res) end
    if t == "string" then return 1, "$" .. #res .. "\r\n" .. res .. "\r\n" end
  else
    if type(res) ~= "table" then
      return 0, "ERR Error running script " .. funcname .. ", " .. sub(tostring(res), 1, 100)
    end
    local msg = rawget(res, "err")
    msg = (type(msg) == "string" or type(msg) == "number") and tostring(msg) or ""
    local source, line = rawget(res, "source"), rawget(res, "line")
    if (type(source) == "string" or type(source) == "number") and (type(line) == "string" or type(line) == "number") then
      msg = msg .. " script: " .. funcname .. ", on " .. source .. ":" .. line .. "."
    end
    return 0, msg
  end
  if type(res) == "table" and type(rawget(res, "err")) == "string" then
    return 0, (gsub(rawget(res, "err"), "[\r\n]+$", ""))
  end
  local out = {}
  enc(res, out, c3)
  return 1, concat(out)
end

local function args_tables(nkeys, ...)
  local keys, argv = {}, {}
  for i = 1, nkeys do keys[i] = (select(i, ...)) end
  for i = nkeys + 1, select("#", ...) do argv[i - nkeys] = (select(i, ...)) end
  return keys, argv
end

local api = {is_readonly = is_readonly, rawset = rawset, setmetatable = setmetatable, plain_error_table = error_table,
             rawget = rawget, rawequal = rawequal, json_null = json_null, new_table = function() return {} end}
function api.status_table(s)
  local t = {}
  t.ok = s
  return t
end
function api.set_script_resp(n) script_resp = n end
-- luaL_where(L, 1) for an error raised by a Python (C-level) function: the calling Lua line.
-- Also the name the function was called by (luaL_argerror's ar.name), or "?".
function api.where()
  local called = dbg.getinfo(2, "n")
  local name = called and called.name or "?"
  local i = dbg.getinfo(3, "Sl")
  if i and i.currentline > 0 then return i.short_src .. ":" .. i.currentline .. ": ", name end
  return "", name
end
function api.error_table(s)
  local t = error_table(s)
  t.ignore_error_stats_update = true
  return t
end

function api.compile(body, chunkname)
  local f, e = real_loadstring(body, chunkname)
  if not f then return nil, e end
  real_setfenv(f, eval_globals)
  return f, false
end

function api.run_eval(fn, funcname, c3, nkeys, ...)
  script_resp = 2
  eval_real.KEYS, eval_real.ARGV = args_tables(nkeys, ...)
  local ok, res = xpcall(fn, err_handler)
  return finish(ok, res, funcname, c3)
end

function api.run_function(fn, funcname, c3, nkeys, ...)
  script_resp = 2
  local keys, argv = args_tables(nkeys, ...)
  local ok, res = xpcall(function() return fn(keys, argv) end, err_handler)
  return finish(ok, res, funcname, c3)
end

-- FUNCTION LOAD: run the library body with only the load API; returns nil or the error text.
function api.load_library(body, chunkname)
  local f, e = real_loadstring(body, chunkname)
  if not f then return 1, e end
  real_setfenv(f, func_globals)
  func_mt.__index = load_real
  real_of[func_globals] = load_real
  local ok, res = xpcall(f, err_handler)
  func_mt.__index = func_real
  real_of[func_globals] = func_real
  reset_hook()
  if not ok then
    local msg = type(res) == "table" and rawget(res, "err") or tostring(res)
    return 2, tostring(msg)
  end
  return 0, false
end

-- register_function: positional (name, callback) or the named-arguments table form.
local FLAGS = {["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
               ["no-cluster"] = true, ["allow-cross-slot-keys"] = true}
rawset(load_redis, "register_function", function(...)
  local argc = select("#", ...)
  local name, callback, flags, description
  local function str(v)
    local t = type(v)
    if t == "string" then return v elseif t == "number" then return tostring(v) end
    return nil
  end
  if argc == 1 then
    local t = ...
    if type(t) ~= "table" then
      raise("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, t do
      local key = str(k)
      if key == nil then raise("named argument key given to redis.register_function is not a string") end
      key = string.lower(key)
      if key == "function_name" then
        name = str(v)
        if name == nil then raise("function_name argument given to redis.register_function must be a string") end
      elseif key == "description" then
        description = str(v)
        if description == nil then raise("description argument given to redis.register_function must be a string") end
      elseif key == "callback" then
        if type(v) ~= "function" then raise("callback argument given to redis.register_function must be a function") end
        callback = v
      elseif key == "flags" then
        if type(v) ~= "table" then raise("flags argument to redis.register_function must be a table representing function flags") end
        flags = v
      else
        raise("unknown argument given to redis.register_function")
      end
    end
    if name == nil then raise("redis.register_function must get a function name argument") end
    if callback == nil then raise("redis.register_function must get a callback argument") end
  elseif argc == 2 then
    local n
    n, callback = ...
    name = str(n)
    if name == nil then raise("first argument to redis.register_function must be a string") end
    if type(callback) ~= "function" then raise("second argument to redis.register_function must be a function") end
  else
    raise("wrong number of arguments to redis.register_function")
  end
  local flag_list = {}
  if flags ~= nil then
    local j = 1
    while true do
      local f = flags[j]
      if f == nil then break end
      f = str(f)
      if f == nil or not FLAGS[string.lower(f)] then raise("unknown flag given") end
      flag_list[#flag_list + 1] = f
      j = j + 1
    end
  end
  local err = py_register(name, callback, description, unpack(flag_list))
  if err then raise(err) end
end)

return api
"""
