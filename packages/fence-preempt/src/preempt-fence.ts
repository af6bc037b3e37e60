/**
 * `struct dma_fence_preempt` (the preempt-fence RFC v1 of 9 Nov 2024, and v2 inside the Xe
 * UMD-submission RFC of 18 Nov 2024 — rfc-designs B.1, B.4).
 */
import { DepError, Work, Workqueue, isDepError, type Runtime } from '@dep/kernel';
import {
  DmaFence,
  INLINE_LOCK_CLASS,
  beginSignalling,
  endSignalling,
  fenceLabel,
  fenceWaitsOn,
  type DmaFenceOps,
  type Fence,
  type FenceWait,
} from '@dep/dma-fence';
import { DmaResv, DmaResvUsage } from '@dep/dma-resv';
import { annotatePreemptLockOrder } from './lock-order.js';

/**
 * The brand of a preempt fence: `Symbol.for('@dep/fence-preempt:preempt-fence')`, `true` on
 * `PreemptFence.prototype`. `@dep/queue` checks it structurally (its `isPreemptFence`) to
 * put preempt fences into a job's second dependency list, drained after all others.
 */
export const PREEMPT_FENCE_BRAND: unique symbol = Symbol.for('@dep/fence-preempt:preempt-fence') as never;

/**
 * How a preempt fence is kept from preempting the producer of a fence somebody waits for
 * (rfc-designs B.2, B.3, E.4):
 * - `'slot'` — RFC v1: the fence goes into the resvs' `PREEMPT` usage, and dma-resv enables
 *   it only after every other fence of that resv signalled. Protects waiters that go
 *   through that resv, and nobody else (Christian König: "won't work").
 * - `'gate'` — RFC v2, as suggested by AMD: the worker first waits for the fence the
 *   `preemptDelay` op returns (the last exported fence), wherever its waiters are.
 * - `'none'` — no ordering (Xe today keeps it in BOOKKEEP): the deadlock of B.2.
 */
export type PreemptOrdering = 'slot' | 'gate' | 'none';

/** Where a preempt fence is: made; enabled (work queued); waiting for its gate; preempting; signalled. */
export type PreemptStage = 'armed' | 'queued' | 'gated' | 'preempting' | 'signalled';

/** What a preempt op returns: 0 (or nothing) on success, a negative errno on failure. */
export type PreemptResult = number | void | Promise<number | void>;

/**
 * `struct dma_fence_preempt_ops`: the driver's side. One ops object per kind of fence.
 * `preempt`, `preemptWait` and `preemptFinished` run in the preempt worker, inside the
 * fence-signalling annotation: no fence waits, no `GFP_KERNEL` allocation, no lock that is
 * held anywhere while waiting for a fence.
 */
export interface PreemptFenceOps<F extends PreemptFence = PreemptFence> {
  /** Driver name of the fence. Default `'preempt'`. */
  getDriverName?(fence: F): string;
  /** Timeline name of the fence. Default `'preempt'`. */
  getTimelineName?(fence: F): string;
  /**
   * v2 `preempt_delay`: the fence that must signal before preemption may start — the last
   * exported fence of the VM (Xe: the chain of exported user-fence fences), or null when
   * none. Returns a **new reference** (`fence.get()`, or `getStub()`): the base class puts
   * it. Called from the worker (the RFC as posted called it from `enable_signaling`; see
   * `gateInEnableSignaling`). Required with ordering `'gate'`, ignored otherwise.
   */
  preemptDelay?(fence: F): Fence | null;
  /** Start preempting the queue (Xe: GuC schedule disable; AMD: unmap queues). An error goes on the fence; `preemptWait` is then skipped. */
  preempt(fence: F): PreemptResult;
  /**
   * Wait until the queue is off the hardware (may sleep, on anything but a fence). An error
   * goes on the fence; -EAGAIN requeues the worker to wait again (Xe, during VF recovery).
   */
  preemptWait(fence: F): PreemptResult;
  /**
   * The follow-up (Xe: queue the rebind worker, drop the queue reference), after the signal
   * — or before it with `finishedBeforeSignal` (AMD: the VM must be re-created before the
   * next user fence can be published).
   */
  preemptFinished?(fence: F): void | Promise<void>;
}

