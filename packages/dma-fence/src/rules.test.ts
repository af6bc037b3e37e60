// One test (or more) per rule of kernel-api.md section B that applies to the fence core
// (1–14 and 22); rule 10 (seqno compare) lives in seqno.test.ts.
import { DepError, GFP_ATOMIC, GFP_KERNEL, Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  FenceFlag,
  contextAlloc,
  getStub,
  type DmaFenceOps,
  type Fence,
  type FenceFunc,
} from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };

function fence(rt: Runtime, o: DmaFenceOps = ops, seqno = 1n): DmaFence {
  return new DmaFence(o, 1n, seqno, { runtime: rt });
}

const count: FenceFunc<{ n: number }> = (_f, c) => {
  c.n++;
};

describe('B1: signal once, idempotently', () => {
  it('a second signal changes nothing and runs no callback again; checkAndSignal says "already"', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    const c = { n: 0 };
    f.addCallback(count, c);
    await rt.advance(5);
    expect(f.checkAndSignal()).toBe(false);
    await rt.advance(5);
    f.signal();
    f.signalTimestamp(99);
    expect(f.checkAndSignal()).toBe(true);
    expect(c.n).toBe(1);
    expect(f.timestamp()).toBe(5);
  });
});

describe('B2: callbacks run under the fence lock, in FIFO order, in atomic context', () => {
  it('runs every callback once, in registration order, atomic, with the lock held', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const seen: string[] = [];
    const cb: FenceFunc<string> = (g, name) => {
      seen.push(`${name}:${rt.inAtomic()}:${g.getStatusLocked()}`);
    };
    for (const n of ['a', 'b', 'c', 'd', 'e']) f.addCallback(cb, n);
    expect(f.removeCallback(cb, 'c')).toBe(true);
    f.addCallback(cb, 'f');
    f.signal();
    expect(seen).toEqual(['a:true:1', 'b:true:1', 'd:true:1', 'e:true:1', 'f:true:1']);
    expect(rt.inAtomic()).toBe(false);
  });

  it('removing the first callback keeps the order of the others', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const seen: number[] = [];
    const cb: FenceFunc<number> = (_g, i) => seen.push(i);
    for (let i = 0; i < 4; i++) f.addCallback(cb, i);
    expect(f.removeCallback(cb, 0)).toBe(true);
    expect(f.removeCallback(cb, 3)).toBe(true);
    expect(f.removeCallback(cb, 3)).toBe(false);
    f.addCallback(cb, 4);
    f.signal();
    expect(seen).toEqual([1, 2, 4]);
  });

  it('a throwing callback does not stop the others; the first error surfaces after unlock', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const c = { n: 0 };
    f.addCallback(() => {
      throw new Error('boom');
    });
    f.addCallback(count, c);
    expect(() => f.signal()).toThrow('boom');
    expect(c.n).toBe(1);
    expect(f.testSignaledFlag()).toBe(true);
    f.lockIrqsave(); // the lock was released
    f.unlockIrqrestore();
  });
});

describe('B3: enableSignaling runs under the lock, at most once; false makes the core signal', () => {
  it('is called once, atomic, on the first addCallback', () => {
    const rt = new Runtime();
    const calls: boolean[] = [];
    const o: DmaFenceOps = { ...ops, enableSignaling: () => (calls.push(rt.inAtomic()), true) };
    const f = fence(rt, o);
    f.addCallback(() => {});
    f.addCallback(() => {});
    f.enableSwSignaling();
    expect(calls).toEqual([true]);
    expect(f.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(true);
  });

  it('returning false signals the fence (with the error the op set) and addCallback returns false', () => {
    const rt = new Runtime();
    const o: DmaFenceOps = {
      ...ops,
      enableSignaling: (g) => {
        g.setError(-125);
        return false;
      },
    };
    const f = fence(rt, o);
    const c = { n: 0 };
    expect(f.addCallback(count, c)).toBe(false);
    expect(c.n).toBe(0);
    expect(f.getStatus()).toBe(-125);
  });

  it('is not called on a fence that already signalled', () => {
    const rt = new Runtime();
    let calls = 0;
    const f = fence(rt, { ...ops, enableSignaling: () => (calls++, true) });
    f.signal();
    f.enableSwSignaling();
    expect(calls).toBe(0);
  });
});

describe('B4/B5: addCallback on a signalled fence returns false and never calls; removeCallback is true only while pending', () => {
  it('late add: false, never called, remove false', () => {
    const rt = new Runtime();
    const f = fence(rt);
    f.signal();
    const c = { n: 0 };
    expect(f.addCallback(count, c)).toBe(false);
    f.signal();
    expect(c.n).toBe(0);
    expect(f.removeCallback(count, c)).toBe(false);
  });

  it('remove: true while pending, false after it ran or if never added', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const c1 = { n: 0 };
    const c2 = { n: 0 };
    expect(f.removeCallback(count, c1)).toBe(false);
    f.addCallback(count, c1);
    f.addCallback(count, c2);
    expect(f.removeCallback(count, c2)).toBe(true);
    f.signal();
    expect([c1.n, c2.n]).toEqual([1, 0]);
    expect(f.removeCallback(count, c1)).toBe(false);
  });
});

