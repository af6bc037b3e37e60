import { describe, expect, it } from 'vitest';
import {
  DMA_FENCE_MAP,
  DepWarning,
  isDepError,
  isDepWarning,
  Mutex,
  Runtime,
  SpinLock,
  type Report,
} from './index.js';

const lockdepReports = (rt: Runtime): Report[] => rt.reports.list.filter((r) => r.kind === 'lockdep');

describe('lockdep: circular locking dependency', () => {
  it('reports an AB-BA order with both chains, naming both classes', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'lock_A');
    const b = new SpinLock(rt, 'lock_B');
    a.lock();
    b.lock();
    b.unlock();
    a.unlock();
    expect(lockdepReports(rt)).toEqual([]);
    b.lock();
    a.lock();
    a.unlock();
    b.unlock();
    const [r, ...rest] = lockdepReports(rt);
    expect(rest).toEqual([]);
    expect(r!.message).toContain('possible circular locking dependency detected');
    expect(r!.message).toContain('lock_A');
    expect(r!.message).toContain('lock_B');
    expect(r!.details).toContain('the existing dependency chain: lock_A -> lock_B');
    expect(r!.details.some((d) => d.startsWith('the new dependency: lock_B -> lock_A'))).toBe(true);
    // where the existing edge was first seen: task and call site
    expect(r!.details.some((d) => d.includes('lock_A -> lock_B: first seen external/') && d.includes('lockdep.test.ts'))).toBe(true);
  });

  it('reports the order once: the same inversion again is not a new report', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    for (let i = 0; i < 3; i++) {
      a.withLock(() => b.withLock(() => undefined));
      b.withLock(() => a.withLock(() => undefined));
    }
    expect(lockdepReports(rt)).toHaveLength(1);
  });

  it('finds a three-lock cycle through the graph and prints the whole existing chain', () => {
    const rt = new Runtime({ checks: 'warn' });
    const [a, b, c] = ['A', 'B', 'C'].map((n) => new SpinLock(rt, n)) as [SpinLock, SpinLock, SpinLock];
    a.withLock(() => b.withLock(() => undefined));
    b.withLock(() => c.withLock(() => undefined));
    expect(lockdepReports(rt)).toEqual([]);
    c.withLock(() => a.withLock(() => undefined));
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.details).toContain('the existing dependency chain: A -> B -> C');
    expect(r[0]!.details.some((d) => d.startsWith('the new dependency: C -> A'))).toBe(true);
    expect(rt.lockdep.dependsOn('A', 'C')).toBe(true);
  });

  it('reports an AB-BA between two tasks at the second acquisition, before the deadlock can happen', async () => {
    const rt = new Runtime();
    const a = new Mutex(rt, 'mA');
    const b = new Mutex(rt, 'mB');
    rt.spawn('t1', async () => {
      await a.lock();
      await b.lock();
      b.unlock();
      a.unlock();
    });
    const t2 = rt.spawn(
      't2',
      async () => {
        await rt.sleep(1);
        await b.lock();
        try {
          await a.lock();
        } finally {
          b.unlock();
        }
      },
      { joinable: true },
    );
    await rt.runUntilIdle();
    const err = await t2.join().catch((e: unknown) => e);
    expect(isDepWarning(err)).toBe(true);
    expect((err as DepWarning).report.message).toMatch(/circular locking dependency.*t2\/\d+ is trying to acquire mA while holding mB/);
    // the failed (strict) acquisition left nothing behind
    expect(a.isLocked).toBe(false);
    expect(t2.task.held).toEqual([]);
  });

  it('does not take a lock whose acquisition throws under strict: state is as before the call', () => {
    const rt = new Runtime();
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.withLock(() => b.withLock(() => undefined));
    b.lock();
    expect(() => a.lock()).toThrow(DepWarning);
    expect(a.isLocked).toBe(false);
    expect(rt.current.atomic).toBe(1);
    expect(rt.current.held.map((h) => h.className)).toEqual(['B']);
    b.unlock();
    expect(rt.current.atomic).toBe(0);
  });
});

