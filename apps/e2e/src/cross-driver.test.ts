// Cross-driver implicit sync (issue 8): a buffer written by one driver and read by
// another. amdxdna puts its out-fence into the shared resv as WRITE; panthor and xe add
// only BOOKKEEP fences, so their userspace bridges explicit and implicit sync the way Mesa
// does — DMA_BUF_IOCTL_IMPORT_SYNC_FILE(WRITE) of the writer's out-fence, and
// DMA_BUF_IOCTL_EXPORT_SYNC_FILE(READ) into the reader's in-syncobj.
import { unwrapForEach } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { AmdxdnaBoType } from '@dep/driver-amdxdna';
import { XE_SYNC_FLAG_SIGNAL, XeSyncType } from '@dep/driver-xe';
import { DmaBufSyncFlags } from '@dep/drm';
import { describe, expect, it } from 'vitest';
import {
  SHARED_VA,
  XE_VA,
  jobRuns,
  maliClient,
  maliJob,
  maliMap,
  npuClient,
  npuCommand,
  npuSharedBuffer,
  publishWrite,
  readDependency,
  setupDevices,
  shutdownAll,
  syncobjFence,
  waitAll,
  xeClient,
  xeExec,
} from './__fixtures__/cross-driver.js';

const ETIMEDOUT = -110;
const ETIME = -62;

