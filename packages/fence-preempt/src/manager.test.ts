// The push-style preemption manager (rfc-designs B.3/B.4, D.4): mutex + last exported
// completion fence + update function, and the "signalled already ⇒ flush resume, retry" dance.
import { DepError, MemoryTraceSink, Runtime, Timer, Workqueue } from '@dep/kernel';
import { DmaFence, contextAlloc, fenceWaitsOf, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { describe, expect, it } from 'vitest';
import { PreemptionManager, allocPreemptWorkqueue, isPreempt, type PreemptionManagerOps } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'amdgpu', getTimelineName: () => 'userq' };

function harness(options: { checks?: 'strict' | 'warn'; lastFenceTimeout?: number; resume?: PreemptionManagerOps['resume'] } = {}) {
  const rt = new Runtime({ checks: options.checks ?? 'strict' });
  const wq = allocPreemptWorkqueue(rt, 'evf-suspend');
  const resumeWq = new Workqueue(rt, 'evf-resume');
  const log: string[] = [];
  const ctx = contextAlloc(1, rt);
  let n = 1n;
  const fence = (): DmaFence => new DmaFence(ops, ctx, n++, { runtime: rt });
  const mgr: PreemptionManager = new PreemptionManager(
    {
      preempt: () => { log.push(`${rt.now()}: unmap queues (mutex ${mgr.mutex.isLocked ? 'held' : 'free'})`); },
      preemptWait: async () => { await rt.sleep(1); },
      revalidate: async () => {
        rt.alloc('GFP_KERNEL', 'amdgpu_userq_validate_bos'); // allowed: no signalling section, no reclaim queue, no userq_mutex
        await rt.sleep(2);
      },
      resume:
        options.resume ??
        ((_m, next: Fence) => {
          log.push(`${rt.now()}: restore, rearm ${next.seqno}`);
        }),
    },
    { runtime: rt, wq, resumeWq, ...(options.lastFenceTimeout === undefined ? {} : { lastFenceTimeout: options.lastFenceTimeout }) },
  );
  const done = async (): Promise<void> => {
    await rt.runUntilIdle();
    await mgr.fini();
    await wq.destroy();
    await resumeWq.destroy();
    await rt.runUntilIdle();
  };
  return { rt, wq, resumeWq, log, fence, mgr, done };
}

function signalAt(rt: Runtime, ms: number, f: DmaFence): void {
  new Timer(rt, () => { f.signal(); }).mod(ms);
}

describe('PreemptionManager: the suspend work', () => {
  it('enabling the eviction fence only queues the suspend work', async () => {
    const h = harness();
    const ev = h.mgr.fence;
    expect(isPreempt(ev)).toBe(true);
    ev.enableSwSignaling();
    expect(h.log).toEqual([]);
    expect(h.wq.queued).toBe(1);
    await h.done();
    expect(ev.testSignaledFlag()).toBe(true);
  });

  it('waits for the last exported fence under the mutex, then preempts and signals while still holding it', async () => {
    const h = harness();
    const u = h.fence();
    await h.rt.run(() => h.mgr.update(u));
    expect(h.mgr.lastFence).toBe(u);
    const ev = h.mgr.fence;
    let mutexAtSignal = '';
    ev.addCallback(() => { mutexAtSignal = h.mgr.mutex.isLocked ? 'held' : 'free'; });
    signalAt(h.rt, 40, u);
    await h.rt.advance(10);
    expect(fenceWaitsOf(ev).map((w) => w.reason)).toEqual(['eviction fence waits for the last exported completion fence (under the userq mutex)']);
    expect(h.mgr.mutex.isLocked).toBe(true);
    await h.done();
    expect(h.log).toEqual(['40: unmap queues (mutex held)', '43: restore, rearm 2']);
    expect(ev.timestamp()).toBe(41);
    expect(mutexAtSignal).toBe('held');
    expect(h.mgr.fence.seqno).toBe(2n);
    expect(h.mgr.fence.testSignaledFlag()).toBe(false);
    expect(h.mgr.suspends).toBe(1);
  });

  it('lastFenceTimeout bounds the wait (upstream\'s 100 ms)', async () => {
    const h = harness({ lastFenceTimeout: 100 });
    const u = h.fence();
    await h.rt.run(() => h.mgr.update(u));
    h.mgr.fence.enableSwSignaling();
    await h.rt.runUntilIdle();
    expect(h.log[0]).toBe('100: unmap queues (mutex held)');
    u.signal();
    await h.done();
  });
});

