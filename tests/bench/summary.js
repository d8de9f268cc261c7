// What the benchmark summaries share (history-report.js, cluster-report.js): reading the JSON
// lines of one invocation, medians, number formatting, grouping the clean runs and printing a
// table of medians with one column per group.
'use strict';

const fs = require('fs');

// The runs of FILE (one JSON object per line) whose "run" stamp is runId; exits with 1 if none.
function readRuns(file, runId, tool) {
  const runs = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim())
    .map((l) => JSON.parse(l)).filter((r) => r.run === runId);
  if (runs.length === 0) {
    console.error(`${tool}: no runs of ${runId} in ${file}`);
    process.exit(1);
  }
  return runs;
}

function median(a) {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(v) {
  if (!Number.isFinite(v)) return '-';
  return Math.abs(v) >= 1000 ? Math.round(v).toString() : (+v.toPrecision(4)).toString();
}

// Groups the clean runs by a key; says how many were not clean.
function group(runs, keyOf) {
  const by = new Map();
  for (const r of runs) {
    const k = keyOf(r);
    if (!by.has(k)) by.set(k, []);
    if (r.ok) by.get(k).push(r);
    else console.log(`note: rep ${r.rep} (${k}) was not clean (ok false); left out of the medians`);
  }
  return by;
}

// The median of f over the runs rs, leaving out what is not a number.
const med = (rs, f) => median(rs.map(f).filter(Number.isFinite));

// Prints one row per figure: its median in each group, in the order of names.
function table(by, names, figures, width = 28) {
  const col = Math.max(14, ...names.map((n) => n.length + 2));
  console.log(`  ${'figure'.padEnd(width)}${names.map((n) => n.padStart(col)).join('')}`);
  for (const f of figures) {
    const cells = names.map((n) => fmt(med(by.get(n) || [], f.get)));
    console.log(`  ${f.name.padEnd(width)}${cells.map((c) => c.padStart(col)).join('')}`);
  }
  console.log(`  ${'clean runs'.padEnd(width)}${names.map((n) => String((by.get(n) || []).length).padStart(col)).join('')}`);
}

// A row of a table: its name and how to read it from a run (by default the field of that name).
const fig = (name, get) => ({ name, get: get || ((r) => r[name]) });

module.exports = { readRuns, median, fmt, group, med, table, fig };
