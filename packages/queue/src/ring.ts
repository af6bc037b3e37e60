/**
 * The HW-ring layer: "a sane HW queue component could be built on top of drm_dep" (Brost,
 * drm_dep review; Danilo's "JobQueue first, loosely coupled orchestrator later"). For
 * hardware with a few rings shared by many contexts — the drm_gpu_scheduler workload —
 * several entities feed one ring, picked by priority and policy, within the ring's credits.
 *
 * Layering: each {@link DepEntity} is a front made of a {@link DepQueue} (its own fence
 * timeline, dependencies, ordering, kill, teardown). When a job's dependencies have
 * signalled, the entity's queue "runs" it by handing it to the entity's current
 * {@link DepRing} and returning a *ring fence*; the ring picks among the entities with ready
 * jobs — KERNEL > HIGH > NORMAL > LOW, then FIFO (oldest ready job) or round-robin — and
 * runs the job on the hardware when the ring's credits allow; the hardware fence signals the
 * ring fence, which completes the entity's job.
 */
import { DepError, GFP_KERNEL, Work, Workqueue, getDefaultRuntime, isDepError, type Runtime } from '@dep/kernel';
import { DmaFence, contextAlloc, type DmaFenceOps, type Fence } from '@dep/dma-fence';
import type { DepJob } from './job.js';
import { DepQueue } from './queue.js';
import type { DepQueueOptions, DepQueueOps, PushedDepJob } from './types.js';

const ESRCH = -3;
const EIO = -5;
const ECANCELED = -125;

/** Ring priorities, highest first (`enum drm_sched_priority`). */
export const DepPriority = {
  KERNEL: 0,
  HIGH: 1,
  NORMAL: 2,
  LOW: 3,
} as const;

/** One of the {@link (DepPriority:variable)} values. */
export type DepPriority = (typeof DepPriority)[keyof typeof DepPriority];

const PRIORITY_NAMES = ['kernel', 'high', 'normal', 'low'] as const;

/**
 * How a ring picks among the entities of one priority:
 * - `fifo` (drm_sched's default): the entity whose oldest ready job became ready first;
 * - `rr`: round-robin over the entities with a ready job.
 */
export type DepRingPolicy = 'fifo' | 'rr';

/** The driver's ring callbacks. */
export interface DepRingOps<J extends DepJob = DepJob> {
  /**
   * Put the job on the hardware ring; return its hardware fence (the ring takes over one
   * reference), or null for "done". Throw a `DepError` for "could not run" (the job
   * completes with that errno). Runs on the ring's worker inside a signalling section.
   */
  runJob(job: PushedDepJob<J>): Fence | null;
  /** Teardown or kill of an entity while `job` is on the hardware: signal its hardware fence with an error. */
  cancelJob?(job: PushedDepJob<J>): void;
}

/** Options of a {@link DepRing}. */
export interface DepRingOptions<J extends DepJob = DepJob> {
  /** The runtime; default `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** Ring name (workqueue, fence timelines). */
  readonly name: string;
  /** Credits the ring holds at once (ring size / max job size). Positive integer. */
  readonly creditLimit: number;
  /** Selection within a priority; default `fifo`. */
  readonly policy?: DepRingPolicy;
  /** The driver's ring callbacks. */
  readonly ops: DepRingOps<J>;
  /** The ring's workqueue (must be `WQ_MEM_RECLAIM`); default an ordered one of its own. */
  readonly wq?: Workqueue;
}

