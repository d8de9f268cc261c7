'use strict';
// Clean shutdown: SIGTERM / SIGINT with clients on every transport ends each client's connection
// promptly (no hang) and the process exits 0.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const {
  startServer, connected, once, withTimeout, request, sleep, rawEngineWs,
} = require('./lib/server');

const CLOSE_REASONS = ['transport close', 'transport error', 'io server disconnect'];

describe('shutdown', () => {
  it('SIGTERM with connected clients: each sees a disconnect, exit code 0', async (t) => {
    const srv = await startServer(t, {});
    const clients = await Promise.all([
      connected(t, srv, '/', { transports: ['polling'] }),
      connected(t, srv, '/', { transports: ['websocket'] }),
      connected(t, srv, '/'),
      connected(t, srv, '/chat', { transports: ['websocket'] }),
    ]);
    clients[0].emit('login', { name: 'p', userid: 'p' });
    await sleep(100);
    const drops = clients.map((c) => once(c, 'disconnect', 5000));
    const t0 = Date.now();
    await srv.stop(5000);
    const reasons = await withTimeout(Promise.all(drops), 5000, 'client disconnects');
    for (const r of reasons) assert.ok(CLOSE_REASONS.includes(r), `disconnect reason ${r}`);
    assert.ok(Date.now() - t0 < 5000);
    await assert.rejects(request(srv, { path: '/healthz', timeoutMs: 1000 }), 'no longer listening');
  });

  it('SIGTERM: a WebSocket gets the close packet, then a close frame 1000 after its answer', async (t) => {
    const srv = await startServer(t, {});
    const { ws } = await rawEngineWs(t, srv);
    const t0 = Date.now();
    await srv.stop(3000);
    assert.equal(await ws.nextText(), '1', 'the Engine.IO close packet');
    const info = await ws.waitClose();
    assert.equal(info.code, 1000, 'a close frame, not a dropped connection (1006)');
    assert.ok(Date.now() - t0 < 3000);
  });

  it('SIGTERM with a pending long-poll still exits 0 promptly', async (t) => {
    const srv = await startServer(t, {});
    const hs = await request(srv, { path: '/socket.io/?EIO=4&transport=polling' });
    const { sid } = JSON.parse(hs.text.slice(1));
    const pending = request(srv, { path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` }).catch((e) => e);
    await sleep(50);
    const t0 = Date.now();
    await srv.stop(3000);
    assert.ok(Date.now() - t0 < 3000);
    const res = await pending;
    if (!(res instanceof Error)) assert.ok(res.status === 200 || res.status >= 400, `pending GET answered ${res.status}`);
  });

  it('SIGINT exits 0', async (t) => {
    const srv = await startServer(t, {});
    await connected(t, srv, '/', { transports: ['websocket'] });
    srv.proc.kill('SIGINT');
    const res = await withTimeout(srv.exited, 5000, 'exit after SIGINT');
    assert.deepEqual(res, { code: 0, signal: null });
  });

  it('an idle server exits 0 on SIGTERM', async (t) => {
    const srv = await startServer(t, {});
    await srv.stop(3000);
  });
});
