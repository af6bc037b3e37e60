/**
 * What a client does when its context is lost (see client-errors.ts): re-create the xe
 * exec queue, the panthor group or the amdxdna hardware context, as Mesa and XRT do. Each
 * works on the client's mutable state and updates it in place. Process context (ioctls);
 * an error of the re-creation itself propagates (a resource error: the caller tries again
 * later; `ENODEV` from amdxdna: the device is lost).
 */
import type { AmdxdnaFile } from '@dep/driver-amdxdna';
import type { PanthorFile } from '@dep/driver-panthor';
import type { XeEngineClass, XeFile } from '@dep/driver-xe';
import { isDepError } from '@dep/kernel';
import { BO_VA } from './three-drivers.js';

/** An xe client: its file, VM (and the BO bound at {@link BO_VA}) and one exec queue. */
export interface XeClientState {
  readonly file: XeFile;
  vmId: number;
  bo: number;
  execQueueId: number;
  readonly engineClass: (typeof XeEngineClass)[keyof typeof XeEngineClass];
  /** Flags its VM was made with (`LR_MODE` …): a new VM gets the same. */
  readonly vmFlags: number;
}

/**
 * xe: destroy the banned or killed exec queue (gone already: ENOENT is fine) and make a new
 * one on the VM; a killed VM takes no new queue (ENOENT), so then a new VM first, with a new
 * BO bound at {@link BO_VA} (the client's batches and user fences live there), and the old
 * VM destroyed.
 */
export async function recreateXeQueue(c: XeClientState): Promise<void> {
  try {
    await c.file.execQueueDestroy({ execQueueId: c.execQueueId });
  } catch (e) {
    if (!isDepError(e, 'ENOENT')) throw e;
  }
  const create = async (): Promise<number> => (await c.file.execQueueCreate({ vmId: c.vmId, width: 1, numPlacements: 1, instances: [{ engineClass: c.engineClass }] })).execQueueId;
  try {
    c.execQueueId = await create();
    return;
  } catch (e) {
    if (!isDepError(e, 'ENOENT')) throw e;
  }
  const { vmId } = await c.file.vmCreate({ flags: c.vmFlags });
  const { handle: bo } = await c.file.gemCreate({ size: 65536n, vmId });
  await c.file.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: BO_VA }] });
  const old = c.vmId;
  c.vmId = vmId;
  c.bo = bo;
  c.execQueueId = await create();
  await c.file.vmDestroy({ vmId: old });
}

/** A panthor client: its file, VM and one group of one queue. */
export interface PanthorClientState {
  readonly file: PanthorFile;
  readonly vmId: number;
  groupHandle: number;
}

/** A group of one queue on the client's VM (what the demo's panthor clients submit to). */
export async function createPanthorGroup(file: PanthorFile, vmId: number): Promise<number> {
  return (await file.groupCreate({ vmId, priority: 0, queues: [{ priority: 0, pad: 0, ringbufSize: 4096 }] })).groupHandle;
}

/** panthor: destroy the terminated group (gone already: EINVAL/ENOENT are fine) and make a new one (panvk on a lost context). */
export async function recreatePanthorGroup(c: PanthorClientState): Promise<void> {
  try {
    await c.file.groupDestroy({ groupHandle: c.groupHandle });
  } catch (e) {
    if (!isDepError(e, 'EINVAL') && !isDepError(e, 'ENOENT')) throw e;
  }
  c.groupHandle = await createPanthorGroup(c.file, c.vmId);
}

/** An amdxdna client: its file, hardware context and the CU BO the context is configured with. */
export interface NpuClientState {
  readonly file: AmdxdnaFile;
  hwctx: number;
  readonly cu: number;
}

/**
 * amdxdna: destroy the context (gone already: EINVAL is fine), make a new one (`ENODEV` on
 * a lost device) and configure its CU; a configuration that fails destroys the new context.
 */
export async function recreateNpuContext(c: NpuClientState, numTiles = 4): Promise<void> {
  try {
    await c.file.destroyHwctx({ handle: c.hwctx });
  } catch (e) {
    if (!isDepError(e, 'EINVAL')) throw e;
  }
  const { handle } = await c.file.createHwctx({ numTiles });
  try {
    await c.file.configHwctx({ handle, cuConfigs: [{ cuBo: c.cu, cuFunc: 0, pad: 0 }] });
  } catch (e) {
    await c.file.destroyHwctx({ handle });
    throw e;
  }
  c.hwctx = handle;
}
