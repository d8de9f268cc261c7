-- The help bot: answers commands typed in the namespace-wide chat and in every room it is in.
--   !help          the commands
--   !who           who is here (the room's members, or everyone logged in)
--   !time          the server's time (UTC)
--   !roll NdM      N dice of M sides (1 to 20 dice, 2 to 1000 sides)
--   !seen NAME     when NAME last said something or left
local bot = parley.bot{name = "helper", rooms = {"lobby"}}

local seen = {} -- name -> {t = seconds, what = "chat" | "left"}

local function names(list)
  local out = {}
  for _, m in ipairs(list) do
    if m.name and not m.bot then out[#out + 1] = tostring(m.name) end
  end
  table.sort(out)
  return out
end

local function ago(t)
  local d = math.floor(parley.time() - t)
  if d < 60 then return d .. " s ago" end
  if d < 3600 then return math.floor(d / 60) .. " min ago" end
  return math.floor(d / 3600) .. " h ago"
end

local commands = {}

function commands.help()
  return "commands: !help, !who, !time, !roll NdM, !seen NAME"
end

function commands.who(_, room)
  local list = names(parley.members(room))
  if #list == 0 then return "nobody else is here" end
  return "here: " .. table.concat(list, ", ")
end

-- "YYYY-MM-DD HH:MM:SS" of a Unix time, in UTC (the sandbox has no os.date)
local function utc(t)
  t = math.floor(t)
  local days, s = t // 86400, t % 86400
  -- civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
  local z = days + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, s // 3600, s % 3600 // 60, s % 60)
end

function commands.time()
  return "it is " .. utc(parley.time()) .. " UTC"
end

function commands.roll(arg)
  local n, m = string.match(arg or "", "^(%d+)[dD](%d+)$")
  n, m = tonumber(n), tonumber(m)
  if not n or n < 1 or n > 20 or m < 2 or m > 1000 then
    return "usage: !roll NdM, with 1 to 20 dice of 2 to 1000 sides"
  end
  local rolls, sum = {}, 0
  for i = 1, n do
    rolls[i] = math.random(m)
    sum = sum + rolls[i]
  end
  return string.format("%dd%d: %s = %d", n, m, table.concat(rolls, " + "), sum)
end

function commands.seen(arg)
  if not arg or arg == "" then return "usage: !seen NAME" end
  local s = seen[arg]
  if not s then return "I have not seen " .. arg end
  return arg .. " was last seen " .. ago(s.t) .. (s.what == "left" and " (left)" or "")
end

bot:on("chat", function(ev)
  local from = ev.from and ev.from.name
  if from then seen[tostring(from)] = {t = parley.time(), what = "chat"} end
  local msg = type(ev.msg) == "string" and ev.msg or ""
  local cmd, arg = string.match(msg, "^!(%a+)%s*(.-)%s*$")
  local fn = cmd and commands[string.lower(cmd)]
  if fn then bot:say(ev.room, fn(arg, ev.room)) end
end)

parley.on("disconnect", function(ev)
  if ev.from and ev.from.name then
    seen[tostring(ev.from.name)] = {t = parley.time(), what = "left"}
  end
end, 300)

-- what it has seen survives a reload
function on_save() return seen end
function on_restore(state) seen = state or {} end
