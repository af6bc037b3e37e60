// Case factories for the "queue-*" groups (@dep/queue against p-queue, promise chains and a
// minimal hand-written queue). One op is one job: submitted, run on an engine that completes
// at once (the hardware fence is signalled when runJob returns), observed complete (and,
// for @dep/queue, retired and freed). In the "-4q" groups the jobs go round-robin over 4
// queues and each depends on the job submitted just before it, which sits on another
// queue (the cross dependency).
//
// Two shapes:
// - burst ("queue-1q", "queue-4q", the scenario): a batch of 100 000 jobs is
//   submitted, then the world is driven until every job completed. Whatever a design
//   defers is held meanwhile, so retained bytes per pending job cost time (GC).
// - steady ("queue-4q-steady"): the world is driven to idle every CHUNK jobs (the
//   benchmarking.md drain), so backlogs stay small and fixed costs dominate.
//
// This directory is skipped by the case loader (it lists files only), so it can hold shared code.
import PQueue from 'p-queue';
import { Runtime, type Checks } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DepJob, DepQueue, type DepQueueOps } from '@dep/queue';
import { defineCase, type BenchCase } from '../../case.js';
import { MinimalFence } from '../../lib/minimal-fence.js';

export const CHUNK = 1024;
const SEQNOS = Array.from({ length: CHUNK }, (_, i) => BigInt(i + 1));
const hwOps: DmaFenceOps = { getDriverName: () => 'bench-hw', getTimelineName: () => 'engine' };

export interface QueueCaseId {
  readonly name: string;
  readonly group: 'queue-1q' | 'queue-4q' | 'queue-4q-steady';
  readonly baseline?: boolean;
}

const queuesOf = (group: QueueCaseId['group']): number => (group === 'queue-1q' ? 1 : 4);
/** Jobs submitted before the world is driven: the whole batch (burst) or CHUNK (steady). */
const chunkOf = (group: QueueCaseId['group']): number => (group === 'queue-4q-steady' ? CHUNK : Number.MAX_SAFE_INTEGER);
const isCross = (group: QueueCaseId['group']): boolean => group !== 'queue-1q';

// --- @dep/queue -----------------------------------------------------------------------

export interface DepVariant {
  readonly checks: Checks;
  readonly bypass: boolean;
  readonly irqPut: boolean;
}

export interface DepWorld {
  readonly rt: Runtime;
  readonly queues: DepQueue[];
  readonly counter: { freed: number };
  prev: Fence | null;
}

/** A driver whose engine completes at once: runJob returns an already signalled hardware fence. */
function engineOps(rt: Runtime, counter: { freed: number }): DepQueueOps {
  const ctx = contextAlloc(1, rt);
  const opts = { runtime: rt };
  let n = 0;
  return {
    freeJobIrqSafe: true,
    runJob() {
      const f = new DmaFence(hwOps, ctx, SEQNOS[n++ & (CHUNK - 1)], opts);
      f.signal();
      return f;
    },
    freeJob() {
      counter.freed++;
    },
  };
}

function depWorld(group: QueueCaseId['group'], v: DepVariant, pending: boolean): DepWorld {
  const rt = new Runtime({ checks: v.checks });
  const counter = { freed: 0 };
  const ops = engineOps(rt, counter);
  const queues: DepQueue[] = [];
  for (let i = 0; i < queuesOf(group); i++) {
    queues.push(new DepQueue({ runtime: rt, name: `q${i}`, creditLimit: pending ? 1 << 30 : 64, ops, bypass: v.bypass, jobPutIrqSafe: v.irqPut }));
  }
  return { rt, queues, counter, prev: null };
}

/** Submit one job the way a driver does: init, dependency, arm, push, put. */
function depSubmit(w: DepWorld, i: number, cross: boolean): void {
  const q = w.queues[i % w.queues.length]!;
  const job = new DepJob(q);
  const prev = w.prev;
  if (cross && prev !== null) job.addDependency(prev.get());
  job.arm();
  const f = job.finishedFence();
  job.push();
  if (cross) {
    prev?.put();
    w.prev = f.get();
  }
  job.put();
}

