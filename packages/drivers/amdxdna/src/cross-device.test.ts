// Cross-device implicit sync through PRIME: the NPU writes a buffer, a GPU's DRM device
// imports it and its reader finds the NPU's out-fence (WRITE) in the shared resv. And the
// other direction, as the driver does it: amdxdna adds its fence but waits for none.
import { describe, expect, it } from 'vitest';
import { DmaFence, contextAlloc } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { DrmDevice, collectImplicitDeps, lockObjects } from '@dep/drm';
import { DeviceMemory } from '@dep/hw-sim';
import { getCmdState } from './hwctx.js';
import { AmdxdnaBoType, ErtCmdState } from './uapi.js';
import { client, cmdBo, setup, shutdownReports } from './__fixtures__/setup.js';

describe('cross-device implicit sync', () => {
  it('a GPU reading a buffer the NPU writes waits for the NPU command (its out-fence is WRITE in the shared resv)', async () => {
    const { rt, dev } = setup();
    const gpu = new DrmDevice({ runtime: rt, memory: new DeviceMemory(rt, 'gpu0', { vram: 1 << 20, system: 1 << 20 }), name: 'card9', driverName: 'gpu' });
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const { handle: buf } = await f.createBo({ size: 8192n, type: AmdxdnaBoType.SHMEM });
      const { fd } = await f.primeHandleToFd({ handle: buf });
      const g = gpu.open();
      const { handle: gh } = await g.primeFdToHandle({ fd });
      fd.close();
      const cmd = await cmdBo(f, 20);
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: cmd, cmdCount: 1, args: [buf] });
      const npuFence = f.hwctxs.lookup(ctx)!.outFence(seq)!;
      // The GPU's submit: lock, collect implicit deps for a read, wait for them.
      const imp = g.gem.lookup(gh)!;
      const exec = await lockObjects([imp]);
      const deps = collectImplicitDeps([{ obj: imp, write: false }]);
      exec.fini();
      expect(deps).toEqual([npuFence]);
      for (const d of deps) await d.wait();
      expect(getCmdState(f.gem.lookup(cmd)!)).toBe(ErtCmdState.COMPLETED);
      for (const d of deps) d.put();
      npuFence.put();
      await g.close();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });

  it('like the driver, a submit does not wait for fences already in its BOs (no implicit dependencies)', async () => {
    const { rt, dev } = setup();
    await rt.run(async () => {
      const { f, ctx } = await client(dev);
      const { handle: buf } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.SHMEM });
      const obj = f.gem.lookup(buf)!;
      const foreign = new DmaFence({ getDriverName: () => 'gpu', getTimelineName: () => 'ring' }, contextAlloc(1, rt), 1n, { runtime: rt });
      const exec = await lockObjects([obj]);
      obj.resv.addFence(foreign.publish(), DmaResvUsage.WRITE);
      exec.fini();
      const { seq } = await f.execCmd({ hwctx: ctx, cmdHandles: await cmdBo(f, 1), cmdCount: 1, args: [buf] });
      await f.waitCmd({ hwctx: ctx, seq });
      expect(foreign.isSignaled()).toBe(false);
      foreign.signal();
      foreign.put();
      await dev.fini();
    });
    expect(shutdownReports(rt)).toEqual([]);
  });
});
