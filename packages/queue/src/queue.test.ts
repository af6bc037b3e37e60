import { describe, expect, it } from 'vitest';
import { DepError, Mutex, Runtime, isDepError } from '@dep/kernel';
import { DmaFence, contextAlloc, type Fence } from '@dep/dma-fence';
import { DepQueue } from './queue.js';
import { MockDriver, MockHw, MockJob } from './testing.js';
import { ops, setup, submit } from './test-helpers.js';

describe('DepQueue: a single job', () => {
  it('runs on the worker, completes from the hardware fence, retires and frees', async () => {
    const { rt, hw, drv, q } = setup();
    await rt.run(async () => {
      const { job, fence } = submit(q, { duration: 5 });
      expect(job.state).toBe('pushed');
      expect(fence.seqno).toBe(1n);
      expect(fence.context).toBe(q.context);
      await rt.yield();
      expect(drv.ran).toEqual([1]);
      expect(q.creditsInFlight).toBe(1);
      expect(fence.getStatus()).toBe(0);
      expect(await fence.waitTimeout(100)).toBeGreaterThan(0);
      expect(rt.now()).toBe(5);
      expect(fence.getStatus()).toBe(1);
      await rt.yield();
      expect(drv.freed).toEqual([1]);
      expect(q.creditsInFlight).toBe(0);
      expect(q.liveJobs).toBe(0);
      fence.put();
      expect(hw.interrupts).toBe(1);
      await q.fini();
    });
    expect(q.released).toBe(true);
    expect(drv.released).toEqual(['q0']);
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });

  it('propagates the hardware fence error to the finished fence', async () => {
    const { rt, hw, q } = setup();
    await rt.run(async () => {
      const { job, fence } = submit(q);
      await rt.yield();
      hw.cancel(job.hwFence!, -5);
      expect(fence.getStatus()).toBe(-5);
      fence.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('a runJob that throws a DepError completes the job with its errno (ERR_PTR)', async () => {
    const rt = new Runtime();
    const q = new DepQueue({
      runtime: rt,
      name: 'enospc',
      creditLimit: 1,
      ops: {
        runJob(): Fence | null {
          throw new DepError('ENOSPC', 'ring full');
        },
      },
    });
    await rt.run(async () => {
      const j = new MockJob(q as unknown as DepQueue<MockJob>).arm();
      const f = j.finishedFence().get();
      j.push();
      j.put();
      await f.wait();
      expect(f.getStatus()).toBe(-28);
      await rt.sleep(1);
      expect(q.pendingJobs).toBe(0);
      expect(q.creditsInFlight).toBe(0);
      f.put();
      await q.fini();
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a runJob that throws anything else completes the job with -EIO, then the error is an oops in the worker', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const q = new DepQueue({
      runtime: rt,
      name: 'bug',
      creditLimit: 1,
      ops: {
        runJob(): Fence | null {
          throw new TypeError('driver bug');
        },
      },
    });
    let status = 0;
    await rt.run(async () => {
      const j = new MockJob(q as unknown as DepQueue<MockJob>).arm();
      const f = j.finishedFence().get();
      j.push();
      j.put();
      await f.wait();
      status = f.getStatus();
      f.put();
      await q.fini();
    });
    expect(status).toBe(-5);
    expect(rt.reports.list.some((r) => r.kind === 'oops' && /driver bug/.test(r.message))).toBe(true);
  });

  it('runJob returning null completes the job at once', async () => {
    const rt = new Runtime();
    const q = new DepQueue({ runtime: rt, name: 'null', creditLimit: 1, ops: { runJob: () => null } });
    await rt.run(async () => {
      const j = new MockJob(q as unknown as DepQueue<MockJob>).arm();
      const f = j.finishedFence().get();
      j.push();
      j.put();
      await f.wait();
      expect(f.getStatus()).toBe(1);
      f.put();
      await q.fini();
    });
    rt.shutdown();
  });
});

describe('DepQueue: queues of jobs', () => {
  it('independent jobs run in push order and complete in order', async () => {
    const { rt, drv, q } = setup();
    await rt.run(async () => {
      const fences = Array.from({ length: 5 }, (_, i) => submit(q, { duration: 5 - i }).fence);
      await fences[4]!.wait();
      expect(drv.ran).toEqual([1, 2, 3, 4, 5]);
      expect(fences.map((f) => f.getStatus())).toEqual([1, 1, 1, 1, 1]);
      expect(fences.map((f) => f.timestamp())).toEqual([5, 9, 12, 14, 15]);
      for (const f of fences) f.put();
      await q.fini();
      expect(drv.freed).toEqual([1, 2, 3, 4, 5]);
    });
    rt.shutdown();
  });

  it('a dependent job waits for its dependency, then runs', async () => {
    const { rt, drv, q } = setup();
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const { job, fence } = submit(q, { duration: 1, deps: [ext] });
      const { fence: f2 } = submit(q, { duration: 1 });
      await rt.sleep(10);
      expect(drv.ran).toEqual([]);
      expect(job.state).toBe('pushed');
      expect(q.queuedJobs).toBe(2);
      ext.signal();
      await f2.wait();
      expect(drv.ran).toEqual([1, 2]);
      expect(fence.timestamp()).toBe(11);
      fence.put();
      f2.put();
      ext.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('dedups dependencies by context, keeping the later fence, and drops own-queue and signalled ones', async () => {
    const { rt, q } = setup();
    await rt.run(async () => {
      const ctx = contextAlloc(1, rt);
      const a1 = new DmaFence(ops, ctx, 1n, { runtime: rt });
      const a2 = new DmaFence(ops, ctx, 2n, { runtime: rt });
      const b = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const done = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      done.signal();
      const { fence: own } = submit(q, { duration: 1 });
      const job = new MockJob(q);
      job.addDependency(a1.get());
      job.addDependency(b.get());
      job.addDependency(a2.get());
      job.addDependency(a1.get());
      job.addDependency(null);
      job.addDependency(undefined);
      job.addDependency(done.get());
      job.addDependency(own.get());
      expect(job.dependencyCount).toBe(2);
      expect(job.hasDependency(a2)).toBe(true);
      expect(job.hasDependency(a1)).toBe(false);
      expect(job.hasDependency(b)).toBe(true);
      expect(a1.refcount).toBe(1);
      expect(a2.refcount).toBe(2);
      expect(done.refcount).toBe(1);
      expect(own.refcount).toBe(2); // ours + the job's own; the dependency reference was put
      job.put();
      expect(a2.refcount).toBe(1);
      expect(b.refcount).toBe(1);
      own.put();
      for (const f of [a1, a2, b, done]) {
        f.signal();
        f.put();
      }
      await q.fini();
    });
    rt.shutdown();
  });
});

describe('DepQueue: several queues with cross-queue dependencies', () => {
  it('a job on one queue waits for a job of another', async () => {
    const rt = new Runtime();
    const hwA = new MockHw({ runtime: rt, name: 'hwA' });
    const hwB = new MockHw({ runtime: rt, name: 'hwB' });
    const dA = new MockDriver(hwA);
    const dB = new MockDriver(hwB);
    const qa = new DepQueue<MockJob>({ runtime: rt, name: 'qa', creditLimit: 4, ops: dA.ops });
    const qb = new DepQueue<MockJob>({ runtime: rt, name: 'qb', creditLimit: 4, ops: dB.ops });
    await rt.run(async () => {
      const a1 = submit(qa, { duration: 10 });
      const b1 = submit(qb, { duration: 1, deps: [a1.fence] });
      const b2 = submit(qb, { duration: 1 });
      const a2 = submit(qa, { duration: 1, deps: [b2.fence] });
      await a2.fence.wait();
      expect(a1.fence.timestamp()).toBe(10);
      expect(b1.fence.timestamp()).toBe(11);
      expect(b2.fence.timestamp()).toBe(12);
      expect(a2.fence.timestamp()).toBe(13);
      for (const x of [a1, b1, b2, a2]) x.fence.put();
      await qa.fini();
      await qb.fini();
    });
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });
});

describe('DepQueue: credits', () => {
  it('holds a job back until credits return', async () => {
    const { rt, drv, q } = setup({ creditLimit: 4 });
    await rt.run(async () => {
      const a = submit(q, { duration: 10, credits: 3 });
      const b = submit(q, { duration: 10, credits: 2 });
      const c = submit(q, { duration: 10, credits: 1 });
      await rt.sleep(5);
      expect(drv.ran).toEqual([1]);
      expect(q.creditsInFlight).toBe(3);
      expect(q.queuedJobs).toBe(2);
      await a.fence.wait();
      await rt.sleep(1);
      expect(drv.ran).toEqual([1, 2, 3]);
      expect(q.creditsInFlight).toBe(3);
      await c.fence.wait();
      expect(b.fence.timestamp()).toBe(20);
      expect(c.fence.timestamp()).toBe(30);
      for (const x of [a, b, c]) x.fence.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('rejects a job larger than the credit limit, or with no credits, at init', () => {
    const { rt, q } = setup({ creditLimit: 4 });
    for (const credits of [5, 0, -1, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        new MockJob(q, { credits });
      } catch (e) {
        err = e;
      }
      expect(isDepError(err, 'EINVAL')).toBe(true);
    }
    expect(q.liveJobs).toBe(0);
    expect(q.refcount).toBe(1);
    void rt;
  });
});

describe('DepQueue: typestate and contract errors', () => {
  it('second arm and push without arm are DepErrors that change nothing', async () => {
    const { rt, q } = setup();
    await rt.run(async () => {
      const job = new MockJob(q);
      expect(() => job.push()).toThrow(/not armed/);
      expect(job.state).toBe('initialized');
      const armed = job.arm();
      expect(() => (armed as MockJob).arm()).toThrow(/already armed/);
      expect(job.finishedFence().seqno).toBe(1n);
      armed.push();
      expect(() => armed.push()).toThrow(/already pushed/);
      expect(q.stats.pushed).toBe(1);
      armed.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('the armed handle has no addDependency (types); a runtime call is a WARN', async () => {
    const { rt, q } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const job = new MockJob(q);
      const armed = job.arm();
      // @ts-expect-error the typestate: no addDependency after arm
      // eslint-disable-next-line @typescript-eslint/no-unsafe-call
      armed.addDependency(null);
      const other = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const before = rt.reports.count('warn');
      job.addDependency(other.get());
      expect(rt.reports.count('warn')).toBe(before + 1);
      expect(rt.reports.list.at(-1)!.message).toMatch(/allocation after drm_dep_job_arm/);
      armed.push();
      expect(() => job.addDependency(other.get())).toThrow(/dependencies are added before arm/);
      expect(other.refcount).toBe(2); // consumed even on error
      other.signal();
      other.put();
      armed.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('addDependency consumes the reference on error and rejects non-fences', () => {
    const { q } = setup();
    const job = new MockJob(q);
    expect(() => job.addDependency(42 as unknown as Fence)).toThrow(/expected a fence/);
    job.put();
    expect(() => job.put()).toThrow(/use-after-free|was freed/);
  });

  it('finishedFence before arm is EINVAL', () => {
    const { q } = setup();
    const job = new MockJob(q);
    expect(() => job.finishedFence()).toThrow(/not armed/);
    job.put();
  });

  it('asserts the submission lock at arm and push when the queue has one', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const hw = new MockHw({ runtime: rt });
    const drv = new MockDriver(hw);
    const lock = new Mutex(rt, 'submit_lock');
    const q = new DepQueue<MockJob>({ runtime: rt, name: 'locked', creditLimit: 2, ops: drv.ops, submitLock: lock });
    await rt.run(async () => {
      const j = new MockJob(q);
      await lock.lock();
      j.arm();
      j.push();
      lock.unlock();
      expect(rt.reports.count('lockdep')).toBe(0);
      const k = new MockJob(q);
      k.arm();
      expect(rt.reports.count('lockdep')).toBe(1);
      k.push();
      expect(rt.reports.count('lockdep')).toBe(2);
      j.put();
      k.put();
      hw.advance(2);
      await q.fini();
    });
    rt.shutdown();
  });

  it('a push out of arm order is a WARN', async () => {
    const { rt, hw, q } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const a = new MockJob(q).arm();
      const b = new MockJob(q).arm();
      b.push();
      expect(rt.reports.list.at(-1)!.message).toMatch(/out of arm order/);
      a.push();
      a.put();
      b.put();
      await rt.yield();
      hw.advance(2);
      await q.fini();
    });
    rt.shutdown();
  });
});
