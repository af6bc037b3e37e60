import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Mutex, Runtime } from '@dep/kernel';
import { DmaFence, DmaFenceArray, Syncobj, contextAlloc, type Fence } from '@dep/dma-fence';
import { DepQueue } from './queue.js';
import { MockDriver, MockHw, MockJob } from './testing.js';
import { ops, setup, submit } from './test-helpers.js';
import type { PushedDepJob } from './types.js';

describe('bypass (rfc-designs E.3)', () => {
  it('runs runJob inline from push when the queue is idle and empty, in the pusher, inside a signalling section', async () => {
    const { rt, hw, q } = setup({ bypass: true });
    const seen: Array<{ task: string; signalling: number }> = [];
    const runJob = q._ops.runJob.bind(q._ops);
    (q._ops as { runJob: typeof runJob }).runJob = (job: PushedDepJob<MockJob>) => {
      seen.push({ task: rt.current.name, signalling: rt.current.signalling });
      return runJob(job);
    };
    await rt.run(async () => {
      const { job, fence } = submit(q);
      expect(job.state).toBe('running'); // before any worker ran
      expect(seen).toEqual([{ task: 'main', signalling: 1 }]);
      expect(q.stats.bypassed).toBe(1);
      hw.advance(1);
      expect(fence.getStatus()).toBe(1);
      fence.put();
      await q.fini();
    });
    expect(q.stats.runWorkItems).toBe(0);
    rt.shutdown();
  });

  it('does not bypass with a pending dependency, a busy queue, or no credits', async () => {
    const { rt, hw, q } = setup({ bypass: true, creditLimit: 2 });
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const a = submit(q, { deps: [ext] }); // pending dependency: queued
      expect(a.job.state).toBe('pushed');
      const b = submit(q); // a is ahead of it: queued
      expect(b.job.state).toBe('pushed');
      ext.signal();
      await rt.yield();
      await rt.yield();
      expect(q.pendingJobs).toBe(2);
      const c = submit(q); // no credits left (2 of 2): queued
      expect(c.job.state).toBe('pushed');
      expect(q.stats.bypassed).toBe(0);
      hw.advance(2);
      await rt.sleep(1);
      expect(c.job.state).toBe('running');
      hw.advance(1);
      for (const x of [a, b, c]) {
        await x.fence.wait();
        expect(x.fence.getStatus()).toBe(1);
        x.fence.put();
      }
      ext.put();
      const d = submit(q); // idle and empty again: inline
      expect(d.job.state).toBe('running');
      expect(q.stats.bypassed).toBe(1);
      hw.advance(1);
      d.fence.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('an allocation in runJob on the bypass path is a lockdep report (the pusher is inside the signalling section)', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const q = new DepQueue({
      runtime: rt,
      name: 'alloc',
      creditLimit: 1,
      bypass: true,
      ops: {
        runJob() {
          rt.alloc('GFP_KERNEL', 'bad_run_job_alloc');
          return null;
        },
      },
    });
    await rt.run(async () => {
      const j = new MockJob(q as unknown as DepQueue<MockJob>).arm();
      j.push();
      j.put();
      await q.fini();
    });
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' && /signalling section/.test(r.message))).toBe(true);
  });

  it('property: execution order equals push order under chaos seeds, with many concurrent submitters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ submitter: fc.integer({ min: 0, max: 3 }), delay: fc.integer({ min: 0, max: 3 }), dep: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), duration: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 24 }),
        fc.boolean(),
        async (seed, plan, bypass) => {
          const rt = new Runtime({ seed, chaos: true, checks: 'strict' });
          const hw = new MockHw({ runtime: rt });
          const drv = new MockDriver(hw);
          const order: bigint[] = [];
          const runJob = drv.ops.runJob.bind(drv.ops);
          const q = new DepQueue<MockJob>({
            runtime: rt,
            name: 'chaos',
            creditLimit: 3,
            bypass,
            ops: { ...drv.ops, runJob: (job) => (order.push(job.finishedFence().seqno), runJob(job)) },
          });
          const lock = new Mutex(rt, 'submit_lock');
          const ext = Array.from({ length: 5 }, (_, i) => new DmaFence(ops, contextAlloc(1, rt), BigInt(i + 1), { runtime: rt }));
          const fences: Fence[] = [];
          await rt.run(async () => {
            const submitters = [0, 1, 2, 3].map((s) =>
              rt.spawn(`submitter${s}`, async () => {
                for (const step of plan.filter((p) => p.submitter === s)) {
                  await rt.sleep(step.delay);
                  await lock.lock();
                  const job = new MockJob(q, { duration: step.duration });
                  if (step.dep !== undefined) job.addDependency(ext[step.dep]!.get());
                  job.arm();
                  fences.push(job.finishedFence().get());
                  job.push();
                  lock.unlock();
                  job.put();
                }
              }),
            );
            const signaller = rt.spawn('signaller', async () => {
              for (const f of ext) {
                await rt.sleep(1);
                f.signal();
              }
            });
            for (const s of submitters) await s.join();
            await signaller.join();
            for (const f of fences) await f.wait();
            await q.fini();
          });
          expect(order).toEqual(order.map((_, i) => BigInt(i + 1)));
          expect(order.length).toBe(plan.length);
          for (const f of fences) f.put();
          for (const f of ext) f.put();
          expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('IRQ-safe job put (rfc-designs E.1)', () => {
  it('with the flag, the queue retires and frees the job in the hardware fence callback (irq context)', async () => {
    const { rt, drv, q } = setup({ jobPutIrqSafe: true });
    await rt.run(async () => {
      const { fence } = submit(q, { duration: 1 });
      await fence.wait();
      expect(drv.freedIn).toEqual(['irq']);
      expect(q.stats.irqRetired).toBe(1);
      expect(q.stats.putWorkItems).toBe(0);
      fence.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('without it, a put worker retires and frees the job in worker context', async () => {
    const { rt, drv, q } = setup();
    await rt.run(async () => {
      const { fence } = submit(q, { duration: 1 });
      await fence.wait();
      await rt.yield();
      expect(drv.freedIn).toEqual(['worker']);
      expect(q.stats.workerRetired).toBe(1);
      expect(q.stats.putWorkItems).toBe(1);
      fence.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('the flag requires a free marked irq-safe', () => {
    const rt = new Runtime();
    const drv = new MockDriver(new MockHw({ runtime: rt }), { freeJobIrqSafe: false });
    expect(() => new DepQueue<MockJob>({ runtime: rt, name: 'x', creditLimit: 1, ops: drv.ops, jobPutIrqSafe: true })).toThrow(/freeJobIrqSafe/);
  });

  it('a last put in irq context on a queue without it is a report, and the free is deferred to the put worker', async () => {
    const { rt, drv, q } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const job = new MockJob(q, { duration: 1 });
      job.arm();
      const fence = job.finishedFence().get();
      job.push();
      await fence.wait();
      await rt.yield();
      expect(q.pendingJobs).toBe(0); // retired: only the driver's reference is left
      // The driver drops its last reference from an interrupt handler.
      rt.queueIrq((j: MockJob) => j.put(), job);
      await rt.yield();
      expect(rt.reports.list.some((r) => r.kind === 'context' && /not irq-safe/.test(r.message))).toBe(true);
      await rt.yield();
      expect(drv.freedIn).toEqual(['worker']);
      fence.put();
      await q.fini();
    });
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });
});

describe('INACTIVE finished fences (rfc-designs E.2)', () => {
  it('the fence is inactive from arm to push; containers refuse it and waits reject it', async () => {
    const { rt, hw, q } = setup({ inactiveFences: true });
    await rt.run(async () => {
      const job = new MockJob(q);
      const armed = job.arm();
      const f = armed.finishedFence();
      expect(f.inactive).toBe(true);
      const syncobj = Syncobj.create({ runtime: rt });
      expect(() => syncobj.replaceFence(f)).toThrow(/INACTIVE/);
      expect(() => DmaFenceArray.create([f.get()], contextAlloc(1, rt), 1n)).toThrow(/INACTIVE/);
      expect(() => f.addCallback(() => undefined)).toThrow(/INACTIVE/);
      armed.push();
      expect(f.inactive).toBe(false);
      syncobj.replaceFence(f);
      await rt.yield();
      hw.advance(1);
      await f.wait();
      armed.put();
      syncobj.put();
      await q.fini();
    });
    expect(rt.shutdown().filter((r) => r.kind === 'leak' || r.kind === 'warn')).toEqual([]);
  });

  it('a failure between arm and push just drops the unpublished fence: no WARN, no leak, never signalled', async () => {
    const { rt, drv, q } = setup({ inactiveFences: true });
    await rt.run(async () => {
      const job = new MockJob(q);
      const f = job.arm().finishedFence().get();
      job.put(); // the submit failed after arm: unwind
      expect(f.testSignaledFlag()).toBe(false);
      expect(f.inactive).toBe(true);
      expect(drv.freed).toEqual([1]);
      f.put();
      await q.fini();
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a dropped armed job leaves a seqno gap that the next push does not report as out of order', async () => {
    const { rt, hw, q } = setup({ inactiveFences: true });
    await rt.run(async () => {
      const dropped = new MockJob(q);
      dropped.arm();
      dropped.put(); // seqno 1 is never pushed: a legal drop under INACTIVE
      const next = new MockJob(q);
      const armed = next.arm();
      const f = armed.finishedFence().get();
      armed.push(); // seqno 2 right after the gap
      await rt.yield();
      hw.advance(1);
      expect(await f.wait()).toBe(0);
      f.put();
      armed.put();
      await q.fini();
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('without INACTIVE, an armed job freed without push is a WARN and its fence signals -ECANCELED', async () => {
    const { rt, q } = setup({ checks: 'warn' });
    await rt.run(async () => {
      const job = new MockJob(q);
      const f = job.arm().finishedFence().get();
      job.put();
      expect(f.getStatus()).toBe(-125);
      expect(rt.reports.list.some((r) => r.kind === 'warn' && /armed and freed without push/.test(r.message))).toBe(true);
      f.put();
      await q.fini();
    });
  });

  it('a sibling job may depend on an inactive fence of another queue: it waits for the push', async () => {
    const rt = new Runtime();
    const hw = new MockHw({ runtime: rt });
    const drv = new MockDriver(hw);
    const qa = new DepQueue<MockJob>({ runtime: rt, name: 'qa', creditLimit: 4, ops: drv.ops, inactiveFences: true });
    const qb = new DepQueue<MockJob>({ runtime: rt, name: 'qb', creditLimit: 4, ops: drv.ops, inactiveFences: true });
    await rt.run(async () => {
      const a = new MockJob(qa, { duration: 1 });
      a.arm();
      const b = new MockJob(qb, { duration: 1 });
      b.addDependency(a.finishedFence().get()); // the intra-batch exception
      b.arm();
      const fb = b.finishedFence().get();
      b.push();
      await rt.sleep(5);
      expect(drv.ran).toEqual([]);
      a.push();
      await fb.wait();
      expect(drv.ran).toEqual([1, 1]);
      expect(fb.timestamp()).toBe(7);
      fb.put();
      a.put();
      b.put();
      await qa.fini();
      await qb.fini();
    });
    rt.shutdown();
  });

  it('a sibling waiting on an inactive fence whose job is dropped unpushed is woken: WARN, -ECANCELED, no hang', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const hw = new MockHw({ runtime: rt });
    const drv = new MockDriver(hw);
    const qa = new DepQueue<MockJob>({ runtime: rt, name: 'qa', creditLimit: 4, ops: drv.ops, inactiveFences: true });
    const qb = new DepQueue<MockJob>({ runtime: rt, name: 'qb', creditLimit: 4, ops: drv.ops, inactiveFences: true });
    await rt.run(async () => {
      const a = new MockJob(qa, { duration: 1 });
      a.arm();
      const fa = a.finishedFence().get();
      const b = new MockJob(qb, { duration: 1 });
      b.addDependency(fa.get());
      b.arm();
      const fb = b.finishedFence().get();
      b.push();
      b.put();
      await rt.sleep(1);
      a.put(); // the batch failed after b was pushed: a is dropped
      expect(fa.getStatus()).toBe(-125);
      expect(rt.reports.list.some((r) => /armed and freed without push/.test(r.message))).toBe(true);
      await fb.wait();
      expect(fb.getStatus()).toBe(1); // b ran (dependency errors do not propagate, as drm_sched)
      fa.put();
      fb.put();
      await qa.fini();
      await qb.fini();
    });
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });

  it('a foreign INACTIVE fence is refused as a dependency (and its reference consumed)', () => {
    const { rt, q } = setup();
    const f = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt, inactive: true });
    const job = new MockJob(q);
    f.get();
    expect(() => job.addDependency(f)).toThrow(/INACTIVE/);
    expect(f.refcount).toBe(1);
    job.put();
  });
});

describe('scheduled fence (opt-in)', () => {
  it('is null by default', () => {
    const { q } = setup();
    const job = new MockJob(q);
    job.arm();
    expect(job.scheduledFence()).toBe(null);
    job.push();
    job.put();
  });

  it('signals when runJob was called, on context + 1 with the same seqno', async () => {
    const { rt, hw, q } = setup({ scheduledFence: true });
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const job = new MockJob(q, { duration: 10 });
      job.addDependency(ext.get());
      job.arm();
      const s = job.scheduledFence()!.get();
      const f = job.finishedFence().get();
      expect(s.context).toBe(q.context + 1n);
      expect(s.seqno).toBe(f.seqno);
      job.push();
      job.put();
      await rt.sleep(3);
      expect(s.testSignaledFlag()).toBe(false);
      ext.signal();
      await s.wait();
      expect(s.timestamp()).toBe(3);
      expect(f.testSignaledFlag()).toBe(false);
      await f.wait();
      expect(f.timestamp()).toBe(13);
      s.put();
      f.put();
      ext.put();
      void hw;
      await q.fini();
    });
    expect(rt.shutdown().filter((r) => r.kind === 'leak')).toEqual([]);
  });
});
