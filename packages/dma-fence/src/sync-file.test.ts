// SyncFile (kernel-api.md A5): create, get_fence, name, merge, FILE_INFO, deadlines, poll,
// close, INACTIVE and bad input.
import { Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { DmaFence, DmaFenceArray, EPOLLIN, SyncFile, contextAlloc, type DmaFenceOps, type Fence } from './index.js';

const ops: DmaFenceOps = { getDriverName: () => 'drv', getTimelineName: () => 'ring0' };

function fence(rt: Runtime, context?: bigint, seqno = 1n): DmaFence {
  return new DmaFence(ops, context ?? contextAlloc(1, rt), seqno, { runtime: rt });
}

describe('SyncFile', () => {
  it('create takes its own reference; getFence hands out new ones; close drops it', () => {
    const rt = new Runtime();
    const f = fence(rt);
    const file = SyncFile.create(f);
    expect(f.refcount).toBe(2);
    expect(file.fence).toBe(f);
    const g = file.getFence();
    expect(g).toBe(f);
    expect(f.refcount).toBe(3);
    g.put();
    file.close();
    expect(f.refcount).toBe(1);
    expect(file.closed).toBe(true);
    expect(() => file.getFence()).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
    expect(() => file.close()).toThrow(/closed/);
  });

  it('name: "<driver>-<timeline><context>-<seqno>", or the merge name (31 characters at most)', () => {
    const rt = new Runtime();
    const f = fence(rt, 42n, 7n);
    const file = SyncFile.create(f);
    expect(file.name()).toBe('drv-ring042-7');
    const merged = file.merge(SyncFile.create(fence(rt)), { name: 'x'.repeat(40) });
    expect(merged.name()).toBe('x'.repeat(31));
  });

  it('merge: a new file over unwrapMerge of both fences; both stay valid', () => {
    const rt = new Runtime();
    const [a, b, c] = [fence(rt, 10n), fence(rt, 11n), fence(rt, 10n, 2n)];
    const fa = SyncFile.create(DmaFenceArray.create([a.get(), b.get()], contextAlloc(1, rt), 1n));
    const fc = SyncFile.create(c);
    const m = fa.merge(fc, { name: 'merged' });
    const leaves = m.info({ numFences: 2 }).fences;
    expect(leaves).toHaveLength(2);
    // Sorted by context, latest per context: c (10:2) replaces a (10:1).
    expect(DmaFenceArray.first(m.fence)).toBe(c);
    expect(DmaFenceArray.next(m.fence, 1)).toBe(b);
    expect(fa.closed || fc.closed).toBe(false);
    expect(fa.getFence()).toBeDefined();
  });

  it('merge rejects flags, pad (EINVAL) and a second file that is not an open sync_file (ENOENT)', () => {
    const rt = new Runtime();
    const a = SyncFile.create(fence(rt));
    const b = SyncFile.create(fence(rt));
    expect(() => a.merge(b, { flags: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => a.merge(b, { pad: 2 })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
    expect(() => a.merge({} as SyncFile)).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
    b.close();
    expect(() => a.merge(b)).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });

  it('merge under allocation failure: ENOMEM, nothing changed', () => {
    const rt = new Runtime();
    const [x, y] = [fence(rt), fence(rt)];
    const a = SyncFile.create(x);
    const b = SyncFile.create(y);
    rt.faults.failAlloc({ site: 'dma_fence_array_alloc', nth: 1 });
    expect(() => a.merge(b)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
    expect([x.refcount, y.refcount]).toEqual([2, 2]);
  });

  describe('info (SYNC_IOC_FILE_INFO)', () => {
    it('numFences = 0: only the leaf count and the overall status', () => {
      const rt = new Runtime();
      const ms = [fence(rt), fence(rt), fence(rt)];
      const file = SyncFile.create(DmaFenceArray.create(ms.map((f) => f.get()), contextAlloc(1, rt), 1n));
      expect(file.info({ numFences: 0 })).toEqual({ name: file.name(), status: 0, numFences: 3, fences: [] });
    });

    it('too small a buffer: EINVAL; flags/pad: EINVAL', () => {
      const rt = new Runtime();
      const file = SyncFile.create(DmaFenceArray.create([fence(rt), fence(rt)], contextAlloc(1, rt), 1n));
      expect(() => file.info({ numFences: 1 })).toThrow(/room for 1 fences but the sync_file has 2/);
      expect(() => file.info({ numFences: 2, flags: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
      expect(() => file.info({ numFences: 2, pad: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
      expect(() => file.info({ numFences: -1 })).toThrow(/non-negative/);
    });

    it('per leaf: status, and the timestamp only once signalled; overall: the first status ≤ 0, else 1', async () => {
      const rt = new Runtime();
      const [a, b, c] = [fence(rt), fence(rt), fence(rt)];
      const file = SyncFile.create(DmaFenceArray.create([a.get(), b.get(), c.get()], contextAlloc(1, rt), 1n));
      await rt.advance(5);
      a.signal();
      let info = file.info({ numFences: 3 });
      expect(info.fences.map((l) => [l.status, l.timestamp])).toEqual([
        [1, 5],
        [0, 0],
        [0, 0],
      ]);
      expect(info.status).toBe(0);
      expect(info.fences[0]).toMatchObject({ objName: 'signaled-timeline', driverName: 'detached-driver' });
      expect(info.fences[1]).toMatchObject({ objName: 'ring0', driverName: 'drv' });
      b.setError(-5);
      b.signalTimestamp(7);
      c.signalTimestamp(9);
      info = file.info({ numFences: 3 });
      expect(info.fences.map((l) => [l.status, l.timestamp])).toEqual([
        [1, 5],
        [-5, 7],
        [1, 9],
      ]);
      expect(info.status).toBe(-5);
      c.put();
      const ok = SyncFile.create(a);
      expect(ok.info({ numFences: 1 }).status).toBe(1);
    });
  });

  it('setDeadline forwards to the fence; a non-zero pad is EINVAL', () => {
    const rt = new Runtime();
    const seen: number[] = [];
    const f = new DmaFence({ ...ops, setDeadline: (_f, d) => void seen.push(d) }, 1n, 1n, { runtime: rt });
    const file = SyncFile.create(f);
    file.setDeadline(12);
    expect(seen).toEqual([12]);
    expect(() => file.setDeadline(3, 1)).toThrow(/pad must be 0/);
    expect(seen).toEqual([12]);
  });

  it('poll arms a callback lazily and reports EPOLLIN once signalled; pollWait wakes at the signal', async () => {
    const rt = new Runtime();
    const f = fence(rt);
    const file = SyncFile.create(f);
    expect(f.testFlag(5 /* ENABLE_SIGNAL */)).toBe(false);
    expect(file.poll()).toBe(0);
    expect(f.testFlag(5)).toBe(true);
    let woke = -1;
    await rt.run(async () => {
      const t = rt.spawn('poller', async () => {
        const r = await file.pollWait();
        woke = rt.now();
        return r;
      }, { joinable: true });
      await rt.sleep(4);
      f.signal();
      expect(await t.join()).toBe(EPOLLIN);
      expect(await file.pollWait({ timeout: 0 })).toBe(EPOLLIN);
    });
    expect(woke).toBe(4);
    expect(file.poll()).toBe(EPOLLIN);
  });

  it('pollWait times out with 0 and is interruptible (-ERESTARTSYS)', async () => {
    const rt = new Runtime();
    const file = SyncFile.create(fence(rt));
    await rt.run(async () => {
      expect(await file.pollWait({ timeout: 10 })).toBe(0);
      expect(rt.now()).toBe(10);
      const ac = new AbortController();
      const p = file.pollWait({ signal: ac.signal });
      await rt.sleep(1);
      ac.abort();
      expect(await p).toBe(-512);
    });
    // close removes the armed poll callback: releasing the unsignalled fence afterwards is
    // not a "released with pending signals" WARN.
    const f = file.fence;
    file.close();
    expect(f.refcount).toBe(1);
    f.put();
    expect(f.testSignaledFlag()).toBe(false);
    expect(rt.reports.count()).toBe(0);
  });

  it('rejects an INACTIVE fence and non-fences with EINVAL, taking no reference', () => {
    const rt = new Runtime();
    const inactive = new DmaFence().initInactive(ops, 1n, 1n, { runtime: rt });
    expect(() => SyncFile.create(inactive)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/INACTIVE/) as string }) as Error);
    expect(inactive.refcount).toBe(1);
    expect(() => SyncFile.create({} as Fence)).toThrow(/expected a fence/);
    rt.faults.failAlloc({ site: 'sync_file_alloc', nth: 1 });
    const f = fence(rt);
    expect(() => SyncFile.create(f)).toThrow(expect.objectContaining({ code: 'ENOMEM' }) as Error);
    expect(f.refcount).toBe(1);
  });
});
