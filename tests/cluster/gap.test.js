'use strict';
// A node away longer than the history stream keeps (--redis-history-length, here 100 entries)
// misses what was trimmed meanwhile; it notices when its tail resumes: after an outage (its
// link to Redis cut through a relay) and at a restart on its old file. It logs one error naming
// the missing range, reports it on /healthz and in the SIGUSR1 status line. A node that
// read everything is not alarmed by the trimming, nor one on a stream never trimmed.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { startServer, connected, emitAck, uniqueName, request, sleep } =
  require('../e2e/lib/server');
const { startRedis, startRelay, until, lifo } = require('./lib/cluster');

const LENGTH = 100;

async function health(s) {
  return (await request(s, { path: '/healthz' })).text;
}

const gapLine = /cluster: history gap: \S+ was trimmed \(to about 100 entries\) past this node's copy: the entries after (\d+-\d+) and before (\d+-\d+) \(ids (\d+) to (\d+)\) are missing here/;

test('a node that was away while the stream was trimmed says what it lacks', { timeout: 90000 },
  async (test) => {
    const t = lifo(test);
    const redis = await startRedis(t);
    const relay = await startRelay(t, redis.port);
    const prefix = uniqueName('gap');
    const opts = (url) => ({
      args: ['--redis', url, '--redis-prefix', prefix, '--redis-history-length', String(LENGTH)],
      logLevel: 'info',
    });
    const a = await startServer(t, opts(redis.url));
    const c = await startServer(t, opts(relay.url)); // cut off later
    const d = await startServer(t, opts(redis.url)); // stopped and started again
    await until(async () => (await Promise.all([a, c, d].map(health))).every((h) => h === 'ok\n'),
      10000, 'the nodes connected');

    const a1 = await connected(t, a);
    assert.equal((await emitAck(a1, 'login', { name: 'ann', userid: uniqueName('ann') })).ok, true);
    const first = await emitAck(a1, 'chat', { msg: 'seen by all' });
    assert.ok(first.id > 0);
    await sleep(300); // read by C and D
    await d.stop();
    relay.cut();
    await until(async () => /^degraded: redis/.test(await health(c)), 5000, 'C cut off');

    // five times the stream's length while C and D are away
    let last;
    for (let i = 0; i < 5 * LENGTH; i++) {
      last = await emitAck(a1, 'chat', { msg: `while away ${i}` });
      assert.ok(last.id > 0, JSON.stringify(last));
    }

    // C's tail resumes after the outage
    relay.mend();
    await until(() => gapLine.test(c.output().stderr), 10000, "C's gap logged");
    const [, after, before, fromId, toId] = gapLine.exec(c.output().stderr);
    const asId = (x) => { const [ms, seq] = x.split('-').map(Number); return ms * 1000 + seq; };
    assert.ok(asId(after) >= first.id, `the gap starts after what C had read: ${after}`);
    assert.ok(asId(before) <= last.id && asId(before) > first.id, before);
    assert.equal(Number(fromId), asId(after) + 1);
    assert.equal(Number(toId), asId(before) - 1);
    assert.match(await health(c),
      new RegExp(`^degraded: history incomplete: 1 gaps, the last after ${after} and before ${before}`));
    c.proc.kill('SIGUSR1');
    await until(() => /status: .*cluster: redis connected; stream read up to \d+-\d+, 1 gaps \(the last after/.test(c.output().stderr),
      5000, "C's status line");
    // and it goes on reading: the stream's newest messages are in C's copy
    const c1 = await connected(t, c);
    assert.equal((await emitAck(c1, 'login', { name: 'cy', userid: uniqueName('cy') })).ok, true);
    await until(async () => {
      const page = await emitAck(c1, 'history', { limit: 1 });
      return page.ok && page.messages[0]?.id === last.id;
    }, 5000, "A's last message in C's history");

    // D, started again on its file, notices at its start
    const d2 = await startServer(t, { ...opts(redis.url), db: d.db });
    await until(() => gapLine.test(d2.output().stderr), 10000, "D's gap logged");
    assert.match(await health(d2), /^degraded: history incomplete: 1 gaps/);

    // A read everything: nothing to report; each gap is logged once
    assert.equal(await health(a), 'ok\n');
    assert.doesNotMatch(a.output().stderr, /history gap/);
    for (const s of [c, d2]) assert.equal(s.output().stderr.match(/history gap/g).length, 1);
    a.proc.kill('SIGUSR1');
    await until(() => /status: .*cluster: redis connected; stream read up to \d+-\d+, no gaps/.test(a.output().stderr),
      5000, "A's status line");

    // a node started now on an empty file lacks the trimmed start of the stream too
    const e = await startServer(t, opts(redis.url));
    await until(() => /history gap/.test(e.output().stderr), 10000, "E's gap logged");
    assert.match(e.output().stderr, /the entries after 0-0 and before/);
  });

test('no gap on a stream that was never trimmed', { timeout: 30000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t);
  const args = ['--redis', redis.url, '--redis-prefix', uniqueName('nogap')];
  const a = await startServer(t, { args });
  const a1 = await connected(t, a);
  await until(async () => (await health(a)) === 'ok\n', 10000, 'A connected');
  assert.equal((await emitAck(a1, 'login', { name: 'ann', userid: uniqueName('ann') })).ok, true);
  for (let i = 0; i < 5; i++) assert.ok((await emitAck(a1, 'chat', { msg: `m${i}` })).id > 0);
  const b = await startServer(t, { args }); // an empty file, the whole stream to read
  await until(async () => (await health(b)) === 'ok\n', 10000, 'B connected');
  await sleep(300);
  assert.equal(await health(b), 'ok\n');
  assert.doesNotMatch(b.output().stderr, /history gap/);
});
