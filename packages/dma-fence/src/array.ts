/**
 * `struct dma_fence_array` (drivers/dma-buf/dma-fence-array.c, kernel-api.md A2): a fence
 * that signals when all of its member fences have.
 */
import { DepError, GFP_KERNEL, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { isDmaFenceChain } from './chain.js';
import { asFence, DmaFence, markContainerOps, type Fence, type FenceInitOptions } from './fence.js';
import type { DmaFenceOps } from './fence-ops.js';
import { F_CHECKED, F_CONTAINER, F_ENABLE_SIGNAL, F_INACTIVE, F_INITIALIZED, F_SIGNALED } from './flags.js';
import { assertActive } from './inactive.js';
import { fenceLabel } from './locking.js';
import { checkU64, isU64 } from './seqno.js';
import { fenceWaitsOn } from './wait-for-graph.js';

/** Lockdep class of an array's lock (`spin_lock_init(&array->lock)` in the kernel). */
export const ARRAY_LOCK_CLASS = '&array->lock';

/** Options of {@link DmaFenceArray.create} and {@link DmaFenceArray.initArray}. */
export interface DmaFenceArrayOptions {
  /** Runtime of the array; default the members' (all members must share it). */
  readonly runtime?: Runtime;
  /**
   * Signal when **any** member signals instead of all. The kernel dropped this argument
   * (`dma_fence_array_create()` has 4 arguments since 6.x; nothing upstream used it any
   * more); it is kept here for models of older drivers. Default false.
   */
  readonly signalOnAny?: boolean;
}

/** `to_dma_fence_array()`: the array, or null if `fence` is not one. */
export function toDmaFenceArray(fence: Fence | null | undefined): DmaFenceArray | null {
  return isDmaFenceArray(fence) ? fence : null;
}

/**
 * `dma_fence_is_array()`: compares the ops, as the kernel does (an initialized
 * `DmaFenceArray`; array ops are never detached, they have `release`).
 */
export function isDmaFenceArray(fence: Fence | null | undefined): fence is DmaFenceArray {
  return fence != null && (fence as DmaFence)._ops === arrayOps;
}

/** `dma_fence_is_container()`: an array or a chain node. */
export function isDmaFenceContainer(fence: Fence | null | undefined): boolean {
  return isDmaFenceArray(fence) || isDmaFenceChain(fence);
}

/**
 * Propagate the first member error, only while the array is unsignalled (the kernel's
 * `cmpxchg(&error, PENDING_ERROR, error)`; here "pending" is error 0 and unsignalled).
 */
function setPendingError(array: DmaFenceArray, error: number): void {
  if (error !== 0 && array._error === 0 && (array._flags & F_SIGNALED) === 0) array._error = error;
}

/** `dma_fence_array_cb_func()`: a member signalled (under its lock). */
function arrayCbFunc(f: Fence, array: DmaFenceArray): void {
  const error = (f as DmaFence)._error;
  if (error !== 0) setPendingError(array, error);
  if (--array._numPending === 0) {
    // irq_work_queue(), without a closure per array.
    const rt = array.runtime;
    rt.irqWorkQueue(arrayIrqWork, array);
  } else {
    array.put();
  }
}

/** `irq_dma_fence_array_work()`: signal outside any member's lock, drop the callback's reference. */
function arrayIrqWork(arg: unknown): void {
  const array = arg as DmaFenceArray;
  array.signal();
  array.put();
}

/**
 * `dma_fence_array_enable_signaling()`: a callback on every member, each holding a
 * reference to the array; members already signalled count down at once. Returns false
 * (the core signals the array) when none is left pending.
 */
function arrayEnableSignaling(array: DmaFenceArray): boolean {
  const fences = array._fences;
  const n = fences.length;
  // One reference per callback, taken up front (the caller holds one, so the array is
  // alive), given back for every member found already signalled.
  array._refcount += n;
  for (let i = 0; i < n; i++) {
    const f = fences[i]!;
    if (!f.addCallback(arrayCbFunc, array)) {
      setPendingError(array, f._error);
      array._refcount--;
      if (--array._numPending === 0) {
        // Done (or, signalOnAny, the first one): no callback on the members left.
        array._refcount -= n - i - 1;
        return false;
      }
    }
  }
  return true;
}

/**
 * `dma_fence_array_signaled()`: once signalling is enabled, the pending count; before
 * that, count the signalled members. (As in the kernel, this path signals the array
 * without looking at member errors: only callbacks propagate them.)
 */
function arraySignaled(array: DmaFenceArray): boolean {
  let numPending = array._numPending;
  if ((array._flags & F_ENABLE_SIGNAL) !== 0) return numPending <= 0;
  const fences = array._fences;
  for (let i = 0; i < fences.length; i++) {
    if (fences[i]!.isSignaled() && --numPending === 0) return true;
  }
  return false;
}

/** `dma_fence_array_release()`: put every member. */
function arrayRelease(array: DmaFenceArray): void {
  const fences = array._fences;
  array._fences = EMPTY;
  for (let i = 0; i < fences.length; i++) fences[i]!.put();
}

const arrayOps: DmaFenceOps<DmaFenceArray> = {
  getDriverName: () => 'dma_fence_array',
  getTimelineName: () => 'unbound',
  enableSignaling: arrayEnableSignaling,
  signaled: arraySignaled,
  release: arrayRelease,
  setDeadline: (array, deadline) => {
    const fences = array._fences;
    for (let i = 0; i < fences.length; i++) fences[i]!.setDeadline(deadline);
  },
};
markContainerOps(arrayOps);

const EMPTY: readonly DmaFence[] = Object.freeze([]);

/**
 * The fence init options of an array of `rt`: one object per runtime, reused (no
 * allocation per array). The lock class matters to lockdep only, so with checks `off` it
 * is left out and the fence constructor takes its fast path.
 */
let lastRuntime: Runtime | null = null;
let lastInitOptions: FenceInitOptions | null = null;
function initOptions(rt: Runtime): FenceInitOptions {
  if (rt !== lastRuntime || lastInitOptions === null) {
    lastInitOptions = Object.freeze(rt.checks === 'off' ? { runtime: rt } : { runtime: rt, lockClass: ARRAY_LOCK_CLASS });
    lastRuntime = rt;
  }
  return lastInitOptions;
}

function notAnArrayMethod(who: string): DepError {
  return new DepError('EINVAL', `${who}() on a DmaFenceArray: an array is initialized by initArray(fences, context, seqno) (dma_fence_array_init), not as a plain fence`);
}

/**
 * `struct dma_fence_array`: signals once every member has (or any, with `signalOnAny`).
 * Make one with {@link DmaFenceArray.create} (`dma_fence_array_create`), or
 * {@link DmaFenceArray.alloc} + {@link DmaFenceArray.initArray} to allocate outside a
 * signalling section and initialize inside it.
 *
 * Semantics (kernel-api.md A2, B2, B6, B15):
 * - takes ownership of the member references (and of the `fences` JS array: do not
 *   modify it afterwards; it is frozen in checked mode);
 * - flat: a member that is itself an array or chain is a WARN and EINVAL;
 * - enabling signalling puts a callback on every member; the last one to signal queues
 *   the array's own signal through irq_work (`rt.irqWorkQueue`), so no fence lock is ever
 *   taken recursively; the first member error becomes the array's error;
 * - `isSignaled()` can answer before signalling is enabled by counting signalled members;
 * - deadlines are forwarded to every member; release puts every member;
 * - names "dma_fence_array"/"unbound"; seqno compared in 32-bit mode (`dma_fence_init`).
 */
export class DmaFenceArray extends DmaFence {
  /** @internal The members (owned references). */
  declare _fences: readonly DmaFence[];
  /**
   * @internal `atomic_t num_pending`; before {@link DmaFenceArray.initArray}, the number of
   * members {@link DmaFenceArray.alloc} made room for (the array's `runtime` is then the one
   * it was allocated on): no field per array for what only `alloc` needs.
   */
  declare _numPending: number;

  /**
   * Private: arrays come from {@link DmaFenceArray.alloc} (uninitialized) or
   * {@link DmaFenceArray.create} (initialized here, through the fence constructor's fast
   * path), both behind the runtime's allocation hook.
   */
  private constructor(context?: bigint, seqno?: bigint, options?: FenceInitOptions) {
    super(context === undefined ? undefined : arrayOps, context, seqno, options);
    this._fences = EMPTY;
    this._numPending = 0;
  }

  /**
   * `dma_fence_array_alloc(num_fences)`: allocate an uninitialized array with room for
   * `numFences` callbacks (GFP_KERNEL through `rt.alloc`, site `dma_fence_array_alloc`).
   * Throws `DepError('ENOMEM')` under fault injection, changing nothing. May sleep.
   */
  static alloc(numFences: number, runtime: Runtime = getDefaultRuntime()): DmaFenceArray {
    if (!Number.isSafeInteger(numFences) || numFences < 0) {
      throw new DepError('EINVAL', `dma_fence_array_alloc(${String(numFences)}): pass the number of member fences, a non-negative integer`);
    }
    runtime.alloc(GFP_KERNEL, 'dma_fence_array_alloc');
    const array = new DmaFenceArray();
    (array as { runtime: Runtime }).runtime = runtime;
    array._numPending = numFences;
    return array;
  }

  /**
   * `dma_fence_array_create(num_fences, fences, context, seqno)`: {@link DmaFenceArray.alloc} +
   * {@link DmaFenceArray.initArray}. Input is validated before allocating, so a failure (EINVAL, or
   * ENOMEM from fault injection) changes nothing and the caller keeps its references.
   */
  static create(fences: readonly Fence[], context: bigint, seqno: bigint, options?: DmaFenceArrayOptions): DmaFenceArray {
    const rt = checkArrayArgs(fences, context, seqno, options, Infinity, 'dma_fence_array_create');
    rt.alloc(GFP_KERNEL, 'dma_fence_array_alloc');
    const array = new DmaFenceArray(context, seqno, initOptions(rt));
    return armArray(array, fences as readonly DmaFence[], options);
  }

  /**
   * `dma_fence_array_init(array, num_fences, fences, context, seqno)`: never allocates,
   * so it is safe in reclaim and signalling paths. Takes ownership of `fences` and of
   * every reference in it. Any context.
   *
   * Rejects with `DepError('EINVAL')`, changing nothing: an empty list or a non-fence
   * member (the kernel WARNs), a member that is an array or chain (WARN, then EINVAL: arrays
   * must be flat — flatten with `unwrapMerge`), an INACTIVE member (rfc-designs E.2), members
   * of another runtime, more members than {@link DmaFenceArray.alloc} made room for, a context or seqno
   * that is not a u64 bigint. EBUSY if already initialized.
   *
   * In checked mode it declares the wait-for edge "array waits on member" for each member.
   */
  initArray(fences: readonly Fence[], context: bigint, seqno: bigint, options?: DmaFenceArrayOptions): this {
    const who = 'dma_fence_array_init';
    if ((this._flags & F_INITIALIZED) !== 0) {
      throw new DepError('EBUSY', `${who}: array ${fenceLabel(this)} is already initialized; allocate a new array`);
    }
    // Uninitialized, so from alloc(): its capacity and runtime (create() initializes at once).
    const rt = checkArrayArgs(fences, context, seqno, options, this._numPending, who, this.runtime);
    super.init(arrayOps, context, seqno, initOptions(rt));
    return armArray(this, fences as readonly DmaFence[], options);
  }

  /** Not for arrays: use {@link DmaFenceArray.initArray}. Throws EINVAL. */
  override init(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAnArrayMethod('init');
  }

  /** Not for arrays: use {@link DmaFenceArray.initArray}. Throws EINVAL. */
  override init64(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAnArrayMethod('init64');
  }

  /** Not for arrays: use {@link DmaFenceArray.initArray}. Throws EINVAL. */
  override initInactive(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAnArrayMethod('initInactive');
  }

  /** `array->num_fences`. */
  get numFences(): number {
    return this._fences.length;
  }

  /** `array->fences`: the members (no references taken; empty after release). */
  get fences(): readonly Fence[] {
    return this._fences;
  }

  /** `array->num_pending`: members still awaited (meaningful once signalling is enabled). */
  get numPending(): number {
    return this._numPending;
  }

  /**
   * `dma_fence_array_first(head)`: the first member of an array, `head` itself if it is not
   * an array (an array of one), null for null.
   */
  static first(head: Fence | null): Fence | null {
    if (head === null) return null;
    const array = toDmaFenceArray(head);
    if (array === null) return head;
    return array._fences[0] ?? null;
  }

  /** `dma_fence_array_next(head, index)`: member `index` of an array; null past the end or for a non-array. */
  static next(head: Fence | null, index: number): Fence | null {
    const array = toDmaFenceArray(head);
    if (array === null || index >= array._fences.length) return null;
    return array._fences[index] ?? null;
  }

  /**
   * `dma_fence_match_context(fence, context)`: true if `fence` (or, for an array, every
   * member) is of `context`.
   */
  static matchContext(fence: Fence, context: bigint): boolean {
    const f = asFence(fence, 'dma_fence_match_context');
    const array = toDmaFenceArray(f);
    if (array === null) return f.context === context;
    const fences = array._fences;
    for (let i = 0; i < fences.length; i++) if (fences[i]!.context !== context) return false;
    return true;
  }
}

/**
 * The array part of `dma_fence_array_init()`, on validated arguments, after the fence's init
 * (a module function: a `#method` would store a brand slot on every array).
 */
function armArray<A extends DmaFenceArray>(array: A, members: readonly DmaFence[], options: DmaFenceArrayOptions | undefined): A {
  array._fences = members;
  array._numPending = options?.signalOnAny === true ? 1 : members.length;
  if ((array._flags & F_CHECKED) !== 0) {
    if (!Object.isFrozen(members)) Object.freeze(members);
    for (let i = 0; i < members.length; i++) fenceWaitsOn(array, members[i]!, `dma_fence_array member ${i}`);
  }
  return array;
}

/** Validate array members before any state changes; returns the array's runtime. */
function checkArrayArgs(
  fences: readonly Fence[],
  context: unknown,
  seqno: unknown,
  options: DmaFenceArrayOptions | undefined,
  capacity: number,
  who: string,
  allocRuntime: Runtime | null = null,
): Runtime {
  if (!Array.isArray(fences)) {
    throw new DepError('EINVAL', `${who}: pass the member fences as an array`);
  }
  const n = fences.length;
  const first: unknown = fences[0];
  const rt = allocRuntime ?? options?.runtime ?? (first instanceof DmaFence ? first.runtime : getDefaultRuntime());
  if (n === 0) {
    rt.reports.warnOn(true, `${who}: no member fences (WARN_ON(!num_fences))`);
    throw new DepError('EINVAL', `${who}: an array needs at least one member fence; for "nothing to wait on" use getStub()`);
  }
  if (n > capacity) {
    throw new DepError('EINVAL', `${who}: ${n} fences but the array was allocated for ${capacity}; pass the count to DmaFenceArray.alloc()`);
  }
  // Types always; the u64 range in checked mode only (bigint compares are calls), as the
  // fence constructor does.
  if (typeof context !== 'bigint' || typeof seqno !== 'bigint' || (rt.checks !== 'off' && !(isU64(context) && isU64(seqno)))) {
    checkU64(context, 'context', who);
    checkU64(seqno, 'seqno', who);
  }
  for (let i = 0; i < n; i++) {
    const f = fences[i] as DmaFence;
    // Fast path: an initialized, active fence of this runtime that is no container
    // (F_CONTAINER: array or chain ops). Anything else takes the diagnostic path below.
    if (f != null && f.runtime === rt && (f._flags & (F_INITIALIZED | F_INACTIVE | F_CONTAINER)) === F_INITIALIZED) continue;
    checkMember(f, i, rt, who);
  }
  return rt;
}

/** Why member `i` is not acceptable: throws (after a WARN for a container). */
function checkMember(m: unknown, i: number, rt: Runtime, who: string): void {
  if (!(m instanceof DmaFence)) {
    throw new DepError('EINVAL', `${who}: member ${i} is not a fence (got ${m === null ? 'null' : typeof m}); pass DmaFence objects or their Fence views`);
  }
  const f = m;
  if ((f._flags & F_INITIALIZED) === 0) {
    throw new DepError('EINVAL', `${who}: member ${i} was never initialized; init() it before putting it in an array`);
  }
  if (f.runtime !== rt) {
    throw new DepError('EINVAL', `${who}: member ${i} (${fenceLabel(f)}) belongs to another runtime; every member must be of the array's runtime`);
  }
  assertActive(f, `${who} (member ${i})`);
  if (isDmaFenceArray(f) || isDmaFenceChain(f)) {
    rt.reports.warnOn(true, `${who}: member ${i} (${fenceLabel(f)}) is itself a container: dma_fence_array must be flat`, [
      'nested containers recurse (and overflow the kernel stack) on every operation',
      'flatten the fences with unwrapMerge() and pass the leaves',
    ]);
    throw new DepError('EINVAL', `${who}: member ${i} (${fenceLabel(f)}) is a ${isDmaFenceArray(f) ? 'dma_fence_array' : 'dma_fence_chain'}; arrays must be flat: use unwrapMerge() to combine containers`);
  }
}
