'use strict';
// Limits that protect the server from one bad client: a consumer that stops reading is
// disconnected once its send queue passes --max-send-queue, and everyone else keeps being served.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { startServer, connected, rawEngineWs, record, sleep } = require('./lib/server');

describe('limits', () => {
  it('a client that stops reading is disconnected at the send queue cap; others go on', async (t) => {
    const srv = await startServer(t, { args: ['--max-send-queue', '262144', '--max-message-bytes', '200000'] });

    // The slow consumer: a raw WebSocket that joins '/' and then stops reading its socket.
    const { ws } = await rawEngineWs(t, srv);
    ws.send('40');
    assert.match(await ws.nextText(), /^40\{"sid":"[^"]+","pid":"[^"]+"\}$/);
    ws.ws._socket.pause();

    // A healthy receiver and a sender that broadcasts far more than kernel buffers hold.
    const sender = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.equal((await sender.timeout(3000).emitWithAck('login', { name: 'sender' })).ok, true);
    const healthy = await connected(t, srv, '/', { transports: ['websocket'] });
    const chats = record(healthy, 'chat');
    const big = 'x'.repeat(100000);
    const count = 300; // 30 MB through the server
    // One message at a time (the ack comes after the broadcast), so a client that reads keeps
    // a short queue while the one that does not read piles up.
    for (let i = 0; i < count; i++) {
      const r = await sender.timeout(5000).emitWithAck('chat', { msg: big });
      assert.equal(r.ok, true, JSON.stringify(r));
      const m = await chats.next(5000);
      assert.equal(m.msg.length, big.length, 'the healthy receiver gets every message whole');
    }
    let warned = false;
    for (let i = 0; i < 50 && !warned; i++) {
      warned = /send queue over 262144 bytes, disconnecting slow client/.test(srv.output().stderr);
      if (!warned) await sleep(100);
    }
    assert.ok(warned, `the server logs the slow client: ${srv.output().stderr}`);

    // Once it reads again, the slow client finds its connection closed by the server.
    ws.ws._socket.resume();
    const info = await ws.waitClose(10000);
    assert.ok(info, 'the slow consumer was disconnected');

    // The server still serves: the sender's round trip works.
    const echoed = await sender.timeout(3000).emitWithAck('echo', 'still here');
    assert.equal(echoed, 'still here');
  });
});
