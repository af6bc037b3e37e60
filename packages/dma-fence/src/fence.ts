import { DepError, MAX_ERRNO, getDefaultRuntime, type LockClass, type Runtime } from '@dep/kernel';
import type { DmaFenceOps, FenceFunc } from './fence-ops.js';
import {
  FENCE_FLAG_USER_MAX,
  FenceFlag,
  F_CHECKED,
  F_CONTAINER,
  F_ENABLE_DUE,
  F_ENABLE_SIGNAL,
  F_INACTIVE,
  F_INITIALIZED,
  F_INLINE_LOCK,
  F_LOCKED,
  F_LOCK_CLASS,
  F_OPS_DETACH,
  F_PUBLIC_MASK,
  F_PUBLISHED,
  F_RELEASED,
  F_SEQNO64,
  F_SIGNALED,
  F_TIMESTAMP,
  F_WFG,
} from './flags.js';
import {
  assertHeldChecked,
  beginSignallingChecked,
  endSignallingChecked,
  fenceLabel,
  lockChecked,
  lockQuickChecked,
  setLockClass,
  unlockChecked,
  unlockQuickChecked,
} from './locking.js';
import { checkU64, isU64, seqnoIsLater } from './seqno.js';
import type { DmaFenceTraceArgs } from './trace-events.js';
import { graphFenceSignalled } from './wait-for-graph.js';
import { fenceWait, fenceWaitTimeout } from './wait.js';

declare const fenceBrand: unique symbol;

/** Options of {@link DmaFence.init}. */
export interface FenceInitOptions {
  /** The runtime the fence belongs to; default `getDefaultRuntime()`. */
  readonly runtime?: Runtime;
  /** `dma_fence_init64`: plain 64-bit seqno compare instead of the 32-bit wrap. */
  readonly seqno64?: boolean;
  /**
   * `dma_fence_init_inactive` (rfc-designs E.2): the fence starts INACTIVE; waits,
   * callbacks and containers reject it with EINVAL until {@link DmaFence.setActive}.
   */
  readonly inactive?: boolean;
  /**
   * Lockdep class name of this fence's lock. Default: the one class of every inline fence
   * lock (`&fence->inline_lock`), as in the kernel, where taking one inline fence lock
   * under another is a recursive-locking splat. A driver whose fences the kernel would
   * give their own (external) lock passes a name here, e.g. `'&sched_fence->lock'`.
   */
  readonly lockClass?: string;
}

/** Options of a wait. */
export interface FenceWaitOptions {
  /** Interruptible wait: aborting it makes the wait return -ERESTARTSYS (-512). */
  readonly signal?: AbortSignal;
}

/**
 * The published, read-only view of a fence: what everyone but its issuer holds. It can be
 * waited on, queried, given callbacks and referenced, never signalled nor given an error
 * (Stanner's shareable `Fence` vs the issuer's `DriverFence`, rfc-designs E.2).
 * {@link DmaFence.publish} hands it out: the same object, a narrower type.
 */
export interface Fence {
  /** @internal Brand: only a {@link DmaFence} is a `Fence`. */
  readonly [fenceBrand]: true;
  readonly runtime: Runtime;
  /** `fence->context`. */
  readonly context: bigint;
  /** `fence->seqno`. */
  readonly seqno: bigint;
  /** The kernel's flag bits (`1 << FenceFlag.X`); bits 16 and up are never shown. */
  readonly flags: number;
  /** `fence->error`: 0, or the negative errno set before signalling. */
  readonly error: number;
  /** True while INACTIVE (armed, not pushed). */
  readonly inactive: boolean;
  /** `kref_read(&fence->refcount)`. */
  readonly refcount: number;
  /** `dma_fence_driver_name()`: "detached-driver" once signalled. */
  driverName(): string;
  /** `dma_fence_timeline_name()`: "signaled-timeline" once signalled. */
  timelineName(): string;
  /** `dma_fence_is_signaled()`: asks `ops.signaled`; does not enable signalling. */
  isSignaled(): boolean;
  /** `dma_fence_is_signaled_locked()`. */
  isSignaledLocked(): boolean;
  /** `dma_fence_test_signaled_flag()`: the SIGNALED bit, no side effect. */
  testSignaledFlag(): boolean;
  /** Test any flag bit (0…15). */
  testFlag(bit: number): boolean;
  /** `dma_fence_enable_sw_signaling()`. */
  enableSwSignaling(): void;
  /** `dma_fence_add_callback()`: true if added; false (the kernel's -ENOENT) if already signalled — then `fn` is never called. */
  addCallback<A>(fn: FenceFunc<A>, arg: A): boolean;
  addCallback(fn: FenceFunc): boolean;
  /** `dma_fence_remove_callback()`: true if `(fn, arg)` was still pending. */
  removeCallback<A>(fn: FenceFunc<A>, arg: A): boolean;
  removeCallback(fn: FenceFunc): boolean;
  /** `dma_fence_get_status()`: 0 pending, 1 signalled, or the negative errno it completed with. */
  getStatus(): number;
  /** `dma_fence_get_status_locked()`. */
  getStatusLocked(): number;
  /** `dma_fence_timestamp()`: the signal time (ms, runtime clock). WARNs and returns now if unsignalled. */
  timestamp(): number;
  /** `dma_fence_wait()`: 0, or -ERESTARTSYS (-512) when interrupted. Sleeps. */
  wait(options?: FenceWaitOptions): Promise<number>;
  /** `dma_fence_wait_timeout()`: remaining ms (> 0), 0 on timeout, -ERESTARTSYS, -EINVAL if `timeout < 0`. Sleeps. */
  waitTimeout(timeout: number, options?: FenceWaitOptions): Promise<number>;
  /** `dma_fence_is_later(this, other)`. Same context only (WARN and false otherwise). */
  isLater(other: Fence): boolean;
  /** `dma_fence_is_later_or_same(this, other)`. */
  isLaterOrSame(other: Fence): boolean;
  /** `dma_fence_later(this, other)`: the later one, or null if that one has signalled. */
  later(other: Fence): Fence | null;
  /** `__dma_fence_is_later(this, s1, s2)`: compare two seqnos in this fence's mode. */
  isLaterSeqno(s1: bigint, s2: bigint): boolean;
  /** `dma_fence_set_deadline()`. */
  setDeadline(deadline: number): void;
  /** `dma_fence_describe()`: `"ctx:seqno timeline driver [un]signalled"`. */
  describe(): string;
  /** `dma_fence_get()`: one more reference; returns the fence. */
  get(): this;
  /** `dma_fence_put()`: drop a reference; the last one releases the fence. */
  put(): void;
  /** `dma_fence_lock_irqsave()`: take the fence lock (atomic until unlocked). */
  lockIrqsave(): void;
  /** `dma_fence_unlock_irqrestore()`. */
  unlockIrqrestore(): void;
}

