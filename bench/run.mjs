#!/usr/bin/env node
// The project's benchmark runner (method: shared reference/benchmarking.md; contract:
// bench/README.md).
//
//   npm run bench [-- [filter] [--quick] [--rounds K] [--warmup W] [--batches B]
//                    [--clock wall|cpu]
//                    [--metric time|retained|all] [--seed S] [--pin] [--out FILE]]
//
// Every case runs in a fresh `node --expose-gc` process, K rounds with the case order
// shuffled per round (seeded), W untimed warm-up batches then B timed batches with gc()
// twice before each. Per process: the median batch. Across processes: the median of the
// medians and their min..max. Each case is reported as a ratio against its group's
// baseline measured in the same run.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');
const CHILD = join(BENCH, 'child.mjs');

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    batches: { type: 'string' },
    metric: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '1' },
    pin: { type: 'boolean', default: false },
    clock: { type: 'string', default: 'wall' },
    out: { type: 'string', default: join(BENCH, 'results', 'latest.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(
    'usage: node bench/run.mjs [filter] [--quick] [--rounds K] [--warmup W] [--batches B] [--clock wall|cpu]\n' +
      '                          [--metric time|retained|all] [--seed S] [--pin] [--out FILE]\n' +
      'filter: substring of "group/name" (the group baselines always run too)',
  );
  process.exit(0);
}

function int(value, fallback, name) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`bench: --${name} expects a non-negative integer, got "${value}"`);
    process.exit(2);
  }
  return n;
}