/** Options of {@link DepRing.createEntity}. */
export interface DepEntityOptions<J extends DepJob = DepJob> extends Pick<DepQueueOptions<J>, 'bypass' | 'jobPutIrqSafe' | 'inactiveFences' | 'scheduledFence' | 'teardown' | 'submitLock'> {
  /** Entity (and its queue's) name. */
  readonly name: string;
  /** Default `DepPriority.NORMAL`. */
  readonly priority?: DepPriority;
  /**
   * Credits the entity may have handed to its ring at once (ready or running): its window.
   * Default unlimited (as drm_sched's entity queue). Jobs are limited to the ring's
   * credit limit regardless.
   */
  readonly creditLimit?: number;
  /** `freeJob` of the entity's jobs (and whether it is irq-safe). */
  readonly freeJob?: DepQueueOps<J>['freeJob'];
  /** `freeJob` is irq-safe (see `DepQueueOps.freeJobIrqSafe`). */
  readonly freeJobIrqSafe?: boolean;
}

/** Counters of a ring. */
export interface DepRingStats {
  /** Jobs handed to the ring by its entities. */
  readied: number;
  /** Jobs run on the hardware. */
  started: number;
  /** Jobs whose hardware fence signalled. */
  completed: number;
  /** Executions of the ring's work item. */
  workItems: number;
  /** Times the head pick did not fit in the ring's credits (head-of-line blocking). */
  creditStalls: number;
}

/** The fence an entity's queue gets for a job handed to a ring: the hardware drives it. */
class RingFence extends DmaFence {
  job: DepJob | null = null;
  entity: DepEntity | null = null;
  /** Ready order on the ring (FIFO key). */
  seq = 0;
  next: RingFence | null = null;
  /** Put on the hardware (then `hw` is its fence until it signals). */
  started = false;
  /** The ring it started on. */
  ring: DepRing | null = null;
  hw: DmaFence | null = null;
}

const ringFenceOps: DmaFenceOps<RingFence> = {
  getDriverName: () => 'drm_dep_ring',
  getTimelineName: (f) => (f.entity === null ? 'drm_dep_ring' : `${f.entity.ring.name}:${f.entity.name}`),
};

const RING_FENCE_LOCK_CLASS = '&drm_dep_ring_fence->lock';

function ringHwDone(hw: Fence, rf: RingFence): void {
  rf.ring!._complete(rf, hw.error);
}

/**
 * One hardware ring shared by several {@link DepEntity}s (drm_gpu_scheduler's role, on top
 * of drm_dep). Selection semantics are drm_sched's run loop: scan the priorities from KERNEL
 * down; in each, pick by policy among entities with a ready job; if the picked job does not
 * fit in the ring's free credits, stop — and do not look at lower priorities.
 */
export class DepRing<J extends DepJob = DepJob> {
  /** The runtime the ring belongs to. */
  readonly runtime: Runtime;
  /** Ring name. */
  readonly name: string;
  /** Credits the ring holds at once. */
  readonly creditLimit: number;
  /** Selection within a priority. */
  readonly policy: DepRingPolicy;
  /** Counters (readied, started, completed, work items, credit stalls). */
  readonly stats: DepRingStats = { readied: 0, started: 0, completed: 0, workItems: 0, creditStalls: 0 };
  readonly #ops: DepRingOps<J>;
  readonly #wq: Workqueue;
  readonly #ownWq: boolean;
  readonly #work: Work;
  /** Entities with a ready job, per priority. */
  readonly #rq: DepEntity[][] = [[], [], [], []];
  /** Round-robin cursor per priority. */
  readonly #rr = [0, 0, 0, 0];
  #credits = 0;
  #seq = 0;
  /** Entities created on (or moved to) this ring and not finished. */
  readonly #entities = new Set<DepEntity>();
  #dead = false;