/**
 * The 2nd and later callbacks: one flat array of `(fn, arg)` pairs, FIFO. (An intrusive
 * node per callback was tried: when every node is garbage at a full GC, V8 drops their
 * hidden class and deoptimizes the inlined callback path, doubling the cost of the next
 * batch.)
 */
type CbList = unknown[];

const NO_ERROR: unique symbol = Symbol('no error');
/**
 * What an uninitialized fence holds ({@link initUnset}), and the shape sentinel: one
 * uninitialized `DmaFence`, made when this module loads and kept for its life, so the plain
 * `DmaFence` hidden class (and the optimized code that depends on it) survives a full GC
 * that finds no other fence alive (decision 0204). `initUnset` reads this object, which keeps
 * it, and the sentinel in it, referenced in bundled builds too.
 */
const UNSET: { readonly runtime: Runtime; shape: DmaFence | null } = { runtime: undefined as unknown as Runtime, shape: null };

// One constant per hot test, so the hot methods stay small enough for V8 to inline into
// their callers (decision 0203).
const BASE_OFF = F_INITIALIZED | F_INLINE_LOCK;
const BASE_CHECKED = F_INITIALIZED | F_INLINE_LOCK | F_CHECKED;
/** `signal()` takes the fast path iff `(flags & SIGNAL_SLOW) === F_INITIALIZED`. */
const SIGNAL_SLOW = F_INITIALIZED | F_SIGNALED | F_CHECKED;
/** `addCallback()` takes the fast path iff `(flags & ADD_CB_SLOW) === F_INITIALIZED`. */
const ADD_CB_SLOW = F_INITIALIZED | F_SIGNALED | F_INACTIVE | F_CHECKED | F_ENABLE_DUE;
const SIGNAL_SET = F_SIGNALED | F_TIMESTAMP;
const SIGNAL_CLEAR = ~F_WFG;

function badCallback(fn: unknown, who: string): DepError {
  return new DepError('EINVAL', `${who}: the callback must be a function (fence, arg) => void, got ${typeof fn}`);
}

function notInitialized(who: string): DepError {
  return new DepError('EINVAL', `${who}: the fence was never initialized; call fence.init(ops, context, seqno) (or pass them to the constructor) first`);
}

function inactiveError(f: DmaFence, who: string): DepError {
  return new DepError('EINVAL', `${who}: fence ${fenceLabel(f)} is INACTIVE (armed, not pushed): nobody may wait on it or add callbacks until its issuer calls setActive() at push`);
}

/**
 * `struct dma_fence`: the issuer's handle, which can signal. Share it as the read-only
 * {@link Fence} view ({@link DmaFence.publish}).
 *
 * Semantics are the kernel's (kernel-api.md A1 and B): signalling is idempotent and runs
 * the callbacks synchronously, in FIFO order, under the fence lock, in atomic context;
 * `addCallback` returns false (the kernel's -ENOENT) on a signalled fence and never calls
 * the callback; waits enable signalling first; seqnos are u64 `bigint`s compared with the
 * 32-bit wrap (`init`) or 64-bit (`init64`) rule; ops without `release`/`wait` are detached
 * at signal time.
 *
 * Drivers embed a fence by subclassing (`class HwFence extends DmaFence`), and may
 * initialize it later than construction (`new Job()` … `job.init(ops, ctx, seqno)` at arm),
 * as the kernel's `dma_fence_init` does on embedded memory.
 */
export class DmaFence implements Fence {
  declare readonly [fenceBrand]: true;
  /** The runtime this fence belongs to. */
  // Fields are `declare`d and assigned once in the constructor (no define-semantics
  // double initialization): 11 fields, no per-fence lock object.
  declare readonly runtime: Runtime;
  /** @internal */ declare _ops: DmaFenceOps | null;
  declare readonly context: bigint;
  declare readonly seqno: bigint;
  /** @internal Flag bits: the kernel's, the driver's, and this package's private ones. */ declare _flags: number;
  /** @internal */ declare _error: number;
  /** @internal */ declare _refcount: number;
  /** @internal First pending callback, inline. */ declare _cbFn: FenceFunc<unknown> | null;
  /** @internal */ declare _cbArg: unknown;
  /**
   * @internal The kernel's `cb_list`/`timestamp` union: until signalled, the 2nd and later
   * callbacks as `(fn, arg)` pairs (or null); once signalled, the timestamp.
   */
  declare _rest: unknown[] | number | null;
  /**
   * @internal Lockdep class of the fence lock when the fence was made with a `lockClass`
   * option in checked mode; null: the class of every inline fence lock.
   */
  declare _lockClass: LockClass | null;

