// The README's example, as written there.
import { DRM_TIMEOUT_INFINITE } from '@dep/drm';
import { Runtime } from '@dep/kernel';
import { expect, it } from 'vitest';
import { PanthorDevice, PanthorSyncOpFlags, PanthorVmBindOpFlags } from './index.js';

it('the README example runs: a 10-instruction stream completes after 10 ms', async () => {
  const rt = new Runtime({ seed: 1 });
  const dev = new PanthorDevice({ runtime: rt, csf: { slots: 4 } });
  let t = 0;
  await rt.run(async () => {
    const file = dev.open();
    const { id: vmId } = await file.vmCreate({});
    const { handle: bo } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
    await file.vmBind({ vmId, ops: [{ flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle: bo, boOffset: 0n, va: 0x100000n, size: 65536n, syncs: [] }] });
    const { groupHandle } = await file.groupCreate({ vmId, queues: [{ priority: 0, pad: 0, ringbufSize: 4096 }] });
    const { handle: done } = await file.syncobjCreate();
    await file.groupSubmit({
      groupHandle,
      queueSubmits: [{ queueIndex: 0, streamSize: 80, streamAddr: 0x100000n, latestFlush: 0, pad: 0, syncs: [{ flags: PanthorSyncOpFlags.SIGNAL >>> 0, handle: done, timelineValue: 0n }] }],
    });
    await file.syncobjWait({ handles: [done], timeoutNsec: DRM_TIMEOUT_INFINITE });
    t = rt.now();
    await file.close();
  });
  await rt.runUntilIdle();
  await rt.run(() => dev.fini());
  expect(t).toBeGreaterThanOrEqual(10);
  expect(t).toBeLessThan(11);
  expect(rt.shutdown()).toEqual([]);
});
