// One benchmark process: runs ONE case in ONE metric and prints one JSON line.
// Started by bench/run.mjs as
//   node --expose-gc --conditions=@dep/source --import tsx bench/child.mjs run <file> <metric> <json opts>
//   node --conditions=@dep/source --import tsx bench/child.mjs list <file>…
import { pathToFileURL } from 'node:url';

const DEFAULT_OPS = 100_000;

async function load(file) {
  const mod = await import(pathToFileURL(file).href);
  const c = mod.default;
  if (!c || typeof c !== 'object') throw new Error(`${file}: no default export (use defineCase({...}))`);
  if (typeof c.name !== 'string' || typeof c.group !== 'string') throw new Error(`${file}: a case needs string "name" and "group"`);
  if (typeof c.batch !== 'function' && typeof c.retain !== 'function') throw new Error(`${file}: a case needs batch() and/or retain()`);
  return c;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function gc2() {
  globalThis.gc();
  globalThis.gc();
}

async function call(fn, ...args) {
  const r = fn(...args);
  return r !== null && typeof r === 'object' && typeof r.then === 'function' ? await r : r;
}

async function runCase(file, metric, opts) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const c = await load(file);
  const n = c.ops ?? DEFAULT_OPS;
  const state = c.setup ? await c.setup() : undefined;
  const samples = [];
  const check = (done, what) => {
    if (done !== n) throw new Error(`${c.group}/${c.name}: ${what} completed ${String(done)} of ${n} ops`);
  };

  if (metric === 'time') {
    if (typeof c.batch !== 'function') throw new Error(`${c.group}/${c.name}: no batch()`);
    for (let i = 0; i < opts.warmup; i++) {
      gc2();
      check(await call(c.batch, n, state), 'warm-up batch');
    }
    for (let i = 0; i < opts.batches; i++) {
      gc2();
      if (opts.clock === 'cpu') {
        // CPU time of the whole process (main thread and V8's helper threads), not wall
        // time: on a shared, overloaded host the wall clock also bills the time the
        // process waits for a core, which grows with the batch's length.
        const c0 = process.cpuUsage();
        const done = await call(c.batch, n, state);
        const c1 = process.cpuUsage(c0);
        check(done, 'batch');
        samples.push(((c1.user + c1.system) * 1000) / n);
      } else {
        const t0 = process.hrtime.bigint();
        const done = await call(c.batch, n, state);
        const t1 = process.hrtime.bigint();
        check(done, 'batch');
        samples.push(Number(t1 - t0) / n);
      }
    }
  } else if (metric === 'retained') {
    if (typeof c.retain !== 'function') throw new Error(`${c.group}/${c.name}: no retain()`);
    const holder = new Array(n).fill(null);
    for (let i = 0; i < opts.warmup + opts.batches; i++) {
      gc2();
      const before = process.memoryUsage().heapUsed;
      const done = await call(c.retain, n, holder, state);
      gc2();
      const after = process.memoryUsage().heapUsed;
      check(done, 'retain');
      if (i >= opts.warmup) samples.push((after - before) / n);
      holder.fill(null);
    }
  } else {
    throw new Error(`unknown metric ${metric}`);
  }
  return { name: c.name, group: c.group, metric, ops: n, samples, median: median(samples) };
}

const [mode, ...rest] = process.argv.slice(2);
try {
  if (mode === 'list') {
    const cases = [];
    for (const file of rest) {
      const c = await load(file);
      cases.push({
        file,
        name: c.name,
        group: c.group,
        baseline: c.baseline === true,
        metrics: [typeof c.batch === 'function' ? 'time' : null, typeof c.retain === 'function' ? 'retained' : null].filter(Boolean),
      });
    }
    process.stdout.write(`${JSON.stringify({ ok: true, cases })}\n`);
  } else if (mode === 'run') {
    const [file, metric, json] = rest;
    const result = await runCase(file, metric, JSON.parse(json));
    process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
  } else {
    throw new Error(`usage: child.mjs list <file>… | run <file> <metric> <opts>`);
  }
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })}\n`);
  process.exitCode = 1;
}
