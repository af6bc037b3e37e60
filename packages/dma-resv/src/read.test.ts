// The read side: locked and unlocked iterators (signalled fences, references, restarts),
// get_fences, get_singleton (none / one / array), copy_fences, test_signaled, set_deadline.
import { DmaFence, DmaFenceArray, FenceFlag, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvIter, DmaResvUsage } from './index.js';

const { KERNEL, WRITE, READ, BOOKKEEP } = DmaResvUsage;

/** A resv holding `usages.length` fresh fences (added as foreign: no signalling section). */
async function filled(rt: Runtime, usages: readonly DmaResvUsage[], name?: string): Promise<{ resv: DmaResv; fences: DmaFence[] }> {
  const resv = new DmaResv(name === undefined ? { runtime: rt } : { runtime: rt, name });
  await resv.lock();
  resv.reserveFences(Math.max(1, usages.length));
  const fences = usages.map((u) => {
    const f = freshFence(rt);
    resv.addFence(f, u, { foreign: true });
    return f;
  });
  resv.unlock();
  return { resv, fences };
}

describe('locked iteration (dma_resv_for_each_fence)', () => {
  it('returns signalled fences too and takes no references', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [KERNEL, READ, BOOKKEEP]);
      fences[0]!.signal();
      await resv.lock();
      const seen: Array<[Fence, DmaResvUsage, number]> = [];
      const c = resv.iterBegin(BOOKKEEP);
      for (const f of c.locked()) seen.push([f, c.usage, f.refcount]);
      expect(seen).toEqual([
        [fences[0], KERNEL, 2],
        [fences[1], READ, 2],
        [fences[2], BOOKKEEP, 2],
      ]);
      expect(c.fence).toBeNull();
      // is_restarted: true on the first fence only
      expect(c.first()).toBe(fences[0]);
      expect(c.isRestarted).toBe(true);
      expect(c.next()).toBe(fences[1]);
      expect(c.isRestarted).toBe(false);
      resv.unlock();
    });
  });

  it('needs the lock: a lockdep report otherwise', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv } = await filled(rt, [READ]);
      const { reports } = rt.reports.capture(() => [...resv.forEachFence(READ)]);
      // dma_resv_iter_first and dma_resv_iter_next each assert, as the kernel's do
      expect(reports.map((r) => r.kind)).toEqual(['lockdep', 'lockdep']);
      expect(reports[0]!.message).toMatch(/not held/);
    });
  });
});

