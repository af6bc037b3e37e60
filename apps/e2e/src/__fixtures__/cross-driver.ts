// One runtime, three devices: an amdxdna NPU, a panthor GPU and an xe GPU, each a client
// away from a shared buffer. Helpers speak only the drivers' public uAPI (ioctls) and
// @dep/drm's PRIME and dma-buf sync_file ioctls.
import { type Fence, type SyncFile } from '@dep/dma-fence';
import { AmdxdnaBoType, AmdxdnaDevice, writeCommand, type AmdxdnaFile } from '@dep/driver-amdxdna';
import { PanthorDevice, PanthorSyncOpFlags, PanthorVmBindOpFlags, type PanthorFile } from '@dep/driver-panthor';
import { XE_SYNC_FLAG_SIGNAL, XeDevice, XeEngineClass, XeSyncType, type XeFile } from '@dep/driver-xe';
import { DRM_TIMEOUT_INFINITE, DmaBufSyncFlags, SyncobjFdToHandleFlags, SyncobjHandleToFdFlags, type DmaBufFd, type DrmFile } from '@dep/drm';
import { MemoryTraceSink, Runtime } from '@dep/kernel';

export interface CrossEnv {
  readonly rt: Runtime;
  readonly sink: MemoryTraceSink;
  readonly npu: AmdxdnaDevice;
  readonly mali: PanthorDevice;
  readonly xe: XeDevice;
}

/** The three devices on one strict runtime (optionally a chaos seed), a trace sink attached. */
export function setupDevices(options: { seed?: number; chaos?: boolean; npuTimeoutMs?: number; xeJobTimeoutMs?: number } = {}): CrossEnv {
  const rt = new Runtime({ seed: options.seed ?? 1, checks: 'strict', ...(options.chaos === true ? { chaos: true } : {}) });
  const sink = new MemoryTraceSink();
  rt.trace.attach(sink);
  const npu = new AmdxdnaDevice({ runtime: rt, name: 'accel0', npuConfig: { columns: 4 }, ...(options.npuTimeoutMs === undefined ? {} : { timeoutMs: options.npuTimeoutMs }) });
  const mali = new PanthorDevice({ runtime: rt, name: 'card1', csf: { cost: { compute: { fixedMs: 0, perUnitMs: 1 } } } });
  const xe = new XeDevice({ runtime: rt, name: 'card2', gpuConfig: { engines: { render: 1, compute: 1, copy: 1, video: 1 } }, jobTimeoutMs: options.xeJobTimeoutMs ?? 100 });
  return { rt, sink, npu, mali, xe };
}

/** An NPU client: heap, a one-column hardware context with a CU configured. */
export async function npuClient(dev: AmdxdnaDevice): Promise<{ f: AmdxdnaFile; ctx: number }> {
  const f = dev.open();
  await f.createBo({ size: 65536n, type: AmdxdnaBoType.DEV_HEAP });
  const { handle: ctx } = await f.createHwctx({ numTiles: 4 });
  const { handle: cu } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.DEV });
  await f.configHwctx({ handle: ctx, cuConfigs: [{ cuBo: cu, cuFunc: 0, pad: 0 }] });
  return { f, ctx };
}

/**
 * A 64 KiB buffer the NPU client makes and shares with `importer` through PRIME (export,
 * import, the fd closed again): the NPU's handle and the importer's.
 */
export async function npuSharedBuffer(npuF: AmdxdnaFile, importer: DrmFile): Promise<{ buf: number; imported: number }> {
  const { handle: buf } = await npuF.createBo({ size: 65536n, type: AmdxdnaBoType.SHMEM });
  const { fd } = await npuF.primeHandleToFd({ handle: buf });
  const { handle: imported } = await importer.primeFdToHandle({ fd });
  fd.close();
  return { buf, imported };
}

/** An NPU command BO holding one ERT_START_CU of `units`. */
export async function npuCommand(f: AmdxdnaFile, units: number): Promise<number> {
  const { handle } = await f.createBo({ size: 4096n, type: AmdxdnaBoType.CMD });
  writeCommand(f.gem.lookup(handle)!, { units });
  return handle;
}

export const STREAM_VA = 0x100000n;
export const SHARED_VA = 0x200000n;

/** A panthor client: a VM with its stream BO at STREAM_VA, a one-queue group (`queue`: its drm_dep queue's name). */
export async function maliClient(dev: PanthorDevice): Promise<{ file: PanthorFile; vmId: number; groupHandle: number; queue: string }> {
  const file = dev.open();
  const { id: vmId } = await file.vmCreate({});
  const { handle: bo } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
  await file.vmBind({ vmId, ops: [maliMap(bo, STREAM_VA, 65536n)] });
  const { groupHandle } = await file.groupCreate({ vmId, queues: [{ priority: 0, pad: 0, ringbufSize: 4096 }] });
  return { file, vmId, groupHandle, queue: `${file.groups.lookup(groupHandle)!.hwName}.q0` };
}

/** A panthor VM_BIND MAP op. */
export function maliMap(boHandle: number, va: bigint, size: bigint) {
  return { flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle, boOffset: 0n, va, size, syncs: [] };
}

