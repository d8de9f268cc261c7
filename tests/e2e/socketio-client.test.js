'use strict';
// The official npm socket.io-client against parley: transports, upgrade, events, acks, binary,
// disconnects, reconnection after a restart, and namespaces on one Manager.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { Manager } = require('socket.io-client');
const {
  startServer, connect, connected, once, onceArgs, emitAck, record, sleep, uniqueName, liveChats,
} = require('./lib/server');

function login(socket, name) {
  const userid = uniqueName('id');
  socket.emit('login', { name, userid });
  return userid;
}

describe('socket.io-client with the chat app', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('connects with transports [polling] only and stays on polling', async (t) => {
    const s = await connected(t, srv, '/', { transports: ['polling'] });
    assert.equal(s.io.engine.transport.name, 'polling');
    const logins = record(s, 'login');
    const name = uniqueName('poll');
    login(s, name);
    assert.equal(await logins.next(), name);
    await sleep(200);
    assert.equal(s.io.engine.transport.name, 'polling');
  });

  it('connects with transports [websocket] only', async (t) => {
    const s = await connected(t, srv, '/', { transports: ['websocket'] });
    assert.equal(s.io.engine.transport.name, 'websocket');
    const logins = record(s, 'login');
    const name = uniqueName('ws');
    login(s, name);
    assert.equal(await logins.next(), name);
  });

  it('default transports: polling first, then upgraded to websocket', async (t) => {
    const s = connect(t, srv);
    await once(s, 'connect', 5000);
    const engine = s.io.engine;
    if (engine.transport.name !== 'websocket') {
      assert.equal(engine.transport.name, 'polling');
      await once(engine, 'upgrade', 5000);
    }
    assert.equal(engine.transport.name, 'websocket');
    const logins = record(s, 'login');
    const name = uniqueName('up');
    login(s, name);
    assert.equal(await logins.next(), name);
  });

  it('events flow between clients on different transports', async (t) => {
    const a = await connected(t, srv, '/', { transports: ['polling'] });
    const b = await connected(t, srv, '/', { transports: ['websocket'] });
    const aChats = liveChats(a);
    const bChats = liveChats(b);
    const aid = login(a, 'pa');
    const bid = login(b, 'wb');
    await sleep(100);
    a.emit('chat', { msg: 'from polling' });
    assert.deepEqual(await bChats.next(), { from: { name: 'pa', userid: aid }, msg: 'from polling' });
    b.emit('chat', { msg: 'from websocket' });
    assert.deepEqual(await aChats.next(), { from: { name: 'wb', userid: bid }, msg: 'from websocket' });
  });

  it('many events to a polling client arrive complete and in order', async (t) => {
    const a = await connected(t, srv, '/', { transports: ['polling'] });
    const b = await connected(t, srv, '/', { transports: ['websocket'] });
    const aChats = liveChats(a);
    login(a, 'many-a');
    login(b, 'many-b');
    await sleep(100);
    const N = 200;
    for (let i = 0; i < N; i++) b.emit('chat', { msg: `m${i} \u00e9\u{1F600}` });
    const got = await aChats.take(N, 5000);
    assert.deepEqual(got.map((c) => c.msg), Array.from({ length: N }, (_, i) => `m${i} \u00e9\u{1F600}`));
  });

  it('client -> server ack: join is acknowledged', async (t) => {
    const s = await connected(t, srv);
    login(s, 'acker');
    const room = uniqueName('room');
    const res = await emitAck(s, 'join', { room });
    assert.equal(res.ok, true);
    assert.equal(res.room, room);
    assert.ok(Array.isArray(res.members));
  });

  it('client socket.disconnect(): the server drops the socket from its rooms', async (t) => {
    const a = await connected(t, srv);
    const b = await connected(t, srv);
    login(a, 'leaver');
    login(b, 'stayer');
    const room = uniqueName('room');
    await emitAck(b, 'join', { room });
    await emitAck(a, 'join', { room });
    const before = await emitAck(b, 'members', { room });
    assert.ok(before.members.some((m) => m.id === a.id), 'leaver listed before');
    const aid = a.id;
    const reason = once(a, 'disconnect');
    a.disconnect();
    assert.equal(await reason, 'io client disconnect');
    await sleep(200);
    const afterwards = await emitAck(b, 'members', { room });
    assert.ok(!afterwards.members.some((m) => m.id === aid), `leaver gone: ${JSON.stringify(afterwards)}`);
    assert.ok(afterwards.members.some((m) => m.id === b.id));
  });

  it('forceDisconnect: the client sees io server disconnect and does not reconnect', async (t) => {
    for (const transports of [['polling'], ['websocket']]) {
      const s = await connected(t, srv, '/', { transports, reconnection: true, reconnectionDelay: 50 });
      const reason = once(s, 'disconnect');
      s.emit('forceDisconnect');
      assert.equal(await reason, 'io server disconnect', transports[0]);
      const reconnects = record(s, 'connect');
      await sleep(300);
      assert.equal(reconnects.items.length, 0, 'no automatic reconnection');
      assert.equal(s.connected, false);
    }
  });

  it('forceDisconnect of one client leaves the others connected', async (t) => {
    const a = await connected(t, srv);
    const b = await connected(t, srv);
    const bChats = liveChats(b);
    login(a, 'fa');
    login(b, 'fb');
    const other = await connected(t, srv);
    const gone = once(other, 'disconnect');
    other.emit('forceDisconnect');
    assert.equal(await gone, 'io server disconnect');
    a.emit('chat', { msg: 'still here' });
    assert.equal((await bChats.next()).msg, 'still here');
    assert.ok(a.connected && b.connected);
  });

  it('namespaces / and /chat on one Manager; /nope -> connect_error Invalid namespace', async (t) => {
    const manager = new Manager(srv.url, { reconnection: false, timeout: 5000 });
    t.after(() => manager.engine && manager.engine.close());
    const root = manager.socket('/');
    const chat = manager.socket('/chat');
    root.connect();
    chat.connect();
    await Promise.all([once(root, 'connect', 5000), once(chat, 'connect', 5000)]);
    assert.equal(root.io, chat.io);
    assert.notEqual(root.id, chat.id);
    const nope = manager.socket('/nope');
    nope.connect();
    const err = await once(nope, 'connect_error', 5000);
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(nope.connected, false);
    // The other namespaces are unaffected.
    const msgs = record(chat, 'chat message');
    const m = { name: 'ns', room: uniqueName('r'), msg: 'after nope' };
    chat.emit('chat message', m);
    assert.equal(await msgs.next(), m.msg);
    assert.ok(root.connected);
  });
});

