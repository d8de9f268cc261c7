'use strict';
// Hostile input that must not hurt the server or anyone else on it: forged log lines, stray
// signals. Every test runs a healthy client beside the hostile one where it matters.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { startServer, connected, emitAck, sleep } = require('./lib/server');

describe('abuse', () => {
  it('a name with a newline or control characters cannot forge a log line', async (t) => {
    const srv = await startServer(t, { logLevel: 'info' });
    const eve = await connected(t, srv);
    const forged = 'eve\n2026-01-01T00:00:00.000Z error forged line\r\x1b[2J\x07';
    await emitAck(eve, 'login', { name: forged, userid: 'eve' });
    for (let i = 0; !/login: /.test(srv.output().stderr) && i < 100; i++) await sleep(20);
    const lines = srv.output().stderr.split('\n');
    assert.ok(!lines.some((l) => l.startsWith('2026-01-01T00:00:00.000Z')), 'a forged line');
    assert.ok(!/[\r\x1b\x07]/.test(srv.output().stderr), 'raw control characters in the log');
    const login = lines.find((l) => / login: /.test(l));
    assert.ok(login.includes('eve\\n2026-01-01T00:00:00.000Z error forged line\\r\\x1b[2J\\x07'), login);
  });

  it('stray signals do not stop the server; SIGUSR1 logs a status line; SIGTERM still stops it', async (t) => {
    const srv = await startServer(t, { logLevel: 'info' });
    const ann = await connected(t, srv);
    await emitAck(ann, 'login', { name: 'ann' });
    for (const sig of ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGALRM', 'SIGVTALRM', 'SIGPROF', 'SIGIO',
      'SIGPWR', 'SIGXFSZ', 'SIGXCPU', 'SIGTTIN', 'SIGTTOU', 'SIGPIPE', 'SIGHUP']) {
      srv.proc.kill(sig);
      await sleep(50);
      assert.equal(srv.proc.exitCode, null, `the server exited on ${sig}`);
      assert.equal(srv.proc.signalCode, null, `the server was killed by ${sig}`);
    }
    assert.match(srv.output().stderr, /status: 1 Engine\.IO sessions, newest stored id \d+/);
    const ack = await emitAck(ann, 'chat', { msg: 'still here' });
    assert.equal(ack.ok, true);
    assert.ok(ack.id > 0, JSON.stringify(ack));
    await srv.stop();
  });
});
