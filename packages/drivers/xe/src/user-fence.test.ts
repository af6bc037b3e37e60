// Priority 3: user-fence syncs on exec and the convert ioctl in both directions, with the
// user-fence TDR that kills the VM.
import { describe, expect, it } from 'vitest';
import { BO_VA, client, errnoOf, execWithFence, setup, teardown } from './__fixtures__/setup.js';
import { XE_CONVERT_FLAG_SIGNAL, XE_SYNC_FLAG_SIGNAL, XeSyncType } from './uapi.js';
import type { XeVm } from './vm.js';

describe('user-fence sync on exec', () => {
  it('writes the value into the bound BO when the job completes (not before)', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, bo, execQueueId } = await client(xe);
      const buf = f.gem.lookup(bo)!.buffer!;
      const { handle } = await f.syncobjCreate();
      await f.exec({
        execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: 10,
        syncs: [
          { type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA + 0x40n, timelineValue: 0xabcdn },
          { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle },
        ],
      });
      const fence = f.syncobjs.lookup(handle)!.fenceGet()!;
      await rt.sleep(2);
      expect(buf.read64(0x40)).toBe(0n);
      await fence.wait();
      expect(buf.read64(0x40)).toBe(0xabcdn);
      fence.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});

describe('convert ioctl', () => {
  it('export (memory → fence): the fence signals once the location reaches the value', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, bo } = await client(xe);
      const buf = f.gem.lookup(bo)!.buffer!;
      const { handle } = await f.syncobjCreate();
      await f.vmConvertFence({ vmId, syncs: [{ handle, flags: XE_CONVERT_FLAG_SIGNAL, bo, offset: 16n, value: 5n }] });
      const fence = f.syncobjs.lookup(handle)!.fenceGet()!;
      expect(fence.isSignaled()).toBe(false);
      buf.write64(16, 4n);
      expect(await fence.waitTimeout(50)).toBe(0);
      buf.write64(16, 5n);
      expect(await fence.waitTimeout(1000)).toBeGreaterThan(0);
      expect(fence.getStatus()).toBe(1);
      fence.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it("an exec's user-fence write wakes the VM's exported fences: one nobody waits on signals at the write, not at the TDR deadline", async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, bo, execQueueId } = await client(xe);
      const { handle } = await f.syncobjCreate();
      await f.vmConvertFence({ vmId, syncs: [{ handle, flags: XE_CONVERT_FLAG_SIGNAL, bo, offset: 0n, value: 7n }] });
      const exported = f.syncobjs.lookup(handle)!.fenceGet()!;
      const { handle: done } = await f.syncobjCreate();
      await f.exec({
        execQueueId,
        numBatchBuffer: 1,
        address: BO_VA,
        units: 10,
        syncs: [
          { type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA, timelineValue: 7n },
          { type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: done },
        ],
      });
      const job = f.syncobjs.lookup(done)!.fenceGet()!;
      await job.wait();
      // Nobody enabled signalling on the exported fence (no poll): only the write's wake-up finds it.
      await rt.sleep(1);
      expect(exported.testSignaledFlag()).toBe(true);
      expect(exported.getStatus()).toBe(1);
      await rt.sleep(6000);
      expect((f.vms.lookup(vmId) as XeVm).killedReason, 'no user-fence TDR for a reached value').toBeNull();
      job.put();
      exported.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('export past the 5 s deadline: -ETIME and the whole VM is killed (its queues too); another VM is untouched', async () => {
    const { rt, xe } = setup({ jobTimeoutMs: 60_000 });
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const { handle } = await a.f.syncobjCreate();
      await a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle, flags: XE_CONVERT_FLAG_SIGNAL, bo: a.bo, offset: 0n, value: 1n }] });
      const fence = a.f.syncobjs.lookup(handle)!.fenceGet()!;
      const t0 = rt.now();
      const long = await execWithFence(a.f, a.execQueueId, 10_000);
      await fence.wait();
      expect(fence.getStatus()).toBe(-62);
      expect(rt.now() - t0).toBeGreaterThanOrEqual(5000);
      expect(rt.now() - t0).toBeLessThan(5100);
      await rt.sleep(1);
      const vm = a.f.vms.lookup(a.vmId) as XeVm;
      expect(vm.killedReason).toBe('user-fence TDR');
      expect(vm.userFenceKill?.fences).toBe(1);
      await long.wait();
      expect(long.getStatus(), 'the VM kill killed its queue').toBe(-125);
      expect(await errnoOf(a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1 }))).toBe('ECANCELED');
      expect(await errnoOf(a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle, flags: XE_CONVERT_FLAG_SIGNAL, bo: a.bo, offset: 0n, value: 1n }] }))).toBe('ECANCELED');
      expect(await errnoOf(a.f.execQueueCreate({ vmId: a.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: 0 }] })), 'no new queue on a killed VM').toBe('ENOENT');
      const ok = await execWithFence(b.f, b.execQueueId, 1);
      await ok.wait();
      expect(ok.getStatus()).toBe(1);
      for (const x of [fence, long, ok]) x.put();
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('import (fence → memory): the value lands when the job completes; the fence is in the VM resv (BOOKKEEP)', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const { f, vmId, bo, execQueueId } = await client(xe);
      const buf = f.gem.lookup(bo)!.buffer!;
      const { handle } = await f.syncobjCreate();
      await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units: 20, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle }] });
      await f.vmConvertFence({ vmId, syncs: [{ handle, flags: 0, bo, offset: 24n, value: 77n }] });
      const fence = f.syncobjs.lookup(handle)!.fenceGet()!;
      expect(buf.read64(24)).toBe(0n);
      await fence.wait();
      expect(buf.read64(24)).toBe(77n);
      fence.put();
      await teardown(rt, xe, [f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
