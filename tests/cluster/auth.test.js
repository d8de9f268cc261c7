'use strict';
// The --redis URL's credentials: a redis-server whose default user is off and whose only user
// is an ACL user (Redis 6 and later) takes two Parley nodes given redis://user:password@...
// (AUTH user password on each of their three connections, the password %XX-escaped in the
// URL): they chat across nodes and share the history stream. A wrong password leaves the node
// degraded, saying why; rediss:// is refused at start (this hiredis has no TLS).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test } = require('node:test');

const { startServer, connected, emitAck, once, uniqueName, request, withTimeout } =
  require('../e2e/lib/server');
const { startRedis, until, lifo } = require('./lib/cluster');

const BIN = process.env.PARLEY_BIN || 'build/parley';
const PASSWORD = 's3:c@t%'; // ':', '@' and '%' escaped in the URL
const PREFIX = 'aclp'; // this test's redis-server is its own

async function health(s) {
  return (await request(s, { path: '/healthz' })).text;
}

test('an ACL user and password in the URL', { timeout: 60000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t, {
    // the least the README says a node needs: its prefix's keys and channels, these commands
    extra: ['--user', 'default', 'off', '--user', 'chat', 'on', `>${PASSWORD}`,
      `~${PREFIX}-*`, `&${PREFIX}*`, `&${PREFIX}#/#*`, `&${PREFIX}#/chat#*`,
      '+@pubsub', '+@stream', '+@scripting',
      '+time', '+select'],
  });
  const url = `redis://chat:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}/0`;
  assert.match(url, /%3A.*%40.*%25/);
  const args = ['--redis', url, '--redis-prefix', PREFIX];
  const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
  await until(async () => (await health(a)) === 'ok\n' && (await health(b)) === 'ok\n', 10000,
    'both nodes authenticated');

  const a1 = await connected(t, a);
  const b1 = await connected(t, b);
  for (const [s, n] of [[a1, 'ann'], [b1, 'bob']]) {
    assert.equal((await emitAck(s, 'login', { name: n, userid: uniqueName(n) })).ok, true);
  }
  const got = once(b1, 'chat', 5000);
  const ack = await emitAck(a1, 'chat', { msg: 'through the ACL' });
  assert.equal(ack.ok, true);
  assert.ok(ack.id > 1e15, `a cluster id: ${JSON.stringify(ack)}`); // the stream's
  assert.equal((await got).msg, 'through the ACL');
  await until(async () => {
    const page = await emitAck(b1, 'history', {});
    return page.ok && page.messages.some((m) => m.id === ack.id);
  }, 5000, "A's message in B's history (the reader's AUTH)");
  for (const s of [a, b]) assert.doesNotMatch(s.output().stderr, /refused/);

  // the wrong password: degraded, and the refusal logged with Redis's reason
  const bad = `redis://chat:wrong@127.0.0.1:${redis.port}`;
  const c = await startServer(t, { args: ['--redis', bad] });
  await until(() => /redis refused the \w+'s setup: WRONGPASS/.test(c.output().stderr), 5000,
    'the refusal logged');
  assert.match(await health(c), /^degraded: /);
});

test('rediss:// is refused at start', { timeout: 20000 }, async () => {
  const proc = spawn(BIN, ['--port', '0', '--db', ':memory:', '--redis', 'rediss://127.0.0.1:6380'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const code = await withTimeout(new Promise((resolve) => proc.on('exit', resolve)), 10000,
    'parley to exit');
  assert.equal(code, 2);
  assert.match(err, /rediss:\/\/ \(TLS\) is not supported .* tunnel/);
});
