-- One Lua hook on every chat message, that reads nothing and changes nothing: what the hook
-- itself costs (tests/bench/extensions.sh).
parley.on("chat", function(ev) end)
