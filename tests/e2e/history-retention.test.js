'use strict';
// Retention of the store (README, "Retention"): per room and per recipient of private messages,
// the newest --history-keep messages that fit in --history-room-bytes stay; rows older than
// --history-max-age go; notices go once older than the recovery window. Databases are seeded with
// the sqlite3 shell, and a short --history-retention-interval keeps every wait short.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const { REPO, startServer, connected, emitAck, sleep, tempDir } = require('./lib/server');
const { haveSqlite } = require('./lib/server');

const FAST = ['--history-retention-interval', '20'];

function sql(db, text) {
  return execFileSync('sqlite3', [db], { input: text, encoding: 'utf8' }).trim();
}

// A database with Parley's schema in a fresh directory, removed when the test ends.
function newDb(t) {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = path.join(dir, 'retention.db');
  sql(db, fs.readFileSync(path.join(REPO, 'schema.sql'), 'utf8'));
  return db;
}

// What a tool that inserts rows itself does (schema.sql): the per-room totals counted again.
const RECOUNT = `DELETE FROM room_totals;
  INSERT INTO room_totals SELECT nsp, room IS NULL, coalesce(room, recipient), count(*),
    sum(length(CAST(args AS BLOB))) FROM messages WHERE kind = 0 GROUP BY 1, 2, 3;`;

