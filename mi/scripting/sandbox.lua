-- The environment a script runs in, set up once per Lua runtime (mi.scripting.runtime).
-- Called with the host's functions; answers run(fn, KEYS, ARGV). Scripts see only what is
-- listed here, read-only, and never the host's functions or the real globals (no os, io,
-- require, loadstring, load, dofile, loadfile, debug, getfenv, setfenv, coroutine, print).
local py_call, py_log, py_sha1hex, py_should_stop, hook_every = ...

local rawpcall, rawxpcall, rawerror, rawsetfenv = pcall, xpcall, error, setfenv
local sethook, getinfo = debug.sethook, debug.getinfo
local setmetatable_, getmetatable_, type_, tostring_, select_ = setmetatable, getmetatable, type, tostring, select
local concat = table.concat

-- The string library is every string's metatable's __index: hide it, so no script can change
-- string methods for the scripts after it.
getmetatable_("").__metatable = false

local protected = setmetatable_({}, {__mode = "k"})  -- the read-only tables: rawset refuses them
local function readonly(t)
  local proxy = setmetatable_({}, {
    __index = t,
    __newindex = function() rawerror("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
  protected[proxy] = true
  return proxy
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Stopping a script: the host's check runs every hook_every instructions; once it says stop,
-- every instruction of the script raises, and pcall/xpcall pass the error on, so no pcall in
-- the script can swallow it.
local stopped = false
local function hook()
  if not stopped then
    if not py_should_stop() then return end
    stopped = true
    sethook(hook, "", 1)
  end
  local info = getinfo(2, "S")
  if info ~= nil and info.source == "@user_script" then rawerror("script stopped", 0) end
end

local function passed_on(ok, ...)
  if stopped then rawerror("script stopped", 0) end
  return ok, ...
end

local error_line = 0  -- where the last redis.call that raised was called from
local function call(raise, ...)
  local ok, reply = py_call(...)
  if not ok and raise then
    error_line = 0
    for level = 3, 12 do  -- the script's frame (none if it tail-called redis.call)
      local info = getinfo(level, "Sl")
      if info == nil then break end
      if info.source == "@user_script" then error_line = info.currentline break end
    end
    rawerror(reply, 0)
  end
  return reply
end

local function reply_table(field, value)
  if type_(value) ~= "string" then
    rawerror("wrong number or type of arguments", 3)
  end
  return {[field] = value}
end

local redis = {
  call = function(...) local r = call(true, ...) return r end,
  pcall = function(...) local r = call(false, ...) return r end,
  status_reply = function(s) return reply_table("ok", s) end,
  error_reply = function(s) return reply_table("err", s) end,
  sha1hex = function(s)
    if type_(s) ~= "string" and type_(s) ~= "number" then rawerror("wrong number of arguments", 2) end
    return py_sha1hex(tostring_(s))
  end,
  log = function(level, ...)
    local parts = {}
    for i = 1, select_("#", ...) do parts[i] = tostring_((select_(i, ...))) end
    py_log(level, concat(parts, " "))
  end,
  setresp = function(version)
    if version ~= 2 then rawerror("mi scripts read replies as RESP2 only", 2) end
  end,
  replicate_commands = function() return true end,
  set_repl = function() end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
}

local visible = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  rawequal = rawequal, rawget = rawget, select = select,
  rawset = function(t, k, v)
    if protected[t] then rawerror("Attempt to modify a readonly table", 2) end
    return rawset(t, k, v)
  end,
  setmetatable = setmetatable, getmetatable = getmetatable, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, _VERSION = _VERSION,
  pcall = function(...) return passed_on(rawpcall(...)) end,
  xpcall = function(...) return passed_on(rawxpcall(...)) end,
  string = readonly(copy(string)), table = readonly(copy(table)), math = readonly(copy(math)),
  os = readonly({clock = os.clock}),
  redis = readonly(redis),
}

local globals = {
  __index = function(_, name)
    local value = visible[name]
    if value == nil then
      rawerror("Script attempted to access nonexistent global variable '" .. tostring_(name) .. "'", 2)
    end
    return value
  end,
  __newindex = function(_, name)
    rawerror("Script attempted to create global variable '" .. tostring_(name) .. "'", 2)
  end,
  __metatable = false,
}

local function compile(source)
  return loadstring(source, "@user_script")
end

-- "ok", value | "error", error value, line of the redis.call that raised | "stopped"
local function run(fn, keys, argv)
  stopped, error_line = false, 0
  rawsetfenv(fn, setmetatable_({KEYS = keys, ARGV = argv}, globals))
  sethook(hook, "", hook_every)
  local ok, result = rawpcall(fn)
  sethook()
  if stopped then return "stopped" end
  if ok then return "ok", result end
  return "error", result, error_line
end

return compile, run
