// Shared test setup: a runtime, an xe device on a GuC GPU, and a client with a VM, a BO
// bound at BO_VA and one render exec queue.
import { Runtime, type RuntimeOptions } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import { XeDevice, type XeDeviceOptions } from '../device.js';
import type { XeFile } from '../file.js';
import { XeEngineClass, XeSyncType, XE_SYNC_FLAG_SIGNAL } from '../uapi.js';

export const BO_VA = 0x10_0000n;

export function setup(options: RuntimeOptions & Partial<Omit<XeDeviceOptions, 'runtime'>> = {}) {
  const { gpu, gpuConfig, jobTimeoutMs, gucIds, userFenceTimeoutMs, name, preemptOrdering, ...rtOptions } = options;
  const rt = new Runtime({ checks: 'strict', seed: 1, ...rtOptions });
  const xe = new XeDevice({
    runtime: rt,
    gpuConfig: gpuConfig ?? { engines: { render: 1, compute: 1, copy: 1, video: 1 } },
    jobTimeoutMs: jobTimeoutMs ?? 100,
    ...(gpu === undefined ? {} : { gpu }),
    ...(gucIds === undefined ? {} : { gucIds }),
    ...(userFenceTimeoutMs === undefined ? {} : { userFenceTimeoutMs }),
    ...(name === undefined ? {} : { name }),
    ...(preemptOrdering === undefined ? {} : { preemptOrdering }),
  });
  return { rt, xe };
}

/** A client: VM, a 64 KiB BO private to it bound at BO_VA, a render queue. */
export async function client(xe: XeDevice, engineClass: (typeof XeEngineClass)[keyof typeof XeEngineClass] = XeEngineClass.RENDER) {
  const f = xe.open();
  const { vmId } = await f.vmCreate();
  const { handle: bo } = await f.gemCreate({ size: 65536n, vmId });
  await f.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: BO_VA, op: 0 }] });
  const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass }] });
  return { f, vmId, bo, execQueueId };
}

/** Exec `units` on the queue with a new binary out-syncobj; returns its fence (a reference). */
export async function execWithFence(f: XeFile, execQueueId: number, units: number): Promise<Fence> {
  const { handle } = await f.syncobjCreate();
  await f.exec({ execQueueId, numBatchBuffer: 1, address: BO_VA, units, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle }] });
  const fence = f.syncobjs.lookup(handle)!.fenceGet()!;
  await f.syncobjDestroy({ handle });
  return fence;
}

export { errnoOf } from '@dep/kernel';

/** Close every file, wait until each exec queue's teardown finished, free the device. */
export async function teardown(rt: Runtime, xe: XeDevice, files: readonly XeFile[]): Promise<void> {
  const queues = files.flatMap((f) => f.execQueues.entries().map(([, q]) => q));
  for (const f of files) if (!f.closed) await f.close();
  for (const q of queues) await q.dep.waitReleased();
  await rt.sleep(1);
  await xe.fini();
}