// Inserts n rows numbered from 1: room (or recipient, for a private message), kind, a ts
// that many ms in the past, and args of the given byte size.
function seed(db, n, { nsp = '/', room = '', recipient = null, kind = 0, ageMs = 0, bytes = 20 }) {
  const now = Date.now();
  const pad = Math.max(bytes - 20, 0);
  const q = (v) => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  sql(db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
    INSERT INTO messages (nsp, room, recipient, sender, event, args, ts, kind)
    SELECT ${q(nsp)}, ${recipient === null ? q(room) : 'NULL'}, ${q(recipient)},
      '{"name":"seed"}', '${kind ? 'joined' : 'chat'}',
      '[{"msg":"' || printf('%08d', i) || '${'x'.repeat(pad)}"}]', ${now - ageMs} + i, ${kind}
    FROM c;
    ${RECOUNT}`);
}

// Polls a query until it gives want (or fails after about 3 s).
async function until(db, query, want) {
  let got;
  for (let i = 0; i < 150; i++) {
    got = sql(db, query);
    if (got === want) return;
    await sleep(20);
  }
  assert.equal(got, want, query);
}

const count = (where) => `SELECT count(*) FROM messages WHERE ${where};`;

describe('history retention', { skip: !haveSqlite && 'no sqlite3 command' }, () => {
  it('by count: the newest --history-keep of each room stay, live messages included', async (t) => {
    const db = newDb(t);
    seed(db, 50, {});
    const srv = await startServer(t, { db, args: ['--history-keep', '10', ...FAST] });
    await until(db, count("room = ''"), '10');
    const s = await connected(t, srv, '/');
    assert.equal((await emitAck(s, 'login', { name: 'A', userid: 'uid-a' })).ok, true);
    const page = await emitAck(s, 'history', { limit: 100 });
    assert.deepEqual(page.messages.map((m) => m.msg), Array.from({ length: 10 },
      (_, i) => String(41 + i).padStart(8, '0')), 'the ten newest');
    for (let i = 0; i < 5; i++) await emitAck(s, 'chat', { msg: `live ${i}` });
    await until(db, `SELECT group_concat(json_extract(args, '$[0].msg'), ',') FROM
      (SELECT args FROM messages WHERE room = '' ORDER BY id DESC LIMIT 5);`,
    'live 4,live 3,live 2,live 1,live 0');
    await until(db, count("room = ''"), '10');
  });

  it('per room and per recipient, each on its own', async (t) => {
    const db = newDb(t);
    seed(db, 30, { room: 'big' });
    seed(db, 5, { room: 'small' });
    seed(db, 25, { nsp: '/other', room: 'big' });
    seed(db, 20, { recipient: '"uid-b"' });
    seed(db, 3, { recipient: '"uid-c"' });
    await startServer(t, { db, args: ['--history-keep', '10', ...FAST] });
    const per = `SELECT group_concat(n, ' ') FROM (SELECT nsp || ':' ||
      coalesce(room, recipient) || '=' || count(*) AS n FROM messages GROUP BY nsp, room,
      recipient ORDER BY n);`;
    await until(db, per, '/:"uid-b"=10 /:"uid-c"=3 /:big=10 /:small=5 /other:big=10');
    // the newest of each stay, and the totals retention reads agree with the rows
    assert.equal(sql(db, "SELECT min(json_extract(args, '$[0].msg')) FROM messages " +
      "WHERE nsp = '/' AND room = 'big';"), '00000021');
    assert.equal(sql(db, 'SELECT count(*) FROM room_totals t WHERE messages != (SELECT ' +
      'count(*) FROM messages m WHERE m.nsp = t.nsp AND m.kind = 0 AND CASE t.private WHEN 1 ' +
      'THEN m.recipient = t.target AND m.room IS NULL ELSE m.room = t.target END);'), '0');
  });

  it('by age: rows older than --history-max-age go, newer ones stay', async (t) => {
    const db = newDb(t);
    seed(db, 40, { room: 'r', ageMs: 2 * 86400e3 });
    seed(db, 5, { room: '', ageMs: 2 * 86400e3 });
    seed(db, 7, { room: 'r' });
    const srv = await startServer(t, {
      db, logLevel: 'info', args: ['--history-keep', '0', '--history-max-age', '86400', ...FAST],
    });
    await until(db, count('1'), '7');
    assert.equal(sql(db, `SELECT count(*) FROM messages WHERE ts < ${Date.now() - 86400e3};`), '0');
    // one summary line says what went and why
    for (let i = 0; !/retention removed/.test(srv.output().stderr) && i < 150; i++) await sleep(20);
    assert.match(srv.output().stderr, /retention removed 0 messages beyond --history-keep, 0 beyond --history-room-bytes, 45 rows older than --history-max-age/);
  });

  it('by bytes: the newest messages whose args fit in --history-room-bytes stay', async (t) => {
    const db = newDb(t);
    seed(db, 30, { room: 'r', bytes: 100 });
    seed(db, 4, { room: 'small', bytes: 100 });
    assert.equal(sql(db, "SELECT DISTINCT length(CAST(args AS BLOB)) FROM messages;"), '100');
    const srv = await startServer(t, {
      db, args: ['--history-keep', '0', '--history-room-bytes', '1050', ...FAST],
    });
    await until(db, count("room = 'r'"), '10');
    assert.equal(sql(db, count("room = 'small'")), '4');
    assert.equal(sql(db, "SELECT min(json_extract(args, '$[0].msg')) FROM messages WHERE room = 'r';")
      .slice(0, 8), '00000021');
    // a live message pushes the oldest out: the room is as full as 100-byte rows allow
    const s = await connected(t, srv, '/');
    await emitAck(s, 'login', { name: 'A', userid: 'uid-a' });
    assert.equal((await emitAck(s, 'join', 'r')).ok, true);
    const ack = await emitAck(s, 'chat', { room: 'r', msg: 'x'.repeat(60) });
    await until(db, `SELECT sum(length(CAST(args AS BLOB))) BETWEEN 951 AND 1050 AND
      max(id) = ${ack.id} FROM messages WHERE room = 'r' AND kind = 0;`, '1');
    assert.equal(sql(db, "SELECT bytes <= 1050 FROM room_totals WHERE target = 'r';"), '1');
  });

  it('notices older than the recovery window go, messages and newer notices stay', async (t) => {
    const db = newDb(t);
    seed(db, 20, { room: 'r', kind: 1, ageMs: 10 * 60e3 });
    seed(db, 30, { room: 'r', ageMs: 10 * 60e3 });
    seed(db, 4, { room: 'r', kind: 1 });
    await startServer(t, { db, args: ['--recovery-window', '60000', ...FAST] });
    await until(db, count('kind = 1'), '4');
    assert.equal(sql(db, count('kind = 0')), '30');
    assert.equal(sql(db, `SELECT count(*) FROM messages WHERE kind = 1 AND ts < ${Date.now() - 60e3};`), '0');
  });

  it('with no recovery window, notices are not kept at all', async (t) => {
    const db = newDb(t);
    seed(db, 6, { room: 'r', kind: 1 });
    seed(db, 3, { room: 'r' });
    await startServer(t, { db, args: ['--recovery-window', '0', ...FAST] });
    await until(db, count('kind = 1'), '0');
    assert.equal(sql(db, count('kind = 0')), '3');
  });
});
