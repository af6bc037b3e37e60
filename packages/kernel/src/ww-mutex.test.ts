import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDepError, Runtime, WwAcquireCtx, WwClass, WwMutex } from './index.js';

interface CtxSpec {
  readonly order: readonly number[];
  readonly delays: readonly number[];
  readonly start: number;
}

async function runWaitDie(n: number, specs: readonly CtxSpec[], seed: number) {
  const rt = new Runtime({ chaos: true, seed });
  const cls = new WwClass('prop_ww');
  const locks = Array.from({ length: n }, (_, i) => new WwMutex(rt, cls, `obj${i}`));
  const holder: Array<WwAcquireCtx | null> = locks.map(() => null);
  const waitingOn = new Map<WwAcquireCtx, number>();
  const violations: string[] = [];
  let deadlks = 0;
  const acquired = (ctx: WwAcquireCtx, i: number): void => {
    if (holder[i] !== null) violations.push(`obj${i} held by #${holder[i]!.stamp} and #${ctx.stamp}`);
    holder[i] = ctx;
  };
  const released = (i: number): void => {
    holder[i] = null;
  };
  const handles = specs.map((spec, k) =>
    rt.spawn(`ctx${k}`, async () => {
      await rt.sleep(spec.start);
      const ctx = new WwAcquireCtx(rt, cls);
      const held = new Set<number>();
      const unlockAll = (): void => {
        for (const i of held) {
          released(i);
          locks[i]!.unlock();
        }
        held.clear();
      };
      retry: for (;;) {
        for (let j = 0; j < spec.order.length; j++) {
          const i = spec.order[j]!;
          if (held.has(i)) continue;
          waitingOn.set(ctx, i);
          const r = await locks[i]!.lock(ctx);
          waitingOn.delete(ctx);
          if (r === -35) {
            deadlks++;
            // wait-die: only the younger of a conflicting pair dies, and only when holding something
            if (held.size === 0) violations.push(`#${ctx.stamp} got EDEADLK holding nothing`);
            const h = locks[i]!.lockingCtx;
            const olderWaiting = [...waitingOn].some(([c, li]) => li === i && c.stamp < ctx.stamp);
            if (!((h !== null && h.stamp < ctx.stamp) || olderWaiting)) {
              violations.push(`#${ctx.stamp} got EDEADLK on obj${i} without an older holder or waiter (holder ${h?.stamp ?? 'none'})`);
            }
            unlockAll();
            await locks[i]!.lockSlow(ctx);
            acquired(ctx, i);
            held.add(i);
            continue retry;
          }
          if (r !== 0) violations.push(`unexpected ${r}`);
          acquired(ctx, i);
          held.add(i);
          const d = spec.delays[j] ?? 0;
          if (d > 0) await rt.sleep(d);
        }
        break;
      }
      ctx.done();
      await rt.sleep(1);
      unlockAll();
      ctx.fini();
    }),
  );
  const idle = await rt.runUntilIdle();
  return { idle, violations, finished: handles.every((h) => h.finished), deadlks, rt };
}

describe('ww_mutex wait-die', () => {
  it('property: contexts locking random subsets in random order all finish, only the younger dies, never two holders', async () => {
    let totalDeadlk = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            specs: fc.array(
              fc.record({
                order: fc.shuffledSubarray([...Array(n).keys()], { minLength: 1 }),
                delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
                start: fc.integer({ min: 0, max: 2 }),
              }),
              { minLength: 2, maxLength: 6 },
            ),
            seed: fc.integer({ min: 1, max: 0x7fffffff }),
          }),
        ),
        async ({ n, specs, seed }) => {
          const r = await runWaitDie(n, specs, seed);
          totalDeadlk += r.deadlks;
          expect(r.violations).toEqual([]);
          expect(r.idle.stalled).toEqual([]);
          expect(r.finished).toBe(true);
          expect(r.rt.reports.list).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
    expect(totalDeadlk).toBeGreaterThan(0);
  });
});

