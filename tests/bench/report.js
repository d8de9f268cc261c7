// Reads the JSON lines written by run.sh (one per parley-bench run, each with "server" and
// "rep" added) and prints, per scenario and figure, the median over repetitions for each server
// and the ratio Parley / Node. Lower is better for latency, CPU and RSS figures; higher for
// rates. Usage: node report.js RESULTS.jsonl
'use strict';

const fs = require('fs');

const file = process.argv[2];
if (!file) {
  console.error('usage: node report.js RESULTS.jsonl');
  process.exit(2);
}

// Settings rather than measurements: not worth a row.
const skip = new Set(['server', 'rep', 'scenario', 'clients', 'senders', 'rate', 'window', 'room_size', 'ok']);

const runs = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const scenarios = [];
const servers = [];
const data = new Map(); // scenario -> figure -> server -> [values]
const okCount = new Map(); // scenario/server -> [ok, total]

for (const r of runs) {
  if (!scenarios.includes(r.scenario)) scenarios.push(r.scenario);
  if (!servers.includes(r.server)) servers.push(r.server);
  const k = `${r.scenario}/${r.server}`;
  const c = okCount.get(k) || [0, 0];
  c[0] += r.ok ? 1 : 0;
  c[1] += 1;
  okCount.set(k, c);
  if (!data.has(r.scenario)) data.set(r.scenario, new Map());
  const figs = data.get(r.scenario);
  for (const [key, v] of Object.entries(r)) {
    if (skip.has(key) || typeof v !== 'number') continue;
    if (!figs.has(key)) figs.set(key, new Map());
    const bySrv = figs.get(key);
    if (!bySrv.has(r.server)) bySrv.set(r.server, []);
    bySrv.get(r.server).push(v);
  }
}

function median(a) {
  if (!a || a.length === 0) return null;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.1) return v.toFixed(3);
  return v.toPrecision(3);
}

const cols = ['scenario', 'figure', ...servers];
const pair = servers.includes('parley') && servers.includes('node');
if (pair) cols.push('parley/node');
const rows = [cols];
for (const sc of scenarios) {
  const okRow = [sc, 'runs ok'];
  for (const s of servers) {
    const c = okCount.get(`${sc}/${s}`) || [0, 0];
    okRow.push(`${c[0]}/${c[1]}`);
  }
  if (pair) okRow.push('');
  rows.push(okRow);
  for (const [fig, bySrv] of data.get(sc)) {
    const row = ['', fig];
    const med = {};
    for (const s of servers) {
      med[s] = median(bySrv.get(s));
      row.push(fmt(med[s]));
    }
    if (pair) {
      const p = med.parley;
      const n = med.node;
      row.push(p !== null && n !== null && n !== 0 ? (p / n).toFixed(3) : '-');
    }
    rows.push(row);
  }
}

const widths = cols.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((c, j) => (j < 2 ? String(c).padEnd(widths[j]) : String(c).padStart(widths[j]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