  /**
   * `dma_fence_init(fence, ops, NULL, context, seqno)` when `ops` is given (options pick
   * `init64`, INACTIVE, the runtime); without arguments, an uninitialized fence for
   * {@link DmaFence.init} later.
   */
  constructor(ops?: DmaFenceOps<never>, context?: bigint, seqno?: bigint, options?: FenceInitOptions) {
    // Kept small on purpose: V8 inlines a constructor into its caller only while the
    // caller's inlining budget lasts (decision 0203). Validation, options, the lock class
    // and tracing are out of line, behind one test each.
    if (ops === undefined) {
      initUnset(this);
      return;
    }
    const rt = options?.runtime ?? getDefaultRuntime();
    let flags = (ops === lastOps ? lastOpsBits : opsBits(ops, 'new DmaFence')) | (rt.checks === 'off' ? BASE_OFF : BASE_CHECKED);
    // Types always; the u64 range and the options' flags on the slow path only.
    if (typeof context !== 'bigint' || typeof seqno !== 'bigint' || (flags & F_CHECKED) !== 0 || (options !== undefined && hasFlagOptions(options))) {
      flags = checkedInitFlags(flags, context, seqno, options, 'new DmaFence');
    }
    // Every field once, in final form, in the order of initUnset: one hidden class.
    this.runtime = rt;
    this._ops = ops;
    this.context = context as bigint;
    this.seqno = seqno as bigint;
    this._flags = flags;
    this._error = 0;
    this._refcount = 1;
    this._cbFn = null;
    this._cbArg = undefined;
    this._rest = null;
    this._lockClass = null;
    if ((flags & F_LOCK_CLASS) !== 0 || rt.trace.enabled) initRare(this, options);
  }

  /** `dma_fence_init(fence, ops, NULL, context, seqno)` on a fence made without arguments. Returns the fence. */
  init(ops: DmaFenceOps<never>, context: bigint, seqno: bigint, options?: FenceInitOptions): this {
    initEmbedded(this, ops, context, seqno, options ?? {}, 'dma_fence_init');
    return this;
  }

  /** `dma_fence_init64()`: like {@link DmaFence.init} with the plain 64-bit seqno compare. */
  init64(ops: DmaFenceOps<never>, context: bigint, seqno: bigint, options?: FenceInitOptions): this {
    initEmbedded(this, ops, context, seqno, { ...options, seqno64: true }, 'dma_fence_init64');
    return this;
  }

  /** `dma_fence_init_inactive()` (rfc-designs E.2): like {@link DmaFence.init}, starting INACTIVE. */
  initInactive(ops: DmaFenceOps<never>, context: bigint, seqno: bigint, options?: FenceInitOptions): this {
    initEmbedded(this, ops, context, seqno, { ...options, inactive: true }, 'dma_fence_init_inactive');
    return this;
  }

  /** `dma_fence_was_initialized()`. */
  wasInitialized(): boolean {
    return (this._flags & F_INITIALIZED) !== 0;
  }

  // --- views and flags -------------------------------------------------------------------

  /**
   * Hand out the read-only view: the same object typed as {@link Fence}, which has no
   * `signal`/`setError`. Zero cost. In checked mode the fence is marked published (the
   * watchdog says so).
   */
  publish(): Fence {
    if ((this._flags & F_CHECKED) !== 0) this._flags |= F_PUBLISHED;
    return this;
  }

  /** The ops, or null once detached at signal time (no `release` and no `wait` op). */
  get ops(): DmaFenceOps | null {
    return this._ops;
  }

  get flags(): number {
    return this._flags & F_PUBLIC_MASK;
  }

  get error(): number {
    return this._error;
  }

  get inactive(): boolean {
    return (this._flags & F_INACTIVE) !== 0;
  }

  get refcount(): number {
    return this._refcount;
  }

  /** True once {@link DmaFence.publish} handed out the view (tracked in checked mode only). */
  get published(): boolean {
    return (this._flags & F_PUBLISHED) !== 0;
  }

  testFlag(bit: number): boolean {
    if (!Number.isInteger(bit) || bit < 0 || bit > FENCE_FLAG_USER_MAX) {
      throw new DepError('EINVAL', `testFlag(${bit}): pass a flag bit number 0…${FENCE_FLAG_USER_MAX} (FenceFlag.X, or FenceFlag.USER_BITS + n)`);
    }
    return (this._flags & (1 << bit)) !== 0;
  }

  /** `set_bit(bit, &fence->flags)` for a driver bit (FenceFlag.USER_BITS…15). */
  setFlag(bit: number): void {
    this._flags |= userBit(bit, 'setFlag');
  }

  /** `clear_bit(bit, &fence->flags)` for a driver bit (FenceFlag.USER_BITS…15). */
  clearFlag(bit: number): void {
    this._flags &= ~userBit(bit, 'clearFlag');
  }

  // --- names -------------------------------------------------------------------------

  driverName(): string {
    const fl = this._flags;
    if ((fl & F_SIGNALED) !== 0) return 'detached-driver';
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_driver_name');
    return (this._ops as DmaFenceOps).getDriverName(this);
  }

  timelineName(): string {
    const fl = this._flags;
    if ((fl & F_SIGNALED) !== 0) return 'signaled-timeline';
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_timeline_name');
    return (this._ops as DmaFenceOps).getTimelineName(this);
  }

  describe(): string {
    let timeline = '';
    let driver = '';
    let un = '';
    if (!this.isSignaled()) {
      timeline = this.timelineName();
      driver = this.driverName();
      un = 'un';
    }
    return `${this.context}:${this.seqno} ${timeline} ${driver} ${un}signalled`;
  }