/** Options of a {@link PreemptFence}. */
export interface PreemptFenceOptions {
  /**
   * The preempt workqueue: must be `WQ_MEM_RECLAIM` (the worker is on the reclaim path);
   * Xe uses one ordered queue for every preempt fence of the device (see
   * {@link allocPreemptWorkqueue}), so a stuck worker stalls them all — which is why
   * everything it does stays inside the signalling annotation.
   */
  readonly wq: Workqueue;
  /** Default `'gate'` (the RFC's v2). */
  readonly ordering?: PreemptOrdering;
  /**
   * Run `preemptFinished` before signalling (Christian König's / AMD's order) instead of
   * after (Xe's). Default false.
   */
  readonly finishedBeforeSignal?: boolean;
  /**
   * Reproduce the RFC v2 as posted: `enableSignaling` calls `preemptDelay` and adds a
   * callback on the gate — taking the gate's lock under the preempt fence's lock. Lockdep
   * reports it (the inversion Christian König found). For showing the report only.
   */
  readonly gateInEnableSignaling?: boolean;
  /**
   * With ordering `'slot'`: the resv the fence is attached to (v1 kept this pointer). The
   * worker WARNs if that resv still has unsignalled fences of the other usages — someone
   * enabled the fence without going through the PREEMPT ordering.
   */
  readonly resv?: DmaResv;
  /** Lockdep class of the fence lock. Default the inline class every fence shares, `&fence->inline_lock`; Xe passes its own lock. */
  readonly lockClass?: string;
  /** `dma_fence_init64`: 64-bit seqno compare. Default false. */
  readonly seqno64?: boolean;
}

const ARMED = 0;
const QUEUED = 1;
const GATED = 2;
const PREEMPTING = 3;
const SIGNALLED = 4;
const STAGES: readonly PreemptStage[] = ['armed', 'queued', 'gated', 'preempting', 'signalled'];

const EAGAIN = -11;
const EINVAL = -22;
const EIO = -5;
const MAX_ERRNO = 4095;

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** The preempt worker issued `preempt` (after its gate, if any). */
    'dma_fence_preempt:preempt': { context: bigint; seqno: bigint; ordering: string };
    /** The preempt worker is waiting for its gate (ordering `'gate'`). */
    'dma_fence_preempt:gate': { context: bigint; seqno: bigint; gate: string };
  }
}

/** @internal Hooks shared with the preemption manager. */
export const preemptInternals: {
  kick: (f: PreemptFence) => void;
  allowManager: boolean;
} = { kick: () => undefined, allowManager: false };

let workOf: (f: PreemptFence) => Work;
let runWork: (f: PreemptFence) => Promise<void>;

class PreemptWork extends Work {
  readonly fence: PreemptFence;
  constructor(fence: PreemptFence) {
    super(preemptWorkFn as (w: Work) => Promise<void>, 'dma_fence_preempt_work');
    this.fence = fence;
  }
}

function preemptWorkFn(work: PreemptWork): Promise<void> {
  return runWork(work.fence);
}

/** The gate's callback: re-kick the worker (in the gate's signal path: only queue work). */
function gateSignalled(_gate: Fence, f: PreemptFence): void {
  f.wq.queueWork(workOf(f));
}

const dmaOps: DmaFenceOps<PreemptFence> = {
  getDriverName: (f) => f.preemptOps.getDriverName?.(f) ?? 'preempt',
  getTimelineName: (f) => f.preemptOps.getTimelineName?.(f) ?? 'preempt',
  // Christian's rule: enable_signaling only queues work.
  enableSignaling: (f) => {
    preemptInternals.kick(f);
    return true;
  },
};

