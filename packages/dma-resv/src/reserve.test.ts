// dma_resv_reserve_fences: sizes, reallocation (drops signalled fences, replaces the list),
// reservations dying with the unlock, reserve(0), and ENOMEM under fault injection
// leaving everything as it was.
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage } from './index.js';

const { READ, BOOKKEEP } = DmaResvUsage;

describe('dma_resv_reserve_fences', () => {
  it('first reservation: max(4, roundup_pow_of_two(n)); then max(num + n, 2 × max)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      expect(resv.reserveFences(5)).toBe(0);
      expect(resv.maxFences).toBe(8);
      const gen = resv.generation;
      for (let i = 0; i < 6; i++) resv.addFence(freshFence(rt), READ, { foreign: true });
      expect(resv.reserveFences(2)).toBe(0);
      expect(resv.generation, 'enough room: no new list').toBe(gen);
      expect(resv.reserveFences(3)).toBe(0);
      expect(resv.maxFences).toBe(16);
      expect(resv.generation, 'reallocated: a new list').toBe(gen + 1);
      expect(resv.reserveFences(40)).toBe(0);
      expect(resv.maxFences, 'num + n beats 2 × max').toBe(46);
      resv.unlock();
      const fresh = new DmaResv({ runtime: rt });
      await fresh.lock();
      expect(fresh.reserveFences(1)).toBe(0);
      expect(fresh.maxFences).toBe(4);
      fresh.unlock();
    });
  });

  it('a reallocation drops the fences already signalled (and puts them)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(4);
      const fences = [freshFence(rt), freshFence(rt), freshFence(rt), freshFence(rt)];
      for (const f of fences) resv.addFence(f, BOOKKEEP, { foreign: true });
      fences[1]!.signal();
      fences[3]!.signal();
      expect(resv.reserveFences(1)).toBe(0);
      expect(resv.numFences).toBe(2);
      expect(fences.map((f) => f.refcount)).toEqual([2, 1, 2, 1]);
      const c = resv.iterBegin(BOOKKEEP);
      expect([...c.locked()]).toEqual([fences[0], fences[2]]);
      resv.unlock();
    });
  });

  it('reservations die with the unlock', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(3);
      resv.addFence(freshFence(rt), READ, { foreign: true });
      expect(resv.maxFences).toBe(4);
      resv.unlock();
      expect(resv.maxFences, 'only the used slots are left').toBe(1);
      await resv.lock();
      const { result, reports } = rt.reports.capture(() => {
        try {
          resv.addFence(freshFence(rt), READ);
          return null;
        } catch (e) {
          return e;
        }
      });
      expect(isDepError(result, 'ENOSPC')).toBe(true);
      expect(reports).toHaveLength(1);
      expect(resv.reserveFences(1)).toBe(0);
      resv.addFence(freshFence(rt), READ, { foreign: true });
      expect(resv.numFences).toBe(2);
      resv.unlock();
    });
  });

  it('reserving 0 is a WARN and DepError EINVAL, nothing changed', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      const { result, reports } = rt.reports.capture(() => {
        try {
          return resv.reserveFences(0);
        } catch (e) {
          return e;
        }
      });
      expect(isDepError(result, 'EINVAL')).toBe(true);
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      expect(resv.maxFences).toBe(0);
      expect(resv.generation).toBe(0);
      for (const bad of [-1, 1.5, NaN, '2' as unknown as number]) {
        expect(() => resv.reserveFences(bad)).toThrow(/EINVAL/);
      }
      resv.unlock();
    });
  });

  it('fails with -ENOMEM under fault injection and changes nothing', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(4);
      const fences = [freshFence(rt), freshFence(rt), freshFence(rt), freshFence(rt)];
      for (const f of fences) resv.addFence(f, BOOKKEEP, { foreign: true });
      fences[0]!.signal();
      const before = { num: resv.numFences, max: resv.maxFences, gen: resv.generation, refs: fences.map((f) => f.refcount) };
      const rule = rt.faults.failAlloc({ site: 'dma_resv_reserve_fences', times: 1 });
      expect(resv.reserveFences(2)).toBe(-12);
      expect(rt.faults.injected).toHaveLength(1);
      expect({ num: resv.numFences, max: resv.maxFences, gen: resv.generation, refs: fences.map((f) => f.refcount) }).toEqual(before);
      rule.remove();
      expect(resv.reserveFences(1)).toBe(0);
      expect(resv.numFences, 'the signalled fence is gone now').toBe(3);
      resv.unlock();
      // a reservation that fits needs no allocation: no fault even with a rule armed
      const other = new DmaResv({ runtime: rt });
      await other.lock();
      expect(other.reserveFences(4)).toBe(0);
      rt.faults.failAlloc({ site: 'dma_resv_reserve_fences' });
      expect(other.reserveFences(3)).toBe(0);
      expect(other.reserveFences(5)).toBe(-12);
      other.unlock();
    });
  });
});
