'use strict';
// Engine.IO v4 transport layer, byte for byte, over raw HTTP and raw WebSocket.
// Covers the behaviours of the official engine.io-protocol v4 test suite plus the error bodies,
// headers, limits and CORS answers that clients depend on.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const {
  startServer, request, rawWs, rawEngineWs, pollingHandshake, sleep, withTimeout,
} = require('./lib/server');

const EIO = '/engine.io/';
const SIO = '/socket.io/';
const HANDSHAKE_RE = (upgrades, pi, pt, mp) => new RegExp(
  '^0\\{"sid":"([^"]+)","upgrades":' + upgrades.replace(/[[\]]/g, '\\$&') +
  `,"pingInterval":${pi},"pingTimeout":${pt},"maxPayload":${mp}\\}$`);

const poll = (srv, base, sid, extra = {}) =>
  request(srv, { path: `${base}?EIO=4&transport=polling&sid=${sid}`, ...extra });
const push = (srv, base, sid, body, headers = { 'content-type': 'text/plain;charset=UTF-8' }) =>
  request(srv, { method: 'POST', path: `${base}?EIO=4&transport=polling&sid=${sid}`, body, headers });

function assertJsonError(res, status, code, message, what) {
  assert.equal(res.status, status, `${what}: status (body ${res.text})`);
  assert.match(String(res.headers['content-type']), /^application\/json/, `${what}: content-type`);
  assert.equal(res.text, JSON.stringify({ code, message }), `${what}: body`);
}

