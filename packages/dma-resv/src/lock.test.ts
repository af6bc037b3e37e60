// Locking: the ww-mutex API of a resv (EDEADLK / EALREADY exactly as wait-die), queries,
// and the lockdep wiring (priming, resv lock in a signalling section, waits under a resv,
// the signalling section begun by addFence), fini.
import { beginSignalling, endSignalling } from '@dep/dma-fence';
import { GFP_KERNEL, Runtime, WwAcquireCtx, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { freshFence } from './__fixtures__/fences.js';
import { DmaResv, DmaResvUsage, RESV_LOCK_CLASS, reservationWwClass } from './index.js';

const { WRITE, READ } = DmaResvUsage;

describe('locking', () => {
  it('lock / unlock / trylock and the queries', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt, name: 'bo' });
      expect(resv.isLocked).toBe(false);
      expect(await resv.lock()).toBe(0);
      expect(resv.isLocked).toBe(true);
      expect(resv.lockingCtx).toBeNull();
      expect(resv.owner).toBe(rt.current);
      expect(resv.held()).toBe(true);
      resv.assertHeld();
      const other = rt.spawn('other', () => {
        expect(resv.held()).toBe(false);
        expect(resv.trylock()).toBe(false);
        const { reports } = rt.reports.capture(() => resv.assertHeld());
        expect(reports.map((r) => r.kind)).toEqual(['lockdep']);
        expect(() => resv.unlock()).toThrow(/EPERM/);
      });
      await other.join();
      expect(resv.isLocked, 'a failed unlock changed nothing').toBe(true);
      resv.unlock();
      expect(resv.trylock()).toBe(true);
      resv.unlock();
      const ctx = new WwAcquireCtx(rt, reservationWwClass(rt));
      expect(await resv.lock(ctx)).toBe(0);
      expect(resv.lockingCtx).toBe(ctx);
      expect(await resv.lock(ctx), 'EALREADY: this context holds it').toBe(-114);
      resv.unlock();
      ctx.fini();
    });
    expect(rt.reports.list.filter((r) => r.kind !== 'lockdep')).toEqual([]);
  });

  it('EDEADLK: the younger context backs off (unlock all, lockSlow the contended one) and both finish', async () => {
    const rt = new Runtime();
    const log: string[] = [];
    await rt.run(async () => {
      const r1 = new DmaResv({ runtime: rt, name: 'r1' });
      const r2 = new DmaResv({ runtime: rt, name: 'r2' });
      const cls = reservationWwClass(rt);
      const a = rt.spawn('A', async () => {
        const ctx = new WwAcquireCtx(rt, cls); // older
        expect(await r1.lock(ctx)).toBe(0);
        await rt.sleep(5);
        const r = await r2.lock(ctx); // B holds it; A is older: waits
        log.push(`A r2 -> ${r} at ${rt.now()}`);
        await rt.sleep(1);
        r2.unlock();
        r1.unlock();
        ctx.fini();
        log.push('A done');
      });
      const b = rt.spawn('B', async () => {
        await rt.sleep(1);
        const ctx = new WwAcquireCtx(rt, cls); // younger
        expect(await r2.lock(ctx)).toBe(0);
        await rt.sleep(5);
        const r = await r1.lock(ctx); // A (older) holds it: B must die
        log.push(`B r1 -> ${r}`);
        expect(r).toBe(-35);
        r2.unlock(); // back off: everything held under ctx
        await r1.lockSlow(ctx);
        log.push(`B slow r1 at ${rt.now()}`);
        expect(await r2.lock(ctx)).toBe(0);
        r1.unlock();
        r2.unlock();
        ctx.fini();
        log.push('B done');
      });
      await a.join();
      await b.join();
    });
    expect(log).toEqual(['B r1 -> -35', 'A r2 -> 0 at 6', 'A done', 'B slow r1 at 7', 'B done']);
  });

  it('an interruptible lock returns -EINTR when its signal fires while waiting', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      const ac = new AbortController();
      const waiter = rt.spawn('waiter', () => resv.lockInterruptible(null, { signal: ac.signal }));
      await rt.sleep(3);
      ac.abort();
      expect(await waiter.join()).toBe(-4);
      resv.unlock();
      expect(resv.isLocked).toBe(false);
    });
  });

  it('lockSlowInterruptible: -EINTR when interrupted on the slow path, 0 once held', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const [r1, r2] = [new DmaResv({ runtime: rt }), new DmaResv({ runtime: rt })];
      const cls = reservationWwClass(rt);
      const older = new WwAcquireCtx(rt, cls);
      expect(await r1.lock(older)).toBe(0);
      const t = rt.spawn('younger', async () => {
        const ctx = new WwAcquireCtx(rt, cls);
        expect(await r2.lock(ctx)).toBe(0);
        expect(await r1.lock(ctx)).toBe(-35);
        r2.unlock();
        const ac = new AbortController();
        rt.spawn('interrupt', async () => {
          await rt.sleep(2);
          ac.abort();
        });
        const first = await r1.lockSlowInterruptible(ctx, { signal: ac.signal });
        expect(r1.owner).not.toBe(rt.current);
        const second = await r1.lockSlowInterruptible(ctx);
        r1.unlock();
        ctx.fini();
        return [first, second, rt.now()];
      });
      await rt.sleep(5);
      r1.unlock();
      older.fini();
      expect(await t.join()).toEqual([-4, 0, 5]);
    });
  });

  it('two resvs without a context nest the same class: lockdep reports recursive locking', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const a = new DmaResv({ runtime: rt });
      const b = new DmaResv({ runtime: rt });
      await a.lock();
      const { reports } = await rt.reports.captureAsync(() => b.lock());
      expect(reports.map((r) => r.message)).toEqual([expect.stringMatching(/recursive locking/)]);
      b.unlock();
      a.unlock();
    });
  });
});