export function depCase(id: QueueCaseId, v: DepVariant): BenchCase<DepWorld> {
  const cross = isCross(id.group);
  const chunk = chunkOf(id.group);
  return defineCase({
    ...id,
    ops: 100_000,
    setup: () => depWorld(id.group, v, false),
    async batch(n, w) {
      const start = w.counter.freed;
      for (let done = 0; done < n; ) {
        const k = Math.min(chunk, n - done);
        for (let i = 0; i < k; i++) depSubmit(w, done + i, cross);
        done += k;
        await w.rt.runUntilIdle();
      }
      return w.counter.freed - start;
    },
    async retain(n, holder) {
      // n pending jobs: the first waits on a fence that never signals, the rest behind it.
      // Driven to idle, so no executor event references the world: only the holder does.
      const w = depWorld(id.group, v, true);
      const never = new DmaFence(hwOps, contextAlloc(1, w.rt), 1n, { runtime: w.rt });
      for (let i = 0; i < n; i++) {
        const q = w.queues[i % w.queues.length]!;
        const job = new DepJob(q);
        if (i < w.queues.length) job.addDependency(never.get());
        else if (cross) job.addDependency(w.prev!.get());
        job.arm();
        const f = job.finishedFence();
        job.push();
        if (cross) {
          w.prev?.put();
          w.prev = f.get();
        }
        job.put();
        holder[i] = f; // → job → queue → every queued job
      }
      await w.rt.runUntilIdle();
      return n;
    },
  });
}

// --- p-queue (concurrency 1 per queue) ------------------------------------------------------

export function pQueueCase(id: QueueCaseId): BenchCase<undefined> {
  const cross = isCross(id.group);
  const chunk = chunkOf(id.group);
  const nq = queuesOf(id.group);
  const make = (): PQueue[] => Array.from({ length: nq }, () => new PQueue({ concurrency: 1 }));
  return defineCase({
    ...id,
    ops: 100_000,
    async batch(n) {
      const queues = make();
      const counter = { n: 0 };
      const run = (): number => ++counter.n; // the engine completes at once
      let prev: Promise<unknown> | null = null;
      for (let done = 0; done < n; ) {
        const k = Math.min(chunk, n - done);
        for (let i = 0; i < k; i++) {
          const q = queues[(done + i) % nq]!;
          const dep: Promise<unknown> | null = prev;
          const p: Promise<number> = cross && dep !== null ? q.add(async () => { await dep; return run(); }) : q.add(run);
          prev = p;
        }
        done += k;
        await Promise.all(queues.map((q) => q.onIdle()));
      }
      return counter.n;
    },
    retain(n, holder) {
      const queues = make();
      let release!: () => void;
      const never = new Promise<void>((r) => (release = r));
      void release;
      let prev: Promise<unknown> = never;
      for (let i = 0; i < n; i++) {
        const q = queues[i % nq]!;
        const dep = i < nq ? never : cross ? prev : null;
        const p = q.add(dep === null ? () => i : async () => { await dep; return i; });
        prev = p;
        holder[i] = p;
      }
      holder[0] = queues; // the queues hold the tasks; a promise does not reach its queue
      return n;
    },
  });
}

// --- promise chains ----------------------------------------------------------------------

export function promiseChainCase(id: QueueCaseId): BenchCase<undefined> {
  const cross = isCross(id.group);
  const chunk = chunkOf(id.group);
  const nq = queuesOf(id.group);
  return defineCase({
    ...id,
    ops: 100_000,
    async batch(n) {
      const counter = { n: 0 };
      const run = (): void => {
        counter.n++;
      };
      const tails: Promise<unknown>[] = Array.from({ length: nq }, () => Promise.resolve());
      let prev: Promise<unknown> | null = null;
      for (let done = 0; done < n; ) {
        const k = Math.min(chunk, n - done);
        for (let i = 0; i < k; i++) {
          const qi = (done + i) % nq;
          const after: Promise<unknown> = cross && prev !== null ? Promise.all([tails[qi], prev]) : tails[qi]!;
          const p = after.then(run);
          tails[qi] = p;
          prev = p;
        }
        done += k;
        await Promise.all(tails);
      }
      return counter.n;
    },
    retain(n, holder) {
      const never = new Promise<void>(() => undefined);
      const tails: Promise<unknown>[] = Array.from({ length: nq }, () => never);
      let prev: Promise<unknown> = never;
      const run = (): void => undefined;
      for (let i = 0; i < n; i++) {
        const qi = i % nq;
        const after = cross && i >= nq ? Promise.all([tails[qi], prev]) : tails[qi]!;
        const p = after.then(run);
        tails[qi] = p;
        prev = p;
        holder[i] = p;
      }
      return n;
    },
  });
}