  // --- the lock ----------------------------------------------------------------------

  lockIrqsave(): void {
    const fl = this._flags;
    if ((fl & F_CHECKED) !== 0) lockChecked(this);
    else this._flags = fl | F_LOCKED;
  }

  unlockIrqrestore(): void {
    const fl = this._flags;
    if ((fl & F_CHECKED) !== 0) unlockChecked(this);
    else this._flags = fl & ~F_LOCKED;
  }

  // --- signalling --------------------------------------------------------------------

  /**
   * `dma_fence_signal()`: signal the fence with the runtime's cheap clock as timestamp
   * and run its callbacks. Idempotent. Any context. Runs inside a signalling section.
   */
  signal(): void {
    if ((this._flags & SIGNAL_SLOW) === F_INITIALIZED) this._signalCore(this.runtime.coarseNow());
    else this._signalSlow(undefined, 'dma_fence_signal');
  }

  /** `dma_fence_signal_timestamp()`: signal with a caller-supplied timestamp (ms, runtime clock). */
  signalTimestamp(timestamp: number): void {
    checkTime(timestamp, 'dma_fence_signal_timestamp');
    if ((this._flags & SIGNAL_SLOW) === F_INITIALIZED) this._signalCore(timestamp);
    else this._signalSlow(timestamp, 'dma_fence_signal_timestamp');
  }

  /** `dma_fence_check_and_signal()`: signal; returns true if it was **already** signalled. */
  checkAndSignal(): boolean {
    const was = (this._flags & F_SIGNALED) !== 0;
    this.signal();
    return was;
  }

  /** `dma_fence_signal_locked()`: the caller holds the fence lock. */
  signalLocked(): void {
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_signal_locked');
    if ((fl & F_CHECKED) !== 0) assertHeldChecked(this, 'dma_fence_signal_locked');
    if ((fl & F_SIGNALED) === 0) this._signalCore(this.runtime.coarseNow());
  }

  /** `dma_fence_signal_timestamp_locked()`. */
  signalTimestampLocked(timestamp: number): void {
    checkTime(timestamp, 'dma_fence_signal_timestamp_locked');
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_signal_timestamp_locked');
    if ((fl & F_CHECKED) !== 0) assertHeldChecked(this, 'dma_fence_signal_timestamp_locked');
    if ((fl & F_SIGNALED) === 0) this._signalCore(timestamp);
  }

  /** `dma_fence_check_and_signal_locked()`. */
  checkAndSignalLocked(): boolean {
    const was = (this._flags & F_SIGNALED) !== 0;
    this.signalLocked();
    return was;
  }

  _signalSlow(timestamp: number | undefined, who: string): void {
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized(who);
    if ((fl & F_CHECKED) === 0) return; // already signalled
    const rt = this.runtime;
    const cookie = beginSignallingChecked(rt);
    lockChecked(this);
    try {
      if ((this._flags & F_SIGNALED) === 0) this._signalCore(timestamp ?? rt.coarseNow());
    } finally {
      unlockChecked(this);
      endSignallingChecked(rt, cookie);
    }
  }

  /**
   * `dma_fence_signal_timestamp_locked()` proper, for an unsignalled fence: set SIGNALED
   * and TIMESTAMP, detach the ops, drop the wait-for edges, run the callbacks (stashed
   * first, so every node is off the fence before its function runs). A throwing callback
   * does not stop the others; the first error is rethrown at the end.
   */
  _signalCore(timestamp: number): void {
    const fn = this._cbFn;
    const arg = this._cbArg;
    const rest = this._rest as CbList | null;
    const fl = this._flags | SIGNAL_SET;
    this._rest = timestamp;
    this._cbFn = null;
    this._cbArg = undefined;
    // Trace (with the names still attached) and the wait-for graph, out of line.
    if ((fl & F_WFG) !== 0 || this.runtime.trace.enabled) signalRare(this, fl);
    if ((fl & F_OPS_DETACH) !== 0) this._ops = null;
    this._flags = fl & SIGNAL_CLEAR;
    if (fn === null) return;
    if (rest === null && (fl & F_CHECKED) === 0) fn(this, arg);
    else runCallbacks(this, fn, arg, rest, fl);
  }

  // --- queries -------------------------------------------------------------------------

  testSignaledFlag(): boolean {
    return (this._flags & F_SIGNALED) !== 0;
  }

  isSignaled(): boolean {
    const fl = this._flags;
    if ((fl & F_SIGNALED) !== 0) return true;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_is_signaled');
    const ops = this._ops as DmaFenceOps;
    if (ops.signaled !== undefined && ops.signaled(this)) {
      this.signal();
      return true;
    }
    return false;
  }

  isSignaledLocked(): boolean {
    const fl = this._flags;
    if ((fl & F_SIGNALED) !== 0) return true;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_is_signaled_locked');
    if ((fl & F_CHECKED) !== 0) assertHeldChecked(this, 'dma_fence_is_signaled_locked');
    const ops = this._ops as DmaFenceOps;
    if (ops.signaled !== undefined && ops.signaled(this)) {
      this._signalCore(this.runtime.coarseNow());
      return true;
    }
    return false;
  }

  getStatus(): number {
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_get_status');
    if ((fl & F_CHECKED) === 0) return this._statusLocked();
    lockChecked(this);
    try {
      return this._statusLocked();
    } finally {
      unlockChecked(this);
    }
  }

  getStatusLocked(): number {
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_get_status_locked');
    if ((fl & F_CHECKED) !== 0) assertHeldChecked(this, 'dma_fence_get_status_locked');
    return this._statusLocked();
  }

