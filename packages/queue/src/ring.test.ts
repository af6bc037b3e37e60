import { describe, expect, it } from 'vitest';
import { Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DepEntity, DepPriority, DepRing, type DepRingPolicy } from './ring.js';
import { MockHw, MockJob } from './testing.js';
import type { DepQueue } from './queue.js';

const ops: DmaFenceOps = { getDriverName: () => 'test', getTimelineName: () => 'test' };

/** A ring on a mock timeline, recording the order jobs start in as `entity:id`. */
function makeRing(rt: Runtime, name: string, creditLimit: number, policy: DepRingPolicy = 'fifo') {
  const hw = new MockHw({ runtime: rt, name });
  const started: string[] = [];
  const ring = new DepRing<MockJob>({
    runtime: rt,
    name,
    creditLimit,
    policy,
    ops: {
      runJob(job) {
        started.push(`${job.queue.name}:${job.id}`);
        const f = hw.submit(job.duration);
        job.hwFence = f;
        return f;
      },
      cancelJob(job) {
        if (job.hwFence !== null) hw.cancel(job.hwFence);
      },
    },
  });
  return { ring, hw, started };
}

function submit(e: DepEntity<MockJob>, opts: { duration?: number; credits?: number; deps?: Fence[] } = {}): Fence {
  const job = new MockJob(e.queue, { ...(opts.duration === undefined ? {} : { duration: opts.duration }), ...(opts.credits === undefined ? {} : { credits: opts.credits }) });
  for (const d of opts.deps ?? []) job.addDependency(d.get());
  job.arm();
  const f = job.finishedFence().get();
  job.push();
  job.put();
  return f;
}

async function finiAll(entities: DepEntity<MockJob>[], rings: DepRing<MockJob>[]): Promise<void> {
  for (const e of entities) await e.fini();
  for (const r of rings) await r.fini();
}

const leaks = (rt: Runtime) => rt.shutdown().filter((r) => r.kind === 'leak' || r.kind === 'use-after-free');

