-- The reference setup of the official Socket.IO v5 protocol test suite, loaded by
-- `--app conformance` (tests/conformance/socketio-server): in every namespace ("/" and
-- "/custom"), a connected socket gets "auth" with its handshake's auth payload; on "/",
-- "message" comes back as "message-back" with the same arguments and "message-with-ack" is
-- acknowledged with them, binary attachments included.
parley.on("connected", function(ev)
  ev:emit("auth", ev.auth or parley.object())
end)

parley.on("event", function(ev)
  local name = ev.name
  if name == "message" and ev.ns == "/" then
    ev:emit("message-back", table.unpack(ev.args))
    return "accept"
  elseif name == "message-with-ack" and ev.ns == "/" then
    ev:ack(table.unpack(ev.args))
    return "accept"
  end
end)