  constructor(options: DepRingOptions<J>) {
    if (typeof options !== 'object' || options === null) {
      throw new DepError('EINVAL', 'new DepRing(options): pass { name, creditLimit, ops: { runJob }, policy? }');
    }
    const { name, creditLimit, ops } = options;
    if (typeof name !== 'string' || name.length === 0) throw new DepError('EINVAL', 'new DepRing: name must be a non-empty string');
    if (typeof creditLimit !== 'number' || !Number.isSafeInteger(creditLimit) || creditLimit < 1) {
      throw new DepError('EINVAL', `new DepRing(${name}): creditLimit must be a positive integer, got ${String(creditLimit)}`);
    }
    if (typeof ops !== 'object' || ops === null || typeof ops.runJob !== 'function') {
      throw new DepError('EINVAL', `new DepRing(${name}): ops must have a runJob(job) function`);
    }
    if (ops.cancelJob !== undefined && typeof ops.cancelJob !== 'function') {
      throw new DepError('EINVAL', `new DepRing(${name}): ops.cancelJob must be a function when given`);
    }
    const policy = options.policy ?? 'fifo';
    if (policy !== 'fifo' && policy !== 'rr') throw new DepError('EINVAL', `new DepRing(${name}): policy must be 'fifo' or 'rr', got ${String(policy)}`);
    if (options.wq !== undefined && (!(options.wq instanceof Workqueue) || !options.wq.memReclaim)) {
      throw new DepError('EINVAL', `new DepRing(${name}): wq must be a WQ_MEM_RECLAIM Workqueue`);
    }
    const rt = options.runtime ?? getDefaultRuntime();
    rt.alloc(GFP_KERNEL, 'drm_dep_ring_init');
    this.#wq = options.wq ?? new Workqueue(rt, `drm_dep_ring_${name}`, { ordered: true, memReclaim: true });
    this.#ownWq = options.wq === undefined;
    this.runtime = rt;
    this.name = name;
    this.creditLimit = creditLimit;
    this.policy = policy;
    this.#ops = ops;
    this.#work = new Work(() => this.#runWork(), `drm_dep_ring_run(${name})`);
  }

  /** Credits held by jobs on the hardware. */
  get creditsInFlight(): number {
    return this.#credits;
  }

