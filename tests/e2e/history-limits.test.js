'use strict';
// Size limits on stored messages and names, replay and history pages bounded in bytes, chat
// before login refused, and retention by count, age and bytes (README, "History replay and
// pages", and the options table).

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { startServer, connected, emitAck, record, sleep, uniqueName, liveChats } = require('./lib/server');

async function user(t, srv, name, opts = {}) {
  const s = await connected(t, srv, '/', opts);
  const r = await emitAck(s, 'login', { name, userid: uniqueName(`uid-${name}`) });
  assert.deepEqual(r, { ok: true });
  return s;
}

const history = (s, q = {}) => emitAck(s, 'history', q);

describe('history limits', () => {
  it('five stored chats of ~900 KB: a new login is not disconnected and gets a bounded replay', async (t) => {
    const srv = await startServer(t, {
      args: ['--max-payload', '2000000', '--max-message-bytes', '1000000'],
    });
    const a = await user(t, srv, 'A', { transports: ['websocket'] });
    const big = 'x'.repeat(900 * 1024);
    for (let i = 0; i < 5; i++) {
      const r = await a.timeout(10000).emitWithAck('chat', { msg: big + i });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    const small = await emitAck(a, 'chat', { msg: 'small' });
    assert.equal(small.ok, true);

    const b = await connected(t, srv, '/', { transports: ['websocket'] });
    const replayed = record(b, 'chat');
    let gone = null;
    b.on('disconnect', (reason) => { gone = reason; });
    assert.deepEqual(await emitAck(b, 'login', { name: 'B' }), { ok: true });
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await replayed.next(3000));
    await sleep(300);
    assert.equal(gone, null, 'the new client stays connected');
    assert.ok(b.connected);
    assert.ok(got.every((m) => m.history === true));
    // oldest first; the large ones are markers without their text, the small one whole
    assert.deepEqual(got.slice(0, 5).map((m) => [m.truncated, m.msg]), Array(5).fill([true, undefined]));
    assert.equal(got[5].msg, 'small');
    assert.ok(got.every((m, i) => i === 0 || m.id > got[i - 1].id));
    // it still works: a round trip and a history page bounded in bytes
    assert.equal(await emitAck(b, 'echo', 'ok'), 'ok');
    const page = await history(b);
    assert.equal(page.ok, true);
    assert.equal(page.messages.length, 6);
    assert.equal(page.messages[5].msg, 'small');
    assert.equal(page.messages[0].truncated, true);
  });

  it('a history page stops at --history-replay-bytes and says more', async (t) => {
    const srv = await startServer(t, { args: ['--history-replay-bytes', '4096', '--history-replay', '100'] });
    const a = await user(t, srv, 'A');
    const text = 'y'.repeat(1000);
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push((await emitAck(a, 'chat', { msg: `${i}${text}` })).id);
    const page = await history(a);
    assert.equal(page.more, true);
    assert.ok(page.messages.length >= 2 && page.messages.length < 5, `${page.messages.length} messages`);
    assert.deepEqual(page.messages.map((m) => m.id), ids.slice(10 - page.messages.length));
    // paging back and forth goes through all of them
    let seen = page.messages.map((m) => m.id);
    let p = page;
    while (p.more && seen.length < 10) {
      p = await history(a, { before: seen[0] });
      seen = p.messages.map((m) => m.id).concat(seen);
    }
    assert.deepEqual(seen, ids);
    const fwd = await history(a, { since: ids[0] - 1 });
    assert.equal(fwd.more, true);
    assert.deepEqual(fwd.messages.map((m) => m.id), ids.slice(0, fwd.messages.length));
    // a replay to a new login is bounded the same way: the newest that fit, oldest first
    const b = await connected(t, srv);
    const replayed = record(b, 'chat');
    await emitAck(b, 'login', { name: 'B' });
    const got = [];
    for (let i = 0; i < page.messages.length; i++) got.push((await replayed.next()).id);
    await replayed.none(300);
    assert.deepEqual(got, page.messages.map((m) => m.id));
  });

  it('a message over --max-message-bytes and a name over --max-name-bytes are refused', async (t) => {
    const srv = await startServer(t, { args: ['--max-message-bytes', '100', '--max-name-bytes', '8'] });
    const a = await user(t, srv, 'A');
    const b = await user(t, srv, 'B');
    const live = liveChats(b);
    assert.deepEqual(await emitAck(a, 'chat', { msg: 'z'.repeat(101) }),
      { ok: false, error: 'message too long (max 100 bytes)' });
    assert.deepEqual(await emitAck(a, 'private', { to: 'nobody', msg: 'z'.repeat(101) }),
      { ok: false, error: 'message too long (max 100 bytes)' });
    assert.equal((await emitAck(a, 'chat', { msg: 'z'.repeat(100) })).ok, true);
    assert.equal((await live.next()).msg.length, 100);
    await live.none(200);
    const h = await history(a);
    assert.deepEqual(h.messages.map((m) => m.msg.length), [100]);

    const c = await connected(t, srv);
    assert.deepEqual(await emitAck(c, 'login', { name: 'ninechars' }),
      { ok: false, error: 'name too long (max 8 bytes)' });
    // refused means no identity: chat is still refused
    assert.deepEqual(await emitAck(c, 'chat', { msg: 'hi' }), { ok: false, error: 'log in first' });
    assert.deepEqual(await emitAck(c, 'login', { name: 'eight888' }), { ok: true });
  });

  it('chat and private before login are refused, neither delivered nor stored', async (t) => {
    const srv = await startServer(t, {});
    const a = await user(t, srv, 'A');
    const live = liveChats(a);
    const privates = record(a, 'private');
    const anon = await connected(t, srv);
    assert.deepEqual(await emitAck(anon, 'chat', { msg: 'who am I' }), { ok: false, error: 'log in first' });
    assert.deepEqual(await emitAck(anon, 'private', { to: 'x', msg: 'psst' }), { ok: false, error: 'log in first' });
    anon.emit('chat', { msg: 'no ack either' });
    await live.none(300);
    await privates.none(0);
    assert.deepEqual((await history(a)).messages, []);
  });
});