describe('B6: setError only before signalling, only -1…-4095; status shows it only once signalled', () => {
  it('status is 0 before signalling even with an error set, the error after', () => {
    const rt = new Runtime();
    const f = fence(rt);
    f.setError(-62); // -ETIME
    expect(f.getStatus()).toBe(0);
    expect(f.error).toBe(-62);
    f.signal();
    expect(f.getStatus()).toBe(-62);
  });

  it('WARNs (and changes nothing) after signalling or for a value out of range', () => {
    const rt = new Runtime();
    const f = fence(rt);
    for (const bad of [0, 1, -4096]) {
      const { reports } = rt.reports.capture(() => f.setError(bad));
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
    }
    expect(f.error).toBe(0);
    f.signal();
    const { reports } = rt.reports.capture(() => f.setError(-5));
    expect(reports[0]!.message).toMatch(/after it signalled/);
    expect(f.getStatus()).toBe(1);
  });

  it('a non-integer is bad input: DepError EINVAL', () => {
    const f = fence(new Runtime());
    expect(() => f.setError(-1.5)).toThrow(DepError);
    expect(() => f.setError(Number.NaN)).toThrow(/negative errno/);
    expect(f.error).toBe(0);
  });
});

describe('B7: timestamps', () => {
  it('signal records the runtime clock, TIMESTAMP is set with SIGNALED; signalTimestamp takes the caller\'s', async () => {
    const rt = new Runtime();
    const a = fence(rt);
    const b = fence(rt);
    await rt.advance(12);
    a.signal();
    b.signalTimestamp(3.5);
    expect(a.timestamp()).toBe(12);
    expect(b.timestamp()).toBe(3.5);
    expect(a.testFlag(FenceFlag.TIMESTAMP) && a.testFlag(FenceFlag.SIGNALED)).toBe(true);
  });

  it('timestamp() of an unsignalled fence WARNs and returns now', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    await rt.advance(7);
    const { result, reports } = rt.reports.capture(() => f.timestamp());
    expect(result).toBe(7);
    expect(reports[0]!.kind).toBe('warn');
    expect(f.testFlag(FenceFlag.TIMESTAMP)).toBe(false);
  });
});

describe('B8: wait semantics', () => {
  it('a wait enables signalling first (the op is what completes the fence)', async () => {
    const rt = new Runtime();
    let enabled = 0;
    const f = fence(rt, {
      ...ops,
      enableSignaling: (g) => {
        enabled++;
        rt.queueIrq(() => g.signal());
        return true;
      },
    });
    const ret = await rt.run(() => f.waitTimeout(100));
    expect(enabled).toBe(1);
    expect(ret).toBe(100);
  });

  it('timeout 0 polls: 0 unsignalled, 1 signalled, never blocks', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    expect(await f.waitTimeout(0)).toBe(0);
    f.signal();
    expect(await f.waitTimeout(0)).toBe(1);
  });

  it('returns the remaining time, 0 on timeout, -ERESTARTSYS when interrupted', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    const g = fence(rt);
    const ac = new AbortController();
    const r = await rt.run(async () => {
      rt.queueIrq(() => undefined);
      setTimeoutVirtual(rt, 30, () => f.signal());
      setTimeoutVirtual(rt, 5, () => ac.abort());
      const a = await f.waitTimeout(100);
      const b = await g.waitTimeout(10);
      const c = await g.wait({ signal: ac.signal });
      return [a, b, c];
    });
    expect(r).toEqual([70, 0, -512]);
  });

  it('an already-aborted signal interrupts an unsignalled wait, not a signalled one', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    const ac = new AbortController();
    ac.abort();
    expect(await f.waitTimeout(10, { signal: ac.signal })).toBe(-512);
    f.signal();
    expect(await f.waitTimeout(10, { signal: ac.signal })).toBe(10);
  });

  it('a negative timeout WARNs and returns -EINVAL', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    expect(await f.waitTimeout(-1)).toBe(-22);
    expect(rt.reports.count('warn')).toBe(1);
  });

  it('a wait inside a signalling section is a lockdep report', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    f.signal();
    const cookie = rt.lockdep.beginSignalling();
    await f.waitTimeout(0);
    rt.lockdep.endSignalling(cookie);
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' && /wait inside a fence signalling section/.test(r.message))).toBe(true);
  });
});

