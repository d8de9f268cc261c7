'use strict';
// The bundled ratelimit plugin (plugins/ratelimit): token buckets per socket, per user id and
// per peer address, the documented rejection ack, the refill, the disconnection of a flooding
// socket, and the limit on connection attempts. Every test starts its own server with options
// chosen so that the outcome does not depend on timing (slow refill rates, generous burst of
// the levels a test does not look at).

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const {
  BIN, startServer, connect, connected, emitAck, once, record, sleep, uniqueName, tempDir,
} = require('./lib/server');

const PLUGIN = path.join(path.dirname(BIN), 'plugins', 'ratelimit.so');
// Why the suite cannot run here, or false: the plugin must be built and the server must load
// plugins.
function skipReason() {
  if (!fs.existsSync(PLUGIN)) return `${PLUGIN} not built`;
  const help = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
  if (!/--plugin\b/.test(`${help.stdout}${help.stderr}`)) return 'this parley has no --plugin';
  return false;
}
const REJECT = { ok: false, error: 'rate limited: slow down' };
// Limits high enough never to matter, for the levels a test does not exercise.
const LOOSE = {
  socket_rate: 1000, socket_burst: 1000,
  user_rate: 1000, user_burst: 1000,
  address_rate: 1000, address_burst: 1000,
  connect_per_minute: 1000, connect_burst: 1000,
  disconnect_after: 0,
};

// Starts parley with the plugin and these options (over LOOSE) in a config file.
async function startLimited(t, options) {
  const dir = tempDir('parley-rl-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = { ...LOOSE, ...options };
  const body = Object.entries(all)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? JSON.stringify(v) : v}`)
    .join(', ');
  const conf = path.join(dir, 'parley.conf');
  fs.writeFileSync(conf, `plugin_options = { ratelimit = { ${body} } }\n`);
  return startServer(t, { args: ['--config', conf, '--plugin', PLUGIN] });
}

// Emits `echo` n times at once (acks asked); resolves with the answers in order.
function echoes(s, n, from = 0) {
  return Promise.all(Array.from({ length: n }, (_, i) => emitAck(s, 'echo', from + i)));
}

async function login(t, srv, userid) {
  const s = await connected(t, srv, '/', { transports: ['websocket'] });
  const logins = record(s, 'login');
  s.emit('login', { name: userid, userid });
  await logins.next();
  return s;
}

describe('ratelimit plugin', { skip: skipReason() }, () => {
  it('rejects the excess of a burst with the documented ack, then refills', async (t) => {
    const srv = await startLimited(t, { socket_rate: 1, socket_burst: 5 });
    const s = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.deepEqual(await echoes(s, 8), [0, 1, 2, 3, 4, REJECT, REJECT, REJECT]);
    await sleep(1300); // one token back (the next would take until 2 s)
    assert.deepEqual(await echoes(s, 2, 10), [10, REJECT]);
    assert.equal(s.connected, true, 'rejections alone keep the socket');
  });

  it('a socket over its own limit does not spend the others\' tokens', async (t) => {
    const srv = await startLimited(t, { socket_rate: 0.01, socket_burst: 2 });
    const a = await connected(t, srv, '/', { transports: ['websocket'] });
    const b = await connected(t, srv, '/', { transports: ['polling'] });
    assert.deepEqual(await echoes(a, 3), [0, 1, REJECT]);
    assert.deepEqual(await echoes(b, 3), [0, 1, REJECT]);
  });

  it('disconnects a flooding socket; a calm one on the same address keeps chatting', async (t) => {
    const srv = await startLimited(t, {
      socket_rate: 0.01, socket_burst: 3, disconnect_after: 5, window: 30,
      address_rate: 0.01, address_burst: 10,
    });
    const calm = await connected(t, srv, '/', { transports: ['websocket'] });
    const flood = await connected(t, srv, '/', { transports: ['websocket'] });
    const gone = once(flood, 'disconnect');
    const answers = [];
    for (let i = 0; i < 7; i++) flood.emit('echo', i, (r) => answers.push(r));
    flood.emit('echo', 7); // the fifth rejection: no ack asked, counted all the same
    assert.equal(await gone, 'io server disconnect');
    assert.deepEqual(answers, [0, 1, 2, REJECT, REJECT, REJECT, REJECT]);
    // the flooder's rejected messages cost the address nothing: 3 of its 10 tokens are gone
    assert.deepEqual(await echoes(calm, 3), [0, 1, 2]);
    assert.equal(calm.connected, true);
  });

  it('limits the sockets of one peer address together', async (t) => {
    const srv = await startLimited(t, { address_rate: 0.01, address_burst: 4 });
    const a = await connected(t, srv, '/', { transports: ['websocket'] });
    const b = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.deepEqual(await echoes(a, 2), [0, 1]);
    assert.deepEqual(await echoes(b, 3), [0, 1, REJECT]);
    assert.deepEqual(await echoes(a, 1), [REJECT]);
  });

  it('leaves exempt addresses out of the address limits', async (t) => {
    const srv = await startLimited(t, {
      address_rate: 0.01, address_burst: 1, connect_per_minute: 1, connect_burst: 1,
      address_exempt: '::1, 127.0.0.1',
    });
    const a = await connected(t, srv, '/', { transports: ['websocket'] });
    const b = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.deepEqual(await echoes(a, 2), [0, 1]);
    assert.deepEqual(await echoes(b, 2), [0, 1]);
  });

  it('limits the sockets of one user id together, and only them', async (t) => {
    const srv = await startLimited(t, { user_rate: 0.01, user_burst: 4 });
    const uid = uniqueName('uid');
    const a = await login(t, srv, uid); // a login is sent before the identity exists
    const b = await login(t, srv, uid);
    const other = await login(t, srv, uniqueName('uid'));
    assert.deepEqual(await echoes(a, 2), [0, 1]);
    assert.deepEqual(await echoes(b, 3), [0, 1, REJECT]);
    assert.deepEqual(await echoes(a, 1), [REJECT]);
    assert.deepEqual(await echoes(other, 3), [0, 1, 2]);
  });

  it('counts only the listed events', async (t) => {
    const srv = await startLimited(t, { socket_rate: 0.01, socket_burst: 1, events: 'echo' });
    const s = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.deepEqual(await echoes(s, 2), [0, REJECT]);
    const r = await emitAck(s, 'rooms');
    assert.equal(r.ok, true, `an unlisted event passes: ${JSON.stringify(r)}`);
  });

  it('limits the bytes a socket sends', async (t) => {
    const srv = await startLimited(t, { socket_bytes_rate: 1, socket_bytes_burst: 1000 });
    const s = await connected(t, srv, '/', { transports: ['websocket'] });
    const big = 'x'.repeat(600);
    assert.deepEqual(await echoes(s, 1), [0]);
    assert.equal(await emitAck(s, 'echo', big), big);
    assert.deepEqual(await emitAck(s, 'echo', big), REJECT);
  });

  it('refuses connection attempts over the per-address limit', async (t) => {
    const srv = await startLimited(t, { connect_per_minute: 1, connect_burst: 3 });
    for (let i = 0; i < 3; i++) await connected(t, srv);
    const s = connect(t, srv);
    const err = await once(s, 'connect_error');
    assert.equal(err.message, 'rate limited');
    assert.equal(s.connected, false);
  });
});
