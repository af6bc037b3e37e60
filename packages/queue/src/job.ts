import { DepError, GFP_KERNEL, type LifetimeToken } from '@dep/kernel';
import { DmaFence, fenceLabel, fenceWaitsOn, type Fence, type FenceWait, type Syncobj } from '@dep/dma-fence';
import { DmaResv, DmaResvUsage, isUsage, usageRw } from '@dep/dma-resv';
import { DepFence, UNARMED, finishedFenceOps, isPreemptFence, scheduledFenceOps } from './fence.js';
import type { DepQueue } from './queue.js';
import type { ArmedDepJob, DepJobState } from './types.js';

// --- job states (A.4) and flag bits ---------------------------------------------------
/** @internal */ export const ST_INIT = 0;
/** @internal */ export const ST_ARMED = 1;
/** @internal */ export const ST_PUSHED = 2;
/** @internal */ export const ST_RUNNING = 3;
/** @internal */ export const ST_DONE = 4;
/** @internal */ export const ST_FREED = 5;

const STATE_NAMES: readonly DepJobState[] = ['initialized', 'armed', 'pushed', 'running', 'done', 'freed'];

/** @internal A dependency callback (or an activation wait) is installed. */
export const JF_CB = 1;
/** @internal The job holds credits (ran on the hardware, not yet done). */
export const JF_CREDITS = 2;
/** @internal Off the pending list while the timeout handler runs. */
export const JF_TDR = 4;
/** @internal Completed by kill (never ran). */
export const JF_KILLED = 8;
/** @internal Its last put came in atomic context on a queue whose free is not irq-safe. */
export const JF_DEFERRED = 16;

/** Rarely used parts of a job, allocated on demand (checked mode always has one). */
interface JobExtras {
  /** The opt-in scheduled fence. */
  sched: DepFence | null;
  /** Preempt-fence dependencies: drained after every other one. */
  pre: DmaFence[] | null;
  /** Wait-for graph edges job → dependency (checked mode). */
  edges: FenceWait[] | null;
  /** Jobs of other queues waiting for this job's INACTIVE fence to become active (push). */
  actWaiters: DepJob[] | null;
}

/** Options of `new DepJob(queue, options)` (`drm_dep_job_init` arguments). */
export interface DepJobOptions {
  /** Credits the job takes on the hardware while it runs: an integer 1 … `queue.creditLimit`. Default 1. */
  readonly credits?: number;
}

function newExtras(): JobExtras {
  return { sched: null, pre: null, edges: null, actWaiters: null };
}