  _statusLocked(): number {
    if ((this._flags & F_SIGNALED) === 0) {
      const ops = this._ops as DmaFenceOps;
      if (ops.signaled === undefined || !ops.signaled(this)) return 0;
      this._signalCore(this.runtime.coarseNow());
    }
    return this._error === 0 ? 1 : this._error;
  }

  /**
   * `dma_fence_set_error()`: record the error the fence will complete with. Only before
   * signalling and only -1…-4095 (-ENODATA, -ECANCELED, -ETIME are the usual ones);
   * otherwise it WARNs and (unlike the kernel, which stores it anyway) changes nothing.
   */
  setError(error: number): void {
    if (typeof error !== 'number' || !Number.isInteger(error)) {
      throw new DepError('EINVAL', `dma_fence_set_error(${String(error)}): pass a negative errno integer such as -ECANCELED (-125)`);
    }
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_set_error');
    const reports = this.runtime.reports;
    if (reports.warnOn((fl & F_SIGNALED) !== 0, `dma_fence_set_error(${error}) on fence ${fenceLabel(this)} after it signalled: set the error before signalling`)) return;
    if (reports.warnOn(error >= 0 || error < -MAX_ERRNO, `dma_fence_set_error(${error}) on fence ${fenceLabel(this)}: the error must be a negative errno, -1…-${MAX_ERRNO}`)) return;
    this._error = error;
  }

  timestamp(): number {
    const rt = this.runtime;
    if ((this._flags & F_SIGNALED) === 0) {
      rt.reports.warnOn(true, `dma_fence_timestamp() on unsignalled fence ${fenceLabel(this)}: read the timestamp only after it signalled`);
      return rt.now();
    }
    return this._rest as number;
  }

  // --- signalling enablement and callbacks --------------------------------------------------

  enableSwSignaling(): void {
    const fl = this._flags;
    if ((fl & (F_INITIALIZED | F_INACTIVE | F_CHECKED)) !== F_INITIALIZED) {
      if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_enable_sw_signaling');
      if ((fl & F_INACTIVE) !== 0) throw inactiveError(this, 'dma_fence_enable_sw_signaling');
      lockChecked(this);
      try {
        this._enableSignalingLocked();
      } finally {
        unlockChecked(this);
      }
      return;
    }
    this._enableSignalingLocked();
  }

  /**
   * @internal `__dma_fence_enable_signaling()`: with the lock held. Sets ENABLE_SIGNAL;
   * calls `ops.enableSignaling` the first time; returns false if the fence is (now)
   * signalled.
   */
  _enableSignalingLocked(): boolean {
    const fl = this._flags;
    if ((fl & F_SIGNALED) !== 0) return false;
    this._flags = (fl | F_ENABLE_SIGNAL) & ~F_ENABLE_DUE;
    if ((fl & F_ENABLE_DUE) !== 0) {
      const ops = this._ops as DmaFenceOps & { enableSignaling: NonNullable<DmaFenceOps['enableSignaling']> };
      const rt = this.runtime;
      if (rt.trace.enabled) traceEvent(this, 'dma_fence:enable_signal', ops);
      if (!ops.enableSignaling(this)) {
        if ((this._flags & F_SIGNALED) === 0) this._signalCore(rt.coarseNow());
        return false;
      }
      // The op may have signalled with signalLocked() and still returned true.
      if ((this._flags & F_SIGNALED) !== 0) return false;
    }
    return true;
  }

  addCallback<A>(fn: FenceFunc<A>, arg: A): boolean;
  addCallback(fn: FenceFunc): boolean;
  addCallback(func: FenceFunc<never>, arg?: unknown): boolean {
    const fl = this._flags;
    if ((fl & ADD_CB_SLOW) === F_INITIALIZED && typeof func === 'function') {
      // Fast path: checks off, no enableSignaling op still to call (enabling is the bit).
      this._flags = fl | F_ENABLE_SIGNAL;
      this._append(func as FenceFunc<unknown>, arg);
      return true;
    }
    return this._addCallbackSlow(func as FenceFunc<unknown>, arg, false, 'dma_fence_add_callback');
  }

  /** @internal Add a callback; `head` puts it first (the default wait's waker, as the kernel does). */
  _addCallbackSlow(fn: FenceFunc<unknown>, arg: unknown, head: boolean, who: string): boolean {
    if (typeof fn !== 'function') throw badCallback(fn, who);
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized(who);
    if ((fl & F_INACTIVE) !== 0) throw inactiveError(this, who);
    if ((fl & F_SIGNALED) !== 0) return false;
    if ((fl & F_CHECKED) === 0) {
      if (!this._enableSignalingLocked()) return false;
      if (head) this._prepend(fn, arg);
      else this._append(fn, arg);
      return true;
    }
    // Enabling without an op runs no driver code: the section takes no other lock.
    if ((fl & F_ENABLE_DUE) === 0 && lockQuickChecked(this)) {
      this._flags |= F_ENABLE_SIGNAL;
      if (head) this._prepend(fn, arg);
      else this._append(fn, arg);
      unlockQuickChecked(this);
      return true;
    }
    lockChecked(this);
    try {
      if (!this._enableSignalingLocked()) return false;
      if (head) this._prepend(fn, arg);
      else this._append(fn, arg);
      return true;
    } finally {
      unlockChecked(this);
    }
  }

  _append(fn: FenceFunc<unknown>, arg: unknown): void {
    if (this._cbFn === null) {
      this._cbFn = fn;
      this._cbArg = arg;
      return;
    }
    const rest = this._rest as CbList | null;
    if (rest === null) this._rest = [fn, arg];
    else rest.push(fn, arg);
  }

