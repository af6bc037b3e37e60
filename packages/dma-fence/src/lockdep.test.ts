// Contexts and locks: callbacks and enableSignaling run under the fence lock in atomic
// context; awaiting there, re-taking the same fence's lock, and taking another fence lock
// of the same class from enableSignaling are reports. The lock goes through rt.lockdep.
import { DepError, Runtime, SpinLock, isDepWarning } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFence, INLINE_LOCK_CLASS, type DmaFenceOps } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'tl' };

function fence(rt: Runtime, seqno = 1n, o: DmaFenceOps = ops): DmaFence {
  return new DmaFence(o, 1n, seqno, { runtime: rt });
}

describe('await in a callback', () => {
  it('an async callback is "scheduling while atomic" (strict: thrown out of signal)', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const other = fence(rt, 2n);
    other.signal();
    // The very bug this test shows (the linter flags it too):
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    f.addCallback(async () => {
      await other.waitTimeout(0);
    });
    let err: unknown;
    try {
      f.signal();
    } catch (e) {
      err = e;
    }
    expect(isDepWarning(err)).toBe(true);
    expect(rt.reports.list.map((r) => r.kind)).toContain('context');
    expect(String(err)).toMatch(/scheduling while atomic: fence callback/);
    expect(f.testSignaledFlag()).toBe(true);
  });

  it('a sleeping wait started from a callback is "sleeping function called from invalid context"', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    const pending = fence(rt, 2n);
    f.addCallback(() => {
      void pending.waitTimeout(10);
    });
    f.signal();
    expect(rt.reports.list.some((r) => r.kind === 'context' && /sleeping function called from invalid context/.test(r.message))).toBe(true);
  });

  it('a task that awaits with a fence lock held is reported when its hop ends', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    await rt.run(async () => {
      f.lockIrqsave();
      await rt.yield();
      f.unlockIrqrestore();
    });
    expect(rt.reports.list.some((r) => r.kind === 'context' && /scheduling while atomic/.test(r.message))).toBe(true);
  });
});

describe('re-taking the same fence lock', () => {
  it('getStatus on the fence from its own callback: recursive-locking report, EDEADLK; other callbacks still run', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const ran: string[] = [];
    f.addCallback((g) => {
      ran.push('first');
      g.getStatus();
    });
    f.addCallback(() => ran.push('second'));
    let err: unknown;
    try {
      f.signal();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DepError);
    expect((err as DepError).code).toBe('EDEADLK');
    expect(ran).toEqual(['first', 'second']);
    const r = rt.reports.list.find((x) => x.kind === 'lockdep')!;
    expect(r.message).toMatch(/possible recursive locking detected/);
    expect(r.message).toContain('detached-driver:signaled-timeline 1:1'); // signalled by now: names detached
    // Nothing is left held.
    expect(rt.current.atomic).toBe(0);
    expect(rt.current.held).toHaveLength(0);
  });

  it('addCallback / removeCallback on the same fence from its enableSignaling op: same report', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt, 1n, {
      ...ops,
      enableSignaling: (g) => {
        try {
          g.removeCallback(() => {});
        } catch (e) {
          expect((e as DepError).code).toBe('EDEADLK');
        }
        return true;
      },
    });
    expect(f.addCallback(() => {})).toBe(true);
    expect(rt.reports.count('lockdep')).toBe(1);
  });

  it('the …Locked variants are the way: getStatusLocked / signalLocked inside the lock', () => {
    const rt = new Runtime();
    const f = fence(rt);
    f.lockIrqsave();
    expect(f.getStatusLocked()).toBe(0);
    f.signalLocked();
    expect(f.getStatusLocked()).toBe(1);
    f.unlockIrqrestore();
    expect(rt.reports.count()).toBe(0);
  });

  it('a …Locked variant without the lock is a lockdep_assert_held report', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    f.signalLocked();
    expect(rt.reports.list[0]!.message).toMatch(/lockdep_assert_held failed/);
  });

  it('unlock without lock: bad unlock balance, EPERM', () => {
    const rt = new Runtime({ checks: 'warn' });
    const f = fence(rt);
    expect(() => f.unlockIrqrestore()).toThrow(/not locked/);
    expect(rt.reports.list[0]!.message).toMatch(/bad unlock balance/);
  });
});

