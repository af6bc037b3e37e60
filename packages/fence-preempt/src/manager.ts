/**
 * The push-style alternative Christian König prefers (rfc-designs B.3, B.4, D.4): a
 * preemption manager holding a mutex, the last exported completion fence and an update
 * function — amdgpu's eviction-fence manager with its `userq_mutex`.
 */
import { DepError, Mutex, Work, Workqueue, getDefaultRuntime, isDepError, type Runtime } from '@dep/kernel';
import { DmaFence, beginSignalling, contextAlloc, endSignalling, fenceLabel, fenceWaitsOn, type Fence } from '@dep/dma-fence';
import { PreemptFence, preemptInternals, type PreemptResult } from './preempt-fence.js';

/** The driver's side of a {@link PreemptionManager}. */
export interface PreemptionManagerOps {
  /** Start preempting every queue of the VM (AMD: unmap the user queues). In the signalling annotation, under the mutex. */
  preempt(mgr: PreemptionManager): PreemptResult;
  /** Wait until they are off the hardware (not on a fence). Default: nothing to wait for. */
  preemptWait?(mgr: PreemptionManager): PreemptResult;
  /**
   * First half of the resume (AMD's restore worker), **before** the mutex is taken:
   * revalidate the VM's buffers — allocate, wait for the evictions the memory needs, lock
   * the buffers and reserve a fence slot on each for {@link PreemptionManagerOps.resume}.
   * May allocate and wait.
   */
  revalidate?(mgr: PreemptionManager): void | Promise<void>;
  /**
   * Second half, on the resume workqueue **under the mutex**: attach `fence` — the new
   * eviction fence — to every buffer (BOOKKEEP), unlock them, map the queues back. Must not
   * allocate: the suspend work takes this mutex on the reclaim path, so an allocation here
   * is a lockdep cycle through `fs_reclaim` (Brost's objection to the AMD patches: "taking
   * userq_mutex in the fencing path and then allocating"). Throwing leaves the VM
   * suspended (the new fence is signalled with the error) and makes {@link PreemptionManager.update} fail.
   */
  resume(mgr: PreemptionManager, fence: Fence): void | Promise<void>;
}

/** Options of a {@link PreemptionManager}. */
export interface PreemptionManagerOptions {
  /** Default: the workqueue's runtime. */
  readonly runtime?: Runtime;
  /** Name (timeline of the eviction fences, the mutex, the works). Default `'evf_mgr'`. */
  readonly name?: string;
  /** Where the suspend work runs: `WQ_MEM_RECLAIM` (it signals the eviction fence). */
  readonly wq: Workqueue;
  /**
   * Where the resume work runs. It allocates, so not a `WQ_MEM_RECLAIM` queue (lockdep would
   * report its allocations). Default: `wq` — only if the driver's resume never allocates.
   */
  readonly resumeWq?: Workqueue;
  /**
   * How long the suspend work waits for the last exported fence before preempting anyway
   * (ms). Upstream used 100 ms; a later review made it unbounded. Default `Infinity`: the
   * user-fence TDR bounds it.
   */
  readonly lastFenceTimeout?: number;
}

// The base constructor may already ask for the names (the `dma_fence:init` tracepoint)
// before `manager` is assigned: fall back to the manager's fixed driver name.
const managerOf = (f: EvictionFence): PreemptionManager | undefined => f.manager;
const managerOps = {
  getDriverName: (f: EvictionFence) => managerOf(f)?.driverName ?? 'evf_mgr',
  getTimelineName: (f: EvictionFence) => managerOf(f)?.name ?? 'evf_mgr',
  preempt: () => 0,
  preemptWait: () => 0,
};

/** @internal The manager's eviction fence: enabling it queues the manager's suspend work. */
class EvictionFence extends PreemptFence {
  declare readonly manager: PreemptionManager;
  constructor(manager: PreemptionManager, context: bigint, seqno: bigint, wq: Workqueue) {
    preemptInternals.allowManager = true;
    try {
      super(managerOps, context, seqno, { wq, ordering: 'manager' as never, seqno64: true });
    } finally {
      preemptInternals.allowManager = false;
    }
    this.manager = manager;
  }

