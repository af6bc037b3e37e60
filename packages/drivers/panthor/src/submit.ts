/**
 * `struct panthor_submit_ctx` (panthor_drv.c): what VM_BIND (async) and GROUP_SUBMIT share.
 * Signal operations are collected first (each syncobj looked up, a chain node preallocated
 * per timeline point, the point's current fence remembered); a job's wait operation on a
 * (handle, point) that an earlier job of the batch signals depends on that sibling's fence
 * (intra-batch dependencies); syncobj out-fences are installed only after every push.
 */
import { DmaFenceChain, type Fence, type Syncobj } from '@dep/dma-fence';
import { DepError } from '@dep/kernel';
import type { DrmFile } from '@dep/drm';
import type { DepJob } from '@dep/queue';
import { PanthorSyncOpFlags } from './uapi.js';

/** A parsed `drm_panthor_sync_op`. */
export interface SyncOp {
  readonly flags: number;
  readonly handle: number;
  readonly timelineValue: bigint;
}

interface SignalEntry {
  readonly handle: number;
  readonly point: bigint;
  readonly syncobj: Syncobj;
  chain: DmaFenceChain | null;
  fence: Fence | null;
}

/** `panthor_check_sync_op`: known flags, a known handle type, no point on a binary syncobj. EINVAL otherwise. */
export function checkSyncOp(op: SyncOp, where: string): void {
  const type = op.flags & PanthorSyncOpFlags.HANDLE_TYPE_MASK;
  if (type !== PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ && type !== PanthorSyncOpFlags.HANDLE_TYPE_TIMELINE_SYNCOBJ) {
    throw new DepError('EINVAL', `${where}: handle type ${type} is neither SYNCOBJ (0) nor TIMELINE_SYNCOBJ (1)`);
  }
  if (type === PanthorSyncOpFlags.HANDLE_TYPE_SYNCOBJ && op.timelineValue !== 0n) {
    throw new DepError('EINVAL', `${where}: a binary syncobj takes no timeline value (got ${op.timelineValue})`);
  }
}

function isSignal(op: SyncOp): boolean {
  return ((op.flags & PanthorSyncOpFlags.SIGNAL) >>> 0) !== 0;
}

/** One job of a submit and its sync operations. */
export interface CtxJob<J extends DepJob> {
  readonly job: J;
  readonly syncs: readonly SyncOp[];
}

/** The submit context. Call {@link SubmitCtx.cleanup} in every case. */
export class SubmitCtx<J extends DepJob> {
  readonly file: DrmFile;
  readonly jobs: Array<CtxJob<J>> = [];
  readonly #signals: SignalEntry[] = [];
  /** Index of the job that armed last (jobs below it are armed). */
  #armed = 0;
  #pushed = 0;

  constructor(file: DrmFile) {
    this.file = file;
  }

  #search(handle: number, point: bigint): SignalEntry | undefined {
    return this.#signals.find((s) => s.handle === handle && s.point === point);
  }

  /**
   * `panthor_submit_ctx_collect_jobs_signal_ops`: look every signalled syncobj up (EINVAL if
   * the handle names nothing), preallocate chain nodes (ENOMEM), remember the current fence.
   */
  async collectSignalOps(): Promise<void> {
    const rt = this.file.runtime;
    for (const { syncs } of this.jobs) {
      for (const op of syncs) {
        if (!isSignal(op)) continue;
        if (this.#search(op.handle, op.timelineValue) !== undefined) continue;
        const syncobj = this.file.syncobjFind(op.handle);
        if (syncobj === null) throw new DepError('EINVAL', `signal op: syncobj handle ${op.handle} names nothing in ${this.file.label}`);
        const entry: SignalEntry = { handle: op.handle, point: op.timelineValue, syncobj, chain: null, fence: null };
        this.#signals.push(entry);
        if (op.timelineValue > 0n) entry.chain = DmaFenceChain.alloc(rt);
        try {
          entry.fence = await this.file.syncobjFindFence(op.handle, op.timelineValue, 0);
        } catch {
          entry.fence = null; // no fence at that point yet: fine
        }
      }
    }
  }

  /**
   * The dependencies of job `i` that do not come from an earlier job of the batch, resolved
   * and added before anything is armed (so every fallible lookup happens before the point
   * of no return): the fence a signal entry had when collected, or the syncobj's.
   * ENOENT/EINVAL (`drm_syncobj_find_fence`), ENOMEM.
   */
  async addExternalDeps(i: number): Promise<void> {
    const { job, syncs } = this.jobs[i]!;
    for (const op of syncs) {
      if (isSignal(op)) continue;
      if (this.#producer(i, op) >= 0) continue;
      const entry = this.#search(op.handle, op.timelineValue);
      let fence: Fence;
      if (entry !== undefined) {
        if (entry.fence === null) throw new DepError('EINVAL', `wait op on syncobj ${op.handle} point ${op.timelineValue}: no fence there`);
        fence = entry.fence.get();
      } else {
        fence = await this.file.syncobjFindFence(op.handle, op.timelineValue, 0);
      }
      job.addDependency(fence);
    }
  }

  /** Index of the last job before `i` that signals the (handle, point) `op` waits on, or -1. */
  #producer(i: number, op: SyncOp): number {
    for (let j = i - 1; j >= 0; j--) {
      if (this.jobs[j]!.syncs.some((s) => isSignal(s) && s.handle === op.handle && s.timelineValue === op.timelineValue)) return j;
    }
    return -1;
  }

  /**
   * `panthor_submit_ctx_add_deps_and_arm_jobs`: for each job in order, add its intra-batch
   * dependencies (siblings already armed), arm it, and make it the fence of its signal
   * entries.
   */
  armAll(): void {
    for (let i = 0; i < this.jobs.length; i++) {
      const { job, syncs } = this.jobs[i]!;
      for (const op of syncs) {
        if (isSignal(op)) continue;
        const j = this.#producer(i, op);
        if (j >= 0) job.addDependency(this.jobs[j]!.job.finishedFence().get());
      }
      job.arm();
      this.#armed = i + 1;
      const done = job.finishedFence();
      for (const op of syncs) {
        if (!isSignal(op)) continue;
        const entry = this.#search(op.handle, op.timelineValue)!;
        entry.fence?.put();
        entry.fence = done.get();
      }
    }
  }

  /**
   * `panthor_submit_ctx_push_jobs`: for each job, `updResvs` (add its fence to the resvs)
   * and push — or, with INACTIVE fences (rfc-designs E.2), push first and then publish —
   * then install the out-fences.
   */
  pushAll(updResvs: (fence: Fence) => void, pushFirst: boolean): void {
    for (const { job } of this.jobs) {
      const a = job as unknown as { push(): void; finishedFence(): Fence };
      if (pushFirst) {
        a.push();
        updResvs(a.finishedFence());
      } else {
        updResvs(a.finishedFence());
        a.push();
      }
      this.#pushed++;
    }
    for (const s of this.#signals) {
      if (s.fence === null) continue;
      if (s.chain !== null) {
        s.syncobj.addPoint(s.fence, s.point, s.chain);
        s.chain = null;
      } else {
        s.syncobj.replaceFence(s.fence);
      }
    }
  }

  /** `panthor_submit_ctx_cleanup`: drop every reference the context holds and the submitter's job references. */
  cleanup(): void {
    for (const s of this.#signals) {
      s.syncobj.put();
      s.fence?.put();
      s.fence = null;
      s.chain = null;
    }
    this.#signals.length = 0;
    void this.#armed;
    void this.#pushed;
    for (const { job } of this.jobs) job.put();
  }
}
