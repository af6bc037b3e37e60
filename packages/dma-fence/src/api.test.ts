// The rest of the public surface: input validation (DepError, nothing changed), late init,
// names and describe, tracepoints, references, driver flag bits, deadlines, stubs,
// waitAnyTimeout, the default runtime and the real-time executor.
import { DepError, MemoryTraceSink, Runtime, getDefaultRuntime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  FenceFlag,
  allocatePrivateStub,
  beginSignalling,
  defaultWait,
  endSignalling,
  getStub,
  waitAnyTimeout,
  type DmaFenceOps,
} from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof DepError ? e.code : `not a DepError: ${String(e)}`;
  }
  return undefined;
}

describe('input validation', () => {
  it('init rejects bad ops, contexts and seqnos with EINVAL', () => {
    const rt = new Runtime();
    expect(code(() => new DmaFence({ getDriverName: () => 'x' } as never, 1n, 1n, { runtime: rt }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1 as never, 1n, { runtime: rt }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1n, -1n, { runtime: rt }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1n, 1n << 64n, { runtime: rt }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1n, 1n, { runtime: rt, lockClass: '' }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1n, (1n << 64n) - 1n, { runtime: rt }))).toBeUndefined();
  });

  it('checks off validates types but trusts the u64 range (documented fast path)', () => {
    const rt = new Runtime({ checks: 'off' });
    expect(code(() => new DmaFence(ops, 1n, '1' as never, { runtime: rt }))).toBe('EINVAL');
    expect(code(() => new DmaFence(ops, 1n, -1n, { runtime: rt }))).toBeUndefined();
  });

  it('callbacks must be functions; times must be numbers', () => {
    const rt = new Runtime();
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt });
    expect(code(() => f.addCallback(null as never))).toBe('EINVAL');
    expect(code(() => f.removeCallback('x' as never))).toBe('EINVAL');
    expect(code(() => f.signalTimestamp(Number.NaN))).toBe('EINVAL');
    expect(code(() => f.setDeadline('soon' as never))).toBe('EINVAL');
    expect(f.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
    expect(f.testSignaledFlag()).toBe(false);
  });

  it('waits reject a non-number timeout and a non-AbortSignal', async () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    await expect(f.waitTimeout('1' as never)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(f.wait({ signal: {} as never })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(waitAnyTimeout('x' as never, 1)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe('late init (a fence embedded in a job, initialized at arm)', () => {
  it('an uninitialized fence refuses everything with EINVAL until init', () => {
    const rt = new Runtime();
    const f = new DmaFence();
    expect(f.wasInitialized()).toBe(false);
    expect(code(() => f.signal())).toBe('EINVAL');
    expect(code(() => f.addCallback(() => {}))).toBe('EINVAL');
    expect(code(() => f.isSignaled())).toBe('EINVAL');
    expect(code(() => f.getStatus())).toBe('EINVAL');
    f.init64(ops, 3n, 4n, { runtime: rt });
    expect(f.wasInitialized()).toBe(true);
    expect(f.testFlag(FenceFlag.SEQNO64)).toBe(true);
    expect([f.context, f.seqno, f.refcount, f.runtime]).toEqual([3n, 4n, 1, rt]);
    expect(code(() => f.init(ops, 3n, 5n, { runtime: rt }))).toBe('EBUSY');
    expect(f.seqno).toBe(4n);
  });

  it('subclasses embed the fence', () => {
    class Job extends DmaFence {
      readonly name = 'job';
    }
    const rt = new Runtime();
    const j = new Job();
    j.init(ops, 1n, 1n, { runtime: rt });
    j.signal();
    expect(j.isSignaled() && j.name === 'job').toBe(true);
  });

  it('without a runtime option a fence belongs to the default runtime', () => {
    const f = new DmaFence(ops, 1n, 1n);
    expect(f.runtime).toBe(getDefaultRuntime());
  });
});

describe('names, describe, trace', () => {
  it('describe() prints "ctx:seqno timeline driver [un]signalled"', () => {
    const f = new DmaFence(ops, 4n, 9n, { runtime: new Runtime() });
    expect(f.describe()).toBe('4:9 tl drv unsignalled');
    f.signal();
    expect(f.describe()).toBe('4:9   signalled');
  });

  it('emits the dma_fence tracepoints with the kernel event fields', async () => {
    const rt = new Runtime();
    const sink = new MemoryTraceSink();
    rt.trace.attach(sink);
    const f = new DmaFence({ ...ops, enableSignaling: () => true }, 2n, 3n, { runtime: rt });
    await rt.run(async () => {
      rt.queueIrq(() => f.signal());
      await f.wait();
    });
    f.put();
    const names = sink.records.map((r) => r.name).filter((n) => n.startsWith('dma_fence:'));
    expect(names).toEqual(['dma_fence:init', 'dma_fence:enable_signal', 'dma_fence:wait_start', 'dma_fence:signaled', 'dma_fence:wait_end', 'dma_fence:destroy']);
    expect(sink.named('dma_fence:signaled')[0]!.args).toEqual({ driver: 'drv', timeline: 'tl', context: 2n, seqno: 3n });
    expect(sink.named('dma_fence:destroy')[0]!.args.driver).toBe('detached-driver');
  });
});

describe('references', () => {
  it('get/put count; the last put runs release once; a put too many is a use-after-free report', () => {
    const rt = new Runtime({ checks: 'warn' });
    let released = 0;
    const f = new DmaFence({ ...ops, release: () => void released++ }, 1n, 1n, { runtime: rt });
    expect(f.get()).toBe(f);
    expect(f.refcount).toBe(2);
    f.put();
    f.put();
    expect(released).toBe(1);
    f.put();
    f.get();
    expect(released).toBe(1);
    expect(rt.reports.count('use-after-free')).toBe(2);
  });
});

describe('driver flag bits', () => {
  it('drivers own USER_BITS…15; the core bits are refused', () => {
    const f = new DmaFence(ops, 1n, 1n, { runtime: new Runtime() });
    f.setFlag(FenceFlag.USER_BITS + 1);
    expect(f.testFlag(FenceFlag.USER_BITS + 1)).toBe(true);
    expect(f.flags & (1 << (FenceFlag.USER_BITS + 1))).not.toBe(0);
    f.clearFlag(FenceFlag.USER_BITS + 1);
    expect(f.testFlag(FenceFlag.USER_BITS + 1)).toBe(false);
    expect(code(() => f.setFlag(FenceFlag.SIGNALED))).toBe('EINVAL');
    expect(code(() => f.testFlag(16))).toBe('EINVAL');
    expect(f.testSignaledFlag()).toBe(false);
  });
});

describe('deadlines', () => {
  it('forwards to ops.setDeadline while unsignalled, never after', () => {
    const got: number[] = [];
    const f = new DmaFence({ ...ops, setDeadline: (_f, d) => void got.push(d) }, 1n, 1n, { runtime: new Runtime() });
    f.setDeadline(5);
    f.setDeadline(3);
    f.signal();
    f.setDeadline(1);
    expect(got).toEqual([5, 3]);
  });
});

describe('stubs', () => {
  it('getStub is one signalled fence per runtime, timestamped when first asked for', async () => {
    const rt = new Runtime();
    await rt.advance(4);
    const s = getStub(rt);
    await rt.advance(4);
    expect(getStub(rt)).toBe(s);
    expect(s.timestamp()).toBe(4);
    expect(s.driverName()).toBe('detached-driver');
    expect(getStub(new Runtime())).not.toBe(s);
  });

  it('allocatePrivateStub carries the given timestamp; fault injection makes it ENOMEM', () => {
    const rt = new Runtime();
    const p = allocatePrivateStub(42.5, rt);
    expect([p.isSignaled(), p.timestamp(), p.context, p.seqno]).toEqual([true, 42.5, 0n, 0n]);
    expect(p).not.toBe(getStub(rt));
    rt.faults.failAlloc({ site: 'dma_fence_allocate_private_stub' });
    expect(code(() => allocatePrivateStub(1, rt))).toBe('ENOMEM');
  });
});

describe('waitAnyTimeout', () => {
  it('returns the index of the first signalled fence and the remaining time', async () => {
    const rt = new Runtime();
    const fs = [1n, 2n, 3n].map((s) => new DmaFence(ops, 1n, s, { runtime: rt }));
    const r = await rt.run(async () => {
      rt.executor.schedule(10, rt.timerFrame, () => fs[2]!.signal(), null, false);
      return waitAnyTimeout(fs, 100);
    });
    expect(r).toEqual({ ret: 90, index: 2 });
    // Its wakers were removed from the fences that did not signal.
    expect(fs[0]!._hasCallbacks() || fs[1]!._hasCallbacks()).toBe(false);
  });

  it('timeout 0 polls; an already signalled member returns at once; timeout, interrupt, empty list, ENOMEM', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new DmaFence(ops, 1n, 1n, { runtime: rt });
    const b = new DmaFence(ops, 1n, 2n, { runtime: rt });
    expect(await waitAnyTimeout([a, b], 0)).toEqual({ ret: 0, index: -1 });
    const ac = new AbortController();
    const [timedOut, interrupted] = await rt.run(async () => {
      const t = await waitAnyTimeout([a, b], 5);
      rt.executor.schedule(1, rt.timerFrame, () => ac.abort(), null, false);
      const i = await waitAnyTimeout([a, b], 50, { signal: ac.signal });
      return [t, i];
    });
    expect(timedOut).toEqual({ ret: 0, index: -1 });
    expect(interrupted).toEqual({ ret: -512, index: -1 });
    b.signal();
    expect(await waitAnyTimeout([a, b], 0)).toEqual({ ret: 1, index: 1 });
    expect(await waitAnyTimeout([a, b], 30)).toEqual({ ret: 30, index: 1 });
    const def = getDefaultRuntime();
    const before = def.reports.count('warn');
    expect(await def.reports.captureAsync(() => waitAnyTimeout([], 5))).toMatchObject({ result: { ret: -22 } });
    expect(def.reports.count('warn')).toBe(before + 1);
    rt.faults.failAlloc({ site: 'dma_fence_wait_any_timeout' });
    expect(await waitAnyTimeout([a], 5)).toEqual({ ret: -12, index: -1 });
  });
});

describe('custom wait op and defaultWait', () => {
  it('a wait op replaces the default wait and may wrap defaultWait', async () => {
    const rt = new Runtime();
    let calls = 0;
    const f = new DmaFence(
      {
        ...ops,
        wait: (g, t, s) => {
          calls++;
          return defaultWait(g, t, s);
        },
      },
      1n,
      1n,
      { runtime: rt },
    );
    const r = await rt.run(async () => {
      rt.queueIrq(() => f.signal());
      return f.waitTimeout(20);
    });
    expect([calls, r]).toEqual([1, 20]);
    expect(f.ops).not.toBeNull(); // a wait op prevents detaching
  });
});

describe('signalling annotations', () => {
  it('beginSignalling/endSignalling nest on the current task; off is a no-op', () => {
    const rt = new Runtime();
    const c1 = beginSignalling(rt);
    const c2 = beginSignalling(rt);
    expect(rt.current.signalling).toBe(2);
    expect(c2).toBe(true);
    endSignalling(c2, rt);
    endSignalling(c1, rt);
    expect(rt.current.signalling).toBe(0);
    const off = new Runtime({ checks: 'off' });
    expect(beginSignalling(off)).toBe(true);
    expect(off.current.signalling).toBe(0);
  });
});

describe('real-time executor', () => {
  it('a wait on a real-time runtime resolves when an interrupt signals the fence', async () => {
    const rt = new Runtime({ executor: 'real' });
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt });
    const p = rt.run(async () => {
      rt.executor.schedule(2, rt.timerFrame, () => f.signal(), null, false);
      return f.waitTimeout(5000);
    });
    const ret = await p;
    expect(ret).toBeGreaterThan(0);
    expect(ret).toBeLessThanOrEqual(5000);
    expect(f.timestamp()).toBeGreaterThan(0);
  });
});
