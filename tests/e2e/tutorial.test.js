'use strict';
// The tutorial chat app (default --app chat) with several real clients: login broadcast to all,
// chat broadcast to all but the sender, forceDisconnect, and the /chat rooms example.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { startServer, connected, once, record, uniqueName, liveChats } = require('./lib/server');

describe('tutorial chat on /', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('login reaches everyone, chat reaches everyone but the sender, forceDisconnect', async (t) => {
    const names = ['A', 'B', 'C'];
    // Mixed transports: A upgrades (default), B polls only, C is WebSocket only.
    const opts = [{}, { transports: ['polling'] }, { transports: ['websocket'] }];
    const clients = await Promise.all(names.map((_, i) => connected(t, srv, '/', opts[i])));
    const logins = clients.map((c) => record(c, 'login'));
    const chats = clients.map((c) => liveChats(c));
    const ids = names.map((n) => uniqueName(`uid-${n}`));

    for (let i = 0; i < 3; i++) {
      clients[i].emit('login', { name: names[i], userid: ids[i] });
      // Every client, the sender included, hears this login before the next one starts.
      for (const l of logins) assert.equal(await l.next(), names[i]);
    }
    for (const l of logins) await l.none(0);

    const [A, B, C] = clients;
    A.emit('chat', { msg: 'hi' });
    const expected = { from: { name: 'A', userid: ids[0] }, msg: 'hi' };
    assert.deepEqual(await chats[1].next(), expected);
    assert.deepEqual(await chats[2].next(), expected);
    await chats[0].none(300);

    C.emit('chat', { msg: 'from C \u00e9\u{1F600}' });
    const fromC = { from: { name: 'C', userid: ids[2] }, msg: 'from C \u00e9\u{1F600}' };
    assert.deepEqual(await chats[0].next(), fromC);
    assert.deepEqual(await chats[1].next(), fromC);
    await chats[2].none(300);

    const reason = once(B, 'disconnect');
    B.emit('forceDisconnect');
    assert.equal(await reason, 'io server disconnect');
    assert.equal(B.connected, false);
    A.emit('chat', { msg: 'after B left' });
    assert.deepEqual(await chats[2].next(), { from: { name: 'A', userid: ids[0] }, msg: 'after B left' });
    await chats[1].none(300);
    assert.ok(A.connected && C.connected);
  });

  it('a new login is heard by clients already connected and by the newcomer', async (t) => {
    const old = await connected(t, srv);
    const oldLogins = record(old, 'login');
    const late = await connected(t, srv, '/', { transports: ['polling'] });
    const lateLogins = record(late, 'login');
    const name = uniqueName('late');
    late.emit('login', { name, userid: 'x' });
    assert.equal(await oldLogins.next(), name);
    assert.equal(await lateLogins.next(), name);
  });
});

describe('tutorial rooms on /chat', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  // README: the sender joins `room`; everyone in `room`, the sender included, gets
  // 'chat message' with `msg` (the tutorial emits the message text).
  it("'chat message' reaches exactly the members of its room, sender included", async (t) => {
    const r1 = uniqueName('r1');
    const r2 = uniqueName('r2');
    const [x, y, z] = await Promise.all([
      connected(t, srv, '/chat'),
      connected(t, srv, '/chat', { transports: ['polling'] }),
      connected(t, srv, '/chat', { transports: ['websocket'] }),
    ]);
    const [rx, ry, rz] = [x, y, z].map((s) => record(s, 'chat message'));

    // Sending a message joins its room; the first message goes to the sender only.
    const jx = { name: 'x', room: r1, msg: 'x joins' };
    x.emit('chat message', jx);
    assert.equal(await rx.next(), jx.msg);
    const jy = { name: 'y', room: r1, msg: 'y joins' };
    y.emit('chat message', jy);
    assert.equal(await rx.next(), jy.msg);
    assert.equal(await ry.next(), jy.msg);
    const jz = { name: 'z', room: r2, msg: 'z joins' };
    z.emit('chat message', jz);
    assert.equal(await rz.next(), jz.msg);

    const m1 = { name: 'x', room: r1, msg: 'hello r1' };
    x.emit('chat message', m1);
    assert.equal(await rx.next(), m1.msg);
    assert.equal(await ry.next(), m1.msg);
    const m2 = { name: 'z', room: r2, msg: 'hello r2' };
    z.emit('chat message', m2);
    assert.equal(await rz.next(), m2.msg);

    await Promise.all([rx.none(300), ry.none(0), rz.none(0)]);
  });

  it('/chat messages do not leak to / and / chat does not leak to /chat', async (t) => {
    const root = await connected(t, srv, '/');
    const rootAny = [];
    root.onAny((ev, ...args) => rootAny.push([ev, ...args]));
    const c = await connected(t, srv, '/chat');
    const rc = record(c, 'chat message');
    const m = { name: 'c', room: uniqueName('r'), msg: 'only /chat' };
    c.emit('chat message', m);
    assert.equal(await rc.next(), m.msg);
    await rc.none(200);
    assert.deepEqual(rootAny, []);
  });
});
