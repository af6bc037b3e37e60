import type { Runtime, Workqueue } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import type { DepJob } from './job.js';
import type { DepQueue } from './queue.js';

/**
 * The job methods that collect dependencies. They exist only before `arm()`: the handle
 * `arm()` returns ({@link ArmedDepJob}) and the one the queue's ops receive
 * ({@link PushedDepJob}) do not have them.
 */
export type DepCollectMethod = 'addDependency' | 'addSyncobjDependency' | 'addResvDependencies' | 'addImplicitDependencies';

/**
 * The handle `job.arm()` returns: the same object, typed without the dependency methods
 * and without `arm` (the typestate of rfc-designs E.2: after the point of no return nothing
 * may be added, since adding allocates and may fail).
 */
export type ArmedDepJob<J extends DepJob = DepJob> = Omit<J, DepCollectMethod | 'arm'>;

/** The job as the queue's ops see it: pushed, so it has neither the dependency methods nor `arm`/`push`. */
export type PushedDepJob<J extends DepJob = DepJob> = Omit<J, DepCollectMethod | 'arm' | 'push'>;

/**
 * A job's state (rfc-designs A.4), as `job.state` reads it.
 *
 * - `initialized`: `init` succeeded; dependencies may be added (COLLECTING_DEPS).
 * - `armed`: the finished fence exists with its seqno; the point of no return.
 * - `pushed`: the queue holds a reference; waiting for its dependencies, its turn and credits.
 * - `running`: `runJob` returned; its hardware fence drives the finished fence; credits held.
 * - `done`: the finished fence signalled (with the hardware fence's error, `-ESRCH` if the
 *   queue was killed, `-ECANCELED` if it was cancelled).
 * - `freed`: the last reference was dropped; `freeJob` ran. Any use is a use-after-free.
 */
export type DepJobState = 'initialized' | 'armed' | 'pushed' | 'running' | 'done' | 'freed';

/**
 * What `timedoutJob` returns (`enum drm_gpu_sched_stat`).
 *
 * - `reset`: the driver reset the hardware context; it signals (or already signalled) the
 *   job's hardware fence, typically with `-ETIMEDOUT` or `-ECANCELED`. The timer is re-armed.
 * - `noHang`: a false alarm; the job is still making progress and completes normally later.
 *   The timer is re-armed.
 * - `enodev`: the device is gone; the timer stays off until `start()`.
 *
 * In every case the job goes back at the head of the pending list and is retired when its
 * hardware fence signals: the queue keeps its reference, so nothing leaks whatever the
 * driver does (decision 0504).
 */
export type DepTimeoutStatus = 'reset' | 'noHang' | 'enodev';

/** Teardown flavour of a queue (rfc-designs E.4; decision 0505). */
export type DepTeardown = 'sync' | 'async';

/**
 * The driver's callbacks (`struct drm_dep_queue_ops`). Method syntax, so a queue of a
 * driver's job class (`DepQueueOps<XeJob>`) is accepted where `DepQueueOps` is expected.
 *
 * Contexts: `runJob` runs on the submit workqueue (a `WQ_MEM_RECLAIM` worker) inside a
 * fence-signalling section, or — with `bypass` — inline in the task that called `push`,
 * still inside a signalling section: no `GFP_KERNEL` allocation, no fence waits, no lock
 * that is held anywhere while waiting on a fence. `freeJob` runs where the last reference
 * to the job is dropped: a worker, the pusher, or — with `jobPutIrqSafe` — the hardware
 * fence's callback in irq context.
 */
export interface DepQueueOps<J extends DepJob = DepJob> {
  /**
   * `ops->run_job`: every dependency has signalled and credits allow. Return the hardware
   * fence (the queue takes over one reference, as drm_sched does: take your own if you keep
   * it), or null for "done, no hardware fence". Throw a `DepError` for "could not run": the
   * job completes with that errno (the kernel's `ERR_PTR`). Synchronous (it must not await).
   */
  runJob(job: PushedDepJob<J>): Fence | null;
  /**
   * `ops->timedout_job`: the head job has run longer than the queue's timeout (or
   * `triggerTimeout()` forced it). The job is off the pending list while this runs. May
   * sleep (it runs on the timeout workqueue). Required when the timeout is finite.
   */
  timedoutJob?(job: PushedDepJob<J>): DepTimeoutStatus | Promise<DepTimeoutStatus>;
  /**
   * `ops->cancel_job`: the queue is being torn down while `job` is on the hardware: signal
   * its hardware fence with an error (`-ECANCELED`). Do not free the job; the queue does.
   * Without it, `fini()` waits for the hardware to complete the job (and WARNs).
   */
  cancelJob?(job: PushedDepJob<J>): void;
  /**
   * `ops->free_job` (the job's destructor): the last reference is gone. Release what the
   * driver attached to the job. Must not sleep. On a queue with `jobPutIrqSafe` it may run
   * in irq context, which must be declared with {@link DepQueueOps.freeJobIrqSafe}.
   */
  freeJob?(job: PushedDepJob<J> | J): void;
  /**
   * Declares that `freeJob` is safe in irq context (takes no sleeping lock, frees nothing
   * that needs process context). Required by `jobPutIrqSafe`; a final put in atomic
   * context on a queue without it is a report, and the free is deferred to the put worker.
   */
  readonly freeJobIrqSafe?: boolean;
  /**
   * The firmware's deregistration of the queue's context (Xe: two asynchronous GuC
   * commands before the queue memory and the firmware id may be reused). Resolves when the
   * firmware replied. Awaited by `fini()` with `teardown: 'sync'`, by the release worker
   * with `teardown: 'async'`. May sleep (await runtime waits only).
   */
  deregister?(queue: DepQueue<J>): void | Promise<void>;
  /** The queue's memory is released (last reference gone, teardown finished). Must not sleep. */
  release?(queue: DepQueue<J>): void;
}

