import { describe, expect, it } from 'vitest';
import {
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  fsReclaimAcquire,
  fsReclaimRelease,
  isDepError,
  isDepWarning,
  Runtime,
  Work,
  Workqueue,
  type Gfp,
} from './index.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('allocation checks', () => {
  it('a blocking allocation inside a fence-signalling section is a lockdep report', () => {
    const rt = new Runtime({ checks: 'warn' });
    for (const gfp of [GFP_KERNEL, GFP_NOFS, GFP_NOIO]) {
      rt.current.signalling++;
      const { reports } = rt.reports.capture(() => rt.alloc(gfp, 'dma_fence_array_alloc'));
      rt.current.signalling--;
      expect(reports).toHaveLength(1);
      expect(reports[0]!.kind).toBe('lockdep');
      expect(reports[0]!.message).toBe(
        `allocation with ${gfp} inside a dma-fence signalling section: may recurse into reclaim that waits on this fence`,
      );
      expect(reports[0]!.details[0]).toBe('site: dma_fence_array_alloc');
    }
  });

  it('throws under checks strict, at the allocation', () => {
    const rt = new Runtime();
    rt.current.signalling++;
    const e = errorOf(() => rt.alloc(GFP_KERNEL, 'run_job'));
    expect(isDepWarning(e)).toBe(true);
  });

  it('GFP_ATOMIC and GFP_NOWAIT are legal in a signalling section and in irq context', async () => {
    const rt = new Runtime();
    rt.current.signalling++;
    rt.alloc(GFP_ATOMIC, 'a');
    rt.alloc(GFP_NOWAIT, 'b');
    rt.current.signalling--;
    let ok = false;
    rt.queueIrq(() => {
      rt.alloc(GFP_ATOMIC, 'irq');
      ok = true;
    });
    await rt.runUntilIdle();
    expect(ok).toBe(true);
    expect(rt.reports.count()).toBe(0);
  });

  it('a GFP_KERNEL allocation in atomic context is "sleeping function called from invalid context"', async () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.queueIrq(() => rt.alloc(GFP_KERNEL, 'irq_alloc'));
    await rt.runUntilIdle();
    expect(rt.reports.list.map((r) => r.kind)).toEqual(['context']);
    expect(rt.reports.list[0]!.message).toContain('sleeping function called from invalid context');
    expect(rt.reports.list[0]!.message).toContain('irq_alloc');
  });

  it('a blocking allocation on a WQ_MEM_RECLAIM worker is a report; on a plain worker it is not', async () => {
    const rt = new Runtime({ checks: 'warn' });
    const reclaim = new Workqueue(rt, 'submit', { memReclaim: true });
    const plain = new Workqueue(rt, 'events');
    const gfps: Gfp[] = [GFP_KERNEL, GFP_ATOMIC, GFP_NOWAIT];
    for (const gfp of gfps) {
      reclaim.queueWork(new Work(() => rt.alloc(gfp, `reclaim_${gfp}`)));
      plain.queueWork(new Work(() => rt.alloc(gfp, `plain_${gfp}`)));
    }
    await rt.runUntilIdle();
    const r = rt.reports.list;
    expect(r).toHaveLength(1);
    expect(r[0]!.kind).toBe('lockdep');
    expect(r[0]!.message).toContain('WQ_MEM_RECLAIM');
    expect(r[0]!.details[0]).toBe('site: reclaim_GFP_KERNEL');
    expect(r[0]!.task).toBe('kworker/submit:0');
  });

  it('rejects unknown gfp flags and empty sites with EINVAL; checks off skips all of it', () => {
    const rt = new Runtime();
    expect(isDepError(errorOf(() => rt.alloc('GFP_USER' as Gfp, 'x')), 'EINVAL')).toBe(true);
    expect(isDepError(errorOf(() => rt.alloc(GFP_KERNEL, '')), 'EINVAL')).toBe(true);
    expect(rt.faults.calls()).toBe(0); // a rejected call is not counted
    const off = new Runtime({ checks: 'off' });
    off.current.signalling++;
    off.alloc(GFP_KERNEL, 'anything');
    expect(off.reports.count()).toBe(0);
  });
});

