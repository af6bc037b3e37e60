import { DmaFence, contextAlloc } from '@dep/dma-fence';
import { DmaResvUsage } from '@dep/dma-resv';
import { DrmDevice, GemCreateFlags, lockObjects } from '@dep/drm';
import { DeviceMemory } from '@dep/hw-sim';
import { Runtime, isDepError } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { EVICT_WAIT_MS, VramEvictor } from './vram-evictor.js';

const KiB = 1024n;

function setup() {
  const rt = new Runtime({ seed: 1, checks: 'strict' });
  const memory = new DeviceMemory(rt, 'gpu9', { vram: 1 << 20, system: 1 << 22 });
  const dev = new DrmDevice({ runtime: rt, memory, name: 'card9', driverName: 'toy' });
  return { rt, memory, dev };
}

/** A fence of "the GPU" in `obj`'s resv (BOOKKEEP), to be signalled by the test. */
async function busy(rt: Runtime, obj: Parameters<VramEvictor['track']>[0]): Promise<DmaFence> {
  const f = new DmaFence({ getDriverName: () => 'toy', getTimelineName: () => 'ring' }, contextAlloc(1, rt), 1n, { runtime: rt });
  const exec = await lockObjects([obj], { numFences: 1 });
  obj.resv.addFence(f.publish(), DmaResvUsage.BOOKKEEP);
  exec.fini();
  return f;
}

describe('VramEvictor (the demo\'s TTM-style eviction callback)', () => {
  it('an allocation that does not fit waits for the victim\'s fences under its resv lock, copies it to system memory and frees its VRAM', async () => {
    const { rt, memory, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.gemCreate({ size: 512n * KiB, flags: GemCreateFlags.VRAM });
      const obj = f.gemLookup(handle)!;
      obj.buffer!.write64(0, 0xfeedn);
      const ev = new VramEvictor(rt, memory, 'test');
      ev.track(obj, 'victim');
      const gpu = await busy(rt, obj);
      rt.spawn('gpu', async () => {
        await rt.sleep(7);
        gpu.signal();
      });
      // While the eviction waits, the BO stays reserved: a trylock fails.
      let lockedDuringWait: boolean | null = null;
      rt.spawn('observer', async () => {
        await rt.sleep(3);
        lockedDuringWait = !obj.resv.trylock();
        if (!lockedDuringWait) obj.resv.unlock();
      });
      const { handle: big } = await f.gemCreate({ size: 768n * KiB, flags: GemCreateFlags.VRAM });
      expect(rt.now()).toBe(7);
      expect(lockedDuringWait).toBe(true);
      expect(obj.buffer!.freed).toBe(true);
      expect(ev.evictions).toEqual([{ bo: 'victim', startedAt: 0, idleAt: 7, bytes: 512 * 1024 }]);
      await f.gemClose({ handle: big });
      gpu.put();
      obj.put();
      ev.dispose();
      await f.close();
    });
    expect(rt.shutdown()).toEqual([]);
  });

  it('a victim still busy after EVICT_WAIT_MS is not evicted: the allocation fails with ENOSPC, the victim keeps its VRAM', async () => {
    const { rt, memory, dev } = setup();
    await rt.run(async () => {
      const f = dev.open();
      const { handle } = await f.gemCreate({ size: 512n * KiB, flags: GemCreateFlags.VRAM });
      const obj = f.gemLookup(handle)!;
      const ev = new VramEvictor(rt, memory, 'test');
      ev.track(obj, 'victim');
      const gpu = await busy(rt, obj);
      let code: string | null = null;
      try {
        await f.gemCreate({ size: 768n * KiB, flags: GemCreateFlags.VRAM });
      } catch (e) {
        code = isDepError(e) ? e.code : String(e);
      }
      expect(code).toBe('ENOSPC');
      expect(rt.now()).toBeGreaterThanOrEqual(EVICT_WAIT_MS);
      expect(obj.buffer!.freed).toBe(false);
      expect(ev.evictions).toEqual([]);
      gpu.signal();
      gpu.put();
      obj.put();
      ev.dispose();
      await f.close();
    });
    expect(rt.shutdown()).toEqual([]);
  });
});
