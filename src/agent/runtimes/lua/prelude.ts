/**
 * The Lua side of the sandbox, run as the first chunk of every fresh Lua state. It receives the
 * input, the output cap, the user script and a few C functions from the thread, replaces every
 * library entry that reaches outside the state (files, processes, environment, C modules,
 * binary chunks) with a function that raises a clear error, provides `io`/`print` over the
 * in-memory input and output, then runs the script. It returns `true, output` or
 * `false, message` (the message carries the script's line: `script:3: boom`).
 *
 * Denied functions raise instead of being nil so that a script learns *why* (`os.execute is not
 * available in the jobhub sandbox`) rather than "attempt to call a nil value".
 */
export const LUA_PRELUDE = String.raw`
local input, outcap, pcli, script, emit, blobget, blobput = ...
outcap = math.tointeger(outcap) or outcap
local traceback = debug.traceback
debug = nil
local type, tostring, tonumber, select, error, pcall, xpcall = type, tostring, tonumber, select, error, pcall, xpcall
local concat, unpack, pack = table.concat, table.unpack, table.pack
local sfind, ssub, smatch = string.find, string.sub, string.match
local rawload = load

local function denied(name)
  return function() error(name .. ' is not available in the jobhub sandbox', 2) end
end

-- Output: collected in a table, capped as it grows so that a runaway loop stops early.
local out, outn, outsize = {}, 0, 0
local function put(s)
  outsize = outsize + #s
  if outsize > outcap then error('jobhub: output exceeds the limit of ' .. outcap .. ' bytes', 0) end
  outn = outn + 1
  out[outn] = s
end

-- Input: io.read formats over one string.
local pos, len = 1, #input
local function read1(fmt)
  if type(fmt) == 'number' then
    if pos > len then return nil end
    local s = ssub(input, pos, pos + fmt - 1)
    pos = pos + #s
    return s
  end
  if type(fmt) ~= 'string' then error("bad argument to 'read' (invalid format)", 3) end
  local c = ssub(fmt, 1, 1) == '*' and ssub(fmt, 2, 2) or ssub(fmt, 1, 1)
  if c == 'l' or c == 'L' then
    if pos > len then return nil end
    local e = sfind(input, '\n', pos, true)
    local s
    if e then
      s = ssub(input, pos, c == 'L' and e or e - 1)
      pos = e + 1
    else
      s = ssub(input, pos)
      pos = len + 1
    end
    return s
  elseif c == 'a' then
    local s = ssub(input, pos)
    pos = len + 1
    return s
  elseif c == 'n' then
    local ws = smatch(input, '^%s*', pos)
    local p = pos + #ws
    local num = smatch(input, '^[-+]?0[xX][%x%.]+[pP]?[-+]?%d*', p) or smatch(input, '^[-+]?%d*%.?%d*[eE]?[-+]?%d*', p)
    local v = num and tonumber(num)
    if v == nil then return nil end
    pos = p + #num
    return v
  end
  error("bad argument to 'read' (invalid format)", 3)
end
local function read(...)
  local n = select('#', ...)
  if n == 0 then return read1('l') end
  local res = {}
  for i = 1, n do
    local v = read1((select(i, ...)))
    res[i] = v
    if v == nil then return unpack(res, 1, i) end
  end
  return unpack(res, 1, n)
end
local function lines(...)
  local fmts = pack(...)
  if fmts.n == 0 then return function() return read1('l') end end
  return function() return read(unpack(fmts, 1, fmts.n)) end
end
local function write(...)
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    local t = type(v)
    if t == 'number' then v = tostring(v)
    elseif t ~= 'string' then error("bad argument #" .. i .. " to 'write' (string expected, got " .. t .. ")", 3) end
    put(v)
  end
end

-- stderr goes to the job log, one line at a time.
local errbuf = ''
local function logwrite(...)
  for i = 1, select('#', ...) do
    errbuf = errbuf .. tostring((select(i, ...)))
  end
  while true do
    local e = sfind(errbuf, '\n', 1, true)
    if not e then break end
    emit('log', ssub(errbuf, 1, e - 1))
    errbuf = ssub(errbuf, e + 1)
  end
end

local stdin, stdout, stderr = {}, {}, {}
local filemeta = { __name = 'FILE*', __tostring = function() return 'file (standard)' end }
filemeta.__index = filemeta
setmetatable(stdin, filemeta); setmetatable(stdout, filemeta); setmetatable(stderr, filemeta)
function filemeta.read(f, ...) if f ~= stdin then return nil, 'file not readable' end return read(...) end
function filemeta.lines(f, ...) if f ~= stdin then error('file not readable', 2) end return lines(...) end
function filemeta.write(f, ...)
  if f == stdout then write(...) elseif f == stderr then logwrite(...) else return nil, 'file not writable' end
  return f
end
function filemeta.flush(f) return f end
function filemeta.setvbuf() return true end
function filemeta.seek() return nil, 'cannot seek a standard stream' end
function filemeta.close() return nil, 'cannot close a standard file' end

io = {
  read = read,
  write = function(...) write(...) return stdout end,
  lines = function(name, ...)
    if name ~= nil then error('io.lines with a file name is not available in the jobhub sandbox', 2) end
    return lines(...)
  end,
  stdin = stdin, stdout = stdout, stderr = stderr,
  type = function(f) if f == stdin or f == stdout or f == stderr then return 'file' end return nil end,
  flush = function() return stdout end,
  close = function() return nil, 'cannot close a standard file' end,
  open = denied('io.open'), popen = denied('io.popen'), tmpfile = denied('io.tmpfile'),
  input = function(f) if f == nil then return stdin end error('io.input is not available in the jobhub sandbox', 2) end,
  output = function(f) if f == nil then return stdout end error('io.output is not available in the jobhub sandbox', 2) end,
}
print = function(...)
  local n = select('#', ...)
  for i = 1, n do
    if i > 1 then put('\t') end
    put(tostring((select(i, ...))))
  end
  put('\n')
end

-- os: time only. os.execute would take the whole process down (it is C system()).
local o = os
os = {
  clock = o.clock, date = o.date, difftime = o.difftime, time = o.time,
  execute = denied('os.execute'), exit = denied('os.exit'), getenv = denied('os.getenv'),
  remove = denied('os.remove'), rename = denied('os.rename'), tmpname = denied('os.tmpname'),
  setlocale = denied('os.setlocale'),
}
dofile = denied('dofile')
loadfile = denied('loadfile')
string.dump = denied('string.dump')
-- Text chunks only: binary chunks can break the VM's memory safety.
load = function(chunk, name, mode, ...)
  if mode ~= nil and mode ~= 't' and mode ~= 'bt' then error('load: only text chunks are allowed', 2) end
  if select('#', ...) > 0 then return rawload(chunk, name, 't', (...)) end
  return rawload(chunk, name, 't')
end

jobhub = {
  progress = function(v)
    if type(v) == 'number' then emit('progress#', tostring(v)) else emit('progress', tostring(v)) end
  end,
  log = function(...) logwrite(...) logwrite('\n') end,
}

local loaded = { string = string, table = table, math = math, coroutine = coroutine, utf8 = utf8, io = io, os = os, jobhub = jobhub }
if pcli then
  local function check(v, err) if v == nil then error(err, 3) end return v end
  pleiades = {
    get = function(id) return check(blobget(tostring(id))) end,
    put = function(data)
      if type(data) ~= 'string' then error('pleiades.put expects a string, got ' .. type(data), 2) end
      return check(blobput(data))
    end,
  }
  loaded.pleiades = pleiades
end
require = function(name)
  local m = loaded[name]
  if m == nil then error("module '" .. tostring(name) .. "' is not available in the jobhub sandbox", 2) end
  return m
end
package = nil

local chunk, err = rawload(script, '=script', 't')
if not chunk then return false, err end
local function main()
  local r = chunk(input)
  if type(r) == 'function' then
    local v = r(input)
    local t = type(v)
    if t == 'string' or t == 'number' or t == 'boolean' then put(tostring(v))
    elseif t ~= 'nil' then error('the function returned by the script must return a string, not a ' .. t, 0) end
  end
end
local ok, e = xpcall(main, function(m)
  if type(m) ~= 'string' then m = tostring(m) end
  return traceback(m, 2)
end)
if errbuf ~= '' then emit('log', errbuf) end
if not ok then return false, e end
return true, concat(out)
`;
