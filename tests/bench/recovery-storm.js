'use strict';
// A reconnect storm: N clients (the official socket.io-client over WebSocket) log in and join one
// of ten rooms; every transport drops at once; while they are away, a sender chats in each room
// and namespace-wide; then all of them reconnect at once and recover their sessions. Measures the
// time until every client has recovered and received what it missed, and the server's CPU time
// (from /proc) over that period. Prints one JSON line.
// Usage: node tests/bench/recovery-storm.js PORT SERVER_PID [CLIENTS] [MISSED_PER_ROOM]

const fs = require('node:fs');
const path = require('node:path');
const { io } = require(path.join(__dirname, '..', 'node_modules', 'socket.io-client'));

const [port, pid] = process.argv.slice(2, 4).map(Number);
const clients = Number(process.argv[4] || 1000);
const missedPerRoom = Number(process.argv[5] || 10);
const ROOMS = 10;
const url = `http://127.0.0.1:${port}`;
const TICK = 100; // clock ticks per second (USER_HZ)

function cpuMs() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK; // utime + stime
}

const once = (s, ev) => new Promise((resolve) => s.once(ev, resolve));
const ack = (s, ev, data) => s.timeout(20000).emitWithAck(ev, data);

async function main() {
  const opts = { forceNew: true, reconnection: false, transports: ['websocket'], timeout: 20000 };
  const socks = [];
  for (let i = 0; i < clients; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(clients, i + 100); k++) {
      const s = io(url, opts);
      socks.push(s);
      batch.push(once(s, 'connect').then(async () => {
        await ack(s, 'login', { name: `c${k}`, userid: `c${k}` });
        await ack(s, 'join', `r${k % ROOMS}`);
      }));
    }
    await Promise.all(batch);
  }
  const sender = io(url, opts);
  await once(sender, 'connect');
  await ack(sender, 'login', { name: 'sender', userid: 'sender' });
  for (let r = 0; r < ROOMS; r++) await ack(sender, 'join', `r${r}`);

  // every transport drops; the server sees them go
  await Promise.all(socks.map((s) => {
    const gone = once(s, 'disconnect');
    s.io.engine.close();
    return gone;
  }));
  await new Promise((r) => setTimeout(r, 500));
  for (let n = 0; n < missedPerRoom; n++) {
    for (let r = 0; r < ROOMS; r++) await ack(sender, 'chat', { room: `r${r}`, msg: `m${n}` });
  }
  await ack(sender, 'chat', { msg: 'everyone' });
  const expect = missedPerRoom + 1; // the room's chats and the namespace-wide one

  const cpu0 = cpuMs();
  const t0 = process.hrtime.bigint();
  let recovered = 0;
  let complete = 0;
  await Promise.all(socks.map((s) => new Promise((resolve) => {
    let got = 0;
    s.on('chat', () => {
      if (++got === expect) {
        complete++;
        resolve();
      }
    });
    s.once('connect', () => {
      if (s.recovered) recovered++;
      else resolve(); // a new session gets nothing again: counted as not recovered
    });
    s.connect();
  })));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = cpuMs() - cpu0;
  console.log(JSON.stringify({
    scenario: 'recovery-storm', clients, missed_per_client: expect, recovered, complete,
    time_ms: Math.round(ms), server_cpu_ms: cpu,
    server_cpu_us_per_client: Math.round((cpu * 1000) / clients), ok: recovered === clients && complete === clients,
  }));
  for (const s of socks) s.close();
  sender.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
