#!/usr/bin/env node
// `npm run check`: lockfile + build + typecheck + lint + api + publint + attw + pack-smoke.
// Runs every step even when an earlier one failed (so one CI log shows every problem),
// prints a summary, and exits non-zero if any step failed.

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');

const steps = [
  { name: 'lockfile (npm ci can install it)', cmd: process.execPath, args: [join(ROOT, 'scripts', 'check-lockfile.mjs')] },
  {
    name: 'build, typecheck, api, publint, attw (turbo, per package)',
    cmd: join(BIN, 'turbo'),
    args: ['run', 'build', 'typecheck', 'api', 'publint', 'attw', '--continue', '--concurrency=2', '--output-logs=new-only'],
  },
  { name: 'typecheck (root: configs, scripts, bench)', cmd: join(BIN, 'tsc'), args: ['-p', 'tsconfig.json'] },
  { name: 'lint (eslint, type-aware)', cmd: join(BIN, 'eslint'), args: ['.'] },
  { name: 'pack-smoke', cmd: process.execPath, args: [join(ROOT, 'scripts', 'pack-smoke.mjs')] },
];

const results = [];
for (const step of steps) {
  console.log(`\n== check: ${step.name}`);
  const started = Date.now();
  const r = spawnSync(step.cmd, step.args, { cwd: ROOT, stdio: 'inherit', env: { TURBO_TELEMETRY_DISABLED: '1', ...process.env } });
  results.push({ ...step, ok: r.status === 0, status: r.status ?? r.signal, seconds: (Date.now() - started) / 1000 });
}

console.log('\n== check summary');
for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}  (${r.seconds.toFixed(1)}s${r.ok ? '' : `, exit ${r.status}`})`);
const failed = results.filter((r) => !r.ok).length;
console.log(failed === 0 ? 'check: all steps passed' : `check: ${failed} of ${results.length} steps failed`);
process.exit(failed === 0 ? 0 : 1);
