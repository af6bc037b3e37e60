// Syncobj container (kernel-api.md A6): binary and timeline use, find_fence with and
// without WAIT_FOR_SUBMIT (in virtual time), the host wait with WAIT_ALL / WAIT_AVAILABLE /
// deadlines, query, transfer, sync_file import/export, INACTIVE, lifetimes and ENOMEM.
import { DepWarning, MemoryTraceSink, Mutex, Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceChain,
  SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT,
  SyncFile,
  Syncobj,
  SyncobjCreateFlags,
  SyncobjQueryFlags,
  SyncobjWaitFlags,
  contextAlloc,
  getStub,
  isDmaFenceArray,
  toDmaFenceChain,
  unwrapForEach,
  type DmaFenceOps,
  type Fence,
} from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'q' };
const { WAIT_ALL, WAIT_FOR_SUBMIT, WAIT_AVAILABLE, WAIT_DEADLINE } = SyncobjWaitFlags;

function fence(rt: Runtime): DmaFence {
  return new DmaFence(ops, contextAlloc(1, rt), 1n, { runtime: rt });
}

/** A timeline syncobj with points 1…n over new fences. */
function timeline(rt: Runtime, n: number): { syncobj: Syncobj; fences: DmaFence[] } {
  const syncobj = Syncobj.create({ runtime: rt });
  const fences = Array.from({ length: n }, (_, i) => {
    const f = fence(rt);
    syncobj.addPoint(f, BigInt(i + 1));
    return f;
  });
  return { syncobj, fences };
}

