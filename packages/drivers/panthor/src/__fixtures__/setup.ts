// Shared test setup: a runtime, a panthor device on a CSF GPU, helpers for the usual client.
import type { Fence } from '@dep/dma-fence';
import { DRM_TIMEOUT_INFINITE } from '@dep/drm';
import type { CsfConfig } from '@dep/hw-sim';
import { MemoryTraceSink, Runtime } from '@dep/kernel';
import { PanthorDevice, type PanthorFile } from '../device.js';
import { PanthorSyncOpFlags, PanthorVmBindOpFlags } from '../uapi.js';

export interface Env {
  readonly rt: Runtime;
  readonly dev: PanthorDevice;
  readonly sink: MemoryTraceSink;
}

export function setup(options: { seed?: number; chaos?: boolean; checks?: 'strict' | 'warn'; csf?: CsfConfig; inactiveFences?: boolean; bypass?: boolean; progressTimeoutMs?: number } = {}): Env {
  const rt = new Runtime({ seed: options.seed ?? 1, ...(options.chaos === undefined ? {} : { chaos: options.chaos }), ...(options.checks === undefined ? {} : { checks: options.checks }) });
  const sink = new MemoryTraceSink();
  rt.trace.attach(sink);
  const dev = new PanthorDevice({
    runtime: rt,
    csf: { cost: { compute: { fixedMs: 0, perUnitMs: 1 } }, ...options.csf },
    ...(options.inactiveFences === undefined ? {} : { inactiveFences: options.inactiveFences }),
    ...(options.bypass === undefined ? {} : { bypass: options.bypass }),
    ...(options.progressTimeoutMs === undefined ? {} : { progressTimeoutMs: options.progressTimeoutMs }),
  });
  return { rt, dev, sink };
}

/** A client with a VM, a 64 KiB BO mapped at 0x100000 (the command streams live there). */
export async function client(dev: PanthorDevice): Promise<{ file: PanthorFile; vmId: number; bo: number }> {
  const file = dev.open();
  const { id: vmId } = await file.vmCreate({});
  const { handle: bo } = await file.boCreate({ size: 65536n, exclusiveVmId: vmId });
  await file.vmBind({ vmId, ops: [mapOp(bo, STREAM_VA, 65536n)] });
  return { file, vmId, bo };
}

export const STREAM_VA = 0x100000n;

/** A queue submit of `ms` milliseconds of work (8 bytes = 1 instruction = 1 ms). */
export function qs(queueIndex: number, ms: number, syncs: Array<{ flags: number; handle: number; timelineValue?: bigint }> = []) {
  return { queueIndex, streamSize: ms * 8, streamAddr: STREAM_VA, latestFlush: 0, pad: 0, syncs: syncs.map((s) => ({ timelineValue: 0n, ...s })) };
}

/** A queue of a GROUP_CREATE (nested structs take every field). */
export function queue(ringbufSize = 4096, priority = 0) {
  return { priority, pad: 0, ringbufSize };
}

/** A VM_BIND MAP op. */
export function mapOp(boHandle: number, va: bigint, size: bigint, syncs: ReturnType<typeof signal>[] = [], boOffset = 0n) {
  return { flags: PanthorVmBindOpFlags.TYPE_MAP, boHandle, boOffset, va, size, syncs };
}

/** A VM_BIND UNMAP op. */
export function unmapOp(va: bigint, size: bigint, syncs: ReturnType<typeof signal>[] = []) {
  return { flags: PanthorVmBindOpFlags.TYPE_UNMAP, boHandle: 0, boOffset: 0n, va, size, syncs };
}

export const signal = (handle: number, timelineValue = 0n) => ({
  flags: (PanthorSyncOpFlags.SIGNAL | (timelineValue === 0n ? PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ : PanthorSyncOpFlags.HANDLE_TYPE_TIMELINE_SYNCOBJ)) >>> 0,
  handle,
  timelineValue,
});
export const wait = (handle: number, timelineValue = 0n) => ({
  flags: PanthorSyncOpFlags.WAIT | (timelineValue === 0n ? PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ : PanthorSyncOpFlags.HANDLE_TYPE_TIMELINE_SYNCOBJ),
  handle,
  timelineValue,
});

/** The fence in a binary syncobj (a reference: put it). */
export function fenceOf(file: PanthorFile, handle: number): Fence {
  const f = file.syncobjs.lookup(handle)!.fenceGet();
  if (f === null) throw new Error(`syncobj ${handle} has no fence`);
  return f;
}

export async function waitAll(file: PanthorFile, handles: number[]): Promise<void> {
  await file.syncobjWait({ handles, flags: 1, timeoutNsec: DRM_TIMEOUT_INFINITE });
}

export { errnoOf } from '@dep/kernel';

/** Close the files, let everything retire, tear the device down; returns the reports (no warn filter). */
export async function teardown(env: Env, files: PanthorFile[]): Promise<readonly unknown[]> {
  const { rt, dev } = env;
  await rt.run(async () => {
    for (const f of files) await f.close();
  });
  await rt.runUntilIdle();
  await rt.run(() => dev.fini());
  await rt.runUntilIdle();
  return rt.shutdown();
}