describe('engine.io handshake and errors (default app, /socket.io/)', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('polling handshake has exact bytes, keys, order and content type', async () => {
    const res = await request(srv, { path: `${SIO}?EIO=4&transport=polling` });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.match(res.text, HANDSHAKE_RE('["websocket"]', 25000, 20000, 1000000));
    const hs = JSON.parse(res.text.slice(1));
    assert.deepEqual(Object.keys(hs), ['sid', 'upgrades', 'pingInterval', 'pingTimeout', 'maxPayload']);
    assert.ok(hs.sid.length >= 8, 'sid is not trivially short');
    // The content-length matches the body (no trailing garbage, no chunk confusion).
    if (res.headers['content-length'] !== undefined) {
      assert.equal(Number(res.headers['content-length']), res.body.length);
    }
  });

  it('gives every session a different sid', async () => {
    const a = await pollingHandshake(srv);
    const b = await pollingHandshake(srv);
    assert.notEqual(a.sid, b.sid);
  });

  it('keeps user query parameters and cache busters harmless', async () => {
    const res = await request(srv, { path: `${SIO}?EIO=4&transport=polling&t=PZr1x2&token=abc%20d` });
    assert.equal(res.status, 200);
    assert.match(res.text, HANDSHAKE_RE('["websocket"]', 25000, 20000, 1000000));
  });

  it('reads the query in any order and length, percent-decoded', async () => {
    const token = 'x'.repeat(3000);
    const hs = RegExp(HANDSHAKE_RE('["websocket"]', 25000, 20000, 1000000));
    for (const q of ['transport=polling&EIO=4', `token=${token}&EIO=4&transport=polling`,
      `EIO=4&&query=a%26b%3Dc&transport=pol%6Cing&`, `t=${'y'.repeat(40)}&transport=polling&EIO=4`]) {
      const res = await request(srv, { path: `${SIO}?${q}` });
      assert.equal(res.status, 200, `${q.slice(0, 60)}: ${res.text}`);
      assert.match(res.text, hs, q.slice(0, 60));
    }
    // a token before EIO on the WebSocket handshake, as the client's `query` option sends it
    const ws = rawWs(null, srv, `${SIO}?token=${token}&EIO=4&transport=websocket`);
    assert.match(await ws.nextText(), /^0\{"sid":/);
    ws.close();
    // a sid too long to be one is an unknown session, not a new one
    const sid = 's'.repeat(200);
    assertJsonError(await poll(srv, SIO, sid), 400, 1, 'Session ID unknown', 'long sid, GET');
    assertJsonError(await request(srv, { path: `${SIO}?sid=${sid}&EIO=4&transport=polling` }),
      400, 1, 'Session ID unknown', 'long sid first');
  });

  it('unknown or missing transport -> 400 code 0', async () => {
    assertJsonError(await request(srv, { path: `${SIO}?EIO=4&transport=abc` }),
      400, 0, 'Transport unknown', 'transport=abc');
    assertJsonError(await request(srv, { path: `${SIO}?EIO=4` }),
      400, 0, 'Transport unknown', 'no transport');
  });

  it('unknown sid -> 400 code 1 for GET and POST', async () => {
    assertJsonError(await poll(srv, SIO, 'doesnotexist'), 400, 1, 'Session ID unknown', 'GET');
    assertJsonError(await push(srv, SIO, 'doesnotexist', '4hi'), 400, 1, 'Session ID unknown', 'POST');
  });

  it('unknown sid on a WebSocket is refused', async () => {
    const ws = rawWs(null, srv, `${SIO}?EIO=4&transport=websocket&sid=doesnotexist`);
    await ws.waitClose();
    assert.equal(ws.refusedStatus, 400, `handshake refused with 400 (${ws.error})`);
  });

  it('handshake with POST or PUT -> 400 code 2', async () => {
    assertJsonError(await request(srv, { method: 'POST', path: `${SIO}?EIO=4&transport=polling`, body: '4x' }),
      400, 2, 'Bad handshake method', 'POST');
    assertJsonError(await request(srv, { method: 'PUT', path: `${SIO}?EIO=4&transport=polling` }),
      400, 2, 'Bad handshake method', 'PUT');
  });

  it('EIO=3, EIO=abc or no EIO -> 400 code 5', async () => {
    for (const q of ['EIO=3&', 'EIO=abc&', '']) {
      assertJsonError(await request(srv, { path: `${SIO}?${q}transport=polling` }),
        400, 5, 'Unsupported protocol version', q || 'no EIO');
    }
  });

  it('a plain GET with transport=websocket (no upgrade) -> 400 code 3', async () => {
    assertJsonError(await request(srv, { path: `${SIO}?EIO=4&transport=websocket` }),
      400, 3, 'Bad request', 'websocket without upgrade');
  });

  it('WebSocket with a bad EIO or transport is refused', async () => {
    for (const q of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=4', 'EIO=4&transport=abc']) {
      const ws = rawWs(null, srv, `${SIO}?${q}`);
      const info = await ws.waitClose();
      assert.ok(ws.refusedStatus === 400 || info.code !== 1000, `${q}: refused, got ${ws.refusedStatus} / ${info.code}`);
      assert.equal(ws.frames.length, 0, `${q}: no handshake frame`);
    }
  });

  it('WebSocket-only handshake: first frame with upgrades []', async () => {
    const ws = rawWs(null, srv, `${SIO}?EIO=4&transport=websocket`);
    const first = await ws.nextText();
    assert.match(first, HANDSHAKE_RE('[]', 25000, 20000, 1000000));
    ws.close();
  });

  it('a second concurrent GET -> 400, the pending GET gets 1, the session is closed', async () => {
    const { sid } = await pollingHandshake(srv);
    const first = poll(srv, SIO, sid);
    await sleep(50);
    const second = await poll(srv, SIO, sid, { path: `${SIO}?EIO=4&transport=polling&sid=${sid}&t=burst` });
    // The Node server answers the overlapping request 400 with an empty body (polling.ts).
    assert.equal(second.status, 400, `second GET: ${second.text}`);
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.equal(r1.text, '1');
    assertJsonError(await poll(srv, SIO, sid), 400, 1, 'Session ID unknown', 'after overlap');
  });

  it('POST with application/octet-stream -> 400', async () => {
    const { sid } = await pollingHandshake(srv);
    const res = await push(srv, SIO, sid, Buffer.from([1, 2, 3]), { 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 400);
  });

  it('an aborted pending GET closes the session', async () => {
    const { sid } = await pollingHandshake(srv);
    const ctl = new AbortController();
    const pending = poll(srv, SIO, sid, { signal: ctl.signal }).catch(() => 'aborted');
    await sleep(50);
    ctl.abort();
    assert.equal(await pending, 'aborted');
    await sleep(100);
    assertJsonError(await poll(srv, SIO, sid, { timeoutMs: 2000 }), 400, 1, 'Session ID unknown', 'after abort');
  });

  it('polling on a WebSocket session with its sid is refused', async () => {
    const { ws, handshake } = await rawEngineWs(null, srv);
    const res = await poll(srv, SIO, handshake.sid);
    assert.equal(res.status, 400, `got ${res.status} ${res.text}`);
    assert.equal(res.text, '{"code":3,"message":"Bad request"}');
    ws.close();
  });
});

describe('engine.io messages (engine-echo app, /engine.io/)', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { app: 'engine-echo' });
  });
  after(() => srv.cleanup());

  it('serves Engine.IO at /engine.io/ (and not at /socket.io/)', async () => {
    const res = await request(srv, { path: `${EIO}?EIO=4&transport=polling` });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.match(res.text, HANDSHAKE_RE('["websocket"]', 25000, 20000, 1000000));
    const other = await request(srv, { path: `${SIO}?EIO=4&transport=polling` });
    assert.notEqual(other.status, 200);
  });

  it('POST 4hello is answered ok and echoed on the next GET', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const res = await push(srv, EIO, sid, '4hello');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    const got = await poll(srv, EIO, sid);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(got.text, '4hello');
  });

  it('several packets in one POST come back joined by \\x1e', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    assert.equal((await push(srv, EIO, sid, '4test1\x1e4test2\x1e4test3')).text, 'ok');
    assert.equal((await poll(srv, EIO, sid)).text, '4test1\x1e4test2\x1e4test3');
  });

  it('binary over polling goes as b<base64>, UTF-8 text unchanged', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    assert.equal((await push(srv, EIO, sid, '4hello\x1ebAQIDBA==\x1e4h\u00e9\u{1F600}')).text, 'ok');
    const got = await poll(srv, EIO, sid);
    assert.equal(got.body.toString('utf8'), '4hello\x1ebAQIDBA==\x1e4h\u00e9\u{1F600}');
  });

  it('a GET waits for data instead of answering empty', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const t0 = Date.now();
    const pending = poll(srv, EIO, sid);
    await sleep(100);
    assert.equal((await push(srv, EIO, sid, '4late')).text, 'ok');
    const got = await pending;
    assert.equal(got.text, '4late');
    assert.ok(Date.now() - t0 >= 90, 'the GET was held until data came');
  });

  it('an unparseable POST closes the session', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    // The POST itself may be answered 400 or ok, or cut off: the session must be gone after it.
    await push(srv, EIO, sid, 'abc').catch(() => null);
    assertJsonError(await poll(srv, EIO, sid), 400, 1, 'Session ID unknown', 'after bad packet');
  });

  it('client close packet: pending GET gets 6, then the sid is unknown', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const pending = poll(srv, EIO, sid);
    await sleep(30);
    const res = await push(srv, EIO, sid, '1');
    assert.equal(res.status, 200);
    const got = await pending;
    assert.equal(got.status, 200);
    assert.equal(got.text, '6');
    assertJsonError(await poll(srv, EIO, sid), 400, 1, 'Session ID unknown', 'after close');
  });

  it('WebSocket: text echoed as text, binary as a raw binary frame', async () => {
    const { ws, handshake } = await rawEngineWs(null, srv, EIO);
    assert.deepEqual(handshake.upgrades, []);
    ws.send('4hello');
    assert.equal(await ws.nextText(), '4hello');
    ws.send(Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3, 4]));
    ws.send('4h\u00e9\u{1F600}');
    assert.equal(await ws.nextText(), '4h\u00e9\u{1F600}');
    ws.close();
  });

  it('WebSocket: an invalid packet closes the connection', async () => {
    const { ws } = await rawEngineWs(null, srv, EIO);
    ws.send('abc');
    await ws.waitClose();
  });

  it('WebSocket: a close packet closes the connection', async () => {
    const { ws } = await rawEngineWs(null, srv, EIO);
    ws.send('1');
    await ws.waitClose();
  });

  it('upgrade: 2probe -> 3probe, pending GET gets 6, queue flushed after 5, nothing before', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const pending = poll(srv, EIO, sid);
    await sleep(30);
    const ws = rawWs(null, srv, `${EIO}?EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await withTimeout(ws.opened, 3000, 'upgrade WebSocket open');
    ws.send('2probe');
    assert.equal(await ws.nextText(), '3probe');
    const noop = await pending;
    assert.equal(noop.status, 200);
    assert.equal(noop.text, '6');
    // A new GET during the upgrade is also ended with a noop.
    const again = await poll(srv, EIO, sid);
    assert.equal(again.text, '6');
    // Data sent over polling during the upgrade is echoed into the queue...
    assert.equal((await push(srv, EIO, sid, '4queued')).text, 'ok');
    // ...and nothing is sent on the WebSocket before the client's 5.
    assert.deepEqual(await ws.drain(150), []);
    ws.send('5');
    assert.equal(await ws.nextText(), '4queued');
    ws.send('4hello');
    assert.equal(await ws.nextText(), '4hello');
    ws.close();
  });

  it('after the upgrade, polling with that sid -> 400 and a second WebSocket is closed', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const ws = rawWs(null, srv, `${EIO}?EIO=4&transport=websocket&sid=${sid}`, { autoPong: true });
    await withTimeout(ws.opened, 3000, 'upgrade WebSocket open');
    ws.send('2probe');
    assert.equal(await ws.nextText(), '3probe');
    ws.send('5');
    await sleep(50);
    const res = await poll(srv, EIO, sid);
    assert.equal(res.status, 400, `poll after upgrade: ${res.text}`);
    assert.equal(res.text, '{"code":3,"message":"Bad request"}');
    const ws2 = rawWs(null, srv, `${EIO}?EIO=4&transport=websocket&sid=${sid}`);
    await ws2.waitClose();
    assert.equal(ws2.frames.filter((f) => f.data !== '2').length, 0, 'second WebSocket gets no data');
    ws.send('4still');
    assert.equal(await ws.nextText(), '4still');
    ws.close();
  });
});

describe('engine.io heartbeat (engine-echo, --ping-interval 300 --ping-timeout 200)', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { app: 'engine-echo', args: ['--ping-interval', '300', '--ping-timeout', '200'] });
  });
  after(() => srv.cleanup());

  it('handshake announces the configured heartbeat', async () => {
    const res = await request(srv, { path: `${EIO}?EIO=4&transport=polling` });
    assert.match(res.text, HANDSHAKE_RE('["websocket"]', 300, 200, 1000000));
  });

  it('server pings every pingInterval over polling and keeps the session while answered', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const t0 = Date.now();
    for (let i = 1; i <= 3; i++) {
      const got = await poll(srv, EIO, sid);
      assert.equal(got.status, 200);
      assert.equal(got.text, '2', `ping #${i}`);
      const at = Date.now() - t0;
      // Pings are due at 300, 600, 900 ms from the handshake: no drift beyond scheduling noise.
      assert.ok(at >= 300 * i - 30 && at < 300 * i + 250, `ping #${i} at ${at} ms`);
      assert.equal((await push(srv, EIO, sid, '3')).text, 'ok');
    }
  });

  it('no pong within pingTimeout closes a polling session', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const t0 = Date.now();
    const got = await poll(srv, EIO, sid);
    assert.equal(got.text, '2');
    // Ping at ~300 ms, deadline at ~500 ms; allow a margin.
    await sleep(Math.max(0, 650 - (Date.now() - t0)));
    assertJsonError(await poll(srv, EIO, sid), 400, 1, 'Session ID unknown', 'after ping timeout');
  });

  it('a session without any poll also times out (pingInterval + pingTimeout)', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    await sleep(300 + 200 + 150);
    assertJsonError(await poll(srv, EIO, sid), 400, 1, 'Session ID unknown', 'idle session');
  });


  it('WebSocket: pings every pingInterval, answered with pongs', async () => {
    const { ws } = await rawEngineWs(null, srv, EIO);
    for (let i = 0; i < 3; i++) {
      assert.equal(await ws.nextText(1000), '2');
      ws.send('3');
    }
    assert.ok(ws.isOpen);
    ws.close();
  });

  it('WebSocket: no pong closes the connection within pingInterval + pingTimeout', async () => {
    const t0 = Date.now();
    const { ws } = await rawEngineWs(null, srv, EIO);
    assert.equal(await ws.nextText(1000), '2');
    await ws.waitClose(1000);
    const at = Date.now() - t0;
    assert.ok(at >= 450 && at < 1200, `closed at ${at} ms`);
  });

  it('a client ping 2 (other than 2probe) is a protocol error: the connection closes', async () => {
    // Engine.IO v4 heartbeats go server -> client only; no pong is ever sent for it.
    const { ws } = await rawEngineWs(null, srv, EIO);
    ws.send('4a');
    assert.equal(await ws.nextText(), '4a');
    ws.send('2');
    await ws.waitClose(400);
    assert.ok(!ws.frames.some((f) => f.data === '3'), `no pong to a client ping: ${JSON.stringify(ws.frames)}`);
  });
});

