'use strict';
// The store's schema (README, "History"): a database of an older schema version is migrated at
// start and keeps its messages and ids; one of a newer version, a file that is not a database,
// and a path that cannot be opened each stop the server with a message naming the file.

const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const { BIN, HOST, startServer, connected, emitAck, tempDir, withTimeout, logged } = require('./lib/server');
const { haveSqlite } = require('./lib/server');

function sql(db, text) {
  return execFileSync('sqlite3', [db], { input: text, encoding: 'utf8' }).trim();
}

// Runs parley on db until it exits; returns {code, stderr}. Fails when it starts listening.
async function refused(db) {
  const proc = spawn(BIN, ['--port', '0', '--host', HOST, '--db', db, '--no-bundled',
    '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { err += c; });
  const code = await withTimeout(new Promise((resolve) => proc.on('exit', resolve)), 10000,
    'parley to exit').finally(() => proc.kill('SIGKILL'));
  assert.doesNotMatch(out, /listening on/, 'it must not start');
  return { code, stderr: err };
}

// The layout of schema version 1, as earlier releases created it.
const V1 = `
PRAGMA journal_mode = WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, nsp TEXT NOT NULL,
  room TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL, event TEXT NOT NULL,
  payload TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE INDEX messages_room_id ON messages (nsp, room, id);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO messages VALUES (1, '/', '', '{"name":"old"}', 'chat',
  '{"from":{"name":"old"},"msg":"from version 1"}', 1700000000000);
INSERT INTO messages VALUES (2, '/', 'r1', '{"name":"old"}', 'chat',
  '{"from":{"name":"old"},"room":"r1","msg":"in a room"}', 1700000000001);
INSERT INTO messages VALUES (7, '/', '', '{"name":"old"}', 'chat',
  '{"from":{"name":"old"},"msg":"deleted later"}', 1700000000002);
DELETE FROM messages WHERE id = 7;
`;

describe('history schema', { skip: !haveSqlite && 'no sqlite3 command' }, () => {
  it('migrates a version 1 database: messages kept, ids go on above the old ones', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = path.join(dir, 'v1.db');
    sql(db, V1);
    const srv = await startServer(t, { db, logLevel: 'info' });
    // stderr may reach us after the "listening" line on stdout
    await logged(srv, /migrating the schema from version 1 to 2/);
    const s = await connected(t, srv, '/');
    assert.equal((await emitAck(s, 'login', { name: 'new', userid: 'u-new' })).ok, true);
    const page = await emitAck(s, 'history', {});
    assert.deepEqual(page.messages.map((m) => [m.id, m.msg, m.from.name]),
      [[1, 'from version 1', 'old']]);
    assert.equal((await emitAck(s, 'join', 'r1')).ok, true);
    const room = await emitAck(s, 'history', { room: 'r1' });
    assert.deepEqual(room.messages.map((m) => [m.id, m.msg, m.room]), [[2, 'in a room', 'r1']]);
    const ack = await emitAck(s, 'chat', { msg: 'after the migration' });
    assert.ok(ack.id > 7, `a new id above every id version 1 gave out: ${ack.id}`);
    await srv.stop();
    assert.equal(sql(db, "SELECT value FROM meta WHERE key = 'schema_version';"), '2');
    assert.equal(sql(db, 'SELECT args FROM messages WHERE id = 1;'),
      '[{"from":{"name":"old"},"msg":"from version 1"}]');
    // and it opens again as version 2, as it is
    const again = await startServer(t, { db });
    const c = await connected(t, again, '/');
    await emitAck(c, 'login', { name: 'c' });
    const all = await emitAck(c, 'history', {});
    assert.deepEqual(all.messages.map((m) => m.msg), ['from version 1', 'after the migration']);
  });

  it('refuses a database written by a newer version, naming it', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = path.join(dir, 'future.db');
    sql(db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);" +
      "INSERT INTO meta VALUES ('schema_version', '9');");
    const { code, stderr } = await refused(db);
    assert.notEqual(code, 0);
    assert.ok(stderr.includes(db), stderr);
    assert.match(stderr, /schema version 9, written by a newer Parley/);
    // and leaves it as it was
    assert.equal(sql(db, "SELECT value FROM meta WHERE key = 'schema_version';"), '9');
  });

  it('refuses a file that is not a database, and a path it cannot open', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const junk = path.join(dir, 'junk.db');
    fs.writeFileSync(junk, Buffer.alloc(8192, 'not a database, just text '));
    let r = await refused(junk);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(junk), r.stderr);
    assert.match(r.stderr, /file is not a database/);
    assert.equal(fs.readFileSync(junk, 'utf8').slice(0, 26), 'not a database, just text ',
      'the file is left as it was');

    const adir = path.join(dir, 'a-directory');
    fs.mkdirSync(adir);
    r = await refused(adir);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(adir), r.stderr);
    assert.match(r.stderr, /cannot open the database|unable to open/);
  });

  it('stores private messages with their recipient, and notices apart from history', async (t) => {
    const srv = await startServer(t);
    const a = await connected(t, srv, '/');
    const b = await connected(t, srv, '/');
    await emitAck(a, 'login', { name: 'a', userid: 'ua' });
    await emitAck(b, 'login', { name: 'b', userid: 'ub' });
    assert.equal((await emitAck(a, 'private', { to: 'ub', msg: 'just for b' })).ok, true);
    assert.equal((await emitAck(a, 'join', 'r')).ok, true);
    assert.equal((await emitAck(b, 'join', 'r')).ok, true);
    assert.equal((await emitAck(a, 'chat', { room: 'r', msg: 'hello r' })).ok, true);
    // the private message and the notice are stored but not listed as the room's history
    const page = await emitAck(b, 'history', { room: 'r' });
    assert.deepEqual(page.messages.map((m) => m.msg), ['hello r']);
    const ns = await emitAck(b, 'history', {});
    assert.deepEqual(ns.messages, []);
    await srv.stop();
    const rows = sql(srv.db, "SELECT event || '|' || coalesce(room, '-') || '|' || " +
      "coalesce(recipient, '-') || '|' || kind FROM messages ORDER BY id;").split('\n');
    // (both joined; at shutdown both left)
    assert.deepEqual(rows, ['private|-|"ub"|0', 'joined|r|-|1', 'joined|r|-|1', 'chat|r|-|0',
      'left|r|-|1', 'left|r|-|1']);
  });
});