describe('socket.io-client with the conformance app', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { app: 'conformance' });
  });
  after(() => srv.cleanup());

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`binary both ways over ${transports.join('+')}`, async (t) => {
      const s = connect(t, srv, '/', { transports });
      const auth = await once(s, 'auth', 5000);
      assert.deepEqual(auth, {});
      const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
      const back = onceArgs(s, 'message-back');
      s.emit('message', bytes, { nested: [bytes.subarray(0, 3)] }, 'text');
      const [b1, obj, txt] = await back;
      assert.ok(Buffer.isBuffer(b1), 'a Buffer comes back');
      assert.deepEqual(b1, bytes);
      assert.deepEqual(obj.nested[0], bytes.subarray(0, 3));
      assert.equal(txt, 'text');
      const acked = await s.timeout(3000).emitWithAck('message-with-ack', Buffer.from([1, 2, 3]));
      assert.deepEqual(acked, Buffer.from([1, 2, 3]));
    });
  }

  it('auth payload is delivered to the server', async (t) => {
    const s = connect(t, srv, '/', { auth: { token: 'abc', n: 1 } });
    assert.deepEqual(await once(s, 'auth', 5000), { token: 'abc', n: 1 });
    const c = connect(t, srv, '/custom', { auth: { token: 'xyz' } });
    assert.deepEqual(await once(c, 'auth', 5000), { token: 'xyz' });
  });

  it('acks with several arguments', async (t) => {
    const s = await connected(t, srv);
    const res = await new Promise((resolve, reject) => {
      s.timeout(3000).emit('message-with-ack', 1, '2', { 3: [true] }, (err, ...args) =>
        (err ? reject(err) : resolve(args)));
    });
    assert.deepEqual(res, [1, '2', { 3: [true] }]);
  });

  it('the client answers the server pings (session survives several intervals)', async (t) => {
    const s = await connected(t, srv);
    const drops = record(s, 'disconnect');
    await sleep(1200); // pingInterval 300 + pingTimeout 200: four pings
    assert.equal(drops.items.length, 0);
    assert.ok(s.connected);
  });
});

describe('reconnection after a restart on the same port', () => {
  it('the client reconnects by itself and recovers its session (recovery.test.js has more)', async (t) => {
    const first = await startServer(t, {});
    const port = first.port;
    const s = connect(t, first, '/', {
      reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0,
    });
    const connects = record(s, 'connect');
    await connects.next(5000);
    const firstId = s.id;
    const dropped = once(s, 'disconnect', 5000);
    await first.stop();
    assert.match(await dropped, /^transport (close|error)$/);
    const second = await startServer(t, { port, db: first.db });
    assert.equal(second.port, port);
    await connects.next(8000);
    assert.ok(s.connected);
    assert.equal(s.id, firstId, 'the same socket id: its session is recovered');
    assert.equal(s.recovered, true);
    const logins = record(s, 'login');
    s.emit('login', { name: 'back', userid: 'back-1' });
    assert.equal(await logins.next(), 'back');
    await second.stop();
  });
});
