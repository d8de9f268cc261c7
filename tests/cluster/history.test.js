'use strict';
// The cluster's history (README, "Clustering"): every stored packet gets one id from the Redis
// stream, the same on every Parley node; a client on node B gets the replay and the pages of
// messages sent on node A, with A's ids; a client that drops on A recovers its session on B,
// also after A was killed with SIGKILL; a node that was down catches up from the stream; while
// Redis is away a chat is delivered but not stored, and says so.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { io } = require('socket.io-client');

const { startServer, connected, emitAck, once, sleep, uniqueName, request } =
  require('../e2e/lib/server');
const { startRedis, until, lifo, healthy } = require('./lib/cluster');

async function login(s, name) {
  const res = await emitAck(s, 'login', { name, userid: uniqueName(name) });
  assert.equal(res.ok, true);
  return res;
}

// Every event s receives, with the offset each carried (the last argument).
function journal(s) {
  const events = [];
  s.onAny((event, ...args) => events.push({ event, data: args[0], offset: args[args.length - 1] }));
  return events;
}

// A page of a room's history on one node, as {ids, msgs}.
async function page(s, query) {
  const res = await emitAck(s, 'history', query);
  assert.equal(res.ok, true, JSON.stringify(res));
  return { ids: res.messages.map((m) => m.id), msgs: res.messages.map((m) => m.msg) };
}

test('history across Parley nodes: one id per message, replay and pages on every node',
  { timeout: 60000 }, async (test) => {
    const t = lifo(test);
    const redis = await startRedis(t);
    const args = ['--redis', redis.url, '--redis-prefix', uniqueName('hist')];
    const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
    await healthy(a, b);

    const a1 = await connected(t, a);
    await login(a1, 'alice');
    assert.equal((await emitAck(a1, 'join', 'r')).ok, true);
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const ack = await emitAck(a1, 'chat', { room: 'r', msg: `m${i}` });
      assert.equal(ack.ok, true);
      assert.ok(Number.isSafeInteger(ack.id) && ack.id > 1e15, `a cluster id: ${ack.id}`);
      ids.push(ack.id);
    }
    assert.deepEqual([...ids].sort((x, y) => x - y), ids, 'ids increase');

    // a client of B joining the room is given A's messages with A's ids
    const b1 = await connected(t, b);
    await login(b1, 'bob');
    const replayed = [];
    b1.on('chat', (m) => { if (m.history) replayed.push(m); });
    assert.equal((await emitAck(b1, 'join', 'r')).ok, true);
    await until(() => replayed.length === 5, 5000, "the room's replay on B");
    assert.deepEqual(replayed.map((m) => m.id), ids);
    assert.deepEqual(replayed.map((m) => m.msg), ['m0', 'm1', 'm2', 'm3', 'm4']);

    // B's messages come after A's, and both nodes page the same way
    const ack = await emitAck(b1, 'chat', { room: 'r', msg: 'from B' });
    assert.ok(ack.id > ids[4]);
    ids.push(ack.id);
    await until(async () => (await page(a1, { room: 'r' })).ids.length === 6, 5000,
      "B's message in A's history");
    for (const s of [a1, b1]) {
      assert.deepEqual((await page(s, { room: 'r' })).ids, ids);
      assert.deepEqual((await page(s, { room: 'r', before: ids[3], limit: 2 })).ids, ids.slice(1, 3));
      assert.deepEqual((await page(s, { room: 'r', since: ids[3] })).msgs, ['m4', 'from B']);
    }

    // a node started later (or back from a crash) catches up from the stream
    const c = await startServer(t, { args });
    await healthy(c);
    const c1 = await connected(t, c);
    await login(c1, 'carol');
    assert.equal((await emitAck(c1, 'join', 'r')).ok, true);
    await until(async () => (await page(c1, { room: 'r' })).ids.length === 6, 5000,
      "the history on the new node");
    assert.deepEqual((await page(c1, { room: 'r' })).ids, ids);

    // Redis away: delivered on the node, not stored (no id could be given), and said so
    const a2 = await connected(t, a);
    await login(a2, 'ann');
    assert.equal((await emitAck(a2, 'join', 'r')).ok, true);
    const live = [];
    a2.on('chat', (m) => { if (!m.history) live.push(m.msg); });
    await redis.kill();
    await until(async () => /^degraded/.test((await request(a, { path: '/healthz' })).text), 5000,
      'A degraded');
    const during = await emitAck(a1, 'chat', { room: 'r', msg: 'during' });
    assert.equal(during.ok, true);
    assert.equal(during.stored, false);
    assert.equal(during.error, 'storage unavailable');
    await until(() => live.includes('during'), 5000, 'the local delivery during the outage');
    await redis.start();
    await healthy(a, b);
    const after = await emitAck(a1, 'chat', { room: 'r', msg: 'after' });
    assert.ok(after.id > ack.id, 'ids go on above those given before the restart');
    await until(async () => (await page(b1, { room: 'r' })).msgs.includes('after'), 5000,
      "the message after Redis's restart on B");
    assert.ok(!(await page(b1, { room: 'r' })).msgs.includes('during'));
  });

