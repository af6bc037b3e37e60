// Priority 4: long-running VMs — per-queue preempt fences in the VM's resvs, suspend on
// enable-signalling, the rebind/resume worker.
import { DmaResvUsage } from '@dep/dma-resv';
import { describe, expect, it } from 'vitest';
import { BO_VA, errnoOf, setup, teardown } from './__fixtures__/setup.js';
import { XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmCreateFlags } from './uapi.js';
import type { XeDevice } from './device.js';
import type { XeVm } from './vm.js';

async function lrClient(xe: XeDevice) {
  const f = xe.open();
  const { vmId } = await f.vmCreate({ flags: XeVmCreateFlags.LR_MODE });
  const { handle: bo } = await f.gemCreate({ size: 65536n, vmId });
  await f.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: BO_VA }] });
  const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
  return { f, vmId, bo, execQueueId, vm: f.vms.lookup(vmId) as XeVm, q: f.execQueues.lookup(execQueueId)! };
}

describe('long-running VM', () => {
  it('an eviction waiting on the VM resv preempts the queue through its preempt fence; the rebind worker re-arms and resumes; the job completes', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, bo, execQueueId, vm, q } = await lrClient(xe);
      expect(q.lr).toBe(true);
      expect(q.dep.timeout, 'no job timeout in LR mode').toBe(Infinity);
      const pf1 = q.preemptFence!;
      const inResv = vm.resv.getFences(DmaResvUsage.BOOKKEEP);
      expect(inResv.includes(pf1)).toBe(true);
      for (const x of inResv) x.put();
      const buf = f.gem.lookup(bo)!.buffer!;
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 50, syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: 1n }] });
      await rt.sleep(10);
      expect(xe.gpu.fw.contextInfo(q.gucId)?.engine).toBe('rcs0');
      // TTM before moving a BO of the VM: wait for every fence in its resv.
      expect(await vm.resv.waitTimeout(DmaResvUsage.BOOKKEEP, 1000)).toBeGreaterThan(0);
      expect(pf1.isSignaled()).toBe(true);
      expect(pf1.getStatus()).toBe(1);
      expect(q.preempts).toBe(1);
      expect(xe.gpu.fw.contextInfo(q.gucId)?.engine, 'off the engine').toBeNull();
      expect(buf.read64(0), 'the job has not finished').toBe(0n);
      await rt.sleep(1);
      expect(vm.rebinds).toBe(1);
      expect(q.resumes).toBe(1);
      expect(q.preemptFence).not.toBe(pf1);
      expect(q.preemptFence!.isSignaled()).toBe(false);
      while (buf.read64(0) !== 1n) await rt.sleep(1);
      expect(rt.now(), 'resumed where it was saved').toBeGreaterThan(50);
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('syncobj out-syncs are refused (LR job fences are never exported), VM destroy is EBUSY while the queue lives; destroy signals the preempt fence with -ENOENT', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, execQueueId, q } = await lrClient(xe);
      const { handle } = await f.syncobjCreate();
      expect(await errnoOf(f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle }] }))).toBe('EOPNOTSUPP');
      expect(await errnoOf(f.vmDestroy({ vmId })), 'a preempt-fence queue still uses it').toBe('EBUSY');
      expect(q.dep.stats.pushed).toBe(0);
      const pf = q.preemptFence!.get();
      await f.execQueueDestroy({ execQueueId });
      await pf.wait();
      expect(pf.getStatus()).toBe(-2);
      pf.put();
      await q.dep.waitReleased();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('long-running VM, gate ordering (RFC v2)', () => {
  it('the preempt fence waits for the VM\'s last exported fence before it suspends the queue that writes it', async () => {
    const { rt, xe } = setup({ preemptOrdering: 'gate' });
    await rt.run(async () => {
      const { f, vmId, bo, execQueueId, vm, q } = await lrClient(xe);
      const { handle } = await f.syncobjCreate();
      await f.vmConvertFence({ vmId, syncs: [{ handle, flags: 1, bo, offset: 0n, value: 1n }] });
      const exported = f.syncobjs.lookup(handle)!.fenceGet()!;
      expect(vm.lastExported).toBe(exported);
      // The queue's job writes the value the exported fence waits for.
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 50, syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: 1n }] });
      await rt.sleep(10);
      const pf = q.preemptFence!.get();
      expect(await vm.resv.waitTimeout(DmaResvUsage.BOOKKEEP, 1000)).toBeGreaterThan(0);
      expect(exported.getStatus(), 'the exported fence signalled first, not by the TDR').toBe(1);
      expect(pf.timestamp()).toBeGreaterThanOrEqual(exported.timestamp());
      expect(rt.now(), 'the job ran to completion before the suspend').toBeGreaterThanOrEqual(50);
      expect(vm.killedReason).toBeNull();
      for (const x of [exported, pf]) x.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('long-running VM, ordering none (xe today)', () => {
  it('the preempt fence suspends the queue at once, before the exported fence it must write; the rebind worker resumes it and the export signals later', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, bo, execQueueId, vm, q } = await lrClient(xe);
      const { handle } = await f.syncobjCreate();
      await f.vmConvertFence({ vmId, syncs: [{ handle, flags: 1, bo, offset: 0n, value: 1n }] });
      const exported = f.syncobjs.lookup(handle)!.fenceGet()!;
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 50, syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: 1n }] });
      await rt.sleep(10);
      expect(await vm.resv.waitTimeout(DmaResvUsage.BOOKKEEP, 1000)).toBeGreaterThan(0);
      expect(rt.now()).toBeLessThan(20);
      expect(exported.isSignaled(), 'preempted before the export was written').toBe(false);
      expect(q.preempts).toBe(1);
      await exported.wait();
      expect(exported.getStatus()).toBe(1);
      exported.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('long-running VM, slot ordering (RFC v1)', () => {
  it('the preempt fence sits in the PREEMPT usage; an eviction wait still suspends and the rebind worker re-arms', async () => {
    const { rt, xe } = setup({ preemptOrdering: 'slot' });
    await rt.run(async () => {
      const { f, execQueueId, vm, q } = await lrClient(xe);
      const pf1 = q.preemptFence!;
      expect(pf1.usage).toBe(DmaResvUsage.PREEMPT);
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 30 });
      await rt.sleep(5);
      expect(await vm.resv.waitTimeout(DmaResvUsage.PREEMPT, 1000)).toBeGreaterThan(0);
      expect(pf1.getStatus()).toBe(1);
      await rt.sleep(1);
      expect(q.resumes).toBe(1);
      expect(q.preemptFence!.usage).toBe(DmaResvUsage.PREEMPT);
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
