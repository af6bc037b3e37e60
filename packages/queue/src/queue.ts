import {
  DelayedWork,
  DepError,
  GFP_KERNEL,
  INTERRUPTED,
  TIMED_OUT,
  Work,
  Workqueue,
  getDefaultRuntime,
  isDepError,
  type LifetimeToken,
  type Runtime,
  type Waker,
} from '@dep/kernel';
import { DmaFence, contextAlloc, fenceWaitsOn, type Fence, type FenceInitOptions } from '@dep/dma-fence';
import { DEP_FENCE_LOCK_CLASS, DEP_SCHEDULED_FENCE_LOCK_CLASS, type DepFence } from './fence.js';
import {
  JF_CB,
  JF_CREDITS,
  JF_DEFERRED,
  JF_KILLED,
  JF_TDR,
  ST_ARMED,
  ST_DONE,
  ST_FREED,
  ST_PUSHED,
  ST_RUNNING,
  type DepJob,
} from './job.js';
import './trace-events.js';
import type { DepQueueOps, DepQueueOptions, DepQueueStats, DepTeardown, DepTimeoutStatus, PushedDepJob } from './types.js';

const EIO = -5;
const EINVAL = -22;
const ESRCH = -3;
const ECANCELED = -125;

// queue flag bits
const Q_STOPPED = 1;
const Q_KILLED = 2;
const Q_FINI = 4;
const Q_TDR_OFF = 8;
const Q_TDR_SUSPENDED = 16;
const Q_CREDIT_BLOCKED = 32;
const Q_IN_RUN = 64;
const Q_DEREGISTERED = 128;
const Q_RELEASED = 256;
const Q_TRACKED = 512;

const NOTHING: unique symbol = Symbol('nothing');

/** The hardware fence signalled: the job is done (irq context when the hardware interrupts). */
function hwSignalled(fence: Fence, job: DepJob): void {
  job.queue._jobDone(job, fence.error);
}

/** A dependency signalled (or a sibling was pushed): the queue's head job may be ready. */
function depSignalled(_fence: Fence, job: DepJob): void {
  job._fl &= ~JF_CB;
  job.queue._kickRun();
}

function checkWq(wq: unknown, what: string, name: string): asserts wq is Workqueue | undefined {
  if (wq === undefined) return;
  if (!(wq instanceof Workqueue)) {
    throw new DepError('EINVAL', `drm_dep_queue_init(${name}): ${what} must be a Workqueue`);
  }
  if (!wq.memReclaim) {
    throw new DepError('EINVAL', `drm_dep_queue_init(${name}): ${what} ${wq.name} is not WQ_MEM_RECLAIM; drm_dep workers sit on the reclaim path: make it with { memReclaim: true }`);
  }
}

function checkBool(v: unknown, what: string, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new DepError('EINVAL', `drm_dep_queue_init(${name}): ${what} must be a boolean, got ${typeof v}`);
  return v;
}

/**
 * `struct drm_dep_queue`: one firmware/hardware submission context — dependency
 * resolution, ordering, credits, timeout (TDR) and teardown in one object (drm_sched's
 * scheduler and entity merged, rfc-designs A.1).
 *
 * - **Ordering.** Jobs run in push order (= arm order = seqno order); a job waits for its
 *   own dependencies, then for its turn, then for credits.
 * - **Ownership.** Reference counted: the driver holds one from construction (given back by
 *   {@link DepQueue.fini}), every job holds one until it is freed, workers take one while
 *   they run and bail if the count already hit zero (the zombie guard). A pushed job is
 *   pinned by the queue until retired.
 * - **Contexts.** The run and put work items run on the submit workqueue (a `WQ_MEM_RECLAIM`
 *   worker) inside a fence-signalling section; the TDR on the timeout workqueue.
 *
 * Every option of the review (bypass, IRQ-safe put, INACTIVE fences, scheduled fence,
 * sync/async teardown) is a constructor option; see {@link DepQueueOptions}.
 */
export class DepQueue<J extends DepJob = DepJob> {
  /** The runtime the queue belongs to. */
  readonly runtime: Runtime;
  /** Queue name (fence timeline, workqueue, trace lane). */
  readonly name: string;
  /** Credits the hardware holds at once. */
  readonly creditLimit: number;
  /** Largest credits one job may ask for. */
  readonly maxJobCredits: number;
  /** TDR timeout in ms (`Infinity`: none). */
  readonly timeout: number;
  /** Fence context of the finished fences (scheduled fences use `context + 1n`). */
  readonly context: bigint;
  /** Submit-workqueue bypass (option `bypass`). */
  readonly bypass: boolean;
  /** IRQ-safe job put (option `jobPutIrqSafe`). */
  readonly jobPutIrqSafe: boolean;
  /** INACTIVE finished fences from arm to push (option `inactiveFences`). */
  readonly inactiveFences: boolean;
  /** Jobs have a scheduled fence (option `scheduledFence`). */
  readonly scheduledFenceEnabled: boolean;
  /** `sync` or `async` teardown (option `teardown`). */
  readonly teardown: DepTeardown;
  /** Counters (work items, bypassed jobs, where jobs were retired). */
  readonly stats: DepQueueStats;
  /** The submit workqueue. */
  readonly submitWq: Workqueue;
  /** The timeout workqueue. */
  readonly timeoutWq: Workqueue;
  /** @internal */ readonly _ops: DepQueueOps<J>;
  /** @internal */ readonly _fenceOpts: FenceInitOptions;
  /** @internal */ readonly _schedFenceOpts: FenceInitOptions;
  /** @internal */ readonly _submitLock: object | null;
  /** @internal Creation site of this queue's jobs in leak reports. */ readonly _jobSite: string;
  /** @internal Credits held by jobs on the hardware. */ _credits = 0;
  /** @internal Pushed jobs not yet run, FIFO. */ _qHead: DepJob | null = null;
  /** @internal */ _qTail: DepJob | null = null;
  /** @internal */ _queued = 0;
  /** @internal Jobs on the hardware (or done, not yet retired), in run order. */ _pHead: DepJob | null = null;
  /** @internal */ _pTail: DepJob | null = null;
  /** @internal */ _pending = 0;
  /** @internal Queue reference count. */ _refs = 1;
  /** @internal Jobs initialised and not yet freed. */ _jobs = 0;
  /** @internal Last seqno handed out by arm. */ _seq = 0;
  /** @internal Last seqno pushed. */ _pushedSeq = 0;
  /** @internal Seqnos armed and then dropped unpushed (a legal drop leaves a gap in the timeline). */ _droppedSeqs: Set<number> | null = null;
  /** @internal Flag bits (Q_*). */ _fl = 0;
  /** @internal When the armed TDR fires (ms). */ _tdrDeadline = 0;
  /** @internal Jobs whose final put came in atomic context on a queue without irq-safe free. */ _deferred: DepJob[] | null = null;
  readonly #ownWq: boolean;
  readonly #runWork: Work;
  readonly #putWork: Work;
  readonly #tdr: DelayedWork;
  readonly #token: LifetimeToken | null;
  readonly #lane: string;
  #idleWaiters: Array<Waker<null>> | null = null;
  #releaseWaiters: Array<Waker<null>> | null = null;

