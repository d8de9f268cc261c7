'use strict';
// A moderator's delete on one node reaches every node's copy of the history through the
// stream (an entry of its own, applied in stream order by every node, the origin included):
// after /delete on A, B's pages and replays no longer have the message; a node that was down
// applies it when it catches up; a delete made while Redis is away is sent once it is back.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const { BIN, startServer, connected, emitAck, uniqueName, request, sleep, tempDir } =
  require('../e2e/lib/server');
const { startRedis, until, lifo } = require('./lib/cluster');

const PLUGIN = process.env.PARLEY_MODERATION_PLUGIN
  ? path.resolve(process.env.PARLEY_MODERATION_PLUGIN)
  : path.join(path.dirname(BIN), 'plugins', 'moderation.so');

async function health(s) {
  return (await request(s, { path: '/healthz' })).text;
}

async function user(t, srv, name, userid = uniqueName(name)) {
  const s = await connected(t, srv);
  assert.equal((await emitAck(s, 'login', { name, userid })).ok, true);
  return s;
}

async function msgs(s) {
  const res = await emitAck(s, 'history', {});
  assert.equal(res.ok, true, JSON.stringify(res));
  return res.messages.map((m) => m.msg);
}

test('a delete on one node is applied on every node', { timeout: 90000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t);
  const dir = tempDir('parley-cluster-del-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'parley.conf');
  fs.writeFileSync(cfg, 'plugin_options = { moderation = { moderators = "mod1" } }\n');
  const args = ['--redis', redis.url, '--redis-prefix', uniqueName('del'), '--plugin', PLUGIN,
    '--config', cfg];
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => startServer(t, { args })));
  await until(async () => (await Promise.all([a, b, c].map(health))).every((h) => h === 'ok\n'),
    10000, 'the nodes connected');

  const ann = await user(t, a, 'ann');
  const modA = await user(t, a, 'moda', 'mod1');
  const bob = await user(t, b, 'bob');
  const modB = await user(t, b, 'modb', 'mod1');
  const ids = {};
  for (const m of ['keep', 'gone on A', 'gone on B', 'gone during']) {
    const ack = await emitAck(ann, 'chat', { msg: m });
    assert.ok(ack.id > 0, JSON.stringify(ack));
    ids[m] = ack.id;
  }
  for (const s of [bob, await user(t, c, 'cy')]) {
    await until(async () => (await msgs(s)).includes('gone during'), 5000, 'the chats everywhere');
  }
  await c.stop(); // away while the delete happens

  // a delete on A: gone on A at once, and on B once the stream brings it
  const res = await emitAck(modA, 'chat', { msg: `/delete ${ids['gone on A']}` });
  assert.deepEqual(res, { ok: true, command: 'delete', target: ids['gone on A'] });
  assert.ok(!(await msgs(ann)).includes('gone on A'));
  await until(async () => !(await msgs(bob)).includes('gone on A'), 5000, 'the delete on B');
  // a client joining on B is not replayed it either
  const seen = [];
  const late = await connected(t, b);
  late.on('chat', (m) => { if (m.history) seen.push(m.msg); });
  assert.equal((await emitAck(late, 'login', { name: 'lee', userid: uniqueName('lee') })).ok, true);
  await until(() => seen.includes('keep'), 5000, 'the replay on B');
  assert.ok(!seen.includes('gone on A'), JSON.stringify(seen));
  // A's own tail read the message's entry after the delete, and the delete's: still gone
  await sleep(300);
  assert.ok(!(await msgs(ann)).includes('gone on A'));

  // and the other way, from B
  const res2 = await emitAck(modB, 'chat', { msg: `/delete ${ids['gone on B']}` });
  assert.equal(res2.ok, true, JSON.stringify(res2));
  await until(async () => !(await msgs(ann)).includes('gone on B'), 5000, "B's delete on A");

  // C, started again on its file, catches up with both deletes
  const c2 = await startServer(t, { args, db: c.db });
  await until(async () => (await health(c2)) === 'ok\n', 10000, 'C back');
  const cy = await user(t, c2, 'cy2');
  await until(async () => {
    const m = await msgs(cy);
    return m.includes('keep') && !m.includes('gone on A') && !m.includes('gone on B');
  }, 5000, 'the deletes on C after its restart');

  // Redis away: the delete is done on A and waits; B applies it once Redis is back
  await redis.kill();
  await until(async () => /^degraded/.test(await health(a)), 5000, 'A degraded');
  const res3 = await emitAck(modA, 'chat', { msg: `/delete ${ids['gone during']}` });
  assert.equal(res3.ok, true, JSON.stringify(res3));
  assert.ok(!(await msgs(ann)).includes('gone during'));
  assert.ok((await msgs(bob)).includes('gone during'));
  await redis.start();
  // the stream is empty now (no persistence): B reads the delete as the first entry
  await until(async () => !(await msgs(bob)).includes('gone during'), 10000,
    'the delete made during the outage on B');
  assert.deepEqual(await msgs(bob), ['keep']);
  assert.deepEqual(await msgs(ann), ['keep']);
});
