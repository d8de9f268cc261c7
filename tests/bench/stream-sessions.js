'use strict';
// What connected sockets cost the cluster's history stream: starts a redis-server on a free
// loopback port and one Parley node on it with a short recovery window, connects CLIENTS
// socket.io-client sockets (each logs in and joins a room), lets them sit for WINDOWS recovery
// windows and counts the stream entries of that time that carry sessions, and the sessions and
// bytes they carry, while one more client chats every 50 ms (BENCH_QUIET=1: not). Prints one
// JSON line: entries, sessions and bytes per socket per window.
// Usage: node tests/bench/stream-sessions.js BUILD_DIR [CLIENTS] [WINDOWS]

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { io } = require(path.join(__dirname, '..', 'node_modules', 'socket.io-client'));
const { createClient } = require(path.join(__dirname, '..', 'node_modules', 'redis'));
const { freePort, waitPort } = require('../cluster/lib/cluster');

const build = path.resolve(process.argv[2] || 'build');
const clients = Number(process.argv[3] || 200);
const windows = Number(process.argv[4] || 4);
const WINDOW_MS = 2000; // --recovery-window: a refresh every 500 ms
const PREFIX = 'bench';
const QUIET = process.env.BENCH_QUIET === '1'; // no traffic besides the sockets themselves
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-stream-'));
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: 'ignore' });
  let parley;
  const socks = [];
  try {
    await waitPort(port);
    parley = spawn(path.join(build, 'parley'), ['--host', '127.0.0.1', '--port', '0', '--db',
      path.join(dir, 'db'), '--no-bundled', '--log-level', 'warn', '--redis',
      `redis://127.0.0.1:${port}`, '--redis-prefix', PREFIX, '--recovery-window',
      String(WINDOW_MS), '--max-sessions-per-address', '0', '--max-handshakes-per-address', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((resolve) => {
      let out = '';
      parley.stdout.on('data', (d) => {
        out += d;
        const m = /listening on ([^\s]+)\n/.exec(out);
        if (m) resolve(`http://${m[1]}`);
      });
    });
    for (let i = 0; i < clients; i++) {
      const s = io(url, { forceNew: true, reconnection: false, transports: ['websocket'] });
      socks.push(s);
      await new Promise((resolve) => s.once('connect', resolve));
      await s.timeout(5000).emitWithAck('login', { name: `c${i}`, userid: `c${i}` });
      await s.timeout(5000).emitWithAck('join', `r${i % 10}`);
    }
    // a server with some traffic: one more client chats every 50 ms (its entries are not
    // counted), so that frames are written all the time, as on a server in use
    const ticker = io(url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    socks.push(ticker);
    await new Promise((resolve) => ticker.once('connect', resolve));
    await ticker.timeout(5000).emitWithAck('login', { name: 'ticker', userid: 'ticker' });
    await ticker.timeout(5000).emitWithAck('join', 'ticks');
    const tick = setInterval(() => ticker.emit('chat', { room: 'ticks', msg: 'tick' }, () => {}),
      QUIET ? 1e9 : 50);
    await sleep(WINDOW_MS); // the joins' writes are behind
    const r = createClient({ url: `redis://127.0.0.1:${port}` });
    await r.connect();
    const t0 = Number((await r.time()).getTime());
    await sleep(windows * WINDOW_MS);
    const t1 = Number((await r.time()).getTime());
    const entries = await r.xRange(`${PREFIX}-history`, `${t0}-0`, `${t1}-999`);
    let sessionEntries = 0;
    let sessions = 0;
    let bytes = 0;
    for (const e of entries) {
      const t = e.message.t;
      if (t !== 's' && t !== 'S' && t !== 'd') continue;
      sessionEntries++;
      sessions += t === 'S' ? JSON.parse(e.message.sessions).length : 1;
      for (const [k, v] of Object.entries(e.message)) bytes += k.length + v.length;
    }
    await r.quit();
    clearInterval(tick);
    const per = clients * ((t1 - t0) / WINDOW_MS);
    console.log(JSON.stringify({
      clients,
      traffic: !QUIET,
      windows: (t1 - t0) / WINDOW_MS,
      stream_entries: sessionEntries,
      sessions_carried: sessions,
      entries_per_socket_per_window: Number((sessionEntries / per).toFixed(3)),
      sessions_per_socket_per_window: Number((sessions / per).toFixed(3)),
      bytes_per_socket_per_window: Math.round(bytes / per),
    }));
  } finally {
    for (const s of socks) s.close();
    if (parley) {
      const exited = new Promise((resolve) => parley.once('exit', resolve));
      parley.kill('SIGTERM');
      await exited;
    }
    redis.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