describe('cross-driver implicit sync', () => {
  it('amdxdna writes (WRITE in the shared resv) → panthor reads through EXPORT_SYNC_FILE + an in-syncobj and runs after it; without it panthor does not wait', async () => {
    const env = setupDevices();
    const { rt, sink } = env;
    const files = await rt.run(async () => {
      const { f: npuF, ctx } = await npuClient(env.npu);
      const { file: mali, vmId, groupHandle, queue } = await maliClient(env.mali);
      const { buf, imported: mbuf } = await npuSharedBuffer(npuF, mali);
      await mali.vmBind({ vmId, ops: [maliMap(mbuf, SHARED_VA, 65536n)] });
      const shared = mali.gem.lookup(mbuf)!;
      expect(shared.resv, 'the import shares the exporter\'s resv').toBe(npuF.gem.lookup(buf)!.resv);

      // The NPU writes the buffer: its out-fence is a WRITE fence in the shared resv.
      const { seq } = await npuF.execCmd({ hwctx: ctx, cmdHandles: await npuCommand(npuF, 30), cmdCount: 1, args: [buf] });
      const npuFence = npuF.hwctxs.lookup(ctx)!.outFence(seq)!;
      const writers = shared.resv.getFences(DmaResvUsage.WRITE);
      expect(writers).toEqual([npuFence]);
      for (const w of writers) w.put();

      // Control: a panthor job touching the buffer without the in-sync does not wait (panthor
      // takes no implicit dependencies) …
      const eager = (await mali.syncobjCreate()).handle;
      await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(2, [], [eager])] });
      // … and its fence lands in the shared resv as BOOKKEEP, invisible to implicit sync.
      const bookkeep = syncobjFence(mali, eager);
      const reads = shared.resv.getFences(DmaResvUsage.READ);
      expect(reads.includes(bookkeep)).toBe(false);
      const all = shared.resv.getFences(DmaResvUsage.BOOKKEEP);
      expect(all.includes(bookkeep)).toBe(true);
      for (const r of [...reads, ...all]) r.put();

      // Mesa's read path: EXPORT_SYNC_FILE(READ) → in-syncobj → submit.
      const inSync = await readDependency(mali, mbuf);
      const inFence = syncobjFence(mali, inSync);
      expect([...unwrapForEach(inFence)]).toEqual([npuFence]);
      inFence.put();
      const out = (await mali.syncobjCreate()).handle;
      await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(5, [inSync], [out])] });
      await waitAll(mali, [eager, out]);
      const readerFence = syncobjFence(mali, out);
      expect(npuFence.isSignaled()).toBe(true);
      expect(npuFence.getStatus()).toBe(1);
      expect(readerFence.getStatus()).toBe(1);
      expect(bookkeep.timestamp(), 'the control ran while the NPU was still writing').toBeLessThan(npuFence.timestamp());
      const runs = jobRuns(sink, queue);
      expect(runs.length).toBe(2);
      expect(runs[1]!, 'the reader started only once the writer finished').toBeGreaterThanOrEqual(npuFence.timestamp());
      expect(readerFence.timestamp() - npuFence.timestamp()).toBeGreaterThanOrEqual(5);
      for (const f of [npuFence, readerFence, bookkeep]) f.put();
      return { npu: [npuF], mali: [mali] };
    });
    expect(await shutdownAll(env, files)).toEqual([]);
  });

  it('xe writes (BOOKKEEP only) → IMPORT_SYNC_FILE(WRITE) on the exporter side, EXPORT_SYNC_FILE(READ) on panthor\'s: panthor runs after xe', async () => {
    const env = setupDevices();
    const { rt, sink } = env;
    const files = await rt.run(async () => {
      const { f: xeF, vmId: xvm, execQueueId } = await xeClient(env.xe);
      const { file: mali, vmId, groupHandle, queue } = await maliClient(env.mali);
      // An external xe BO (not VM-private: it can be exported), bound in the xe VM.
      const { handle: buf } = await xeF.gemCreate({ size: 65536n });
      await xeF.vmBind({ vmId: xvm, binds: [{ obj: buf, range: 65536n, addr: XE_VA, op: 0 }] });
      const { fd } = await xeF.primeHandleToFd({ handle: buf });
      const { handle: mbuf } = await mali.primeFdToHandle({ fd });
      await mali.vmBind({ vmId, ops: [maliMap(mbuf, SHARED_VA, 65536n)] });
      const resv = fd.dmaBuf.resv;

      const xeOut = (await xeF.syncobjCreate()).handle;
      await xeExec(xeF, execQueueId, 30, xeOut);
      const xeFence = syncobjFence(xeF, xeOut);
      // xe's exec fence is BOOKKEEP in the BO's resv: implicit sync does not see it.
      const book = resv.getFences(DmaResvUsage.BOOKKEEP);
      expect(book.includes(xeFence)).toBe(true);
      for (const b of book) b.put();
      expect(resv.testSignaled(DmaResvUsage.READ), 'nothing for a reader to wait for yet').toBe(true);
      const early = (await fd.exportSyncFile({ flags: DmaBufSyncFlags.READ })).fd;
      expect(early.fence.isSignaled(), 'EXPORT_SYNC_FILE(READ) now is the signalled stub').toBe(true);
      early.close();

      // Exporter side: the out-fence becomes the buffer's WRITE fence.
      await publishWrite(xeF, xeOut, fd);
      fd.close();
      const writers = resv.getFences(DmaResvUsage.WRITE);
      expect(writers).toEqual([xeFence]);
      for (const w of writers) w.put();

      // Reader side.
      const inSync = await readDependency(mali, mbuf);
      const out = (await mali.syncobjCreate()).handle;
      await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(4, [inSync], [out])] });
      await waitAll(mali, [out]);
      const readerFence = syncobjFence(mali, out);
      expect(xeFence.getStatus()).toBe(1);
      expect(readerFence.getStatus()).toBe(1);
      const runs = jobRuns(sink, queue);
      expect(runs.length).toBe(1);
      expect(runs[0]!).toBeGreaterThanOrEqual(xeFence.timestamp());
      expect(readerFence.timestamp() - xeFence.timestamp()).toBeGreaterThanOrEqual(4);
      for (const f of [xeFence, readerFence]) f.put();
      return { xe: [xeF], mali: [mali] };
    });
    expect(await shutdownAll(env, files)).toEqual([]);
  });

  it('amdxdna writes → xe reads through the same path (its exec waits on the in-syncobj) and runs after it', async () => {
    const env = setupDevices();
    const { rt, sink } = env;
    const files = await rt.run(async () => {
      const { f: npuF, ctx } = await npuClient(env.npu);
      const { f: xeF, vmId: xvm, execQueueId } = await xeClient(env.xe);
      const { buf, imported: xbuf } = await npuSharedBuffer(npuF, xeF);
      await xeF.vmBind({ vmId: xvm, binds: [{ obj: xbuf, range: 65536n, addr: XE_VA, op: 0 }] });
      const { seq } = await npuF.execCmd({ hwctx: ctx, cmdHandles: await npuCommand(npuF, 30), cmdCount: 1, args: [buf] });
      const npuFence = npuF.hwctxs.lookup(ctx)!.outFence(seq)!;
      const inSync = await readDependency(xeF, xbuf);
      const out = (await xeF.syncobjCreate()).handle;
      await xeF.exec({
        execQueueId,
        numBatchBuffer: 1,
        address: XE_VA,
        units: 5,
        syncs: [
          { type: XeSyncType.SYNCOBJ, flags: 0, handle: inSync },
          { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: out },
        ],
      });
      await waitAll(xeF, [out]);
      const readerFence = syncobjFence(xeF, out);
      expect(npuFence.getStatus()).toBe(1);
      expect(readerFence.getStatus()).toBe(1);
      const runs = jobRuns(sink, xeF.execQueues.lookup(execQueueId)!.dep.name);
      expect(runs.length).toBe(1);
      expect(runs[0]!).toBeGreaterThanOrEqual(npuFence.timestamp());
      expect(readerFence.timestamp()).toBeGreaterThan(npuFence.timestamp());
      for (const f of [npuFence, readerFence]) f.put();
      return { npu: [npuF], xe: [xeF] };
    });
    expect(await shutdownAll(env, files)).toEqual([]);
  });

  it('on 6 chaos seeds: amdxdna and xe writers, panthor readers gated by the sync_file bridge — each reader starts after its writer, nothing leaks', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const env = setupDevices({ seed, chaos: true });
      const { rt, sink } = env;
      const files = await rt.run(async () => {
        const { f: npuF, ctx } = await npuClient(env.npu);
        const { f: xeF, vmId: xvm, execQueueId } = await xeClient(env.xe);
        const { file: mali, vmId, groupHandle, queue } = await maliClient(env.mali);
        const { handle: nbuf } = await npuF.createBo({ size: 65536n, type: AmdxdnaBoType.SHMEM });
        const { handle: xbuf } = await xeF.gemCreate({ size: 65536n });
        await xeF.vmBind({ vmId: xvm, binds: [{ obj: xbuf, range: 65536n, addr: XE_VA, op: 0 }] });
        const nfd = (await npuF.primeHandleToFd({ handle: nbuf })).fd;
        const xfd = (await xeF.primeHandleToFd({ handle: xbuf })).fd;
        const mn = (await mali.primeFdToHandle({ fd: nfd })).handle;
        const mx = (await mali.primeFdToHandle({ fd: xfd })).handle;
        nfd.close();
        await mali.vmBind({ vmId, ops: [maliMap(mn, SHARED_VA, 65536n), maliMap(mx, SHARED_VA + 65536n, 65536n)] });
        const { seq } = await npuF.execCmd({ hwctx: ctx, cmdHandles: await npuCommand(npuF, 5 + rt.randomInt(20)), cmdCount: 1, args: [nbuf] });
        const npuFence = npuF.hwctxs.lookup(ctx)!.outFence(seq)!;
        const xeOut = (await xeF.syncobjCreate()).handle;
        await xeExec(xeF, execQueueId, 5 + rt.randomInt(20), xeOut);
        await publishWrite(xeF, xeOut, xfd);
        xfd.close();
        const xeFence = syncobjFence(xeF, xeOut);
        const inN = await readDependency(mali, mn);
        const inX = await readDependency(mali, mx);
        const outN = (await mali.syncobjCreate()).handle;
        const outX = (await mali.syncobjCreate()).handle;
        await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(2, [inN], [outN]), maliJob(2, [inX], [outX])] });
        await waitAll(mali, [outN, outX]);
        const runs = jobRuns(sink, queue);
        expect(runs.length, `seed ${seed}`).toBe(2);
        expect(runs[0]!, `seed ${seed}: the NPU reader`).toBeGreaterThanOrEqual(npuFence.timestamp());
        // The queue runs in order: the second job starts after the first and after xe's write.
        expect(runs[1]!, `seed ${seed}: the xe reader`).toBeGreaterThanOrEqual(xeFence.timestamp());
        for (const h of [outN, outX]) {
          const f = syncobjFence(mali, h);
          expect(f.getStatus(), `seed ${seed}`).toBe(1);
          f.put();
        }
        for (const f of [npuFence, xeFence]) f.put();
        return { npu: [npuF], xe: [xeF], mali: [mali] };
      });
      expect(await shutdownAll(env, files), `seed ${seed}`).toEqual([]);
    }
  });

  it('a hung NPU writer: the panthor reader waits until the NPU timeout signals the write with an error, then runs', async () => {
    const timeoutMs = 500;
    const env = setupDevices({ npuTimeoutMs: timeoutMs });
    const { rt, sink } = env;
    const files = await rt.run(async () => {
      const { f: npuF, ctx } = await npuClient(env.npu);
      const { file: mali, vmId, groupHandle, queue } = await maliClient(env.mali);
      const { buf, imported: mbuf } = await npuSharedBuffer(npuF, mali);
      await mali.vmBind({ vmId, ops: [maliMap(mbuf, SHARED_VA, 65536n)] });
      const hw = npuF.hwctxs.lookup(ctx)!;
      env.npu.npu.faults.hang({ site: hw.name, nth: 1 });
      const t0 = rt.now();
      const { seq } = await npuF.execCmd({ hwctx: ctx, cmdHandles: await npuCommand(npuF, 5), cmdCount: 1, args: [buf] });
      const npuFence = hw.outFence(seq)!;
      const inSync = await readDependency(mali, mbuf);
      const out = (await mali.syncobjCreate()).handle;
      await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(3, [inSync], [out])] });
      await rt.sleep(timeoutMs / 2);
      expect(jobRuns(sink, queue), 'the reader has not started while the writer hangs').toEqual([]);
      await waitAll(mali, [out]);
      const readerFence = syncobjFence(mali, out);
      expect(npuFence.getStatus(), 'the writer timed out').toBe(ETIMEDOUT);
      expect(npuFence.timestamp() - t0).toBeGreaterThanOrEqual(timeoutMs);
      const runs = jobRuns(sink, queue);
      expect(runs.length).toBe(1);
      expect(runs[0]!).toBeGreaterThanOrEqual(npuFence.timestamp());
      // What the drivers do: drm_dep does not propagate a dependency's error, so the reader's
      // own job completes; its userspace learns about the bad write from the in-fence.
      expect(readerFence.getStatus()).toBe(1);
      const { state } = await mali.groupGetState({ groupHandle });
      expect(state, 'the reader\'s group is not blamed').toBe(0);
      for (const f of [npuFence, readerFence]) f.put();
      return { npu: [npuF], mali: [mali] };
    });
    expect(await shutdownAll(env, files)).toEqual([]);
  });

  it('a hung xe writer: its TDR errors the write (-ETIME); the panthor reader, gated through IMPORT/EXPORT_SYNC_FILE, waits for that and then runs', async () => {
    const env = setupDevices({ xeJobTimeoutMs: 100 });
    const { rt, sink } = env;
    const files = await rt.run(async () => {
      const { f: xeF, vmId: xvm, execQueueId } = await xeClient(env.xe);
      const { file: mali, vmId, groupHandle, queue } = await maliClient(env.mali);
      const { handle: buf } = await xeF.gemCreate({ size: 65536n });
      await xeF.vmBind({ vmId: xvm, binds: [{ obj: buf, range: 65536n, addr: XE_VA, op: 0 }] });
      const { fd } = await xeF.primeHandleToFd({ handle: buf });
      const { handle: mbuf } = await mali.primeFdToHandle({ fd });
      await mali.vmBind({ vmId, ops: [maliMap(mbuf, SHARED_VA, 65536n)] });
      env.xe.gpu.faults.hang({ site: `guc${xeF.execQueues.lookup(execQueueId)!.gucId}` });
      const t0 = rt.now();
      const xeOut = (await xeF.syncobjCreate()).handle;
      await xeExec(xeF, execQueueId, 5, xeOut);
      const xeFence = syncobjFence(xeF, xeOut);
      await publishWrite(xeF, xeOut, fd);
      fd.close();
      const inSync = await readDependency(mali, mbuf);
      const out = (await mali.syncobjCreate()).handle;
      await mali.groupSubmit({ groupHandle, queueSubmits: [maliJob(2, [inSync], [out])] });
      await rt.sleep(50);
      expect(jobRuns(sink, queue), 'the reader waits while the writer hangs').toEqual([]);
      await waitAll(mali, [out]);
      const readerFence = syncobjFence(mali, out);
      expect(xeFence.getStatus(), 'the xe TDR banned the queue').toBe(ETIME);
      expect(xeFence.timestamp() - t0).toBeGreaterThanOrEqual(100);
      const runs = jobRuns(sink, queue);
      expect(runs.length).toBe(1);
      expect(runs[0]!).toBeGreaterThanOrEqual(xeFence.timestamp());
      expect(readerFence.getStatus(), 'no error propagation through the dependency').toBe(1);
      for (const f of [xeFence, readerFence]) f.put();
      return { xe: [xeF], mali: [mali] };
    });
    expect(await shutdownAll(env, files)).toEqual([]);
  });
});
