'use strict';
// Socket.IO v5 packets, byte for byte, through a raw WebSocket (and raw polling).
// Covers the behaviours of the official socket.io-protocol v5 test suite plus number, string and
// packet-validation details that a C implementation can easily get wrong.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const {
  startServer, request, rawEngineWs, pollingHandshake, sleep,
} = require('./lib/server');

// The CONNECT answer: {"sid"}, plus the private session id "pid" where connection state recovery
// is on (the chat app; the conformance app leaves it off, as the reference server does).
const SID_RE = (prefix) => new RegExp('^' + prefix.replace(/[/]/g, '\\/') +
  '\\{"sid":"([^"]+)"(?:,"pid":"([^"]+)")?\\}$');

// Opens a raw WebSocket session, sends CONNECT for '/', checks the answer (and, on the
// conformance app, the 'auth' event). Resolves with { ws, sid, engineSid }.
async function sioConnect(srv, { auth = '', conformance = true } = {}) {
  const { ws, handshake } = await rawEngineWs(null, srv, '/socket.io/', { autoPong: true });
  ws.send('40' + auth);
  const ans = await ws.nextText();
  const m = SID_RE('40').exec(ans);
  assert.ok(m, `CONNECT answer: ${ans}`);
  if (conformance) assert.equal(await ws.nextText(), `42["auth",${auth || '{}'}]`);
  return { ws, sid: m[1], engineSid: handshake.sid };
}

describe('socket.io packets on the chat app', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { args: ['--connect-timeout', '400'] });
  });
  after(() => srv.cleanup());

  it('40 -> 40{"sid":...} with a Socket.IO id distinct from the engine sid', async () => {
    const { ws, handshake } = await rawEngineWs(null, srv);
    ws.send('40');
    const ans = await ws.nextText();
    const m = SID_RE('40').exec(ans);
    assert.ok(m, `answer ${ans}`);
    assert.notEqual(m[1], handshake.sid);
    assert.deepEqual(Object.keys(JSON.parse(ans.slice(2))), ['sid', 'pid']);
    assert.notEqual(m[2], m[1], 'the pid is not the socket id');
    ws.close();
  });

  it('40/chat, -> 40/chat,{"sid":...}', async () => {
    const { ws, handshake } = await rawEngineWs(null, srv);
    ws.send('40/chat,');
    const ans = await ws.nextText();
    const m = SID_RE('40/chat,').exec(ans);
    assert.ok(m, `answer ${ans}`);
    assert.notEqual(m[1], handshake.sid);
    ws.close();
  });

  it('one engine session carries several namespaces, each with its own id', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40');
    const a = SID_RE('40').exec(await ws.nextText());
    ws.send('40/chat,');
    const b = SID_RE('40/chat,').exec(await ws.nextText());
    assert.ok(a && b);
    assert.notEqual(a[1], b[1]);
    ws.close();
  });

  it('40/nope, -> 44/nope,{"message":"Invalid namespace"} and the engine stays open', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40/nope,');
    assert.equal(await ws.nextText(), '44/nope,{"message":"Invalid namespace"}');
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    ws.close();
  });

  it('40/random without comma -> 44/random,{"message":"Invalid namespace"}', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40/random');
    assert.equal(await ws.nextText(), '44/random,{"message":"Invalid namespace"}');
    ws.close();
  });

  it('no CONNECT within --connect-timeout closes the connection', async () => {
    const t0 = Date.now();
    const { ws } = await rawEngineWs(null, srv);
    await ws.waitClose(2500);
    const at = Date.now() - t0;
    assert.ok(at >= 350 && at < 2000, `closed after ${at} ms (connect timeout 400)`);
  });

  it('a CONNECT in time keeps the connection past --connect-timeout', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    await sleep(600);
    assert.ok(ws.isOpen, 'still open after the connect timeout');
    ws.close();
  });

  const closes = {
    'an event for a namespace not joined': '42/chat,["chat message",{"msg":"x"}]',
    'unknown packet type 49': '49',
    'unknown packet type 4abc': '4abc',
    'EVENT payload {}': '42{}',
    'EVENT payload []': '42[]',
    'EVENT payload a string': '42"chat"',
    'EVENT name an object': '42[{}]',
    'EVENT truncated JSON': '42["chat",',
    'EVENT with trailing garbage': '42["chat",{}]x',
    'EVENT with an invalid ack id': '42abc["chat",{}]',
    'ACK with a non-array payload': '431{}',
    'binary EVENT with a bad attachment count': '45x-["chat",{}]',
    'CONNECT payload not an object': '40/chat,"x"',
  };
  for (const name of ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']) {
    closes[`reserved event name ${name}`] = `42["${name}"]`;
  }
  for (const [what, pkt] of Object.entries(closes)) {
    it(`closes the connection on ${what}: ${pkt}`, async () => {
      const { ws } = await rawEngineWs(null, srv);
      ws.send('40');
      assert.match(await ws.nextText(), SID_RE('40'));
      ws.send(pkt);
      await ws.waitClose(2000);
    });
  }

  it('forceDisconnect: the server sends exactly 41', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    ws.send('42["forceDisconnect"]');
    assert.equal(await ws.nextText(), '41');
    ws.close();
  });

  it('acks on a namespace carry it: 42/chat,5["echo",...] -> 43/chat,5[...]', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40/chat,');
    assert.match(await ws.nextText(), SID_RE('40/chat,'));
    ws.send('42/chat,5["echo","x",{"y":[1.5,null]}]');
    assert.equal(await ws.nextText(), '43/chat,5["x",{"y":[1.5,null]}]');
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    ws.send('4212["echo"]');
    assert.equal(await ws.nextText(), '4312[]');
    ws.close();
  });

  it('valid events keep the connection open (string and numeric event names)', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    ws.send('42["no-such-handler",1]');
    ws.send('42[1,"numeric event name"]');
    ws.send('427["no-such-handler-with-ack"]');
    await sleep(200);
    assert.ok(ws.isOpen, 'still open');
    ws.close();
  });

  it('41 leaves the namespace without an answer; the engine session stays open', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40');
    const first = SID_RE('40').exec(await ws.nextText());
    ws.send('41');
    assert.deepEqual(await ws.drain(200), [], 'no answer to 41');
    assert.ok(ws.isOpen);
    ws.send('40');
    const second = SID_RE('40').exec(await ws.nextText());
    assert.ok(second);
    assert.notEqual(second[1], first[1], 'a new namespace socket after reconnecting');
    ws.close();
  });

  it('41/chat, leaves /chat only', async () => {
    const { ws } = await rawEngineWs(null, srv);
    ws.send('40/chat,');
    assert.match(await ws.nextText(), SID_RE('40/chat,'));
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    ws.send('41/chat,');
    await sleep(100);
    // Still connected to '/': a packet there is fine; one for /chat now closes.
    ws.send('42["no-such-handler"]');
    await sleep(100);
    assert.ok(ws.isOpen);
    ws.send('42/chat,["chat message",{"name":"a","room":"r","msg":"m"}]');
    await ws.waitClose(2000);
  });
});

