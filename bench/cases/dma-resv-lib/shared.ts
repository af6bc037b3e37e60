// Shared parts of the dma-resv benchmark cases (bench/cases/dma-resv-*.ts). Not a case:
// the runner only lists files directly under bench/cases/.
//
// Groups:
//   resv-add-N  one op: put N fences of distinct contexts into an empty container
//               (baseline: a JS array, each add scanning the entries for one of the same
//               context or signalled, then pushing; DmaResv: reserveFences(N) + N ×
//               addFence, then emptied by copyFences from an empty resv)
//   resv-iter-N one op: walk the N fences of a container once (baseline: an indexed scan
//               of the array; DmaResv: a locked or unlocked cursor from iterBegin)
//   drm-exec-8  one op: one transaction locking 8 objects, yielding once, unlocking
//               (baseline: 8 kernel Mutexes taken in one global order; DrmExec: 8 resvs
//               in a per-task order, wait-die back-off on contention), 4 tasks at once
import { DmaFence, type DmaFenceOps } from '@dep/dma-fence';
import { Mutex, Runtime } from '@dep/kernel';
import { DmaResv, DmaResvUsage, DrmExec } from '@dep/dma-resv';
import { defineCase, type BenchCase } from '../../case.js';

const ops: DmaFenceOps = { getDriverName: () => 'bench', getTimelineName: () => 'bench' };

/** N unsignalled fences on distinct contexts, of a checks-off runtime. */
function makeFences(rt: Runtime, n: number): DmaFence[] {
  return Array.from({ length: n }, (_, i) => new DmaFence(ops, BigInt(i + 1), 1n, { runtime: rt }));
}

/** A checks-off runtime and a resv locked by the external frame (never unlocked). */
async function lockedResv(n: number): Promise<{ rt: Runtime; resv: DmaResv; empty: DmaResv; fences: DmaFence[] }> {
  const rt = new Runtime({ checks: 'off' });
  const resv = new DmaResv({ runtime: rt });
  const empty = new DmaResv({ runtime: rt });
  const fences = makeFences(rt, n);
  await resv.lock();
  return { rt, resv, empty, fences };
}

// --- resv-add-N ------------------------------------------------------------------------

let sinkArray: DmaFence[] = [];

export function addBaseline(n: number): BenchCase<{ fences: DmaFence[] }> {
  return defineCase({
    name: 'array scan + push',
    group: `resv-add-${n}`,
    baseline: true,
    ops: Math.max(2_000, Math.floor(400_000 / n)),
    setup: () => ({ fences: makeFences(new Runtime({ checks: 'off' }), n) }),
    batch(count, { fences }) {
      let done = 0;
      for (let op = 0; op < count; op++) {
        const arr: DmaFence[] = [];
        for (let k = 0; k < fences.length; k++) {
          const f = fences[k]!;
          let i = 0;
          for (; i < arr.length; i++) {
            const old = arr[i]!;
            if (old.context === f.context || old.testSignaledFlag()) break;
          }
          if (i < arr.length) arr[i] = f;
          else arr.push(f);
        }
        sinkArray = arr;
        if (arr.length === n) done++;
      }
      return done;
    },
  });
}

export function addResv(n: number): BenchCase<Awaited<ReturnType<typeof lockedResv>>> {
  return defineCase({
    name: 'DmaResv.addFence (off)',
    group: `resv-add-${n}`,
    ops: Math.max(2_000, Math.floor(400_000 / n)),
    setup: () => lockedResv(n),
    batch(count, { resv, empty, fences }) {
      let done = 0;
      for (let op = 0; op < count; op++) {
        resv.reserveFences(n);
        for (let k = 0; k < fences.length; k++) resv.addFence(fences[k]!, DmaResvUsage.WRITE);
        if (resv.numFences === n) done++;
        resv.copyFences(empty);
      }
      return done;
    },
  });
}

// --- resv-iter-N -----------------------------------------------------------------------

let sinkCount = 0;

export function iterBaseline(n: number): BenchCase<{ fences: DmaFence[] }> {
  return defineCase({
    name: 'array scan',
    group: `resv-iter-${n}`,
    baseline: true,
    ops: Math.max(10_000, Math.floor(2_000_000 / n)),
    setup: () => ({ fences: makeFences(new Runtime({ checks: 'off' }), n) }),
    batch(count, { fences }) {
      let done = 0;
      for (let op = 0; op < count; op++) {
        let seen = 0;
        for (let i = 0; i < fences.length; i++) if (fences[i]!.context > 0n) seen++;
        sinkCount = seen;
        if (seen === n) done++;
      }
      return done;
    },
  });
}

