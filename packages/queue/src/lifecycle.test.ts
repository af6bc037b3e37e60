import { describe, expect, it } from 'vitest';
import { Completion, Runtime, isDepError } from '@dep/kernel';
import { DmaFence, Syncobj, contextAlloc, fenceWaitsOf, fenceWaitsOn, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { DmaResv, DmaResvUsage } from '@dep/dma-resv';
import { PREEMPT_FENCE_BRAND } from './fence.js';
import { DepQueue } from './queue.js';
import { MockDriver, MockHw, MockJob } from './testing.js';
import { ops, setup, submit } from './test-helpers.js';

const leaks = (rt: Runtime) => rt.shutdown().filter((r) => r.kind === 'leak' || r.kind === 'use-after-free');

describe('timeout (TDR)', () => {
  it('reset: the handler signals the hung job with -ETIMEDOUT; the next job runs; the timer re-arms on progress', async () => {
    const { rt, drv, q } = setup({ timeout: 100 });
    await rt.run(async () => {
      const hung = submit(q, { duration: Infinity });
      const next = submit(q, { duration: 10 });
      await hung.fence.wait();
      expect(rt.now()).toBe(100);
      expect(hung.fence.getStatus()).toBe(-110);
      expect(drv.timedOut).toEqual([1]);
      await next.fence.wait();
      expect(next.fence.getStatus()).toBe(1);
      expect(next.fence.timestamp()).toBe(100); // it was due at 10, behind the hung one
      await rt.yield();
      expect(q.timeoutPending).toBe(false); // nothing on the hardware
      hung.fence.put();
      next.fence.put();
      await q.fini();
    });
    expect(q.stats.timeouts).toBe(1);
    expect(leaks(rt)).toEqual([]);
  });

  it('noHang: the job goes back, is not freed while the handler runs, and completes normally later', async () => {
    const { rt, hw, drv, q } = setup({ timeout: 50, driver: { onTimeout: 'noHang' } });
    await rt.run(async () => {
      const slow = submit(q); // completes by advance() only
      await rt.sleep(120);
      expect(drv.timedOut).toEqual([1, 1]); // at 50 and 100: re-armed after each noHang
      expect(slow.job.state).toBe('running');
      expect(q.pendingJobs).toBe(1);
      hw.advance(1);
      expect(slow.fence.getStatus()).toBe(1);
      await rt.yield();
      expect(drv.freed).toEqual([1]);
      expect(q.timeoutPending).toBe(false);
      slow.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('a job that completes while its timeout handler sleeps is retired after the handler, not under it', async () => {
    const gate = { c: null as Completion | null };
    const { rt, hw, drv, q } = setup({
      timeout: 10,
      driver: {
        onTimeout: async (): Promise<'noHang'> => {
          await gate.c!.waitForCompletion();
          return 'noHang';
        },
      },
    });
    gate.c = new Completion(rt, 'handler');
    await rt.run(async () => {
      const a = submit(q);
      await rt.sleep(11);
      expect(drv.timedOut).toEqual([1]);
      expect(q.pendingJobs).toBe(0); // off the list while the handler runs
      hw.advance(1); // completes meanwhile
      await rt.yield();
      expect(a.fence.getStatus()).toBe(1);
      expect(drv.freed).toEqual([]); // not freed under the handler
      gate.c!.complete();
      await rt.sleep(1);
      expect(drv.freed).toEqual([1]);
      a.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('enodev keeps the timer off until start()', async () => {
    const { rt, hw, drv, q } = setup({ timeout: 10, driver: { onTimeout: 'enodev' } });
    await rt.run(async () => {
      const a = submit(q);
      await rt.sleep(50);
      expect(drv.timedOut).toEqual([1]);
      expect(q.timeoutPending).toBe(false);
      q.start();
      expect(q.timeoutPending).toBe(true);
      await rt.sleep(10);
      expect(drv.timedOut).toEqual([1, 1]);
      hw.advance(1);
      a.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('triggerTimeout fires at once; an infinite timeout never fires by itself', async () => {
    const { rt, hw, drv, q } = setup({ timeout: Infinity });
    await rt.run(async () => {
      const a = submit(q);
      await rt.sleep(1000);
      expect(drv.timedOut).toEqual([]);
      expect(q.timeoutPending).toBe(false);
      q.triggerTimeout();
      await rt.yield();
      expect(drv.timedOut).toEqual([1]);
      expect(a.fence.getStatus()).toBe(-110);
      void hw;
      a.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('suspend parks the timer and returns what was left; resume re-arms with it', async () => {
    const { rt, hw, drv, q } = setup({ timeout: 100 });
    await rt.run(async () => {
      const a = submit(q);
      await rt.sleep(30);
      const left = q.suspendTimeout();
      expect(left).toBe(70);
      await rt.sleep(500);
      expect(drv.timedOut).toEqual([]);
      q.resumeTimeout(left);
      await rt.sleep(69);
      expect(drv.timedOut).toEqual([]);
      await rt.sleep(1);
      expect(drv.timedOut).toEqual([1]);
      void hw;
      a.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('a finite timeout needs timedoutJob', () => {
    const rt = new Runtime();
    expect(() => new DepQueue({ runtime: rt, name: 'x', creditLimit: 1, timeout: 10, ops: { runJob: () => null } })).toThrow(/timedoutJob/);
  });
});

describe('kill', () => {
  it('refuses new pushes with ESRCH and completes queued jobs in order with -ESRCH, each after its own dependencies', async () => {
    const { rt, hw, drv, q } = setup({ timeout: Infinity });
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const running = submit(q); // on the hardware
      await rt.sleep(1);
      expect(running.job.state).toBe('running');
      const waiting = submit(q, { deps: [ext] });
      const behind = submit(q);
      const order: number[] = [];
      for (const [i, x] of [running, waiting, behind].entries()) x.fence.addCallback(() => order.push(i));
      const late = new MockJob(q); // initialised before the kill, pushed after it
      q.kill();
      await rt.sleep(1);
      expect(drv.timedOut).toEqual([1]); // the driver is told to tear down (TDR with queue.killed)
      expect(running.fence.getStatus()).toBe(-110); // the mock driver reset it
      expect(waiting.fence.getStatus()).toBe(0); // its dependency has not signalled
      expect(behind.fence.getStatus()).toBe(0); // and it is behind it
      ext.signal();
      await rt.sleep(1);
      expect(waiting.fence.getStatus()).toBe(-3);
      expect(behind.fence.getStatus()).toBe(-3);
      expect(order).toEqual([0, 1, 2]);
      expect(drv.ran).toEqual([1]);
      expect(isDepError((() => { try { late.arm(); late.push(); } catch (e) { return e; } return null; })(), 'ESRCH')).toBe(true);
      expect(late.finishedFence().getStatus()).toBe(-3);
      late.put();
      expect(() => new MockJob(q)).toThrow(/killed/);
      for (const x of [running, waiting, behind]) x.fence.put();
      ext.put();
      void hw;
      await q.fini();
    });
    expect(q.stats.killed).toBe(2);
    expect(leaks(rt)).toEqual([]);
  });

  it('a killed job waits for the job ahead of it on the hardware (one timeline signals in order)', async () => {
    const rt = new Runtime();
    const hw = new MockHw({ runtime: rt });
    const drv = new MockDriver(hw);
    const q = new DepQueue<MockJob>({ runtime: rt, name: 'q', creditLimit: 4, ops: { runJob: (j) => drv.ops.runJob(j), freeJob: (j) => drv.ops.freeJob!(j) } });
    await rt.run(async () => {
      const a = submit(q, { duration: 20 });
      await rt.yield();
      const b = submit(q);
      q.kill();
      await rt.sleep(10);
      expect(b.fence.getStatus()).toBe(0);
      await b.fence.wait();
      expect(a.fence.timestamp()).toBe(20);
      expect(b.fence.timestamp()).toBe(20);
      expect(b.fence.getStatus()).toBe(-3);
      a.fence.put();
      b.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });
});

describe('stop / start', () => {
  it('stop holds queued jobs and retirement; start resumes both', async () => {
    const { rt, hw, drv, q } = setup();
    await rt.run(async () => {
      const a = submit(q);
      await rt.yield();
      await q.stop();
      expect(q.stopped).toBe(true);
      const b = submit(q);
      await rt.yield();
      expect(drv.ran).toEqual([1]);
      hw.advance(1);
      expect(a.fence.getStatus()).toBe(1);
      await rt.yield();
      expect(drv.freed).toEqual([]); // retirement waits for start
      const seen: number[] = [];
      q.forEachPendingJob((j) => seen.push(j.id));
      expect(seen).toEqual([1]);
      expect(q.jobIsSignaled(a.job)).toBe(true);
      q.start();
      await rt.yield();
      await rt.yield();
      expect(drv.freed).toEqual([1]);
      expect(drv.ran).toEqual([1, 2]);
      hw.advance(1);
      a.fence.put();
      b.fence.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('forEachPendingJob on a running queue WARNs', () => {
    const { rt, q } = setup({ checks: 'warn' });
    q.forEachPendingJob(() => undefined);
    expect(rt.reports.count('warn')).toBe(1);
  });
});

describe('teardown with jobs pending', () => {
  for (const teardown of ['sync', 'async'] as const) {
    it(`${teardown}: cancelJob signals each hardware fence with -ECANCELED, then every job is freed; nothing leaks`, async () => {
      const deregistered = { at: -1 };
      const rtRef: { rt: Runtime | null } = { rt: null };
      const { rt, drv, q } = setup({
        teardown,
        driver: {
          deregister: async () => {
            await rtRef.rt!.sleep(5); // the firmware's replies
            deregistered.at = rtRef.rt!.now();
          },
        },
      });
      rtRef.rt = rt;
      let fences: Fence[] = [];
      await rt.run(async () => {
        const done = Array.from({ length: 3 }, () => submit(q, { duration: 1 }));
        await done[2]!.fence.wait();
        const pending = Array.from({ length: 3 }, () => submit(q)); // never completed by the hw
        const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
        const queued = submit(q, { deps: [ext] });
        await rt.sleep(1);
        expect(q.pendingJobs).toBe(3);
        fences = [...done, ...pending, queued].map((x) => x.fence);
        const t0 = rt.now();
        const fini = q.fini();
        ext.signal(); // the queued job completes with -ESRCH after its dependency
        await fini;
        if (teardown === 'sync') {
          expect(q.released).toBe(true);
          expect(deregistered.at).toBe(t0 + 5);
        } else {
          expect(q.released).toBe(false);
          expect(await q.waitReleased()).toBe(true);
        }
        expect(drv.cancelled).toEqual([6, 5, 4]); // newest first
        ext.put();
      });
      expect(fences.map((f) => f.getStatus())).toEqual([1, 1, 1, -125, -125, -125, -3]);
      expect(drv.freed.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(drv.deregistered).toEqual(['q0']);
      expect(drv.released).toEqual(['q0']);
      expect(q.submitWq.destroyed).toBe(true);
      for (const f of fences) f.put();
      expect(leaks(rt)).toEqual([]);
    });
  }

  it('without cancelJob: a WARN, and the jobs retire when the hardware completes them', async () => {
    const { rt, hw, drv, q } = setup({ checks: 'warn', driver: { noCancel: true } });
    await rt.run(async () => {
      const a = submit(q);
      await rt.yield();
      const fini = q.fini();
      await rt.sleep(5);
      expect(rt.reports.list.some((r) => /cancelJob is missing/.test(r.message))).toBe(true);
      expect(q.released).toBe(false);
      hw.advance(1);
      await fini;
      expect(drv.freed).toEqual([1]);
      a.fence.put();
    });
    expect(q.released).toBe(true);
    expect(leaks(rt)).toEqual([]);
  });

  it('a queue used after release is a use-after-free report', async () => {
    const { rt, q } = setup({ checks: 'warn' });
    await rt.run(() => q.fini());
    expect(() => q.kill()).toThrow(/released/);
    expect(rt.reports.count('use-after-free')).toBe(1);
  });
});

describe('fault injection: every allocation before arm fails in turn', () => {
  /** The submit path of a driver: init, three dependencies (the 2nd+ allocate), arm, push. */
  async function trySubmit(rt: Runtime, q: DepQueue<MockJob>, deps: Fence[]): Promise<Fence | null> {
    let job: MockJob | null = null;
    try {
      job = new MockJob(q, { duration: 1 });
      for (const d of deps) job.addDependency(d.get());
      const armed = job.arm();
      const f = armed.finishedFence().get();
      armed.push();
      armed.put();
      return f;
    } catch (e) {
      expect(isDepError(e, 'ENOMEM')).toBe(true);
      job?.put(); // unwind: the abort path before arm
      return null;
    }
    void rt;
  }

  it('each failure unwinds cleanly: DepError ENOMEM, nothing published, nothing leaks', async () => {
    // Count the allocations of one submit.
    const probe = new Runtime();
    const probeQ = new DepQueue<MockJob>({ runtime: probe, name: 'probe', creditLimit: 4, ops: new MockDriver(new MockHw({ runtime: probe })).ops });
    const depsOf = (rt: Runtime) => Array.from({ length: 3 }, (_, i) => new DmaFence(ops, contextAlloc(1, rt), BigInt(i + 1), { runtime: rt }));
    const before = new Map(probe.faults.sites());
    await probe.run(async () => {
      const d = depsOf(probe);
      const f = await trySubmit(probe, probeQ, d);
      for (const x of d) { x.signal(); x.put(); }
      await f!.wait();
      f!.put();
    });
    const sites = [...probe.faults.sites()].filter(([site, n]) => n > (before.get(site) ?? 0)).map(([site]) => site);
    expect(sites.sort()).toEqual(['drm_dep_job_add_dependency', 'drm_dep_job_init']);
    const total = [...probe.faults.sites()].reduce((n, [site, c]) => n + c - (before.get(site) ?? 0), 0);
    expect(total).toBe(3); // init + 2 dependency slots
    await probe.run(() => probeQ.fini());

    for (let nth = 1; nth <= total; nth++) {
      const rt = new Runtime();
      const hw = new MockHw({ runtime: rt });
      const drv = new MockDriver(hw);
      const q = new DepQueue<MockJob>({ runtime: rt, name: `fail${nth}`, creditLimit: 4, ops: drv.ops });
      const deps = depsOf(rt);
      await rt.run(async () => {
        rt.faults.failAlloc({ site: /^drm_dep_/, nth });
        const f = await trySubmit(rt, q, deps);
        expect(f).toBe(null);
        expect(rt.faults.injected.length).toBe(1);
        expect(q.stats.pushed).toBe(0);
        expect(q.liveJobs).toBe(0);
        expect(q.refcount).toBe(1);
        expect(deps.map((d) => d.refcount)).toEqual([1, 1, 1]); // every reference given back
        expect(drv.ran).toEqual([]);
        for (const d of deps) { d.signal(); d.put(); }
        await q.fini();
      });
      expect(rt.shutdown().filter((r) => r.kind !== 'warn')).toEqual([]);
    }
  });

  it('queue init fails cleanly with ENOMEM', () => {
    const rt = new Runtime();
    rt.faults.failAlloc({ site: 'drm_dep_queue_init' });
    expect(() => new DepQueue({ runtime: rt, name: 'x', creditLimit: 1, ops: { runJob: () => null } })).toThrow(/ENOMEM/);
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('the wait-for graph', () => {
  it('learns job → dependency edges at arm and hardware → finished edges at run', async () => {
    const { rt, hw, q } = setup();
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const job = new MockJob(q);
      job.addDependency(ext.get());
      job.arm();
      const f = job.finishedFence();
      expect(fenceWaitsOf(f).map((e) => [e.waitee, e.reason])).toEqual([[ext, 'drm_dep job dependency']]);
      job.push();
      ext.signal();
      await rt.yield();
      await rt.yield();
      expect(fenceWaitsOf(f).map((e) => [e.waitee, e.reason])).toEqual([[job.hwFence, 'drm_dep hardware fence']]);
      hw.advance(1);
      expect(fenceWaitsOf(f)).toEqual([]);
      job.put();
      ext.put();
      await q.fini();
    });
    rt.shutdown();
  });

  it('a dependency cycle through the hardware is reported the moment it forms', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const hwFences: DmaFence[] = [];
    const q = new DepQueue({
      runtime: rt,
      name: 'cyc',
      creditLimit: 2,
      ops: {
        runJob(job) {
          const hwf = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
          hwFences.push(hwf);
          // A broken driver: its hardware waits on the job's own finished fence.
          fenceWaitsOn(hwf, job.finishedFence(), 'hw semaphore');
          return hwf.get();
        },
      },
    });
    await rt.run(async () => {
      const j = new MockJob(q as unknown as DepQueue<MockJob>).arm();
      j.push();
      await rt.yield();
      expect(rt.reports.list.some((r) => r.kind === 'fence-cycle')).toBe(true);
      for (const h of hwFences) { h.signal(); h.put(); }
      j.put();
      await q.fini();
    });
  });
});

describe('other dependency sources', () => {
  it('addSyncobjDependency adds the fence of a syncobj point (EINVAL when there is none)', async () => {
    const { rt, drv, q } = setup();
    await rt.run(async () => {
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const syncobj = Syncobj.create({ runtime: rt });
      const job = new MockJob(q, { duration: 1 });
      await expect(job.addSyncobjDependency(syncobj)).rejects.toThrow(/EINVAL/);
      syncobj.replaceFence(ext);
      await job.addSyncobjDependency(syncobj);
      expect(job.hasDependency(ext)).toBe(true);
      job.arm();
      const f = job.finishedFence().get();
      job.push();
      job.put();
      await rt.sleep(3);
      expect(drv.ran).toEqual([]);
      ext.signal();
      await f.wait();
      expect(f.timestamp()).toBe(4);
      f.put();
      ext.put();
      syncobj.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('addResvDependencies takes the fences up to the usage ceiling; addImplicitDependencies uses usageRw(write); PREEMPT ones go last', async () => {
    const { rt, q } = setup();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, name: 'bo', preempt: true });
      const mk = () => new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const [k, w, r, b] = [mk(), mk(), mk(), mk()];
      const p = mk();
      (p as unknown as Record<symbol, boolean>)[PREEMPT_FENCE_BRAND] = true;
      await resv.lock();
      const gem = { resv };
      const reader = new MockJob(q);
      const writer = new MockJob(q);
      const all = new MockJob(q);
      try {
        expect(resv.reserveFences(5)).toBe(0);
        resv.addFence(k, DmaResvUsage.KERNEL, { foreign: true });
        resv.addFence(w, DmaResvUsage.WRITE, { foreign: true });
        resv.addFence(r, DmaResvUsage.READ, { foreign: true });
        resv.addFence(b, DmaResvUsage.BOOKKEEP, { foreign: true });
        resv.addFence(p, DmaResvUsage.PREEMPT, { foreign: true });
        reader.addImplicitDependencies(gem, false);
        expect([k, w, r, b, p].map((f) => reader.hasDependency(f))).toEqual([true, true, false, false, false]);
        writer.addImplicitDependencies(gem, true);
        expect([k, w, r, b, p].map((f) => writer.hasDependency(f))).toEqual([true, true, true, false, false]);
        all.addResvDependencies(resv, DmaResvUsage.PREEMPT);
        expect(all.dependencyCount).toBe(5);
        expect(all._x!.pre).toEqual([p]); // the preempt list
        expect(k.refcount).toBe(5); // ours, the resv's, one per job
        expect(() => all.addResvDependencies(resv, 9 as DmaResvUsage)).toThrow(/not a DmaResvUsage/);
        expect(() => all.addImplicitDependencies({} as { resv: DmaResv }, true)).toThrow(/with a resv/);
      } finally {
        resv.unlock();
      }
      // Without the lock: a lockdep report.
      const late = new MockJob(q);
      const { reports } = rt.reports.capture(() => late.addResvDependencies(resv, DmaResvUsage.KERNEL));
      expect(reports.some((x) => x.kind === 'lockdep')).toBe(true);
      for (const j of [reader, writer, all, late]) j.put();
      expect(k.refcount).toBe(2);
      for (const f of [k, w, r, b, p]) f.signal();
      resv.fini();
      for (const f of [k, w, r, b, p]) f.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });

  it('preempt fences go to a second list, waited on only after every other dependency signalled', async () => {
    const { rt, drv, q } = setup();
    const enabled: number[] = [];
    const preemptOps: DmaFenceOps = {
      getDriverName: () => 'preempt',
      getTimelineName: () => 'preempt',
      enableSignaling: () => {
        enabled.push(rt.now()); // a preempt fence starts preemption when someone waits on it
        return true;
      },
    };
    await rt.run(async () => {
      const pre = new DmaFence(preemptOps, contextAlloc(1, rt), 1n, { runtime: rt });
      (pre as unknown as Record<symbol, boolean>)[PREEMPT_FENCE_BRAND] = true;
      const ext = new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
      const job = new MockJob(q, { duration: 1 });
      job.addDependency(pre.get()); // added first, waited on last
      job.addDependency(ext.get());
      expect(job.dependencyCount).toBe(2);
      job.arm();
      const f = job.finishedFence().get();
      job.push();
      job.put();
      await rt.sleep(5);
      expect(enabled).toEqual([]); // not preempting while the job still waits on ext
      ext.signal();
      await rt.sleep(5);
      expect(enabled).toEqual([5]);
      expect(drv.ran).toEqual([]);
      pre.signal();
      await f.wait();
      expect(f.timestamp()).toBe(11);
      for (const x of [f, pre, ext]) x.put();
      await q.fini();
    });
    expect(leaks(rt)).toEqual([]);
  });
});

describe('many concurrent submitters', () => {
  it('jobs of every submitter run, in seqno order, with the queue taking its references', async () => {
    const { rt, drv, q } = setup({ creditLimit: 3 });
    const seqnos: bigint[] = [];
    const order: bigint[] = [];
    await rt.run(async () => {
      const tasks = Array.from({ length: 8 }, (_, s) =>
        rt.spawn(`client${s}`, async () => {
          for (let i = 0; i < 10; i++) {
            await rt.sleep((s + i) % 3);
            const job = new MockJob(q, { duration: 1 + ((s * i) % 4) });
            job.arm();
            const f = job.finishedFence().get();
            seqnos.push(f.seqno);
            f.addCallback((g) => order.push(g.seqno));
            job.push();
            job.put();
            await f.wait();
            f.put();
          }
        }),
      );
      for (const t of tasks) await t.join();
      await q.fini();
    });
    expect(drv.ran.length).toBe(80);
    expect(order).toEqual([...seqnos].sort((a, b) => (a < b ? -1 : 1)));
    expect(q.stats.pushed).toBe(80);
    expect(leaks(rt)).toEqual([]);
  });
});
