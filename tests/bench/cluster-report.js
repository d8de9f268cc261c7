// Summary of cluster.sh: reads its JSON lines (one per parley-bench fan-out across two nodes on
// one Redis) and, for the runs of one invocation (its "run" stamp), prints the median of each
// figure per kind of node side by side, the ratio of deliveries per server CPU-second Parley /
// Node, and whether the targets are met: Parley's cluster keeps at least 5x the Node cluster's
// deliveries per CPU-second, and a broadcast costs at most one PUBLISH whatever the number of
// recipients.
// Usage: node cluster-report.js RESULTS.jsonl RUN_ID
'use strict';

const { readRuns, fmt, group, med, table, fig } = require('./summary');

const [file, runId] = process.argv.slice(2);
if (!file || !runId) {
  console.error('usage: node cluster-report.js RESULTS.jsonl RUN_ID');
  process.exit(2);
}
const runs = readRuns(file, runId, 'cluster-report.js');
const by = group(runs, (r) => r.server);
const order = ['parley', 'parley-no-history', 'node'];
const names = [...by.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
const perCpuSecond = (r) => 1e6 / r.server_cpu_us_per_delivery;
const r0 = runs[0];

console.log(`\ncluster fan-out: ${r0.nodes} nodes on one Redis, ${r0.clients} clients split between them, ` +
  `${r0.senders} senders, window ${r0.window}; ${r0.pinned ? 'nodes on CPU 0, parley-bench and redis-server on CPU 1' : 'not pinned'}, ` +
  `${r0.cpus} CPUs; load at the start of the runs ${runs.map((r) => r.loadavg.split(' ')[0]).join(', ')}`);
table(by, names, [
  fig('deliveries_per_s'), fig('msgs_per_s'), fig('server_cpu_us_per_delivery'),
  fig('deliveries_per_cpu_s', perCpuSecond), fig('server_cpu_pct'),
  fig('bench_cpu_pct', (r) => r.bench_cpu_us_per_delivery * r.deliveries_per_s / 1e4),
  fig('redis_cpu_us_per_message'), fig('redis_cpu_pct'), fig('redis_commands_per_message'),
  fig('redis_publish_per_message'), fig('p50_ms'), fig('p99_ms'), fig('max_ms'),
]);
console.log('');
const parley = by.get('parley') || [], node = by.get('node') || [];
if (parley.length && node.length) {
  const ratio = med(parley, perCpuSecond) / med(node, perCpuSecond);
  console.log(`  deliveries per server CPU-second, Parley / Node: ${fmt(ratio)}` +
    ` (target at least 5: ${ratio >= 5 ? 'met' : 'not met'})`);
}
for (const n of names) {
  const pub = med(by.get(n), (r) => r.redis_publish_per_message);
  const cmds = med(by.get(n), (r) => r.redis_commands_per_message);
  console.log(`  ${n}: ${fmt(pub)} PUBLISH and ${fmt(cmds)} Redis commands per broadcast to ` +
    `${r0.clients - 1} receivers (target at most one PUBLISH: ${pub <= 1.01 ? 'met' : 'not met'})`);
}
