'use strict';
// Redis lost and restarted mid-stream: Parley nodes that start before Redis and lose it later
// keep serving their own clients, log the outage once, report it on /healthz, reconnect with
// backoff, subscribe again, and cross-node delivery resumes; a node started without Redis
// reachable at all serves as well. With a channel prefix of its own (--redis-prefix), as the
// Node adapter's `key` option.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { startServer, connected, emitAck, once, sleep, uniqueName, request } =
  require('../e2e/lib/server');
const { startRedis, startNodeNode, until, lifo, freePort } = require('./lib/cluster');

const PREFIX = 'parley-outage';

async function healthz(server) {
  return (await request(server, { path: '/healthz' })).text;
}

async function login(s, name) {
  const seen = once(s, 'login', 5000);
  assert.equal((await emitAck(s, 'login', { name, userid: uniqueName(name) })).ok, true);
  await seen;
}

function inbox(s, event) {
  const got = [];
  s.on(event, (m) => got.push(m));
  return got;
}

test('Redis restarted mid-stream', { timeout: 90000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t);
  const args = ['--redis', redis.url, '--redis-prefix', PREFIX];
  const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
  const node = await startNodeNode(t, redis, { key: PREFIX });
  await until(async () => (await healthz(a)) === 'ok\n' && (await healthz(b)) === 'ok\n', 5000,
    'both nodes connected');

  const a1 = await connected(t, a);
  const a2 = await connected(t, a);
  const b1 = await connected(t, b);
  await login(a1, 'a1');
  await login(a2, 'a2');
  await login(b1, 'b1');
  const [in2, inb] = [inbox(a2, 'chat'), inbox(b1, 'chat')];
  await emitAck(a1, 'chat', { msg: 'before' });
  await until(() => in2.length === 1 && inb.length === 1, 5000, 'the first chat on both nodes');

  await redis.kill();
  await until(async () => /^degraded: /.test(await healthz(a)), 5000, "A's degraded health");
  assert.match(await healthz(b), /^degraded: redis unreachable/);
  // A's own clients still chat; nothing reaches B meanwhile
  const ack = await emitAck(a1, 'chat', { msg: 'during' });
  assert.equal(ack.ok, true);
  await until(() => in2.length === 2, 5000, 'the local chat during the outage');
  assert.equal(in2[1].msg, 'during');
  await sleep(500); // several reconnection attempts fail
  assert.equal(inb.length, 1);

  await redis.start();
  await until(async () => (await healthz(a)) === 'ok\n' && (await healthz(b)) === 'ok\n',
    10000, 'both nodes reconnected');
  // subscribed again: delivery crosses both ways, to the Node node's clients as well
  const n1 = await startNodeNode(t, redis, { key: PREFIX });
  const { io: ioc } = require('socket.io-client');
  const c = ioc(n1.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  t.after(() => c.close());
  await once(c, 'connect', 5000);
  const inn = inbox(c, 'chat');
  await until(async () => {
    await emitAck(a1, 'chat', { msg: 'after' });
    await sleep(100);
    return inb.some((m) => m.msg === 'after') && inn.some((m) => m.msg === 'after');
  }, 10000, 'cross-node delivery after the restart');
  await emitAck(b1, 'chat', { msg: 'from B after' });
  await until(() => in2.some((m) => m.msg === 'from B after'), 5000, 'B to A after the restart');
  assert.ok(!inb.some((m) => m.msg === 'during'), 'a message of the outage arrived later');

  // the outage was logged once per node, and its end once
  for (const s of [a, b]) {
    const err = s.output().stderr;
    assert.equal(err.match(/redis .* unavailable/g)?.length, 1, err);
    assert.equal(err.match(/reachable again/g)?.length, 1, err);
  }
  await node.close();
});

test('a node started with Redis unreachable serves its own clients', { timeout: 60000 },
  async (test) => {
    const t = lifo(test);
    const port = await freePort();
    const a = await startServer(t, { args: ['--redis', `redis://127.0.0.1:${port}`] });
    assert.match(await healthz(a), /^degraded: /);
    const s1 = await connected(t, a);
    const s2 = await connected(t, a);
    await login(s1, 's1');
    const got = once(s2, 'chat', 5000);
    await emitAck(s1, 'chat', { msg: 'alone' });
    assert.equal((await got).msg, 'alone');
    await until(() => /unavailable/.test(a.output().stderr), 5000, 'the outage logged');
    await sleep(1000); // retries are not logged again
    assert.equal(a.output().stderr.match(/unavailable/g)?.length, 1, a.output().stderr);
  });