describe('lockdep wiring', () => {
  it('primes the boot order once per runtime: mmap_lock -> dma_resv -> fs_reclaim -> dma_fence_map', () => {
    const rt = new Runtime();
    expect(rt.lockdep.dependsOn(RESV_LOCK_CLASS, 'dma_fence_map')).toBe(false);
    new DmaResv({ runtime: rt });
    new DmaResv({ runtime: rt });
    expect(rt.lockdep.dependsOn('mmap_lock', RESV_LOCK_CLASS)).toBe(true);
    expect(rt.lockdep.dependsOn(RESV_LOCK_CLASS, 'fs_reclaim')).toBe(true);
    expect(rt.lockdep.dependsOn(RESV_LOCK_CLASS, 'dma_fence_map')).toBe(true);
    expect(rt.lockdep.dependsOn('dma_fence_map', RESV_LOCK_CLASS)).toBe(false);
  });

  it('taking a resv lock inside a signalling section is a lockdep report', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      const cookie = beginSignalling(rt);
      const { reports } = await rt.reports.captureAsync(() => resv.lock());
      endSignalling(cookie, rt);
      resv.unlock();
      expect(reports.map((r) => r.kind)).toEqual(['lockdep']);
      expect(reports[0]!.message).toMatch(/circular locking/);
    });
  });

  it('waiting on a fence while holding a resv is legal', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      const f = freshFence(rt);
      await resv.lock();
      rt.spawn('signaller', async () => {
        await rt.sleep(2);
        f.signal();
      });
      expect(await f.waitTimeout(100)).toBeGreaterThan(0);
      expect(await resv.waitTimeout(READ, 100)).toBeGreaterThan(0);
      resv.unlock();
    });
    expect(rt.reports.count()).toBe(0);
  });

  it('addFence begins a signalling section until the unlock: a GFP_KERNEL allocation in it is reported', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(2);
      rt.alloc(GFP_KERNEL, 'before publishing'); // fine
      resv.addFence(freshFence(rt), WRITE);
      expect(rt.lockdep.inSignallingSection()).toBe(true);
      const { reports } = rt.reports.capture(() => rt.alloc(GFP_KERNEL, 'after publishing'));
      expect(reports.map((r) => r.message)).toEqual([expect.stringMatching(/inside a dma-fence signalling section/)]);
      resv.addFence(freshFence(rt), WRITE); // nests, one section per resv
      resv.unlock();
      expect(rt.lockdep.inSignallingSection()).toBe(false);
      rt.alloc(GFP_KERNEL, 'after the unlock'); // fine again
    });
  });

  it('no section for a foreign fence, nor for one already signalled', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(2);
      resv.addFence(freshFence(rt), READ, { foreign: true });
      const done = freshFence(rt);
      done.signal();
      resv.addFence(done, READ);
      expect(rt.lockdep.inSignallingSection()).toBe(false);
      rt.alloc(GFP_KERNEL, 'still allowed');
      resv.unlock();
    });
    expect(rt.reports.count()).toBe(0);
  });

  it('sections of several resvs nest and end with the last unlock, in any order', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, reservationWwClass(rt));
      const a = new DmaResv({ runtime: rt });
      const b = new DmaResv({ runtime: rt });
      await a.lock(ctx);
      await b.lock(ctx);
      a.reserveFences(1);
      b.reserveFences(1);
      const job = freshFence(rt);
      a.addFence(job, WRITE);
      b.addFence(job, READ);
      a.unlock();
      expect(rt.lockdep.inSignallingSection()).toBe(true);
      b.unlock();
      expect(rt.lockdep.inSignallingSection()).toBe(false);
      ctx.fini();
    });
    expect(rt.reports.count()).toBe(0);
  });

  it('after addFence, locking another resv under the same context is reported (lock everything first)', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const ctx = new WwAcquireCtx(rt, reservationWwClass(rt));
      const a = new DmaResv({ runtime: rt, name: 'a' });
      const b = new DmaResv({ runtime: rt, name: 'b' });
      await a.lock(ctx);
      a.reserveFences(1);
      a.addFence(freshFence(rt), WRITE);
      const { reports } = await rt.reports.captureAsync(() => b.lock(ctx));
      expect(reports.map((r) => r.message)).toEqual([expect.stringMatching(/dma_resv_lock\(b\) inside a fence signalling section/)]);
      b.unlock();
      a.unlock();
      ctx.fini();
    });
  });

  it('waiting on a resv inside the section addFence began is reported', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      await resv.lock();
      resv.reserveFences(1);
      const f = freshFence(rt);
      resv.addFence(f, WRITE);
      const { reports } = await rt.reports.captureAsync(() => resv.waitTimeout(WRITE, 0));
      expect(reports.map((r) => r.message)).toContainEqual(expect.stringMatching(/wait inside a fence signalling section/));
      resv.unlock();
    });
  });
});

