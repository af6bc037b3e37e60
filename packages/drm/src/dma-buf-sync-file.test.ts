// DMA_BUF_IOCTL_EXPORT_SYNC_FILE / DMA_BUF_IOCTL_IMPORT_SYNC_FILE on a DmaBufFd: which
// usages export picks for READ and WRITE, the stub when nothing is pending, import's usage
// and unwrapping, every bad argument (flags, fds) and allocation failure leaving the resv
// and the device as they were, and the Mesa round trip across two devices.
import { SyncFile, unwrapForEach, type DmaFence, type Fence } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { errnoOf, type Runtime } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { newFence, secondDevice, setup } from './__fixtures__/setup.js';
import { DMA_BUF_EXPORT_SYNC_FILE, DMA_BUF_IMPORT_SYNC_FILE, DmaBufSyncFlags } from './dma-buf-sync-file.js';
import type { DrmFile } from './file.js';
import type { DmaBufFd } from './prime.js';

const { READ, WRITE, RW } = DmaBufSyncFlags;

function nonWarn(reports: readonly { kind: string }[]): unknown[] {
  return reports.filter((r) => r.kind !== 'warn');
}

/** A BO of `file` exported as a dma-buf fd. */
async function exported(file: DrmFile): Promise<{ handle: number; fd: DmaBufFd }> {
  const { handle } = await file.gemCreate({ size: 4096n });
  const { fd } = await file.primeHandleToFd({ handle });
  return { handle, fd };
}

/** Add `fence` to the dma-buf's resv with `usage`, the way a driver's submit does. */
async function addToResv(fd: DmaBufFd, fence: Fence, usage: DmaResvUsage): Promise<void> {
  const resv = fd.dmaBuf.resv;
  await resv.lock();
  try {
    expect(resv.reserveFences(1)).toBe(0);
    resv.addFence(fence, usage, { foreign: true });
  } finally {
    resv.unlock();
  }
}

/** The leaves of a sync_file's fence. */
function leaves(sf: SyncFile): Fence[] {
  return [...unwrapForEach(sf.fence)];
}

/** The resv's fences of exactly `usage` (not the ceiling). */
function ofUsage(fd: DmaBufFd, usage: DmaResvUsage): Fence[] {
  const all = new Set(fd.dmaBuf.resv.getFences(usage));
  const below = usage === DmaResvUsage.KERNEL ? [] : fd.dmaBuf.resv.getFences((usage - 1) as DmaResvUsage);
  const out = [...all].filter((f) => !below.includes(f));
  for (const f of all) f.put();
  for (const f of below) f.put();
  return out;
}

function fences(rt: Runtime, n: number): DmaFence[] {
  return Array.from({ length: n }, () => newFence(rt));
}