describe('Syncobj', () => {
  describe('binary', () => {
    it('replaceFence / findFence(0) / signal / reset', async () => {
      const rt = new Runtime();
      const s = Syncobj.create({ runtime: rt });
      expect(s.fenceGet()).toBeNull();
      await expect(s.findFence(0n)).rejects.toThrow(/the syncobj is empty.*WAIT_FOR_SUBMIT/);
      const f = fence(rt);
      s.replaceFence(f);
      expect(f.refcount).toBe(2);
      const got = await s.findFence(0n);
      expect(got).toBe(f);
      got.put();
      await rt.advance(3);
      s.signal();
      expect(f.refcount, 'the old fence was put').toBe(1);
      const stub = s.fenceGet()!;
      expect([stub.isSignaled(), stub.timestamp(), stub.context]).toEqual([true, 3, 0n]);
      stub.put();
      s.reset();
      expect(s.fenceGet()).toBeNull();
      // A binary fence asked for a point > 0 is not a chain: no fence for it.
      s.replaceFence(f);
      await expect(s.findFence(1n)).rejects.toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    });

    it('create: SIGNALED flag, an initial fence, unknown flags', () => {
      const rt = new Runtime();
      expect(Syncobj.create({ runtime: rt, flags: SyncobjCreateFlags.SIGNALED }).fenceGet()!.isSignaled()).toBe(true);
      const f = fence(rt);
      const s = Syncobj.create({ fence: f });
      expect(s.runtime).toBe(rt);
      expect(f.refcount).toBe(2);
      expect(() => Syncobj.create({ runtime: rt, flags: 2 })).toThrow(/unknown flags/);
      rt.faults.failAlloc({ site: 'drm_syncobj_create', nth: 1 });
      expect(() => Syncobj.create({ fence: f })).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
      expect(f.refcount).toBe(2);
    });

    it('reference counted: the last put drops the fence; use after it is reported', () => {
      const rt = new Runtime();
      const f = fence(rt);
      const s = Syncobj.create({ fence: f });
      s.get();
      s.put();
      expect(f.refcount).toBe(2);
      s.put();
      expect(s.refcount).toBe(0);
      expect(f.refcount).toBe(1);
      expect(() => s.fenceGet()).toThrow(DepWarning);
      expect(rt.reports.list.at(-1)!.kind).toBe('use-after-free');
      const warnRt = new Runtime({ checks: 'warn' });
      const s2 = Syncobj.create({ runtime: warnRt });
      s2.put();
      expect(() => s2.replaceFence(null)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
    });
  });

  describe('timeline', () => {
    it('addPoint wraps each fence in a chain node; findFence(point) finds the node that signals it', async () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 3);
      const head = syncobj.fenceGet()!;
      const chain = toDmaFenceChain(head)!;
      expect([chain.seqno, chain.fence]).toEqual([3n, fences[2]]);
      head.put();
      const p2 = await syncobj.findFence(2n);
      expect([p2.seqno, toDmaFenceChain(p2)!.fence]).toEqual([2n, fences[1]]);
      p2.put();
      await expect(syncobj.findFence(4n)).rejects.toThrow(/point 4 .*not submitted yet/);
      // All signalled: the node was collected, and the stub stands for the point.
      for (const f of fences) f.signal();
      const p1 = await syncobj.findFence(1n);
      expect(p1).toBe(getStub(rt));
      expect(rt.reports.count()).toBe(0);
    });

    it('query: the last signalled point (in order only), or the last submitted one', () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 3);
      expect(syncobj.query()).toBe(0n);
      expect(syncobj.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(3n);
      fences[0]!.signal();
      expect(syncobj.query()).toBe(1n);
      fences[2]!.signal();
      expect(syncobj.query(), 'point 3 is not complete while 2 is pending').toBe(1n);
      fences[1]!.signal();
      expect(syncobj.query()).toBe(3n);
      expect(Syncobj.create({ fence: fence(rt) }).query()).toBe(0n);
      expect(() => syncobj.query(2)).toThrow(/unknown flags/);
    });

    it('an unordered point is only a debug message: the chain starts a new context', () => {
      const rt = new Runtime();
      const sink = new MemoryTraceSink();
      rt.trace.attach(sink);
      const { syncobj } = timeline(rt, 2);
      const before = syncobj.fenceGet()!;
      syncobj.addPoint(fence(rt), 1n);
      const after = syncobj.fenceGet()!;
      expect(sink.named('drm_syncobj:debug').map((r) => r.args.message)).toEqual(['You are adding an unorder point to timeline! (point 1 after 2)']);
      expect(after.context).not.toBe(before.context);
      expect(after.seqno).toBe(2n);
      // query stops at the context change.
      expect(syncobj.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(2n);
    });

    it('addPoint garbage-collects signalled points below the new head', () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 3);
      const n3 = toDmaFenceChain(syncobj.fenceGet())!;
      fences[0]!.signal();
      fences[1]!.signal();
      syncobj.addPoint(fence(rt), 4n);
      expect(n3.prev, 'points 1 and 2 were spliced out').toBeNull();
      n3.put();
    });

    it('timelineSignal adds a signalled point', () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 1);
      syncobj.timelineSignal(2n);
      expect(syncobj.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(2n);
      expect(syncobj.query()).toBe(0n);
      fences[0]!.signal();
      expect(syncobj.query()).toBe(2n);
    });
  });

  describe('WAIT_FOR_SUBMIT (find_fence)', () => {
    it('waits for the point to be submitted and resolves at that virtual instant', async () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 1);
      let at = -1;
      let found: Fence | null = null;
      await rt.run(async () => {
        const t = rt.spawn('waiter', async () => {
          found = await syncobj.findFence(2n, WAIT_FOR_SUBMIT);
          at = rt.now();
        }, { joinable: true });
        await rt.sleep(3);
        // Another point does not wake it for good.
        syncobj.replaceFence(fences[0]!);
        await rt.sleep(4);
        expect(at).toBe(-1);
        syncobj.addPoint(fence(rt), 1n);
        syncobj.addPoint(fence(rt), 2n);
        await t.join();
      });
      expect(at).toBe(7);
      expect(found!.seqno).toBe(2n);
      expect(syncobj.refcount, 'the wait dropped its reference').toBe(1);
    });

    it('times out with ETIME after 5 s of virtual time; an abort is ERESTARTSYS', async () => {
      const rt = new Runtime();
      const s = Syncobj.create({ runtime: rt });
      await rt.run(async () => {
        await expect(s.findFence(1n, WAIT_FOR_SUBMIT)).rejects.toThrow(expect.objectContaining({ code: 'ETIME' }) as Error);
        expect(rt.now()).toBe(SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT);
        const ac = new AbortController();
        const p = s.findFence(1n, WAIT_FOR_SUBMIT, { signal: ac.signal });
        await rt.sleep(10);
        ac.abort();
        await expect(p).rejects.toThrow(expect.objectContaining({ code: 'ERESTARTSYS' }) as Error);
        expect(rt.now()).toBe(SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT + 10);
      });
      expect(rt.reports.count()).toBe(0);
    });

    it('rejects unknown flags; waiting with a lock held is a lockdep report', async () => {
      const rt = new Runtime();
      const s = Syncobj.create({ runtime: rt });
      await expect(s.findFence(1n, WAIT_AVAILABLE)).rejects.toThrow(/unknown flags/);
      const m = new Mutex(rt, 'submit_lock');
      await rt.run(async () => {
        await m.lock();
        const { reports } = await rt.reports.captureAsync(() => s.findFence(0n, WAIT_FOR_SUBMIT, { timeout: 1 }).catch((e: unknown) => e));
        m.unlock();
        expect(reports.map((r) => r.kind)).toEqual(['lockdep']);
        expect(reports[0]!.details).toContain('held: submit_lock');
      });
    });
  });

  describe('host wait (drm_syncobj_array_wait_timeout)', () => {
    it('first signalled vs WAIT_ALL; ret is the remaining time', async () => {
      const rt = new Runtime();
      const [a, b] = [fence(rt), fence(rt)];
      const sa = Syncobj.create({ fence: a });
      const sb = Syncobj.create({ fence: b });
      await rt.run(async () => {
        const anyP = Syncobj.arrayWaitTimeout([sa, sb], null, 0, 100);
        const allP = Syncobj.arrayWaitTimeout([sa, sb], null, WAIT_ALL, 100);
        await rt.sleep(10);
        b.signal();
        expect(await anyP).toEqual({ ret: 90, first: 1 });
        await rt.sleep(10);
        a.signal();
        expect((await allP).ret).toBe(80);
        // Already signalled: no wait, the whole timeout is left; a poll succeeds with 0.
        expect(await Syncobj.arrayWaitTimeout([sa, sb], null, WAIT_ALL, 50)).toEqual({ ret: 50, first: 0 });
        expect(await Syncobj.arrayWaitTimeout([sa], null, 0, 0)).toEqual({ ret: 0, first: 0 });
      });
    });

    it('timeout: -ETIME; poll of an unsignalled fence: -ETIME at once; abort: -ERESTARTSYS', async () => {
      const rt = new Runtime();
      const s = Syncobj.create({ fence: fence(rt) });
      await rt.run(async () => {
        expect((await Syncobj.arrayWaitTimeout([s], null, 0, 0)).ret).toBe(-62);
        expect(rt.now()).toBe(0);
        expect((await Syncobj.arrayWaitTimeout([s], null, 0, 25)).ret).toBe(-62);
        expect(rt.now()).toBe(25);
        const ac = new AbortController();
        const p = Syncobj.arrayWaitTimeout([s], null, 0, Infinity, { signal: ac.signal });
        await rt.sleep(1);
        ac.abort();
        expect((await p).ret).toBe(-512);
      });
      // Every callback and reference the waits took is gone.
      const f = s.fenceGet()!;
      expect(f.refcount, 'the creator, the syncobj and this get').toBe(3);
      f.put();
    });

    it('no fence: EINVAL without WAIT_FOR_SUBMIT; with it, waits for submission and then for the signal', async () => {
      const rt = new Runtime();
      const s = Syncobj.create({ runtime: rt });
      await expect(Syncobj.arrayWaitTimeout([s], null, 0, 10)).rejects.toThrow(/no fence for point 0/);
      const f = fence(rt);
      await rt.run(async () => {
        const p = Syncobj.arrayWaitTimeout([s], null, WAIT_FOR_SUBMIT, 100);
        await rt.sleep(5);
        s.replaceFence(f);
        await rt.sleep(5);
        f.signal();
        expect(await p).toEqual({ ret: 90, first: 0 });
      });
    });

    it('WAIT_AVAILABLE resolves when the point exists, not when it signals', async () => {
      const rt = new Runtime();
      const { syncobj, fences } = timeline(rt, 1);
      let availableAt = -1;
      let signalledAt = -1;
      await rt.run(async () => {
        const avail = rt.spawn('avail', async () => {
          const r = await Syncobj.arrayWaitTimeout([syncobj], [3n], WAIT_AVAILABLE, Infinity);
          availableAt = rt.now();
          return r;
        }, { joinable: true });
        const signalled = rt.spawn('signalled', async () => {
          const r = await Syncobj.arrayWaitTimeout([syncobj], [3n], WAIT_FOR_SUBMIT, Infinity);
          signalledAt = rt.now();
          return r;
        }, { joinable: true });
        await rt.sleep(2);
        const p2 = fence(rt);
        syncobj.addPoint(p2, 2n);
        await rt.sleep(2);
        const p3 = fence(rt);
        syncobj.addPoint(p3, 3n);
        await rt.sleep(6);
        fences[0]!.signal();
        p3.signal();
        await rt.sleep(1);
        expect(signalledAt, 'point 3 also waits for point 2').toBe(-1);
        p2.signal();
        expect((await avail.join()).first).toBe(0);
        expect((await signalled.join()).ret).toBe(Infinity);
      });
      expect(availableAt).toBe(4);
      expect(signalledAt).toBe(11);
    });

    it('WAIT_DEADLINE sets the deadline on every fence before waiting', async () => {
      const rt = new Runtime();
      const seen: number[] = [];
      const f = new DmaFence({ ...ops, setDeadline: (_f, d) => void seen.push(d) }, 1n, 1n, { runtime: rt });
      const s = Syncobj.create({ fence: f });
      await rt.run(async () => {
        expect((await Syncobj.arrayWaitTimeout([s], null, WAIT_DEADLINE, 5, { deadline: 3 })).ret).toBe(-62);
      });
      expect(seen).toEqual([3]);
      await expect(Syncobj.arrayWaitTimeout([s], null, WAIT_DEADLINE, 5)).rejects.toThrow(/needs options.deadline/);
    });
  });

  describe('transfer', () => {
    it('timeline point → binary, and binary → timeline point', async () => {
      const rt = new Runtime();
      const { syncobj: tl, fences } = timeline(rt, 2);
      const bin = Syncobj.create({ runtime: rt });
      await Syncobj.transfer(tl, 2n, bin, 0n);
      const moved = bin.fenceGet()!;
      expect([moved.seqno, toDmaFenceChain(moved)!.fence]).toEqual([2n, fences[1]]);
      moved.put();
      const f = fence(rt);
      const bin2 = Syncobj.create({ fence: f });
      const tl2 = Syncobj.create({ runtime: rt });
      await Syncobj.transfer(bin2, 0n, tl2, 5n);
      const p5 = toDmaFenceChain(tl2.fenceGet())!;
      expect([p5.seqno, p5.fence]).toEqual([5n, f]);
    });

    it('timeline → timeline flattens the point with unwrapMerge (the pending leaves up to it)', async () => {
      const rt = new Runtime();
      const { syncobj: src, fences } = timeline(rt, 3);
      fences[0]!.signal();
      const dst = Syncobj.create({ runtime: rt });
      await Syncobj.transfer(src, 3n, dst, 1n);
      const node = toDmaFenceChain(dst.fenceGet())!;
      expect(isDmaFenceArray(node.fence)).toBe(true);
      expect(new Set(unwrapForEach(node.fence))).toEqual(new Set([fences[1], fences[2]]));
    });

    it('WAIT_FOR_SUBMIT waits for the source point; ENOMEM leaves the destination as it was', async () => {
      const rt = new Runtime();
      const src = Syncobj.create({ runtime: rt });
      const dst = Syncobj.create({ runtime: rt });
      await rt.run(async () => {
        const p = Syncobj.transfer(src, 1n, dst, 7n, WAIT_FOR_SUBMIT);
        await rt.sleep(2);
        src.addPoint(fence(rt), 1n);
        await p;
      });
      expect(dst.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(7n);
      const head = dst.fenceGet()!;
      rt.faults.failAlloc({ site: 'dma_fence_chain_alloc', nth: 1 });
      await expect(Syncobj.transfer(src, 1n, dst, 8n)).rejects.toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
      expect(dst.fenceGet()).toBe(head);
      await expect(Syncobj.transfer(src, 2n, dst, 8n)).rejects.toThrow(/not submitted yet/);
    });
  });

  it('sync_file export is a snapshot; import installs the fence (as a point or binary)', () => {
    const rt = new Runtime();
    const { syncobj, fences } = timeline(rt, 2);
    const file = syncobj.exportSyncFile(1n);
    expect(toDmaFenceChain(file.fence)!.fence).toBe(fences[0]);
    syncobj.reset();
    expect(toDmaFenceChain(file.fence)!.seqno).toBe(1n);
    expect(() => syncobj.exportSyncFile(1n)).toThrow(/no fence for point 1/);
    const other = Syncobj.create({ runtime: rt });
    other.importSyncFile(SyncFile.create(fences[1]!), 4n);
    expect(other.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(4n);
    other.importSyncFile(file);
    expect(other.fenceGet()).toBe(file.fence);
  });

  describe('INACTIVE and bad input: EINVAL, nothing changed', () => {
    it('replaceFence, addPoint and create reject an INACTIVE fence', () => {
      const rt = new Runtime();
      const { syncobj } = timeline(rt, 1);
      const head = syncobj.fenceGet()!;
      const inactive = new DmaFence().initInactive(ops, 77n, 1n, { runtime: rt });
      expect(() => syncobj.replaceFence(inactive)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/INACTIVE/) as string }) as Error);
      expect(() => syncobj.addPoint(inactive, 2n)).toThrow(/INACTIVE/);
      expect(() => Syncobj.create({ fence: inactive })).toThrow(/INACTIVE/);
      expect(syncobj.fenceGet()).toBe(head);
      expect(inactive.refcount).toBe(1);
      expect(syncobj.query(SyncobjQueryFlags.LAST_SUBMITTED)).toBe(1n);
    });

    it('bad points, foreign fences, a used chain node, ENOMEM for the node', () => {
      const rt = new Runtime();
      const s = Syncobj.create({ runtime: rt });
      const f = fence(rt);
      expect(() => s.addPoint(f, -1n)).toThrow(/point must be a bigint/);
      expect(() => s.addPoint(fence(new Runtime()), 1n)).toThrow(/another runtime/);
      const used = DmaFenceChain.create(null, fence(rt), 1n);
      expect(() => s.addPoint(f, 1n, used)).toThrow(/fresh node/);
      rt.faults.failAlloc({ site: 'dma_fence_chain_alloc', nth: 1 });
      expect(() => s.addPoint(f, 1n)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
      expect(s.fenceGet()).toBeNull();
      expect(f.refcount).toBe(1);
      const pre = DmaFenceChain.alloc(rt);
      s.addPoint(f, 1n, pre);
      expect(s.fenceGet()).toBe(pre);
    });
  });
});
