// Port of the kernel's KUnit suite "dma-buf-fence" (drivers/dma-buf/st-dma-fence.c,
// kernel-api.md C1), one test per kernel case, same names. Threads become tasks of a
// virtual runtime; the race runs under many chaos seeds instead of on two CPUs.
import { Runtime, Timer } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFence, getStub, type DmaFenceOps, type Fence, type FenceFunc } from './index.js';

const mockOps: DmaFenceOps = {
  getDriverName: () => 'mock',
  getTimelineName: () => 'mock',
};

/** `mock_fence()`: only the two name ops, the inline lock, context 0, seqno 0. */
function mockFence(rt: Runtime): DmaFence {
  return new DmaFence(mockOps, 0n, 0n, { runtime: rt });
}

interface SimpleCb {
  seen: boolean;
}
const simpleCallback: FenceFunc<SimpleCb> = (_f, cb) => {
  cb.seen = true;
};

describe('dma-buf-fence', () => {
  it('test_sanitycheck', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    f.signal();
    f.put();
    expect(f.refcount).toBe(0);
    expect(rt.reports.count()).toBe(0);
  });

  it('test_signaling', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    expect(f.isSignaled(), 'Fence unexpectedly signaled on creation').toBe(false);
    expect(f.checkAndSignal(), 'Fence reported being already signaled').toBe(false);
    expect(f.isSignaled(), 'Fence not reporting signaled').toBe(true);
    expect(f.testSignaledFlag(), 'Fence reported not being already signaled').toBe(true);
    expect(f.ops, 'Fence ops not cleared on signal').toBeNull();
    // The legacy form: a second signal reports "already".
    expect(f.checkAndSignal()).toBe(true);
    f.put();
  });

  it('test_add_callback', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const cb: SimpleCb = { seen: false };
    expect(f.addCallback(simpleCallback, cb), 'Failed to add callback, fence already signaled!').toBe(true);
    f.signal();
    expect(cb.seen, 'Callback failed!').toBe(true);
    f.put();
  });

  it('test_late_add_callback', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const cb: SimpleCb = { seen: false };
    f.enableSwSignaling();
    f.signal();
    expect(f.addCallback(simpleCallback, cb), 'Added callback, but fence was already signaled!').toBe(false);
    f.signal();
    expect(cb.seen, 'Callback called after failed attachment!').toBe(false);
    f.put();
  });

  it('test_rm_callback', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const cb: SimpleCb = { seen: false };
    expect(f.addCallback(simpleCallback, cb)).toBe(true);
    expect(f.removeCallback(simpleCallback, cb), 'Failed to remove callback!').toBe(true);
    f.signal();
    expect(cb.seen, 'Callback still signaled after removal!').toBe(false);
    f.put();
  });

  it('test_late_rm_callback', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const cb: SimpleCb = { seen: false };
    expect(f.addCallback(simpleCallback, cb)).toBe(true);
    f.signal();
    expect(cb.seen, 'Callback failed!').toBe(true);
    expect(f.removeCallback(simpleCallback, cb), 'Callback removal succeeded after being executed!').toBe(false);
    f.put();
  });

  it('test_status', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    expect(f.getStatus(), 'Fence unexpectedly has signaled status on creation').toBe(0);
    f.signal();
    expect(f.getStatus(), 'Fence not reporting signaled status').toBe(1);
    f.put();
  });

  it('test_error', () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    f.setError(-5); // -EIO
    expect(f.getStatus(), 'Fence unexpectedly has error status before signal').toBe(0);
    f.signal();
    expect(f.getStatus(), 'Fence not reporting error status').toBe(-5);
    f.put();
  });

  it('test_wait', async () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    f.enableSwSignaling();
    await rt.run(async () => {
      expect(await f.waitTimeout(0), 'Wait reported complete before being signaled').toBe(0);
      f.signal();
      expect(await f.waitTimeout(0), 'Wait reported incomplete after being signaled').toBe(1);
    });
    f.signal();
    f.put();
  });

  it('test_wait_timeout', async () => {
    const rt = new Runtime();
    const f = mockFence(rt);
    const HZ = 1000; // jiffies become ms
    const timer = new Timer(rt, () => f.signal(), 'wait_timer');
    f.enableSwSignaling();
    await rt.run(async () => {
      expect(await f.waitTimeout(1), 'Wait reported complete before being signaled').toBe(0);
      timer.mod(1);
      const ret = await f.waitTimeout(HZ);
      // Virtual time: the timer always fires within HZ, so the kernel's "skip" branch
      // (timer still pending) cannot happen here; it would be a failure.
      expect(timer.pending).toBe(false);
      expect(ret, 'Wait reported incomplete after timeout').toBeGreaterThan(0);
      expect(ret).toBe(HZ - 1);
    });
    timer.del();
    f.signal();
    f.put();
  });

  it('test_stub', () => {
    const rt = new Runtime();
    const f: Fence[] = [];
    for (let i = 0; i < 64; i++) {
      f.push(getStub(rt));
      expect(f[i]!.isSignaled(), 'Obtained unsignaled stub fence!').toBe(true);
    }
    expect(f.every((s) => s === f[0])).toBe(true);
    expect(f[0]!.refcount).toBe(65);
    while (f.length > 0) f.pop()!.put();
    expect(getStub(rt).refcount).toBe(2);
  });

  describe('test_race_signal_callback', () => {
    /**
     * `thread_signal_callback()` as a task. The kernel's threads interleave anywhere; here
     * the interleaving points are `rt.yield()`s between the steps, and the chaos executor
     * picks among the runnable tasks by the seed.
     */
    async function thread(
      rt: Runtime,
      fences: (DmaFence | null)[],
      done: boolean[],
      id: number,
      before: boolean,
      passes: number,
      stats: { miss: number; seenBySignal: number; waited: number },
    ): Promise<number> {
      let err = 0;
      for (let pass = 0; err === 0 && pass < passes; pass++) {
        const f1 = mockFence(rt);
        f1.enableSwSignaling();
        fences[id] = f1;
        await rt.yield();

        let f2: Fence | null = null;
        // dma_fence_get_rcu_safe() spin, until the other thread published or stopped.
        while (f2 === null && !done[1 - id]) {
          const other = fences[1 - id] ?? null;
          f2 = other === null ? null : other.get();
          if (f2 === null) await rt.yield();
        }

        if (before) f1.signal();
        await rt.yield();

        const cb: SimpleCb = { seen: false };
        if (f2 === null || !f2.addCallback(simpleCallback, cb)) {
          stats.miss++;
          cb.seen = true;
        }
        await rt.yield();

        if (!before) f1.signal();

        if (!cb.seen) {
          await f2!.wait();
          // __wait_for_callbacks(): take and drop the lock.
          f2!.lockIrqsave();
          f2!.unlockIrqrestore();
          stats.waited++;
          if (cb.seen) stats.seenBySignal++;
        }

        if (!cb.seen) err = -22;
        f2?.put();
        fences[id] = null;
        await rt.yield();
        f1.put();
      }
      done[id] = true;
      return err;
    }

    for (const before of [false, true]) {
      it(`signal ${before ? 'before' : 'after'} add_callback, 64 chaos seeds`, async () => {
        const stats = { miss: 0, seenBySignal: 0, waited: 0 };
        for (let seed = 1; seed <= 64; seed++) {
          const rt = new Runtime({ chaos: true, seed });
          const fences: (DmaFence | null)[] = [null, null];
          const done = [false, false];
          const t0 = rt.spawn('dma-fence:0', () => thread(rt, fences, done, 0, before, 8, stats), { joinable: true });
          const t1 = rt.spawn('dma-fence:1', () => thread(rt, fences, done, 1, before, 8, stats), { joinable: true });
          const idle = await rt.runUntilIdle();
          expect(idle.stalled).toEqual([]);
          expect(await t0.join()).toBe(0);
          expect(await t1.join()).toBe(0);
          expect(rt.reports.count()).toBe(0);
        }
        // The seeds explored both outcomes: callbacks run by the other thread's signal, and
        // misses (the other fence signalled, or gone, before add_callback).
        expect(stats.seenBySignal).toBeGreaterThan(0);
        expect(stats.miss).toBeGreaterThan(0);
        expect(stats.waited).toBe(stats.seenBySignal);
      });
    }
  });
});