describe('DMA_BUF_IOCTL_EXPORT_SYNC_FILE', () => {
  it('READ exports what a reader waits for (KERNEL + WRITE), WRITE and RW every fence up to READ, never BOOKKEEP', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle, fd } = await exported(a);
      const [kernel, write, read, bookkeep] = fences(rt, 4) as [DmaFence, DmaFence, DmaFence, DmaFence];
      await addToResv(fd, kernel, DmaResvUsage.KERNEL);
      await addToResv(fd, write, DmaResvUsage.WRITE);
      await addToResv(fd, read, DmaResvUsage.READ);
      await addToResv(fd, bookkeep, DmaResvUsage.BOOKKEEP);

      const r = (await fd.exportSyncFile({ flags: READ })).fd;
      expect(r).toBeInstanceOf(SyncFile);
      expect(new Set(leaves(r))).toEqual(new Set([kernel, write]));
      for (const flags of [WRITE, RW]) {
        const w = (await fd.exportSyncFile({ flags })).fd;
        expect(new Set(leaves(w)), `flags ${flags}`).toEqual(new Set([kernel, write, read]));
        w.close();
      }
      // The sync_file follows the fences: it signals once the last of them did, BOOKKEEP aside.
      expect(r.poll()).toBe(0);
      kernel.signal();
      expect(r.poll()).toBe(0);
      write.signal();
      expect(r.poll()).toBe(1);
      // A snapshot: fences added after the export are not part of it.
      const late = newFence(rt);
      await addToResv(fd, late, DmaResvUsage.WRITE);
      expect(r.fence.isSignaled()).toBe(true);
      const r2 = (await fd.exportSyncFile({ flags: READ })).fd;
      expect(leaves(r2)).toEqual([late]);
      expect(r2.fence, 'one pending fence is exported as itself').toBe(late);
      for (const f of [read, bookkeep, late]) f.signal();
      for (const f of [kernel, write, read, bookkeep, late]) f.put();
      r.close();
      r2.close();
      fd.close();
      await a.gemClose({ handle });
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('nothing pending (no fences, or all signalled) exports the signalled stub', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { fd } = await exported(a);
      const empty = (await fd.exportSyncFile({ flags: RW })).fd;
      expect(empty.fence.isSignaled()).toBe(true);
      expect(empty.fence.context).toBe(0n);
      const f = newFence(rt);
      await addToResv(fd, f, DmaResvUsage.WRITE);
      f.signal();
      const done = (await fd.exportSyncFile({ flags: READ })).fd;
      expect(done.fence.isSignaled()).toBe(true);
      expect(done.fence).not.toBe(f);
      expect(done.fence.context, 'the stub, not the signalled fence').toBe(0n);
      f.put();
      empty.close();
      done.close();
      fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('bad flags are EINVAL, a closed fd EBADF, an allocation failure ENOMEM; nothing changes', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { fd } = await exported(a);
      const [x, y] = fences(rt, 2) as [DmaFence, DmaFence];
      await addToResv(fd, x, DmaResvUsage.WRITE);
      await addToResv(fd, y, DmaResvUsage.WRITE);
      const before = dev.snapshot();
      const refs = [x.refcount, y.refcount];
      expect(await errnoOf(fd.exportSyncFile({ flags: 0 })), 'neither READ nor WRITE').toBe('EINVAL');
      expect(await errnoOf(fd.exportSyncFile({})), 'flags absent is 0').toBe('EINVAL');
      expect(await errnoOf(fd.exportSyncFile({ flags: 4 })), 'DMA_BUF_SYNC_END is not an export flag').toBe('EINVAL');
      expect(await errnoOf(fd.exportSyncFile({ flags: READ | 8 }))).toBe('EINVAL');
      expect(await errnoOf(fd.exportSyncFile({ flags: READ, fd: 3 } as never)), 'fd is an output').toBe('EINVAL');
      for (const m of DMA_BUF_EXPORT_SYNC_FILE.mutations({ flags: READ })) {
        const errno = DMA_BUF_EXPORT_SYNC_FILE.expectedError(m.args);
        expect(errno, m.why).not.toBeNull();
        expect(await errnoOf(fd.exportSyncFile(m.args as never)), m.why).toBe(errno);
      }
      rt.faults.failAlloc({ site: 'sync_file_alloc', times: 1 });
      expect(await errnoOf(fd.exportSyncFile({ flags: READ }))).toBe('ENOMEM');
      rt.faults.failAlloc({ site: 'dma_fence_array_alloc', times: 1 });
      const arrayFail = await errnoOf(fd.exportSyncFile({ flags: READ }));
      expect(arrayFail, 'two fences make an array; its allocation fails').toBe('ENOMEM');
      expect(dev.snapshot()).toEqual(before);
      expect([x.refcount, y.refcount], 'no reference taken and kept').toEqual(refs);
      const other = (await exported(a)).fd;
      other.close();
      expect(await errnoOf(other.exportSyncFile({ flags: READ }))).toBe('EBADF');
      for (const f of [x, y]) {
        f.signal();
        f.put();
      }
      fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });
});

