/**
 * Snapshots of everything a client can observe on a device, as plain data. Two snapshots
 * compare with `toEqual`: what a failed ioctl must leave exactly as it was.
 */
import type { Fence, Syncobj } from '@dep/dma-fence';
import { DmaResvUsage, type DmaResv } from '@dep/dma-resv';
import type { DrmDevice } from './device.js';
import type { GemObject } from './gem.js';
import type { GpuVm } from './gpuvm.js';

/** A GEM object in a snapshot. */
export interface GemObjectSnapshot {
  readonly id: number;
  readonly size: string;
  readonly refcount: number;
  readonly handleCount: number;
  readonly flinkName: number;
  /** Id of the dma-buf cached on the object, 0 if none. */
  readonly dmaBuf: number;
  /** The resv's fences (`context:seqno` + `*` when signalled, usage), in order. */
  readonly resv: readonly string[];
}

/** A file in a snapshot. */
export interface DrmFileSnapshot {
  readonly id: number;
  readonly closed: boolean;
  /** `[handle, object id]`. */
  readonly gem: ReadonlyArray<readonly [number, number]>;
  /** `[handle, syncobj id, refcount, fence]`. */
  readonly syncobjs: ReadonlyArray<readonly [number, number, number, string]>;
  /** `[handle, dma-buf id]` of the file's prime cache. */
  readonly prime: ReadonlyArray<readonly [number, number]>;
  /** Every other table: name → `[handle, object id]`. */
  readonly tables: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>;
  /** The file's VMs: `[handle, mappings as "va+range→obj@offset", extobj ids]`. */
  readonly vms: ReadonlyArray<readonly [number, readonly string[], readonly number[]]>;
}

/** {@link DrmDevice.snapshot}. */
export interface DrmDeviceSnapshot {
  readonly objects: readonly GemObjectSnapshot[];
  /** `[flink name, object id]`. */
  readonly names: ReadonlyArray<readonly [number, number]>;
  readonly files: readonly DrmFileSnapshot[];
}

/** `context:seqno` of a fence, `*` when signalled, `null` for none. */
export function describeFence(f: Fence | null): string {
  if (f === null) return 'null';
  return `${f.context}:${f.seqno}${f.isSignaled() ? '*' : ''}`;
}

function describeSyncobj(s: Syncobj): string {
  const f = s.fenceGet();
  try {
    return describeFence(f);
  } finally {
    f?.put();
  }
}

/** The fences of a resv, every usage, in iteration order (signalled ones included). */
export function describeResv(resv: DmaResv): string[] {
  if (resv.isFinished) return ['(finished)'];
  const cursor = resv.iterBegin(DmaResvUsage.PREEMPT);
  const out: string[] = [];
  try {
    for (let f = cursor.firstUnlocked(); f !== null; f = cursor.nextUnlocked()) out.push(`${describeFence(f)}/${cursor.usage}`);
  } finally {
    cursor.end();
  }
  return out;
}

function snapshotObject(obj: GemObject): GemObjectSnapshot {
  return {
    id: obj.id,
    size: obj.size.toString(),
    refcount: obj.refcount,
    handleCount: obj.handleCount,
    flinkName: obj.flinkName,
    dmaBuf: obj.dmaBuf?.id ?? 0,
    resv: describeResv(obj.resv),
  };
}

function describeVm(vm: GpuVm): [string[], number[]] {
  const maps = vm.mappings().map((m) => `${m.va.toString(16)}+${m.range.toString(16)}→${m.bo.id}@${m.offset.toString(16)}`);
  return [maps, vm.extobjs().map((o) => o.id)];
}

/** @internal */
export function snapshotDevice(dev: DrmDevice): DrmDeviceSnapshot {
  const objects = dev.objects.map(snapshotObject);
  const names = dev._names().map(([n, o]) => [n, o.id] as const);
  const files = dev.files.map((file): DrmFileSnapshot => {
    const tables: Record<string, Array<readonly [number, number]>> = {};
    for (const name of file.tableNames) {
      if (name === 'gem' || name === 'syncobj' || name === 'vm') continue;
      tables[name] = file.table<object>(name).entries().map(([h, o]) => [h, dev.idOf(o)] as const);
    }
    return {
      id: file.id,
      closed: file.closed,
      gem: file.gem.entries().map(([h, o]) => [h, o.id] as const),
      syncobjs: file.syncobjs.entries().map(([h, s]) => [h, dev.idOf(s), s.refcount, describeSyncobj(s)] as const),
      prime: file._primeEntries().map(([h, b]) => [h, b.id] as const),
      tables,
      vms: file.vms.entries().map(([h, vm]) => [h, ...describeVm(vm)] as const),
    };
  });
  return { objects, names, files };
}
