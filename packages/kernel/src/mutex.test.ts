import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDepError, isDepWarning, Mutex, Runtime, SpinLock, type Task } from './index.js';

describe('mutex', () => {
  it('hands ownership to waiters in FIFO order under many tasks', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    const order: string[] = [];
    const requested: string[] = [];
    for (let i = 0; i < 12; i++) {
      rt.spawn(`t${i}`, async () => {
        await rt.sleep(i % 4); // arrival order: by time, then spawn order
        requested.push(`t${i}`);
        await m.lock();
        order.push(`t${i}`);
        await rt.sleep(3);
        m.unlock();
      });
    }
    const idle = await rt.runUntilIdle();
    expect(idle.stalled).toEqual([]);
    expect(order).toEqual(requested);
    expect(rt.now()).toBe(36);
    expect(m.isLocked).toBe(false);
  });

  it('unlock hands the lock directly to the first waiter: nobody can take it in between', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    let waiterTask: Task | undefined;
    const seen: Array<[string, string | undefined, boolean]> = [];
    rt.spawn('owner', async () => {
      await m.lock();
      await rt.sleep(1);
      m.unlock();
      seen.push(['after unlock', m.owner?.name, m.trylock()]);
    });
    rt.spawn('waiter', async () => {
      waiterTask = rt.current;
      await m.lock();
      seen.push(['waiter runs', m.owner?.name, rt.current === waiterTask]);
      m.unlock();
    });
    await rt.runUntilIdle();
    expect(seen).toEqual([
      ['after unlock', 'waiter', false],
      ['waiter runs', 'waiter', true],
    ]);
  });

  it('property: mutual exclusion and no stall under chaos scheduling', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e9 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 8 }), async (seed, holds) => {
        const rt = new Runtime({ chaos: true, seed });
        const m = new Mutex(rt, 'm');
        let inside = 0;
        let maxInside = 0;
        let done = 0;
        holds.forEach((h, i) =>
          rt.spawn(`t${i}`, async () => {
            await m.lock();
            inside++;
            maxInside = Math.max(maxInside, inside);
            await rt.sleep(h);
            inside--;
            m.unlock();
            done++;
          }),
        );
        const idle = await rt.runUntilIdle();
        expect(idle.stalled).toEqual([]);
        expect(maxInside).toBe(1);
        expect(done).toBe(holds.length);
      }),
      { numRuns: 50 },
    );
  });

  it('lockInterruptible returns -EINTR when the signal fires while waiting, and leaves the queue', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    const ac = new AbortController();
    const got: Array<[string, number, number]> = [];
    rt.spawn('owner', async () => {
      await m.lock();
      await rt.sleep(10);
      m.unlock();
    });
    rt.spawn('interruptible', async () => {
      const r = await m.lockInterruptible({ signal: ac.signal });
      got.push(['interruptible', r, rt.now()]);
      expect(rt.current.held).toEqual([]);
    });
    rt.spawn('next', async () => {
      await rt.sleep(1);
      await m.lock();
      got.push(['next', 0, rt.now()]);
      m.unlock();
    });
    rt.spawn('killer', async () => {
      await rt.sleep(4);
      ac.abort();
    });
    await rt.runUntilIdle();
    expect(got).toEqual([
      ['interruptible', -4, 4],
      ['next', 0, 10],
    ]);
    expect(m.waiters).toBe(0);
  });

  it('lockInterruptible takes an uncontended lock even with a pending signal (fast path)', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    const ac = new AbortController();
    ac.abort();
    const r = await rt.run(async () => {
      const v = await m.lockInterruptible({ signal: ac.signal });
      m.unlock();
      return v;
    });
    expect(r).toBe(0);
  });

  it('unlock by a task that does not own it is EPERM and changes nothing', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const m = new Mutex(rt, 'm');
    let err: unknown;
    rt.spawn('owner', async () => {
      await m.lock();
      await rt.sleep(5);
      m.unlock();
    });
    rt.spawn('thief', async () => {
      await rt.sleep(1);
      try {
        m.unlock();
      } catch (e) {
        err = e;
      }
      expect(m.owner?.name).toBe('owner');
    });
    await rt.runUntilIdle();
    expect(isDepError(err, 'EPERM')).toBe(true);
    expect(String(err)).toContain('it is owned by owner/');
    expect(m.isLocked).toBe(false);
    expect(() => m.unlock()).toThrow(/EPERM.*not locked/);
  });

  it('re-locking a mutex the task owns is reported and is EDEADLK, not a hang', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const m = new Mutex(rt, 'm');
    const err = await rt.run(async () => {
      await m.lock();
      const e = await m.lock().catch((x: unknown) => x);
      m.unlock();
      return e;
    });
    expect(isDepError(err, 'EDEADLK')).toBe(true);
    expect(rt.reports.list.map((r) => r.message)).toEqual([expect.stringContaining('possible recursive locking detected')]);
  });

  it('trylock takes a free mutex and fails on a held one', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    await rt.run(async () => {
      expect(m.trylock()).toBe(true);
      expect(m.owner).toBe(rt.current);
      expect(rt.current.held.map((h) => h.className)).toEqual(['m']);
      m.unlock();
    });
    rt.spawn('holder', async () => {
      await m.lock();
      await rt.sleep(2);
      m.unlock();
    });
    rt.spawn('trier', async () => {
      await rt.sleep(1);
      expect(m.trylock()).toBe(false);
    });
    await rt.runUntilIdle();
    expect(m.isLocked).toBe(false);
  });

  it('a mutex held across awaits keeps the task preemptible (no atomic report)', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    await rt.run(async () => {
      await m.lock();
      expect(rt.current.atomic).toBe(0);
      await rt.sleep(1);
      m.assertHeld();
      m.unlock();
    });
    expect(rt.reports.list).toEqual([]);
  });

  it('withLock unlocks when the function throws', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    const err = await rt.run(() => m.withLock(async () => {
      await rt.sleep(1);
      throw new Error('boom');
    }).catch((e: unknown) => e));
    expect((err as Error).message).toBe('boom');
    expect(m.isLocked).toBe(false);
  });

  it('taking a mutex in irq context is reported (sleeping function called from invalid context)', async () => {
    const rt = new Runtime();
    const m = new Mutex(rt, 'm');
    let err: unknown;
    rt.queueIrq(() => {
      m.lock().catch((e: unknown) => {
        err = e;
      });
    });
    await rt.runUntilIdle().catch(() => undefined);
    await Promise.resolve();
    expect(isDepWarning(err)).toBe(true);
    expect(String(err)).toContain('sleeping function called from invalid context: mutex_lock(m)');
  });

  it('rejects bad input before changing anything', async () => {
    const rt = new Runtime();
    expect(() => new Mutex(rt, '')).toThrow(/EINVAL/);
    const m = new Mutex(rt, 'm');
    await expect(m.lockInterruptible({ signal: 'nope' as unknown as AbortSignal })).rejects.toThrow(/EINVAL/);
    await expect(m.lockNested(9)).rejects.toThrow(/EINVAL/);
    expect(m.isLocked).toBe(false);
  });

  it('nested mutexes of one class need lockNested', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new Mutex(rt, 'inode');
    const b = new Mutex(rt, 'inode');
    await rt.run(async () => {
      await a.lock();
      await b.lockNested(1);
      b.unlock();
      a.unlock();
    });
    expect(rt.reports.list).toEqual([]);
    await rt.run(async () => {
      await a.lock();
      await b.lock();
      b.unlock();
      a.unlock();
    });
    expect(rt.reports.count('lockdep')).toBe(1);
  });

  it('a spinlock section cannot return a promise', () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 's');
    expect(() => s.withLock(() => Promise.resolve(1))).toThrow(/EINVAL.*must be synchronous/);
    expect(s.isLocked).toBe(false);
  });
});

describe('mutex stall report', () => {
  it('names the owners and the AB-BA deadlock cycle when tasks hang with checks off', async () => {
    const rt = new Runtime({ checks: 'off' });
    const a = new Mutex(rt, 'mA');
    const b = new Mutex(rt, 'mB');
    rt.spawn('t1', async () => {
      await a.lock();
      await rt.sleep(1);
      await b.lock();
    });
    rt.spawn('t2', async () => {
      await b.lock();
      await rt.sleep(1);
      await a.lock();
    });
    const idle = await rt.runUntilIdle();
    expect(idle.stalled.map((s) => s.task.name).sort()).toEqual(['t1', 't2']);
    const stall = rt.reports.list.find((r) => r.kind === 'stall')!;
    expect(stall.details).toContain('t1/4 waits for Mutex mB owned by t2/5 (blocked: mutex_lock mA)');
    expect(stall.details).toContain('deadlock: t1/4 -> Mutex mB -> t2/5 -> Mutex mA -> t1/4');
  });
});
