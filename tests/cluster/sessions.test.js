'use strict';
// Recovery sessions in the history stream: the sessions a node writes in one loop iteration
// share one entry (the refresh of every connected socket each quarter window is one entry per
// 256 sockets, not one per socket), and a quiet node (no frame written for longer than the
// window) still refreshes them, so that a client whose node was killed long after its last
// message recovers on another node.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { io } = require('socket.io-client');
const { createClient } = require('redis');

const { startServer, connected, emitAck, once, sleep, uniqueName } =
  require('../e2e/lib/server');
const { startRedis, lifo, healthy } = require('./lib/cluster');

const WINDOW = 2000; // a refresh every 500 ms

test('sessions go in batches, and a quiet node refreshes them', { timeout: 60000 },
  async (test) => {
    const t = lifo(test);
    const redis = await startRedis(t);
    const prefix = uniqueName('sess');
    const args = ['--redis', redis.url, '--redis-prefix', prefix, '--recovery-window',
      String(WINDOW)];
    const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
    await healthy(a, b);
    const r = createClient({ url: redis.url });
    await r.connect();
    t.after(() => r.quit());

    const N = 40;
    const socks = [];
    for (let i = 0; i < N; i++) {
      const s = await connected(t, a);
      assert.equal((await emitAck(s, 'login', { name: `u${i}`, userid: uniqueName('u') })).ok, true);
      socks.push(s);
    }
    const bob = socks[0];
    const { id } = bob;
    const pid = bob._pid;
    const offset = bob._lastOffset;
    assert.ok(pid, 'a session');

    // quiet from now on: nothing is written to any client for longer than the window. The
    // entries counted come after the newest one once the logins' own session entries are in
    // (a login's entry may reach the stream a little after its ack).
    await sleep(300);
    const [newest] = await r.xRevRange(`${prefix}-history`, '+', '-', { COUNT: 1 });
    await sleep(WINDOW + 1000);
    const entries = await r.xRange(`${prefix}-history`, newest ? `(${newest.id}` : '-', '+');
    const kinds = entries.map((e) => e.message.t);
    assert.ok(!kinds.includes('s'), 'no entry of one session');
    const batches = entries.filter((e) => e.message.t === 'S');
    // a refresh every 500 ms: 6 in 3 s, each one entry holding every socket's session
    assert.ok(batches.length >= 4 && batches.length <= 8, `${batches.length} batches`);
    for (const e of batches) {
      const items = JSON.parse(e.message.sessions);
      assert.equal(items.length, N);
      assert.ok(items.some((it) => it[0] === 's' && it[1] === pid && it[3] === id));
    }

    // A dies; bob comes back on B within the window of A's last refresh
    a.kill();
    const back = io(b.url, { forceNew: true, reconnection: false, autoConnect: false });
    t.after(() => back.close());
    back._pid = pid;
    back._lastOffset = offset;
    const up = once(back, 'connect', 5000);
    back.connect();
    await up;
    assert.equal(back.recovered, true, 'recovered on B');
    assert.equal(back.id, id);
  });