describe('lockdep: recursive locking', () => {
  it('reports the same spinlock taken twice by one task and throws EDEADLK instead of spinning', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'A');
    a.lock();
    let err: unknown;
    try {
      a.lock();
    } catch (e) {
      err = e;
    }
    expect(isDepError(err, 'EDEADLK')).toBe(true);
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('possible recursive locking detected');
    expect(a.owner).toBe(rt.current);
    expect(rt.current.atomic).toBe(1);
    a.unlock();
  });

  it('reports two locks of one class nested without a subclass', () => {
    const rt = new Runtime({ checks: 'warn' });
    const x = new SpinLock(rt, '&obj->lock');
    const y = new SpinLock(rt, '&obj->lock');
    x.lock();
    y.lock();
    y.unlock();
    x.unlock();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toBe('possible recursive locking detected: external/1 is trying to acquire &obj->lock but already holds another &obj->lock lock');
  });

  it('accepts same-class nesting with a nesting subclass (spin_lock_nested), as a distinct class', () => {
    const rt = new Runtime();
    const x = new SpinLock(rt, '&obj->lock');
    const y = new SpinLock(rt, '&obj->lock');
    x.lock();
    y.lockNested(1);
    expect(rt.current.held.map((h) => h.className)).toEqual(['&obj->lock', '&obj->lock/1']);
    y.unlock();
    x.unlock();
    expect(rt.lockdep.dependsOn('&obj->lock', '&obj->lock/1')).toBe(true);
    expect(rt.reports.list).toEqual([]);
  });

  it('accepts same-class nesting under a held nest lock (mutex_lock_nest_lock), recording no edge', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const outer = {};
    const i1 = {};
    const i2 = {};
    ld.acquire(ld.classFor('nest_outer'), outer, { sleeping: true });
    ld.acquire(ld.classFor('inner'), i1, { sleeping: true, nestLock: outer });
    ld.acquire(ld.classFor('inner'), i2, { sleeping: true, nestLock: outer });
    expect(rt.current.held).toHaveLength(3);
    ld.release(i2);
    ld.release(i1);
    ld.release(outer);
    expect(rt.current.held).toHaveLength(0);
    expect(ld.dependsOn('inner', 'inner')).toBe(false);
  });

  it('allows recursive read acquisitions of one class', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const l = {};
    ld.acquire(ld.classFor('rcu_like'), l, { sleeping: false, read: 'recursive' });
    ld.acquire(ld.classFor('rcu_like'), l, { sleeping: false, read: 'recursive' });
    ld.release(l);
    ld.release(l);
    expect(rt.current.held).toEqual([]);
  });
});

describe('lockdep: irq state', () => {
  it('reports inconsistent lock state: taken in irq context and with irqs enabled in a task', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const l = new SpinLock(rt, 'dev_lock');
    rt.queueIrq(() => l.withLock(() => undefined));
    rt.spawn('task', () => l.withLock(() => undefined));
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('inconsistent lock state: dev_lock is HARDIRQ-safe and HARDIRQ-unsafe');
    expect(r[0]!.message).toContain('{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}');
    expect(r[0]!.details.some((d) => d.includes('irq/2 [irq]'))).toBe(true);
  });

  it('accepts a lock taken in irq context when tasks take it with lockIrqsave', async () => {
    const rt = new Runtime();
    const l = new SpinLock(rt, 'dev_lock');
    rt.queueIrq(() => l.withLock(() => undefined));
    rt.spawn('task', () => l.withLockIrqsave(() => undefined));
    await rt.runUntilIdle();
    expect(rt.reports.list).toEqual([]);
    expect(rt.lockdep.classFor('dev_lock').hardirqSafe).toBe(true);
    expect(rt.lockdep.classFor('dev_lock').hardirqUnsafe).toBe(false);
  });

  it('reports a HARDIRQ-safe -> HARDIRQ-unsafe lock order when the edge appears', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const safe = new SpinLock(rt, 'irq_safe');
    const unsafe = new SpinLock(rt, 'irq_unsafe');
    rt.queueIrq(() => safe.withLock(() => undefined));
    rt.spawn('t', async () => {
      unsafe.withLock(() => undefined); // irqs on: HARDIRQ-unsafe
      await rt.sleep(1);
      safe.withLockIrqsave(() => unsafe.withLock(() => undefined)); // edge safe -> unsafe
    });
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toBe('HARDIRQ-safe -> HARDIRQ-unsafe lock order detected: irq_safe (HARDIRQ-safe) -> irq_unsafe (HARDIRQ-unsafe)');
    expect(r[0]!.details[0]).toBe('dependency chain: irq_safe -> irq_unsafe');
  });

  it('reports the inversion when a class becomes irq-safe after the order was recorded', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const outer = new SpinLock(rt, 'outer');
    const mid = new SpinLock(rt, 'mid');
    const inner = new SpinLock(rt, 'inner');
    rt.spawn('t', async () => {
      outer.withLockIrqsave(() => mid.withLock(() => undefined));
      mid.withLockIrqsave(() => inner.withLock(() => undefined));
      inner.withLock(() => undefined); // irqs on
      await rt.sleep(1);
      rt.queueIrq(() => outer.withLock(() => undefined)); // outer becomes HARDIRQ-safe
    });
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('possible irq lock inversion dependency detected');
    expect(r[0]!.message).toContain('outer (HARDIRQ-safe) -> inner (HARDIRQ-unsafe)');
    expect(r[0]!.details[0]).toBe('dependency chain: outer -> mid -> inner');
  });

  it('marks locks still held when irqs are restored as HARDIRQ-unsafe', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    rt.queueIrq(() => b.withLock(() => undefined)); // B is HARDIRQ-safe
    rt.spawn('t', () => {
      a.lockIrqsave();
      b.lock(); // irqs off: fine so far
      expect(lockdepReports(rt)).toEqual([]);
      a.unlockIrqrestore(); // irqs back on with B held
      b.unlock();
    });
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('inconsistent lock state: B');
  });

  it('reports a SOFTIRQ inconsistency: a lock taken in a timer and with softirqs enabled', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const l = new SpinLock(rt, 'tl');
    rt.spawn('t', () => l.withLock(() => undefined));
    await rt.runUntilIdle();
    rt.executor.schedule(1, rt.timerFrame, () => l.withLock(() => undefined), null, false);
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('tl is SOFTIRQ-safe and SOFTIRQ-unsafe');
  });
});

