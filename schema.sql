-- Parley's store: the chat history, the packets a reconnecting client may recover, and the
-- sessions it recovers. Compiled into the binary and applied to a new database; the server
-- migrates a database of an older schema_version and refuses one of a newer.
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- One row per stored packet; the id is also the recovery offset clients are given.
CREATE TABLE IF NOT EXISTS messages (
  id        INTEGER PRIMARY KEY AUTOINCREMENT, -- global, increasing, never reused
  nsp       TEXT    NOT NULL,                  -- namespace, '/' for the main one
  room      TEXT,                              -- target room, '' for everyone, NULL: private
  recipient TEXT,                              -- a private message's recipient userid as JSON
  skip      TEXT,                              -- the socket id it was not sent to (its sender)
  sender    TEXT    NOT NULL,                  -- sender identity as JSON: {"name":..,"userid":..}
  event     TEXT    NOT NULL,                  -- event name: 'chat', 'private', 'joined', ...
  args      TEXT    NOT NULL,                  -- the event's arguments as a JSON array
  ts        INTEGER NOT NULL,                  -- server time, milliseconds since the epoch
  kind      INTEGER NOT NULL DEFAULT 0         -- 0: a message (history), 1: a notice (recovery)
);

-- "last N of room R", "after id X in room R", and retention per room
CREATE INDEX IF NOT EXISTS messages_room_id ON messages (nsp, room, id);
-- private messages by recipient, for recovery and the operator's history command
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (nsp, recipient, id)
  WHERE recipient IS NOT NULL;

-- Connection state recovery: one row per socket that may be recovered, written while it is
-- connected (so that it survives a crash) and stamped when it disconnects.
CREATE TABLE IF NOT EXISTS sessions (
  pid          TEXT    PRIMARY KEY,  -- the private session id the client holds
  nsp          TEXT    NOT NULL,
  sid          TEXT    NOT NULL,     -- the socket id it gets back
  userid       TEXT,                 -- identity, JSON values
  name         TEXT,
  rooms        TEXT    NOT NULL,     -- {"room": id of the newest packet when it joined, ...}
  since        INTEGER NOT NULL,     -- id of the newest packet when it connected
  identity_at  INTEGER NOT NULL,     -- ... when its identity was last set
  disconnected INTEGER               -- ms since the epoch, NULL while connected
);
CREATE INDEX IF NOT EXISTS sessions_disconnected ON sessions (disconnected);

INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '2');