describe('dma_resv_fini', () => {
  it('refuses a locked resv (WARN, EBUSY), then makes every call EINVAL', async () => {
    const rt = new Runtime();
    await rt.run(async () => {
      const resv = new DmaResv({ runtime: rt });
      const f = freshFence(rt);
      await resv.lock();
      resv.reserveFences(1);
      resv.addFence(f, READ, { foreign: true });
      const { result, reports } = rt.reports.capture(() => {
        try {
          resv.fini();
          return null;
        } catch (e) {
          return e;
        }
      });
      expect(isDepError(result, 'EBUSY')).toBe(true);
      expect(reports.map((r) => r.kind)).toEqual(['warn']);
      expect(f.refcount).toBe(2);
      resv.unlock();
      resv.fini();
      expect(resv.isFinished).toBe(true);
      expect(f.refcount).toBe(1);
      expect(() => resv.fini()).toThrow(/EINVAL/);
      expect(() => resv.testSignaled(READ)).toThrow(/EINVAL/);
      await expect(resv.lock()).rejects.toThrow(/EINVAL/);
      expect(() => resv.iterBegin(READ)).toThrow(/EINVAL/);
    });
  });

  it('the options are validated', () => {
    const rt = new Runtime();
    expect(() => new DmaResv({ runtime: rt, name: '' })).toThrow(/EINVAL/);
    expect(() => new DmaResv({ runtime: rt, preempt: 1 as unknown as boolean })).toThrow(/EINVAL/);
    expect(() => new DmaResv(null as unknown as object)).toThrow(/EINVAL/);
    expect(new DmaResv({ runtime: rt }).name).toMatch(/^resv\d+$/);
  });
});
