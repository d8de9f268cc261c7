'use strict';
// The operator command `parley history` (README, "Operator command"): a room's stored messages,
// the namespace-wide chat ('*') and a user's private messages, read from the database file while
// the server runs and after it stopped, as text lines and as NDJSON, paged like the `history`
// event; the file is never written (a missing one is not created), and a database of a newer
// schema, a file that is no database and a wrong command line are refused with one line.

const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const { BIN, startServer, connected, emitAck, tempDir, haveSqlite } = require('./lib/server');

const RUN_TIMEOUT_MS = 10000;

// Runs `parley history ARGS` to its end; resolves with {code, stdout, stderr}.
function history(args, { cwd } = {}) {
  return new Promise((resolve) => {
    execFile(BIN, ['history', ...args], { cwd, timeout: RUN_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = !err ? 0 : typeof err.code === 'number' ? err.code : `signal ${err.signal}`;
        resolve({ code, stdout, stderr });
      });
  });
}

// The lines of a successful run.
async function lines(args) {
  const r = await history(args);
  assert.equal(r.code, 0, `parley history ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.stdout === '' ? [] : r.stdout.replace(/\n$/, '').split('\n');
}

// The objects of a successful --json run.
async function objects(args) {
  return (await lines([...args, '--json'])).map((l) => JSON.parse(l));
}

// The text line's time for a ts: "2026-12-02 01:23:45Z".
const when = (ts) => new Date(ts).toISOString().slice(0, 19).replace('T', ' ') + 'Z';

// A failed run: its status and its one line on stderr.
async function refusal(args, opts) {
  const r = await history(args, opts);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^parley history: [^\n]+\n$/, 'one line on stderr');
  return r;
}

const digest = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function login(t, srv, name, userid) {
  const s = await connected(t, srv, '/');
  assert.equal((await emitAck(s, 'login', { name, userid })).ok, true);
  return s;
}

describe('parley history', () => {
  it('prints rooms, the namespace-wide chat and private messages, during and after a run',
    async (t) => {
      const srv = await startServer(t);
      const db = ['--db', srv.db];
      const alice = await login(t, srv, 'alice', 'ua');
      const bob = await login(t, srv, 'bob', 'ub');
      const carol = await login(t, srv, 'carol', 42);
      const hello = await emitAck(alice, 'chat', { msg: 'hello all' });
      assert.equal((await emitAck(alice, 'join', 'r1')).ok, true);
      assert.equal((await emitAck(bob, 'join', 'r1')).ok, true);
      const r1 = await emitAck(alice, 'chat', { room: 'r1', msg: 'in r1' });
      const two = await emitAck(bob, 'chat', { room: 'r1', msg: 'two\nlines' });
      const obj = await emitAck(bob, 'chat', { room: 'r1', msg: { text: 'not a string' } });
      assert.equal((await emitAck(alice, 'private', { to: 'ub', msg: 'psst bob' })).ok, true);
      assert.equal((await emitAck(bob, 'private', { to: 'ua', msg: 'hi alice' })).ok, true);
      assert.equal((await emitAck(bob, 'private', { to: 42, msg: 'hi carol' })).ok, true);
      const last = await emitAck(carol, 'chat', { msg: 'bye' });

      const fromA = { name: 'alice', userid: 'ua' };
      const fromB = { name: 'bob', userid: 'ub' };
      const all = await objects(['*', ...db]);
      assert.deepEqual(all.map(({ ts, ...o }) => o), [
        { id: hello.id, from: fromA, msg: 'hello all' },
        { id: last.id, from: { name: 'carol', userid: 42 }, msg: 'bye' },
      ]);
      const room = await objects(['r1', ...db]);
      assert.deepEqual(room.map(({ ts, ...o }) => o), [
        { id: r1.id, room: 'r1', from: fromA, msg: 'in r1' },
        { id: two.id, room: 'r1', from: fromB, msg: 'two\nlines' },
        { id: obj.id, room: 'r1', from: fromB, msg: { text: 'not a string' } },
      ]);
      for (const o of [...all, ...room]) assert.ok(Math.abs(o.ts - Date.now()) < 60000, `ts ${o.ts}`);
      const priv = await objects(['--private', 'ub', ...db]);
      assert.deepEqual(priv.map((o) => [o.to, o.from.name, o.msg]),
        [['ub', 'alice', 'psst bob'], ['ua', 'bob', 'hi alice'], [42, 'bob', 'hi carol']]);
      assert.ok(priv[0].id > obj.id && priv[2].id < last.id, 'private ids in order');
      assert.deepEqual((await objects(['--private', '42', ...db])).map((o) => o.msg), ['hi carol']);
      assert.deepEqual((await objects(['--private', 'nobody', ...db])), []);

      const text = {
        all: [`#${hello.id} ${when(all[0].ts)} alice: hello all`,
          `#${last.id} ${when(all[1].ts)} carol: bye`],
        room: [`#${r1.id} ${when(room[0].ts)} alice: in r1`,
          `#${two.id} ${when(room[1].ts)} bob: two\\nlines`,
          `#${obj.id} ${when(room[2].ts)} bob: {"text":"not a string"}`],
        priv: [`#${priv[0].id} ${when(priv[0].ts)} alice -> ub: psst bob`,
          `#${priv[1].id} ${when(priv[1].ts)} bob -> ua: hi alice`,
          `#${priv[2].id} ${when(priv[2].ts)} bob -> 42: hi carol`],
      };
      const read = async () => ({
        all: await lines(['*', ...db]),
        room: await lines(['r1', ...db]),
        priv: await lines(['--private', 'ub', `--db=${srv.db}`]),
      });
      assert.deepEqual(await read(), text, 'while the server runs');
      // the same namespace-wide chat through the server's own history event
      const page = await emitAck(alice, 'history', {});
      assert.deepEqual(page.messages.map((m) => [m.id, m.ts]), all.map((o) => [o.id, o.ts]));

      await srv.stop();
      const before = digest(srv.db);
      assert.deepEqual(await read(), text, 'after the server stopped');
      assert.deepEqual(await objects(['r1', ...db]), room);
      assert.equal(digest(srv.db), before, 'reading leaves the file as it was');
      assert.deepEqual(fs.readdirSync(path.dirname(srv.db)), [path.basename(srv.db)],
        'and leaves no log or index beside it');
      assert.deepEqual(await lines(['*', '--nsp', '/chat', ...db]), [], 'another namespace');
    });

  it('pages with --limit, --since and --before, as the history event does', async (t) => {
    const srv = await startServer(t);
    const s = await login(t, srv, 'pager', 'up');
    const ids = [];
    for (let i = 1; i <= 6; i++) ids.push((await emitAck(s, 'chat', { msg: `m${i}` })).id);
    const db = ['--db', srv.db];
    const msgs = async (...args) => (await objects(['*', ...db, ...args])).map((o) => o.msg);
    assert.deepEqual(await msgs(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    assert.deepEqual(await msgs('--limit', '2'), ['m5', 'm6'], 'the newest, oldest first');
    assert.deepEqual(await msgs('--before', String(ids[4]), '--limit', '2'), ['m3', 'm4']);
    assert.deepEqual(await msgs('--since', String(ids[1]), '--limit', '3'), ['m3', 'm4', 'm5']);
    assert.deepEqual(await msgs('--since', '0', '--limit=1'), ['m1']);
    assert.deepEqual(await msgs('--since', String(ids[5])), [], 'nothing after the newest');
    const page = await emitAck(s, 'history', { before: ids[4], limit: 2 });
    assert.deepEqual(page.messages.map((m) => m.msg), await msgs('--before', String(ids[4]),
      '--limit', '2'));
    // the default limit is 50
    for (let i = 7; i <= 55; i++) await emitAck(s, 'chat', { msg: `m${i}` });
    const newest = await msgs();
    assert.equal(newest.length, 50);
    assert.deepEqual([newest[0], newest[49]], ['m6', 'm55']);
    // after a crash the newest messages may be in the write-ahead log only: they are read too
    srv.kill();
    await srv.exited;
    assert.ok(fs.existsSync(`${srv.db}-wal`));
    assert.deepEqual(await msgs('--limit', '2'), ['m54', 'm55']);
  });

  it('refuses a wrong command line with status 2 and one line', async () => {
    const cases = [
      [['r1', '--bogus'], /unknown option '--bogus'/],
      [['r1', '--limit', 'ten'], /--limit: expected a whole number of at least 1, got 'ten'/],
      [['r1', '--limit', '0'], /--limit/],
      [['r1', '--before', '-3'], /--before/],
      [['r1', '--since', '1x'], /--since/],
      [['r1', '--limit'], /--limit: missing value/],
      [[], /missing ROOM/],
      [['r1', 'r2'], /one ROOM only/],
      [['r1', '--private', 'ua'], /not both/],
      [['r1', '--since', '1', '--before', '5'], /--since and --before/],
      [['r1', '--nsp', 'chat'], /--nsp: a namespace starts with '\/'/],
    ];
    for (const [args, re] of cases) {
      const r = await refusal(['--db', 'unused.db', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const help = await history(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: parley history ROOM/);
    const server = execFileSync(BIN, ['--help'], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
    assert.match(server, /parley history ROOM/, 'parley --help names the command');
  });

  it('refuses a missing file without creating it, and a file that is no database', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    // the default is the server's, ./parley.db
    let r = await refusal(['*'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /parley\.db: No such file or directory/);
    const missing = path.join(dir, 'missing.db');
    r = await refusal(['*', '--db', missing]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing created');

    const junk = path.join(dir, 'junk.db');
    fs.writeFileSync(junk, Buffer.alloc(8192, 'not a database, just text '));
    r = await refusal(['*', '--db', junk]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /junk\.db: file is not a database/);
    const empty = path.join(dir, 'empty.db');
    fs.writeFileSync(empty, '');
    r = await refusal(['*', '--db', empty]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a Parley database/);
    assert.equal(fs.statSync(empty).size, 0, 'left empty');
    r = await refusal(['*', '--db', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is a directory/);
  });

  describe('schema versions', { skip: !haveSqlite && 'no sqlite3 command' }, () => {
    const sql = (db, text) => execFileSync('sqlite3', [db], { input: text, encoding: 'utf8' });

    it('refuses a database of a newer schema version, and leaves it as it was', async (t) => {
      const dir = tempDir();
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const db = path.join(dir, 'future.db');
      sql(db, 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);' +
        "INSERT INTO meta VALUES ('schema_version', '9');" +
        'CREATE TABLE messages (id INTEGER PRIMARY KEY, whatever TEXT);');
      const before = digest(db);
      const r = await refusal(['*', '--db', db]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(db), r.stderr);
      assert.match(r.stderr, /schema version 9, written by a newer Parley; this one reads version 2/);
      assert.equal(digest(db), before);
    });

    it('reads a version 1 database as it is, without migrating it', async (t) => {
      const dir = tempDir();
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const db = path.join(dir, 'v1.db');
      sql(db, `
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, nsp TEXT NOT NULL,
          room TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL, event TEXT NOT NULL,
          payload TEXT NOT NULL, ts INTEGER NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO messages VALUES (1, '/', '', '{"name":"old"}', 'chat',
          '{"from":{"name":"old"},"msg":"from version 1"}', 1700000000000);
        INSERT INTO messages VALUES (2, '/', 'r1', '{"name":"old"}', 'chat',
          '{"from":{"name":"old"},"room":"r1","msg":"in a room"}', 1700000000001);`);
      const before = digest(db);
      assert.deepEqual(await lines(['*', '--db', db]),
        ['#1 2023-11-14 22:13:20Z old: from version 1']);
      assert.deepEqual(await objects(['r1', '--db', db]),
        [{ id: 2, ts: 1700000000001, room: 'r1', from: { name: 'old' }, msg: 'in a room' }]);
      assert.deepEqual(await lines(['--private', 'old', '--db', db]), []);
      assert.equal(sql(db, "SELECT value FROM meta WHERE key = 'schema_version';").trim(), '1');
      assert.equal(digest(db), before);
    });
  });
});