  /** Jobs handed to the ring and not yet started, over all entities. */
  get readyJobs(): number {
    let n = 0;
    for (const list of this.#rq) for (const e of list) n += e._readyCount;
    return n;
  }

  /** Entities currently on this ring. */
  get entities(): readonly DepEntity[] {
    return [...this.#entities];
  }

  /**
   * Make an entity feeding this ring (`drm_sched_entity_init`): a {@link DepQueue} of its
   * own, whose jobs are run on this ring by priority. EINVAL for bad options; ENOMEM from
   * the allocation hook.
   */
  createEntity(options: DepEntityOptions<J>): DepEntity<J> {
    this.#alive('drm_dep_ring_create_entity');
    return new DepEntity<J>(this, options);
  }

  /**
   * Tear the ring down: every entity must have been torn down first (EBUSY otherwise, nothing
   * changed). Destroys the ring's own workqueue. Sleeps.
   */
  async fini(): Promise<void> {
    this.#alive('drm_dep_ring_fini');
    if (this.#entities.size > 0) {
      throw new DepError('EBUSY', `drm_dep_ring_fini(${this.name}): ${this.#entities.size} entity(ies) still use the ring; fini() them first`);
    }
    this.#dead = true;
    await this.#work.cancelSync();
    if (this.#ownWq) await this.#wq.destroy();
  }

  // --- entity side (internal) ---------------------------------------------------------------

  /** @internal */
  _attach(e: DepEntity): void {
    this.#entities.add(e);
  }

  /** @internal */
  _detach(e: DepEntity): void {
    this.#unqueue(e);
    this.#entities.delete(e);
  }

  /** @internal An entity's queue handed over a ready job. */
  _ready(e: DepEntity, rf: RingFence): void {
    rf.seq = ++this.#seq;
    this.stats.readied++;
    e._pushReady(rf);
    if (e._movingFrom === null) this.#enqueue(e);
  }

  /** @internal Put `e` on its priority's run list (if it has ready jobs). */
  _enqueueEntity(e: DepEntity): void {
    this.#enqueue(e);
  }

  /** @internal Take `e` off the run lists. */
  _unqueueEntity(e: DepEntity): void {
    this.#unqueue(e);
  }

  #enqueue(e: DepEntity): void {
    if (e._onRq || e._readyCount === 0 || this.#dead) return;
    e._onRq = true;
    e._rqPrio = e.priority;
    this.#rq[e.priority]!.push(e);
    this.#wq.queueWork(this.#work);
  }

  #unqueue(e: DepEntity): void {
    if (!e._onRq) return;
    const list = this.#rq[e._rqPrio]!;
    const i = list.indexOf(e);
    if (i >= 0) {
      list.splice(i, 1);
      if (i < this.#rr[e._rqPrio]!) this.#rr[e._rqPrio]!--;
    }
    e._onRq = false;
  }

  /** @internal Priority changed: move it between run lists; the next pick sees it. */
  _requeue(e: DepEntity): void {
    if (!e._onRq) return;
    this.#unqueue(e);
    this.#enqueue(e);
    this.#wq.queueWork(this.#work);
  }

  #pick(): DepEntity | null {
    for (let p = 0; p < 4; p++) {
      const list = this.#rq[p]!;
      const n = list.length;
      if (n === 0) continue;
      if (this.policy === 'rr') {
        let i = this.#rr[p]!;
        if (i >= n) i = 0;
        return list[i]!;
      }
      let best = list[0]!;
      for (let i = 1; i < n; i++) {
        const e = list[i]!;
        if (e._readyHead!.seq < best._readyHead!.seq) best = e;
      }
      return best;
    }
    return null;
  }

  /** The ring's run work: start jobs while the pick fits in the credits. */
  #runWork(): void {
    this.stats.workItems++;
    const ld = this.runtime.lockdep;
    const cookie = ld.enabled ? ld.beginSignalling() : true;
    try {
      for (;;) {
        const e = this.#pick();
        if (e === null) return;
        const rf = e._readyHead!;
        const job = rf.job!;
        if (this.#credits + job.credits > this.creditLimit) {
          this.stats.creditStalls++;
          return; // head-of-line: lower priorities wait too (drm_sched semantics)
        }
        e._popReady();
        if (this.policy === 'rr') {
          const list = this.#rq[e._rqPrio]!;
          this.#rr[e._rqPrio] = list.indexOf(e) + 1;
        }
        if (e._readyCount === 0) this.#unqueue(e);
        this.#start(e, rf, job);
      }
    } finally {
      if (ld.enabled) ld.endSignalling(cookie);
    }
  }

  #start(e: DepEntity, rf: RingFence, job: DepJob): void {
    rf.started = true;
    rf.ring = this;
    e._inflight++;
    this.#credits += job.credits;
    this.stats.started++;
    let hw: Fence | null = null;
    let error = 0;
    try {
      hw = this.#ops.runJob(job as unknown as PushedDepJob<J>);
    } catch (err) {
      error = isDepError(err) ? err.errno : EIO;
      if (!isDepError(err)) {
        this._complete(rf, error);
        throw err;
      }
    }
    if (hw === null || !(hw instanceof DmaFence)) {
      this._complete(rf, error);
      return;
    }
    rf.hw = hw;
    if (!hw.addCallback(ringHwDone, rf)) this._complete(rf, hw.error);
  }