describe('allocation and lockdep', () => {
  it('a blocking allocation records held locks → fs_reclaim; GFP_ATOMIC does not', () => {
    const rt = new Runtime();
    const ld = rt.lockdep;
    const a = { name: 'a' };
    const b = { name: 'b' };
    ld.acquire(ld.classFor('lock_a'), a, { sleeping: true });
    rt.alloc(GFP_KERNEL, 'under_a');
    ld.release(a);
    ld.acquire(ld.classFor('lock_b'), b, { sleeping: true });
    rt.alloc(GFP_ATOMIC, 'under_b');
    ld.release(b);
    expect(ld.dependsOn('lock_a', 'fs_reclaim')).toBe(true);
    expect(ld.dependsOn('lock_b', 'fs_reclaim')).toBe(false);
    expect(rt.current.held).toHaveLength(0);
  });

  it('allocating under a lock that a signalling section takes closes a cycle through fs_reclaim', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    ld.prime(['mmap_lock', 'dma_resv', 'fs_reclaim', 'dma_fence_map']);
    const cls = ld.classFor('driver_lock');
    const lock = { name: 'driver_lock' };
    ld.acquire(cls, lock, { sleeping: true });
    rt.alloc(GFP_KERNEL, 'job_init');
    ld.release(lock);
    expect(rt.reports.count()).toBe(0);
    const cookie = ld.beginSignalling();
    ld.acquire(cls, lock, { sleeping: true });
    ld.release(lock);
    ld.endSignalling(cookie);
    const r = rt.reports.list;
    expect(r).toHaveLength(1);
    expect(r[0]!.message).toContain('possible circular locking dependency detected');
    expect(r[0]!.message).toContain('fs_reclaim');
  });
});

describe('fs_reclaim priming', () => {
  it('a lock taken under fsReclaimAcquire (a shrinker) makes a later allocation under it a cycle', () => {
    const rt = new Runtime({ checks: 'warn' });
    const ld = rt.lockdep;
    const cls = ld.classFor('shrinker_lock');
    const lock = { name: 'shrinker_lock' };
    fsReclaimAcquire(rt);
    ld.acquire(cls, lock, { sleeping: true });
    ld.release(lock);
    fsReclaimRelease(rt);
    expect(ld.dependsOn('fs_reclaim', 'shrinker_lock')).toBe(true);
    expect(rt.current.held).toHaveLength(0);
    ld.acquire(cls, lock, { sleeping: true });
    rt.alloc(GFP_KERNEL, 'under_shrinker_lock');
    ld.release(lock);
    expect(rt.reports.list.map((r) => r.kind)).toEqual(['lockdep']);
    expect(rt.reports.list[0]!.message).toContain('possible circular locking dependency detected');
  });
});