  _prepend(fn: FenceFunc<unknown>, arg: unknown): void {
    const first = this._cbFn;
    if (first !== null) {
      const rest = this._rest as CbList | null;
      if (rest === null) this._rest = [first, this._cbArg];
      else rest.unshift(first, this._cbArg);
    }
    this._cbFn = fn;
    this._cbArg = arg;
  }

  removeCallback<A>(fn: FenceFunc<A>, arg: A): boolean;
  removeCallback(fn: FenceFunc): boolean;
  removeCallback(func: FenceFunc<never>, arg?: unknown): boolean {
    const fn = func as FenceFunc<unknown>;
    if (typeof fn !== 'function') throw badCallback(fn, 'dma_fence_remove_callback');
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_remove_callback');
    if ((fl & F_CHECKED) === 0) return this._remove(fn, arg);
    lockChecked(this);
    try {
      return this._remove(fn, arg);
    } finally {
      unlockChecked(this);
    }
  }

  _remove(fn: FenceFunc<unknown>, arg: unknown): boolean {
    if ((this._flags & F_SIGNALED) !== 0) return false;
    const rest = this._rest as CbList | null;
    if (this._cbFn === fn && this._cbArg === arg) {
      if (rest === null) {
        this._cbFn = null;
        this._cbArg = undefined;
      } else {
        this._cbFn = rest[0] as FenceFunc<unknown>;
        this._cbArg = rest[1];
        if (rest.length === 2) this._rest = null;
        else rest.splice(0, 2);
      }
      return true;
    }
    if (rest === null) return false;
    for (let i = 0; i < rest.length; i += 2) {
      if (rest[i] === fn && rest[i + 1] === arg) {
        if (rest.length === 2) this._rest = null;
        else rest.splice(i, 2);
        return true;
      }
    }
    return false;
  }

  /** @internal True if a callback is still pending. */
  _hasCallbacks(): boolean {
    return this._cbFn !== null;
  }

  // --- waits -------------------------------------------------------------------------

  wait(options?: FenceWaitOptions): Promise<number> {
    return fenceWait(this, options?.signal);
  }

  waitTimeout(timeout: number, options?: FenceWaitOptions): Promise<number> {
    return fenceWaitTimeout(this, timeout, options?.signal);
  }

  // --- ordering ----------------------------------------------------------------------

  isLaterSeqno(s1: bigint, s2: bigint): boolean {
    if (typeof s1 !== 'bigint' || typeof s2 !== 'bigint') {
      throw new DepError('EINVAL', `__dma_fence_is_later(${String(s1)}, ${String(s2)}): pass two bigint seqnos`);
    }
    return seqnoIsLater(s1, s2, (this._flags & F_SEQNO64) !== 0);
  }

  isLater(other: Fence): boolean {
    const o = asFence(other, 'dma_fence_is_later');
    if (this.runtime.reports.warnOn(this.context !== o.context, `dma_fence_is_later(${fenceLabel(this)}, ${fenceLabel(o)}): fences of different contexts have no order`)) return false;
    return seqnoIsLater(this.seqno, o.seqno, (this._flags & F_SEQNO64) !== 0);
  }

  isLaterOrSame(other: Fence): boolean {
    return this === other || this.isLater(other);
  }

  later(other: Fence): Fence | null {
    const o = asFence(other, 'dma_fence_later');
    if (this.runtime.reports.warnOn(this.context !== o.context, `dma_fence_later(${fenceLabel(this)}, ${fenceLabel(o)}): fences of different contexts have no order`)) return null;
    const l: DmaFence = seqnoIsLater(this.seqno, o.seqno, (this._flags & F_SEQNO64) !== 0) ? this : o;
    return l.isSignaled() ? null : l;
  }

  setDeadline(deadline: number): void {
    checkTime(deadline, 'dma_fence_set_deadline');
    const ops = this._ops;
    if (ops !== null && ops.setDeadline !== undefined && !this.isSignaled()) ops.setDeadline(this, deadline);
  }

  // --- INACTIVE ------------------------------------------------------------------------

  /**
   * `dma_fence_set_active()` (rfc-designs E.2): the fence was pushed; from now on it may
   * be waited on, given callbacks and put into containers. WARNs if it was not inactive.
   */
  setActive(): void {
    const fl = this._flags;
    if ((fl & F_INITIALIZED) === 0) throw notInitialized('dma_fence_set_active');
    if (this.runtime.reports.warnOn((fl & F_INACTIVE) === 0, `dma_fence_set_active() on fence ${fenceLabel(this)}, which is not inactive: call it once, at push, on a fence made inactive`)) return;
    this._flags = fl & ~F_INACTIVE;
  }

  // --- references ----------------------------------------------------------------------

  get(): this {
    if ((this._flags & F_CHECKED) !== 0 && this._refcount <= 0) {
      this.runtime.reports.report('use-after-free', `dma_fence_get() on fence ${fenceLabel(this)} whose last reference was already put`, [
        'take your reference while you still hold one (or under the lock that keeps the fence alive)',
      ]);
    }
    this._refcount++;
    return this;
  }

  put(): void {
    const n = this._refcount - 1;
    if (n > 0) {
      this._refcount = n;
      return;
    }
    if (n < 0 || (this._flags & F_RELEASED) !== 0) {
      if ((this._flags & F_CHECKED) !== 0) {
        this.runtime.reports.report('use-after-free', `dma_fence_put() on fence ${fenceLabel(this)} whose last reference was already put (refcount underflow)`, [
          'every put() must match a get() (or the reference init gave)',
        ]);
      }
      return;
    }
    this._refcount = 0;
    releaseFence(this);
  }
}

/**
 * `dma_fence_init()` on a fence made without arguments (a module function, not a private
 * method: a class with `#methods` stores a brand on every instance, one more slot per fence).
 */