const rounds = int(opt.rounds, opt.quick ? 1 : 5, 'rounds') || 1;
const warmup = int(opt.warmup, opt.quick ? 1 : 3, 'warmup');
const batches = int(opt.batches, opt.quick ? 3 : 7, 'batches') || 1;
const seed = int(opt.seed, 1, 'seed');
const filter = positionals[0];
if (!['wall', 'cpu'].includes(opt.clock)) {
  console.error('bench: --clock must be wall or cpu');
  process.exit(2);
}
if (!['time', 'retained', 'all'].includes(opt.metric)) {
  console.error('bench: --metric must be time, retained or all');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------

function nodeArgs(exposeGc) {
  return [...(exposeGc ? ['--expose-gc'] : []), '--conditions=@dep/source', '--import', 'tsx', CHILD];
}

function spawnChild(args, { pin = false } = {}) {
  const [cmd, argv] = pin ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new Error(`benchmark process printed no result (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  if (!msg.ok) throw new Error(msg.error);
  return msg;
}

// mulberry32: small seeded PRNG for the per-round shuffle.
function rng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(xs, rand) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------
// Discover and validate cases.

const files = readdirSync(join(BENCH, 'cases'))
  .filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith('.d.ts'))
  .sort()
  .map((f) => join(BENCH, 'cases', f));

const { cases } = spawnChild([...nodeArgs(false), 'list', ...files]);
const byGroup = new Map();
for (const c of cases) {
  const list = byGroup.get(c.group) ?? [];
  if (list.some((o) => o.name === c.name)) throw new Error(`duplicate case ${c.group}/${c.name}`);
  list.push(c);
  byGroup.set(c.group, list);
}
for (const [group, list] of byGroup) {
  const n = list.filter((c) => c.baseline).length;
  if (n > 1) throw new Error(`group "${group}" has ${n} baselines; exactly one case may set baseline: true`);
  if (n === 0) console.warn(`bench: group "${group}" has no baseline; its cases get no ratio`);
}

const matches = (c) => !filter || `${c.group}/${c.name}`.includes(filter) || relative(BENCH, c.file).includes(filter);
const selectedGroups = new Set(cases.filter(matches).map((c) => c.group));
const selected = cases.filter((c) => matches(c) || (c.baseline && selectedGroups.has(c.group)));
if (selected.length === 0) {
  console.error(`bench: no case matches "${filter}"`);
  process.exit(1);
}

const metrics = opt.metric === 'all' ? ['time', 'retained'] : [opt.metric];
const jobs = selected.flatMap((c) => c.metrics.filter((m) => metrics.includes(m)).map((metric) => ({ ...c, metric, medians: [], ops: 0 })));

// ---------------------------------------------------------------------------------------
// Run: K rounds, shuffled order, one process per case and metric.

const rand = rng(seed);
const childOpts = JSON.stringify({ warmup, batches, clock: opt.clock });
const started = Date.now();
console.log(
  `bench: ${jobs.length} case/metric pairs × ${rounds} round${rounds === 1 ? '' : 's'} ` +
    `(${warmup} warm-up + ${batches} timed batches, seed ${seed}${opt.pin ? ', pinned to CPU 1' : ''}${opt.clock === 'cpu' ? ', CPU time' : ''})`,
);
for (let r = 0; r < rounds; r++) {
  process.stdout.write(`  round ${r + 1}/${rounds} `);
  for (const job of shuffle(jobs, rand)) {
    const res = spawnChild([...nodeArgs(true), 'run', job.file, job.metric, childOpts], { pin: opt.pin });
    job.medians.push(res.median);
    job.ops = res.ops;
    process.stdout.write('.');
  }
  process.stdout.write('\n');
}

// ---------------------------------------------------------------------------------------
// Report.

const UNIT = { time: opt.clock === 'cpu' ? 'cpu ns/op' : 'ns/op', retained: 'B/op' };
const results = jobs.map((j) => ({
  group: j.group,
  name: j.name,
  baseline: j.baseline,
  metric: j.metric,
  unit: UNIT[j.metric],
  ops: j.ops,
  median: median(j.medians),
  min: Math.min(...j.medians),
  max: Math.max(...j.medians),
  perProcess: j.medians,
  ratio: null,
  roundRatio: null,
  file: relative(ROOT, j.file),
}));
for (const r of results) {
  const base = results.find((b) => b.group === r.group && b.metric === r.metric && b.baseline);
  r.ratio = base && base.median !== 0 ? r.median / base.median : null;
  // The same ratio taken within each round (the case and its baseline ran minutes apart at
  // most), then its median and spread: less sensitive to the host's load drifting between rounds.
  if (base && !r.baseline && base.perProcess.every((m) => m !== 0)) {
    const perRound = r.perProcess.map((m, i) => m / base.perProcess[i]);
    r.roundRatio = { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound), perRound };
  }
}
results.sort((a, b) => a.group.localeCompare(b.group) || b.metric.localeCompare(a.metric) || Number(b.baseline) - Number(a.baseline) || a.name.localeCompare(b.name));

const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const rows = [['group', 'case', 'unit', 'median', 'spread (min..max)', 'ratio', 'per round (min..max)']];
let lastKey = '';
for (const r of results) {
  const key = `${r.metric}/${r.group}`;
  rows.push([
    key === lastKey ? '' : r.group,
    `${r.name}${r.baseline ? ' (baseline)' : ''}`,
    r.unit,
    fmt(r.median),
    `${fmt(r.min)}..${fmt(r.max)}`,
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    r.roundRatio === null ? '' : `${r.roundRatio.median.toFixed(2)}× (${r.roundRatio.min.toFixed(2)}..${r.roundRatio.max.toFixed(2)})`,
  ]);
  lastKey = key;
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
const right = new Set([3, 4, 5, 6]);
console.log('');
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, k) => (right.has(k) ? cell.padStart(widths[k]) : cell.padEnd(widths[k]))).join('  ').trimEnd());
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log('\nRatios compare medians measured in this run; absolute figures do not carry across machines or days.');

const report = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  options: { filter: filter ?? null, rounds, warmup, batches, seed, metric: opt.metric, clock: opt.clock, pinned: opt.pin, quick: opt.quick },
  seconds: (Date.now() - started) / 1000,
  results,
};
mkdirSync(dirname(resolve(opt.out)), { recursive: true });
writeFileSync(resolve(opt.out), `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${relative(process.cwd(), resolve(opt.out)) || opt.out}`);