describe('lockdep: dma-fence signalling annotation', () => {
  it('reports a wait inside a fence signalling section (mightWait after beginSignalling)', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const cookie = ld.beginSignalling();
    expect(cookie).toBe(false);
    expect(rt.current.signalling).toBe(1);
    expect(rt.current.held.map((h) => h.className)).toEqual([DMA_FENCE_MAP]);
    ld.mightWait('dma_fence_wait(fence 3:1)');
    ld.endSignalling(cookie);
    expect(rt.current.signalling).toBe(0);
    expect(rt.current.held).toEqual([]);
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toBe('wait inside a fence signalling section: dma_fence_wait(fence 3:1)');
    ld.mightWait('outside');
    expect(lockdepReports(rt)).toHaveLength(1);
  });

  it('nests with a cookie: only the outermost section holds dma_fence_map', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const c1 = ld.beginSignalling();
    const c2 = ld.beginSignalling();
    expect([c1, c2]).toEqual([false, true]);
    expect(rt.current.signalling).toBe(2);
    expect(rt.current.held).toHaveLength(1);
    ld.endSignalling(c2);
    expect(ld.inSignallingSection()).toBe(true);
    expect(rt.current.held).toHaveLength(1);
    ld.endSignalling(c1);
    expect(ld.inSignallingSection()).toBe(false);
    expect(rt.current.held).toHaveLength(0);
    expect(rt.reports.list).toEqual([]);
  });

  it('in atomic context a section acquires nothing (cookie true), like the kernel', () => {
    const rt = new Runtime();
    const l = new SpinLock(rt, 'f');
    l.lock();
    const c = rt.lockdep.beginSignalling();
    expect(c).toBe(true);
    expect(rt.current.held.map((h) => h.className)).toEqual(['f']);
    rt.lockdep.endSignalling(c);
    l.unlock();
    expect(rt.current.signalling).toBe(0);
  });

  it('reports taking a primed-later lock (dma_resv) inside a signalling section after prime()', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    ld.prime(['mmap_lock', 'dma_resv', 'fs_reclaim', DMA_FENCE_MAP]);
    expect(ld.dependsOn('dma_resv', DMA_FENCE_MAP)).toBe(true);
    const resv = new SpinLock(rt, 'dma_resv');
    const cookie = ld.beginSignalling();
    resv.lock();
    resv.unlock();
    ld.endSignalling(cookie);
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain(`trying to acquire dma_resv while holding ${DMA_FENCE_MAP}`);
    expect(r[0]!.details).toContain(`the existing dependency chain: dma_resv -> fs_reclaim -> ${DMA_FENCE_MAP}`);
    expect(r[0]!.details.some((d) => d.includes('primed at boot'))).toBe(true);
  });

  it('accepts the legal order: a signalling section begun under a resv lock', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    ld.prime(['mmap_lock', 'dma_resv', 'fs_reclaim', DMA_FENCE_MAP]);
    const resv = new SpinLock(rt, 'dma_resv');
    resv.lock();
    const cookie = ld.beginSignalling();
    ld.endSignalling(cookie);
    ld.mightWait('dma_resv_wait_timeout');
    resv.unlock();
    expect(rt.reports.list).toEqual([]);
  });

  it('finds the kernel way: a lock held while waiting, then taken inside a signalling section', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const m = new Mutex(rt, 'driver_lock');
    rt.spawn('waiter', async () => {
      await m.lock();
      ld.mightWait('dma_fence_wait');
      m.unlock();
    });
    rt.spawn('signaller', async () => {
      await rt.sleep(1);
      const c = ld.beginSignalling();
      await m.lock();
      m.unlock();
      ld.endSignalling(c);
    });
    await rt.runUntilIdle();
    const r = lockdepReports(rt);
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain(`signaller/`);
    expect(r[0]!.details).toContain(`the existing dependency chain: driver_lock -> ${DMA_FENCE_MAP}`);
  });

  it('is not fooled by the read side: a lock taken inside sections and around them, without waits', async () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const a = new Mutex(rt, 'A');
    await rt.run(async () => {
      let c = ld.beginSignalling();
      await a.lock(); // dma_fence_map -> A
      a.unlock();
      ld.endSignalling(c);
      await a.lock();
      c = ld.beginSignalling(); // a read trylock: no A -> dma_fence_map edge
      ld.endSignalling(c);
      a.unlock();
    });
    expect(rt.reports.list).toEqual([]);
    expect(ld.dependsOn(DMA_FENCE_MAP, 'A')).toBe(true);
    expect(ld.dependsOn('A', DMA_FENCE_MAP)).toBe(false);
  });

  it('reports an unbalanced endSignalling and rejects a non-boolean cookie', () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.lockdep.endSignalling(false);
    expect(lockdepReports(rt)[0]!.message).toContain('without dma_fence_begin_signalling()');
    expect(() => rt.lockdep.endSignalling(0 as unknown as boolean)).toThrow(/EINVAL/);
    expect(rt.current.signalling).toBe(0);
  });
});