function initEmbedded(f: DmaFence, ops: DmaFenceOps<never>, context: bigint, seqno: bigint, options: FenceInitOptions, who: string): void {
  const bits = checkOps(ops, who);
  checkU64(context, 'context', who);
  checkU64(seqno, 'seqno', who);
  if ((f._flags & F_INITIALIZED) !== 0) {
    throw new DepError('EBUSY', `${who}: fence ${fenceLabel(f)} is already initialized; make a new fence instead of re-initializing one`);
  }
  const rt = options.runtime ?? getDefaultRuntime();
  const flags = optionFlags((rt.checks === 'off' ? BASE_OFF : BASE_CHECKED) | bits, options, who);
  (f as { runtime: Runtime }).runtime = rt;
  f._ops = ops;
  (f as { context: bigint }).context = context;
  (f as { seqno: bigint }).seqno = seqno;
  f._error = 0;
  f._refcount = 1;
  f._flags = flags;
  if ((flags & F_LOCK_CLASS) !== 0) setLockClass(f, options.lockClass!);
  if (rt.trace.enabled) rt.trace.emit('dma_fence:init', traceArgs(f));
}

/**
 * `dma_fence_release()`: the last reference is gone. A fence still unsignalled with
 * callbacks pending is a refcounting bug: it gets error -EDEADLK and is signalled, so no
 * chain is left dangling, and a WARN is reported (after the fix-up, so strict mode still
 * leaves a consistent state). Then `ops.release`.
 */
function releaseFence(f: DmaFence): void {
  const rt = f.runtime;
  f._flags |= F_RELEASED;
  if (rt.trace.enabled) rt.trace.emit('dma_fence:destroy', traceArgs(f));
  let pending: string | null = null;
  if ((f._flags & F_SIGNALED) === 0 && f._cbFn !== null) {
    pending = `Fence ${f.driverName()}:${f.timelineName()}:${f.context.toString(16)}:${f.seqno.toString(16)} released with pending signals!`;
    f.lockIrqsave();
    try {
      f._error = -35; // -EDEADLK
      if ((f._flags & F_SIGNALED) === 0) f._signalCore(rt.coarseNow());
    } finally {
      f.unlockIrqrestore();
    }
  }
  const ops = f._ops;
  if (ops !== null && ops.release !== undefined) ops.release(f);
  if (pending !== null) {
    rt.reports.warnOn(true, pending, ['the last reference was put while callbacks were pending: a refcount imbalance; the fence was signalled with -EDEADLK']);
  }
}

/**
 * The last two ops objects that passed {@link checkOps} and their flag bits (ops are
 * shared, and a container alternates its members' ops with its own: nearly always a hit).
 */
let lastOps: unknown = Symbol('no ops yet');
let lastOpsBits = 0;
let prevOps: unknown = Symbol('no ops yet');
let prevOpsBits = 0;

/** The flag bits of `ops` when it is not the last one seen: the other cached one, or {@link checkOps}. */
function opsBits(ops: unknown, who: string): number {
  if (ops !== prevOps) return checkOps(ops, who);
  const bits = prevOpsBits;
  prevOps = lastOps;
  prevOpsBits = lastOpsBits;
  lastOps = ops;
  lastOpsBits = bits;
  return bits;
}

/** The ops of container fences (arrays, chain nodes): their fences carry {@link F_CONTAINER}. */
const containerOps = new WeakSet<object>();

/** @internal Mark the ops of a container fence kind, before any fence with them is made. */
export function markContainerOps(ops: DmaFenceOps<never>): void {
  containerOps.add(ops);
}

/** Validate `ops`, cache it as the last one seen, and return its flag bits ({@link F_OPS_DETACH}, {@link F_ENABLE_DUE}). */
function checkOps(ops: unknown, who: string): number {
  if (typeof ops !== 'object' || ops === null || typeof (ops as DmaFenceOps).getDriverName !== 'function' || typeof (ops as DmaFenceOps).getTimelineName !== 'function') {
    throw new DepError('EINVAL', `${who}: ops must be an object with getDriverName(fence) and getTimelineName(fence) functions (the kernel BUG()s here)`);
  }
  const o = ops as DmaFenceOps;
  let bits = 0;
  if (o.release === undefined && o.wait === undefined) bits |= F_OPS_DETACH;
  if (o.enableSignaling !== undefined) bits |= F_ENABLE_DUE;
  if (containerOps.has(o)) bits |= F_CONTAINER;
  prevOps = lastOps;
  prevOpsBits = lastOpsBits;
  lastOps = ops;
  lastOpsBits = bits;
  return bits;
}

/** The uninitialized fence (`new DmaFence()`): every field, in the constructor's order. */
function initUnset(f: DmaFence): void {
  const w = f as { -readonly [K in keyof DmaFence]: DmaFence[K] };
  w.runtime = UNSET.runtime;
  w._ops = null;
  w.context = 0n;
  w.seqno = 0n;
  w._flags = 0;
  w._error = 0;
  w._refcount = 0;
  w._cbFn = null;
  w._cbArg = undefined;
  w._rest = null;
  w._lockClass = null;
}

/** True if `options` sets anything that changes the flags (the constructor's slow path). */
function hasFlagOptions(options: FenceInitOptions): boolean {
  return options.seqno64 !== undefined || options.inactive !== undefined || options.lockClass !== undefined;
}

/**
 * The constructor's slow path: type and (checked mode) u64 range of context and seqno,
 * then the options' flags. Throws `DepError('EINVAL')` before any field is written.
 */
