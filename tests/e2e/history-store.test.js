'use strict';
// The chat history's store path (README, "Events on namespace /", chat's ack): a chat is
// acknowledged with an id only once it is committed; a full, locked or deleted database does not
// stop live delivery, and the sender's ack then says the message was not stored.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const { startServer, connected, emitAck, liveChats, sleep, tempDir, withTimeout } = require('./lib/server');
const { haveSqlite } = require('./lib/server');

async function user(t, srv, name) {
  const s = await connected(t, srv, '/');
  const res = await emitAck(s, 'login', { name, userid: `uid-${name}` });
  assert.equal(res.ok, true);
  return s;
}

// Every stored message of the namespace-wide chat, oldest first, read with 'history' pages.
async function allStored(s) {
  const out = [];
  let since = 0;
  for (;;) {
    const res = await emitAck(s, 'history', { since, limit: 100 });
    assert.equal(res.ok, true, JSON.stringify(res));
    out.push(...res.messages);
    if (res.messages.length < 100) return out;
    since = res.messages[res.messages.length - 1].id;
  }
}

function assertAck(ack, what) {
  assert.equal(ack.ok, true, `${what}: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.delivered, 'number', `${what}: delivered`);
  if (ack.stored === false) {
    assert.equal(ack.id, undefined, `${what}: no id for a message not stored`);
    assert.equal(typeof ack.error, 'string', `${what}: error`);
  } else {
    assert.ok(Number.isInteger(ack.id) && ack.id > 0, `${what}: id ${JSON.stringify(ack)}`);
  }
}

describe('history store', () => {
  it('a full database: acks say stored or not, ids unique and kept, delivery goes on', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = path.join(dir, 'full.db');
    const args = ['--history-max-bytes', String(12 * 4096), '--history-keep', '0'];
    const srv = await startServer(t, { db, args });
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    const live = liveChats(b);
    const acked = new Map();
    let notStored = 0;
    const filler = 'x'.repeat(400);
    // in bursts, so that a batch (one transaction) holds several messages when the cap is hit
    for (let i = 0; i < 400; i += 10) {
      const msgs = Array.from({ length: 10 }, (_, k) => `m${i + k} ${filler}`);
      const acks = await Promise.all(msgs.map((msg) => emitAck(a, 'chat', { msg })));
      for (let k = 0; k < msgs.length; k++) {
        const ack = acks[k];
        assertAck(ack, `chat ${i + k}`);
        assert.equal(ack.delivered, 1, 'delivered to the other client');
        assert.equal((await live.next()).msg, msgs[k], 'live delivery goes on');
        if (ack.stored === false) {
          notStored++;
          assert.equal(ack.error, 'storage full');
        } else {
          assert.ok(!acked.has(ack.id), `id ${ack.id} given out twice`);
          acked.set(ack.id, msgs[k]);
        }
      }
    }
    assert.ok(notStored > 0, 'the cap was reached');
    assert.ok(acked.size > 0, 'some were stored');
    const check = async (s) => {
      const stored = await allStored(s);
      const byId = new Map(stored.map((m) => [m.id, m.msg]));
      for (const [id, msg] of acked) assert.equal(byId.get(id), msg, `message ${id} as acked`);
    };
    await check(a);
    await srv.stop();
    const again = await startServer(t, { db, args });
    await check(await user(t, again, 'C'));
  });

  it('a database locked by another process: answered at once, not stored, then stored again',
    { skip: !haveSqlite && 'no sqlite3 command' }, async (t) => {
      const dir = tempDir();
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const db = path.join(dir, 'locked.db');
      const srv = await startServer(t, { db });
      const a = await user(t, srv, 'A');
      const b = await user(t, srv, 'B');
      const live = liveChats(b);
      assertAck(await emitAck(a, 'chat', { msg: 'before' }), 'before the lock');
      await live.next();

      const lock = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
      t.after(() => lock.kill('SIGKILL'));
      let out = '';
      lock.stdout.on('data', (d) => { out += d; });
      lock.stdin.write("BEGIN EXCLUSIVE; INSERT INTO meta VALUES ('lock', 'held'); SELECT 'locked';\n");
      for (let i = 0; !out.includes('locked'); i++) {
        assert.ok(i < 100, 'the lock is taken');
        await sleep(50);
      }
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const ack = await emitAck(a, 'chat', { msg: `during ${i}` });
        assert.ok(Date.now() - t0 < 500, `answered within 500 ms (${Date.now() - t0} ms)`);
        assertAck(ack, `during ${i}`);
        assert.equal(ack.stored, false, `not stored while locked: ${JSON.stringify(ack)}`);
        assert.equal(ack.error, 'storage busy');
        assert.equal((await live.next()).msg, `during ${i}`);
      }
      lock.stdin.end('ROLLBACK;\n');
      await withTimeout(new Promise((resolve) => lock.on('exit', resolve)), 5000, 'sqlite3 to exit');
      const ack = await emitAck(a, 'chat', { msg: 'after' });
      assertAck(ack, 'after the lock');
      assert.ok(ack.id > 0, `stored again: ${JSON.stringify(ack)}`);
      const stored = await allStored(a);
      assert.deepEqual(stored.map((m) => m.msg), ['before', 'after']);
    });

  it('a deleted database file is noticed at the next commit, reopened, and later messages kept', async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = path.join(dir, 'deleted.db');
    const srv = await startServer(t, { db });
    const a = await user(t, srv, 'A');
    const first = await emitAck(a, 'chat', { msg: 'first' });
    assertAck(first, 'first');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    // the file is checked before each commit: nothing is acknowledged as stored in a deleted file
    const during = await emitAck(a, 'chat', { msg: 'during' });
    assertAck(during, 'during');
    assert.equal(during.stored, false, JSON.stringify(during));
    assert.equal(during.error, 'storage error');
    assert.match(srv.output().stderr, /history: the database file .* was deleted while open/);
    const later = await emitAck(a, 'chat', { msg: 'later' });
    assertAck(later, 'later');
    assert.ok(later.id > first.id, `ids go on above those given out (${later.id} > ${first.id})`);
    await srv.stop();
    const again = await startServer(t, { db });
    const stored = await allStored(await user(t, again, 'B'));
    assert.deepEqual(stored.map((m) => [m.id, m.msg]), [[later.id, 'later']]);
  });
});