async function filledResv(n: number) {
  const s = await lockedResv(n);
  s.resv.reserveFences(n);
  for (const f of s.fences) s.resv.addFence(f, DmaResvUsage.WRITE);
  return s;
}

export function iterLocked(n: number): BenchCase<Awaited<ReturnType<typeof filledResv>>> {
  return defineCase({
    name: 'DmaResv locked cursor (off)',
    group: `resv-iter-${n}`,
    ops: Math.max(10_000, Math.floor(2_000_000 / n)),
    setup: () => filledResv(n),
    batch(count, { resv }) {
      let done = 0;
      for (let op = 0; op < count; op++) {
        const c = resv.iterBegin(DmaResvUsage.READ);
        let seen = 0;
        for (let f = c.first(); f !== null; f = c.next()) if (f.context > 0n) seen++;
        sinkCount = seen;
        if (seen === n) done++;
      }
      return done;
    },
  });
}

export function iterUnlocked(n: number): BenchCase<Awaited<ReturnType<typeof filledResv>>> {
  return defineCase({
    name: 'DmaResv unlocked cursor (off)',
    group: `resv-iter-${n}`,
    ops: Math.max(10_000, Math.floor(2_000_000 / n)),
    setup: () => filledResv(n),
    batch(count, { resv }) {
      let done = 0;
      for (let op = 0; op < count; op++) {
        const c = resv.iterBegin(DmaResvUsage.READ);
        let seen = 0;
        for (let f = c.firstUnlocked(); f !== null; f = c.nextUnlocked()) if (f.context > 0n) seen++;
        c.end();
        sinkCount = seen;
        if (seen === n) done++;
      }
      return done;
    },
  });
}

// --- drm-exec-8 ------------------------------------------------------------------------

const OBJS = 8;
const TASKS = 4;

/** Task t's locking order: a rotation, so the four tasks collide all the time. */
function orderOf(t: number): number[] {
  return Array.from({ length: OBJS }, (_, i) => (i + t * 3) % OBJS);
}

async function inTasks(rt: Runtime, tasks: number, count: number, one: (t: number) => Promise<void>): Promise<number> {
  let done = 0;
  const per = Math.ceil(count / tasks);
  for (let t = 0; t < tasks; t++) {
    const mine = Math.min(per, count - t * per);
    if (mine <= 0) break;
    rt.spawn(`t${t}`, async () => {
      for (let i = 0; i < mine; i++) {
        await one(t);
        done++;
      }
    });
  }
  await rt.runUntilIdle();
  return done;
}

export function execBaseline(): BenchCase<{ rt: Runtime; locks: Mutex[] }> {
  return defineCase({
    name: 'sorted Mutex ×8, 4 tasks (off)',
    group: 'drm-exec-8',
    baseline: true,
    ops: 20_000,
    setup: () => {
      const rt = new Runtime({ checks: 'off' });
      return { rt, locks: Array.from({ length: OBJS }, (_, i) => new Mutex(rt, `obj${i}`)) };
    },
    batch: (count, { rt, locks }) =>
      inTasks(rt, TASKS, count, async () => {
        for (let i = 0; i < OBJS; i++) await locks[i]!.lock();
        await rt.yield();
        for (let i = OBJS - 1; i >= 0; i--) locks[i]!.unlock();
      }),
  });
}

export function execResv(tasks: number): BenchCase<{ rt: Runtime; bos: DmaResv[]; retries: { n: number } }> {
  return defineCase({
    name: tasks === 1 ? 'DrmExec ×8, 1 task (off)' : `DrmExec ×8, ${tasks} tasks, rotated orders (off)`,
    group: 'drm-exec-8',
    ops: 20_000,
    setup: () => {
      const rt = new Runtime({ checks: 'off' });
      return { rt, bos: Array.from({ length: OBJS }, (_, i) => new DmaResv({ runtime: rt, name: `bo${i}` })), retries: { n: 0 } };
    },
    batch: (count, { rt, bos, retries }) =>
      inTasks(rt, tasks, count, async (t) => {
        const order = orderOf(t);
        const exec = new DrmExec(rt);
        await exec.untilAllLocked(async (e) => {
          for (const i of order) await e.lockObj(bos[i]!);
        });
        retries.n += exec.retries;
        await rt.yield();
        exec.fini();
      }),
  });
}

/** Keep the sinks observable so nothing is optimized away. */
export function sinks(): number {
  return sinkArray.length + sinkCount;
}
