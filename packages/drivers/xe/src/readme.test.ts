// The README's example, as written.
import { Runtime } from '@dep/kernel';
import { expect, it } from 'vitest';
import { XeDevice, XeEngineClass, XeSyncType, XE_SYNC_FLAG_SIGNAL } from './index.js';

it('the README example runs, signals and leaves nothing behind', async () => {
  const rt = new Runtime({ seed: 1 });
  const xe = new XeDevice({ runtime: rt, gpuConfig: { engines: { render: 1, copy: 1 } } });
  await rt.run(async () => {
    const f = xe.open();
    const { vmId } = await f.vmCreate();
    const { handle: bo } = await f.gemCreate({ size: 65536n, vmId });
    await f.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: 0x100000n }] });
    const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
    const q = f.execQueues.lookup(execQueueId)!;
    const { handle } = await f.syncobjCreate();
    await f.exec({ execQueueId, numBatchBuffer: 1, address: 0x100000n, units: 5, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle }] });
    expect(await f.syncobjWait({ handles: [handle], timeoutNsec: 1_000_000_000n })).toEqual({ firstSignaled: 0 });
    await f.close();
    await q.dep.waitReleased();
    await xe.fini();
  });
  expect(rt.shutdown()).toEqual([]);
});