describe('engine.io limits', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { app: 'engine-echo', args: ['--max-payload', '1000'] });
  });
  after(() => srv.cleanup());

  it('handshake announces --max-payload', async () => {
    const hs = await pollingHandshake(srv, EIO);
    assert.equal(hs.maxPayload, 1000);
  });

  it('POST body of exactly maxPayload is accepted, one byte more -> 413', async () => {
    const { sid } = await pollingHandshake(srv, EIO);
    const ok = await push(srv, EIO, sid, '4' + 'x'.repeat(999));
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'ok');
    assert.equal((await poll(srv, EIO, sid)).text, '4' + 'x'.repeat(999));
    const big = await push(srv, EIO, sid, '4' + 'x'.repeat(1000)).catch((e) => ({ status: 'reset', text: e.message }));
    assert.equal(big.status, 413, `oversized POST: ${big.text}`);
  });

  it('a WebSocket message over maxPayload closes the connection', async () => {
    const { ws } = await rawEngineWs(null, srv, EIO);
    ws.send('4' + 'y'.repeat(500));
    assert.equal(await ws.nextText(), '4' + 'y'.repeat(500));
    ws.send('4' + 'y'.repeat(5000));
    const info = await ws.waitClose();
    assert.equal(info.code, 1009, 'closed as "message too big", as the reference server does');
    assert.equal(ws.frames.length, 0, 'no echo of the oversized message');
  });

  it('a peer that never answers the close frame is cut after the close timeout', async (t) => {
    // by hand over TCP: a WebSocket library would answer the close frame itself
    const sock = net.connect(srv.port, srv.host);
    t.after(() => sock.destroy());
    let got = Buffer.alloc(0);
    const ended = new Promise((resolve) => sock.on('close', resolve));
    sock.on('data', (d) => { got = Buffer.concat([got, d]); });
    sock.write(`GET ${EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${srv.host}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n\r\n`);
    const until = async (what, f) => {
      for (let i = 0; i < 100 && !f(); i++) await sleep(20);
      assert.ok(f(), `${what}: got ${JSON.stringify(got.toString('latin1'))}`);
    };
    await until('upgrade and open packet', () => got.includes('\r\n\r\n') && got.includes('"sid"'));
    // one masked text frame over maxPayload (1000)
    const payload = Buffer.from('4' + 'z'.repeat(1500));
    const mask = crypto.randomBytes(4);
    const head = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    sock.write(Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4])]));
    const close1009 = Buffer.from([0x88, 0x02, 0x03, 0xf1]);
    await until('close frame 1009', () => got.includes(close1009));
    const t0 = Date.now();
    await withTimeout(ended, 9000, 'the server closing the TCP connection');
    const waited = Date.now() - t0;
    assert.ok(waited > 4000 && waited < 8000, `cut ${waited} ms after its close frame (5 s)`);
  });
});