describe('socket.io packets on the conformance app', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { app: 'conformance' });
  });
  after(() => srv.cleanup());

  it('engine handshake uses the conformance settings', async () => {
    const hs = await pollingHandshake(srv);
    assert.equal(hs.pingInterval, 300);
    assert.equal(hs.pingTimeout, 200);
    assert.equal(hs.maxPayload, 1000000);
  });

  it('CONNECT to / emits auth with {} and with the auth payload', async () => {
    (await sioConnect(srv)).ws.close();
    (await sioConnect(srv, { auth: '{"token":"123"}' })).ws.close();
  });

  it('CONNECT to /custom emits auth there, with and without a payload', async () => {
    for (const auth of ['', '{"token":"abc"}']) {
      const { ws } = await rawEngineWs(null, srv, '/socket.io/', { autoPong: true });
      ws.send('40/custom,' + auth);
      assert.match(await ws.nextText(), SID_RE('40/custom,'));
      assert.equal(await ws.nextText(), `42/custom,["auth",${auth || '{}'}]`);
      ws.close();
    }
  });

  it('an invalid handshake 4abc closes the connection', async () => {
    const { ws } = await rawEngineWs(null, srv, '/socket.io/', { autoPong: true });
    ws.send('4abc');
    await ws.waitClose();
  });

  it('no CONNECT within connectTimeout (1000 ms) closes even when pongs are sent', async () => {
    const t0 = Date.now();
    const { ws } = await rawEngineWs(null, srv, '/socket.io/', { autoPong: true });
    await ws.waitClose(3000);
    const at = Date.now() - t0;
    assert.ok(at >= 900 && at < 2500, `closed after ${at} ms`);
  });

  it('41 is not answered: the next frame is a ping', async () => {
    const { ws, handshake } = await rawEngineWs(null, srv);
    ws.send('40');
    assert.match(await ws.nextText(), SID_RE('40'));
    assert.equal(await ws.nextText(), '42["auth",{}]');
    ws.send('41');
    assert.equal(await ws.nextText(1000), '2');
    ws.send('3');
    assert.ok(ws.isOpen);
    assert.ok(handshake.sid);
    ws.close();
  });

  it('connect then disconnect /custom; messages to / still answered', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('40/custom,');
    assert.match(await ws.nextText(), SID_RE('40/custom,'));
    assert.equal(await ws.nextText(), '42/custom,["auth",{}]');
    ws.send('41/custom,');
    ws.send('42["message","message to main namespace"]');
    assert.equal(await ws.nextText(), '42["message-back","message to main namespace"]');
    ws.close();
  });

  it('plain-text event round trip', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await ws.nextText(), '42["message-back",1,"2",{"3":[true]}]');
    ws.send('42["message",null,false,{"b":1,"a":[{}]},[]]');
    assert.equal(await ws.nextText(), '42["message-back",null,false,{"b":1,"a":[{}]},[]]');
    ws.send('42["message"]');
    assert.equal(await ws.nextText(), '42["message-back"]');
    ws.close();
  });

  it('numbers come out as JavaScript prints them', async () => {
    const { ws } = await sioConnect(srv);
    const input = '42["message",0.1,1e21,12345678901234567890,-0,1.5e-7]';
    ws.send(input);
    const expected = '42["message-back",0.1,1e+21,12345678901234567000,0,1.5e-7]';
    assert.equal(expected, '42' + JSON.stringify(['message-back', ...JSON.parse(input.slice(2)).slice(1)]));
    assert.equal(await ws.nextText(), expected);
    const more = '[1.0,-1.5,100,1e2,2.5e-3,123456789012,9007199254740993,0.000001,1e-7,5e-324,1.7976931348623157e308,-1e21,123e18,3.14159]';
    ws.send(`42["message",${more.slice(1)}`);
    assert.equal(await ws.nextText(), `42["message-back",${JSON.stringify(JSON.parse(more)).slice(1)}`);
    ws.close();
  });

  it('unicode escapes come back as raw UTF-8, control characters escaped like JSON.stringify', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('42["message","\\u00e9\\ud83d\\ude00"]');
    assert.equal(await ws.nextText(), '42["message-back","\u00e9\u{1F600}"]');
    const tricky = '["message","a\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/\\/\u00e9\u{1F600}\u2028"]';
    ws.send('42' + tricky);
    const want = '42' + JSON.stringify(['message-back', ...JSON.parse(tricky).slice(1)]);
    assert.equal(await ws.nextText(), want);
    ws.close();
  });

  it('object keys come out in JavaScript property order (array indices first)', async () => {
    const { ws } = await sioConnect(srv);
    const obj = '{"b":1,"2":0,"a":2,"1":0,"01":5,"-1":6,"4294967294":7,"4294967295":8,"":9}';
    ws.send(`42["message",${obj}]`);
    const want = `42["message-back",${JSON.stringify(JSON.parse(obj))}]`;
    assert.equal(want, '42["message-back",{"1":0,"2":0,"4294967294":7,"b":1,"a":2,"01":5,"-1":6,"4294967295":8,"":9}]');
    assert.equal(await ws.nextText(), want);
    ws.close();
  });

  it('acks: 421["message-with-ack",1,"2"] -> 431[1,"2"]', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('421["message-with-ack",1,"2"]');
    assert.equal(await ws.nextText(), '431[1,"2"]');
    ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await ws.nextText(), '43456[1,"2",{"3":[false]}]');
    ws.send('420["message-with-ack"]');
    assert.equal(await ws.nextText(), '430[]');
    ws.close();
  });

  it('binary event: 451-[...placeholder] + frame comes back the same way', async () => {
    const { ws } = await sioConnect(srv);
    const bin = Buffer.from([0, 1, 2, 3, 255, 254, 0x1e, 0x34]);
    ws.send('451-["message",{"_placeholder":true,"num":0}]');
    ws.send(bin);
    assert.equal(await ws.nextText(), '451-["message-back",{"_placeholder":true,"num":0}]');
    assert.deepEqual(await ws.nextBinary(), bin);
    ws.close();
  });

  it('binary event with two attachments', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(Buffer.from([4, 5, 6]));
    assert.equal(await ws.nextText(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3]));
    assert.deepEqual(await ws.nextBinary(), Buffer.from([4, 5, 6]));
    ws.close();
  });

  it('binary event with an ack: 452-789[...] -> 462-789[...]', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(Buffer.from([4, 5, 6]));
    assert.equal(await ws.nextText(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual(await ws.nextBinary(), Buffer.from([1, 2, 3]));
    assert.deepEqual(await ws.nextBinary(), Buffer.from([4, 5, 6]));
    ws.close();
  });

  it('binary nested in objects and an empty binary', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('452-["message",{"a":{"_placeholder":true,"num":1},"b":[{"_placeholder":true,"num":0}]}]');
    ws.send(Buffer.from([9]));
    ws.send(Buffer.alloc(0));
    const head = await ws.nextText();
    const m = /^452-(\[.*\])$/.exec(head);
    assert.ok(m, `binary event header: ${head}`);
    const bins = [await ws.nextBinary(), await ws.nextBinary()];
    // The Node encoder renumbers attachments in document order; any numbering that rebuilds the
    // same value is valid, so rebuild and compare.
    const rebuild = (v) => {
      if (v && typeof v === 'object' && v._placeholder === true) return bins[v.num];
      if (Array.isArray(v)) return v.map(rebuild);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x)]));
      return v;
    };
    assert.deepEqual(rebuild(JSON.parse(m[1])), ['message-back', { a: Buffer.alloc(0), b: [Buffer.from([9])] }]);
    ws.close();
  });

  it('10 attachments are accepted and echoed', async () => {
    const { ws } = await sioConnect(srv);
    const ph = Array.from({ length: 10 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(',');
    ws.send(`4510-["message",${ph}]`);
    for (let i = 0; i < 10; i++) ws.send(Buffer.from([i, i, i]));
    assert.equal(await ws.nextText(), `4510-["message-back",${ph}]`);
    for (let i = 0; i < 10; i++) assert.deepEqual(await ws.nextBinary(), Buffer.from([i, i, i]));
    ws.close();
  });

  it('11 attachments (over the Node parser limit of 10) close the connection', async () => {
    const { ws } = await sioConnect(srv);
    const ph = Array.from({ length: 11 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(',');
    ws.send(`4511-["message",${ph}]`);
    await ws.waitClose();
  });

  it('a placeholder beyond the attachment count closes the connection', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('451-["message",{"_placeholder":true,"num":1}]');
    ws.send(Buffer.from([1]));
    await ws.waitClose();
  });

  it('a binary frame that no packet announced closes the connection', async () => {
    const { ws } = await sioConnect(srv);
    ws.send(Buffer.from([1, 2, 3]));
    await ws.waitClose();
  });

  it('invalid payload format 42{} closes the connection', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('42{}');
    await ws.waitClose();
  });

  it('invalid ack id closes the connection', async () => {
    const { ws } = await sioConnect(srv);
    ws.send('42abc["message-with-ack",1,"2",{"3":[false]}]');
    await ws.waitClose();
  });

  it('socket.io over polling: CONNECT, auth and binary as b<base64>', async () => {
    const { sid } = await pollingHandshake(srv);
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = (body) => request(srv, { method: 'POST', path, body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    // Reads packets until `count` non-ping packets arrived (pings are answered).
    const readPackets = async (count) => {
      const got = [];
      for (let i = 0; i < 10 && got.length < count; i++) {
        const res = await request(srv, { path });
        assert.equal(res.status, 200, res.text);
        for (const p of res.text.split('\x1e')) {
          if (p === '2') await post('3');
          else got.push(p);
        }
      }
      return got;
    };
    assert.equal((await post('40')).text, 'ok');
    const [connect, auth] = await readPackets(2);
    assert.match(connect, SID_RE('40'));
    assert.equal(auth, '42["auth",{}]');
    assert.equal((await post('451-["message",{"_placeholder":true,"num":0}]\x1ebAQID')).text, 'ok');
    assert.deepEqual(await readPackets(2), ['451-["message-back",{"_placeholder":true,"num":0}]', 'bAQID']);
  });
});