  /** `amdgpu_eviction_fence_enable_signaling`: schedule the suspend work, nothing else. */
  override _kick(): void {
    if (this._stage !== 0) return;
    this._stage = 1;
    this.wq.queueWork(suspendWorkOf(this.manager));
  }
}

let suspendWorkOf: (m: PreemptionManager) => Work;

/**
 * A preemption manager (amdgpu's `amdgpu_eviction_fence_mgr` + `userq_mutex`): one eviction
 * fence at a time (attach it to every buffer of the VM, BOOKKEEP), the **last exported
 * completion fence**, and a **mutex** that keeps new completion fences from being exported
 * while a preemption is in flight.
 *
 * - Enabling the eviction fence only queues the suspend work (no callback, no other lock).
 * - Suspend work: take the mutex; wait for the last exported fence (under the mutex, so
 *   none newer can appear; outside the signalling annotation — it is the one deliberate
 *   wait, declared to the wait-for graph and bounded by the user-fence TDR); then, in the
 *   signalling annotation, preempt every queue, queue the resume work (*before* the
 *   signal — Christian's order) and signal the eviction fence **while still holding the
 *   mutex** ("otherwise we won't resume the queues before issuing the next fence").
 * - Resume work (a queue that is not `WQ_MEM_RECLAIM`): the driver revalidates (allocates,
 *   waits for evictions) *before* the mutex; then, under the mutex, the next eviction fence
 *   is made, the driver attaches it and maps the queues, and it becomes current.
 * - {@link PreemptionManager.update} (the signal IOCTL exporting a completion fence): take
 *   the mutex; if the eviction fence has already signalled, the VM is being torn down and
 *   re-created: drop the mutex, flush the resume work, retry; else record the fence.
 */
export class PreemptionManager {
  /** The runtime it belongs to. */
  readonly runtime: Runtime;
  /** Timeline name of its eviction fences. */
  readonly name: string;
  /** Driver name of its eviction fences. */
  readonly driverName = 'evf_mgr';
  /** `userq_mutex`. */
  readonly mutex: Mutex;
  /** Where the suspend work runs (`WQ_MEM_RECLAIM`). */
  readonly wq: Workqueue;
  /** Where the resume work runs. */
  readonly resumeWq: Workqueue;
  /** ms the suspend work waits for the last exported fence. */
  readonly lastFenceTimeout: number;
  /** Fence context of its eviction fences (seqno 1, 2, … per rearm). */
  readonly context: bigint;
  readonly #ops: PreemptionManagerOps;
  readonly #suspendWork: Work;
  readonly #resumeWork: Work;
  #fence: EvictionFence;
  #seqno = 1n;
  #last: Fence | null = null;
  #retries = 0;
  #resumeError: string | null = null;
  #suspends = 0;
  #shutdown = false;

  static {
    suspendWorkOf = (m) => m.#suspendWork;
  }