describe('DMA_BUF_IOCTL_IMPORT_SYNC_FILE', () => {
  it('WRITE (and RW) adds the fences as WRITE, READ as READ; a merged sync_file is added leaf by leaf', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { fd } = await exported(a);
      const [p, q, r] = fences(rt, 3) as [DmaFence, DmaFence, DmaFence];
      const sp = SyncFile.create(p);
      const sq = SyncFile.create(q);
      const merged = sp.merge(sq);
      await fd.importSyncFile({ flags: WRITE, fd: merged });
      expect(new Set(ofUsage(fd, DmaResvUsage.WRITE))).toEqual(new Set([p, q]));
      expect(fd.dmaBuf.resv.numFences, 'the array itself is never added').toBe(2);
      const sr = SyncFile.create(r);
      await fd.importSyncFile({ flags: READ, fd: sr });
      expect(ofUsage(fd, DmaResvUsage.READ)).toEqual([r]);
      // A reader now waits for p and q only, a writer for r too (what export reports back).
      const forReader = (await fd.exportSyncFile({ flags: READ })).fd;
      expect(new Set(leaves(forReader))).toEqual(new Set([p, q]));
      // RW imports as WRITE; importing a fence again with a stronger usage promotes it.
      await fd.importSyncFile({ flags: RW, fd: sr });
      expect(new Set(ofUsage(fd, DmaResvUsage.WRITE))).toEqual(new Set([p, q, r]));
      expect(ofUsage(fd, DmaResvUsage.READ)).toEqual([]);
      expect(merged.closed, 'the sync_file stays the caller\'s').toBe(false);
      for (const f of [p, q, r]) {
        f.signal();
        f.put();
      }
      for (const s of [sp, sq, merged, sr, forReader]) s.close();
      fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('the imported fences gate implicit sync: the resv reports busy until they signal', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { handle, fd } = await exported(a);
      const f = newFence(rt);
      const sf = SyncFile.create(f);
      await fd.importSyncFile({ flags: WRITE, fd: sf });
      const obj = a.gem.lookup(handle)!;
      expect(obj.resv.testSignaled(DmaResvUsage.WRITE)).toBe(false);
      let waited = -1;
      rt.spawn('reader', async () => {
        waited = await obj.resv.waitTimeout(DmaResvUsage.WRITE, Infinity);
      });
      await rt.sleep(3);
      expect(waited).toBe(-1);
      f.signal();
      await rt.sleep(0);
      expect(waited).toBeGreaterThan(0);
      f.put();
      sf.close();
      fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });

  it('bad flags and fds are EINVAL (flags first), a closed dma-buf fd EBADF, ENOMEM keeps the resv; nothing changes', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const a = dev.open();
      const { fd } = await exported(a);
      const f = newFence(rt);
      const sf = SyncFile.create(f);
      const before = dev.snapshot();
      expect(await errnoOf(fd.importSyncFile({ flags: 0, fd: sf }))).toBe('EINVAL');
      expect(await errnoOf(fd.importSyncFile({ fd: sf }))).toBe('EINVAL');
      expect(await errnoOf(fd.importSyncFile({ flags: 4, fd: sf }))).toBe('EINVAL');
      expect(await errnoOf(fd.importSyncFile({ flags: WRITE }))).toBe('EINVAL');
      expect(await errnoOf(fd.importSyncFile({ flags: WRITE, fd: fd as never })), 'a dma-buf fd is no sync_file').toBe('EINVAL');
      const closedSf = SyncFile.create(f);
      closedSf.close();
      expect(await errnoOf(fd.importSyncFile({ flags: WRITE, fd: closedSf }))).toBe('EINVAL');
      for (const m of DMA_BUF_IMPORT_SYNC_FILE.mutations({ flags: WRITE, fd: sf })) {
        const errno = DMA_BUF_IMPORT_SYNC_FILE.expectedError(m.args);
        expect(errno, m.why).not.toBeNull();
        expect(await errnoOf(fd.importSyncFile(m.args as never)), m.why).toBe(errno);
      }
      // The first reservation allocates the fence list: fail it.
      rt.faults.failAlloc({ site: 'dma_resv_reserve_fences', times: 1 });
      expect(await errnoOf(fd.importSyncFile({ flags: WRITE, fd: sf }))).toBe('ENOMEM');
      expect(fd.dmaBuf.resv.isLocked, 'unlocked on the error path').toBe(false);
      expect(dev.snapshot()).toEqual(before);
      // A full list must grow: fail that too, with fences in it that stay.
      const old = fences(rt, 4);
      for (const o of old) await addToResv(fd, o, DmaResvUsage.READ);
      expect(fd.dmaBuf.resv.numFences).toBe(fd.dmaBuf.resv.maxFences);
      const full = dev.snapshot();
      rt.faults.failAlloc({ site: 'dma_resv_reserve_fences', times: 1 });
      expect(await errnoOf(fd.importSyncFile({ flags: WRITE, fd: sf }))).toBe('ENOMEM');
      expect(dev.snapshot()).toEqual(full);
      expect(ofUsage(fd, DmaResvUsage.WRITE)).toEqual([]);
      expect(f.refcount, 'the sync_file\'s reference only').toBe(2);
      const spare = (await exported(a)).fd;
      spare.close();
      expect(await errnoOf(spare.importSyncFile({ flags: WRITE, fd: sf }))).toBe('EBADF');
      for (const o of [f, ...old]) {
        o.signal();
        o.put();
      }
      sf.close();
      fd.close();
      await a.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });
});