describe('engine.io default payload limit', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('POST over 1000000 bytes -> 413', async () => {
    const { sid } = await pollingHandshake(srv);
    const res = await push(srv, SIO, sid, '4' + 'z'.repeat(1000000)).catch((e) => ({ status: 'reset', text: e.message }));
    assert.equal(res.status, 413);
  });
});

describe('CORS', () => {
  it('a WebSocket from another site is refused 403; same origin, no origin and listed ones open', async (t) => {
    const open = async (srv, origin) => {
      const ws = rawWs(t, srv, `${SIO}?EIO=4&transport=websocket`, { headers: origin ? { origin } : {} });
      const first = await ws.nextText().catch(() => null);
      ws.close();
      return first === null ? ws.refusedStatus : 'open';
    };
    const srv = await startServer(t, {});
    const self = `http://127.0.0.1:${srv.port}`;
    assert.equal(await open(srv, 'http://evil.example'), 403);
    assert.equal(await open(srv, 'null'), 403);
    assert.equal(await open(srv, `http://127.0.0.1:${srv.port + 1}`), 403);
    assert.equal(await open(srv, 'http://' + 'a'.repeat(400)), 403); // too long to read
    assert.equal(await open(srv, self), 'open');
    assert.equal(await open(srv, null), 'open');
    const listed = await startServer(t, { args: ['--cors-origin', 'http://a.example'] });
    assert.equal(await open(listed, 'http://a.example'), 'open');
    assert.equal(await open(listed, 'http://evil.example'), 403);
  });

  it('--cors-origin *: preflight 204 with Access-Control-Allow-Origin', async (t) => {
    const srv = await startServer(t, { args: ['--cors-origin', '*'] });
    const res = await request(srv, {
      method: 'OPTIONS',
      path: `${SIO}?EIO=4&transport=polling`,
      headers: {
        origin: 'http://x.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const hs = await request(srv, { path: `${SIO}?EIO=4&transport=polling`, headers: { origin: 'http://x.example' } });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers['access-control-allow-origin'], '*');
  });

  it('--cors-origin list + --cors-credentials: Origin echoed, credentials, Vary', async (t) => {
    const srv = await startServer(t, { args: ['--cors-origin', 'http://a.example,http://c.example', '--cors-credentials'] });
    const pre = await request(srv, {
      method: 'OPTIONS',
      path: `${SIO}?EIO=4&transport=polling`,
      headers: { origin: 'http://a.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'http://a.example');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.match(String(pre.headers.vary), /\bOrigin\b/);

    const hs = await request(srv, { path: `${SIO}?EIO=4&transport=polling`, headers: { origin: 'http://c.example' } });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers['access-control-allow-origin'], 'http://c.example');
    assert.equal(hs.headers['access-control-allow-credentials'], 'true');
    assert.match(String(hs.headers.vary), /\bOrigin\b/);
    const { sid } = JSON.parse(hs.text.slice(1));
    const p = await request(srv, {
      method: 'POST',
      path: `${SIO}?EIO=4&transport=polling&sid=${sid}`,
      headers: { origin: 'http://a.example', 'content-type': 'text/plain;charset=UTF-8' },
      body: '40',
    });
    assert.equal(p.status, 200);
    assert.equal(p.headers['access-control-allow-origin'], 'http://a.example');

    // An origin not in the list is not allowed.
    const bad = await request(srv, {
      method: 'OPTIONS',
      path: `${SIO}?EIO=4&transport=polling`,
      headers: { origin: 'http://b.example', 'access-control-request-method': 'POST' },
    });
    assert.notEqual(bad.headers['access-control-allow-origin'], 'http://b.example');
    assert.notEqual(bad.headers['access-control-allow-origin'], '*');
  });
});
