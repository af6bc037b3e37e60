/**
 * The model the fuzzer checks the drivers against: what each client's handles name, which
 * object every GEM object was imported from, each VM's mappings (one page per slot), the
 * contexts (xe exec queues, panthor groups, amdxdna hardware contexts) and each syncobj's
 * state. Every command runs in its own `rt.run`, which drives the runtime until idle: a
 * submitted job has finished when the next command starts, so a syncobj is either empty
 * or holds a signalled fence.
 */
import { FILES_PER_DEVICE, type DeviceIndex } from './world.js';

export type SyncState = 'empty' | 'signaled';

/** A GEM object: key `"<device>:<object id>"`. */
export interface ObjModel {
  readonly key: string;
  readonly dev: DeviceIndex;
  /** Key of the object it was imported from (PRIME across devices), or its own key. */
  readonly origin: string;
  /** Key of the VM it is private to (xe `vm_id`, panthor `exclusive_vm_id`), or null. */
  readonly vm: string | null;
  /** amdxdna BO type (`AmdxdnaBoType`), 0 elsewhere. */
  readonly boType: number;
  readonly size: bigint;
}

/** A VM: key `"<device>:vm<idOf>"`. */
export interface VmModel {
  readonly key: string;
  /** Slot index → key of the object mapped there (one page at {@link slotVa}). */
  readonly slots: Map<number, string>;
  /** VM_DESTROY ran (or its file closed): the contexts still holding it see a closed VM. */
  destroyed: boolean;
  /** xe: long-running mode (`LR_MODE`, preempt fences; job fences are never exported). */
  readonly lr: boolean;
}

/** An xe exec queue, a panthor group or an amdxdna hardware context. */
export interface CtxModel {
  /** Key of its VM (xe, panthor), null for amdxdna. */
  readonly vm: string | null;
  /** amdxdna: the context's syncobj (its id), whose timeline gets a point per command. */
  readonly syncobj: number;
  /** amdxdna: CUs configured (the context is READY). */
  configured: boolean;
  /** amdxdna: the sequence number the next command gets. */
  nextSeq: bigint;
  /** amdxdna: key of the CU BO configured (the context holds a reference), null before. */
  cu: string | null;
}

export interface FileModel {
  /** GEM handle → object key. */
  readonly gem: Map<number, string>;
  /** Syncobj handle → syncobj id. */
  readonly sync: Map<number, number>;
  /** The PRIME cache: GEM handle → key of the dma-buf's exporting object. */
  readonly prime: Map<number, string>;
  /** VM handle → VM key. */
  readonly vms: Map<number, string>;
  /** Context handle → context (exec_queue, group, hwctx tables). */
  readonly ctxs: Map<number, CtxModel>;
  /** amdxdna: key of the file's device heap (the file holds a reference), null before one is made. */
  heap: string | null;
}

export interface DevModel {
  readonly files: FileModel[];
  /** Flink name → object key. */
  readonly names: Map<number, string>;
  /** Every object the model has seen on the device (also those no handle names any more). */
  readonly objects: Map<string, ObjModel>;
  readonly vms: Map<string, VmModel>;
}

export interface Model {
  readonly devs: [DevModel, DevModel, DevModel];
  /** Syncobj id → state. */
  readonly syncobjs: Map<number, SyncState>;
  /** Key of an exporting object → id of its dma-buf (one per object for as long as it lives). */
  readonly dmaBufs: Map<string, number>;
  /**
   * Syncobj id → what `SYNCOBJ_QUERY` answers: the point of the timeline node its fence is
   * (every fence is signalled), 0 for a fence that is no chain or none, null when the model
   * does not know (a sync_file import may wrap the chain).
   */
  readonly points: Map<number, bigint | null>;
  /** The dma-buf fds held open (`World.heldFds`, same order): key of each one's exporting object. */
  readonly heldFds: string[];
}

/**
 * The point a syncobj reports after a timeline node for `point` is added on top of its
 * fence (`dma_fence_chain_init`): on a chain, a point not later than the chain's becomes
 * the chain's (max); on no fence or a fence that is no chain, `point`; unknown stays unknown.
 */
export function chainPoint(prev: bigint | null | undefined, point: bigint): bigint | null {
  if (prev === null) return null;
  if (prev === undefined || prev === 0n) return point;
  return prev > point ? prev : point;
}

/** VA slots a bind may use, one page each. */
export const VA_SLOTS = 4;
/** GPU VA of slot `i`. */
export function slotVa(i: number): bigint {
  return 0x100_0000n + BigInt(i) * 0x10_0000n;
}

