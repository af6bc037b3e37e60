import { DmaFence, type DmaFenceOps, type Fence, type FenceInitOptions } from '@dep/dma-fence';
import type { DepJob } from './job.js';

/** Lockdep class of finished fences (the kernel's drm_sched fences have their own lock too). */
export const DEP_FENCE_LOCK_CLASS = '&drm_dep_fence->lock';
/** Lockdep class of scheduled fences. */
export const DEP_SCHEDULED_FENCE_LOCK_CLASS = '&drm_dep_fence->scheduled_lock';

/**
 * The private finished (or scheduled) fence of a job. Drivers and users only ever see its
 * read-only `Fence` view; the queue alone signals it. It points back at its job so
 * the queue can recognise its own fences (same-queue dependencies are ordered by the queue
 * and dropped) and so a sibling waiting on it while it is INACTIVE can be woken at push.
 *
 * @internal
 */
export class DepFence extends DmaFence {
  /** @internal The job; null once the job is freed (the fence may outlive it). */
  _job: DepJob | null;

  /**
   * Initialised at once (`dma_fence_init` through the constructor's fast path) when `ops`
   * is given; otherwise an uninitialised fence (the scheduled fence, initialised at arm).
   */
  constructor(job: DepJob | null, ops?: DmaFenceOps<DepFence>, context?: bigint, seqno?: bigint, options?: FenceInitOptions) {
    if (ops === undefined) super();
    else super(ops, context, seqno, options);
    this._job = job;
  }
}

/**
 * What `job._fence` holds before arm: an uninitialised fence shared by every unarmed job
 * (the finished fence is made at arm, where the kernel initialises it).
 *
 * @internal
 */
export const UNARMED: DepFence = new DepFence(null);

/**
 * Ops of finished fences: no `release` and no `wait`, so the core detaches them at signal
 * time (Boris' review: a drm_dep fence must not keep the module alive once signalled).
 */
export const finishedFenceOps: DmaFenceOps<DepFence> = {
  getDriverName: () => 'drm_dep',
  getTimelineName: (f) => f._job?.queue.name ?? 'drm_dep',
};

/** Ops of scheduled fences. */
export const scheduledFenceOps: DmaFenceOps<DepFence> = {
  getDriverName: () => 'drm_dep',
  getTimelineName: (f) => `${f._job?.queue.name ?? 'drm_dep'}:scheduled`,
};

/**
 * The brand a preempt fence carries: `Symbol.for('@dep/fence-preempt:preempt-fence')` set
 * to `true` on the fence (or on its class prototype). `@dep/fence-preempt` satisfies this
 * structural check, so `@dep/queue` needs no dependency on it. `Symbol.for` makes the brand
 * work across duplicate installs.
 */
export const PREEMPT_FENCE_BRAND: unique symbol = Symbol.for('@dep/fence-preempt:preempt-fence') as never;

/**
 * True if `fence` is a preempt fence: one whose signalling enables preemption of another
 * context, so a job must wait on it only after every other dependency has signalled
 * (otherwise the other context is preempted while this job still waits — the lesson the
 * preempt-fence RFC taught drm/sched). Such dependencies go to a second list drained last.
 */
export function isPreemptFence(fence: Fence): boolean {
  return (fence as unknown as Record<symbol, unknown>)[PREEMPT_FENCE_BRAND] === true;
}