  /** EINVAL for ops without `preempt`/`resume`, a workqueue that is not `WQ_MEM_RECLAIM`, a bad timeout. */
  constructor(ops: PreemptionManagerOps, options: PreemptionManagerOptions) {
    const who = 'new PreemptionManager';
    if (typeof ops !== 'object' || ops === null || typeof ops.preempt !== 'function' || typeof ops.resume !== 'function') {
      throw new DepError('EINVAL', `${who}: ops must have preempt(mgr) and resume(mgr, fence) functions`);
    }
    for (const k of ['preemptWait', 'revalidate'] as const) {
      if (ops[k] !== undefined && typeof ops[k] !== 'function') throw new DepError('EINVAL', `${who}: ops.${k} must be a function when given`);
    }
    if (typeof options !== 'object' || options === null || !(options.wq instanceof Workqueue)) {
      throw new DepError('EINVAL', `${who}: options.wq must be a Workqueue (WQ_MEM_RECLAIM)`);
    }
    const wq = options.wq;
    if (!wq.memReclaim) throw new DepError('EINVAL', `${who}: workqueue ${wq.name} is not WQ_MEM_RECLAIM; the suspend work signals the eviction fence`);
    const resumeWq = options.resumeWq ?? wq;
    if (!(resumeWq instanceof Workqueue) || resumeWq.rt !== wq.rt) throw new DepError('EINVAL', `${who}: options.resumeWq must be a Workqueue of the same runtime`);
    const rt = options.runtime ?? wq.rt ?? getDefaultRuntime();
    if (rt !== wq.rt) throw new DepError('EINVAL', `${who}: the workqueue belongs to another runtime`);
    const timeout = options.lastFenceTimeout ?? Infinity;
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw new DepError('EINVAL', `${who}: lastFenceTimeout must be a number of ms ≥ 0 (Infinity: unbounded)`);
    const name = options.name ?? 'evf_mgr';
    if (typeof name !== 'string' || name.length === 0) throw new DepError('EINVAL', `${who}: name must be a non-empty string`);
    this.runtime = rt;
    this.name = name;
    this.#ops = ops;
    this.wq = wq;
    this.resumeWq = resumeWq;
    this.lastFenceTimeout = timeout;
    this.mutex = new Mutex(rt, `${name}:userq_mutex`);
    this.#suspendWork = new Work(() => this.#suspend(), `${name}:suspend_work`);
    this.#resumeWork = new Work(() => this.#resume(), `${name}:resume_work`);
    this.context = contextAlloc(1, rt);
    this.#fence = new EvictionFence(this, this.context, this.#seqno, wq);
  }

  /** The current eviction fence: attach it to every buffer of the VM (BOOKKEEP). */
  get fence(): Fence {
    return this.#fence;
  }

  /** The last exported completion fence (null before the first {@link PreemptionManager.update}). */
  get lastFence(): Fence | null {
    return this.#last;
  }

  /** How often {@link PreemptionManager.update} found the eviction fence signalled and had to flush the resume work and retry. */
  get retries(): number {
    return this.#retries;
  }

  /** Preemptions done by the suspend work. */
  get suspends(): number {
    return this.#suspends;
  }