  /**
   * `drm_dep_queue_init(q, ops, flags, submit_wq, timeout, credit_limit, name)`. Throws,
   * with nothing made: `DepError('EINVAL')` for bad options (a missing `runJob`, a credit
   * limit that is not a positive integer, a non-reclaim workqueue, a finite timeout without
   * `timedoutJob`, `jobPutIrqSafe` without `ops.freeJobIrqSafe`, …); `DepError('ENOMEM')`
   * from the allocation hook (site `drm_dep_queue_init`, or the default workqueue's).
   */
  constructor(options: DepQueueOptions<J>) {
    if (typeof options !== 'object' || options === null) {
      throw new DepError('EINVAL', 'new DepQueue(options): pass { name, ops: { runJob, … }, creditLimit, … }');
    }
    const name = options.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new DepError('EINVAL', 'drm_dep_queue_init: options.name must be a non-empty string (it names the fence timeline and the workqueues)');
    }
    const ops = options.ops;
    if (typeof ops !== 'object' || ops === null || typeof ops.runJob !== 'function') {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): options.ops must be an object with a runJob(job) function`);
    }
    for (const k of ['timedoutJob', 'cancelJob', 'freeJob', 'deregister', 'release'] as const) {
      if (ops[k] !== undefined && typeof ops[k] !== 'function') {
        throw new DepError('EINVAL', `drm_dep_queue_init(${name}): ops.${k} must be a function when given`);
      }
    }
    const creditLimit = options.creditLimit;
    if (typeof creditLimit !== 'number' || !Number.isSafeInteger(creditLimit) || creditLimit < 1) {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): creditLimit must be a positive integer (ring size / max job size, in-flight slots), got ${String(creditLimit)}`);
    }
    const maxJobCredits = options.maxJobCredits ?? creditLimit;
    if (typeof maxJobCredits !== 'number' || !Number.isSafeInteger(maxJobCredits) || maxJobCredits < 1 || maxJobCredits > creditLimit) {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): maxJobCredits must be an integer 1 … creditLimit (${creditLimit}), got ${String(maxJobCredits)}`);
    }
    const timeout = options.timeout ?? Infinity;
    if (typeof timeout !== 'number' || !(timeout > 0)) {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): timeout must be a number of ms > 0, or Infinity to disable the TDR, got ${String(timeout)}`);
    }
    if (timeout !== Infinity && ops.timedoutJob === undefined) {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): a finite timeout needs ops.timedoutJob (the TDR has nobody to call)`);
    }
    checkWq(options.submitWq, 'submitWq', name);
    checkWq(options.timeoutWq, 'timeoutWq', name);
    const bypass = checkBool(options.bypass, 'bypass', name);
    const jobPutIrqSafe = checkBool(options.jobPutIrqSafe, 'jobPutIrqSafe', name);
    const inactiveFences = checkBool(options.inactiveFences, 'inactiveFences', name);
    const scheduledFence = checkBool(options.scheduledFence, 'scheduledFence', name);
    if (jobPutIrqSafe && ops.freeJobIrqSafe !== true) {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): jobPutIrqSafe drops the last job reference in irq context; declare ops.freeJobIrqSafe: true (a freeJob that never sleeps) or drop the flag`);
    }
    const teardown = options.teardown ?? 'sync';
    if (teardown !== 'sync' && teardown !== 'async') {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): teardown must be 'sync' or 'async', got ${String(teardown)}`);
    }
    const submitLock = options.submitLock ?? null;
    if (submitLock !== null && typeof submitLock !== 'object') {
      throw new DepError('EINVAL', `drm_dep_queue_init(${name}): submitLock must be the lock object (a Mutex or SpinLock) the driver holds across arm and push`);
    }
    const rt = options.runtime ?? getDefaultRuntime();
    rt.alloc(GFP_KERNEL, 'drm_dep_queue_init');
    const wq = options.submitWq ?? new Workqueue(rt, `drm_dep_${name}`, { ordered: true, memReclaim: true, site: `drm_dep_queue_init(${name})` });
    this.runtime = rt;
    this.name = name;
    this.creditLimit = creditLimit;
    this.maxJobCredits = maxJobCredits;
    this.timeout = timeout;
    this.context = contextAlloc(scheduledFence ? 2 : 1, rt);
    this.bypass = bypass;
    this.jobPutIrqSafe = jobPutIrqSafe;
    this.inactiveFences = inactiveFences;
    this.scheduledFenceEnabled = scheduledFence;
    this.teardown = teardown;
    this.stats = { pushed: 0, bypassed: 0, ranOnWorker: 0, runWorkItems: 0, putWorkItems: 0, irqRetired: 0, workerRetired: 0, timeouts: 0, killed: 0, cancelled: 0 };
    this.submitWq = wq;
    this.timeoutWq = options.timeoutWq ?? wq;
    this._ops = ops;
    // Only the keys that matter: the fence constructor's fast path skips option parsing
    // when none of them is set (the lock class only matters when lockdep runs).
    const checked = rt.checks !== 'off';
    this._fenceOpts = checked ? { runtime: rt, lockClass: DEP_FENCE_LOCK_CLASS, inactive: inactiveFences } : inactiveFences ? { runtime: rt, inactive: true } : { runtime: rt };
    this._schedFenceOpts = checked ? { runtime: rt, lockClass: DEP_SCHEDULED_FENCE_LOCK_CLASS } : { runtime: rt };
    this._submitLock = submitLock;
    this._jobSite = `drm_dep_job_init(${name})`;
    this.#ownWq = options.submitWq === undefined;
    this.#runWork = new Work(() => this.#runWorkFn(), `drm_dep_run_job(${name})`);
    this.#putWork = new Work(() => this.#putWorkFn(), `drm_dep_put_job(${name})`);
    this.#tdr = new DelayedWork(() => this.#tdrFn(), `drm_dep_tdr(${name})`);
    this.#lane = `drm_dep:${name}`;
    this.#token = rt.checks === 'off' ? null : rt.lifetimes.track(this, 'drm_dep_queue', `drm_dep_queue_init(${name})`);
    if (this.#token !== null) this._fl |= Q_TRACKED;
    if (rt.trace.enabled) {
      rt.trace.emit('drm_dep:queue_init', { queue: name, context: this.context, creditLimit, timeout, bypass, jobPutIrqSafe, inactiveFences, scheduledFence, teardown }, { lane: this.#lane });
    }
  }

  // --- queries -----------------------------------------------------------------------

  /** The queue reference count. */
  get refcount(): number {
    return this._refs;
  }
  /** Credits held by jobs on the hardware. */
  get creditsInFlight(): number {
    return this._credits;
  }
  /** Jobs pushed and not yet run (waiting for dependencies, their turn or credits). */
  get queuedJobs(): number {
    return this._queued;
  }
  /** Jobs on the hardware, or done and not yet retired. */
  get pendingJobs(): number {
    return this._pending;
  }
  /** Jobs initialised and not yet freed. */
  get liveJobs(): number {
    return this._jobs;
  }
  /** True after {@link DepQueue.kill} (or `fini`). */
  get killed(): boolean {
    return (this._fl & Q_KILLED) !== 0;
  }
  /** True between {@link DepQueue.stop} and {@link DepQueue.start}. */
  get stopped(): boolean {
    return (this._fl & Q_STOPPED) !== 0;
  }
  /** True once the last reference went and teardown finished. */
  get released(): boolean {
    return (this._fl & Q_RELEASED) !== 0;
  }

  // --- references ----------------------------------------------------------------------

  /** `drm_dep_queue_get()`: one more reference. Returns the queue. */
  get(): this {
    this.#alive('drm_dep_queue_get');
    this._refs++;
    return this;
  }

  /**
   * `drm_dep_queue_put()`: drop a reference. The last one releases the queue: with the
   * firmware deregistered by a sync `fini` it is released at once (`ops.release`);
   * otherwise a worker awaits `ops.deregister`, destroys the queue's own workqueue, then
   * releases. Any context.
   */
  put(): void {
    if ((this._fl & Q_RELEASED) !== 0 || this._refs <= 0) {
      this.#uaf('drm_dep_queue_put');
      return;
    }
    this._putRef();
  }

  /** @internal */
  _putRef(): void {
    const n = this._refs - 1;
    this._refs = n;
    if (n === 0) this.#release();
  }

  // --- job life ------------------------------------------------------------------------

  /** @internal Validation of `new DepJob(this, { credits })`. Changes nothing. */
  _checkJobInit(credits: unknown): asserts credits is number {
    this.#alive('drm_dep_job_init');
    if (typeof credits !== 'number' || !Number.isSafeInteger(credits) || credits < 1) {
      throw new DepError('EINVAL', `drm_dep_job_init(${this.name}): credits must be an integer ≥ 1, got ${String(credits)}`);
    }
    if (credits > this.maxJobCredits) {
      throw new DepError('EINVAL', `drm_dep_job_init(${this.name}): the job needs ${credits} credits but a job may take at most ${this.maxJobCredits}; split the job or raise creditLimit`);
    }
    if ((this._fl & (Q_KILLED | Q_FINI)) !== 0) {
      throw new DepError('ESRCH', `drm_dep_job_init(${this.name}): the queue was ${(this._fl & Q_FINI) !== 0 ? 'torn down' : 'killed'}; it accepts no new job`);
    }
  }

  /** @internal A job was initialised: it pins the queue. */
  _jobInit(job: DepJob): void {
    this._refs++;
    this._jobs++;
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_init', { queue: this.name, credits: job.credits }, { lane: this.#lane });
  }

  /** @internal `drm_dep_job_arm`. */
  _arm(job: DepJob): void {
    const rt = this.runtime;
    const lock = this._submitLock;
    if (lock !== null && rt.lockdep.enabled) rt.lockdep.assertHeld(lock, `the submission lock of drm_dep queue ${this.name} (arm and push must be atomic against other submitters)`);
    const seq = this._seq + 1;
    const seqno = BigInt(seq);
    job._initFinished(seqno);
    this._seq = seq;
    job._seq = seq;
    if (this.scheduledFenceEnabled) job._initScheduled(seqno);
    job._st = ST_ARMED;
    const x = job._x;
    if (job._token !== null) {
      // The wait-for graph learns job → dependency edges now that the fence exists.
      for (let i = 0; ; i++) {
        const d = job._depAt(i, false);
        if (d === null) break;
        job._edgeTo(d, false);
      }
      const pre = x?.pre ?? null;
      if (pre !== null) for (const d of pre) job._edgeTo(d, true);
    }
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_arm', { queue: this.name, context: this.context, seqno, credits: job.credits, dependencies: job.dependencyCount }, { lane: this.#lane });
  }

  /** @internal `drm_dep_job_push`. */
  _push(job: DepJob): void {
    const rt = this.runtime;
    const lock = this._submitLock;
    if (lock !== null && rt.lockdep.enabled) rt.lockdep.assertHeld(lock, `the submission lock of drm_dep queue ${this.name} (arm and push must be atomic against other submitters)`);
    const seq = job._seq;
    const dropped = this._droppedSeqs;
    if (dropped !== null) {
      while (dropped.delete(this._pushedSeq + 1)) this._pushedSeq++;
      if (dropped.size === 0) this._droppedSeqs = null;
    }
    if (seq !== this._pushedSeq + 1) {
      rt.reports.warnOn(
        true,
        `drm_dep_job_push(${this.name}): job ${seq} pushed after job ${this._pushedSeq}: pushes out of arm order break the timeline (seqno order must be queue order)`,
        ['arm and push every job under one lock (the driver submission lock), with nothing in between that lets another submitter in'],
      );
    }
    if (seq > this._pushedSeq) this._pushedSeq = seq;
    const fence = job._fence;
    if (this.inactiveFences) {
      fence.setActive();
      const waiters = job._x?.actWaiters;
      if (waiters != null) {
        job._x!.actWaiters = null;
        for (const w of waiters) depSignalled(fence, w);
      }
    }
    if ((this._fl & Q_KILLED) !== 0) {
      job._st = ST_DONE;
      job._fl |= JF_KILLED;
      job._releaseDeps();
      this.#signalScheduled(job);
      fence.setError(ESRCH);
      fence.signal();
      throw new DepError('ESRCH', `drm_dep_job_push(${this.name}): the queue was killed; the job will never run (its finished fence was signalled with -ESRCH)`);
    }
    job._refs++; // the queue's reference
    job._st = ST_PUSHED;
    this.stats.pushed++;
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_push', { queue: this.name, seqno: fence.seqno, queued: this._queued }, { lane: this.#lane });
    if (this.bypass && this.#canBypass(job)) {
      this.#runInline(job);
      return;
    }
    job._next = null;
    if (this._qTail === null) {
      this._qHead = job;
      this._qTail = job;
      this._queued = 1;
      this._kickRun();
    } else {
      this._qTail._next = job;
      this._qTail = job;
      this._queued++;
    }
  }

  /** Bypass only when nothing could be ahead of the job and it is ready right now. */
  #canBypass(job: DepJob): boolean {
    if (this._qHead !== null || (this._fl & (Q_STOPPED | Q_KILLED | Q_IN_RUN)) !== 0) return false;
    if (this._credits + job.credits > this.creditLimit) return false;
    if (this.#runWork.pending) return false;
    for (let i = 0; ; i++) {
      const d = job._depAt(i, true);
      if (d === null) return true;
      if (!d.testSignaledFlag() && (d.inactive || !d.isSignaled())) return false;
    }
  }

  #runInline(job: DepJob): void {
    const ld = this.runtime.lockdep;
    const cookie = ld.enabled ? ld.beginSignalling() : true;
    this._fl |= Q_IN_RUN;
    this.stats.bypassed++;
    try {
      this.#run(job, true);
    } finally {
      this._fl &= ~Q_IN_RUN;
      if (ld.enabled) ld.endSignalling(cookie);
    }
  }

  /** @internal Queue the run work item (any context). */
  _kickRun(): void {
    if ((this._fl & Q_RELEASED) !== 0) return;
    this.submitWq.queueWork(this.#runWork);
  }

  /** The run work item: one job per execution, as drm_sched's run_job work. */
  #runWorkFn(): void {
    this.stats.runWorkItems++;
    if (this._refs === 0) return; // zombie guard: get-unless-zero
    this._refs++;
    const ld = this.runtime.lockdep;
    const cookie = ld.enabled ? ld.beginSignalling() : true;
    this._fl |= Q_IN_RUN;
    try {
      this.#runOne();
    } finally {
      this._fl &= ~Q_IN_RUN;
      if (ld.enabled) ld.endSignalling(cookie);
      this._putRef();
    }
  }

  #runOne(): void {
    const job = this._qHead;
    if (job === null) return;
    if ((this._fl & Q_KILLED) !== 0) {
      // Killed: complete in order with -ESRCH once the job's own dependencies signalled
      // (never let a consumer run while a producer still writes), and after the job
      // ahead of it on the hardware (one timeline signals in order). Preempt dependencies
      // are skipped: a job that never runs preempts nobody.
      if (!this.#resolveDeps(job, false)) return;
      const tail = this._pTail;
      if (tail !== null && tail._st < ST_DONE && (job._fl & JF_CB) === 0) {
        if (tail._fence.addCallback(depSignalled, job)) {
          job._fl |= JF_CB;
          return;
        }
      }
      this.#unlinkQueued(job);
      this.#completeKilled(job);
    } else {
      if ((this._fl & Q_STOPPED) !== 0) return;
      if (!this.#resolveDeps(job, true)) return;
      if (this._credits + job.credits > this.creditLimit) {
        this._fl |= Q_CREDIT_BLOCKED;
        return;
      }
      this.#unlinkQueued(job);
      this.stats.ranOnWorker++;
      this.#run(job, false);
    }
    if (this._qHead !== null) this._kickRun();
  }

  #unlinkQueued(job: DepJob): void {
    const next = job._next;
    this._qHead = next;
    if (next === null) this._qTail = null;
    job._next = null;
    this._queued--;
  }

  /**
   * Walk the job's dependencies from its cursor: signalled ones are skipped; on the first
   * pending one a callback is installed (or, for a sibling's INACTIVE fence, an activation
   * wait) and false is returned. Regular dependencies first, preempt ones last.
   */
  #resolveDeps(job: DepJob, withPreempt: boolean): boolean {
    if ((job._fl & JF_CB) !== 0) return false;
    let i = job._di;
    for (;;) {
      const f = job._depAt(i, withPreempt);
      if (f === null) break;
      if (!f.testSignaledFlag()) {
        if (f.inactive) {
          const sibling = (f as DepFence)._job!;
          const x = (sibling._x ??= { sched: null, pre: null, edges: null, actWaiters: null });
          (x.actWaiters ??= []).push(job);
          job._di = i;
          job._fl |= JF_CB;
          return false;
        }
        if (f.addCallback(depSignalled, job)) {
          job._di = i;
          job._fl |= JF_CB;
          return false;
        }
      }
      i++;
    }
    job._di = i;
    return true;
  }

  /** Run the job: credits, pending list, TDR, `runJob`, the hardware fence's callback. */
  #run(job: DepJob, inline: boolean): void {
    const rt = this.runtime;
    job._st = ST_RUNNING;
    job._fl |= JF_CREDITS;
    this._credits += job.credits;
    job._next = null;
    if (this._pTail === null) {
      this._pHead = job;
      this._pTail = job;
      this._pending = 1;
      if (this.timeout !== Infinity) this.#startTimeout();
    } else {
      this._pTail._next = job;
      this._pTail = job;
      this._pending++;
    }
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_run', { queue: this.name, seqno: job._fence.seqno, inline, credits: this._credits }, { lane: this.#lane, ph: 'B' });
    let hw: Fence | null = null;
    let error = 0;
    let thrown: unknown = NOTHING;
    try {
      hw = this._ops.runJob(job as unknown as PushedDepJob<J>);
    } catch (e) {
      if (isDepError(e)) {
        error = e.errno;
      } else {
        error = EIO;
        thrown = e;
      }
    }
    // Dependency cleanup in the submitting context, never in the completion (irq) path.
    job._releaseDeps();
    if (job._x !== null) this.#signalScheduled(job);
    if (hw !== null && !(hw instanceof DmaFence)) {
      rt.reports.warnOn(true, `drm_dep run_job(${this.name}) returned ${typeof hw} instead of a fence or null; the job completes with -EINVAL`);
      hw = null;
      error = EINVAL;
    }
    if (hw === null) {
      this._jobDone(job, error, !inline);
    } else {
      const f = hw;
      job._hw = f;
      if (job._token !== null) fenceWaitsOn(job._fence, f, 'drm_dep hardware fence');
      let added = false;
      try {
        // An engine that completed at once: no callback needed.
        added = !f.testSignaledFlag() && f.addCallback(hwSignalled, job);
      } catch (e) {
        // An INACTIVE or uninitialised hardware fence: the driver broke the contract.
        if (thrown === NOTHING) thrown = e;
        error = EINVAL;
      }
      if (!added) this._jobDone(job, error !== 0 ? error : f.error, !inline);
    }
    if (thrown !== NOTHING) throw thrown;
  }

  #signalScheduled(job: DepJob): void {
    const s = job._x?.sched;
    if (s != null && s.wasInitialized() && !s.testSignaledFlag()) s.signal();
  }

  /**
   * @internal The job completed (its hardware fence signalled, `runJob` returned null or
   * failed): return its credits, signal the finished fence with `error`, retire. Retired
   * right here with `jobPutIrqSafe`, or when `inWorker` (completion seen synchronously by
   * the run worker: the put worker would run in the same place, decision 0507); otherwise
   * by the put worker.
   */
  _jobDone(job: DepJob, error: number, inWorker = false): void {
    if (job._st >= ST_DONE) return;
    const rt = this.runtime;
    if ((job._fl & JF_CREDITS) !== 0) {
      job._fl &= ~JF_CREDITS;
      this._credits -= job.credits;
    }
    job._st = ST_DONE;
    const fence = job._fence;
    if (error !== 0) fence.setError(error);
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_done', { queue: this.name, seqno: fence.seqno, error }, { lane: this.#lane, ph: 'E' });
    fence.signal();
    // The next job first (credits came back), then the retirement.
    if ((this._fl & Q_CREDIT_BLOCKED) !== 0) {
      this._fl &= ~Q_CREDIT_BLOCKED;
      this._kickRun();
    }
    if ((job._fl & JF_TDR) === 0) {
      if ((this._fl & Q_STOPPED) !== 0) return;
      if (this.jobPutIrqSafe) this.#retire(true);
      else if (inWorker) this.#retire(false);
      else if (this._pHead === job) this.submitWq.queueWork(this.#putWork);
    }
  }

  /** Retire done jobs from the head of the pending list (in order): drop the queue's reference. */
  #retire(inline: boolean): void {
    let n = 0;
    for (;;) {
      const job = this._pHead;
      if (job === null || job._st !== ST_DONE) break;
      const next = job._next;
      this._pHead = next;
      if (next === null) this._pTail = null;
      job._next = null;
      this._pending--;
      n++;
      if (inline) this.stats.irqRetired++;
      else this.stats.workerRetired++;
      job.put();
    }
    if (n > 0) {
      if (this._pHead !== null) this.#rearmTimeout();
      else this.#tdr.cancel();
      if (this.#idleWaiters !== null) this.#wakeIdle();
    }
  }

  /** The put work item (`free_job` work): retire done jobs, run deferred frees. */
  #putWorkFn(): void {
    this.stats.putWorkItems++;
    if (this._refs === 0) return;
    this._refs++;
    try {
      if ((this._fl & Q_STOPPED) === 0) this.#retire(false);
      const deferred = this._deferred;
      if (deferred !== null) {
        this._deferred = null;
        for (const job of deferred) this.#free(job);
      }
    } finally {
      this._putRef();
    }
  }

  #completeKilled(job: DepJob): void {
    const rt = this.runtime;
    job._releaseDeps();
    this.#signalScheduled(job);
    job._st = ST_DONE;
    job._fl |= JF_KILLED;
    this.stats.killed++;
    const fence = job._fence;
    fence.setError(ESRCH);
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_done', { queue: this.name, seqno: fence.seqno, error: ESRCH }, { lane: this.#lane });
    fence.signal();
    job.put(); // the queue's reference: a killed job never reaches the pending list
  }

  /** @internal The job's last reference went. */
  _jobFinalPut(job: DepJob): void {
    const rt = this.runtime;
    if (!this.jobPutIrqSafe && rt.inAtomic() && (job._fl & JF_DEFERRED) === 0) {
      // A free that may sleep cannot run here: defer it to the put worker, and say so.
      job._fl |= JF_DEFERRED;
      (this._deferred ??= []).push(job);
      this.submitWq.queueWork(this.#putWork);
      if (rt.checks !== 'off') {
        rt.reports.report('context', `drm_dep: last reference of a job of ${this.name} dropped in ${rt.context} context, but the queue's job free is not irq-safe`, [
          'the free was deferred to the put worker; either put the job from process context, or make freeJob irq-safe (ops.freeJobIrqSafe) and set jobPutIrqSafe',
        ]);
      }
      return;
    }
    this.#free(job);
  }

  #free(job: DepJob): void {
    const rt = this.runtime;
    const st = job._st;
    job._st = ST_FREED;
    const x = job._x;
    if (job._token !== null) rt.lifetimes.release(job._token);
    let warnUnpushed = false;
    job._releaseDeps();
    const fence = job._fence;
    if (st === ST_ARMED) (this._droppedSeqs ??= new Set()).add(job._seq);
    if (st === ST_ARMED && !fence.testSignaledFlag()) {
      const waiters = x?.actWaiters ?? null;
      if (this.inactiveFences && waiters === null) {
        // Never pushed, never visible (containers refused it): just dropped.
      } else {
        // Armed and never pushed: the fence may have been published (or a sibling job
        // depends on it, the INACTIVE exception); it must not hang.
        warnUnpushed = true;
        if (fence.inactive) fence.setActive();
        fence.setError(ECANCELED);
        fence.signal();
        if (waiters !== null) {
          x!.actWaiters = null;
          for (const w of waiters) depSignalled(fence, w);
        }
      }
    }
    if (x !== null) {
      const s = x.sched;
      if (s !== null) {
        if (s.wasInitialized()) {
          if (!s.testSignaledFlag() && !this.inactiveFences) s.signal();
          s.put();
        }
        s._job = null;
      }
      x.actWaiters = null;
    }
    const hw = job._hw;
    if (hw !== null) {
      job._hw = null;
      hw.put();
    }
    this._jobs--;
    const armed = fence.wasInitialized();
    if (rt.trace.enabled) rt.trace.emit('drm_dep:job_free', { queue: this.name, seqno: armed ? fence.seqno : 0n, context: rt.context }, { lane: this.#lane });
    try {
      const free = this._ops.freeJob;
      if (free !== undefined) free.call(this._ops, job as J);
    } finally {
      if (armed) {
        fence.put();
        fence._job = null;
      }
      if (this.#idleWaiters !== null && this._jobs === 0) this.#wakeIdle();
      this._putRef();
      if (warnUnpushed) {
        rt.reports.warnOn(true, `drm_dep: job ${job._seq} of ${this.name} was armed and freed without push; its finished fence was signalled with -ECANCELED`, [
          'nothing between arm() and push() may fail; allocate and add dependencies before arm(), or use inactiveFences so an unpushed fence is never visible',
        ]);
      }
    }
  }

  // --- timeout (TDR) -------------------------------------------------------------------

  #tdrArmable(): boolean {
    return this.timeout !== Infinity && (this._fl & (Q_TDR_OFF | Q_TDR_SUSPENDED | Q_STOPPED | Q_RELEASED)) === 0;
  }

  /** The hardware went from idle to busy: start the timer unless it runs already. */
  #startTimeout(): void {
    if (!this.#tdrArmable() || this.#tdr.pending) return;
    this._tdrDeadline = this.runtime.now() + this.timeout;
    this.timeoutWq.queueDelayedWork(this.#tdr, this.timeout);
  }

  /** Progress (a job retired): re-arm the timer for the new head. */
  #rearmTimeout(): void {
    if (!this.#tdrArmable()) return;
    this._tdrDeadline = this.runtime.now() + this.timeout;
    this.timeoutWq.modDelayedWork(this.#tdr, this.timeout);
  }

  /**
   * `drm_dep_queue_trigger_timeout(q)`: run the TDR now (device teardown flushes stuck work
   * through `timedoutJob`). A no-op when nothing is on the hardware. EINVAL without
   * `ops.timedoutJob`. Any context.
   */
  triggerTimeout(): void {
    this.#alive('drm_dep_queue_trigger_timeout');
    if (this._ops.timedoutJob === undefined) {
      throw new DepError('EINVAL', `drm_dep_queue_trigger_timeout(${this.name}): the queue has no ops.timedoutJob to call`);
    }
    if (this._pHead === null) return;
    this._tdrDeadline = this.runtime.now();
    this.timeoutWq.modDelayedWork(this.#tdr, 0);
  }

  /**
   * `drm_sched_suspend_timeout`: park the TDR (e.g. while the hardware is known to be
   * preempted). Returns the ms that were left (the full timeout when it was not running).
   */
  suspendTimeout(): number {
    this.#alive('drm_dep_queue_suspend_timeout');
    if (this.timeout === Infinity) return Infinity;
    const was = this.#tdr.pending;
    this._fl |= Q_TDR_SUSPENDED;
    if (!was) return this.timeout;
    this.#tdr.cancel();
    return Math.max(0, this._tdrDeadline - this.runtime.now());
  }

  /** `drm_sched_resume_timeout`: re-arm the TDR with `remaining` ms (what suspend returned). */
  resumeTimeout(remaining: number): void {
    this.#alive('drm_dep_queue_resume_timeout');
    if (typeof remaining !== 'number' || !(remaining >= 0)) {
      throw new DepError('EINVAL', `drm_dep_queue_resume_timeout(${this.name}, ${String(remaining)}): pass the ms suspendTimeout() returned (≥ 0)`);
    }
    this._fl &= ~Q_TDR_SUSPENDED;
    if (this._pHead === null || !this.#tdrArmable()) return;
    const ms = Math.min(remaining, this.timeout);
    this._tdrDeadline = this.runtime.now() + ms;
    this.timeoutWq.modDelayedWork(this.#tdr, ms);
  }

  /** True while the TDR timer is armed. */
  get timeoutPending(): boolean {
    return this.#tdr.pending;
  }

  async #tdrFn(): Promise<void> {
    if (this._refs === 0) return;
    this._refs++;
    try {
      const job = this._pHead;
      if (job === null || job._st !== ST_RUNNING || this._ops.timedoutJob === undefined) {
        if (job !== null && job._st === ST_DONE) this.#retire(this.jobPutIrqSafe);
        return;
      }
      // Off the pending list while the handler runs, so nothing frees it meanwhile.
      const next = job._next;
      this._pHead = next;
      if (next === null) this._pTail = null;
      job._next = null;
      this._pending--;
      job._fl |= JF_TDR;
      this.stats.timeouts++;
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('drm_dep:timeout', { queue: this.name, seqno: job._fence.seqno, killed: this.killed }, { lane: this.#lane });
      let status: unknown;
      try {
        status = await this._ops.timedoutJob(job as unknown as PushedDepJob<J>);
      } finally {
        // Back at the head in every case: the queue still owns its reference and retires
        // the job when its hardware fence signals (decision 0504).
        job._fl &= ~JF_TDR;
        job._next = this._pHead;
        this._pHead = job;
        if (this._pTail === null) this._pTail = job;
        this._pending++;
      }
      if (status !== 'reset' && status !== 'noHang' && status !== 'enodev') {
        rt.reports.warnOn(true, `drm_dep timedout_job(${this.name}) returned ${String(status)}; return 'reset', 'noHang' or 'enodev' (treated as 'reset')`);
        status = 'reset';
      }
      if (rt.trace.enabled) rt.trace.emit('drm_dep:timeout_done', { queue: this.name, seqno: job._fence.seqno, status: status as DepTimeoutStatus }, { lane: this.#lane });
      if (status === 'enodev') this._fl |= Q_TDR_OFF;
      if ((this._fl & Q_STOPPED) === 0) {
        if ((job._st as number) === ST_DONE) this.#retire(this.jobPutIrqSafe);
      }
      if (this._pHead !== null && this.#tdrArmable()) this.#rearmTimeout();
    } finally {
      this._putRef();
    }
  }

  // --- stop / start / kill ---------------------------------------------------------------

  /**
   * `drm_dep_queue_stop` (drm_sched_wqueue_stop + the TDR part of drm_sched_stop): no job
   * is run (bypass included) and none retired until {@link DepQueue.start}; the TDR is
   * cancelled. Waits for a running run/put work item (so call it from neither). Jobs on the
   * hardware keep their callbacks: a job completing meanwhile signals its finished fence and
   * is retired at `start`. Process or worker context (it sleeps).
   */
  async stop(): Promise<void> {
    this.#alive('drm_dep_queue_stop');
    const rt = this.runtime;
    rt.mightSleep('drm_dep_queue_stop');
    this._fl |= Q_STOPPED;
    if (rt.trace.enabled) rt.trace.emit('drm_dep:queue_stop', { queue: this.name, pending: this._pending, queued: this._queued }, { lane: this.#lane });
    this.#tdr.cancel();
    await this.#runWork.cancelSync();
    await this.#putWork.cancelSync();
  }

  /**
   * `drm_dep_queue_start`: undo {@link DepQueue.stop}: retire what completed meanwhile,
   * re-arm the TDR (also after an `enodev`) for the head job, run queued jobs. Any context.
   */
  start(): void {
    this.#alive('drm_dep_queue_start');
    const rt = this.runtime;
    this._fl &= ~(Q_STOPPED | Q_TDR_OFF);
    if (rt.trace.enabled) rt.trace.emit('drm_dep:queue_start', { queue: this.name, pending: this._pending, queued: this._queued }, { lane: this.#lane });
    if (this._pHead !== null) {
      if (this._pHead._st === ST_DONE) this.submitWq.queueWork(this.#putWork);
      else if (this.#tdrArmable()) this.#rearmTimeout();
    }
    if (this._deferred !== null) this.submitWq.queueWork(this.#putWork);
    if (this._qHead !== null) this._kickRun();
  }

  /**
   * `drm_sched_for_each_pending_job`: call `fn` for every job on the hardware (or done and
   * not retired), oldest first. WARNs unless the queue is stopped (jobs could be retired
   * and freed under the walk).
   */
  forEachPendingJob(fn: (job: PushedDepJob<J>) => void): void {
    this.#alive('drm_dep_queue_for_each_pending_job');
    if (typeof fn !== 'function') throw new DepError('EINVAL', `forEachPendingJob(${this.name}): pass a function (job) => void`);
    this.runtime.reports.warnOn((this._fl & Q_STOPPED) === 0, `drm_dep_queue_for_each_pending_job(${this.name}) on a running queue: stop() it first`);
    for (let j = this._pHead; j !== null; j = j._next) fn(j as unknown as PushedDepJob<J>);
  }

  /** `drm_sched_job_is_signaled`: the job's hardware or finished fence signalled. WARNs unless stopped. */
  jobIsSignaled(job: PushedDepJob<J> | J): boolean {
    const j = job as unknown as DepJob;
    if (j.queue !== (this as unknown as typeof j.queue)) throw new DepError('EINVAL', `jobIsSignaled(${this.name}): the job belongs to another queue`);
    this.runtime.reports.warnOn((this._fl & Q_STOPPED) === 0, `drm_dep_job_is_signaled on ${this.name} while it runs: stop() it first`);
    return j._fence.testSignaledFlag() || (j._hw !== null && j._hw.testSignaledFlag());
  }

  /**
   * `drm_dep_queue_kill` (drm_sched_entity_kill semantics): no new push (it throws ESRCH),
   * every queued job completes in order with `-ESRCH` without running — each only after
   * its own dependencies signalled and after the job ahead of it — and the TDR is triggered
   * so the driver (which sees `queue.killed`) tears down the firmware context. Idempotent.
   * Any context.
   */
  kill(): void {
    this.#alive('drm_dep_queue_kill');
    if ((this._fl & Q_KILLED) !== 0) return;
    this.#kill(true);
  }

  #kill(trigger: boolean): void {
    const rt = this.runtime;
    this._fl |= Q_KILLED;
    if (rt.trace.enabled) rt.trace.emit('drm_dep:queue_kill', { queue: this.name, queued: this._queued, pending: this._pending }, { lane: this.#lane });
    const head = this._qHead;
    if (head !== null) {
      this._kickRun();
    }
    if (trigger && this._pHead !== null && this._ops.timedoutJob !== undefined) this.triggerTimeout();
  }

  // --- teardown --------------------------------------------------------------------------

  /**
   * `drm_dep_queue_fini` + the driver's put: tear the queue down with jobs possibly pending.
   * Kills it (queued jobs complete with `-ESRCH` after their dependencies), cancels the TDR,
   * and hands every job still on the hardware — newest first — to `ops.cancelJob`, which
   * signals its hardware fence with `-ECANCELED`; then every job is freed. Nothing leaks and
   * nothing touches freed state. Without `cancelJob` it WARNs ("tearing down with jobs
   * pending") and the jobs retire when the hardware completes them.
   *
   * - `teardown: 'sync'`: resolves when every job was freed, `ops.deregister` resolved, the
   *   queue's own workqueue is destroyed and the driver's reference is dropped.
   * - `teardown: 'async'`: drops the driver's reference and resolves at once; the last
   *   reference (the last job freed) starts a worker that awaits `ops.deregister`, destroys
   *   the workqueue and releases. {@link DepQueue.waitReleased} waits for that.
   *
   * Process context. Calling it twice is a WARN.
   */
  async fini(): Promise<void> {
    this.#alive('drm_dep_queue_fini');
    const rt = this.runtime;
    if (rt.reports.warnOn((this._fl & Q_FINI) !== 0, `drm_dep_queue_fini(${this.name}) called twice`)) return;
    rt.mightSleep('drm_dep_queue_fini');
    this._fl |= Q_FINI;
    if (rt.trace.enabled) rt.trace.emit('drm_dep:queue_fini', { queue: this.name, teardown: this.teardown, queued: this._queued, pending: this._pending }, { lane: this.#lane });
    if ((this._fl & Q_KILLED) === 0) this.#kill(false);
    this._fl &= ~Q_STOPPED; // retirement must go on
    this._fl |= Q_TDR_OFF;
    this.#tdr.cancel();
    this.#cancelPending();
    if (this._pHead !== null && this._pHead._st === ST_DONE) this.submitWq.queueWork(this.#putWork);
    if (this.teardown === 'async') {
      this._putRef();
      return;
    }
    while (this._jobs > 0) {
      await rt.sleepOn<null>(`drm_dep_queue_fini(${this.name}): ${this._jobs} job(s) alive`, (w) => {
        (this.#idleWaiters ??= []).push(w);
      }, { object: this });
    }
    await this.#runWork.cancelSync();
    await this.#putWork.cancelSync();
    await this.#tdr.cancelSync();
    await this.#deregister();
    this._putRef();
  }

  /** Cancel every job on the hardware, newest first (drm_sched_fini with cancel_job). */
  #cancelPending(): void {
    const jobs: DepJob[] = [];
    for (let j = this._pHead; j !== null; j = j._next) if (j._st === ST_RUNNING) jobs.push(j);
    if (jobs.length === 0) return;
    const cancel = this._ops.cancelJob;
    const rt = this.runtime;
    if (cancel === undefined) {
      rt.reports.warnOn(true, `drm_dep_queue_fini(${this.name}): tearing down the queue while ${jobs.length} job(s) are on the hardware and ops.cancelJob is missing`, [
        'they are retired when the hardware completes them; implement cancelJob (signal the hardware fence with -ECANCELED) to tear down at once',
      ]);
      return;
    }
    for (let i = jobs.length - 1; i >= 0; i--) {
      const job = jobs[i]!;
      if (job._st !== ST_RUNNING) continue;
      this.stats.cancelled++;
      if (rt.trace.enabled) rt.trace.emit('drm_dep:job_cancel', { queue: this.name, seqno: job._fence.seqno }, { lane: this.#lane });
      cancel.call(this._ops, job as unknown as PushedDepJob<J>);
    }
  }

  async #deregister(): Promise<void> {
    const dereg = this._ops.deregister;
    if (dereg !== undefined) await dereg.call(this._ops, this);
    if (this.#ownWq && !this.submitWq.destroyed) await this.submitWq.destroy();
    this._fl |= Q_DEREGISTERED;
  }

  #release(): void {
    const rt = this.runtime;
    this.#runWork.cancel();
    this.#putWork.cancel();
    this.#tdr.cancel();
    if ((this._fl & Q_FINI) === 0 && rt.checks !== 'off') {
      rt.reports.warnOn(true, `drm_dep queue ${this.name}: last reference dropped without fini(); tearing down asynchronously`);
    }
    if ((this._fl & Q_DEREGISTERED) !== 0) {
      this.#finalize();
      return;
    }
    rt.spawn(`drm_dep_teardown/${this.name}`, async () => {
      await this.#deregister();
      this.#finalize();
    }, { context: 'worker' });
  }

  #finalize(): void {
    const rt = this.runtime;
    this._fl |= Q_RELEASED;
    if (this.#token !== null) rt.lifetimes.release(this.#token);
    if (rt.trace.enabled) rt.trace.emit('drm_dep:queue_release', { queue: this.name }, { lane: this.#lane });
    try {
      this._ops.release?.call(this._ops, this);
    } finally {
      const ws = this.#releaseWaiters;
      this.#releaseWaiters = null;
      if (ws !== null) for (const w of ws) w.wake(null);
    }
  }

  /**
   * Wait until the queue is released (its teardown finished). Resolves at once if it is.
   * `timeout` in ms: resolves false if it ran out. Sleeps.
   */
  async waitReleased(options: { readonly timeout?: number } = {}): Promise<boolean> {
    if ((this._fl & Q_RELEASED) !== 0) return true;
    const r = await this.runtime.sleepOn<null>(`drm_dep queue ${this.name} release`, (w) => {
      (this.#releaseWaiters ??= []).push(w);
    }, { object: this, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) });
    return r !== TIMED_OUT && r !== INTERRUPTED;
  }

  #wakeIdle(): void {
    const ws = this.#idleWaiters;
    if (ws === null) return;
    this.#idleWaiters = null;
    for (const w of ws) w.wake(null);
  }

  // --- tracing helpers -------------------------------------------------------------------

  /** @internal */
  _tracing(): boolean {
    return this.runtime.trace.enabled;
  }

  /** @internal */
  _traceDependency(job: DepJob, fence: Fence, preempt: boolean): void {
    this.runtime.trace.emit('drm_dep:job_dependency', { queue: this.name, context: fence.context, seqno: fence.seqno, preempt, job: job._seq }, { lane: this.#lane });
  }

  // --- checks ------------------------------------------------------------------------------

  #alive(who: string): void {
    if ((this._fl & Q_RELEASED) === 0 && this._refs > 0) return;
    this.#uaf(who);
    throw new DepError('EINVAL', `${who}: drm_dep queue ${this.name} was released (its last reference was put)`);
  }

  #uaf(who: string): void {
    const rt = this.runtime;
    if ((this._fl & Q_TRACKED) !== 0) {
      if (rt.lifetimes.assertAlive(this, who)) {
        rt.reports.report('use-after-free', `${who}: drm_dep queue ${this.name} used after its last reference was put (refcount ${this._refs})`);
      }
    }
  }

  /** For reports and logs. */

  toString(): string {
    return `drm_dep_queue ${this.name}`;
  }
}
