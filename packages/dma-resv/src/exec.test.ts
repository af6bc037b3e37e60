// DrmExec (drm_exec): locking several resvs under one context, reserving slots, backing
// off and retrying on contention, duplicates, interruption, ENOMEM, misuse.
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage, DrmExec } from './index.js';

const { WRITE } = DmaResvUsage;

function resvs(rt: Runtime, n: number): DmaResv[] {
  return Array.from({ length: n }, (_, i) => new DmaResv({ runtime: rt, name: `bo${i}` }));
}

describe('DrmExec', () => {
  it('locks every object under one ticket, reserves slots, and fini unlocks them all', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const bos = resvs(rt, 3);
      const exec = new DrmExec(rt);
      const ret = await exec.untilAllLocked(async (e) => {
        for (const bo of bos) {
          const r = await e.prepareObj(bo, 2);
          if (r !== 0) return r;
        }
        return 0;
      });
      expect(ret).toBe(0);
      expect(exec.objects).toEqual(bos);
      expect(exec.numObjects).toBe(3);
      expect(exec.obj(1)).toBe(bos[1]);
      expect(exec.obj(3)).toBeNull();
      expect(exec.ticket!.isDone).toBe(true);
      for (const bo of bos) {
        expect(bo.lockingCtx).toBe(exec.ticket);
        expect(bo.maxFences - bo.numFences).toBeGreaterThanOrEqual(2);
      }
      const job = freshFence(rt);
      for (const bo of exec.objects) bo.addFence(job, WRITE);
      exec.fini();
      expect(bos.every((bo) => !bo.isLocked)).toBe(true);
      expect(exec.ticket!.isFinished).toBe(true);
      expect(rt.lockdep.inSignallingSection(), 'the unlocks ended the signalling section').toBe(false);
      expect(job.refcount).toBe(4);
    });
    expect(rt.reports.count()).toBe(0);
  });

  it('on contention it backs off, slow-locks the contended object first, and retries the body', async () => {
    const rt = new Runtime();
    const runs: Record<string, number> = { A: 0, B: 0 };
    const order: string[] = [];
    await rt.run(async () => {
      const [a, b] = resvs(rt, 2) as [DmaResv, DmaResv];
      const task = (name: string, first: DmaResv, second: DmaResv, start: number) =>
        rt.spawn(name, async () => {
          await rt.sleep(start);
          const exec = new DrmExec(rt);
          await exec.untilAllLocked(async (e) => {
            runs[name]!++;
            expect(await e.lockObj(first)).toBe(0);
            await rt.sleep(2);
            expect(await e.lockObj(second)).toBe(0);
          });
          order.push(`${name} locked ${exec.objects.map((o) => o.name).join(',')} after ${exec.retries} retries`);
          await rt.sleep(1);
          exec.fini();
        });
      const ta = task('A', a, b, 0); // older ticket
      const tb = task('B', b, a, 1); // younger: dies on a, which A holds
      await ta.join();
      await tb.join();
    });
    expect(runs).toEqual({ A: 1, B: 2 });
    expect(order).toEqual(['A locked bo0,bo1 after 0 retries', 'B locked bo0,bo1 after 1 retries']);
  });

  it('-EALREADY for an object locked twice, 0 with ignoreDuplicates (tracked once)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a] = resvs(rt, 1) as [DmaResv];
      const exec = new DrmExec(rt);
      await exec.untilAllLocked(async (e) => {
        expect(await e.lockObj(a)).toBe(0);
        expect(await e.lockObj(a)).toBe(-114);
      });
      exec.fini();
      const dup = new DrmExec(rt, { ignoreDuplicates: true });
      await dup.untilAllLocked(async (e) => {
        expect(await e.prepareObj(a, 1)).toBe(0);
        expect(await e.prepareObj(a, 1)).toBe(0);
      });
      expect(dup.numObjects).toBe(1);
      dup.fini();
      expect(a.isLocked).toBe(false);
    });
  });

  it('objects with a resv (GEM-style) are locked through it', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const bos = resvs(rt, 2).map((resv, i) => ({ handle: i + 1, resv }));
      const exec = new DrmExec<(typeof bos)[number]>(rt);
      await exec.untilAllLocked((e) => e.prepareArray(bos, 1));
      expect(exec.objects.map((o) => o.handle)).toEqual([1, 2]);
      expect(bos.every((bo) => bo.resv.isLocked)).toBe(true);
      exec.unlockObj(bos[1]!);
      expect(bos[1]!.resv.isLocked).toBe(false);
      expect(exec.numObjects).toBe(1);
      exec.fini();
      expect(bos[0]!.resv.isLocked).toBe(false);
    });
  });

  it('refcounted objects are referenced while tracked: the last other put while locked frees after unlock (drm_exec_obj_locked)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const freedLocked: boolean[] = [];
      const bos = resvs(rt, 3).map((resv) => {
        const bo = {
          resv,
          refs: 1,
          get: () => {
            bo.refs++;
            return bo;
          },
          put: () => {
            if (--bo.refs === 0) freedLocked.push(resv.isLocked);
          },
        };
        return bo;
      });
      const exec = new DrmExec<(typeof bos)[number]>(rt);
      await exec.untilAllLocked((e) => e.prepareArray(bos, 1));
      expect(bos.map((b) => b.refs)).toEqual([2, 2, 2]);
      // Under the locks, the holders drop their references (an unmap putting its BO).
      for (const b of bos) b.put();
      expect(freedLocked).toEqual([]);
      exec.unlockObj(bos[2]!);
      expect(freedLocked).toEqual([false]);
      exec.fini();
      expect(freedLocked).toEqual([false, false, false]);
    });
  });

  it('contention: the contended and prelocked references are balanced', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a, b] = resvs(rt, 2).map((resv) => {
        const bo = { resv, refs: 1, get: () => (bo.refs++, bo), put: () => void bo.refs-- };
        return bo;
      }) as [{ resv: DmaResv; refs: number; get(): unknown; put(): void }, { resv: DmaResv; refs: number; get(): unknown; put(): void }];
      let retries = 0;
      const task = (name: string, first: typeof a, second: typeof a, start: number) =>
        rt.spawn(name, async () => {
          await rt.sleep(start);
          const exec = new DrmExec<typeof a>(rt);
          await exec.untilAllLocked(async (e) => {
            expect(await e.lockObj(first)).toBe(0);
            await rt.sleep(2);
            expect(await e.lockObj(second)).toBe(0);
          });
          retries += exec.retries;
          expect(first.refs).toBeGreaterThanOrEqual(2);
          expect(second.refs).toBeGreaterThanOrEqual(2);
          exec.fini();
        });
      const ta = task('A', a, b, 0);
      const tb = task('B', b, a, 1);
      await ta.join();
      await tb.join();
      expect(retries).toBe(1);
      expect([a.refs, b.refs]).toEqual([1, 1]);
    });
  });

  it('interruptible: a lock waiting when the signal fires returns -EINTR', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a] = resvs(rt, 1) as [DmaResv];
      await a.lock();
      const ac = new AbortController();
      const t = rt.spawn('submit', async () => {
        const exec = new DrmExec(rt, { interruptible: true, signal: ac.signal });
        try {
          return await exec.untilAllLocked((e) => e.lockObj(a));
        } finally {
          exec.fini();
        }
      });
      await rt.sleep(5);
      ac.abort();
      expect(await t.join()).toBe(-4);
      a.unlock();
    });
  });

  it('prepareObj: -ENOMEM from the reservation unlocks the object again', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a, b] = resvs(rt, 2) as [DmaResv, DmaResv];
      const exec = new DrmExec(rt);
      rt.faults.failAlloc({ site: 'dma_resv_reserve_fences', nth: 2 });
      const ret = await exec.untilAllLocked(async (e) => {
        expect(await e.prepareObj(a, 1)).toBe(0);
        return e.prepareObj(b, 1);
      });
      expect(ret).toBe(-12);
      expect(exec.objects).toEqual([a]);
      expect(b.isLocked).toBe(false);
      exec.fini();
    });
  });

  it('-ENOMEM when the object table cannot grow; the object is unlocked again', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a, b] = resvs(rt, 2) as [DmaResv, DmaResv];
      const exec = new DrmExec(rt, { nr: 1 });
      rt.faults.failAlloc({ site: 'drm_exec_obj_locked' });
      const ret = await exec.untilAllLocked(async (e) => {
        expect(await e.lockObj(a)).toBe(0);
        return e.lockObj(b);
      });
      expect(ret).toBe(-12);
      expect(b.isLocked).toBe(false);
      exec.fini();
    });
  });

  it('a body that throws leaves its locks for fini', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a] = resvs(rt, 1) as [DmaResv];
      const exec = new DrmExec(rt);
      await expect(
        exec.untilAllLocked(async (e) => {
          await e.lockObj(a);
          throw new Error('validation failed');
        }),
      ).rejects.toThrow('validation failed');
      expect(a.isLocked).toBe(true);
      exec.fini();
      expect(a.isLocked).toBe(false);
    });
  });

  it('misuse is DepError EINVAL, nothing locked', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [a] = resvs(rt, 1) as [DmaResv];
      const exec = new DrmExec(rt);
      await expect(exec.lockObj(a)).rejects.toThrow(/inside exec.untilAllLocked/);
      const { reports } = await rt.reports.captureAsync(async () => {
        await exec.untilAllLocked(async (e) => {
          let err: unknown = null;
          try {
            await e.prepareObj(a, 0);
          } catch (x) {
            err = x;
          }
          expect(isDepError(err, 'EINVAL')).toBe(true);
          expect(a.isLocked).toBe(false);
          expect(() => e.fini()).toThrow(/inside untilAllLocked/);
          await expect(e.lockObj({} as DmaResv)).rejects.toThrow(/EINVAL/);
        });
      });
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      await expect(exec.untilAllLocked(() => 0)).rejects.toThrow(/once per DrmExec/);
      exec.fini();
      expect(() => exec.fini()).toThrow(/EINVAL/);
      expect(() => new DrmExec(rt, { signal: new AbortController().signal })).toThrow(/interruptible/);
      expect(() => new DrmExec(rt, { nr: -1 })).toThrow(/EINVAL/);
    });
  });

  it('a body that swallows the contention still gets retried', async () => {
    const rt = new Runtime();
    const runs = { B: 0 };
    await rt.run(async () => {
      const [a, b] = resvs(rt, 2) as [DmaResv, DmaResv];
      const holder = rt.spawn('A', async () => {
        const exec = new DrmExec(rt);
        await exec.untilAllLocked(async (e) => {
          await e.lockObj(a);
          await rt.sleep(3);
          await e.lockObj(b);
        });
        await rt.sleep(1);
        exec.fini();
      });
      const swallower = rt.spawn('B', async () => {
        await rt.sleep(1);
        const exec = new DrmExec(rt);
        await exec.untilAllLocked(async (e) => {
          runs.B++;
          await e.lockObj(b);
          await rt.sleep(1);
          try {
            await e.lockObj(a);
          } catch {
            // swallowed: the loop still sees the contention
          }
        });
        expect(exec.numObjects).toBe(2);
        exec.fini();
      });
      await holder.join();
      await swallower.join();
    });
    expect(runs.B).toBe(2);
  });
});
