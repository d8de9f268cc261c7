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

-- retention of notices: those older than the recovery window go
CREATE INDEX IF NOT EXISTS messages_notices ON messages (ts) WHERE kind = 1;

-- What retention limits: the messages (kind 0) and their bytes of each room, and of each
-- recipient's private messages. The server adds what it stores at each commit (one update per
-- room and batch, not a trigger per message); deletes, whoever makes them, are counted by the
-- trigger below (rows of messages are never updated). A tool that inserts rows itself adds them:
--   INSERT INTO room_totals SELECT nsp, room IS NULL, coalesce(room, recipient), count(*),
--     sum(length(CAST(args AS BLOB))) FROM messages WHERE kind = 0 AND id > <first new id>
--     GROUP BY 1, 2, 3 ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,
--     bytes = bytes + excluded.bytes;
CREATE TABLE IF NOT EXISTS room_totals (
  nsp      TEXT    NOT NULL,
  private  INTEGER NOT NULL, -- 0: target is a room ('' for everyone), 1: a recipient (JSON)
  target   TEXT    NOT NULL,
  messages INTEGER NOT NULL, -- rows of kind 0
  bytes    INTEGER NOT NULL, -- the bytes of their args
  PRIMARY KEY (nsp, private, target)
) WITHOUT ROWID;
-- (earlier builds of version 2 counted inserts with a trigger)
DROP TRIGGER IF EXISTS room_totals_insert;
CREATE TRIGGER IF NOT EXISTS room_totals_delete AFTER DELETE ON messages
  WHEN old.kind = 0 AND coalesce(old.room, old.recipient) IS NOT NULL
BEGIN
  UPDATE room_totals SET messages = messages - 1, bytes = bytes - length(CAST(old.args AS BLOB))
    WHERE nsp = old.nsp AND private = (old.room IS NULL)
      AND target = coalesce(old.room, old.recipient);
  DELETE FROM room_totals WHERE nsp = old.nsp AND private = (old.room IS NULL)
    AND target = coalesce(old.room, old.recipient) AND messages <= 0;
END;

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
