'use strict';
// The Engine.IO `cookie` option (--cookie NAME, --cookie-path): the polling handshake's response
// sets NAME=<sid> for a load balancer's cookie stickiness, with the attributes of the reference
// server's defaults; no later request and no WebSocket sets it, and without the option nothing
// does. The reference engine.io server (npm socket.io 4.8, cookie: true) runs alongside and must
// answer the same requests with the same Set-Cookie headers, sid aside.

const assert = require('node:assert/strict');
const http = require('node:http');
const { describe, it, before, after } = require('node:test');
const WebSocket = require('ws');
const { Server } = require('socket.io');

const { startServer, request, withTimeout, HOST } = require('./lib/server');

const SIO = '/socket.io/';

// The Set-Cookie lines of a response ([] for none), with the session id written as <sid>.
function cookies(res, sid) {
  const lines = res.headers['set-cookie'] || [];
  return lines.map((l) => (sid ? l.split(sid).join('<sid>') : l));
}

// What each kind of request gets as Set-Cookie on the server at port: the polling handshake,
// a later GET and POST of that session, a WebSocket handshake, and an upgrade of the session.
async function observe(port) {
  const hs = await request(port, { path: `${SIO}?EIO=4&transport=polling` });
  assert.equal(hs.status, 200, hs.text);
  const { sid } = JSON.parse(hs.text.slice(1));
  const q = `${SIO}?EIO=4&transport=polling&sid=${sid}`;
  const post = await request(port, {
    method: 'POST', path: q, body: '40', headers: { 'content-type': 'text/plain;charset=UTF-8' },
  });
  assert.equal(post.status, 200, post.text);
  const get = await request(port, { path: q });
  assert.equal(get.status, 200, get.text);
  const wsHeaders = (query) => withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${HOST}:${port}${SIO}?EIO=4&transport=websocket${query}`,
      { perMessageDeflate: false });
    ws.once('upgrade', (res) => {
      resolve(res.headers);
      ws.terminate();
    });
    ws.once('error', reject);
  }), 5000, 'the WebSocket handshake');
  const ws = await wsHeaders('');
  const upgrade = await wsHeaders(`&sid=${sid}`);
  return {
    sid,
    handshake: cookies(hs, sid),
    post: cookies(post),
    get: cookies(get),
    websocket: ws['set-cookie'] || [],
    upgrade: upgrade['set-cookie'] || [],
  };
}

// The reference server with the given cookie option; resolves with its port.
async function reference(t, cookie) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { cookie });
  await new Promise((resolve) => httpServer.listen(0, HOST, resolve));
  t.after(() => new Promise((resolve) => io.close(() => resolve())));
  return httpServer.address().port;
}

describe('the session cookie', () => {
  it('is not set by default, as the reference does not', async (t) => {
    const srv = await startServer(t);
    const seen = await observe(srv.port);
    for (const k of ['handshake', 'post', 'get', 'websocket', 'upgrade']) {
      assert.deepEqual(seen[k], [], `${k}: no Set-Cookie`);
    }
    const ref = await observe(await reference(t, false));
    assert.deepEqual({ ...seen, sid: '' }, { ...ref, sid: '' });
  });

  it('--cookie io: the polling handshake sets io=<sid>, nothing else does, as the reference',
    async (t) => {
      const srv = await startServer(t, { args: ['--cookie', 'io'] });
      const seen = await observe(srv.port);
      assert.deepEqual(seen.handshake, ['io=<sid>; Path=/; HttpOnly; SameSite=Lax']);
      for (const k of ['post', 'get', 'websocket', 'upgrade']) {
        assert.deepEqual(seen[k], [], `${k}: no Set-Cookie`);
      }
      const ref = await observe(await reference(t, true));
      assert.deepEqual({ ...seen, sid: '' }, { ...ref, sid: '' });
    });

  it('--cookie NAME --cookie-path PATH, as the reference with { name, path }', async (t) => {
    const srv = await startServer(t, { args: ['--cookie', 'srv_id', '--cookie-path', '/chat'] });
    const seen = await observe(srv.port);
    assert.deepEqual(seen.handshake, ['srv_id=<sid>; Path=/chat; HttpOnly; SameSite=Lax']);
    const ref = await observe(await reference(t, { name: 'srv_id', path: '/chat' }));
    assert.deepEqual({ ...seen, sid: '' }, { ...ref, sid: '' });
  });

  it('a refused handshake sets no cookie', async (t) => {
    const srv = await startServer(t, { args: ['--cookie', 'io'] });
    const res = await request(srv, { path: `${SIO}?EIO=3&transport=polling` });
    assert.equal(res.status, 400);
    assert.equal(res.headers['set-cookie'], undefined);
  });
});