describe('lockdep: atomic context', () => {
  it('reports a spinlock held across an await (scheduling while atomic)', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const l = new SpinLock(rt, 'held_across');
    rt.spawn('t', async () => {
      l.lock();
      await rt.sleep(1); // the hop ends with preempt_count 1
      l.unlock();
    });
    await rt.runUntilIdle();
    const r = rt.reports.list.filter((x) => x.kind === 'context');
    expect(r.map((x) => x.message)).toEqual([
      'BUG: sleeping function called from invalid context: msleep',
      expect.stringMatching(/^BUG: scheduling while atomic: t\/\d+ awaited with a spinlock held \(preempt_count 1\)$/),
    ]);
    expect(r[1]!.details).toContain('held: held_across');
    expect(l.isLocked).toBe(false);
  });

  it('the strict runtime fails the run at the await with the spinlock held', async () => {
    const rt = new Runtime();
    const l = new SpinLock(rt, 'held_across');
    rt.spawn('t', async () => {
      l.lock();
      await rt.sleep(1);
    });
    await expect(rt.runUntilIdle()).rejects.toThrow(/sleeping function called from invalid context|scheduling while atomic/);
  });

  it('a task taking a spinlock that a task holding it across an await never released gets EDEADLK', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const l = new SpinLock(rt, 'S');
    rt.spawn('holder', async () => {
      l.lock();
      await rt.sleep(5);
      l.unlock();
    });
    const other = rt.spawn(
      'other',
      async () => {
        await rt.sleep(1);
        l.lock();
      },
      { joinable: true },
    );
    await rt.runUntilIdle();
    const err = await other.join().catch((e: unknown) => e);
    expect(isDepError(err, 'EDEADLK')).toBe(true);
    expect(lockdepReports(rt).some((r) => r.message.startsWith('BUG: spinlock lockup suspected: S is held by holder/'))).toBe(true);
    expect(l.isLocked).toBe(false);
  });

  it('reports sleeping (a mutex lock) under a spinlock', async () => {
    const rt = new Runtime();
    const s = new SpinLock(rt, 'spin');
    const m = new Mutex(rt, 'mtx');
    const t = rt.spawn(
      't',
      async () => {
        s.lock();
        try {
          await m.lock();
        } finally {
          s.unlock();
        }
      },
      { joinable: true },
    );
    await rt.runUntilIdle();
    const err = await t.join().catch((e: unknown) => e);
    expect(isDepWarning(err)).toBe(true);
    const rep = (err as DepWarning).report;
    expect(rep.kind).toBe('context');
    expect(rep.message).toBe('BUG: sleeping function called from invalid context: mutex_lock(mtx)');
    expect(rep.details).toContain('  held: spin (spinning)');
    expect(m.isLocked).toBe(false);
  });
});

