'use strict';
// The documented chat protocol on '/' beyond the tutorial (README, "Events on namespace /"):
// join / leave / members / rooms with acks, joined / left notices, room chat, private messages by
// userid, echo, history replay on login and join, and error acks.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { startServer, connected, emitAck, record, sleep, uniqueName, liveChats, tempDir } = require('./lib/server');

const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

// Connects and logs in; resolves with { s, name, userid, me } where me is the member record.
async function user(t, srv, name, opts = {}) {
  const s = await connected(t, srv, '/', opts);
  const logins = record(s, 'login');
  const userid = opts.userid || uniqueName(`uid-${name}`);
  s.emit('login', { name, userid });
  assert.equal(await logins.next(), name, 'own login echoed');
  return { s, name, userid, me: { id: s.id, name, userid } };
}

function assertError(res, what) {
  assert.equal(res.ok, false, `${what}: ${JSON.stringify(res)}`);
  assert.equal(typeof res.error, 'string', `${what}: error message`);
  assert.ok(res.error.length > 0, `${what}: non-empty error message`);
}

describe('chat protocol', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('join: ack with members, joined notice to the other members only', async (t) => {
    const room = uniqueName('lobby');
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B', { transports: ['polling'] });
    const c = await user(t, srv, 'C', { transports: ['websocket'] });
    const outsider = await user(t, srv, 'O');
    const joined = [a, b, c, outsider].map((u) => record(u.s, 'joined'));

    const rb = await emitAck(b.s, 'join', { room });
    assert.deepEqual(rb, { ok: true, room, members: [b.me] });
    const rc = await emitAck(c.s, 'join', { room });
    assert.equal(rc.ok, true);
    assert.equal(rc.room, room);
    assert.deepEqual([...rc.members].sort(byId), [b.me, c.me].sort(byId));
    assert.deepEqual(await joined[1].next(), { room, user: c.me });

    const ra = await emitAck(a.s, 'join', { room });
    assert.deepEqual(Object.keys(ra).sort(), ['members', 'ok', 'room']);
    assert.equal(ra.ok, true);
    assert.equal(ra.room, room);
    assert.deepEqual([...ra.members].sort(byId), [a.me, b.me, c.me].sort(byId));
    assert.deepEqual(await joined[1].next(), { room, user: a.me });
    assert.deepEqual(await joined[2].next(), { room, user: a.me });
    await joined[0].none(300); // not to the joiner itself
    await joined[1].none(0);
    await joined[2].none(0);
    await joined[3].none(0); // nor to someone outside the room
  });

  it('join accepts a plain string room', async (t) => {
    const a = await user(t, srv, 'S');
    const room = uniqueName('str');
    const r = await emitAck(a.s, 'join', room);
    assert.deepEqual(r, { ok: true, room, members: [a.me] });
  });

  it('joining twice lists the member once', async (t) => {
    const a = await user(t, srv, 'Twice');
    const room = uniqueName('twice');
    await emitAck(a.s, 'join', { room });
    const r = await emitAck(a.s, 'join', { room });
    assert.equal(r.ok, true);
    assert.deepEqual(r.members, [a.me]);
  });

  it('chat with a room goes to its members except the sender', async (t) => {
    const room = uniqueName('talk');
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B', { transports: ['polling'] });
    const c = await user(t, srv, 'C');
    const outsider = await user(t, srv, 'O');
    for (const u of [a, b, c]) assert.equal((await emitAck(u.s, 'join', { room })).ok, true);
    const chats = [a, b, c, outsider].map((u) => liveChats(u.s));

    a.s.emit('chat', { room, msg: 'hi room \u00e9' });
    const want = { from: { name: 'A', userid: a.userid }, room, msg: 'hi room \u00e9' };
    assert.deepEqual(await chats[1].next(), want);
    assert.deepEqual(await chats[2].next(), want);
    await chats[0].none(300);
    await chats[3].none(0);
  });

  it('leave: ack, left notice to the remaining members, no more room chat', async (t) => {
    const room = uniqueName('exit');
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    const c = await user(t, srv, 'C', { transports: ['polling'] });
    for (const u of [a, b, c]) assert.equal((await emitAck(u.s, 'join', { room })).ok, true);
    const left = [a, b, c].map((u) => record(u.s, 'left'));
    const chats = [a, b, c].map((u) => liveChats(u.s));

    const r = await emitAck(b.s, 'leave', { room });
    assert.deepEqual(r, { ok: true, room });
    assert.deepEqual(await left[0].next(), { room, user: b.me });
    assert.deepEqual(await left[2].next(), { room, user: b.me });
    await left[1].none(300);

    const m = await emitAck(a.s, 'members', { room });
    assert.deepEqual(m.ok, true);
    assert.deepEqual([...m.members].sort(byId), [a.me, c.me].sort(byId));

    c.s.emit('chat', { room, msg: 'b is gone' });
    assert.deepEqual(await chats[0].next(), { from: { name: 'C', userid: c.userid }, room, msg: 'b is gone' });
    await chats[1].none(300);
  });

  it('leave accepts a plain string room', async (t) => {
    const a = await user(t, srv, 'L');
    const room = uniqueName('lstr');
    await emitAck(a.s, 'join', room);
    assert.deepEqual(await emitAck(a.s, 'leave', room), { ok: true, room });
    // no longer a member: the list is not for it
    assert.deepEqual(await emitAck(a.s, 'members', { room }), { ok: false, error: 'not in that room' });
  });

  it('members: ack with the room and its member records', async (t) => {
    const room = uniqueName('who');
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    const c = await user(t, srv, 'C');
    await emitAck(a.s, 'join', { room });
    await emitAck(b.s, 'join', { room });
    const r = await emitAck(b.s, 'members', { room });
    assert.deepEqual(Object.keys(r).sort(), ['members', 'ok', 'room']);
    assert.equal(r.ok, true);
    assert.equal(r.room, room);
    assert.deepEqual([...r.members].sort(byId), [a.me, b.me].sort(byId));
    // who is in a room is for its members only, as its history is
    assert.deepEqual(await emitAck(c.s, 'members', { room }), { ok: false, error: 'not in that room' });
    assert.deepEqual(await emitAck(c.s, 'members', uniqueName('nobody')), { ok: false, error: 'not in that room' });
    assert.deepEqual(await emitAck(c.s, 'history', { room }), { ok: false, error: 'not in that room' });
  });

  it('a disconnected member: left notice to its rooms, gone from members', async (t) => {
    const room = uniqueName('gone');
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    await emitAck(a.s, 'join', { room });
    await emitAck(b.s, 'join', { room });
    const left = record(a.s, 'left');
    const bme = b.me;
    b.s.disconnect();
    assert.deepEqual(await left.next(), { room, user: bme });
    const r = await emitAck(a.s, 'members', { room });
    assert.deepEqual(r.members, [a.me]);
  });

  it('login and chat are acked: {ok:true} and {ok:true, id, delivered}', async (t) => {
    const s = await connected(t, srv);
    const ack = await emitAck(s, 'login', { name: 'Acked', userid: uniqueName('uid') });
    assert.deepEqual(ack, { ok: true });
    const room = uniqueName('acks');
    const b = await user(t, srv, 'B');
    const c = await user(t, srv, 'C');
    await emitAck(s, 'join', { room });
    await emitAck(b.s, 'join', { room });
    await emitAck(c.s, 'join', { room });
    const r = await emitAck(s, 'chat', { room, msg: 'counted' });
    assert.deepEqual(Object.keys(r).sort(), ['delivered', 'id', 'ok']);
    assert.equal(r.ok, true);
    assert.equal(r.delivered, 2);
    assert.ok(Number.isInteger(r.id) && r.id > 0, `id ${r.id}`);
    const r2 = await emitAck(s, 'chat', { room, msg: 'counted again' });
    assert.ok(r2.id > r.id, 'ids increase');
  });

  it('chat to a room the sender is not in is refused', async (t) => {
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    const room = uniqueName('closed');
    await emitAck(b.s, 'join', { room });
    const chats = liveChats(b.s);
    assertError(await emitAck(a.s, 'chat', { room, msg: 'let me in' }), 'chat outside the room');
    await chats.none(200);
  });

  it('rooms: ack lists the rooms joined', async (t) => {
    const a = await user(t, srv, 'R');
    const room = uniqueName('listed');
    await emitAck(a.s, 'join', { room });
    const r = await emitAck(a.s, 'rooms');
    assert.equal(r.ok, true);
    assert.ok(Array.isArray(r.rooms) && r.rooms.includes(room), JSON.stringify(r));
  });

  it('echo: acked with the same arguments', async (t) => {
    const a = await user(t, srv, 'Echo');
    const args = await new Promise((resolve, reject) => {
      a.s.timeout(3000).emit('echo', 1, 'two', { three: [3, null, true] }, (err, ...back) =>
        (err ? reject(err) : resolve(back)));
    });
    assert.deepEqual(args, [1, 'two', { three: [3, null, true] }]);
  });

  it('history: joining a room replays its recent messages, marked history:true', async (t) => {
    const room = uniqueName('hist');
    const a = await user(t, srv, 'A');
    await emitAck(a.s, 'join', { room });
    const ids = [];
    for (const msg of ['h1', 'h2 \u00e9']) ids.push((await emitAck(a.s, 'chat', { room, msg })).id);
    const late = await user(t, srv, 'Late');
    const chats = record(late.s, 'chat');
    await emitAck(late.s, 'join', { room });
    const got = await chats.take(2);
    for (const [i, msg] of ['h1', 'h2 \u00e9'].entries()) {
      const h = got[i];
      assert.equal(h.history, true);
      assert.equal(h.id, ids[i]);
      assert.equal(typeof h.ts, 'number');
      assert.deepEqual({ from: h.from, room: h.room, msg: h.msg }, { from: { name: 'A', userid: a.userid }, room, msg });
    }
    await chats.none(200);
  });

  it('history: login replays recent namespace-wide chat, newest last', async (t) => {
    const a = await user(t, srv, 'A');
    const marker = uniqueName('global');
    const { id } = await emitAck(a.s, 'chat', { msg: marker });
    const s = await connected(t, srv);
    const chats = record(s, 'chat');
    await emitAck(s, 'login', { name: 'Newcomer', userid: uniqueName('uid') });
    const got = [];
    for (;;) {
      const h = await chats.next();
      got.push(h);
      if (h.msg === marker) break;
    }
    const last = got[got.length - 1];
    assert.ok(got.every((h) => h.history === true), 'all replayed events are marked');
    assert.ok(got.length <= 50, 'at most --history-replay (50) messages');
    assert.equal(last.id, id);
    assert.deepEqual(last.from, { name: 'A', userid: a.userid });
    assert.equal(last.room, undefined);

    // Logging in again does not replay it again.
    await chats.none(200);
    await emitAck(s, 'login', { name: 'Newcomer again', userid: uniqueName('uid') });
    await chats.none(300);
  });

  it('history: pages back with before, forward with since, per room or namespace-wide', async (t) => {
    const srv2 = await startServer(t, {});
    const a = await user(t, srv2, 'A');
    const room = uniqueName('paged');
    await emitAck(a.s, 'join', { room });
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await emitAck(a.s, 'chat', { room, msg: `m${i}` })).id);
    const g = (await emitAck(a.s, 'chat', { msg: 'global' })).id;
    const msgs = (r) => r.messages.map((m) => m.msg);

    const newest = await emitAck(a.s, 'history', { room, limit: 3 });
    assert.equal(newest.ok, true);
    assert.equal(newest.room, room);
    assert.deepEqual(msgs(newest), ['m4', 'm5', 'm6']);
    assert.deepEqual(newest.messages[2].from, { name: 'A', userid: a.userid });
    assert.equal(newest.messages[2].id, ids[6]);
    assert.equal(typeof newest.messages[2].ts, 'number');
    assert.deepEqual(msgs(await emitAck(a.s, 'history', { room, before: ids[4], limit: 3 })), ['m1', 'm2', 'm3']);
    assert.deepEqual(msgs(await emitAck(a.s, 'history', { room, since: ids[4], limit: 10 })), ['m5', 'm6']);
    assert.deepEqual(msgs(await emitAck(a.s, 'history', { room, since: 0, limit: 2 })), ['m0', 'm1']);
    const global = await emitAck(a.s, 'history', {});
    assert.deepEqual(global.messages.map((m) => m.id), [g]);

    assertError(await emitAck(a.s, 'history', { room: uniqueName('elsewhere') }), 'history of a room not joined');
    assertError(await emitAck(a.s, 'history', { room, before: 'x' }), 'non-numeric before');
    assertError(await emitAck(a.s, 'history', { room, limit: 0 }), 'limit 0');
    assertError(await emitAck(a.s, 'history', { room, before: 5, since: 1 }), 'both before and since');
    assert.equal((await emitAck(a.s, 'history', { room, limit: 1000 })).messages.length, 7, 'limit is clamped, not refused');
  });

  it('history: --history-keep keeps the newest messages of each room across a restart', async (t) => {
    const dir = tempDir();
    t.after(() => require('node:fs').rmSync(dir, { recursive: true, force: true }));
    const db = require('node:path').join(dir, 'keep.db');
    const first = await startServer(t, { db, args: ['--history-keep', '3'] });
    const a = await user(t, first, 'A');
    for (let i = 0; i < 5; i++) await emitAck(a.s, 'chat', { msg: `g${i}` });
    a.s.disconnect();
    await first.stop();

    const second = await startServer(t, { db, args: ['--history-keep', '3'] });
    const s = await connected(t, second);
    const chats = record(s, 'chat');
    await emitAck(s, 'login', { name: 'Late', userid: uniqueName('uid') });
    const got = await chats.take(3);
    assert.deepEqual(got.map((h) => h.msg), ['g2', 'g3', 'g4'], 'the three newest survive');
    await chats.none(300);
  });

  it('private: delivered to every socket logged in with that userid, acked with the count', async (t) => {
    const a = await user(t, srv, 'A');
    const shared = uniqueName('uid-B');
    const b1 = await user(t, srv, 'B', { userid: shared });
    const b2 = await user(t, srv, 'B', { userid: shared, transports: ['polling'] });
    const c = await user(t, srv, 'C');
    const priv = [a, b1, b2, c].map((u) => record(u.s, 'private'));

    const r = await emitAck(a.s, 'private', { to: shared, msg: 'psst \u{1F600}' });
    assert.deepEqual(r, { ok: true, delivered: 2 });
    const want = { from: { name: 'A', userid: a.userid }, msg: 'psst \u{1F600}' };
    assert.deepEqual(await priv[1].next(), want);
    assert.deepEqual(await priv[2].next(), want);
    await priv[0].none(300);
    await priv[3].none(0);

    const r1 = await emitAck(c.s, 'private', { to: a.userid, msg: 'back' });
    assert.deepEqual(r1, { ok: true, delivered: 1 });
    assert.deepEqual(await priv[0].next(), { from: { name: 'C', userid: c.userid }, msg: 'back' });
  });

  it('private with confirm: recipients are asked to ack; the sender hears how many did', async (t) => {
    // A server of its own with a short --ack-timeout: a recipient that never acks is counted
    // as unconfirmed once the server-to-client ack times out.
    const srv2 = await startServer(t, { args: ['--ack-timeout', '300'] });
    const a = await user(t, srv2, 'A');
    const shared = uniqueName('uid-R');
    const acking = await user(t, srv2, 'R', { userid: shared });
    const silent = await user(t, srv2, 'R', { userid: shared, transports: ['polling'] });
    const want = { from: { name: 'A', userid: a.userid }, msg: 'sure?', };
    let acked = null;
    acking.s.on('private', (m, ack) => { acked = m; ack({ seen: true }); });
    const silentGot = record(silent.s, 'private');
    const started = Date.now();
    const r = await a.s.timeout(5000).emitWithAck('private', { to: shared, msg: 'sure?', confirm: true });
    const waited = Date.now() - started;
    assert.deepEqual(r, { ok: true, delivered: 2, confirmed: 1 });
    assert.deepEqual(acked, want, 'the acking recipient got the message');
    assert.deepEqual(await silentGot.next(), want, 'the silent recipient got it too');
    assert.ok(waited >= 250, `the answer waited for the ack timeout (${waited} ms)`);

    // Both recipients ack: the answer comes at once, well before the timeout.
    silent.s.removeAllListeners('private');
    silent.s.on('private', (m, ack) => ack());
    const t0 = Date.now();
    const r2 = await a.s.timeout(5000).emitWithAck('private', { to: shared, msg: 'again', confirm: true });
    assert.deepEqual(r2, { ok: true, delivered: 2, confirmed: 2 });
    assert.ok(Date.now() - t0 < 250, 'no wait when everyone acked');

    // A recipient that disconnects before acking counts as unconfirmed, without waiting.
    silent.s.removeAllListeners('private');
    silent.s.on('private', () => silent.s.disconnect());
    const r3 = await a.s.timeout(5000).emitWithAck('private', { to: shared, msg: 'bye', confirm: true });
    assert.deepEqual(r3, { ok: true, delivered: 2, confirmed: 1 });
  });

  it('errors are acked with ok:false and a message', async (t) => {
    const a = await user(t, srv, 'E');
    assertError(await emitAck(a.s, 'join', {}), 'join without room');
    assertError(await emitAck(a.s, 'join', { room: '' }), 'join with empty room');
    assertError(await emitAck(a.s, 'join', { room: 42 }), 'join with a numeric room');
    assertError(await emitAck(a.s, 'leave', {}), 'leave without room');
    assertError(await emitAck(a.s, 'members', {}), 'members without room');
    assert.deepEqual(await emitAck(a.s, 'private', { to: uniqueName('nobody'), msg: 'x' }),
      { ok: false, error: 'no such user online' }, 'private to unknown user');
    assertError(await emitAck(a.s, 'join', { room: 'x'.repeat(129) }), 'join with a 129-character room');
    const long = 'y'.repeat(128);
    assert.equal((await emitAck(a.s, 'join', { room: long })).ok, true, '128 characters are fine');
    assertError(await emitAck(a.s, 'private', { msg: 'x' }), 'private without to');
    // The connection survives the errors.
    const room = uniqueName('ok');
    assert.deepEqual(await emitAck(a.s, 'join', { room }), { ok: true, room, members: [a.me] });
  });

  it('a socket can be in at most 1000 rooms', async (t) => {
    const a = await user(t, srv, 'M');
    const base = uniqueName('many');
    for (let i = 0; i < 1000; i++) a.s.emit('join', { room: `${base}-${i}` });
    const r = await emitAck(a.s, 'join', { room: `${base}-1000` });
    assert.deepEqual(r, { ok: false, error: 'too many rooms' });
    const rooms = await emitAck(a.s, 'rooms');
    assert.equal(rooms.rooms.length, 1000);
    // rejoining one it is in is fine
    assert.equal((await emitAck(a.s, 'join', { room: `${base}-7` })).ok, true);
  });

  it('a join without a payload is an error ack, not a crash', async (t) => {
    const a = await user(t, srv, 'N');
    const r = await a.s.timeout(3000).emitWithAck('join');
    assertError(r, 'join with no payload');
    assert.ok(a.s.connected);
  });
});