describe('B9: isSignaled does not enable signalling', () => {
  it('never calls enableSignaling; asks ops.signaled and signals on true', () => {
    const rt = new Runtime();
    let enabled = 0;
    let done = false;
    const f = fence(rt, { ...ops, enableSignaling: () => (enabled++, true), signaled: () => done });
    expect(f.isSignaled()).toBe(false);
    expect(enabled).toBe(0);
    expect(f.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
    done = true;
    expect(f.testSignaledFlag()).toBe(false);
    expect(f.isSignaled()).toBe(true);
    expect(f.testSignaledFlag()).toBe(true);
    expect(enabled).toBe(0);
  });
});

describe('B11: context 0 is never allocated; the stub uses it', () => {
  it('contextAlloc starts at 1 and reserves consecutive ids; 0 WARNs', () => {
    const rt = new Runtime();
    expect(contextAlloc(1, rt)).toBe(1n);
    expect(contextAlloc(3, rt)).toBe(2n);
    expect(contextAlloc(1, rt)).toBe(5n);
    const { result, reports } = rt.reports.capture(() => contextAlloc(0, rt));
    expect(result).toBe(6n);
    expect(reports[0]!.kind).toBe('warn');
    expect(contextAlloc(1, rt)).toBe(6n);
    expect(() => contextAlloc(-1, rt)).toThrow(/non-negative integer/);
    const stub: Fence = getStub(rt);
    expect([stub.context, stub.seqno]).toEqual([0n, 0n]);
  });
});

describe('B12: ops detach on signal unless there is a release or wait op', () => {
  it('detaches plain ops: names read detached-driver / signaled-timeline, setDeadline is a no-op', () => {
    const rt = new Runtime();
    let deadlines = 0;
    const f = fence(rt, { ...ops, setDeadline: () => void deadlines++ });
    expect([f.driverName(), f.timelineName()]).toEqual(['drv', 'tl']);
    f.setDeadline(10);
    f.signal();
    expect(f.ops).toBeNull();
    expect([f.driverName(), f.timelineName()]).toEqual(['detached-driver', 'signaled-timeline']);
    f.setDeadline(20);
    expect(deadlines).toBe(1);
  });

  it('keeps ops that have release (or wait), but the names still read detached', () => {
    const rt = new Runtime();
    const withRelease: DmaFenceOps = { ...ops, release: () => {} };
    const withWait: DmaFenceOps = { ...ops, wait: () => Promise.resolve(1) };
    const a = fence(rt, withRelease);
    const b = fence(rt, withWait);
    a.signal();
    b.signal();
    expect(a.ops).toBe(withRelease);
    expect(b.ops).toBe(withWait);
    expect(a.driverName()).toBe('detached-driver');
  });
});

describe('B13: the inline lock', () => {
  it('every fence uses the inline lock (external locks are legacy)', () => {
    const f = fence(new Runtime());
    expect(f.testFlag(FenceFlag.INLINE_LOCK)).toBe(true);
    expect(f.testFlag(FenceFlag.INITIALIZED)).toBe(true);
  });
});

describe('B14: release with pending callbacks', () => {
  it('WARNs, sets -EDEADLK, signals (the callbacks see it), then runs ops.release', () => {
    const rt = new Runtime();
    const events: string[] = [];
    const f = fence(rt, { ...ops, release: (g) => events.push(`release:${g.getStatus()}`) });
    f.addCallback((g) => events.push(`cb:${g.getStatusLocked()}`));
    f.get();
    f.put();
    expect(events).toEqual([]);
    const { reports } = rt.reports.capture(() => f.put());
    expect(events).toEqual(['cb:-35', 'release:-35']);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toMatch(/drv:tl:1:1 released with pending signals!/);
  });

  it('release of an unsignalled fence without callbacks is no bug', () => {
    const rt = new Runtime();
    let released = 0;
    const f = fence(rt, { ...ops, release: () => void released++ });
    f.put();
    expect(released).toBe(1);
    expect(rt.reports.count()).toBe(0);
    expect(f.testSignaledFlag()).toBe(false);
  });
});

describe('B22: the signalling critical section', () => {
  it('signal runs inside begin/end_signalling: a GFP_KERNEL allocation in a callback is a lockdep report, GFP_ATOMIC is fine', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    const depth: number[] = [];
    f.addCallback(() => {
      depth.push(rt.current.signalling);
      rt.alloc(GFP_ATOMIC, 'callback_atomic');
      rt.alloc(GFP_KERNEL, 'callback_kernel');
    });
    f.signal();
    expect(depth[0]).toBeGreaterThan(0);
    expect(rt.current.signalling).toBe(0);
    const lockdep = rt.reports.list.filter((r) => r.kind === 'lockdep');
    expect(lockdep).toHaveLength(1);
    expect(lockdep[0]!.details.join('\n')).toMatch(/callback_kernel/);
  });

  it('under strict, that report throws out of signal() and the fence is still signalled and unlocked', () => {
    const rt = new Runtime();
    const f = fence(rt);
    f.addCallback(() => rt.alloc(GFP_KERNEL, 'in_signal_path'));
    let err: unknown;
    try {
      f.signal();
    } catch (e) {
      err = e;
    }
    expect(isDepError(err)).toBe(false);
    expect(String(err)).toMatch(/signalling section/);
    expect(f.testSignaledFlag()).toBe(true);
    expect(rt.current.atomic).toBe(0);
    expect(rt.current.signalling).toBe(0);
  });
});

/** A timer-context callback `ms` from now (a test helper). */
function setTimeoutVirtual(rt: Runtime, ms: number, fn: () => void): void {
  rt.executor.schedule(ms, rt.timerFrame, () => fn(), null, false);
}
