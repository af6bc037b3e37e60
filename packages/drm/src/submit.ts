/**
 * The building blocks a driver's submit ioctl composes (xe `exec`, panthor `group_submit`,
 * amdxdna `cmd_submit`): lock every reservation object of the submit with retry
 * (`drm_exec`), collect implicit-sync dependencies from each object's resv, add the job's
 * fence to them, resolve in-syncs and install the out-fence into syncobjs.
 */
import { DmaFenceChain, type Fence, type Syncobj } from '@dep/dma-fence';
import { DmaResvUsage, DrmExec, usageRw, type DmaResv } from '@dep/dma-resv';
import { DepError } from '@dep/kernel';
import type { DrmFile } from './file.js';
import type { GemObject } from './gem.js';
import type { GpuVm } from './gpuvm.js';

/** An object a job uses, and whether it writes it (implicit sync). */
export interface SubmitObject {
  readonly obj: GemObject;
  readonly write: boolean;
}

/** Options of {@link lockObjects}. */
export interface LockObjectsOptions {
  /** Fence slots to reserve on every resv (a job that adds one fence: 1). Default 1. */
  readonly numFences?: number;
  /** Also lock this VM's resv and its external objects (`drm_gpuvm_prepare_vm/objects`). */
  readonly vm?: GpuVm | null;
  /** Lock interruptibly; `signal` aborts with EINTR. */
  readonly interruptible?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Lock the resv of every object (and of the VM and its external objects) under one
 * acquire context with `drm_exec`'s backoff and retry, reserving `numFences` slots on each.
 * Objects sharing a resv (VM-private ones) and duplicates are fine. Resolves with the exec
 * holding every lock — add fences, then `exec.fini()`. On failure every lock is dropped and
 * `DepError` thrown (ENOMEM, EINTR). Sleeps.
 */
export async function lockObjects(objs: readonly GemObject[], options: LockObjectsOptions = {}): Promise<DrmExec<GemObject>> {
  const vm = options.vm ?? null;
  if (vm !== null) {
    return vm.execLock({
      extra: objs,
      numFences: options.numFences ?? 1,
      ...(options.interruptible === undefined ? {} : { interruptible: options.interruptible }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }
  const first = objs[0];
  if (first === undefined) throw new DepError('EINVAL', 'lockObjects: pass at least one object (or a vm)');
  const numFences = options.numFences ?? 1;
  const exec = new DrmExec<GemObject>(first.dev.runtime, {
    ignoreDuplicates: true,
    ...(options.interruptible === undefined ? {} : { interruptible: options.interruptible }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  let r: number;
  try {
    r = await exec.untilAllLocked((ex) => ex.prepareArray(objs, numFences));
  } catch (e) {
    exec.fini();
    throw e;
  }
  if (r !== 0) {
    exec.fini();
    throw DepError.fromErrno(r, 'lockObjects: locking the submit objects failed');
  }
  return exec;
}

/**
 * `drm_sched_job_add_implicit_dependencies()` for every object: the unsignalled fences a
 * job must wait for — from each object's resv, those of usage ≤ `usageRw(write)` (a writer
 * waits for readers and writers, a reader for writers only). Deduplicated per fence
 * context keeping the later fence, as `drm_sched_job_add_dependency` does. Each resv must
 * be locked by the caller (a locked walk). Returns references: put them (or hand them to
 * the job as dependencies).
 */
export function collectImplicitDeps(objs: readonly SubmitObject[]): Fence[] {
  const byContext = new Map<bigint, Fence>();
  for (const { obj, write } of objs) {
    for (const f of obj.resv.forEachFence(usageRw(write))) {
      if (f.isSignaled()) continue;
      const old = byContext.get(f.context);
      if (old === undefined) {
        byContext.set(f.context, f.get());
      } else if (f.isLater(old)) {
        byContext.set(f.context, f.get());
        old.put();
      }
    }
  }
  return [...byContext.values()];
}

/**
 * Add a job's fence to the resv of every object, each resv once: with `usage` if given
 * (BOOKKEEP for explicitly synced submits, as panthor does), else implicit sync — WRITE if
 * any object sharing that resv is written, READ otherwise. Every resv must be locked with a
 * slot reserved ({@link lockObjects}); this cannot fail then (the point of no return).
 * Returns the resvs the fence went into.
 */
export function addFenceToObjects(objs: readonly SubmitObject[], fence: Fence, usage?: DmaResvUsage): DmaResv[] {
  const per = new Map<DmaResv, DmaResvUsage>();
  for (const { obj, write } of objs) {
    const u = usage ?? (write ? DmaResvUsage.WRITE : DmaResvUsage.READ);
    const old = per.get(obj.resv);
    per.set(obj.resv, old === undefined || u < old ? u : old);
  }
  for (const [resv, u] of per) resv.addFence(fence, u);
  return [...per.keys()];
}

/** One in-sync of a submit: wait for `handle`'s fence at `point` (0: binary). */
export interface InSync {
  readonly handle: number;
  readonly point?: bigint;
  /** `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT` to wait for the fence to be submitted. */
  readonly flags?: number;
}

/**
 * `drm_syncobj_find_fence()` for every in-sync: the fences the job depends on
 * (references: put them or give them to the job). ENOENT for a handle naming nothing,
 * EINVAL for a syncobj (point) without a fence; on error nothing is held. Sleeps with
 * WAIT_FOR_SUBMIT.
 */
export async function resolveInSyncs(file: DrmFile, syncs: readonly InSync[]): Promise<Fence[]> {
  const out: Fence[] = [];
  try {
    for (const s of syncs) out.push(await file.syncobjFindFence(s.handle, s.point ?? 0n, s.flags ?? 0));
  } catch (e) {
    for (const f of out) f.put();
    throw e;
  }
  return out;
}

/** One out-sync of a submit: signal `handle` when the job is done — replace its fence (point 0) or add `point`. */
export interface OutSync {
  readonly handle: number;
  readonly point?: bigint;
}

interface OutSyncEntry {
  readonly handle: number;
  readonly syncobj: Syncobj;
  readonly point: bigint;
  readonly chain: DmaFenceChain | null;
}

/**
 * The out-syncs of a submit, prepared before the point of no return and installed after
 * it, as xe's `xe_sync_entry_parse` / `_signal` and amdxdna's timeline point do.
 * {@link OutSyncs.prepare} looks every syncobj up and allocates the chain node of every
 * timeline point (what can fail); {@link OutSyncs.install} cannot fail.
 */
export class OutSyncs {
  readonly file: DrmFile;
  readonly #entries: readonly OutSyncEntry[];
  #done = false;

  private constructor(file: DrmFile, entries: readonly OutSyncEntry[]) {
    this.file = file;
    this.#entries = entries;
  }

  /**
   * Look up every syncobj (ENOENT) and allocate a chain node per timeline point (ENOMEM
   * under fault injection at `dma_fence_chain_alloc`). All or nothing: on error no
   * reference is held.
   */
  static prepare(file: DrmFile, syncs: readonly OutSync[]): OutSyncs {
    const entries: OutSyncEntry[] = [];
    try {
      for (const s of syncs) {
        const point = s.point ?? 0n;
        if (typeof point !== 'bigint' || point < 0n) throw new DepError('EINVAL', `out-sync ${s.handle}: point must be a u64 bigint`);
        const syncobj = file.syncobjFind(s.handle);
        if (syncobj === null) throw new DepError('ENOENT', `out-sync: syncobj handle ${s.handle} names nothing in ${file.label}`);
        let chain: DmaFenceChain | null = null;
        try {
          if (point !== 0n) chain = DmaFenceChain.alloc(file.runtime);
        } catch (e) {
          syncobj.put();
          throw e;
        }
        entries.push({ handle: s.handle, syncobj, point, chain });
      }
    } catch (e) {
      for (const en of entries) en.syncobj.put();
      throw e;
    }
    return new OutSyncs(file, entries);
  }

  /** Number of out-syncs. */
  get count(): number {
    return this.#entries.length;
  }

  /**
   * Install `fence` into every out-sync: `replaceFence` for a binary one,
   * `addPoint(fence, point, chain)` for a timeline point. Cannot fail (beyond a contract
   * violation: an INACTIVE fence, a second install). Drops the references.
   */
  install(fence: Fence): void {
    this.#use('install');
    const rt = this.file.runtime;
    for (const e of this.#entries) {
      if (e.chain === null) e.syncobj.replaceFence(fence);
      else e.syncobj.addPoint(fence, e.point, e.chain);
      if (rt.trace.enabled) {
        rt.trace.emit('drm:syncobj_install', { file: this.file.label, handle: e.handle, point: e.point, context: fence.context, seqno: fence.seqno });
      }
    }
    this.#release();
  }

  /** The submit failed before the point of no return: drop the references, install nothing. */
  abort(): void {
    this.#use('abort');
    this.#release();
  }

  #use(who: string): void {
    if (this.#done) throw new DepError('EINVAL', `OutSyncs.${who}: already installed or aborted`);
    this.#done = true;
  }

  #release(): void {
    for (const e of this.#entries) e.syncobj.put();
  }
}