describe('HW-ring layer', () => {
  it('several entities feed one ring: KERNEL > HIGH > NORMAL > LOW', async () => {
    const rt = new Runtime();
    const { ring, started } = makeRing(rt, 'rcs0', 1);
    const blocker = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
    const low = ring.createEntity({ name: 'low', priority: DepPriority.LOW });
    const normal = ring.createEntity({ name: 'normal' });
    const high = ring.createEntity({ name: 'high', priority: DepPriority.HIGH });
    const kernel = ring.createEntity({ name: 'kernel', priority: DepPriority.KERNEL });
    await rt.run(async () => {
      const first = submit(low, { duration: 1, deps: [blocker] });
      await rt.sleep(1);
      const fences = [first];
      blocker.signal(); // the first low job occupies the ring (one credit)…
      await rt.sleep(0.5);
      expect(started).toEqual(['low:1']);
      // …while every entity's jobs become ready; then the ring picks by priority.
      for (const e of [low, normal, high, kernel]) for (let i = 0; i < 2; i++) fences.push(submit(e, { duration: 1 }));
      await rt.sleep(0.1);
      expect(ring.readyJobs).toBe(8);
      for (const f of fences) await f.wait();
      expect(started).toEqual(['low:1', 'kernel:1', 'kernel:2', 'high:1', 'high:2', 'normal:1', 'normal:2', 'low:2', 'low:3']);
      for (const f of fences) f.put();
      blocker.put();
      await finiAll([low, normal, high, kernel], [ring]);
    });
    expect(leaks(rt)).toEqual([]);
  });

  for (const policy of ['fifo', 'rr'] as const) {
    it(`within one priority: ${policy === 'fifo' ? 'FIFO (oldest ready job first)' : 'round-robin over the entities'}`, async () => {
      const rt = new Runtime();
      const { ring, started } = makeRing(rt, 'rcs0', 1, policy);
      const a = ring.createEntity({ name: 'a' });
      const b = ring.createEntity({ name: 'b' });
      const c = ring.createEntity({ name: 'c' });
      await rt.run(async () => {
        const fences: Fence[] = [];
        fences.push(submit(c, { duration: 1 })); // occupies the ring
        await rt.sleep(0.5);
        for (let i = 0; i < 3; i++) fences.push(submit(a, { duration: 1 }));
        await rt.sleep(0.1);
        for (let i = 0; i < 3; i++) fences.push(submit(b, { duration: 1 }));
        for (const f of fences) await f.wait();
        expect(started).toEqual(policy === 'fifo' ? ['c:1', 'a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'b:3'] : ['c:1', 'a:1', 'b:1', 'a:2', 'b:2', 'a:3', 'b:3']);
        for (const f of fences) f.put();
        await finiAll([a, b, c], [ring]);
      });
      expect(leaks(rt)).toEqual([]);
    });
  }

  it('a live priority change takes effect at the next pick, for jobs already waiting too', async () => {
    const rt = new Runtime();
    const { ring, started } = makeRing(rt, 'rcs0', 1);
    const busy = ring.createEntity({ name: 'busy' });
    const normal = ring.createEntity({ name: 'normal' });
    const low = ring.createEntity({ name: 'low', priority: DepPriority.LOW });
    await rt.run(async () => {
      const fences = [submit(busy, { duration: 10 })];
      await rt.sleep(1);
      for (let i = 0; i < 2; i++) fences.push(submit(low, { duration: 1 }));
      for (let i = 0; i < 2; i++) fences.push(submit(normal, { duration: 1 }));
      await rt.sleep(1);
      expect(low.readyJobs).toBe(2);
      low.setPriority(DepPriority.HIGH);
      expect(low.priorityName).toBe('high');
      for (const f of fences) await f.wait();
      expect(started).toEqual(['busy:1', 'low:1', 'low:2', 'normal:1', 'normal:2']);
      expect(() => low.setPriority(7 as DepPriority)).toThrow(/not a DepPriority/);
      for (const f of fences) f.put();
      await finiAll([busy, normal, low], [ring]);
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('ring credits: a job that does not fit blocks its priority and every lower one', async () => {
    const rt = new Runtime();
    const { ring, started } = makeRing(rt, 'rcs0', 4);
    const high = ring.createEntity({ name: 'high', priority: DepPriority.HIGH });
    const low = ring.createEntity({ name: 'low', priority: DepPriority.LOW });
    await rt.run(async () => {
      const f1 = submit(high, { duration: 10, credits: 3 });
      await rt.sleep(1);
      const f2 = submit(high, { duration: 1, credits: 2 }); // does not fit (3 + 2 > 4)
      const f3 = submit(low, { duration: 1, credits: 1 }); // would fit, but waits (head of line)
      await rt.sleep(1);
      expect(started).toEqual(['high:1']);
      expect(ring.creditsInFlight).toBe(3);
      expect(ring.stats.creditStalls).toBeGreaterThan(0);
      await f3.wait();
      expect(started).toEqual(['high:1', 'high:2', 'low:1']);
      expect(f2.timestamp()).toBe(11);
      expect(f3.timestamp()).toBe(12);
      for (const f of [f1, f2, f3]) f.put();
      await finiAll([high, low], [ring]);
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('moving an entity to another ring: its next jobs run there once its jobs on the old ring completed', async () => {
    const rt = new Runtime();
    const r0 = makeRing(rt, 'rcs0', 2);
    const r1 = makeRing(rt, 'rcs1', 2);
    const e = r0.ring.createEntity({ name: 'e' });
    await rt.run(async () => {
      const a = submit(e, { duration: 10 });
      await rt.sleep(1);
      expect(r0.started).toEqual(['e:1']);
      e.moveTo(r1.ring);
      expect(e.ring).toBe(r1.ring);
      const b = submit(e, { duration: 1 });
      await rt.sleep(1);
      expect(r1.started).toEqual([]); // still running on rcs0: never on two rings at once
      await b.wait();
      expect(r1.started).toEqual(['e:2']);
      expect(a.timestamp()).toBe(10);
      expect(b.timestamp()).toBe(11);
      expect(r0.ring.entities).toEqual([]);
      expect(r1.ring.entities).toEqual([e]);
      a.put();
      b.put();
      await finiAll([e], [r0.ring, r1.ring]);
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('killing an entity: waiting jobs end with -ESRCH after the ones on the hardware, which are cancelled', async () => {
    const rt = new Runtime();
    const { ring, started } = makeRing(rt, 'rcs0', 1);
    const e = ring.createEntity({ name: 'e' });
    const other = ring.createEntity({ name: 'other' });
    await rt.run(async () => {
      const a = submit(e); // on the hardware, never completes by itself
      await rt.sleep(1);
      const b = submit(e, { duration: 1 }); // waiting on the ring
      const o = submit(other, { duration: 1 });
      await rt.sleep(1);
      e.kill();
      await o.wait();
      expect(a.getStatus()).toBe(-125);
      expect(b.getStatus()).toBe(-3);
      expect(o.getStatus()).toBe(1);
      expect(started).toEqual(['e:1', 'other:1']);
      for (const f of [a, b, o]) f.put();
      await finiAll([e, other], [ring]);
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('tearing an entity down with jobs waiting and running on the ring: nothing leaks; the ring refuses fini while entities remain', async () => {
    const rt = new Runtime();
    const { ring, hw } = makeRing(rt, 'rcs0', 1);
    const e = ring.createEntity({ name: 'e' });
    await rt.run(async () => {
      const fences = [submit(e), submit(e), submit(e)];
      await rt.sleep(1);
      expect(hw.pending).toBe(1);
      await expect(ring.fini()).rejects.toThrow(/EBUSY/);
      await e.fini();
      expect(fences.map((f) => f.getStatus())).toEqual([-125, -125, -125]);
      for (const f of fences) f.put();
      await ring.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('validates its options', () => {
    const rt = new Runtime();
    expect(() => new DepRing({ runtime: rt, name: 'r', creditLimit: 0, ops: { runJob: () => null } })).toThrow(/creditLimit/);
    expect(() => new DepRing({ runtime: rt, name: 'r', creditLimit: 1, policy: 'lifo' as DepRingPolicy, ops: { runJob: () => null } })).toThrow(/policy/);
    const { ring } = makeRing(rt, 'r', 1);
    expect(() => ring.createEntity({ name: 'x', priority: 9 as DepPriority })).toThrow(/not a DepPriority/);
    void (null as unknown as DepQueue);
  });
});
