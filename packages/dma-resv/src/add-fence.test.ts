// Rules of the writer side: usages as a ceiling, add_fence replacement (same context,
// later-or-same, usage not weaker; signalled slots), references, containers, INACTIVE,
// reservations, replace_fences, describe — each with a case that could fail.
import { DmaFence, DmaFenceArray, contextAlloc } from '@dep/dma-fence';
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence, selftestOps } from './__fixtures__/fences.js';
import type { Fence } from '@dep/dma-fence';
import { DmaResv, DmaResvUsage, enablePreemptUsage, preemptUsageEnabled, usageName, usageRw } from './index.js';

const { KERNEL, WRITE, READ, BOOKKEEP, PREEMPT } = DmaResvUsage;

/** Run `fn` as a task holding a fresh resv with `reserve` slots. */
async function withResv(fn: (rt: Runtime, resv: DmaResv) => void | Promise<void>, reserve = 8, rt = new Runtime()): Promise<Runtime> {
  await rt.run(async () => {
    const resv = new DmaResv({ runtime: rt });
    expect(await resv.lock()).toBe(0);
    if (reserve > 0) expect(resv.reserveFences(reserve)).toBe(0);
    try {
      await fn(rt, resv);
    } finally {
      if (resv.owner === rt.current) resv.unlock();
    }
  });
  return rt;
}