/** A panthor queue submit of `ms` of work waiting on the binary syncobjs `waits` and signalling `signals`. */
export function maliJob(ms: number, waits: readonly number[], signals: readonly number[]) {
  const syncs = [
    ...waits.map((handle) => ({ flags: PanthorSyncOpFlags.WAIT | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ, handle, timelineValue: 0n })),
    ...signals.map((handle) => ({ flags: (PanthorSyncOpFlags.SIGNAL | PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ) >>> 0, handle, timelineValue: 0n })),
  ];
  return { queueIndex: 0, streamSize: ms * 8, streamAddr: STREAM_VA, latestFlush: 0, pad: 0, syncs };
}

export const XE_VA = 0x10_0000n;

/** An xe client: a VM and one render exec queue. */
export async function xeClient(dev: XeDevice): Promise<{ f: XeFile; vmId: number; execQueueId: number }> {
  const f = dev.open();
  const { vmId } = await f.vmCreate();
  const { execQueueId } = await f.execQueueCreate({ vmId, width: 1, numPlacements: 1, instances: [{ engineClass: XeEngineClass.RENDER }] });
  return { f, vmId, execQueueId };
}

/** An xe exec of `units` signalling the binary syncobj `out`. */
export async function xeExec(f: XeFile, execQueueId: number, units: number, out: number): Promise<void> {
  await f.exec({ execQueueId, numBatchBuffer: 1, address: XE_VA, units, syncs: [{ type: XeSyncType.SYNCOBJ, flags: XE_SYNC_FLAG_SIGNAL, handle: out }] });
}

/**
 * The writer's half of Mesa's explicit → implicit bridge: its out-syncobj as a sync_file
 * (`SYNCOBJ_HANDLE_TO_FD(EXPORT_SYNC_FILE)`), imported into the dma-buf as a WRITE fence
 * (`DMA_BUF_IOCTL_IMPORT_SYNC_FILE`).
 */
export async function publishWrite(file: DrmFile, outSyncobj: number, buf: DmaBufFd): Promise<void> {
  const { fd } = await file.syncobjHandleToFd({ handle: outSyncobj, flags: SyncobjHandleToFdFlags.EXPORT_SYNC_FILE });
  try {
    await buf.importSyncFile({ flags: DmaBufSyncFlags.WRITE, fd });
  } finally {
    fd.close();
  }
}

/**
 * The reader's half: `DMA_BUF_IOCTL_EXPORT_SYNC_FILE(READ)` on the reader's own fd of the
 * buffer, imported into a new binary syncobj (`SYNCOBJ_FD_TO_HANDLE(IMPORT_SYNC_FILE)`),
 * ready to be an in-sync of the reader's submit. Returns the syncobj handle.
 */
export async function readDependency(file: DrmFile, bufHandle: number): Promise<number> {
  const { fd: buf } = await file.primeHandleToFd({ handle: bufHandle });
  let sf: SyncFile | null = null;
  try {
    sf = (await buf.exportSyncFile({ flags: DmaBufSyncFlags.READ })).fd;
    const { handle } = await file.syncobjCreate();
    await file.syncobjFdToHandle({ fd: sf, handle, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
    return handle;
  } finally {
    sf?.close();
    buf.close();
  }
}

/** The fence in a binary syncobj (a reference: put it). */
export function syncobjFence(file: DrmFile, handle: number): Fence {
  const f = file.syncobjs.lookup(handle)?.fenceGet() ?? null;
  if (f === null) throw new Error(`syncobj ${handle} has no fence`);
  return f;
}

/** Wait for every binary syncobj of `handles`. */
export async function waitAll(file: DrmFile, handles: number[]): Promise<void> {
  await file.syncobjWait({ handles, flags: 1, timeoutNsec: DRM_TIMEOUT_INFINITE });
}

/** When each job of the drm_dep queue `queue` started running (`drm_dep:job_run`), in ms. */
export function jobRuns(sink: MemoryTraceSink, queue: string): number[] {
  return sink.named('drm_dep:job_run').filter((r) => r.args.queue === queue).map((r) => r.ts);
}

/** Close the files, let everything retire, tear every device down; the shutdown reports as strings. */
export async function shutdownAll(env: CrossEnv, files: { npu?: AmdxdnaFile[]; mali?: PanthorFile[]; xe?: XeFile[] }): Promise<string[]> {
  const { rt } = env;
  await rt.run(async () => {
    const xeQueues = (files.xe ?? []).flatMap((f) => f.execQueues.entries().map(([, q]) => q));
    for (const f of [...(files.mali ?? []), ...(files.xe ?? []), ...(files.npu ?? [])]) if (!f.closed) await f.close();
    for (const q of xeQueues) await q.dep.waitReleased();
    await rt.sleep(1);
  });
  await rt.runUntilIdle();
  await rt.run(async () => {
    await env.mali.fini();
    await env.xe.fini();
    await env.npu.fini();
  });
  await rt.runUntilIdle();
  return rt.shutdown().map((r) => `${r.kind}: ${r.message}`);
}
