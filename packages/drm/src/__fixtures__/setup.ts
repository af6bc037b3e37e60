// Shared test setup: a runtime, device memory, a DRM device, and fences to play with.
import { DmaFence, contextAlloc, type DmaFenceOps } from '@dep/dma-fence';
import { DeviceMemory } from '@dep/hw-sim';
import { Runtime, type RuntimeOptions } from '@dep/kernel';
import { DrmDevice } from '../device.js';

export const fenceOps: DmaFenceOps = { getDriverName: () => 'test', getTimelineName: () => 'job' };

export interface TestEnv {
  readonly rt: Runtime;
  readonly memory: DeviceMemory;
  readonly dev: DrmDevice;
}

/** A runtime (strict checks unless told), 64 MiB of vram and of system memory, a device. */
export function setup(options: RuntimeOptions & { readonly features?: DrmDevice['features'] extends ReadonlySet<infer F> ? readonly F[] : never } = {}): TestEnv {
  const { features, ...rtOptions } = options;
  const rt = new Runtime(rtOptions);
  const memory = new DeviceMemory(rt, 'card0', { vram: 64 << 20, system: 64 << 20 });
  const dev = new DrmDevice({ runtime: rt, memory, name: 'card0', driverName: 'test', ...(features === undefined ? {} : { features }) });
  return { rt, memory, dev };
}

/** A second device on the same runtime (for cross-device PRIME). */
export function secondDevice(rt: Runtime, name = 'card1'): DrmDevice {
  const memory = new DeviceMemory(rt, name, { vram: 16 << 20, system: 16 << 20 });
  return new DrmDevice({ runtime: rt, memory, name, driverName: 'other' });
}

/** A new unsignalled fence on its own context. */
export function newFence(rt: Runtime, seqno = 1n): DmaFence {
  return new DmaFence(fenceOps, contextAlloc(1, rt), seqno, { runtime: rt });
}

/** A timeline of fences on one context. */
export function timelineFences(rt: Runtime, n: number): DmaFence[] {
  const ctx = contextAlloc(1, rt);
  return Array.from({ length: n }, (_, i) => new DmaFence(fenceOps, ctx, BigInt(i + 1), { runtime: rt }));
}
