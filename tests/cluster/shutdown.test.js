'use strict';
// Shutting down while Redis is alive but answers nothing (its process stopped with SIGSTOP: the
// kernel still accepts its connections and bytes). Every wait on Redis at shutdown is bounded:
// the node exits 0 within a few seconds, with chats and appends under way, and what it had
// committed to its own file before is still there when it starts again.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { startServer, connected, emitAck, uniqueName } = require('../e2e/lib/server');
const { startRedis, lifo, healthy } = require('./lib/cluster');

test('a node stops within its bound while Redis is stopped (SIGSTOP)', { timeout: 60000 },
  async (test) => {
    const t = lifo(test);
    const redis = await startRedis(t);
    t.after(() => redis.resume()); // before the kill of the cleanup (LIFO): no stopped process left
    const args = ['--redis', redis.url, '--redis-prefix', uniqueName('stop')];
    const a = await startServer(t, { args });
    const b = await startServer(t, { args });
    await healthy(a, b);
    const a1 = await connected(t, a);
    assert.equal((await emitAck(a1, 'login', { name: 'ann', userid: uniqueName('ann') })).ok, true);
    assert.equal((await emitAck(a1, 'join', 'r')).ok, true);
    const stored = [];
    for (let i = 0; i < 3; i++) {
      const ack = await emitAck(a1, 'chat', { room: 'r', msg: `kept ${i}` });
      assert.equal(ack.ok, true);
      assert.ok(ack.id > 0, JSON.stringify(ack));
      stored.push(ack.id);
    }

    redis.pause();
    // under way when the signal comes: an append and sessions nobody will answer
    a1.emit('chat', { room: 'r', msg: 'unanswered' });
    a1.emit('join', 'r2');
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const s of [a, b]) {
      const started = Date.now();
      await s.stop(6000); // exit status 0 asserted
      const took = Date.now() - started;
      assert.ok(took < 4000, `stopped in ${took} ms`);
    }
    // A had sent what Redis never answered; it said so and went
    assert.match(a.output().stderr, /redis did not answer the publisher/);

    // what A had committed is in its file: started alone on it, A pages it
    const again = await startServer(t, { db: a.db });
    const c = await connected(t, again);
    assert.equal((await emitAck(c, 'login', { name: 'cy', userid: uniqueName('cy') })).ok, true);
    assert.equal((await emitAck(c, 'join', 'r')).ok, true);
    const page = await emitAck(c, 'history', { room: 'r' });
    assert.equal(page.ok, true, JSON.stringify(page));
    assert.deepEqual(page.messages.map((m) => m.id).slice(0, 3), stored);
  });