describe('another fence lock of the same class', () => {
  it('addCallback on another fence from enableSignaling: lockdep recursive locking on the inline class', () => {
    const rt = new Runtime();
    const b = fence(rt, 2n);
    const a = fence(rt, 1n, {
      ...ops,
      enableSignaling: () => {
        b.addCallback(() => {});
        return true;
      },
    });
    let err: unknown;
    try {
      a.addCallback(() => {});
    } catch (e) {
      err = e;
    }
    expect(isDepWarning(err)).toBe(true);
    const r = rt.reports.list.find((x) => x.kind === 'lockdep')!;
    expect(r.message).toContain(INLINE_LOCK_CLASS);
    expect(r.message).toMatch(/recursive locking/);
    // Both locks are free again, nothing half-done on b.
    expect(rt.current.held).toHaveLength(0);
    expect(rt.current.atomic).toBe(0);
    a.lockIrqsave();
    a.unlockIrqrestore();
    expect(b.testFlag(5)).toBe(false);
  });

  it('signalling another fence from a callback is the same report; deferring with rt.queueIrq is not', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = fence(rt, 1n);
    const b = fence(rt, 2n);
    a.addCallback(() => b.signal());
    a.signal();
    expect(rt.reports.count('lockdep')).toBe(1);

    const rt2 = new Runtime();
    const c = fence(rt2, 1n);
    const d = fence(rt2, 2n);
    c.addCallback(() => rt2.queueIrq(() => d.signal()));
    c.signal();
    await rt2.runUntilIdle();
    expect(d.testSignaledFlag()).toBe(true);
    expect(rt2.reports.count()).toBe(0);
  });

  it('fences given their own lock class (init option lockClass) nest without a report', () => {
    const rt = new Runtime();
    const hw = new DmaFence(ops, 1n, 1n, { runtime: rt, lockClass: '&hw->fence_lock' });
    const finished = fence(rt, 2n);
    hw.addCallback(() => finished.signal());
    hw.signal();
    expect(finished.testSignaledFlag()).toBe(true);
    expect(rt.reports.count()).toBe(0);
    expect(rt.lockdep.dependsOn('&hw->fence_lock', INLINE_LOCK_CLASS)).toBe(true);
  });

  it('lock order through a fence lock: a driver lock taken in a callback and the fence lock taken under it is a cycle', () => {
    const rt = new Runtime({ checks: 'warn' });
    const drv = new SpinLock(rt, 'drv->lock');
    const f = new DmaFence(ops, 1n, 1n, { runtime: rt, lockClass: '&drv_fence->lock' });
    f.addCallback(() => {
      drv.lock();
      drv.unlock();
    });
    f.signal(); // fence lock -> drv->lock
    const g = new DmaFence(ops, 1n, 2n, { runtime: rt, lockClass: '&drv_fence->lock' });
    drv.lock();
    g.addCallback(() => {}); // drv->lock -> fence lock: cycle
    drv.unlock();
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' && /circular locking dependency/.test(r.message))).toBe(true);
  });
});

describe('irq context', () => {
  it('signalling from an interrupt and adding callbacks in a task is consistent (irqsave): no report', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    let seen = false;
    await rt.run(() => {
      f.addCallback(() => {
        seen = rt.context === 'irq';
      });
      rt.queueIrq(() => f.signal());
    });
    expect(seen).toBe(true);
    expect(rt.reports.count()).toBe(0);
  });
});

describe('addCallback on a cached lockdep chain (no held entry, decision 0202)', () => {
  it('repeats are free of reports and leave no lock state; a new nesting is still validated and reported', () => {
    const rt = new Runtime({ checks: 'warn' });
    const drv = new SpinLock(rt, 'drv->lock');
    for (let i = 1n; i <= 3n; i++) {
      drv.lock();
      const f = fence(rt, i);
      expect(f.addCallback(() => {})).toBe(true);
      // the fence lock is not held any more, and nothing else changed
      expect(rt.current.held.map((h) => h.className)).toEqual(['drv->lock']);
      drv.unlock();
      f.signal();
      expect(f.testSignaledFlag()).toBe(true);
    }
    expect(rt.reports.count()).toBe(0);
    expect(rt.lockdep.dependsOn('drv->lock', INLINE_LOCK_CLASS)).toBe(true);
    expect(rt.current.atomic).toBe(0);
    expect(rt.current.irqsOff).toBe(0);
    // under another inline fence lock the chain differs: validated, and a recursion report
    const outer = fence(rt, 10n);
    outer.lockIrqsave();
    let err: unknown;
    try {
      fence(rt, 11n).addCallback(() => {});
    } catch (e) {
      err = e;
    }
    outer.unlockIrqrestore();
    expect(err).toBeUndefined();
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' && /recursive locking/.test(r.message))).toBe(true);
  });
});