function locked(resv: DmaResv, usage: DmaResvUsage): Array<[Fence, DmaResvUsage]> {
  const out: Array<[Fence, DmaResvUsage]> = [];
  const c = resv.iterBegin(usage);
  for (const f of c.locked()) out.push([f, c.usage]);
  return out;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('usages', () => {
  it('a query is a ceiling: a lower-usage fence shows in every higher-usage query', async () => {
    await withResv((rt, resv) => {
      const k = freshFence(rt);
      const w = freshFence(rt);
      const r = freshFence(rt);
      const b = freshFence(rt);
      resv.addFence(b, BOOKKEEP);
      resv.addFence(r, READ);
      resv.addFence(w, WRITE);
      resv.addFence(k, KERNEL);
      const names = (u: DmaResvUsage) => locked(resv, u).map(([, fu]) => usageName(fu)).sort();
      expect(names(KERNEL)).toEqual(['kernel']);
      expect(names(WRITE)).toEqual(['kernel', 'write']);
      expect(names(READ)).toEqual(['kernel', 'read', 'write']);
      expect(names(BOOKKEEP)).toEqual(['bookkeep', 'kernel', 'read', 'write']);
      // the same through the unlocked side (after the unlock: the snapshot allocates,
      // which the signalling section begun by addFence forbids)
      resv.unlock();
      expect(resv.getFences(WRITE).map((f) => (f.put(), f))).toEqual([w, k]);
      expect(resv.testSignaled(KERNEL)).toBe(false);
      k.signal();
      expect(resv.testSignaled(KERNEL)).toBe(true);
      expect(resv.testSignaled(WRITE)).toBe(false);
    });
  });

  it('usageRw: a writer waits for READ (readers and writers), a reader for WRITE only', () => {
    expect(usageRw(true)).toBe(READ);
    expect(usageRw(false)).toBe(WRITE);
    expect(() => usageRw(1 as unknown as boolean)).toThrow(/EINVAL/);
  });

  it('PREEMPT needs the option: per resv, or per runtime with enablePreemptUsage', async () => {
    await withResv((rt, resv) => {
      expect(resv.preemptEnabled).toBe(false);
      const f = freshFence(rt);
      const e = catchError(() => resv.addFence(f, PREEMPT));
      expect(isDepError(e, 'EINVAL')).toBe(true);
      expect(resv.numFences).toBe(0);
      expect(f.refcount).toBe(1);
      expect(new DmaResv({ runtime: rt, preempt: true }).preemptEnabled).toBe(true);
      expect(preemptUsageEnabled(rt)).toBe(false);
      enablePreemptUsage(rt);
      expect(new DmaResv({ runtime: rt }).preemptEnabled).toBe(true);
      expect(new DmaResv({ runtime: rt, preempt: false }).preemptEnabled).toBe(false);
      enablePreemptUsage(rt, false);
      expect(new DmaResv({ runtime: rt }).preemptEnabled).toBe(false);
      // querying PREEMPT is always valid: without preempt fences it is BOOKKEEP
      resv.addFence(f, BOOKKEEP);
      expect(locked(resv, PREEMPT).map(([x]) => x)).toEqual([f]);
    });
  });
});

describe('dma_resv_add_fence', () => {
  it('takes a reference, and fini puts it', async () => {
    await withResv((rt, resv) => {
      const f = freshFence(rt);
      resv.addFence(f, WRITE);
      expect(f.refcount).toBe(2);
      resv.unlock();
      resv.fini();
      expect(f.refcount).toBe(1);
    });
  });

  it('replaces an entry of the same context with a later fence of the same usage', async () => {
    await withResv((rt, resv) => {
      const ctx = contextAlloc(1, rt);
      const f1 = new DmaFence(selftestOps, ctx, 1n, { runtime: rt });
      const f2 = new DmaFence(selftestOps, ctx, 2n, { runtime: rt });
      resv.addFence(f1, WRITE);
      resv.addFence(f2, WRITE);
      expect(resv.numFences).toBe(1);
      expect(locked(resv, BOOKKEEP)).toEqual([[f2, WRITE]]);
      expect(f1.refcount, 'the replaced fence was put').toBe(1);
      expect(f2.refcount).toBe(2);
    });
  });

  it('adding the same fence again takes no new slot (later-or-same)', async () => {
    await withResv(
      (rt, resv) => {
        const f = freshFence(rt);
        resv.addFence(f, READ);
        resv.addFence(f, READ);
        resv.addFence(f, READ);
        expect(resv.numFences).toBe(1);
        expect(f.refcount).toBe(2);
      },
      1,
    );
  });

  it('promotes: the same fence added with a stronger usage replaces its entry', async () => {
    await withResv((rt, resv) => {
      const f = freshFence(rt);
      resv.addFence(f, BOOKKEEP);
      resv.addFence(f, KERNEL);
      expect(locked(resv, BOOKKEEP)).toEqual([[f, KERNEL]]);
      expect(locked(resv, KERNEL).length).toBe(1);
    });
  });

  it('refuses to weaken: a later fence of the same context with a weaker usage gets its own slot', async () => {
    await withResv((rt, resv) => {
      const ctx = contextAlloc(1, rt);
      const w = new DmaFence(selftestOps, ctx, 1n, { runtime: rt });
      const r = new DmaFence(selftestOps, ctx, 2n, { runtime: rt });
      resv.addFence(w, WRITE);
      resv.addFence(r, READ);
      expect(resv.numFences).toBe(2);
      expect(locked(resv, WRITE)).toEqual([[w, WRITE]]);
      expect(locked(resv, READ)).toEqual([
        [w, WRITE],
        [r, READ],
      ]);
      expect(w.refcount, 'the WRITE fence is still held').toBe(2);
    });
  });

  it('an older fence of the same context does not replace a later one', async () => {
    await withResv((rt, resv) => {
      const ctx = contextAlloc(1, rt);
      const late = new DmaFence(selftestOps, ctx, 5n, { runtime: rt });
      const early = new DmaFence(selftestOps, ctx, 3n, { runtime: rt });
      resv.addFence(late, WRITE);
      resv.addFence(early, WRITE);
      expect(resv.numFences).toBe(2);
      expect(locked(resv, WRITE).map(([f]) => f)).toEqual([late, early]);
    });
  });

  it('reuses the slot of a signalled fence, whatever its context and usage', async () => {
    await withResv(
      (rt, resv) => {
        const old = freshFence(rt);
        resv.addFence(old, KERNEL);
        for (let i = 0; i < 3; i++) resv.addFence(freshFence(rt), READ);
        old.signal();
        const f = freshFence(rt);
        resv.addFence(f, BOOKKEEP); // no slot left: works only by reusing old's
        expect(resv.numFences).toBe(4);
        expect(locked(resv, BOOKKEEP)[0]).toEqual([f, BOOKKEEP]);
        expect(old.refcount).toBe(1);
      },
      1,
    );
  });

  it('no reserved slot left: the kernel BUG, as a WARN and DepError ENOSPC, nothing changed', async () => {
    await withResv(
      (rt, resv) => {
        expect(resv.maxFences, 'the first reservation rounds up to 4').toBe(4);
        for (let i = 0; i < 4; i++) resv.addFence(freshFence(rt), READ);
        const f = freshFence(rt);
        const { result, reports } = rt.reports.capture(() => catchError(() => resv.addFence(f, READ)));
        expect(isDepError(result, 'ENOSPC')).toBe(true);
        expect(reports.map((r) => r.kind)).toEqual(['warn']);
        expect(reports[0]!.message).toMatch(/BUG.*no reserved slot/);
        expect(resv.numFences).toBe(4);
        expect(f.refcount).toBe(1);
      },
      1,
    );
  });

  it('never reserved: ENOSPC too', async () => {
    await withResv(
      (rt, resv) => {
        const { result } = rt.reports.capture(() => catchError(() => resv.addFence(freshFence(rt), READ)));
        expect(isDepError(result, 'ENOSPC')).toBe(true);
        expect(resv.numFences).toBe(0);
      },
      0,
    );
  });

  it('rejects containers with a WARN and EINVAL, nothing changed', async () => {
    await withResv((rt, resv) => {
      const a = freshFence(rt);
      const b = freshFence(rt);
      const array = DmaFenceArray.create([a.get(), b.get()], contextAlloc(1, rt), 1n);
      const { result, reports } = rt.reports.capture(() => catchError(() => resv.addFence(array, READ)));
      expect(isDepError(result, 'EINVAL')).toBe(true);
      expect((result as Error).message).toMatch(/leaves/);
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      expect(resv.numFences).toBe(0);
      expect(array.refcount).toBe(1);
    });
  });

  it('rejects INACTIVE fences with EINVAL', async () => {
    await withResv((rt, resv) => {
      const f = new DmaFence(selftestOps, contextAlloc(1, rt), 1n, { runtime: rt, inactive: true });
      expect(isDepError(catchError(() => resv.addFence(f, WRITE)), 'EINVAL')).toBe(true);
      expect(resv.numFences).toBe(0);
      f.setActive();
      resv.addFence(f, WRITE);
      expect(resv.numFences).toBe(1);
    });
  });

  it('rejects bad input with EINVAL before changing anything', async () => {
    await withResv((rt, resv) => {
      const other = new Runtime();
      const bad: Array<() => void> = [
        () => resv.addFence(null as unknown as Fence, READ),
        () => resv.addFence({} as unknown as Fence, READ),
        () => resv.addFence(new DmaFence(), READ),
        () => resv.addFence(freshFence(other), READ),
        () => resv.addFence(freshFence(rt), 7 as DmaResvUsage),
        () => resv.addFence(freshFence(rt), READ, { foreign: 'yes' as unknown as boolean }),
      ];
      for (const call of bad) {
        const e = catchError(call);
        expect(isDepError(e, 'EINVAL'), String(e)).toBe(true);
      }
      expect(resv.numFences).toBe(0);
      expect(resv.generation).toBe(1);
    });
  });

  it('needs the lock held by the current task: EPERM otherwise', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      const f = freshFence(rt);
      expect(isDepError(catchError(() => resv.addFence(f, READ)), 'EPERM')).toBe(true);
      expect(isDepError(catchError(() => resv.reserveFences(1)), 'EPERM')).toBe(true);
      const holder = rt.spawn('holder', async () => {
        await resv.lock();
        await rt.sleep(10);
        resv.unlock();
      });
      await rt.sleep(1);
      const e = catchError(() => resv.addFence(f, READ));
      expect(isDepError(e, 'EPERM')).toBe(true);
      expect((e as Error).message).toMatch(/held by holder/);
      await holder.join();
      expect(resv.numFences).toBe(0);
    });
  });
});