function checkedInitFlags(flags: number, context: unknown, seqno: unknown, options: FenceInitOptions | undefined, who: string): number {
  if (typeof context !== 'bigint' || typeof seqno !== 'bigint' || ((flags & F_CHECKED) !== 0 && !(isU64(context) && isU64(seqno)))) {
    checkU64(context, 'context', who);
    checkU64(seqno, 'seqno', who);
  }
  return options === undefined ? flags : optionFlags(flags, options, who);
}

/** The constructor's rare tail: the lock class (checked mode, `lockClass` option) and the init trace event. */
function initRare(f: DmaFence, options: FenceInitOptions | undefined): void {
  if ((f._flags & F_LOCK_CLASS) !== 0) setLockClass(f, options!.lockClass!);
  if (f.runtime.trace.enabled) traceEvent(f, 'dma_fence:init');
}

/**
 * `_signalCore`'s rare part, before SIGNALED is stored (so the trace event still names the
 * driver and timeline): the `dma_fence:signaled` event, and the fence leaves the wait-for
 * graph (`fl` is the flags word about to be stored).
 */
function signalRare(f: DmaFence, fl: number): void {
  if (f.runtime.trace.enabled) traceEvent(f, 'dma_fence:signaled');
  if ((fl & F_WFG) !== 0) graphFenceSignalled(f);
}

function optionFlags(base: number, options: FenceInitOptions, who: string): number {
  let flags = base;
  if (options.seqno64 === true) flags |= F_SEQNO64;
  if (options.inactive === true) flags |= F_INACTIVE;
  const lockClass = options.lockClass;
  if (lockClass !== undefined) {
    if (typeof lockClass !== 'string' || lockClass.length === 0) {
      throw new DepError('EINVAL', `${who}: lockClass must be a non-empty string naming a lockdep class, got ${String(lockClass)}`);
    }
    if ((flags & F_CHECKED) !== 0) flags |= F_LOCK_CLASS;
  }
  return flags;
}

function userBit(bit: number, who: string): number {
  if (!Number.isInteger(bit) || bit < FenceFlag.USER_BITS || bit > FENCE_FLAG_USER_MAX) {
    throw new DepError('EINVAL', `${who}(${bit}): drivers own only bits FenceFlag.USER_BITS (${FenceFlag.USER_BITS})…${FENCE_FLAG_USER_MAX}; the others belong to the core`);
  }
  return 1 << bit;
}

function checkTime(t: unknown, who: string): void {
  if (typeof t !== 'number' || Number.isNaN(t)) {
    throw new DepError('EINVAL', `${who}(${String(t)}): pass a time in ms on the runtime clock (a number, not NaN)`);
  }
}

/** @internal A `Fence` argument as the implementation class (EINVAL for anything else). */
export function asFence(f: unknown, who: string): DmaFence {
  if (!(f instanceof DmaFence)) {
    throw new DepError('EINVAL', `${who}: expected a fence (DmaFence or its Fence view), got ${f === null ? 'null' : typeof f}`);
  }
  return f;
}

/** @internal The dma_fence trace event fields. */
export function traceArgs(f: DmaFence, ops: DmaFenceOps | null = f._ops): DmaFenceTraceArgs {
  const detached = (f._flags & F_SIGNALED) !== 0 || ops === null;
  return {
    driver: detached ? 'detached-driver' : ops.getDriverName(f),
    timeline: detached ? 'signaled-timeline' : ops.getTimelineName(f),
    context: f.context,
    seqno: f.seqno,
  };
}

/**
 * The callback loop for more than one callback or checked mode (where every callback's
 * result is checked for an await): a throwing callback does not stop the others; the
 * first error is rethrown at the end.
 */
function runCallbacks(f: DmaFence, fn: FenceFunc<unknown>, arg: unknown, rest: CbList | null, fl: number): void {
  const checked = (fl & F_CHECKED) !== 0;
  let error: unknown = NO_ERROR;
  try {
    const r = fn(f, arg);
    if (checked) checkCallbackResult(f, fn, r);
  } catch (e) {
    error = e;
  }
  if (rest !== null) {
    for (let i = 0; i < rest.length; i += 2) {
      const g = rest[i] as FenceFunc<unknown>;
      try {
        const r = g(f, rest[i + 1]);
        if (checked) checkCallbackResult(f, g, r);
      } catch (e) {
        if (error === NO_ERROR) error = e;
      }
    }
  }
  if (error !== NO_ERROR) throw error;
}

function checkCallbackResult(f: DmaFence, fn: FenceFunc<unknown>, result: unknown): void {
  if (result === undefined) return;
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    (result as Promise<unknown>).then(undefined, () => undefined);
    f.runtime.reports.report('context', `BUG: scheduling while atomic: fence callback ${fn.name || '(anonymous)'} of ${fenceLabel(f)} awaited`, [
      'fence callbacks run synchronously under the fence lock in atomic context (irq): they must not be async nor await',
      'do the sleeping part in a worker or task woken from the callback (rt.queueIrq, a workqueue, a Waker)',
    ]);
  }
}

/**
 * Emit a dma_fence trace event. Out of line on purpose: the hot paths only test
 * `rt.trace.enabled`, and keeping the event building out of them keeps them small enough
 * for V8 to inline (measured: ≈ 9 ns of a ≈ 38 ns create + callback + signal).
 */
function traceEvent(f: DmaFence, name: 'dma_fence:init' | 'dma_fence:signaled' | 'dma_fence:enable_signal', ops: DmaFenceOps | null = f._ops): void {
  f.runtime.trace.emit(name, traceArgs(f, ops));
}

UNSET.shape = new DmaFence();

/** @internal The shape sentinel (decision 0204; tests check it is an uninitialized fence with the plain class's hidden class). */
export function fenceShapeSentinel(): DmaFence {
  return UNSET.shape!;
}
