// Summary of history.sh and replay.sh: reads their JSON lines (one per parley-bench run) and,
// for the runs of one invocation (its "run" stamp), prints the median of each figure per
// configuration, then what the comparison is about. history.sh ("store" runs): history on
// against off, the ratio of stored messages per second on / acknowledged off, and the server
// CPU that storing adds per message. replay.sh ("replay" runs): --history-replay N against 0,
// and the difference in server CPU per join, which is what replaying N messages costs.
// Usage: node history-report.js RESULTS.jsonl RUN_ID
'use strict';

const { readRuns, fmt, group: groupRuns, med, table, fig } = require('./summary');

const [file, runId] = process.argv.slice(2);
if (!file || !runId) {
  console.error('usage: node history-report.js RESULTS.jsonl RUN_ID');
  process.exit(2);
}
const runs = readRuns(file, runId, 'history-report.js');
const group = (keyOf) => groupRuns(runs, keyOf);

// parley-bench's own CPU use: when it nears 100 %, the client is the limit, not the server.
const benchPct = (unit, rate) => fig('bench_cpu_pct', (r) => r[`bench_cpu_us_per_${unit}`] * r[rate] / 1e4);

// Which side limited each configuration: the one whose CPU was (nearly) full.
function limits(by, names, unit, rate) {
  for (const n of names) {
    const rs = by.get(n) || [];
    const srv = med(rs, (r) => r.server_cpu_pct), cli = med(rs, (r) => r[`bench_cpu_us_per_${unit}`] * r[rate] / 1e4);
    const who = cli >= 90 ? 'limited by parley-bench (the client)' : srv >= 90 ? 'limited by the server' :
      'neither CPU was full: the server waited for the disk, or for a CPU the machine gave to other work';
    console.log(`  ${n}: server ${fmt(srv)} % of a CPU, parley-bench ${fmt(cli)} %: ${who}`);
  }
}
const r0 = runs[0];
const where = `database on ${r0.db_fs}, ${r0.pinned ? 'server on CPU 0 and parley-bench on CPU 1' : 'not pinned'}, ${r0.cpus} CPUs`;

if (r0.scenario === 'store') {
  const by = group((r) => (r.history ? 'on' : 'off'));
  console.log(`\nstored chat: ${r0.clients} clients, window ${r0.window} each, room size ${r0.room_size}, msg_size ${r0.msg_size}; ${where}`);
  table(by, ['on', 'off'], [
    fig('stored_per_s'), fig('acks_per_s'), fig('not_stored'), fig('server_cpu_us_per_message'),
    fig('server_cpu_pct'), fig('bench_cpu_us_per_message'), benchPct('message', 'acks_per_s'),
    fig('p50_ms'), fig('p90_ms'), fig('p99_ms'), fig('max_ms'),
  ]);
  console.log('');
  limits(by, ['on', 'off'], 'message', 'acks_per_s');
  const on = by.get('on') || [], off = by.get('off') || [];
  const stored = med(on, (r) => r.stored_per_s), base = med(off, (r) => r.acks_per_s);
  const ratio = stored / base;
  const gap = ratio <= 1 ? `${fmt((1 - ratio) * 100)} % below` : `${fmt((ratio - 1) * 100)} % above`;
  console.log(`  history on / off: ${fmt(stored)} stored/s / ${fmt(base)} acks/s = ${fmt(ratio)} (${gap})`);
  const cpuOn = med(on, (r) => r.server_cpu_us_per_message), cpuOff = med(off, (r) => r.server_cpu_us_per_message);
  console.log(`  server CPU per message: ${fmt(cpuOn)} us on, ${fmt(cpuOff)} us off: storing adds ${fmt(cpuOn - cpuOff)} us;` +
    ` a saturated server would keep ${fmt(cpuOff / cpuOn)} of its rate`);
  console.log(`  target >= 100000 stored/s: ${stored >= 100000 ? 'met' : 'not met'};` +
    ` target history on at most 10 % below off: ${ratio >= 0.9 ? 'met' : 'not met'}`);
} else {
  const by = group((r) => `replay ${r.history_replay}`);
  const names = [...by.keys()].sort((a, b) => Number(b.split(' ')[1]) - Number(a.split(' ')[1]));
  console.log(`\nreplay on join: ${r0.clients} clients, ${r0.rooms} rooms, ${r0.db_messages} messages in the database; ${where}`);
  table(by, names, [
    fig('joins_per_s'), fig('history_per_join'), fig('server_cpu_us_per_join'), fig('server_cpu_pct'),
    fig('bench_cpu_us_per_join'), benchPct('join', 'joins_per_s'),
    fig('p50_ms'), fig('p90_ms'), fig('p99_ms'), fig('max_ms'),
  ]);
  console.log('');
  limits(by, names, 'join', 'joins_per_s');
  for (const r of runs) {
    if (r.ok && Math.abs(r.history_per_join - r.history_replay) > 0.01) {
      console.log(`  note: rep ${r.rep} with --history-replay ${r.history_replay} got ${r.history_per_join} history messages per join`);
    }
  }
  if (names.length === 2) {
    const [a, b] = names.map((n) => by.get(n));
    const n = a.length ? a[0].history_replay : 0;
    const diff = med(a, (r) => r.server_cpu_us_per_join) - med(b, (r) => r.server_cpu_us_per_join);
    console.log(`  server time of a replay of ${n} messages: ${fmt(diff)} us per join` +
      ` (median CPU per join with ${names[0]} minus ${names[1]})`);
    console.log(`  target under 1 ms: ${diff < 1000 ? 'met' : 'not met'}`);
  }
}
