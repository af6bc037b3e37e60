// The shape sentinels (decision 0517): a plain DepJob always has a live instance of its
// hidden class, without pinning a queue. Hidden classes are only visible to V8's natives
// syntax, so that part runs in a child process with --allow-natives-syntax.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Runtime } from '@dep/kernel';
import { UNARMED } from './fence.js';
import { DepJob, jobShapeSentinel } from './job.js';
import { DepQueue } from './queue.js';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');

// Run in the child: every state of a plain job (worker and bypass paths, off mode) against
// the sentinel's map, then the same after every job died and two full GCs.
const CHILD = `
import { Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc } from '@dep/dma-fence';
import { DepJob, DepQueue } from '@dep/queue';
import { jobShapeSentinel } from './src/job.ts';
import { UNARMED } from './src/fence.ts';
const S = jobShapeSentinel();
const out = [];
const check = (what, job) => out.push([what, %HaveSameMap(job, S)]);
const hwOps = { getDriverName: () => 'hw', getTimelineName: () => 'hw' };
async function world(bypass) {
  const rt = new Runtime({ checks: 'off' });
  const ctx = contextAlloc(1, rt);
  let n = 0n;
  const q = new DepQueue({ runtime: rt, name: bypass ? 'b' : 'w', creditLimit: 4, bypass, jobPutIrqSafe: true,
    ops: { freeJobIrqSafe: true, runJob: () => { const f = new DmaFence(hwOps, ctx, ++n, { runtime: rt }); f.signal(); return f; } } });
  let prev = null;
  for (let i = 0; i < 3; i++) {
    const job = new DepJob(q);
    check('new', job);
    if (prev !== null) job.addDependency(prev);
    job.arm();
    check('armed', job);
    out.push(['finished fence', %HaveSameMap(job.finishedFence(), UNARMED)]);
    prev = job.finishedFence().get();
    job.get();
    job.push();
    check('pushed', job);
    await rt.runUntilIdle();
    job.put();
    check('done', job);
    job.put();
    check('freed', job);
  }
  prev.put();
  await q.fini();
}
await world(false);
await world(true);
globalThis.gc();
globalThis.gc();
const rt = new Runtime({ checks: 'off' });
const q = new DepQueue({ runtime: rt, name: 'after-gc', creditLimit: 1, ops: { runJob: () => null } });
check('new after full GCs', new DepJob(q));
console.log(JSON.stringify(out));
`;

describe('shape sentinels (decision 0517)', () => {
  it('the job sentinel is no job: no queue, freed, never counted', () => {
    const s = jobShapeSentinel();
    expect(s).toBeInstanceOf(DepJob);
    expect(s.queue).toBeNull();
    expect(s.state).toBe('freed');
    expect(s.refcount).toBe(0);
    expect(s._token).toBeNull();
    expect(s._fence).toBe(UNARMED);
    const rt = new Runtime({ checks: 'off' });
    const q = new DepQueue({ runtime: rt, name: 'q', creditLimit: 1, ops: { runJob: () => null } });
    expect(q.liveJobs).toBe(0);
    expect(q.refcount).toBe(1);
  });

  it('a plain job has the sentinel hidden class in every state, also after full GCs (V8 natives)', () => {
    const r = spawnSync(
      process.execPath,
      ['--allow-natives-syntax', '--expose-gc', '--conditions=@dep/source', '--import', 'tsx', '--input-type=module', '-e', CHILD],
      { cwd: PKG, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    const checks = JSON.parse(r.stdout.trim()) as Array<[string, boolean]>;
    expect(checks.length).toBe(2 * 3 * 6 + 1);
    expect(checks.filter(([, same]) => !same)).toEqual([]);
  }, 60_000);
});
