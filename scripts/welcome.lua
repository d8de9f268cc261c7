-- Greets a member who joins a room, in that room, as a chat line from "welcome".
local function member_of(room, id)
  for _, m in ipairs(parley.members(room)) do
    if m.id == id then return true end
  end
  return false
end

parley.on("join", function(ev)
  local who = ev.from
  if not who or not who.name or who.bot then return end
  local room, name, id = ev.room, tostring(who.name), who.id
  -- the join hook runs before the member is in the room (a later hook may even refuse the
  -- join): greet once the join is done, if it was
  parley.timer(0, function()
    if member_of(room, id) then
      parley.emit(room, "chat", {from = {name = "welcome", bot = true}, room = room,
                                 msg = "Welcome to " .. room .. ", " .. name .. "!"})
    end
  end)
end, 300)