describe('PreemptionManager: update and the dance', () => {
  it('update while the eviction fence has signalled: drop the mutex, flush the resume work, retry', async () => {
    const h = harness();
    const ev = h.mgr.fence;
    ev.enableSwSignaling();
    await h.rt.advance(1); // preempted and signalled at 1; the resume runs until 3
    expect(ev.testSignaledFlag()).toBe(true);
    const u = h.fence();
    const t = await h.rt.run(async () => {
      await h.mgr.update(u);
      return h.rt.now();
    });
    expect(t).toBe(3); // only after the resume re-created the VM
    expect(h.mgr.retries).toBe(1);
    expect(h.mgr.lastFence).toBe(u);
    expect(h.mgr.fence).not.toBe(ev);
    await h.done();
  });

  it('an update racing a suspend in flight waits for it: no completion fence is exported while preempting', async () => {
    const h = harness();
    const u1 = h.fence();
    await h.rt.run(() => h.mgr.update(u1));
    h.mgr.fence.enableSwSignaling();
    signalAt(h.rt, 20, u1);
    await h.rt.advance(5); // the suspend work holds the mutex, waiting for u1
    const u2 = h.fence();
    const exported: number[] = [];
    h.rt.spawn('signal-ioctl', async () => {
      await h.mgr.update(u2);
      exported.push(h.rt.now());
    });
    await h.rt.runUntilIdle();
    expect(exported).toEqual([23]); // after the preemption (21) and the resume (23)
    expect(h.mgr.lastFence).toBe(u2);
    expect(h.mgr.retries).toBe(1);
    await h.done();
  });

  it('a resume that fails: its eviction fence still signals (with the error), update reports ECANCELED', async () => {
    const h = harness({ checks: 'warn', resume: () => { throw new DepError('ENOMEM', 'no memory to revalidate'); } });
    const ev = h.mgr.fence;
    ev.enableSwSignaling();
    await h.rt.runUntilIdle();
    const u = h.fence();
    const err = await h.rt.run(() => h.mgr.update(u).then(() => null, (e: unknown) => e));
    expect((err as DepError).code).toBe('ECANCELED');
    expect((err as DepError).message).toMatch(/no memory to revalidate/);
    expect(h.mgr.lastFence).toBe(null);
    await h.done();
  });
});

describe('Brost\'s objection: allocating under the userq mutex', () => {
  it('the suspend work takes the mutex on the reclaim path, so an allocation under it is a lockdep cycle through fs_reclaim', async () => {
    const h = harness({ checks: 'warn', resume: () => { h.rt.alloc('GFP_KERNEL', 'amdgpu_evf_mgr_rearm'); } });
    h.mgr.fence.enableSwSignaling();
    await h.done();
    const r = h.rt.reports.list.find((x) => x.kind === 'lockdep')!;
    expect(r.message).toMatch(/possible circular locking dependency detected.*trying to acquire fs_reclaim while holding evf_mgr:userq_mutex/);
    expect(r.details.join('\n')).toContain('fs_reclaim -> (wq_completion)evf-suspend -> (work_completion)evf_mgr:suspend_work -> evf_mgr:userq_mutex');
  });
});

describe('PreemptionManager: bad input', () => {
  it('ops, workqueues, timeout, update arguments, after fini', async () => {
    const rt = new Runtime();
    const wq = allocPreemptWorkqueue(rt);
    const plain = new Workqueue(rt, 'plain');
    const good: PreemptionManagerOps = { preempt: () => 0, resume: () => undefined };
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        return (e as DepError).code;
      }
      return 'none';
    };
    expect(code(() => new PreemptionManager({} as PreemptionManagerOps, { wq }))).toBe('EINVAL');
    expect(code(() => new PreemptionManager(good, { wq: plain }))).toBe('EINVAL');
    expect(code(() => new PreemptionManager(good, { wq, resumeWq: {} as Workqueue }))).toBe('EINVAL');
    expect(code(() => new PreemptionManager(good, { wq, lastFenceTimeout: -1 }))).toBe('EINVAL');
    expect(code(() => new PreemptionManager(good, { wq, runtime: new Runtime() }))).toBe('EINVAL');
    const mgr = new PreemptionManager(good, { wq });
    await expect(mgr.update({} as Fence)).rejects.toMatchObject({ code: 'EINVAL' });
    const other = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    await expect(mgr.update(other)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(mgr.lastFence).toBe(null);
    await rt.run(() => mgr.fini());
    await expect(mgr.update(new DmaFence(ops, 1n, 1n, { runtime: rt }))).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    await rt.run(async () => {
      await wq.destroy();
      await plain.destroy();
    });
  });
});

describe('PreemptionManager with tracing on', () => {
  it('names its eviction fences at init, before the manager field is set (dma_fence:init traced)', async () => {
    const rt = new Runtime({ checks: 'strict' });
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const wq = allocPreemptWorkqueue(rt, 'evf-suspend');
    const mgr = new PreemptionManager(
      { preempt: () => undefined, preemptWait: () => undefined, revalidate: () => undefined, resume: () => undefined },
      { runtime: rt, wq },
    );
    const inits = sink.records.filter((r) => r.name === 'dma_fence:init');
    expect(inits.length).toBeGreaterThan(0);
    expect(Object.values(inits.at(-1)!.args)).toContain('evf_mgr');
    await mgr.fini();
    await wq.destroy();
    await rt.runUntilIdle();
  });
});
