-- Parley's chat history. Applied by the server at start (it is compiled into the binary);
-- meta.schema_version records the version for later migrations.
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- One row per stored message. room is '' for a namespace-wide message.
CREATE TABLE IF NOT EXISTS messages (
  id      INTEGER PRIMARY KEY AUTOINCREMENT, -- global, increasing
  nsp     TEXT    NOT NULL,                  -- namespace, '/' for the main one
  room    TEXT    NOT NULL DEFAULT '',       -- target room, '' for everyone
  sender  TEXT    NOT NULL,                  -- sender identity as JSON: {"name":..,"userid":..}
  event   TEXT    NOT NULL,                  -- event name, 'chat' for chat messages
  payload TEXT    NOT NULL,                  -- the message as JSON, after filtering
  ts      INTEGER NOT NULL                   -- server time, milliseconds since the epoch
);

-- "last N of room R" and "after id X in room R"
CREATE INDEX IF NOT EXISTS messages_room_id ON messages (nsp, room, id);

INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