describe('unlocked iteration (dma_resv_for_each_fence_unlocked)', () => {
  it('skips signalled fences and holds a reference on the current one until the next step or end', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [WRITE, WRITE, READ]);
      fences[1]!.signal();
      const c = resv.iterBegin(READ);
      expect(c.firstUnlocked()).toBe(fences[0]);
      expect(c.isRestarted).toBe(true);
      expect(fences[0]!.refcount).toBe(3);
      expect(c.nextUnlocked()).toBe(fences[2]);
      expect(c.isRestarted).toBe(false);
      expect(c.usage).toBe(READ);
      expect(fences[0]!.refcount, 'previous reference dropped').toBe(2);
      expect(fences[2]!.refcount).toBe(3);
      c.end();
      expect(fences[2]!.refcount).toBe(2);
      c.end();
      expect(fences[2]!.refcount, 'end is idempotent').toBe(2);
      // the generator form ends the cursor itself, also on break
      const g = resv.iterBegin(READ);
      for (const f of g.unlocked()) {
        expect(f.refcount).toBe(3);
        break;
      }
      expect(fences[0]!.refcount).toBe(2);
    });
  });

  it('restarts (isRestarted) when the list is replaced underneath; an in-place add does not restart', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [READ, READ, READ]);
      const c = resv.iterBegin(READ);
      const seen: Fence[] = [];
      let restarts = 0;
      for (const f of c.unlocked()) {
        if (c.isRestarted) {
          restarts++;
          seen.length = 0; // accumulators reset on restart
        }
        seen.push(f);
        if (f === fences[1] && restarts === 1) {
          // another task replaces the list: a reallocating reservation
          await rt.spawn('writer', async () => {
            await resv.lock();
            const gen = resv.generation;
            expect(resv.reserveFences(16)).toBe(0);
            expect(resv.generation).toBe(gen + 1);
            resv.unlock();
          }).join();
        }
      }
      expect(restarts).toBe(2);
      expect(seen).toEqual(fences);

      // an add that reuses a signalled slot changes the list in place: no restart, and
      // the cursor reads the entry as it is when it gets there
      const more = await filled(rt, [READ, READ, READ, READ]);
      more.fences[3]!.signal();
      const c2 = more.resv.iterBegin(READ);
      const got: Fence[] = [];
      let restarts2 = 0;
      const late = freshFence(rt);
      for (const f of c2.unlocked()) {
        if (c2.isRestarted) restarts2++;
        got.push(f);
        if (got.length === 1) {
          await rt.spawn('adder', async () => {
            await more.resv.lock();
            more.resv.addFence(late, READ, { foreign: true }); // no reservation: reuses the slot
            more.resv.unlock();
          }).join();
        }
      }
      expect(restarts2).toBe(1);
      expect(got).toEqual([...more.fences.slice(0, 3), late]);
      expect(more.resv.numFences).toBe(4);
    });
  });

  it('a cursor is made for a DmaResv and a valid usage only', () => {
    const rt = new Runtime();
    const resv = new DmaResv({ runtime: rt });
    expect(() => resv.iterBegin(5 as DmaResvUsage)).toThrow(/EINVAL/);
    expect(() => new DmaResvIter({} as DmaResv, READ)).toThrow(/EINVAL/);
    expect(() => new DmaResvIter(resv, -1 as DmaResvUsage)).toThrow(/EINVAL/);
    expect(new DmaResvIter(resv, READ).ceiling).toBe(READ);
  });

  it('a resv without fences yields nothing', async () => {
    const rt = new Runtime();
    await rt.run(() => {
      const resv = new DmaResv({ runtime: rt });
      const c = resv.iterBegin(BOOKKEEP);
      expect(c.firstUnlocked()).toBeNull();
      expect(resv.testSignaled(BOOKKEEP)).toBe(true);
      expect(resv.getFences(BOOKKEEP)).toEqual([]);
    });
  });
});

describe('dma_resv_get_fences', () => {
  it('an unlocked snapshot, unsignalled only, with references the caller owns', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [KERNEL, WRITE, READ, BOOKKEEP]);
      fences[1]!.signal();
      const got = resv.getFences(READ);
      expect(got).toEqual([fences[0], fences[2]]);
      expect(got.map((f) => f.refcount)).toEqual([3, 3]);
      for (const f of got) f.put();
    });
  });

  it('ENOMEM from the allocation hook: DepError, no reference left behind', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [READ, READ]);
      rt.faults.failAlloc({ site: 'dma_resv_get_fences' });
      let err: unknown = null;
      try {
        resv.getFences(READ);
      } catch (e) {
        err = e;
      }
      expect(isDepError(err, 'ENOMEM')).toBe(true);
      expect(fences.map((f) => f.refcount)).toEqual([2, 2]);
    });
  });
});

describe('dma_resv_get_singleton', () => {
  it('none: null', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [READ, BOOKKEEP]);
      fences[0]!.signal();
      expect(resv.getSingleton(READ)).toBeNull();
    });
  });

  it('one: that fence, with a new reference', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [WRITE, BOOKKEEP]);
      const s = resv.getSingleton(READ);
      expect(s).toBe(fences[0]);
      expect(fences[0]!.refcount).toBe(3);
      s!.put();
    });
  });

  it('several: a new array on a fresh context with seqno 1, signalling when all have', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [KERNEL, WRITE, READ, BOOKKEEP]);
      const lastCtx = contextAlloc(1, rt);
      const s = resv.getSingleton(READ)!;
      expect(s).toBeInstanceOf(DmaFenceArray);
      const array = s as DmaFenceArray;
      expect(array.fences).toEqual(fences.slice(0, 3));
      expect(array.seqno).toBe(1n);
      expect(array.context > lastCtx).toBe(true);
      expect(fences.map((f) => f.refcount)).toEqual([3, 3, 3, 2]);
      array.enableSwSignaling();
      fences[0]!.signal();
      fences[1]!.signal();
      await rt.yield();
      expect(array.isSignaled()).toBe(false);
      fences[2]!.signal();
      await rt.yield();
      expect(array.testSignaledFlag()).toBe(true);
      array.put();
      expect(fences.map((f) => f.refcount)).toEqual([2, 2, 2, 2]);
    });
  });

  it('ENOMEM making the array: DepError, every reference given back', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [READ, READ, READ]);
      rt.faults.failAlloc({ site: 'dma_fence_array_alloc' });
      expect(() => resv.getSingleton(READ)).toThrow(/ENOMEM/);
      expect(fences.map((f) => f.refcount)).toEqual([2, 2, 2]);
    });
  });
});