function checkOps(ops: unknown, ordering: string, who: string): asserts ops is PreemptFenceOps {
  const o = ops as Partial<Record<keyof PreemptFenceOps, unknown>> | null;
  if (typeof o !== 'object' || o === null || typeof o.preempt !== 'function' || typeof o.preemptWait !== 'function') {
    throw new DepError('EINVAL', `${who}: ops must have preempt(fence) and preemptWait(fence) functions`);
  }
  for (const k of ['getDriverName', 'getTimelineName', 'preemptDelay', 'preemptFinished'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new DepError('EINVAL', `${who}: ops.${k} must be a function when given`);
  }
  if (ordering === 'gate' && typeof o.preemptDelay !== 'function') {
    throw new DepError('EINVAL', `${who}: ordering 'gate' needs ops.preemptDelay (return the last exported fence, or null)`);
  }
}

/** Normalise an op's result to 0 or a negative errno; anything else is a driver bug (WARN, -EINVAL). */
function errnoOf(f: PreemptFence, r: unknown, op: string): number {
  if (r === undefined || r === 0) return 0;
  if (typeof r === 'number' && Number.isInteger(r) && r < 0 && r >= -MAX_ERRNO) return r;
  f.runtime.reports.warnOn(true, `${op}(${fenceLabel(f)}) returned ${typeof r === 'number' ? r : typeof r}: return 0 (or nothing) on success, a negative errno on failure`);
  return EINVAL;
}

/**
 * A preempt fence (`struct dma_fence_preempt`): a dma-fence that signals once the queue it
 * guards is off the hardware. Whoever waits on it (or adds a callback, or enables its
 * signalling) asks for that preemption — TTM evicting a buffer, a kernel job that needs
 * the memory. Xe attaches one per long-running queue to every buffer of the VM; AMD's
 * eviction fence is the same thing (rfc-designs D.4).
 *
 * `enableSignaling` (under the fence lock) only queues the worker, on a `WQ_MEM_RECLAIM`
 * workqueue. The worker, inside `beginSignalling`/`endSignalling`:
 * 1. (ordering `'gate'`) resolves the gate (`preemptDelay`) and, while it is unsignalled,
 *    adds a callback that re-queues the worker and returns — the ordered queue is never
 *    blocked on it; the wait-for graph learns "this fence waits on the gate";
 * 2. `preempt` (its error goes on the fence), then `preemptWait` (-EAGAIN: again later);
 * 3. signals, and runs `preemptFinished` after (Xe) or before (`finishedBeforeSignal`, AMD).
 * A driver op that throws: a DepError's errno (anything else: -EIO) goes on the fence, the
 * fence still signals, and a non-DepError is rethrown (an oops in the worker).
 *
 * The fence keeps a reference on itself from enable until the worker is done.
 */
export class PreemptFence extends DmaFence {
  /** The driver's ops. */
  declare readonly preemptOps: PreemptFenceOps;
  /** The preempt workqueue its worker runs on. */
  declare readonly wq: Workqueue;
  /** The ordering design (`'manager'` for a preemption manager's eviction fence). */
  declare readonly ordering: PreemptOrdering | 'manager';
  /** `preemptFinished` runs before the signal (AMD) rather than after (Xe). */
  declare readonly finishedBeforeSignal: boolean;
  /** The RFC v2 as posted (see {@link PreemptFenceOptions.gateInEnableSignaling}). */
  declare readonly gateInEnableSignaling: boolean;
  /** Ordering `'slot'`: the resv it was attached to, if given. */
  declare readonly resv: DmaResv | null;
  /** @internal */ declare _stage: number;
  /** @internal */ declare _gate: Fence | null;
  /** @internal */ declare _gateEdge: FenceWait | null;
  /** @internal The re-kick callback is on the gate. */
  declare _gateArmed: boolean;
  /** @internal */ declare _work: Work | null;
  /** @internal The first failure of a driver op. */
  declare _failure: { error: unknown } | null;

  static {
    workOf = (f) => (f._work ??= new PreemptWork(f));
    runWork = (f) => f.#run();
    preemptInternals.kick = (f) => { f._kick(); };
  }

  /**
   * `dma_fence_preempt_init(fence, ops, wq, context, seqno)`. Rejects with DepError EINVAL
   * (nothing made): ops without `preempt`/`preemptWait` (or without `preemptDelay` for
   * `'gate'`), a workqueue that is not `WQ_MEM_RECLAIM` or is destroyed, an unknown
   * ordering, a `resv` of another runtime, a bad context or seqno.
   */
  constructor(ops: PreemptFenceOps<never>, context: bigint, seqno: bigint, options: PreemptFenceOptions) {
    const who = 'dma_fence_preempt_init';
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', `${who}: pass options { wq, ordering?, … }`);
    const ordering = options.ordering ?? 'gate';
    if (ordering !== 'slot' && ordering !== 'gate' && ordering !== 'none' && !(ordering === 'manager' && preemptInternals.allowManager)) {
      throw new DepError('EINVAL', `${who}: ordering must be 'slot', 'gate' or 'none', got ${String(ordering)}`);
    }
    checkOps(ops, ordering, who);
    const wq = options.wq;
    if (!(wq instanceof Workqueue)) throw new DepError('EINVAL', `${who}: options.wq must be a Workqueue (allocPreemptWorkqueue(rt) makes the usual one)`);
    if (!wq.memReclaim) {
      throw new DepError('EINVAL', `${who}: workqueue ${wq.name} is not WQ_MEM_RECLAIM; the preempt worker is on the memory-reclaim path (new Workqueue(rt, name, { ordered: true, memReclaim: true }))`);
    }
    if (wq.destroyed) throw new DepError('EINVAL', `${who}: workqueue ${wq.name} was destroyed`);
    for (const k of ['finishedBeforeSignal', 'gateInEnableSignaling', 'seqno64'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'boolean') throw new DepError('EINVAL', `${who}: options.${k} must be true or false`);
    }
    if (options.gateInEnableSignaling === true && ordering !== 'gate') {
      throw new DepError('EINVAL', `${who}: gateInEnableSignaling reproduces the v2 gate; it needs ordering 'gate'`);
    }
    const resv = options.resv ?? null;
    if (resv !== null && (!(resv instanceof DmaResv) || resv.runtime !== wq.rt)) {
      throw new DepError('EINVAL', `${who}: options.resv must be a DmaResv of the workqueue's runtime`);
    }
    super();
    this.preemptOps = ops;
    this.wq = wq;
    this.ordering = ordering;
    this.finishedBeforeSignal = options.finishedBeforeSignal ?? false;
    this.gateInEnableSignaling = options.gateInEnableSignaling ?? false;
    this.resv = resv;
    this._stage = ARMED;
    this._gate = null;
    this._gateEdge = null;
    this._gateArmed = false;
    this._work = null;
    this._failure = null;
    const rt = wq.rt;
    const init = { runtime: rt, ...(options.lockClass === undefined ? {} : { lockClass: options.lockClass }) };
    if (options.seqno64 === true) this.init64(dmaOps, context, seqno, init);
    else this.init(dmaOps, context, seqno, init);
    annotatePreemptLockOrder(rt, options.lockClass ?? INLINE_LOCK_CLASS);
  }

  /** The resv usage this fence belongs in: `PREEMPT` for ordering `'slot'`, `BOOKKEEP` otherwise. */
  get usage(): DmaResvUsage {
    return this.ordering === 'slot' ? DmaResvUsage.PREEMPT : DmaResvUsage.BOOKKEEP;
  }

  /** Where it is: `armed` → `queued` → (`gated`) → `preempting` → `signalled`. */
  get stage(): PreemptStage {
    return STAGES[this._stage]!;
  }

  /** The gate the worker waits for (ordering `'gate'`), while it waits. */
  get gate(): Fence | null {
    return this._gate;
  }

  /**
   * @internal Called from `enableSignaling`, under the fence lock: take the worker's
   * reference and queue the worker — nothing else (no callback, no other fence's lock).
   */
  _kick(): void {
    if (this._stage !== ARMED) return;
    this.get();
    this._stage = QUEUED;
    const work = workOf(this);
    if (this.gateInEnableSignaling) {
      // The RFC v2 as posted: resolve the gate and add a callback on it right here, under
      // this fence's lock. Lockdep reports the nesting (rfc-designs B.4).
      let armed = false;
      try {
        armed = this.#armGate();
      } finally {
        if (!armed) this.wq.queueWork(work);
      }
      return;
    }
    this.wq.queueWork(work);
  }

  /** Resolve the gate and add the re-kick callback; true if the worker must wait for it. */
  #armGate(): boolean {
    const gate = this.#resolveGate();
    if (gate === null) return false;
    this._gate = gate;
    this._stage = GATED;
    this._gateEdge = fenceWaitsOn(this, gate, 'preempt fence waits for the last exported fence (preemptDelay)');
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('dma_fence_preempt:gate', { context: this.context, seqno: this.seqno, gate: fenceLabel(gate) });
    return this.#waitGate(gate);
  }

  /** Add the re-kick callback on the gate; false if it has signalled meanwhile. */
  #waitGate(gate: Fence): boolean {
    this._gateArmed = gate.addCallback(gateSignalled, this);
    return this._gateArmed;
  }

  /** `preemptDelay`, validated: a fence (a reference we own) or null. */
  #resolveGate(): Fence | null {
    let gate: unknown;
    try {
      gate = this.preemptOps.preemptDelay!(this);
    } catch (e) {
      this.#fail(e);
      return null;
    }
    if (gate === null || gate === undefined) return null;
    if (!(gate instanceof DmaFence) || gate.runtime !== this.runtime) {
      this.runtime.reports.warnOn(true, `preemptDelay(${fenceLabel(this)}) returned ${typeof gate}: return a fence of the same runtime (a new reference) or null`);
      this.#fail(new DepError('EINVAL', 'preemptDelay returned a non-fence'));
      return null;
    }
    if (gate === this) {
      this.runtime.reports.warnOn(true, `preemptDelay(${fenceLabel(this)}) returned the preempt fence itself: it would wait for itself`);
      gate.put();
      this.#fail(new DepError('EDEADLK', 'preemptDelay returned the preempt fence itself'));
      return null;
    }
    if (gate.testSignaledFlag()) {
      gate.put();
      return null;
    }
    return gate;
  }

  #dropGate(): void {
    const gate = this._gate;
    if (gate === null) return;
    this._gate = null;
    this._gateEdge?.remove();
    this._gateEdge = null;
    this._gateArmed = false;
    gate.put();
  }

  /** Record a driver op's failure: the first one wins. */
  #fail(e: unknown): void {
    this._failure ??= { error: e };
  }

  async #call(op: 'preempt' | 'preemptWait'): Promise<number> {
    try {
      return errnoOf(this, await this.preemptOps[op](this), op);
    } catch (e) {
      this.#fail(e);
      return isDepError(e) ? e.errno : EIO;
    }
  }

  async #finished(): Promise<void> {
    const fin = this.preemptOps.preemptFinished;
    if (fin === undefined) return;
    try {
      await fin(this);
    } catch (e) {
      this.#fail(e);
    }
  }

  /** The worker: see the class comment. */
  async #run(): Promise<void> {
    const rt = this.runtime;
    const cookie = beginSignalling(rt);
    try {
      await this.#step();
    } finally {
      endSignalling(cookie, rt);
    }
  }

  async #step(): Promise<void> {
    if (this._stage === ARMED || this._stage === SIGNALLED) return; // a stray re-kick
    if (this._stage === QUEUED) {
      if (this.ordering === 'slot' && this.resv !== null) this.#checkSlot(this.resv);
      if (this.ordering === 'gate' && this._failure === null && this.#armGate()) return; // re-kicked by the gate
    }
    if (this._stage === GATED) {
      const gate = this._gate;
      if (gate !== null && !gate.testSignaledFlag()) {
        if (this._gateArmed) return; // spurious: the gate's callback re-kicks
        // The callback could not be added (a strict-mode lockdep report in enableSignaling
        // with gateInEnableSignaling): add it from here, outside any fence lock.
        if (this.#waitGate(gate)) return;
      }
      this.#dropGate();
    }
    let err = 0;
    if (this._stage !== PREEMPTING) {
      this._stage = PREEMPTING;
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('dma_fence_preempt:preempt', { context: this.context, seqno: this.seqno, ordering: this.ordering });
      err = this._failure !== null ? errnoFromFailure(this._failure.error) : await this.#call('preempt');
    }
    if (err === 0) {
      err = await this.#call('preemptWait');
      if (err === EAGAIN) {
        this.wq.queueWork(workOf(this));
        return;
      }
    }
    if (err < 0) this.setError(err);
    if (this.finishedBeforeSignal) await this.#finished();
    this._stage = SIGNALLED;
    this.signal();
    if (!this.finishedBeforeSignal) await this.#finished();
    this.put();
    const failure = this._failure;
    if (failure !== null && !isDepError(failure.error)) throw failure.error;
  }

  /** v1: the fence was enabled while its resv still had unsignalled fences of the other usages. */
  #checkSlot(resv: DmaResv): void {
    if (resv.testSignaled(DmaResvUsage.BOOKKEEP)) return;
    this.runtime.reports.warnOn(true, `preempt fence ${fenceLabel(this)} enabled while ${resv.name} still has unsignalled fences of other usages`, [
      'ordering \'slot\' (RFC v1): a PREEMPT fence may have signalling enabled only after every fence of the other usages signalled',
      'wait on the resv with DmaResvUsage.PREEMPT (or use the gate ordering) instead of enabling the preempt fence directly',
    ]);
  }
}

Object.defineProperty(PreemptFence.prototype, PREEMPT_FENCE_BRAND, { value: true });

function errnoFromFailure(e: unknown): number {
  return isDepError(e) ? e.errno : EIO;
}

/**
 * `dma_fence_is_preempt(fence)`: true for a preempt fence (a {@link PreemptFence}, a
 * preemption manager's eviction fence, or any fence carrying {@link PREEMPT_FENCE_BRAND}).
 * The job queue puts such dependencies into a second list that it enables only after
 * every other dependency signalled (rfc-designs B.1).
 */
export function isPreempt(fence: unknown): boolean {
  return typeof fence === 'object' && fence !== null && (fence as Record<symbol, unknown>)[PREEMPT_FENCE_BRAND] === true;
}

/**
 * The usual preempt workqueue: ordered, `WQ_MEM_RECLAIM` (Xe's `xe-preempt-fence-wq`).
 * Destroy it when done (`await wq.destroy()`). ENOMEM under fault injection.
 */
export function allocPreemptWorkqueue(rt: Runtime, name = 'preempt-fence-wq'): Workqueue {
  return new Workqueue(rt, name, { ordered: true, memReclaim: true });
}