describe('lockdep: check levels', () => {
  it("checks 'off' records nothing: no held list, no graph, no reports", () => {
    const rt = new Runtime({ checks: 'off' });
    const ld = rt.lockdep;
    expect(ld.enabled).toBe(false);
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.withLock(() => b.withLock(() => undefined));
    b.lock();
    expect(rt.current.held).toEqual([]);
    expect(rt.current.atomic).toBe(1);
    a.withLock(() => undefined);
    b.unlock();
    const c = ld.beginSignalling();
    expect(c).toBe(true);
    expect(rt.current.signalling).toBe(0);
    ld.mightWait('x');
    ld.endSignalling(c);
    ld.prime(['x', 'y']);
    expect(ld.dependencies()).toEqual([]);
    expect(rt.reports.list).toEqual([]);
    expect(ld.isHeld(a)).toBe(true); // lockdep_is_held without lockdep: assume held
  });

  it("checks 'warn' records a report without throwing", () => {
    const rt = new Runtime({ checks: 'warn' });
    const x = new SpinLock(rt, 'same');
    const y = new SpinLock(rt, 'same');
    x.lock();
    expect(() => y.lock()).not.toThrow();
    y.unlock();
    x.unlock();
    expect(rt.reports.count('lockdep')).toBe(1);
  });

  it("checks 'strict' throws DepWarning, and capture() collects instead", () => {
    const rt = new Runtime({ checks: 'strict' });
    const x = new SpinLock(rt, 'same');
    const y = new SpinLock(rt, 'same');
    x.lock();
    expect(() => y.lock()).toThrow(DepWarning);
    expect(y.isLocked).toBe(false);
    const { reports } = rt.reports.capture(() => {
      y.lock();
      y.unlock();
    });
    x.unlock();
    expect(reports.map((r) => r.kind)).toEqual(['lockdep']);
    expect(reports[0]!.message).toContain('possible recursive locking detected');
  });

  it('reset() forgets the graph and the irq usage', () => {
    const rt = new Runtime({ checks: 'warn' });
    const a = new SpinLock(rt, 'A');
    const b = new SpinLock(rt, 'B');
    a.withLock(() => b.withLock(() => undefined));
    expect(rt.lockdep.dependencies().map((d) => `${d.from.name}->${d.to.name}:${d.kinds.join()}`)).toEqual(['A->B:EN']);
    rt.lockdep.reset();
    expect(rt.lockdep.dependencies()).toEqual([]);
    b.withLock(() => a.withLock(() => undefined));
    expect(rt.reports.list).toEqual([]);
  });
});

describe('lockdep: assertions and bad input', () => {
  it('assertHeld reports when the current task does not hold the lock, and passes when it does', () => {
    const rt = new Runtime();
    const l = new SpinLock(rt, 'L');
    expect(() => l.assertHeld()).toThrow(/lockdep_assert_held failed: spinlock L is not held by external\/1/);
    l.withLock(() => l.assertHeld());
    expect(rt.lockdep.isHeld(l)).toBe(false);
  });

  it('reports a release of a lock that is not held (bad unlock balance)', () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.lockdep.release({ name: 'ghost' });
    expect(lockdepReports(rt)[0]!.message).toContain('bad unlock balance detected');
  });

  it('rejects bad arguments with EINVAL and records nothing', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const cls = ld.classFor('C');
    expect(() => ld.classFor('')).toThrow(/EINVAL/);
    expect(() => ld.acquire(cls, null as unknown as object, { sleeping: true })).toThrow(/EINVAL/);
    expect(() => ld.acquire(cls, {}, {} as unknown as { sleeping: boolean })).toThrow(/EINVAL/);
    expect(() => ld.acquire(cls, {}, { sleeping: true, subclass: 8 })).toThrow(/EINVAL/);
    expect(() => ld.acquire(new Runtime().lockdep.classFor('C'), {}, { sleeping: true })).toThrow(/EINVAL/);
    expect(() => ld.prime(['a', 3 as unknown as string])).toThrow(/EINVAL/);
    expect(() => new SpinLock(rt, 'X').lockNested(9)).toThrow(/EINVAL/);
    expect(rt.current.held).toEqual([]);
    expect(rt.current.atomic).toBe(0);
  });
});