describe('dma_resv_copy_fences', () => {
  it("replaces dst's fences with src's unsignalled ones, usages kept, old ones put", async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const src = await filled(rt, [KERNEL, READ, BOOKKEEP], 'src');
      src.fences[1]!.signal();
      const dst = await filled(rt, [WRITE], 'dst');
      await dst.resv.lock();
      const gen = dst.resv.generation;
      expect(dst.resv.copyFences(src.resv)).toBe(0);
      expect(dst.resv.generation).toBe(gen + 1);
      const c = dst.resv.iterBegin(BOOKKEEP);
      const got: Array<[Fence, DmaResvUsage]> = [];
      for (const f of c.locked()) got.push([f, c.usage]);
      expect(got).toEqual([
        [src.fences[0], KERNEL],
        [src.fences[2], BOOKKEEP],
      ]);
      expect(dst.fences[0]!.refcount, "dst's old fence was put").toBe(1);
      expect(src.fences.map((f) => f.refcount)).toEqual([3, 2, 3]);
      // src unchanged
      expect(src.resv.numFences).toBe(3);
      dst.resv.unlock();
    });
  });

  it('an empty src empties dst', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const src = new DmaResv({ runtime: rt });
      const dst = await filled(rt, [WRITE, READ]);
      await dst.resv.lock();
      expect(dst.resv.copyFences(src)).toBe(0);
      expect(dst.resv.numFences).toBe(0);
      expect(dst.fences.map((f) => f.refcount)).toEqual([1, 1]);
      dst.resv.unlock();
    });
  });

  it('-ENOMEM under fault injection: dst unchanged, no reference taken', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const src = await filled(rt, [KERNEL, READ]);
      const dst = await filled(rt, [WRITE]);
      await dst.resv.lock();
      rt.faults.failAlloc({ site: 'dma_resv_copy_fences' });
      const gen = dst.resv.generation;
      expect(dst.resv.copyFences(src.resv)).toBe(-12);
      expect(dst.resv.generation).toBe(gen);
      expect([...dst.resv.forEachFence(BOOKKEEP)]).toEqual(dst.fences);
      expect(src.fences.map((f) => f.refcount)).toEqual([2, 2]);
      dst.resv.unlock();
    });
  });

  it('needs the dst lock (EPERM), a DmaResv of the same runtime (EINVAL)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const src = await filled(rt, [READ]);
      const dst = new DmaResv({ runtime: rt });
      expect(() => dst.copyFences(src.resv)).toThrow(/EPERM/);
      await dst.lock();
      expect(() => dst.copyFences({} as DmaResv)).toThrow(/EINVAL/);
      expect(() => dst.copyFences(new DmaResv({ runtime: new Runtime() }))).toThrow(/EINVAL/);
      dst.unlock();
    });
  });
});

describe('dma_resv_test_signaled / dma_resv_set_deadline', () => {
  it('test_signaled never enables signalling', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await filled(rt, [READ]);
      expect(resv.testSignaled(READ)).toBe(false);
      expect(fences[0]!.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
    });
  });

  it('set_deadline reaches the unsignalled fences up to the usage, not the others', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const deadlines: Array<[string, number]> = [];
      const ops = (name: string): DmaFenceOps => ({
        getDriverName: () => 'dl',
        getTimelineName: () => name,
        setDeadline: (_f, d) => {
          deadlines.push([name, d]);
        },
      });
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(3);
      const w = freshFence(rt, 1n, ops('w'));
      const done = freshFence(rt, 1n, ops('done'));
      const b = freshFence(rt, 1n, ops('b'));
      resv.addFence(w, WRITE, { foreign: true });
      resv.addFence(done, WRITE, { foreign: true });
      resv.addFence(b, BOOKKEEP, { foreign: true });
      resv.unlock();
      done.signal();
      resv.setDeadline(READ, 42);
      expect(deadlines).toEqual([['w', 42]]);
      expect(() => resv.setDeadline(READ, NaN)).toThrow(/EINVAL/);
    });
  });
});
