// The PREEMPT usage (preempt-fence RFC v1, rfc-designs B.1): ordering in iterators, in
// waitTimeout(PREEMPT) (drain the others, then enable every preempt fence at once, then
// wait), in getSingleton, and copy/replace/promotion rules.
import { DmaFenceArray, DmaFenceChain, FenceFlag, contextAlloc, DmaFence, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence, selftestOps } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage } from './index.js';

const { KERNEL, WRITE, READ, BOOKKEEP, PREEMPT } = DmaResvUsage;

/** Ops that log `name@time` when signalling is enabled and, if `lat` is given, signal `lat` ms later. */
function timedOps(rt: Runtime, name: string, log: string[], lat?: number): DmaFenceOps {
  return {
    getDriverName: () => 'test',
    getTimelineName: () => name,
    enableSignaling: (f) => {
      log.push(`${name}@${rt.now()}`);
      if (lat !== undefined) {
        rt.spawn(`complete ${name}`, async () => {
          await rt.sleep(lat);
          (f).signal();
        });
      }
      return true;
    },
  };
}

async function add(resv: DmaResv, entries: ReadonlyArray<readonly [Fence, DmaResvUsage]>): Promise<void> {
  await resv.lock();
  resv.reserveFences(entries.length);
  for (const [f, u] of entries) resv.addFence(f, u, { foreign: true });
  resv.unlock();
}

describe('PREEMPT in the iterators', () => {
  it('preempt fences come last in every walk, whatever the order they were added in; BOOKKEEP excludes them', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const [p1, k, w, p2, b] = [freshFence(rt), freshFence(rt), freshFence(rt), freshFence(rt), freshFence(rt)];
      await add(resv, [
        [p1, PREEMPT],
        [k, KERNEL],
        [w, WRITE],
        [p2, PREEMPT],
        [b, BOOKKEEP],
      ]);
      await resv.lock();
      const c = resv.iterBegin(PREEMPT);
      const lockedWalk: Array<[Fence, DmaResvUsage]> = [];
      for (const f of c.locked()) lockedWalk.push([f, c.usage]);
      expect(lockedWalk).toEqual([
        [k, KERNEL],
        [w, WRITE],
        [b, BOOKKEEP],
        [p1, PREEMPT],
        [p2, PREEMPT],
      ]);
      expect([...resv.forEachFence(BOOKKEEP)]).toEqual([k, w, b]);
      resv.unlock();
      const u = resv.iterBegin(PREEMPT);
      expect([...u.unlocked()]).toEqual([k, w, b, p1, p2]);
      const got = resv.getFences(PREEMPT);
      expect(got).toEqual([k, w, b, p1, p2]);
      for (const f of got) f.put();
      expect(resv.testSignaled(BOOKKEEP)).toBe(false);
      for (const f of [k, w, b]) f.signal();
      expect(resv.testSignaled(BOOKKEEP)).toBe(true);
      expect(resv.testSignaled(PREEMPT)).toBe(false);
      expect(p1.testFlag(FenceFlag.ENABLE_SIGNAL) || p2.testFlag(FenceFlag.ENABLE_SIGNAL), 'no query enabled a preempt fence').toBe(false);
    });
  });

  it('describe shows neither BOOKKEEP nor PREEMPT', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      await add(resv, [
        [freshFence(rt), PREEMPT],
        [freshFence(rt), WRITE],
      ]);
      await resv.lock();
      expect(resv.describe().split('\n')).toEqual([expect.stringMatching(/^\twrite fence:/)]);
      resv.unlock();
    });
  });
});

describe('waitTimeout(PREEMPT)', () => {
  it('drains every other fence (even ones added meanwhile), then enables all preempt fences at once, then waits for them', async () => {
    const rt = new Runtime();
    const log: string[] = [];
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const mk = (name: string, lat?: number) => new DmaFence(timedOps(rt, name, log, lat), contextAlloc(1, rt), 1n, { runtime: rt });
      const p1 = mk('P1', 1);
      const n1 = mk('N1');
      const p2 = mk('P2', 1);
      const n2 = mk('N2');
      const n3 = mk('N3');
      await add(resv, [
        [p1, PREEMPT],
        [n1, WRITE],
        [p2, PREEMPT],
        [n2, BOOKKEEP],
      ]);
      rt.spawn('world', async () => {
        await rt.sleep(2);
        n1.signal();
        await rt.sleep(3);
        await add(resv, [[n3, BOOKKEEP]]); // t=5: a new job while the others drain
        await rt.sleep(1);
        n2.signal(); // t=6
        await rt.sleep(2);
        n3.signal(); // t=8
      });
      expect(await resv.waitTimeout(PREEMPT, 100)).toBe(91);
      expect(rt.now()).toBe(9);
    });
    expect(log).toEqual(['N1@0', 'N2@2', 'N3@6', 'P1@8', 'P2@8']);
  });

  it('timeout 0 with other fences pending: 0, and no preempt fence enabled', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const p = freshFence(rt);
      const n = freshFence(rt);
      await add(resv, [
        [p, PREEMPT],
        [n, READ],
      ]);
      expect(await resv.waitTimeout(PREEMPT, 0)).toBe(0);
      expect(p.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
      n.signal();
      expect(await resv.waitTimeout(PREEMPT, 0)).toBe(0);
      expect(p.testFlag(FenceFlag.ENABLE_SIGNAL), 'now the preempt fence is enabled').toBe(true);
      p.signal();
      expect(await resv.waitTimeout(PREEMPT, 0)).toBe(1);
    });
  });

  it('a BOOKKEEP wait never touches the preempt fences', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const p = freshFence(rt);
      const n = freshFence(rt);
      await add(resv, [
        [p, PREEMPT],
        [n, BOOKKEEP],
      ]);
      n.signal();
      expect(await resv.waitTimeout(BOOKKEEP, 10)).toBe(10);
      expect(p.testFlag(FenceFlag.ENABLE_SIGNAL)).toBe(false);
    });
  });
});