export function emptyFile(): FileModel {
  return { gem: new Map(), sync: new Map(), prime: new Map(), vms: new Map(), ctxs: new Map(), heap: null };
}

export function emptyModel(): Model {
  const dev = (): DevModel => ({ files: Array.from({ length: FILES_PER_DEVICE }, emptyFile), names: new Map(), objects: new Map(), vms: new Map() });
  return { devs: [dev(), dev(), dev()], syncobjs: new Map(), dmaBufs: new Map(), heldFds: [], points: new Map() };
}

/** What `idr_alloc(…, 1, 0, …)` hands out next. */
export function lowestFree(map: ReadonlyMap<number, unknown>): number {
  let h = 1;
  while (map.has(h)) h++;
  return h;
}

/** The `i`-th key of a map (modulo its size), undefined for an empty map. */
export function pick<K>(map: ReadonlyMap<K, unknown>, i: number): K | undefined {
  const keys = [...map.keys()];
  return keys.length === 0 ? undefined : keys[i % keys.length];
}

/**
 * A handle this table does not have: one another client has (a handle that is valid
 * elsewhere), else one past everything.
 */
export function bogus(mine: ReadonlyMap<number, unknown>, others: ReadonlyArray<ReadonlyMap<number, unknown>>): number {
  for (const o of others) for (const h of o.keys()) if (!mine.has(h)) return h;
  return 1000 + mine.size;
}

/** The handle tables of a file model. */
export type HandleTableName = 'gem' | 'sync' | 'prime' | 'vms' | 'ctxs';

/**
 * A handle of table `table` of file `f`: its `i`-th one ({@link pick}), or with `bad` one it
 * does not have ({@link bogus}: preferably valid in another file of the device).
 */
export function handleOf(d: DevModel, f: number, table: HandleTableName, i: number, bad: boolean): number | undefined {
  const mine = d.files[f]![table];
  return bad ? bogus(mine, otherFiles(d, f).map((x) => x[table])) : pick(mine, i);
}

/** Number of handles naming `obj` across the device's files. */
export function handleCount(d: DevModel, obj: string): number {
  let n = 0;
  for (const f of d.files) for (const o of f.gem.values()) if (o === obj) n++;
  return n;
}

/** `drm_gem_object_handle_free()`: an object whose last handle went loses its flink name. */
export function dropNames(d: DevModel): void {
  for (const [name, obj] of [...d.names]) if (handleCount(d, obj) === 0) d.names.delete(name);
}

/** The other files of the device (for {@link bogus}). */
export function otherFiles(d: DevModel, f: number): FileModel[] {
  return d.files.filter((_, i) => i !== f);
}

/** The VMs of a file that were not destroyed, by handle. */
export function liveVms(m: Model, d: DeviceIndex, f: number): Map<number, VmModel> {
  const out = new Map<number, VmModel>();
  for (const [h, key] of m.devs[d].files[f]!.vms) out.set(h, m.devs[d].vms.get(key)!);
  return out;
}

/**
 * The objects of a device that must be alive now (the runtime is idle: no job holds
 * one): those a handle names, those mapped in a VM, the heap of an amdxdna file and the
 * CU BOs of its contexts, and the exporter of every dma-buf still referenced — by a live
 * object imported from it on another device, or by a dma-buf fd held open.
 */
export function expectedAlive(m: Model, d: number): Set<string> {
  const direct = (dm: DevModel): Set<string> => {
    const out = new Set<string>();
    for (const f of dm.files) {
      for (const o of f.gem.values()) out.add(o);
      if (f.heap !== null) out.add(f.heap);
      for (const c of f.ctxs.values()) if (c.cu !== null) out.add(c.cu);
    }
    for (const vm of dm.vms.values()) if (!vm.destroyed) for (const o of vm.slots.values()) out.add(o);
    return out;
  };
  const alive = direct(m.devs[d as 0 | 1 | 2]);
  for (const origin of m.heldFds) if (Number(origin.split(':')[0]) === d) alive.add(origin);
  for (let other = 0; other < m.devs.length; other++) {
    if (other === d) continue;
    const odm = m.devs[other as 0 | 1 | 2];
    for (const key of direct(odm)) {
      const origin = odm.objects.get(key)!.origin;
      if (origin !== key && Number(origin.split(':')[0]) === d) alive.add(origin);
    }
  }
  return alive;
}