  /** @internal A job left the hardware (or never got there): release, complete, kick. */
  _complete(rf: RingFence, error: number): void {
    const e = rf.entity!;
    const job = rf.job!;
    if (rf.started) {
      this.#credits -= job.credits;
      e._inflight--;
      this.stats.completed++;
    }
    const hw = rf.hw;
    rf.hw = null;
    e._byJob.delete(job);
    if (error !== 0) rf.setError(error);
    rf.signal();
    rf.put(); // the ring's reference
    hw?.put();
    if (e._inflight === 0) e._drained(this);
    if (this.#hasReady()) this.#wq.queueWork(this.#work);
  }

  #hasReady(): boolean {
    for (const list of this.#rq) if (list.length > 0) return true;
    return false;
  }

  /** @internal Cancel a started job (teardown): the driver signals its hardware fence. */
  _cancelStarted(job: DepJob): void {
    this.#ops.cancelJob?.(job as unknown as PushedDepJob<J>);
  }

  #alive(who: string): void {
    if (this.#dead) throw new DepError('EINVAL', `${who}: ring ${this.name} was torn down`);
  }

  /** For reports and logs. */

  toString(): string {
    return `drm_dep_ring ${this.name}`;
  }
}

/**
 * An entity: one context's front on a {@link DepRing} — a {@link DepQueue} (`entity.queue`)
 * with its own fence timeline, dependencies and ordering, whose ready jobs the ring runs by
 * priority. Make jobs on `entity.queue` as on any queue (`new XeJob(entity.queue)`, arm,
 * push). {@link DepEntity.setPriority} and {@link DepEntity.moveTo} change where and when its
 * next jobs run; one entity's jobs never run on two rings at once.
 */
export class DepEntity<J extends DepJob = DepJob> {
  /** Entity name (also its queue's). */
  readonly name: string;
  /** The entity's queue: make its jobs here. */
  readonly queue: DepQueue<J>;
  /** Fence context of its ring fences. */
  readonly ringContext: bigint;
  #ring: DepRing<J>;
  #priority: DepPriority;
  #ringSeq = 0n;
  /** @internal Ready jobs (handed to the ring, not started), FIFO. */ _readyHead: RingFence | null = null;
  /** @internal */ _readyTail: RingFence | null = null;
  /** @internal */ _readyCount = 0;
  /** @internal Jobs on the hardware of the ring they started on. */ _inflight = 0;
  /** @internal On its ring's run list. */ _onRq = false;
  /** @internal The priority list it is on. */ _rqPrio: DepPriority = DepPriority.NORMAL;
  /** @internal Moving: the old ring still runs some of its jobs. */ _movingFrom: DepRing<J> | null = null;
  /** @internal Ring fences by job, while handed over (for cancel). */ readonly _byJob = new Map<DepJob, RingFence>();
  #killedBacklog: RingFence[] | null = null;
  #dead = false;

  /** @internal Made by {@link DepRing.createEntity}. */
  constructor(ring: DepRing<J>, options: DepEntityOptions<J>) {
    if (typeof options !== 'object' || options === null || typeof options.name !== 'string' || options.name.length === 0) {
      throw new DepError('EINVAL', `drm_dep_ring_create_entity(${ring.name}): pass { name, priority?, … }`);
    }
    const priority = options.priority ?? DepPriority.NORMAL;
    checkPriority(priority, `drm_dep_ring_create_entity(${ring.name}, ${options.name})`);
    const rt = ring.runtime;
    const self = this;
    const ops: DepQueueOps<J> = {
      runJob(job) {
        return self.#handOver(job as unknown as DepJob);
      },
      timedoutJob(job) {
        // Only reached through kill() (the entity queue has no timeout of its own): the
        // driver side of a kill — take the entity's jobs off the ring.
        if (self.queue.killed) self.#cancelOnRing(ESRCH);
        void job;
        return 'reset';
      },
      cancelJob(job) {
        self.#cancelJob(job as unknown as DepJob);
      },
    };
    if (options.freeJob !== undefined) ops.freeJob = options.freeJob;
    if (options.freeJobIrqSafe !== undefined) (ops as { freeJobIrqSafe?: boolean }).freeJobIrqSafe = options.freeJobIrqSafe;
    const qopts: DepQueueOptions<J> = {
      runtime: rt,
      name: options.name,
      ops,
      creditLimit: options.creditLimit ?? Number.MAX_SAFE_INTEGER,
      maxJobCredits: Math.min(ring.creditLimit, options.creditLimit ?? Number.MAX_SAFE_INTEGER),
      ...(options.bypass === undefined ? {} : { bypass: options.bypass }),
      ...(options.jobPutIrqSafe === undefined ? {} : { jobPutIrqSafe: options.jobPutIrqSafe }),
      ...(options.inactiveFences === undefined ? {} : { inactiveFences: options.inactiveFences }),
      ...(options.scheduledFence === undefined ? {} : { scheduledFence: options.scheduledFence }),
      ...(options.teardown === undefined ? {} : { teardown: options.teardown }),
      ...(options.submitLock === undefined ? {} : { submitLock: options.submitLock }),
    };
    this.queue = new DepQueue<J>(qopts);
    this.name = options.name;
    this.ringContext = contextAlloc(1, rt);
    this.#ring = ring;
    this.#priority = priority;
    ring._attach(this);
  }