  /**
   * The signal IOCTL's side: remember `fence` (a new completion fence about to be
   * exported) as the last one, under the mutex — after re-validating the eviction fence
   * (signalled ⇒ drop the mutex, flush the resume work, retry). Takes its own reference.
   * EINVAL for a non-fence or one of another runtime; ESHUTDOWN after {@link PreemptionManager.fini}. Sleeps.
   */
  async update(fence: Fence): Promise<void> {
    const who = 'preemption manager update';
    if (!(fence instanceof DmaFence) || fence.runtime !== this.runtime) {
      throw new DepError('EINVAL', `${who}: pass a fence of runtime ${this.runtime.name} (the completion fence being exported)`);
    }
    if (fence.inactive) throw new DepError('EINVAL', `${who}: ${fenceLabel(fence)} is INACTIVE; export it after its push`);
    for (;;) {
      if (this.#shutdown) throw new DepError('ESHUTDOWN', `${who}: ${this.name} was shut down`);
      await this.mutex.lock();
      const seen = this.#fence;
      if (seen.testSignaledFlag()) {
        // The queues are (being) preempted and the VM re-created: a new completion fence
        // must not be published before the resume, or it would be gated on nothing.
        this.mutex.unlock();
        this.#retries++;
        await this.#resumeWork.flush();
        if (this.#fence === seen) {
          throw new DepError('ECANCELED', `${who}: ${this.name} could not resume the VM after its eviction (${this.#resumeError ?? 'shut down'}); nothing was exported`);
        }
        continue;
      }
      const old = this.#last;
      this.#last = fence.get();
      this.mutex.unlock();
      old?.put();
      return;
    }
  }

  /**
   * `amdgpu_evf_mgr_flush_suspend`: wait for the current eviction fence, then for the
   * suspend work. Sleeps.
   */
  async flushSuspend(): Promise<void> {
    await this.#fence.wait();
    await this.#suspendWork.flush();
  }

  /**
   * Shut down (`amdgpu_evf_mgr_shutdown` + `fini`): no more resumes; flush the suspend and
   * resume works; drop the last fence. The current eviction fence is left as it is
   * (signal it by evicting, or let its buffers go). Idempotent. Sleeps.
   */
  async fini(): Promise<void> {
    this.#shutdown = true;
    await this.#suspendWork.flush();
    await this.#resumeWork.flush();
    const last = this.#last;
    this.#last = null;
    last?.put();
  }

  async #suspend(): Promise<void> {
    const rt = this.runtime;
    await this.mutex.lock();
    try {
      const ev = this.#fence;
      if (ev.testSignaledFlag()) return;
      const last = this.#last;
      if (last !== null && !last.testSignaledFlag()) {
        const edge = fenceWaitsOn(ev, last, 'eviction fence waits for the last exported completion fence (under the userq mutex)');
        try {
          await last.waitTimeout(this.lastFenceTimeout);
        } finally {
          edge.remove();
        }
      }
      const failures: unknown[] = [];
      const cookie = beginSignalling(rt);
      try {
        let err = await this.#call('preempt', failures);
        if (err === 0 && this.#ops.preemptWait !== undefined) err = await this.#call('preemptWait', failures);
        if (err < 0) ev.setError(err);
        this.#suspends++;
        // Christian's order: the follow-up (the resume) is queued before the signal.
        if (!this.#shutdown) this.resumeWq.queueWork(this.#resumeWork);
        ev._stage = 4;
        ev.signal();
      } finally {
        endSignalling(cookie, rt);
      }
      // A driver op that threw something other than a DepError: an oops, after the signal.
      if (failures.length > 0) throw failures[0];
    } finally {
      this.mutex.unlock();
    }
  }

  async #call(op: 'preempt' | 'preemptWait', failures: unknown[]): Promise<number> {
    try {
      const r = await this.#ops[op]!(this);
      if (r === undefined || r === 0) return 0;
      if (typeof r === 'number' && Number.isInteger(r) && r < 0 && r >= -4095) return r;
      this.runtime.reports.warnOn(true, `${this.name} ${op} returned ${typeof r === 'number' ? r : typeof r}: return 0 (or nothing) on success, a negative errno on failure`);
      return -22;
    } catch (e) {
      if (!isDepError(e)) failures.push(e);
      return isDepError(e) ? e.errno : -5;
    }
  }

  async #resume(): Promise<void> {
    if (this.#shutdown || !this.#fence.testSignaledFlag()) return;
    try {
      await this.#ops.revalidate?.(this);
    } catch (e) {
      this.#resumeError = e instanceof Error ? e.message : String(e);
      throw e;
    }
    await this.mutex.lock();
    try {
      if (!this.#fence.testSignaledFlag() || this.#shutdown) return;
      const next = new EvictionFence(this, this.context, this.#seqno + 1n, this.wq);
      this.#seqno++;
      try {
        await this.#ops.resume(this, next);
      } catch (e) {
        // The driver may have attached it already: it must still signal. The queues stay
        // suspended, so signalling it (with the error) lets evictions through.
        this.#resumeError = e instanceof Error ? e.message : String(e);
        next.setError(isDepError(e) ? e.errno : -5);
        next._stage = 4;
        next.signal();
        next.put();
        throw e;
      }
      this.#resumeError = null;
      const old = this.#fence;
      this.#fence = next;
      old.put();
    } finally {
      this.mutex.unlock();
    }
  }
}