/**
 * Options of a {@link DepQueue} (`drm_dep_queue_init` arguments and flags). Each debated
 * option of the drm_dep review is a plain boolean or string here; the README gives the
 * arguments on each side.
 */
export interface DepQueueOptions<J extends DepJob = DepJob> {
  /** The runtime; default `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** Queue name (fence timeline name, workqueue names, trace lane). Non-empty. */
  readonly name: string;
  /** The driver's callbacks. */
  readonly ops: DepQueueOps<J>;
  /**
   * Credits the hardware can hold at once (ring size / max job size, in-flight command
   * slots). Positive integer. A job's credits are held from `runJob` until its hardware
   * fence signals; a job asking for more than this is rejected at init (EINVAL).
   */
  readonly creditLimit: number;
  /**
   * Largest credits one job may ask for (checked at init, EINVAL beyond). Default
   * `creditLimit`. The HW-ring layer gives an entity's queue a wide window (`creditLimit`)
   * while its jobs must still fit in the ring (`maxJobCredits`). At most `creditLimit`.
   */
  readonly maxJobCredits?: number;
  /** TDR timeout in ms for the head job on the hardware; `Infinity` (default) disables it. */
  readonly timeout?: number;
  /**
   * Submit workqueue (run and put work items). Must be `WQ_MEM_RECLAIM` (the drm_dep
   * series insists: a submit worker sits on the reclaim path). Default: the queue makes an
   * ordered reclaim queue `drm_dep_<name>` and destroys it at teardown.
   */
  readonly submitWq?: Workqueue;
  /** Timeout workqueue. Must be `WQ_MEM_RECLAIM`. Default: the submit workqueue. */
  readonly timeoutWq?: Workqueue;
  /**
   * Submit-workqueue bypass (rfc-designs E.3): `push` calls `runJob` inline when the queue
   * is idle and empty, the job has no unsignalled dependency and credits allow. Saves a
   * worker wake-up per submission; `runJob` then runs under the pusher's locks. Default false.
   */
  readonly bypass?: boolean;
  /**
   * `DRM_DEP_QUEUE_FLAGS_JOB_PUT_IRQ_SAFE` (rfc-designs E.1): the queue drops its job
   * reference — and retires the job — in the hardware fence's callback, in irq context,
   * instead of bouncing through the put worker. Requires `ops.freeJobIrqSafe`. Default false.
   */
  readonly jobPutIrqSafe?: boolean;
  /**
   * INACTIVE finished fences (rfc-designs E.2): a fence is inactive from `arm` to `push`,
   * so containers refuse it and a failure before `push` just drops an unpublished fence.
   * Default false (the drm_sched contract: nothing between arm and push may fail).
   */
  readonly inactiveFences?: boolean;
  /**
   * Opt-in scheduled fence (rfc-designs A.5, E.4): a second fence per job, on the next
   * fence context with the same seqno, signalled when `runJob` has been called. Default false.
   */
  readonly scheduledFence?: boolean;
  /** `sync` (default): `fini()` returns when everything is gone. `async`: it returns at once and a worker finishes. */
  readonly teardown?: DepTeardown;
  /**
   * The driver's submission lock. When given, `arm()` and `push()` assert (lockdep) that
   * the calling task holds it: arm and push must be atomic against other submitters so that
   * seqno order is queue order. Whatever the option, a push out of arm order is a WARN.
   */
  readonly submitLock?: object;
}

/** Counters of a queue (always kept; they cost an increment). */
export interface DepQueueStats {
  /** Jobs pushed. */
  pushed: number;
  /** Jobs whose `runJob` ran inline from `push` (bypass). */
  bypassed: number;
  /** Jobs whose `runJob` ran on the submit worker. */
  ranOnWorker: number;
  /** Executions of the run work item. */
  runWorkItems: number;
  /** Executions of the put (free) work item. */
  putWorkItems: number;
  /** Jobs retired (queue reference dropped) in the hardware fence's callback. */
  irqRetired: number;
  /** Jobs retired by the put worker (or after a stop/timeout, in the caller). */
  workerRetired: number;
  /** Timeout handler invocations. */
  timeouts: number;
  /** Jobs completed with -ESRCH by kill. */
  killed: number;
  /** Jobs handed to `cancelJob` by teardown. */
  cancelled: number;
}