function describeFenceArg(f: unknown): string {
  if (f === null) return 'null';
  if (typeof f !== 'object') return typeof f;
  return (f as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}

/**
 * `struct drm_dep_job`: one unit of work for a {@link DepQueue}. Drivers embed it by
 * subclassing (`class XeJob extends DepJob`), as the kernel embeds `drm_dep_job` in the
 * driver's job struct.
 *
 * Lifecycle (rfc-designs A.4): `new DepJob(queue, { credits })` is `drm_dep_job_init`
 * (fallible: EINVAL, ENOMEM) → `addDependency` … → {@link DepJob.arm} (the point of no
 * return; the finished fence gets the queue's next seqno) → {@link DepJob.push} (the queue
 * takes its reference) → `runJob` once every dependency signalled and credits allow → the
 * hardware fence drives the finished fence → retired → freed on the last {@link DepJob.put}.
 *
 * References: `init` gives the caller one; `push` makes the queue take its own, dropped when
 * the job is retired. A job holds a reference on its queue until it is freed. Dropping the
 * last reference before `arm` is the abort path (`drm_sched_job_cleanup` before arm): the
 * dependencies are put and nothing was published.
 *
 * Members whose names start with `_` are the queue's; a subclass must not define its own.
 */
export class DepJob {
  /** The queue the job belongs to (pinned: the job holds a reference on it). */
  readonly queue: DepQueue;
  /** Credits taken on the hardware while the job runs. */
  readonly credits: number;
  /** @internal State (ST_*). */
  _st: number;
  /** @internal Flag bits (JF_*). */
  _fl: number;
  /** @internal Job reference count. */
  _refs: number;
  /** @internal Arm order within the queue (1, 2, …); 0 before arm. */
  _seq: number;
  /** @internal The private finished fence (made at arm; {@link UNARMED} before). */
  _fence: DepFence;
  /** @internal First dependency, inline. */
  _dep0: DmaFence | null;
  /** @internal Second and later dependencies. */
  _deps: DmaFence[] | null;
  /** @internal Resolution cursor over the dependencies (then the preempt ones). */
  _di: number;
  /** @internal The hardware fence `runJob` returned (the queue holds its reference). */
  _hw: DmaFence | null;
  /** @internal Next job on the queue's queued or pending list. */
  _next: DepJob | null;
  /** @internal Rare fields. */
  _x: JobExtras | null;
  /** @internal `rt.lifetimes` registration; null with checks `off`. */
  _token: LifetimeToken | null;

  /**
   * `drm_dep_job_init(job, queue, credits)`. Throws, with nothing changed:
   * - `DepError('EINVAL')` for a queue that is not a {@link DepQueue}, credits that are not
   *   an integer ≥ 1, or more credits than the queue's limit (drm_sched truncated those
   *   with a WARN; here they are refused where the driver can still handle it);
   * - `DepError('ESRCH')` if the queue was killed or is being torn down;
   * - `DepError('ENOMEM')` when the allocation hook fails (`GFP_KERNEL`, sites
   *   `drm_dep_job_init` and, with the scheduled-fence option, `drm_dep_scheduled_fence`).
   *
   * Process context (it allocates with `GFP_KERNEL`).
   */
  constructor(queue: DepQueue, options?: DepJobOptions) {
    if ((queue as unknown) === JOB_SHAPE) {
      // The module's shape sentinel (JOB_SHAPE): the same fields in the same order as below,
      // no queue, nothing registered anywhere.
      this.queue = null as unknown as DepQueue;
      this.credits = 1;
      this._st = ST_FREED;
      this._fl = 0;
      this._refs = 0;
      this._seq = 0;
      this._fence = UNARMED;
      this._dep0 = null;
      this._deps = null;
      this._di = 0;
      this._hw = null;
      this._next = null;
      this._x = null;
      this._token = null;
      JOB_SHAPE.job = this;
      return;
    }
    const q = queue as DepQueue & { _checkJobInit?: unknown };
    if (typeof q !== 'object' || q === null || typeof q._checkJobInit !== 'function') {
      throw new DepError('EINVAL', `drm_dep_job_init: pass the DepQueue the job belongs to, got ${describeFenceArg(queue)}`);
    }
    const credits = options === undefined || options.credits === undefined ? 1 : options.credits;
    queue._checkJobInit(credits);
    const rt = queue.runtime;
    rt.alloc(GFP_KERNEL, 'drm_dep_job_init');
    if (queue.scheduledFenceEnabled) rt.alloc(GFP_KERNEL, 'drm_dep_scheduled_fence');
    // Every field once, in final form, in one order: one hidden class (the same order as
    // the sentinel branch above).
    this.queue = queue;
    this.credits = credits;
    this._st = ST_INIT;
    this._fl = 0;
    this._refs = 1;
    this._seq = 0;
    this._fence = UNARMED;
    this._dep0 = null;
    this._deps = null;
    this._di = 0;
    this._hw = null;
    this._next = null;
    this._x = null;
    this._token = rt.checks === 'off' ? null : rt.lifetimes.track(this, 'drm_dep_job', queue._jobSite);
    if (queue.scheduledFenceEnabled) (this._x ??= newExtras()).sched = new DepFence(this);
    queue._jobInit(this);
  }

  // --- queries -----------------------------------------------------------------------

  /** Where the job is in its life (rfc-designs A.4). */
  get state(): DepJobState {
    return STATE_NAMES[this._st]!;
  }

  /** The job reference count (`kref_read`). */
  get refcount(): number {
    return this._refs;
  }

  /** True once armed (the finished fence exists). */
  get armed(): boolean {
    return this._st >= ST_ARMED && this._seq !== 0;
  }

  /** Dependencies still held (0 once `runJob` ran: they are released right after it). */
  get dependencyCount(): number {
    let n = this._dep0 === null ? 0 : 1 + (this._deps === null ? 0 : this._deps.length);
    const pre = this._x?.pre;
    if (pre != null) n += pre.length;
    return n;
  }

  /**
   * `drm_dep_job_finished_fence()`: the finished fence, as the read-only `Fence` view (`@dep/dma-fence`).
   * Valid only after `arm()` (EINVAL before). Borrowed: it is valid while you hold a job
   * reference; `get()` it to keep it longer.
   */
  finishedFence(): Fence {
    if (this._st === ST_FREED) this._alive('drm_dep_job_finished_fence');
    if (this._seq === 0) {
      throw new DepError('EINVAL', `drm_dep_job_finished_fence on a job of ${this.queue.name} that was not armed: the finished fence exists from arm() on`);
    }
    return this._fence.publish();
  }

  /** The opt-in scheduled fence (null unless the queue has `scheduledFence`); valid after `arm()`. */
  scheduledFence(): Fence | null {
    this._alive('drm_dep_job_scheduled_fence');
    const s = this._x?.sched ?? null;
    if (s === null) return null;
    if (this._seq === 0) {
      throw new DepError('EINVAL', `drm_dep_job_scheduled_fence on a job of ${this.queue.name} that was not armed: it exists from arm() on`);
    }
    return s.publish();
  }

  /** The hardware fence `runJob` returned, while the job holds it (from run to free). */
  hardwareFence(): Fence | null {
    return this._hw;
  }

  /** `drm_dep_job_has_dependency(job, fence)`: pointer equality with a held dependency. */
  hasDependency(fence: Fence): boolean {
    if (this._dep0 === fence) return true;
    const deps = this._deps;
    if (deps !== null && deps.includes(fence as DmaFence)) return true;
    const pre = this._x?.pre;
    return pre != null && pre.includes(fence as DmaFence);
  }

  // --- references ----------------------------------------------------------------------

  /** `drm_dep_job_get()`: one more reference; returns the job. */
  get(): this {
    if (this._st === ST_FREED) this._alive('drm_dep_job_get');
    this._refs++;
    return this;
  }

  /**
   * `drm_dep_job_put()`: drop a reference. The last one frees the job: its dependencies,
   * hardware fence and finished-fence reference are put, `ops.freeJob` runs, and the job's
   * reference on its queue goes. Before `arm` that is the abort path. An armed job freed
   * without `push` is a contract violation: with INACTIVE fences its fence is simply dropped
   * (it was never visible); otherwise it is a WARN and the fence is signalled with
   * `-ECANCELED` so nobody waits forever. A final put in atomic context on a queue without
   * an irq-safe free is a report, and the free is deferred to the put worker.
   */
  put(): void {
    if (this._st === ST_FREED) {
      this._alive('drm_dep_job_put');
      return;
    }
    const n = this._refs - 1;
    this._refs = n;
    if (n > 0) return;
    this.queue._jobFinalPut(this);
  }

  // --- dependencies --------------------------------------------------------------------

  /**
   * `drm_dep_job_add_dependency(job, fence)`: `fence` must signal before `runJob`.
   * **Consumes the caller's reference even on error** (as drm_sched). `null`/`undefined` is
   * a no-op. Fences of the same context are de-duplicated, keeping the later one. A fence
   * of this job's own queue is dropped (the queue runs its jobs in order), as is an already
   * signalled one. A preempt fence ({@link isPreemptFence}) goes to a second list drained
   * after all others. An INACTIVE fence is accepted only from another `DepQueue` job (the
   * intra-batch exception: the job waits until that sibling is pushed). Growing past the
   * inline slot allocates (`GFP_KERNEL`, site `drm_dep_job_add_dependency`): ENOMEM.
   *
   * Before `arm` only: the handle `arm()` returns has no such method. Called on an armed job
   * anyway it is a WARN (an allocation after the point of no return); on a pushed one,
   * `DepError('EINVAL')`.
   */
  addDependency(fence: Fence | null | undefined): void {
    if (fence === null || fence === undefined) return;
    if (!(fence instanceof DmaFence)) {
      throw new DepError('EINVAL', `drm_dep_job_add_dependency: expected a fence (or null), got ${describeFenceArg(fence)}`);
    }
    this._addDep(fence, isPreemptFence(fence), 'drm_dep_job_add_dependency');
  }

  /**
   * `drm_dep_job_add_syncobj_dependency(job, file, handle, point)` on the syncobj itself:
   * looks up the fence for `point` (0 for a binary syncobj) with `findFence(point, 0)` and
   * adds it. Rejects like `findFence` (EINVAL: no fence for that point) and like
   * {@link DepJob.addDependency}; nothing is added then.
   */
  async addSyncobjDependency(syncobj: Syncobj, point = 0n): Promise<void> {
    const who = 'drm_dep_job_add_syncobj_dependency';
    this._alive(who);
    if (typeof syncobj !== 'object' || syncobj === null || typeof (syncobj as { findFence?: unknown }).findFence !== 'function') {
      throw new DepError('EINVAL', `${who}: pass a Syncobj, got ${describeFenceArg(syncobj)}`);
    }
    this._checkCollecting(who);
    const fence = await syncobj.findFence(point, 0);
    this.addDependency(fence);
  }

  /**
   * `drm_dep_job_add_resv_dependencies(job, resv, usage)`: add every fence of `resv` whose
   * usage is at most `usage` (the ceiling rule of dma-resv), each with its own reference.
   * The resv must be locked by the caller (lockdep assertion). Fences of the PREEMPT usage
   * go to the preempt list, drained after every other dependency. On ENOMEM the fences added
   * so far stay (as drm_sched): the caller unwinds by putting the job. EINVAL for a
   * non-resv or a bad usage, nothing changed.
   */
  addResvDependencies(resv: DmaResv, usage: DmaResvUsage): void {
    const who = 'drm_dep_job_add_resv_dependencies';
    this._alive(who);
    if (!(resv instanceof DmaResv)) {
      throw new DepError('EINVAL', `${who}: pass a DmaResv, got ${describeFenceArg(resv)}`);
    }
    if (!isUsage(usage)) {
      throw new DepError('EINVAL', `${who}: usage ${String(usage)} is not a DmaResvUsage; pass DmaResvUsage.KERNEL, WRITE, READ, BOOKKEEP or PREEMPT`);
    }
    this._checkCollecting(who);
    resv.assertHeld();
    const cursor = resv.iterBegin(usage);
    for (let f = cursor.first(); f !== null; f = cursor.next()) {
      const fence = f as DmaFence;
      this._addDep(fence.get(), cursor.usage === DmaResvUsage.PREEMPT || isPreemptFence(fence), who);
    }
  }

  /**
   * `drm_dep_job_add_implicit_dependencies(job, obj, write)`: implicit sync on a GEM-like
   * object (anything with a `resv`): {@link DepJob.addResvDependencies} with
   * `usageRw(write)` — a writer waits for readers and writers, a reader for writers only.
   */
  addImplicitDependencies(obj: { readonly resv: DmaResv }, write: boolean): void {
    const who = 'drm_dep_job_add_implicit_dependencies';
    if (typeof obj !== 'object' || obj === null || !((obj as { resv?: unknown }).resv instanceof DmaResv)) {
      throw new DepError('EINVAL', `${who}: pass an object with a resv (a GEM object), got ${describeFenceArg(obj)}`);
    }
    if (typeof write !== 'boolean') {
      throw new DepError('EINVAL', `${who}: write must be a boolean (true for a write access)`);
    }
    this.addResvDependencies(obj.resv, usageRw(write));
  }

  /** @internal Shared body of the add-dependency entry points. */
  _addDep(fence: DmaFence, preempt: boolean, who: string): void {
    try {
      this._alive(who);
      this._checkCollecting(who);
    } catch (e) {
      fence.put();
      throw e;
    }
    const q = this.queue;
    // A fence of this queue (finished or scheduled) is ordered by the queue itself.
    if (fence instanceof DepFence && fence._job !== null && fence._job.queue === q) {
      fence.put();
      return;
    }
    if (fence.testSignaledFlag()) {
      fence.put();
      return;
    }
    if (fence.inactive && !(fence instanceof DepFence && fence._job !== null)) {
      fence.put();
      throw new DepError('EINVAL', `${who}: fence ${fenceLabel(fence)} is INACTIVE (armed, not pushed) and not a drm_dep fence: only a sibling DepJob's fence may be depended on before its push`);
    }
    // Dedup by context, keeping the later fence.
    const ctx = fence.context;
    const list = preempt ? (this._x?.pre ?? null) : this._deps;
    if (!preempt && this._dep0 !== null && this._dep0.context === ctx) {
      this._dep0 = keepLater(this._dep0, fence);
      return;
    }
    if (list !== null) {
      for (let i = 0; i < list.length; i++) {
        const d = list[i]!;
        if (d.context === ctx) {
          list[i] = keepLater(d, fence);
          return;
        }
      }
    }
    if (!preempt && this._dep0 === null) {
      this._dep0 = fence;
    } else {
      try {
        q.runtime.alloc(GFP_KERNEL, 'drm_dep_job_add_dependency');
      } catch (e) {
        fence.put();
        throw e;
      }
      if (preempt) {
        const x = (this._x ??= newExtras());
        if (x.pre === null) x.pre = [fence];
        else x.pre.push(fence);
      } else if (this._deps === null) {
        this._deps = [fence];
      } else {
        this._deps.push(fence);
      }
    }
    if (this._st === ST_ARMED) this._edgeTo(fence, preempt);
    if (q._tracing()) q._traceDependency(this, fence, preempt);
  }

  /** @internal EINVAL unless dependencies may still be added; WARN once armed. */
  _checkCollecting(who: string): void {
    const st = this._st;
    if (st === ST_INIT) return;
    if (st === ST_ARMED) {
      this.queue.runtime.reports.warnOn(
        true,
        `${who} on an armed job of ${this.queue.name}: an allocation after drm_dep_job_arm on the submit path (it may fail, and a published fence can no longer be unwound)`,
        ['add every dependency before arm(); the handle arm() returns has no addDependency'],
      );
      return;
    }
    throw new DepError('EINVAL', `${who} on a ${STATE_NAMES[st]!} job of ${this.queue.name}: dependencies are added before arm() and push()`);
  }

  /** @internal The dependency at resolution index `i`, or null past the end. */
  _depAt(i: number, withPreempt: boolean): DmaFence | null {
    const d0 = this._dep0;
    let n = 0;
    if (d0 !== null) {
      if (i === 0) return d0;
      const deps = this._deps;
      n = deps === null ? 1 : 1 + deps.length;
      if (i < n) return deps![i - 1]!;
    }
    if (!withPreempt) return null;
    const pre = this._x?.pre;
    if (pre == null) return null;
    const j = i - n;
    return j < pre.length ? pre[j]! : null;
  }

  /** @internal Put every dependency (after runJob, on kill, at free) and drop their graph edges. */
  _releaseDeps(): void {
    const d0 = this._dep0;
    if (d0 === null && this._x === null) return;
    if (d0 !== null) {
      this._dep0 = null;
      d0.put();
      const deps = this._deps;
      if (deps !== null) {
        this._deps = null;
        for (let i = 0; i < deps.length; i++) deps[i]!.put();
      }
    }
    const x = this._x;
    if (x !== null) {
      const pre = x.pre;
      if (pre !== null) {
        x.pre = null;
        for (let i = 0; i < pre.length; i++) pre[i]!.put();
      }
      const edges = x.edges;
      if (edges !== null) {
        x.edges = null;
        for (const e of edges) e.remove();
      }
    }
    this._di = 0;
  }

  /** @internal Declare "finished waits on dependency" (checked mode). */
  _edgeTo(dep: DmaFence, preempt: boolean): void {
    if (this._token === null) return; // checks off
    const e = fenceWaitsOn(this._fence, dep, preempt ? 'drm_dep job preempt dependency' : 'drm_dep job dependency');
    if (!e.active) return;
    const x = (this._x ??= newExtras());
    // `[e]` sizes the backing store for one edge; `[]` + push would allocate room for 17.
    if (x.edges === null) x.edges = [e];
    else x.edges.push(e);
  }

  // --- arm / push ------------------------------------------------------------------------

  /**
   * `drm_dep_job_arm(job)`: initialise the finished fence with the queue's next seqno (the
   * point of no return: the fence may now be handed out and used as a dependency). Returns
   * the same job typed without the dependency methods. With `inactiveFences` the fence is
   * INACTIVE until {@link DepJob.push}. Must run under the driver's submission lock, as
   * `push` (asserted with lockdep when the queue was given it). A second `arm` is
   * `DepError('EINVAL')`, nothing changed.
   */
  arm(): ArmedDepJob<this> {
    const who = 'drm_dep_job_arm';
    if (this._st === ST_FREED) this._alive(who);
    if (this._st !== ST_INIT) {
      throw new DepError('EINVAL', `${who}: the job of ${this.queue.name} is already ${STATE_NAMES[this._st]!} (seqno ${this._seq}); arm a job once, then push it`);
    }
    this.queue._arm(this);
    return this;
  }

  /**
   * `drm_dep_job_push(job)`: hand the armed job to its queue, which takes a reference
   * (put your own when you are done with the job). The finished fence becomes active (with
   * INACTIVE fences). With `bypass` and an idle, empty queue, no pending dependency and
   * credits available, `runJob` runs right here, under the caller's locks. Cannot fail for
   * a well-behaved caller; misuse throws and changes nothing:
   * - `DepError('EINVAL')`: not armed, or pushed twice;
   * - `DepError('ESRCH')`: the queue was killed. The finished fence is then signalled with
   *   `-ESRCH` (it may already be published: it must not be left hanging), the queue takes
   *   no reference.
   */
  push(): void {
    const who = 'drm_dep_job_push';
    if (this._st === ST_FREED) this._alive(who);
    const st = this._st;
    if (st !== ST_ARMED) {
      throw new DepError(
        'EINVAL',
        st === ST_INIT
          ? `${who}: the job of ${this.queue.name} was not armed; call arm() (under the submission lock) first`
          : `${who}: the job of ${this.queue.name} was already pushed (it is ${STATE_NAMES[st]!}); push a job once`,
      );
    }
    this.queue._push(this);
  }

  // --- internals -------------------------------------------------------------------------

  /** @internal Use-after-free check on entry to a method. */
  _alive(who: string): void {
    if (this._st !== ST_FREED) return;
    const rt = this.queue.runtime;
    if (this._token !== null) rt.lifetimes.assertAlive(this, who);
    throw new DepError('EINVAL', `${who}: the job of ${this.queue.name} was freed (its last reference was put); take a reference with get() while you use it`);
  }

  /** @internal Initialise the scheduled fence at arm. */
  _initScheduled(seqno: bigint): void {
    const s = this._x?.sched;
    if (s == null) return;
    const q = this.queue;
    s.init(scheduledFenceOps, q.context + 1n, seqno, q._schedFenceOpts);
  }

  /** @internal Make the finished fence at arm. */
  _initFinished(seqno: bigint): void {
    const q = this.queue;
    this._fence = new DepFence(this, finishedFenceOps, q.context, seqno, q._fenceOpts);
  }

  /** For reports and logs. */

  toString(): string {
    return `drm_dep_job ${this.queue.name}${this._seq === 0 ? '' : `:${this._seq}`} (${STATE_NAMES[this._st]!})`;
  }
}

/**
 * The shape sentinel: a `DepJob` that is never used, kept for the life of the module so that
 * the hidden class of plain `DepJob`s always has a live instance. V8 drops a hidden class no
 * live object has at a full GC and deoptimizes every function that embeds it; when every job
 * of a burst is freed (the common state between bursts) each full GC would otherwise send
 * the submit, bypass, run and free paths back through deoptimization and re-optimization
 * (decision 0517). It holds no queue, runtime or fence of its own (only the shared
 * {@link UNARMED} placeholder), is not tracked and is never counted. Subclasses of `DepJob`
 * have hidden classes of their own, which this does not cover.
 *
 * This object is also the queue argument that makes the sentinel (never a real queue): the
 * constructor refers to it, which keeps it, and the job it holds, alive in every build
 * (a module-level constant nothing refers to may be dropped by a bundler or by V8).
 */
const JOB_SHAPE: { job: DepJob | null } = { job: null };
new DepJob(JOB_SHAPE as unknown as DepQueue);

/** @internal The shape sentinel (tests check it is no usable job). */
export function jobShapeSentinel(): DepJob {
  return JOB_SHAPE.job!;
}

/** Same-context dedup: keep the later fence, put the other. */
function keepLater(old: DmaFence, fresh: DmaFence): DmaFence {
  if (fresh.isLater(old)) {
    old.put();
    return fresh;
  }
  fresh.put();
  return old;
}
