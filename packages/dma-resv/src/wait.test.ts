// dma_resv_wait_timeout: return values in virtual time, the usage ceiling, interruption,
// bad input, and the wait-for graph edges a resv wait declares (options.forFence).
import { FenceFlag, fenceWaitsOf, fenceWaitsOn } from '@dep/dma-fence';
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage } from './index.js';

const { WRITE, READ, BOOKKEEP } = DmaResvUsage;

async function resvWith(rt: Runtime, n: number, usage: DmaResvUsage = WRITE) {
  const resv = new DmaResv({ runtime: rt });
  const fences = Array.from({ length: n }, () => freshFence(rt));
  await resv.lock();
  resv.reserveFences(Math.max(1, n));
  for (const f of fences) resv.addFence(f, usage, { foreign: true });
  resv.unlock();
  return { resv, fences };
}

describe('dma_resv_wait_timeout', () => {
  it('timeout 0 polls: 1 when idle, 0 when busy (signalling enabled on the busy fence)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const idle = new DmaResv({ runtime: rt });
      expect(await idle.waitTimeout(BOOKKEEP, 0)).toBe(1);
      const { resv, fences } = await resvWith(rt, 1);
      expect(await resv.waitTimeout(READ, 0)).toBe(0);
      expect(fences[0]!.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(true);
      expect(rt.now(), 'polling takes no time').toBe(0);
      fences[0]!.signal();
      expect(await resv.waitTimeout(READ, 0)).toBe(1);
    });
  });

  it('waits for each fence in turn and returns the time left; 0 on timeout; Infinity when unbounded', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await resvWith(rt, 2);
      rt.spawn('signaller', async () => {
        await rt.sleep(3);
        fences[1]!.signal();
        await rt.sleep(4);
        fences[0]!.signal();
      });
      expect(await resv.waitTimeout(WRITE, 10)).toBe(3);
      expect(rt.now()).toBe(7);

      const busy = await resvWith(rt, 1);
      expect(await busy.resv.waitTimeout(WRITE, 5)).toBe(0);
      expect(rt.now()).toBe(12);
      rt.spawn('late', async () => {
        await rt.sleep(20);
        busy.fences[0]!.signal();
      });
      expect(await busy.resv.waitTimeout(WRITE, Infinity)).toBe(Infinity);
      expect(rt.now()).toBe(32);
    });
  });

  it('waits up to the usage asked for only', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      const w = freshFence(rt);
      const b = freshFence(rt);
      await resv.lock();
      resv.reserveFences(2);
      resv.addFence(w, WRITE, { foreign: true });
      resv.addFence(b, BOOKKEEP, { foreign: true });
      resv.unlock();
      rt.spawn('signal w', async () => {
        await rt.sleep(2);
        w.signal();
      });
      expect(await resv.waitTimeout(READ, 100)).toBe(98);
      expect(b.testFlag(FenceFlag.ENABLE_SIGNAL), 'BOOKKEEP was not waited on').toBe(false);
      expect(await resv.waitTimeout(BOOKKEEP, 10)).toBe(0);
    });
  });

  it('-ERESTARTSYS when the signal fires; the held reference is given back', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await resvWith(rt, 1);
      const ac = new AbortController();
      rt.spawn('interrupt', async () => {
        await rt.sleep(4);
        ac.abort();
      });
      expect(await resv.waitTimeout(WRITE, 50, { signal: ac.signal })).toBe(-512);
      expect(fences[0]!.refcount).toBe(2);
    });
  });

  it('rejects bad input with DepError EINVAL', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      for (const call of [
        () => resv.waitTimeout(WRITE, -1),
        () => resv.waitTimeout(WRITE, NaN),
        () => resv.waitTimeout(9 as DmaResvUsage, 1),
        () => resv.waitTimeout(WRITE, 1, { signal: {} as AbortSignal }),
        () => resv.waitTimeout(WRITE, 1, { forFence: {} as never }),
        () => resv.waitTimeout(WRITE, 1, { forFence: freshFence(new Runtime()) }),
      ]) {
        let err: unknown = null;
        try {
          await call();
        } catch (e) {
          err = e;
        }
        expect(isDepError(err, 'EINVAL'), String(err)).toBe(true);
      }
    });
  });
});

describe('the wait-for graph learns what a resv wait waits on', () => {
  it('forFence: an edge to each fence waited on, gone when the wait ends', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await resvWith(rt, 2);
      const job = freshFence(rt);
      const seen: string[][] = [];
      rt.spawn('observer', async () => {
        await rt.sleep(1);
        seen.push(fenceWaitsOf(job).map((w) => `${w.reason} -> ${w.waitee === fences[0] ? 'f0' : 'f1'}`));
        fences[0]!.signal();
        await rt.sleep(1);
        seen.push(fenceWaitsOf(job).map((w) => `${w.reason} -> ${w.waitee === fences[0] ? 'f0' : 'f1'}`));
      });
      expect(await resv.waitTimeout(WRITE, 5, { forFence: job })).toBe(0);
      expect(seen).toEqual([[`dma_resv_wait_timeout(${resv.name}, write) -> f0`], [`dma_resv_wait_timeout(${resv.name}, write) -> f1`]]);
      expect(fenceWaitsOf(job), 'the timed-out wait removed its edge').toEqual([]);
    });
  });

  it('a wait that closes a cycle through the resv is reported the moment it starts', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const { resv, fences } = await resvWith(rt, 1);
      const job = freshFence(rt);
      // the fence in the resv can only signal after the job (say, a later job on its queue)
      fenceWaitsOn(fences[0]!, job, 'runs after the job on the same ring');
      const { result, reports } = await rt.reports.captureAsync(() => resv.waitTimeout(WRITE, 5, { forFence: job }));
      expect(result).toBe(0);
      expect(reports.map((r) => r.kind)).toEqual(['fence-cycle']);
      expect(reports[0]!.details.join('\n')).toMatch(/dma_resv_wait_timeout/);
    });
  });
});