describe('ww_mutex', () => {
  const setup = (checks: 'strict' | 'warn' = 'strict') => {
    const rt = new Runtime({ checks });
    const cls = new WwClass('reservation_ww_class');
    const [l1, l2, l3] = [1, 2, 3].map((i) => new WwMutex(rt, cls, `bo${i}`)) as [WwMutex, WwMutex, WwMutex];
    return { rt, cls, l1, l2, l3 };
  };

  it('returns -EALREADY when the context already holds the lock', async () => {
    const { rt, cls, l1 } = setup();
    const r = await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      const a = await l1.lock(ctx);
      const b = await l1.lock(ctx);
      expect(l1.lockingCtx).toBe(ctx);
      expect(ctx.acquired).toBe(1);
      l1.unlock();
      ctx.fini();
      return [a, b];
    });
    expect(r).toEqual([0, -114]);
  });

  it('stamps grow per class: a later context is younger', () => {
    const { rt, cls } = setup();
    const a = new WwAcquireCtx(rt, cls);
    a.fini();
    const b = new WwAcquireCtx(rt, cls);
    b.fini();
    expect(b.stamp).toBeGreaterThan(a.stamp);
  });

  it('the younger context holding a lock dies (-EDEADLK) on a lock held by an older one, then lockSlow waits for it', async () => {
    const { rt, cls, l1, l2 } = setup();
    const log: string[] = [];
    rt.spawn('old', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(5);
      l1.unlock();
      ctx.fini();
    });
    rt.spawn('young', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l2.lock(ctx);
      await rt.sleep(1);
      const r = await l1.lock(ctx);
      log.push(`young got ${r} at ${rt.now()}`);
      l2.unlock();
      await l1.lockSlow(ctx);
      log.push(`young slow-locked bo1 at ${rt.now()}`);
      expect(await l2.lock(ctx)).toBe(0);
      ctx.done();
      l1.unlock();
      l2.unlock();
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['young got -35 at 1', 'young slow-locked bo1 at 5']);
    expect(rt.reports.list).toEqual([]);
  });

  it('a younger context that holds nothing waits instead of dying', async () => {
    const { rt, cls, l1 } = setup();
    const log: string[] = [];
    rt.spawn('old', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(5);
      l1.unlock();
      ctx.fini();
    });
    rt.spawn('young', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      log.push(`young got ${await l1.lock(ctx)} at ${rt.now()}`);
      l1.unlock();
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['young got 0 at 5']);
  });

  it('an older context waits for a younger holder and is handed the lock on unlock', async () => {
    const { rt, cls, l1, l2 } = setup();
    const log: string[] = [];
    let oldCtx: WwAcquireCtx | undefined;
    rt.spawn('old', async () => {
      const ctx = (oldCtx = new WwAcquireCtx(rt, cls));
      await l2.lock(ctx);
      await rt.sleep(1);
      log.push(`old got ${await l1.lock(ctx)} at ${rt.now()}`);
      l1.unlock();
      l2.unlock();
      ctx.fini();
    });
    rt.spawn('young', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(4);
      l1.unlock();
      expect(l1.lockingCtx).toBe(oldCtx); // handed over at the unlock
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['old got 0 at 4']);
  });

  it('an older waiter arriving makes a younger waiter that holds locks die at once (__ww_mutex_die)', async () => {
    const { rt, cls, l1, l2, l3 } = setup();
    const log: string[] = [];
    // contexts are made in spawn order at t=0: old < mid < youngest
    rt.spawn('old', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l3.lock(ctx);
      await rt.sleep(2);
      log.push(`old asks bo2 at ${rt.now()}`);
      log.push(`old got ${await l2.lock(ctx)} at ${rt.now()}`);
      l2.unlock();
      l3.unlock();
      ctx.fini();
    });
    rt.spawn('mid', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(1);
      const r = await l2.lock(ctx); // holder is younger: mid waits
      log.push(`mid got ${r} at ${rt.now()}`);
      l1.unlock();
      if (r === 0) l2.unlock();
      ctx.fini();
    });
    rt.spawn('youngest', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l2.lock(ctx);
      await rt.sleep(10);
      l2.unlock();
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['old asks bo2 at 2', 'mid got -35 at 2', 'old got 0 at 10']);
  });

  it('a context holding locks dies at once when an older context already waits, even if the holder is younger', async () => {
    const { rt, cls, l1, l2, l3 } = setup();
    const log: string[] = [];
    rt.spawn('old', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l3.lock(ctx);
      await rt.sleep(1);
      log.push(`old got ${await l2.lock(ctx)} at ${rt.now()}`);
      l2.unlock();
      l3.unlock();
      ctx.fini();
    });
    rt.spawn('mid', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(2);
      log.push(`mid got ${await l2.lock(ctx)} at ${rt.now()}`);
      l1.unlock();
      ctx.fini();
    });
    rt.spawn('youngest', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l2.lock(ctx);
      await rt.sleep(10);
      l2.unlock();
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(log).toEqual(['mid got -35 at 2', 'old got 0 at 10']);
  });

  it('orders waiters by stamp: the oldest waiter gets the lock first', async () => {
    const { rt, cls, l1 } = setup();
    const order: string[] = [];
    const ctxs = new Map<string, WwAcquireCtx>();
    rt.spawn('a_old', async () => {
      ctxs.set('a_old', new WwAcquireCtx(rt, cls));
      await rt.sleep(2); // queues last
      await l1.lock(ctxs.get('a_old'));
      order.push('a_old');
      l1.unlock();
      ctxs.get('a_old')!.fini();
    });
    rt.spawn('b_young', async () => {
      ctxs.set('b_young', new WwAcquireCtx(rt, cls));
      await rt.sleep(1); // queues first
      await l1.lock(ctxs.get('b_young'));
      order.push('b_young');
      l1.unlock();
      ctxs.get('b_young')!.fini();
    });
    rt.spawn('holder', async () => {
      await l1.lock();
      await rt.sleep(5);
      l1.unlock();
    });
    await rt.runUntilIdle();
    expect(ctxs.get('a_old')!.stamp).toBeLessThan(ctxs.get('b_young')!.stamp);
    expect(order).toEqual(['a_old', 'b_young']);
  });

  it('without a context a ww_mutex is a plain sleeping lock; two nested without one are recursive locking', async () => {
    const { rt, l1, l2 } = setup('warn');
    await rt.run(async () => {
      expect(await l1.lock()).toBe(0);
      expect(l1.lockingCtx).toBeNull();
      await l2.lock();
      l2.unlock();
      l1.unlock();
    });
    expect(rt.reports.list.map((r) => r.message)).toEqual([expect.stringContaining('possible recursive locking detected')]);
  });

  it('many locks of the class under one context are not recursive locking (the context is the nest lock)', async () => {
    const { rt, cls, l1, l2, l3 } = setup();
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      for (const l of [l3, l1, l2]) expect(await l.lock(ctx)).toBe(0);
      expect(rt.current.held.map((h) => h.className)).toEqual([
        'reservation_ww_class_acquire',
        'reservation_ww_class',
        'reservation_ww_class',
        'reservation_ww_class',
      ]);
      ctx.done();
      for (const l of [l1, l2, l3]) l.unlock();
      ctx.fini();
      expect(rt.current.held).toEqual([]);
    });
    expect(rt.reports.list).toEqual([]);
  });

  it('trylock under a context sets the locking context and never returns -EDEADLK', async () => {
    const { rt, cls, l1 } = setup();
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      expect(l1.trylock(ctx)).toBe(true);
      expect(l1.lockingCtx).toBe(ctx);
      expect(ctx.acquired).toBe(1);
      expect(l1.trylock(ctx)).toBe(false);
      l1.unlock();
      expect(ctx.acquired).toBe(0);
      ctx.fini();
    });
  });

  it('lockInterruptible returns -EINTR when interrupted while waiting', async () => {
    const { rt, cls, l1 } = setup();
    const ac = new AbortController();
    let r: number | undefined;
    rt.spawn('holder', async () => {
      await l1.lock();
      await rt.sleep(5);
      l1.unlock();
    });
    rt.spawn('waiter', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      r = await l1.lockInterruptible(ctx, { signal: ac.signal });
      expect(ctx.acquired).toBe(0);
      ctx.fini();
    });
    rt.spawn('killer', async () => {
      await rt.sleep(2);
      ac.abort();
    });
    await rt.runUntilIdle();
    expect(r).toBe(-4);
    expect(l1.waiters).toBe(0);
  });

  it('reports lockSlow while the context still holds locks', async () => {
    const { rt, cls, l1, l2 } = setup('warn');
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await l2.lockSlow(ctx);
      l2.unlock();
      l1.unlock();
      ctx.fini();
    });
    expect(rt.reports.list.map((r) => r.message)).toEqual([expect.stringContaining('ww_mutex_lock_slow(bo2) while the context still holds 1 lock(s)')]);
  });

  it('reports taking a different lock after -EDEADLK without backing off', async () => {
    const { rt, cls, l1, l2, l3 } = setup('warn');
    rt.spawn('old', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      await rt.sleep(5);
      l1.unlock();
      ctx.fini();
    });
    rt.spawn('young', async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l2.lock(ctx);
      await rt.sleep(1);
      expect(await l1.lock(ctx)).toBe(-35);
      await l3.lock(ctx); // should have backed off first
      l3.unlock();
      l2.unlock();
      ctx.fini();
    });
    await rt.runUntilIdle();
    expect(rt.reports.list.map((r) => r.message)).toEqual([expect.stringContaining('ww_mutex_lock(bo3) after -EDEADLK on bo1')]);
  });

  it('reports a lock after ww_acquire_done() and a fini with locks held', async () => {
    const { rt, cls, l1, l2 } = setup('warn');
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, cls);
      await l1.lock(ctx);
      ctx.done();
      await l2.lock(ctx);
      ctx.fini();
      l2.unlock();
      l1.unlock();
      expect(() => ctx.fini()).toThrow(/EINVAL.*already finished/);
    });
    expect(rt.reports.list.map((r) => r.message)).toEqual([
      expect.stringContaining('after ww_acquire_done()'),
      expect.stringContaining('ww_acquire_fini() with 2 reservation_ww_class lock(s) still held'),
    ]);
  });

  it('rejects a context of another task or another class, and unlock by a non-owner, with no state change', async () => {
    const { rt, cls, l1 } = setup();
    const other = new WwClass('other_class');
    const foreign = new WwAcquireCtx(rt, cls); // made by the external frame
    await rt.run(async () => {
      await expect(l1.lock(foreign)).rejects.toThrow(/EINVAL.*used by one task/);
      const ctx = new WwAcquireCtx(rt, other);
      await expect(l1.lock(ctx)).rejects.toThrow(/EINVAL.*class other_class/);
      expect(() => l1.trylock(ctx)).toThrow(/EINVAL/);
      ctx.fini();
    });
    expect(l1.isLocked).toBe(false);
    foreign.fini();
    let err: unknown;
    rt.spawn('owner', async () => {
      await l1.lock();
      await rt.sleep(2);
      l1.unlock();
    });
    rt.spawn('thief', async () => {
      await rt.sleep(1);
      try {
        l1.unlock();
      } catch (e) {
        err = e;
      }
    });
    await rt.runUntilIdle();
    expect(isDepError(err, 'EPERM')).toBe(true);
    expect(l1.isLocked).toBe(false);
  });
});
