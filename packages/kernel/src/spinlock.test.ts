import { describe, expect, it } from 'vitest';
import { isDepError, Runtime, SpinLock } from './index.js';

describe('spinlock', () => {
  it('makes the task atomic while held and tracks the holder', () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 's');
    expect(rt.inAtomic()).toBe(false);
    s.lock();
    expect(rt.inAtomic()).toBe(true);
    expect(s.isLocked).toBe(true);
    expect(s.owner).toBe(rt.current);
    expect(rt.current.held.map((h) => [h.className, h.sleeping])).toEqual([['s', false]]);
    s.unlock();
    expect(rt.inAtomic()).toBe(false);
    expect(s.owner).toBeNull();
  });

  it('lockIrqsave disables irqs on the task until unlockIrqrestore, and nests', () => {
    const rt = new Runtime();
    const a = new SpinLock(rt, 'a');
    const b = new SpinLock(rt, 'b');
    a.lockIrqsave();
    b.lockIrqsave();
    expect(rt.current.irqsOff).toBe(2);
    expect(rt.current.atomic).toBe(2);
    b.unlockIrqrestore();
    expect(rt.current.irqsOff).toBe(1);
    a.unlockIrqrestore();
    expect(rt.current.irqsOff).toBe(0);
    expect(rt.current.atomic).toBe(0);
  });

  it('trylock fails on a held lock, its own included, without a report', () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 's');
    expect(s.trylock()).toBe(true);
    expect(s.trylock()).toBe(false);
    expect(s.trylockIrqsave()).toBe(false);
    expect(rt.current.irqsOff).toBe(0);
    s.unlock();
    expect(s.trylockIrqsave()).toBe(true);
    expect(rt.current.irqsOff).toBe(1);
    s.unlockIrqrestore();
    expect(rt.reports.list).toEqual([]);
  });

  it('a trylock records no dependency towards the lock (it cannot block)', () => {
    const rt = new Runtime();
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.withLock(() => {
      expect(b.trylock()).toBe(true);
      b.unlock();
    });
    b.withLock(() => a.withLock(() => undefined));
    expect(rt.reports.list).toEqual([]);
    expect(rt.lockdep.dependsOn('A', 'B')).toBe(false);
    expect(rt.lockdep.dependsOn('B', 'A')).toBe(true);
  });

  it('releasing with the wrong variant is EINVAL and keeps the lock held', () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 's');
    s.lockIrqsave();
    expect(() => s.unlock()).toThrow(/EINVAL.*unlockIrqrestore/);
    expect(s.isLocked).toBe(true);
    s.unlockIrqrestore();
    s.lock();
    expect(() => s.unlockIrqrestore()).toThrow(/EINVAL/);
    expect(rt.current.irqsOff).toBe(0);
    s.unlock();
  });

  it('unlock by a task that does not hold it is reported and EPERM, with no state change', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const s = new SpinLock(rt, 's');
    let err: unknown;
    rt.spawn('holder', async () => {
      s.lock();
      await rt.sleep(2); // (held across an await on purpose; reported too)
      s.unlock();
    });
    rt.spawn('other', async () => {
      await rt.sleep(1);
      try {
        s.unlock();
      } catch (e) {
        err = e;
      }
      expect(s.owner?.name).toBe('holder');
    });
    await rt.runUntilIdle();
    expect(isDepError(err, 'EPERM')).toBe(true);
    expect(rt.reports.list.some((r) => r.kind === 'lockdep' && r.message.includes('bad unlock balance detected') && r.message.includes('held by holder/'))).toBe(true);
    expect(s.isLocked).toBe(false);
    expect(() => s.unlock()).toThrow(/EPERM.*not locked/);
  });

  it('withLock returns the value and unlocks even when the function throws', () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 's');
    expect(s.withLock(() => 42)).toBe(42);
    expect(() =>
      s.withLockIrqsave(() => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(s.isLocked).toBe(false);
    expect(rt.current.irqsOff).toBe(0);
    expect(rt.current.atomic).toBe(0);
  });

  it('is taken and released in irq context (a handler must release before returning)', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const s = new SpinLock(rt, 's');
    rt.queueIrq(() => s.withLock(() => undefined));
    rt.queueIrq(() => s.lock()); // returns with it held
    await rt.runUntilIdle();
    const ctx = rt.reports.list.filter((r) => r.kind === 'context');
    expect(ctx.map((r) => r.message)).toEqual(['BUG: irq handler returned with preempt_count 1']);
  });

  it("with checks 'off' a lock/unlock pair only touches the lock and the task's preempt count", () => {
    const rt = new Runtime({ checks: 'off' });
    const s = new SpinLock(rt, 's');
    for (let i = 0; i < 1000; i++) {
      s.lock();
      s.unlock();
    }
    s.lock();
    expect(rt.current.held).toEqual([]);
    expect(rt.current.atomic).toBe(1);
    expect(() => s.lock()).toThrow(/EDEADLK/); // contention is still caught
    s.unlock();
    expect(rt.reports.list).toEqual([]);
  });

  it('rejects a missing name', () => {
    expect(() => new SpinLock(new Runtime(), '')).toThrow(/EINVAL/);
  });
});