describe('getSingleton(PREEMPT)', () => {
  it('both kinds: a two-point chain that enables the preempt fences only after the others signalled', async () => {
    const rt = new Runtime();
    const log: string[] = [];
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const mk = (name: string) => new DmaFence(timedOps(rt, name, log), contextAlloc(1, rt), 1n, { runtime: rt });
      const [p1, n1, p2, n2] = [mk('P1'), mk('N1'), mk('P2'), mk('N2')];
      await add(resv, [
        [p1, PREEMPT],
        [n1, WRITE],
        [p2, PREEMPT],
        [n2, BOOKKEEP],
      ]);
      const s = resv.getSingleton(PREEMPT)!;
      const head = DmaFenceChain.contained(s);
      expect(head).toBeInstanceOf(DmaFenceArray);
      expect((head as DmaFenceArray).fences).toEqual([n1, n2]);
      s.enableSwSignaling();
      await rt.yield();
      expect(log).toEqual(['N1@0', 'N2@0']);
      n1.signal();
      await rt.sleep(1);
      expect(log, 'one other fence still pending').toEqual(['N1@0', 'N2@0']);
      n2.signal();
      await rt.sleep(1);
      expect(log, 'enabled at the instant the last other fence signalled (t=1), together').toEqual(['N1@0', 'N2@0', 'P1@1', 'P2@1']);
      expect(s.isSignaled()).toBe(false);
      p1.signal();
      p2.signal();
      await rt.sleep(1);
      expect(s.testSignaledFlag()).toBe(true);
      s.put();
    });
  });

  it('only preempt fences: the plain array; without PREEMPT in the query they are not part of it', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const [p1, p2] = [freshFence(rt), freshFence(rt)];
      await add(resv, [
        [p1, PREEMPT],
        [p2, PREEMPT],
      ]);
      const s = resv.getSingleton(PREEMPT)!;
      expect(s).toBeInstanceOf(DmaFenceArray);
      expect((s as DmaFenceArray).fences).toEqual([p1, p2]);
      s.put();
      expect(resv.getSingleton(BOOKKEEP)).toBeNull();
    });
  });
});

describe('PREEMPT and the writers', () => {
  it('promotion out of PREEMPT works, demotion into it does not', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const f = freshFence(rt);
      await resv.lock();
      resv.reserveFences(2);
      resv.addFence(f, PREEMPT, { foreign: true });
      resv.addFence(f, BOOKKEEP, { foreign: true });
      expect(resv.numFences).toBe(1);
      const g = freshFence(rt);
      resv.addFence(g, BOOKKEEP, { foreign: true });
      resv.addFence(g, PREEMPT, { foreign: true });
      expect(resv.numFences, 'PREEMPT is weaker than BOOKKEEP: own slot').toBe(3);
      const c = resv.iterBegin(PREEMPT);
      const walk: Array<[Fence, DmaResvUsage]> = [];
      for (const x of c.locked()) walk.push([x, c.usage]);
      expect(walk).toEqual([
        [f, BOOKKEEP],
        [g, BOOKKEEP],
        [g, PREEMPT],
      ]);
      resv.unlock();
    });
  });

  it('replaceFences: a preempt fence replaced by a page-table-update fence (the kernel-doc example)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, preempt: true });
      const ctx = contextAlloc(1, rt);
      const p = new DmaFence(selftestOps, ctx, 1n, { runtime: rt });
      await add(resv, [[p, PREEMPT]]);
      const pt = freshFence(rt);
      await resv.lock();
      resv.replaceFences(ctx, pt, KERNEL);
      expect([...resv.forEachFence(KERNEL)]).toEqual([pt]);
      resv.unlock();
      expect(p.refcount).toBe(1);
    });
  });

  it('copyFences copies PREEMPT fences, into a resv that allows them only', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const src = new DmaResv({ runtime: rt, preempt: true });
      const [p, n] = [freshFence(rt), freshFence(rt)];
      await add(src, [
        [p, PREEMPT],
        [n, WRITE],
      ]);
      const dst = new DmaResv({ runtime: rt, preempt: true });
      await dst.lock();
      expect(dst.copyFences(src)).toBe(0);
      const c = dst.iterBegin(PREEMPT);
      const walk: Array<[Fence, DmaResvUsage]> = [];
      for (const x of c.locked()) walk.push([x, c.usage]);
      expect(walk).toEqual([
        [n, WRITE],
        [p, PREEMPT],
      ]);
      dst.unlock();
      const plain = new DmaResv({ runtime: rt });
      const keep = freshFence(rt);
      await add(plain, [[keep, WRITE]]);
      await plain.lock();
      expect(() => plain.copyFences(src)).toThrow(/PREEMPT/);
      expect([...plain.forEachFence(PREEMPT)]).toEqual([keep]);
      expect([p.refcount, n.refcount], 'no reference left behind').toEqual([3, 3]);
      plain.unlock();
    });
  });
});