describe('fault injection', () => {
  it('fails allocations by site (string or RegExp) until the rule is removed', () => {
    const rt = new Runtime();
    const rule = rt.faults.failAlloc({ site: 'job_init' });
    const e = errorOf(() => rt.alloc(GFP_KERNEL, 'job_init'));
    expect(isDepError(e, 'ENOMEM')).toBe(true);
    expect((e as { errno: number }).errno).toBe(-12);
    expect(errorOf(() => rt.alloc(GFP_KERNEL, 'job_add_dependency'))).toBeUndefined();
    expect(rt.tryAlloc(GFP_KERNEL, 'job_init')).toBe(false);
    rule.remove();
    expect(rt.tryAlloc(GFP_KERNEL, 'job_init')).toBe(true);

    rt.faults.failAlloc({ site: /^fence_/ });
    expect(rt.tryAlloc(GFP_ATOMIC, 'fence_array')).toBe(false);
    expect(rt.tryAlloc(GFP_ATOMIC, 'fence_chain')).toBe(false);
    expect(rt.tryAlloc(GFP_ATOMIC, 'resv_list')).toBe(true);
  });

  it('fails the nth call, globally or per site', () => {
    const rt = new Runtime();
    rt.faults.failAlloc({ nth: 3 });
    const global = Array.from({ length: 5 }, (_, i) => rt.tryAlloc(GFP_KERNEL, i % 2 === 0 ? 'a' : 'b'));
    expect(global).toEqual([true, true, false, true, true]);

    rt.faults.clear();
    rt.faults.failAlloc({ site: 'b', nth: 2 });
    const perSite = ['a', 'b', 'a', 'a', 'b', 'b'].map((s) => rt.tryAlloc(GFP_KERNEL, s));
    expect(perSite).toEqual([true, true, true, true, false, true]);

    rt.faults.clear();
    rt.faults.failAlloc({ nth: 2, times: Infinity });
    expect([1, 2, 3, 4].map(() => rt.tryAlloc(GFP_KERNEL, 'x'))).toEqual([true, false, false, false]);

    rt.faults.clear();
    rt.faults.failAlloc({ site: 'y', times: 2 });
    expect([1, 2, 3].map(() => rt.tryAlloc(GFP_KERNEL, 'y'))).toEqual([false, false, true]);
    expect(rt.faults.rules[0]!.retired).toBe(true);
  });

  it('a seeded probability replays from the seed', () => {
    const pattern = (seed: number): boolean[] => {
      const rt = new Runtime({ seed });
      rt.faults.failAlloc({ probability: 0.3 });
      return Array.from({ length: 200 }, () => rt.tryAlloc(GFP_KERNEL, 'p'));
    };
    const a = pattern(42);
    const b = pattern(42);
    const c = pattern(43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const failures = a.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(30);
    expect(failures).toBeLessThan(90);
  });

  it('counts calls per site and lists injected failures', async () => {
    const rt = new Runtime();
    rt.faults.failAlloc({ site: 'b', nth: 2 });
    await rt.run(() => {
      for (const s of ['a', 'b', 'a', 'b', 'c']) rt.tryAlloc(GFP_KERNEL, s);
    });
    expect(rt.faults.calls('a')).toBe(2);
    expect(rt.faults.calls('b')).toBe(2);
    expect(rt.faults.calls()).toBe(5);
    expect([...rt.faults.sites().keys()]).toEqual(['a', 'b', 'c']);
    expect(rt.faults.injected).toEqual([{ kind: 'alloc', site: 'b', call: 2, time: 0, task: expect.stringMatching(/^main\//) as string }]);
    rt.faults.clear();
    expect(rt.faults.calls()).toBe(0);
    expect(rt.faults.injected).toEqual([]);
  });

  it('a failed allocation changes nothing: a workqueue that fails to allocate does not exist', () => {
    const rt = new Runtime({ checks: 'warn' });
    rt.faults.failAlloc({ site: 'alloc_workqueue', nth: 1 });
    const e = errorOf(() => new Workqueue(rt, 'doomed'));
    expect(isDepError(e, 'ENOMEM')).toBe(true);
    expect(rt.lifetimes.liveCount).toBe(0);
    expect(rt.shutdown()).toEqual([]);
  });

  it('the same object serves other fault kinds for later layers', () => {
    const rt = new Runtime();
    rt.faults.add('hang', { site: 'ring:rcs0', nth: 2 });
    expect(rt.faults.should('hang', 'ring:rcs0')).toBe(false);
    expect(rt.faults.should('hang', 'ring:bcs0')).toBe(false);
    expect(rt.faults.should('hang', 'ring:rcs0')).toBe(true);
    expect(rt.faults.should('hang', 'ring:rcs0')).toBe(false);
    expect(rt.tryAlloc(GFP_KERNEL, 'ring:rcs0')).toBe(true); // kinds do not mix
    expect(rt.faults.calls('ring:rcs0', 'hang')).toBe(3);
  });

  it('rejects malformed rules with EINVAL and adds nothing', () => {
    const rt = new Runtime();
    for (const spec of [{ nth: 0 }, { nth: 1.5 }, { probability: 2 }, { probability: -0.1 }, { times: 0 }, { site: 3 as unknown as string }]) {
      expect(isDepError(errorOf(() => rt.faults.failAlloc(spec)), 'EINVAL')).toBe(true);
    }
    expect(isDepError(errorOf(() => rt.faults.add('', {})), 'EINVAL')).toBe(true);
    expect(rt.faults.rules).toHaveLength(0);
  });

  it('with checks off, calls are counted only while a rule is installed', () => {
    const rt = new Runtime({ checks: 'off' });
    rt.alloc(GFP_KERNEL, 'x');
    expect(rt.faults.calls()).toBe(0);
    const rule = rt.faults.failAlloc({ site: 'x', nth: 2 });
    expect(rt.tryAlloc(GFP_KERNEL, 'x')).toBe(true);
    expect(rt.tryAlloc(GFP_KERNEL, 'x')).toBe(false);
    expect(rt.faults.calls('x')).toBe(2);
    rule.remove();
    rt.alloc(GFP_KERNEL, 'x');
    expect(rt.faults.calls('x')).toBe(2);
  });
});
