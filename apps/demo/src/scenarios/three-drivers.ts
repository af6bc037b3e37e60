/**
 * The three real driver adapters on one runtime, as the flagship and hang-recovery
 * scenarios use them: an xe GPU (GuC-like firmware), a panthor GPU (CSF-like firmware) and
 * an amdxdna NPU (AIE-like firmware), each a `DrmDevice` whose clients only use their
 * ioctl-shaped file methods.
 *
 * Every device and hw-sim device gets an explicit name: the drivers' default names count
 * per process, and a trace (and its hash) must depend on the seed alone.
 */
import { AmdxdnaBoType, AmdxdnaDevice, writeCommand, type AmdxdnaFile } from '@dep/driver-amdxdna';
import { PanthorDevice, PanthorSyncOpFlags, PanthorVmBindOpFlags, type PanthorFile } from '@dep/driver-panthor';
import { XeDevice, XeEngineClass, type XeFile } from '@dep/driver-xe';
import type { Runtime } from '@dep/kernel';

/** hw-sim device names: the prefixes of the engine lanes (`xe:rcs0`, `mali:csg0`, `npu:col0`). */
export const HW_NAMES = { xe: 'xe', panthor: 'mali', amdxdna: 'npu' } as const;

export type DriverName = keyof typeof HW_NAMES;
export const DRIVER_NAMES: readonly DriverName[] = ['xe', 'panthor', 'amdxdna'];

/** Options of {@link createDevices}. */
export interface DeviceOptions {
  /** xe's dma-fence job timeout (ms). Default 5000 (xe's `job_timeout_ms`). */
  readonly xeJobTimeoutMs?: number;
  /** xe's device-local memory in bytes (small to make memory pressure). Default 256 MiB. */
  readonly xeVram?: number;
  /** panthor's progress timeout (ms). Default 5000. */
  readonly panthorProgressTimeoutMs?: number;
  /** amdxdna's job timeout (ms). Default 60 000 (HWCTX_MAX_TIMEOUT). */
  readonly amdxdnaTimeoutMs?: number;
  /** GuC preemption timeout (ms) before an engine reset. Default 640. */
  readonly xePreemptTimeoutMs?: number;
}

export interface Devices {
  readonly xe: XeDevice;
  readonly panthor: PanthorDevice;
  readonly amdxdna: AmdxdnaDevice;
}

/** The three devices on `rt` (no clients yet). Call {@link finiDevices} after closing every file. */
export function createDevices(rt: Runtime, options: DeviceOptions = {}): Devices {
  const xe = new XeDevice({
    runtime: rt,
    name: 'card0',
    gpuConfig: {
      name: HW_NAMES.xe,
      engines: { render: 1, compute: 1, copy: 1 },
      ...(options.xeVram === undefined ? {} : { memory: { vram: options.xeVram } }),
      ...(options.xePreemptTimeoutMs === undefined ? {} : { defaults: { preemptTimeoutMs: options.xePreemptTimeoutMs } }),
    },
    ...(options.xeJobTimeoutMs === undefined ? {} : { jobTimeoutMs: options.xeJobTimeoutMs }),
  });
  const panthor = new PanthorDevice({
    runtime: rt,
    name: 'card1',
    csf: { name: HW_NAMES.panthor, slots: 4 },
    ...(options.panthorProgressTimeoutMs === undefined ? {} : { progressTimeoutMs: options.panthorProgressTimeoutMs }),
  });
  const amdxdna = new AmdxdnaDevice({
    runtime: rt,
    name: 'accel0',
    npuConfig: { name: HW_NAMES.amdxdna, columns: 4 },
    ...(options.amdxdnaTimeoutMs === undefined ? {} : { timeoutMs: options.amdxdnaTimeoutMs }),
  });
  return { xe, panthor, amdxdna };
}

/** Free the devices (every file closed first). Sleeps: call from a task. */
export async function finiDevices(devices: Devices): Promise<void> {
  await devices.xe.fini();
  await devices.panthor.fini();
  await devices.amdxdna.fini();
}

/** Where xe clients bind their one BO, and panthor clients their command-stream BO. */
export const BO_VA = 0x10_0000n;

/** An NPU client: device heap, a hardware context on `columns` columns with its CU (`cu`, a DEV BO) configured. */
export async function npuClient(dev: AmdxdnaDevice, columns = 1): Promise<{ file: AmdxdnaFile; hwctx: number; syncobj: number; cu: number }> {
  const file = dev.open();
  await file.createBo({ size: 65536n, type: AmdxdnaBoType.DEV_HEAP });
  const { handle: hwctx, syncobjHandle } = await file.createHwctx({ numTiles: 4 * columns });
  const { handle: cu } = await file.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
  await file.configHwctx({ handle: hwctx, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] });
  return { file, hwctx, syncobj: syncobjHandle, cu };
}

/**
 * A command BO holding one ERT_START_CU command of `units` (what XRT writes). The CPU
 * write goes through the BO's backing store, as userspace's mmap would.
 */
export async function npuCommand(file: AmdxdnaFile, units: number): Promise<number> {
  const { handle } = await file.createBo({ size: 4096n, type: AmdxdnaBoType.CMD });
  const obj = file.gemLookup(handle)!;
  writeCommand(obj, { units });
  obj.put();
  return handle;
}

/** A panthor client: a VM with a 64 KiB BO mapped at {@link BO_VA} (its command streams). */
export async function panthorClient(dev: PanthorDevice): Promise<{ file: PanthorFile; vmId: number }> {
  const file = dev.open();
  const { id: vmId } = await file.vmCreate({});
  const { handle: bo } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
  await file.vmBind({ vmId, ops: [{ flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle: bo, boOffset: 0n, va: BO_VA, size: 65536n, syncs: [] }] });
  return { file, vmId };
}

/** A panthor queue submit of `ms` of work (one 8-byte instruction per ms) with these sync ops. */
export function panthorQueueSubmit(queueIndex: number, ms: number, syncs: readonly { readonly flags: number; readonly handle: number }[] = []) {
  return { queueIndex, streamSize: ms * 8, streamAddr: BO_VA, latestFlush: 0, pad: 0, syncs: syncs.map((s) => ({ ...s, timelineValue: 0n })) };
}

/** A binary-syncobj WAIT or SIGNAL sync op of a panthor submit. */
export const panthorWait = (handle: number) => ({ flags: PanthorSyncOpFlags.WAIT | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ, handle });
export const panthorSignal = (handle: number) => ({ flags: (PanthorSyncOpFlags.SIGNAL | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ) >>> 0, handle });

/** An xe client: a VM (`flags`: LR_MODE …), a 64 KiB BO bound at {@link BO_VA}, one exec queue of `engineClass`. */
export async function xeClient(
  xe: XeDevice,
  engineClass: (typeof XeEngineClass)[keyof typeof XeEngineClass],
  vmFlags = 0,
): Promise<{ file: XeFile; vmId: number; bo: number; execQueueId: number }> {
  const file = xe.open();
  const { vmId } = await file.vmCreate({ flags: vmFlags });
  const { handle: bo } = await file.gemCreate({ size: 65536n, vmId });
  await file.vmBind({ vmId, binds: [{ obj: bo, range: 65536n, addr: BO_VA }] });
  const { execQueueId } = await file.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass }] });
  return { file, vmId, bo, execQueueId };
}