  /** The ring its next jobs run on. */
  get ring(): DepRing<J> {
    return this.#ring;
  }

  /** Its priority on the ring. */
  get priority(): DepPriority {
    return this.#priority;
  }

  /** Name of the priority (`kernel`, `high`, `normal`, `low`). */
  get priorityName(): string {
    return PRIORITY_NAMES[this.#priority];
  }

  /** Jobs handed to the ring and not started. */
  get readyJobs(): number {
    return this._readyCount;
  }

  /** Jobs on the hardware. */
  get inflightJobs(): number {
    return this._inflight;
  }

  /**
   * `drm_sched_entity_set_priority`: takes effect at the ring's next pick, for the jobs
   * already waiting on the ring too (unlike drm_sched, it is never lost). EINVAL for a bad
   * priority. Any context.
   */
  setPriority(priority: DepPriority): void {
    this.#alive('drm_dep_entity_set_priority');
    checkPriority(priority, `drm_dep_entity_set_priority(${this.name})`);
    if (priority === this.#priority) return;
    this.#priority = priority;
    if (this._movingFrom === null) this.#ring._requeue(this);
  }

  /**
   * `drm_sched_entity_modify_sched` with one ring: the entity's jobs not yet started move to
   * `ring`; they start there only once every job it still has on the old ring completed (one
   * entity's jobs never run concurrently on two rings, and its ring fences stay in order).
   * EINVAL for a torn-down ring. Any context.
   */
  moveTo(ring: DepRing<J>): void {
    this.#alive('drm_dep_entity_move');
    if (!(ring instanceof DepRing)) throw new DepError('EINVAL', `drm_dep_entity_move(${this.name}): pass a DepRing`);
    if (ring.creditLimit < this.queue.maxJobCredits) {
      throw new DepError('EINVAL', `drm_dep_entity_move(${this.name}): ring ${ring.name} holds ${ring.creditLimit} credits but the entity's jobs may take up to ${this.queue.maxJobCredits}; pick a ring at least as large`);
    }
    const old = this.#ring;
    if (ring === old) return;
    old._detach(this);
    ring._attach(this);
    this.#ring = ring;
    if (this._inflight > 0 && this._movingFrom === null) this._movingFrom = old;
    if (this._movingFrom === null) ring._enqueueEntity(this);
  }

  /** `drm_sched_entity_kill`: kill the entity's queue (its jobs end with -ESRCH, in order). */
  kill(): void {
    this.#alive('drm_dep_entity_kill');
    this.queue.kill();
    if (this.queue.pendingJobs === 0) return;
    // triggerTimeout reaches timedoutJob, which takes the jobs off the ring.
  }

  /**
   * `drm_sched_entity_destroy`: tear down the entity's queue (see {@link DepQueue.fini}):
   * jobs waiting on the ring complete with -ECANCELED, jobs on the hardware are cancelled
   * through the ring's `cancelJob`; then the entity leaves its ring. Sleeps.
   */
  async fini(): Promise<void> {
    this.#alive('drm_dep_entity_fini');
    await this.queue.fini();
    this.#dead = true;
    this.#ring._detach(this);
  }

  // --- internal ----------------------------------------------------------------------------

  /** The entity queue's runJob: hand the job to the ring, return its ring fence. */
  #handOver(job: DepJob): Fence {
    const rt = this.queue.runtime;
    const rf = new RingFence(ringFenceOps, this.ringContext, ++this.#ringSeq, { runtime: rt, lockClass: RING_FENCE_LOCK_CLASS });
    rf.job = job;
    rf.entity = this;
    this._byJob.set(job, rf);
    this.#ring._ready(this, rf);
    return rf.get(); // one for the entity's queue; the ring keeps the one init gave
  }

  /** @internal */
  _pushReady(rf: RingFence): void {
    rf.next = null;
    if (this._readyTail === null) this._readyHead = rf;
    else this._readyTail.next = rf;
    this._readyTail = rf;
    this._readyCount++;
  }

  /** @internal */
  _popReady(): RingFence {
    const rf = this._readyHead!;
    this._readyHead = rf.next;
    if (this._readyHead === null) this._readyTail = null;
    rf.next = null;
    this._readyCount--;
    return rf;
  }

  /** @internal Every job it had on `ring` completed. */
  _drained(ring: DepRing): void {
    if (this._movingFrom !== null && (this._movingFrom as unknown) === ring) {
      this._movingFrom = null;
      this.#ring._enqueueEntity(this);
    }
    const backlog = this.#killedBacklog;
    if (backlog !== null && this._inflight === 0) {
      this.#killedBacklog = null;
      for (const rf of backlog) this.#finishUnstarted(rf, ESRCH);
    }
  }

  /** Kill: jobs waiting on the ring end with `error`, in order, after those on the hardware. */
  #cancelOnRing(error: number): void {
    this.#ring._unqueueEntity(this);
    const taken: RingFence[] = [];
    while (this._readyCount > 0) taken.push(this._popReady());
    for (const rf of this._byJob.values()) if (rf.started) rf.ring!._cancelStarted(rf.job!);
    if (taken.length === 0) return;
    if (this._inflight === 0) {
      for (const rf of taken) this.#finishUnstarted(rf, error);
    } else {
      (this.#killedBacklog ??= []).push(...taken);
    }
  }

  /** The entity queue's cancelJob (teardown): not started → -ECANCELED now; started → the ring's cancelJob. */
  #cancelJob(job: DepJob): void {
    const rf = this._byJob.get(job);
    if (rf === undefined) return;
    if (rf.started) {
      rf.ring!._cancelStarted(job); // the ring it runs on (the old one while moving)
      return;
    }
    // Take it off the ready list.
    let prev: RingFence | null = null;
    for (let r = this._readyHead; r !== null; prev = r, r = r.next) {
      if (r !== rf) continue;
      if (prev === null) this._readyHead = r.next;
      else prev.next = r.next;
      if (this._readyTail === r) this._readyTail = prev;
      this._readyCount--;
      break;
    }
    if (this._readyCount === 0) this.#ring._unqueueEntity(this);
    this.#finishUnstarted(rf, ECANCELED);
  }

  #finishUnstarted(rf: RingFence, error: number): void {
    (this.#ring as unknown as DepRing)._complete(rf, error);
  }

  #alive(who: string): void {
    if (this.#dead) throw new DepError('EINVAL', `${who}: entity ${this.name} was torn down`);
  }

  /** For reports and logs. */

  toString(): string {
    return `drm_dep_entity ${this.name} (${this.priorityName} on ${this.#ring.name})`;
  }
}

function checkPriority(p: unknown, who: string): asserts p is DepPriority {
  if (p !== 0 && p !== 1 && p !== 2 && p !== 3) {
    throw new DepError('EINVAL', `${who}: priority ${String(p)} is not a DepPriority; pass DepPriority.KERNEL, HIGH, NORMAL or LOW`);
  }
}
