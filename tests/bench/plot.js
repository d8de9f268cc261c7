// Draws server CPU per delivery and p99 latency against room size for each server, from the
// JSON lines of sweep.sh (one file per room size), into a PNG with gnuplot.
// Usage: node plot.js OUT.png sweep-10.jsonl sweep-100.jsonl ...
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const [out, ...files] = process.argv.slice(2);
if (!out || !files.length) {
  console.error('usage: node plot.js OUT.png RESULTS.jsonl...');
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// rows[server] = [[size, cpu_us, p99_ms], ...]
const rows = {};
for (const f of files) {
  const runs = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const server of [...new Set(runs.map((r) => r.server))]) {
    const pick = (sc, key) => median(runs.filter((r) => r.server === server && r.scenario === sc && r.ok)
      .map((r) => r[key]));
    const size = runs.find((r) => r.server === server).clients;
    (rows[server] ||= []).push([size, pick('fanout', 'server_cpu_us_per_delivery'),
      pick('fanout-100', 'p99_ms')]);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-plot-'));
const servers = Object.keys(rows);
for (const s of servers) {
  rows[s].sort((a, b) => a[0] - b[0]);
  fs.writeFileSync(path.join(dir, `${s}.dat`), rows[s].map((r) => r.join(' ')).join('\n') + '\n');
  console.log(`${s}: room size, server CPU us/delivery (max rate), p99 ms (100 msg/s)`);
  for (const r of rows[s]) console.log(`  ${r[0]}\t${r[1].toFixed(3)}\t${r[2].toFixed(3)}`);
}
const plots = (col) => servers.map((s) => `'${dir}/${s}.dat' using 1:${col} with linespoints lw 2 title '${s}'`).join(', ');
const script = `
set terminal pngcairo size 1100,450 font ',11'
set output '${out}'
set multiplot layout 1,2 title 'Fan-out to one room (server on one core, loopback)'
set logscale x
set xlabel 'receivers in the room'
set grid
set key top left
set ylabel 'server CPU per delivery (us), as fast as allowed'
plot ${plots(2)}
set ylabel 'p99 latency (ms) at 100 messages/s'
plot ${plots(3)}
unset multiplot
`;
execFileSync('gnuplot', [], { input: script });
fs.rmSync(dir, { recursive: true });
console.log(`wrote ${out}`);
