// Port of the kernel's KUnit suite "dma-buf-resv" (drivers/dma-buf/st-dma-resv.c), one
// test per kernel case and usage parameter, same names. The kernel forces the unlocked
// iterator to restart by corrupting the cursor (`cursor.fences = (void *)~0`); here the
// list is really replaced underneath (a reallocating reserveFences), which is what a
// restart means.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { allocFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage, type DmaResvIter } from './index.js';

const params: ReadonlyArray<readonly [string, DmaResvUsage]> = [
  ['kernel', DmaResvUsage.KERNEL],
  ['write', DmaResvUsage.WRITE],
  ['read', DmaResvUsage.READ],
  ['bookkeep', DmaResvUsage.BOOKKEEP],
];

describe('dma-buf-resv', () => {
  it('test_sanitycheck', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const f = allocFence(rt);
      f.enableSwSignaling();
      f.signal();
      f.put();
      const resv = new DmaResv({ runtime: rt });
      const r = await resv.lock(null);
      expect(r, 'Resv locking failed').toBe(0);
      resv.unlock();
      resv.fini();
    });
    expect(rt.reports.count()).toBe(0);
  });

  describe('test_signaling', () => {
    for (const [desc, usage] of params) {
      it(desc, async () => {
        const rt = new Runtime();
        await rt.run(async () => {
          const f = allocFence(rt);
          f.enableSwSignaling();
          const resv = new DmaResv({ runtime: rt });
          expect(await resv.lock(null), 'Resv locking failed').toBe(0);
          expect(resv.reserveFences(1), 'Resv shared slot allocation failed').toBe(0);
          resv.addFence(f, usage);
          expect(resv.testSignaled(usage), 'Resv unexpectedly signaled').toBe(false);
          f.signal();
          expect(resv.testSignaled(usage), 'Resv not reporting signaled').toBe(true);
          resv.unlock();
          resv.fini();
          f.put();
          expect(f.refcount).toBe(0);
        });
        expect(rt.reports.count()).toBe(0);
      });
    }
  });

  describe('test_for_each', () => {
    for (const [desc, usage] of params) {
      it(desc, async () => {
        const rt = new Runtime();
        await rt.run(async () => {
          const f = allocFence(rt);
          f.enableSwSignaling();
          const resv = new DmaResv({ runtime: rt });
          expect(await resv.lock(null)).toBe(0);
          expect(resv.reserveFences(1)).toBe(0);
          resv.addFence(f, usage);
          let found = 0;
          const cursor = resv.iterBegin(usage);
          for (const fence of cursor.locked()) {
            expect(found, 'More than one fence found').toBe(0);
            expect(fence, 'Unexpected fence').toBe(f);
            expect(cursor.usage, 'Unexpected fence usage').toBe(usage);
            found++;
          }
          expect(found, 'No fence found').toBe(1);
          f.signal();
          resv.unlock();
          resv.fini();
          f.put();
        });
        expect(rt.reports.count()).toBe(0);
      });
    }
  });

  describe('test_for_each_unlocked', () => {
    for (const [desc, usage] of params) {
      it(desc, async () => {
        const rt = new Runtime();
        await rt.run(async () => {
          const f = allocFence(rt);
          f.enableSwSignaling();
          const resv = new DmaResv({ runtime: rt });
          expect(await resv.lock(null)).toBe(0);
          expect(resv.reserveFences(1)).toBe(0);
          resv.addFence(f, usage);
          resv.unlock();

          // -ENOENT: nothing seen yet; -EINVAL: seen once, restart forced; 0: seen again.
          let r = -2;
          const cursor: DmaResvIter = resv.iterBegin(usage);
          for (const fence of cursor.unlocked()) {
            expect(r, 'More than one fence found').not.toBe(0);
            expect(cursor.isRestarted, 'No restart flag').toBe(true);
            expect(fence, 'Unexpected fence').toBe(f);
            expect(cursor.usage, 'Unexpected fence usage').toBe(usage);
            if (r === -2) {
              r = -22;
              // That should trigger a restart: replace the list underneath.
              expect(await resv.lock(null)).toBe(0);
              expect(resv.reserveFences(64)).toBe(0);
              resv.unlock();
            } else if (r === -22) {
              r = 0;
            }
          }
          expect(r).toBe(0);
          f.signal();
          resv.fini();
          f.put();
          expect(f.refcount, 'the cursor dropped its reference').toBe(0);
        });
        expect(rt.reports.count()).toBe(0);
      });
    }
  });

  describe('test_get_fences', () => {
    for (const [desc, usage] of params) {
      it(desc, async () => {
        const rt = new Runtime();
        await rt.run(async () => {
          const f = allocFence(rt);
          f.enableSwSignaling();
          const resv = new DmaResv({ runtime: rt });
          expect(await resv.lock(null)).toBe(0);
          expect(resv.reserveFences(1)).toBe(0);
          resv.addFence(f, usage);
          resv.unlock();
          const fences = resv.getFences(usage);
          expect(fences.length === 1 && fences[0] === f, 'get_fences returned unexpected fence').toBe(true);
          f.signal();
          for (const g of fences) g.put();
          resv.fini();
          f.put();
          expect(f.refcount).toBe(0);
        });
        expect(rt.reports.count()).toBe(0);
      });
    }
  });
});