describe('implicit ↔ explicit sync across devices (the Mesa path)', () => {
  it('an explicit-sync writer imports its out-fence as WRITE on one device; the importer on another exports it for its read', async () => {
    const { rt, dev } = setup();
    const dev2 = secondDevice(rt);
    await rt.run(async () => {
      const writer = dev.open();
      const reader = dev2.open();
      const { handle, fd } = await exported(writer);
      const { handle: rh } = await reader.primeFdToHandle({ fd });
      // The writer's job fence went only to a syncobj (explicit sync): the resv knows nothing.
      const job = newFence(rt);
      const { handle: out } = await writer.syncobjCreate();
      const jobFile = SyncFile.create(job);
      await writer.syncobjFdToHandle({ fd: jobFile, handle: out, flags: 1 });
      jobFile.close();
      const robj = reader.gem.lookup(rh)!;
      expect(robj.resv.testSignaled(DmaResvUsage.WRITE), 'nothing to wait for yet').toBe(true);
      // Exporter side: syncobj → sync_file → IMPORT_SYNC_FILE(WRITE).
      const { fd: outFile } = await writer.syncobjHandleToFd({ handle: out, flags: 1 });
      await fd.importSyncFile({ flags: WRITE, fd: outFile });
      // Reader side (its own fd of the same dma-buf): EXPORT_SYNC_FILE(READ) → an in-syncobj.
      const { fd: rfd } = await reader.primeHandleToFd({ handle: rh });
      expect(rfd.dmaBuf).toBe(fd.dmaBuf);
      const { fd: waitFile } = await rfd.exportSyncFile({ flags: READ });
      const { handle: inSync } = await reader.syncobjCreate();
      await reader.syncobjFdToHandle({ fd: waitFile, handle: inSync, flags: 1 });
      const inFence = reader.syncobjs.lookup(inSync)!.fenceGet()!;
      expect([...unwrapForEach(inFence)]).toEqual([job]);
      expect(inFence.isSignaled()).toBe(false);
      job.signal();
      expect(inFence.isSignaled()).toBe(true);
      inFence.put();
      job.put();
      for (const s of [outFile, waitFile]) s.close();
      rfd.close();
      fd.close();
      await writer.gemClose({ handle });
      await reader.close();
      await writer.close();
    });
    expect(nonWarn(rt.shutdown())).toEqual([]);
  });
});