// --- a minimal hand-written queue ------------------------------------------------------------

/** The smallest event loop that can run a worker: (fn, arg) events in a FIFO, drained in order. */
class MiniLoop {
  readonly fns: Array<(arg: unknown) => void> = [];
  readonly args: unknown[] = [];
  post(fn: (arg: unknown) => void, arg: unknown): void {
    this.fns.push(fn);
    this.args.push(arg);
  }
  drain(): void {
    for (let i = 0; i < this.fns.length; i++) this.fns[i]!(this.args[i]);
    this.fns.length = 0;
    this.args.length = 0;
  }
}

interface MiniJob {
  readonly fence: MinimalFence;
  readonly dep: MinimalFence | null;
  readonly q: MiniQueue;
}

const miniRunWork = (q: unknown): void => (q as MiniQueue).work();
const miniKick = (_f: MinimalFence, q: unknown): void => (q as MiniQueue).kick();

/** A FIFO job queue with dependencies, a worker (an event per job) and an optional inline path. */
class MiniQueue {
  readonly loop: MiniLoop;
  readonly inline: boolean;
  readonly jobs: MiniJob[] = [];
  head = 0;
  scheduled = false;
  readonly counter: { n: number };
  constructor(loop: MiniLoop, inline: boolean, counter: { n: number }) {
    this.loop = loop;
    this.inline = inline;
    this.counter = counter;
  }
  push(job: MiniJob): void {
    if (this.inline && !this.scheduled && this.head === this.jobs.length && (job.dep === null || (job.dep.flags & 1) !== 0)) {
      this.run(job);
      return;
    }
    this.jobs.push(job);
    this.kick();
  }
  kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.loop.post(miniRunWork, this);
  }
  work(): void {
    this.scheduled = false;
    const job = this.jobs[this.head];
    if (job === undefined) return;
    if (job.dep !== null && job.dep.addCallback(miniKick, this)) return;
    this.jobs[this.head++] = undefined as unknown as MiniJob;
    if (this.head === this.jobs.length) {
      this.jobs.length = 0;
      this.head = 0;
    }
    this.run(job);
    if (this.head < this.jobs.length) this.kick();
  }
  run(job: MiniJob): void {
    const hw = new MinimalFence(0, 0); // the engine completes at once
    hw.signal();
    job.fence.signal();
    this.counter.n++;
  }
}

export function minimalQueueCase(id: QueueCaseId, inline: boolean): BenchCase<undefined> {
  const cross = isCross(id.group);
  const chunk = chunkOf(id.group);
  const nq = queuesOf(id.group);
  return defineCase({
    ...id,
    ops: 100_000,
    batch(n) {
      const loop = new MiniLoop();
      const counter = { n: 0 };
      const queues = Array.from({ length: nq }, () => new MiniQueue(loop, inline, counter));
      let prev: MinimalFence | null = null;
      for (let done = 0; done < n; ) {
        const k = Math.min(chunk, n - done);
        for (let i = 0; i < k; i++) {
          const q = queues[(done + i) % nq]!;
          const fence = new MinimalFence(1, done + i);
          q.push({ fence, dep: cross ? prev : null, q });
          prev = fence;
        }
        done += k;
        loop.drain();
      }
      return counter.n;
    },
    retain(n, holder) {
      const loop = new MiniLoop();
      const counter = { n: 0 };
      const queues = Array.from({ length: nq }, () => new MiniQueue(loop, inline, counter));
      const never = new MinimalFence(0, 0);
      let prev: MinimalFence = never;
      for (let i = 0; i < n; i++) {
        const q = queues[i % nq]!;
        const fence = new MinimalFence(1, i);
        const job: MiniJob = { fence, dep: i < nq ? never : cross ? prev : null, q };
        q.push(job);
        prev = fence;
        holder[i] = job; // → its queue → every queued job
      }
      loop.drain();
      return n;
    },
  });
}