// A socket.io-client socket that takes over s's session on another node, as s would after a
// reconnection through a load balancer: the same pid and last offset, on a new URL.
function moved(t, s, server) {
  const s2 = io(server.url, { forceNew: true, reconnection: false, autoConnect: false });
  s2._pid = s._pid;
  s2._lastOffset = s._lastOffset;
  t.after(() => s2.close());
  return s2;
}

async function connectNow(s) {
  const up = once(s, 'connect', 5000);
  s.connect();
  await up;
}

for (const how of ['dropped', 'killed']) {
  test(`recovery on another node: the session of a client whose node was ${how}`,
    { timeout: 60000 }, async (test) => {
      const t = lifo(test);
      const redis = await startRedis(t);
      const args = ['--redis', redis.url, '--redis-prefix', uniqueName('rec')];
      const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
      await healthy(a, b);

      const alice = await connected(t, b);
      await login(alice, 'alice');
      assert.equal((await emitAck(alice, 'join', 'r')).ok, true);
      const bob = await connected(t, a);
      const bobEvents = journal(bob);
      await login(bob, 'bob');
      assert.equal((await emitAck(bob, 'join', 'r')).ok, true);
      assert.equal((await emitAck(alice, 'chat', { room: 'r', msg: 'before' })).ok, true);
      await until(() => bobEvents.some((e) => e.event === 'chat' && e.data.msg === 'before'),
        5000, 'the first chat on A');
      const { id } = bob;
      assert.ok(bob._pid && bob._lastOffset, 'bob holds a session and an offset');
      await sleep(300); // bob's session reaches B through the stream

      if (how === 'killed') {
        a.kill();
      } else {
        const gone = once(bob, 'disconnect', 3000);
        bob.io.engine.close();
        await gone;
      }
      // sent while bob is away, to his room and to everyone
      assert.equal((await emitAck(alice, 'chat', { room: 'r', msg: 'missed 1' })).ok, true);
      assert.equal((await emitAck(alice, 'chat', { msg: 'missed 2' })).ok, true);

      const back = moved(t, bob, b);
      const events = journal(back);
      await connectNow(back);
      assert.equal(back.recovered, true, 'recovered on B');
      assert.equal(back.id, id, 'the same socket id');
      // every missed chat, in order; one bob had received live may come again (README:
      // a live frame's offset is older than the id Redis gives its message a moment later)
      const had = bobEvents.filter((e) => e.event === 'chat').map((e) => e.data.msg);
      const fresh = () => events.filter((e) => e.event === 'chat' && !had.includes(e.data.msg))
        .map((e) => e.data.msg);
      await until(() => fresh().length >= 2, 5000, 'the missed chats');
      assert.deepEqual(fresh(), ['missed 1', 'missed 2']);
      // the offsets are B's ids, and bob is in his room again with his identity
      for (const e of events) assert.match(e.offset, /^\d{16}$/);
      const seen = [];
      back.on('chat', (m) => seen.push(m));
      const ack = await emitAck(back, 'chat', { room: 'r', msg: 'I am back' });
      assert.equal(ack.ok, true);
      assert.equal((await emitAck(alice, 'chat', { room: 'r', msg: 'welcome' })).ok, true);
      await until(() => seen.some((m) => m.msg === 'welcome'), 5000, 'a chat of the room');
      const page = await emitAck(alice, 'history', { room: 'r', since: 0 });
      const mine = page.messages.find((m) => m.msg === 'I am back');
      assert.equal(mine.from.name, 'bob');
    });
}
