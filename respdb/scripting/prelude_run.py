"""The second half of the script prelude (see prelude.py): Lua value -> RESP bytes
(luaReplyToRedisReply), the entry points that run EVAL scripts and FCALL functions, and
FUNCTION LOAD's library loader with redis.register_function. It is appended to the first half and
runs as one chunk, so it uses that half's locals (protect, raise, err_handler, py, ...).
"""

RUN = rb"""
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
  local n = select("#", ...)
  -- The common shapes (only keys, only arguments) build two tables instead of three.
  if n == nkeys then return {...}, {} end
  if nkeys == 0 then return {}, {...} end
  local all, keys, argv = {...}, {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, n do argv[i - nkeys] = all[i] end
  return keys, argv
end

-- load() behind the host function of that name: Lua's incremental reader, refusing bytecode.
local real_load = load
local function sandbox_load(reader, name)
  local first = true
  local function read()
    local piece = reader()
    if first and type(piece) == "string" and byte(piece, 1) == 27 then error("binary chunks are not allowed", 0) end
    first = false
    return piece
  end
  local f, e = real_load(read, name)
  if f then real_setfenv(f, eval_globals) end
  return f, e
end

local api = {is_readonly = is_readonly, rawset = rawset, setmetatable = setmetatable, plain_error_table = error_table,
             rawget = rawget, rawequal = rawequal, json_null = json_null, new_table = function() return {} end,
             length = function(t) return #t end, see_through = see_through, load = sandbox_load}
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
