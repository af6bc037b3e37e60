// Bad arguments: every xe ioctl refuses them with the errno xe returns, before anything
// changes (the DRM snapshot, the GuC's contexts, the GuC id pool and the queues' counters
// are compared).
import { describe, expect, it } from 'vitest';
import { BO_VA, client, errnoOf, setup, teardown } from './__fixtures__/setup.js';
import type { XeDevice } from './device.js';
import type { XeFile } from './file.js';
import { XE_CONVERT_FLAG_SIGNAL, XE_SYNC_FLAG_SIGNAL, XeEngineClass, XeSyncType, XeVmCreateFlags } from './uapi.js';

function state(xe: XeDevice, files: readonly XeFile[]): unknown {
  return {
    snapshot: xe.snapshot(),
    guc: xe.gpu.fw.contextIds(),
    freeIds: xe.freeGucIds,
    pushed: files.flatMap((f) => f.execQueues.entries().map(([, q]) => q.dep.stats.pushed)),
  };
}

describe('bad arguments', () => {
  it('every ioctl: right errno, nothing changed', async () => {
    const { rt, xe } = setup();
    await rt.run(async () => {
      const a = await client(xe);
      const b = await client(xe);
      const { handle: sync } = await a.f.syncobjCreate();
      const { handle: empty } = await a.f.syncobjCreate();
      const { handle: bSync } = await b.f.syncobjCreate();
      await b.f.syncobjCreate();
      await b.f.syncobjCreate();
      // Make b's handles differ from a's so "another client's handle" names nothing here.
      const { execQueueId: bQueue2 } = await b.f.execQueueCreate({ vmId: b.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
      const { vmId: bVm2 } = await b.f.vmCreate();
      const { handle: bBo2 } = await b.f.gemCreate({ size: 4096n });
      const out = (handle: number) => ({ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle });
      const exec = (x: object) => a.f.exec({ execQueueId: a.execQueueId, numBatchBuffer: 1, address: BO_VA, units: 1, ...x });
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['exec: another client\'s queue', () => exec({ execQueueId: bQueue2 }), 'ENOENT'],
        ['exec: queue 0', () => exec({ execQueueId: 0 }), 'ENOENT'],
        ['exec: extensions', () => exec({ extensions: 1n }), 'EINVAL'],
        ['exec: two batch buffers on a width-1 queue', () => exec({ numBatchBuffer: 2 }), 'EINVAL'],
        ['exec: unknown sync flag', () => exec({ syncs: [{ ...out(sync), flags: 2 }] }), 'EINVAL'],
        ['exec: unknown sync type', () => exec({ syncs: [{ ...out(sync), type: 7 }] }), 'EINVAL'],
        ['exec: out-sync naming nothing', () => exec({ syncs: [out(99)] }), 'ENOENT'],
        ['exec: out-sync handle b has and a does not', () => exec({ syncs: [out(bSync + 2)] }), 'ENOENT'],
        ['exec: in-sync without a fence', () => exec({ syncs: [{ type: XeSyncType.SYNCOBJ, handle: empty }] }), 'EINVAL'],
        ['exec: syncobj addr with upper bits', () => exec({ syncs: [{ ...out(sync), addr: 1n << 40n }] }), 'EINVAL'],
        ['exec: timeline point 0', () => exec({ syncs: [{ type: XeSyncType.TIMELINE_SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: sync }] }), 'EINVAL'],
        ['exec: count beyond the array', () => exec({ numSyncs: 2, syncs: [out(sync)] }), 'EFAULT'],
        ['exec: user fence without SIGNAL', () => exec({ syncs: [{ type: XeSyncType.USER_FENCE, addr: BO_VA }] }), 'EOPNOTSUPP'],
        ['exec: misaligned user fence', () => exec({ syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA + 4n }] }), 'EINVAL'],
        ['exec: user fence nowhere bound', () => exec({ syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: 0x4000_0000n }] }), 'EFAULT'],
        ['exec: two user fences', () => exec({ syncs: [{ type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA }, { type: XeSyncType.USER_FENCE, flags: XE_SYNC_FLAG_SIGNAL, addr: BO_VA + 8n }] }), 'EINVAL'],
        ['vm create: fault mode without LR mode', () => a.f.vmCreate({ flags: XeVmCreateFlags.FAULT_MODE }), 'EINVAL'],
        ['vm create: unknown flag', () => a.f.vmCreate({ flags: 1 << 5 }), 'EINVAL'],
        ['vm destroy: another client\'s VM', () => a.f.vmDestroy({ vmId: bVm2 }), 'ENOENT'],
        ['vm bind: misaligned address', () => a.f.vmBind({ vmId: a.vmId, binds: [{ obj: a.bo, range: 4096n, addr: 0x1001n }] }), 'EINVAL'],
        ['vm bind: beyond the object', () => a.f.vmBind({ vmId: a.vmId, binds: [{ obj: a.bo, range: 4096n, objOffset: 65536n, addr: 0x20_0000n }] }), 'EINVAL'],
        ['vm bind: another client\'s BO', () => a.f.vmBind({ vmId: a.vmId, binds: [{ obj: bBo2, range: 4096n, addr: 0x20_0000n }] }), 'ENOENT'],
        ['vm bind: unknown op', () => a.f.vmBind({ vmId: a.vmId, binds: [{ obj: a.bo, range: 4096n, addr: 0x20_0000n, op: 9 as 0 }] }), 'EINVAL'],
        ['vm bind: no binds', () => a.f.vmBind({ vmId: a.vmId, binds: [] }), 'EINVAL'],
        ['queue create: another client\'s VM', () => a.f.execQueueCreate({ vmId: bVm2, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] }), 'ENOENT'],
        ['queue create: unknown class', () => a.f.execQueueCreate({ vmId: a.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: 9 as 0 }] }), 'EINVAL'],
        ['queue create: instance the GPU lacks', () => a.f.execQueueCreate({ vmId: a.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER, engineInstance: 3 }] }), 'EINVAL'],
        ['queue create: width 2', () => a.f.execQueueCreate({ vmId: a.vmId, width: 2, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] }), 'EINVAL'],
        ['queue create: unknown flag', () => a.f.execQueueCreate({ vmId: a.vmId, width: 1, numPlacements: 1, flags: 1, instances: [{ engineClass: XeEngineClass.RENDER }] }), 'EINVAL'],
        ['queue destroy: another client\'s queue', () => a.f.execQueueDestroy({ execQueueId: bQueue2 }), 'ENOENT'],
        ['convert: misaligned offset', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: sync, flags: XE_CONVERT_FLAG_SIGNAL, bo: a.bo, offset: 4n, value: 1n }] }), 'EINVAL'],
        ['convert: offset beyond the BO', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: sync, flags: XE_CONVERT_FLAG_SIGNAL, bo: a.bo, offset: 65536n, value: 1n }] }), 'EINVAL'],
        ['convert: another client\'s BO', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: sync, flags: XE_CONVERT_FLAG_SIGNAL, bo: bBo2, offset: 0n, value: 1n }] }), 'ENOENT'],
        ['convert: syncobj naming nothing', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: 99, flags: XE_CONVERT_FLAG_SIGNAL, bo: a.bo, offset: 0n, value: 1n }] }), 'ENOENT'],
        ['convert: import from an empty syncobj', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: empty, bo: a.bo, offset: 0n, value: 1n }] }), 'EINVAL'],
        ['convert: unknown flag', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [{ handle: sync, flags: 4, bo: a.bo, offset: 0n, value: 1n }] }), 'EINVAL'],
        ['convert: nothing to convert', () => a.f.vmConvertFence({ vmId: a.vmId, syncs: [] }), 'EINVAL'],
      ];
      const before = state(xe, [a.f, b.f]);
      const got = [];
      for (const [why, call] of cases) got.push([why, await errnoOf(call())]);
      expect(got).toEqual(cases.map(([why, , errno]) => [why, errno]));
      expect(state(xe, [a.f, b.f])).toEqual(before);
      await teardown(rt, xe, [a.f, b.f]);
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