describe('dma_resv_replace_fences', () => {
  it('every entry of the context becomes the replacement, with the new usage and one reference each', async () => {
    await withResv((rt, resv) => {
      const ctx = contextAlloc(1, rt);
      const p1 = new DmaFence(selftestOps, ctx, 1n, { runtime: rt });
      const p2 = new DmaFence(selftestOps, ctx, 2n, { runtime: rt });
      const other = freshFence(rt);
      resv.addFence(p1, BOOKKEEP);
      resv.addFence(other, READ);
      resv.addFence(p2, READ); // weaker than BOOKKEEP? no: READ < BOOKKEEP, so p2 replaces p1
      expect(resv.numFences).toBe(2);
      const p3 = new DmaFence(selftestOps, ctx, 1n, { runtime: rt });
      resv.addFence(p3, BOOKKEEP); // earlier seqno: own slot
      expect(resv.numFences).toBe(3);
      const repl = freshFence(rt);
      resv.replaceFences(ctx, repl, KERNEL);
      expect(locked(resv, BOOKKEEP)).toEqual([
        [repl, KERNEL],
        [other, READ],
        [repl, KERNEL],
      ]);
      expect(repl.refcount).toBe(3);
      expect([p1.refcount, p2.refcount, p3.refcount]).toEqual([1, 1, 1]);
    });
  });

  it('replacing a context that is not there changes nothing', async () => {
    await withResv((rt, resv) => {
      const f = freshFence(rt);
      resv.addFence(f, READ);
      const repl = freshFence(rt);
      resv.replaceFences(999n, repl, KERNEL);
      expect(locked(resv, BOOKKEEP)).toEqual([[f, READ]]);
      expect(repl.refcount).toBe(1);
      expect(isDepError(catchError(() => resv.replaceFences(-1n, repl, KERNEL)), 'EINVAL')).toBe(true);
    });
  });
});

describe('dma_resv_describe', () => {
  it('prints fences up to READ, signalled included, never BOOKKEEP', async () => {
    await withResv((rt, resv) => {
      const k = freshFence(rt);
      resv.addFence(k, KERNEL);
      resv.addFence(freshFence(rt), READ);
      resv.addFence(freshFence(rt), BOOKKEEP);
      k.signal();
      const lines = resv.describe().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^\tkernel fence: .*signalled/);
      expect(lines[1]).toMatch(/^\tread fence: .*unsignalled/);
    });
  });

  it('is a locked walk: describing an unheld resv is a lockdep report', async () => {
    const rt = new Runtime();
    await rt.run(() => {
      const resv = new DmaResv({ runtime: rt });
      const { reports } = rt.reports.capture(() => resv.describe());
      expect(reports.map((r) => r.kind)).toEqual(['lockdep']);
      expect(reports[0]!.message).toMatch(/lockdep_assert_held/);
    });
  });
});
