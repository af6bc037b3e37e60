/**
 * The `struct drm_syncobj` container (drivers/gpu/drm/drm_syncobj.c, kernel-api.md A6): a
 * replaceable fence pointer, used as a binary semaphore (replace the fence) or a timeline
 * (each point a `DmaFenceChain` node). The per-file handle tables and ioctls are a later
 * layer's; this is the object behind a handle, with the kernel-internal operations.
 */
import { DepError, GFP_KERNEL, INTERRUPTED, Kref, SpinLock, getDefaultRuntime, type Runtime, type Waker } from '@dep/kernel';
import { DmaFenceChain, toDmaFenceChain } from './chain.js';
import { asFence, type DmaFence, type Fence } from './fence.js';
import { assertActive } from './inactive.js';
import { fenceLabel } from './locking.js';
import { checkU64 } from './seqno.js';
import { allocatePrivateStub, getStub } from './stub.js';
import { SyncFile } from './sync-file.js';
import { unwrapMerge } from './unwrap.js';

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** `DRM_DEBUG` from drm_syncobj (e.g. an unordered timeline point). */
    'drm_syncobj:debug': { message: string };
  }
}

const ETIME = -62;
const ERESTARTSYS = -512;

/** `DRM_SYNCOBJ_CREATE_*` flags of {@link Syncobj.create}. */
export const SyncobjCreateFlags = {
  /** `DRM_SYNCOBJ_CREATE_SIGNALED`: start with an already signalled fence. */
  SIGNALED: 1,
} as const;

/** `DRM_SYNCOBJ_WAIT_FLAGS_*` of {@link Syncobj.findFence} and {@link Syncobj.arrayWaitTimeout}. */
export const SyncobjWaitFlags = {
  /** Wait for every syncobj, not the first one. */
  WAIT_ALL: 1,
  /** Wait (for a fence to be submitted) when a syncobj or point has no fence yet. */
  WAIT_FOR_SUBMIT: 2,
  /** Timeline: wait until the point exists, not until it signals (Vulkan wait-before-signal). */
  WAIT_AVAILABLE: 4,
  /** Set `options.deadline` on the fences before waiting. */
  WAIT_DEADLINE: 8,
} as const;

/** `DRM_SYNCOBJ_QUERY_FLAGS_*` of {@link Syncobj.query}. */
export const SyncobjQueryFlags = {
  /** The last submitted point instead of the last signalled one. */
  LAST_SUBMITTED: 1,
} as const;

/** `DRM_SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT`: 5 s, in ms. */
export const SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT = 5000;

const WAIT_FLAGS_ALL = 15;

/** Options of {@link Syncobj.create}. */
export interface SyncobjCreateOptions {
  /** {@link SyncobjCreateFlags} bits. */
  readonly flags?: number;
  /** Start with this fence (the syncobj takes its own reference). */
  readonly fence?: Fence | null;
  /** Runtime; default the fence's, else the default runtime. */
  readonly runtime?: Runtime;
}

/** Options of {@link Syncobj.findFence}. */
export interface SyncobjFindFenceOptions {
  /** How long WAIT_FOR_SUBMIT waits, in ms; default {@link SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT}. */
  readonly timeout?: number;
  /** Interrupts the wait (the kernel's wait is interruptible): ERESTARTSYS. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Syncobj.arrayWaitTimeout}. */
export interface SyncobjWaitOptions {
  /** Interrupts the wait: `ret` is -ERESTARTSYS. */
  readonly signal?: AbortSignal;
  /** With WAIT_DEADLINE: the deadline hint (ms, runtime clock). */
  readonly deadline?: number;
}

/** Result of {@link Syncobj.arrayWaitTimeout}. */
export interface SyncobjWaitResult {
  /** Remaining ms (≥ 0) on success, -ETIME (-62) on timeout, -ERESTARTSYS (-512) when interrupted. */
  readonly ret: number;
  /** Index of the first signalled (or, with WAIT_AVAILABLE, available) syncobj; -1 if none. */
  readonly first: number;
}

/** `struct syncobj_wait_entry`. */
interface WaitEntry {
  readonly point: bigint;
  /** The fence found for the point (a reference), once available. */
  fence: DmaFence | null;
  /** `wake_up_process(wait->task)`. */
  wake: () => void;
  /** A callback on `fence` is pending. */
  cbAdded: boolean;
}

/** `syncobj_wait_fence_func()`. */
function waitFenceFunc(_f: Fence, entry: WaitEntry): void {
  entry.wake();
}

/** The task side of `set_current_state()` / `wake_up_process()`. */
class TaskWaiter {
  woken = false;
  waker: Waker<true> | null = null;
  readonly wake = (): void => {
    this.woken = true;
    this.waker?.wake(true);
  };
}

function checkFlags(flags: unknown, allowed: number, who: string): number {
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || (flags & ~allowed) !== 0) {
    throw new DepError('EINVAL', `${who}: unknown flags ${String(flags)}; allowed bits: 0x${allowed.toString(16)}`);
  }
  return flags;
}

function checkTimeout(timeout: unknown, who: string): number {
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new DepError('EINVAL', `${who}: timeout must be a non-negative number of ms (Infinity waits forever), got ${String(timeout)}`);
  }
  return timeout;
}

/**
 * `struct drm_syncobj`: a fence pointer that may be null. Reference counted
 * ({@link Syncobj.get}/{@link Syncobj.put}, `drm_syncobj_get/put`); the last put drops the fence.
 *
 * - Binary use: {@link Syncobj.replaceFence}, {@link Syncobj.signal}, {@link Syncobj.reset}, {@link Syncobj.findFence}
 *   with point 0.
 * - Timeline use: {@link Syncobj.addPoint} wraps each fence in a `DmaFenceChain` node on top of
 *   the current one; {@link Syncobj.findFence}(point) finds the node that signals it (the stub if
 *   it has signalled and was garbage-collected); {@link Syncobj.query} reads the last signalled
 *   point.
 * - Waiting for a fence to be submitted (WAIT_FOR_SUBMIT) and for a point to exist
 *   (WAIT_AVAILABLE) sleep on the runtime; they wake at the instant a fence is installed.
 *
 * Locks: `&syncobj->lock` (a `SpinLock`) protects the pointer and the waiter list; fence
 * locks nest inside it. INACTIVE fences are rejected (EINVAL) by every operation that
 * would install one.
 */
export class Syncobj {
  readonly runtime: Runtime;
  #fence: DmaFence | null = null;
  readonly #lock: SpinLock;
  /** `syncobj->cb_list`: tasks waiting for a fence to materialise. */
  readonly #cbList = new Set<WaitEntry>();
  readonly #kref: Kref;

  private constructor(rt: Runtime) {
    this.runtime = rt;
    this.#lock = new SpinLock(rt, '&syncobj->lock');
    this.#kref = new Kref(rt, () => this.#free(), { kind: 'drm_syncobj', owner: this });
  }

  /**
   * `drm_syncobj_create(&syncobj, flags, fence)`: a new syncobj (refcount 1) holding
   * `fence` (its own reference) or, with {@link SyncobjCreateFlags.SIGNALED}, a signalled
   * stub. Allocates (GFP_KERNEL, site `drm_syncobj_create`; ENOMEM under fault
   * injection). EINVAL for unknown flags, a non-fence or INACTIVE fence; nothing is made on
   * error.
   */
  static create(options: SyncobjCreateOptions = {}): Syncobj {
    const who = 'drm_syncobj_create';
    const flags = checkFlags(options.flags ?? 0, SyncobjCreateFlags.SIGNALED, who);
    const fence = options.fence ?? null;
    let rt = options.runtime;
    if (fence !== null) {
      const f = asFence(fence, who);
      assertActive(f, who);
      rt ??= f.runtime;
      if (f.runtime !== rt) throw new DepError('EINVAL', `${who}: the fence belongs to another runtime than the syncobj`);
    }
    rt ??= getDefaultRuntime();
    rt.alloc(GFP_KERNEL, who);
    const syncobj = new Syncobj(rt);
    if ((flags & SyncobjCreateFlags.SIGNALED) !== 0) {
      try {
        syncobj.signal();
      } catch (e) {
        syncobj.put();
        throw e;
      }
    }
    if (fence !== null) syncobj.replaceFence(fence);
    return syncobj;
  }

  #alive(who: string): void {
    if (this.#kref.read() === 0) {
      if (this.runtime.checks !== 'off') this.runtime.lifetimes.assertAlive(this, who);
      throw new DepError('EBADF', `${who}: the syncobj was released (its last reference put); hold a reference while you use it`);
    }
  }

  /** `drm_syncobj_get()`: one more reference; returns the syncobj. */
  get(): this {
    this.#kref.get();
    return this;
  }

  /** `drm_syncobj_put()`: drop a reference; the last one drops the fence (`drm_syncobj_free`). */
  put(): void {
    this.#kref.put();
  }

  /** `kref_read(&syncobj->refcount)`. */
  get refcount(): number {
    return this.#kref.read();
  }

  #free(): void {
    // Waiters hold references, so none is left here.
    this.#replace(null);
  }

  /** `drm_syncobj_fence_get()`: a new reference to the current fence, or null. Any context. */
  fenceGet(): Fence | null {
    this.#alive('drm_syncobj_fence_get');
    const f = this.#fence;
    return f === null ? null : f.get();
  }

  /**
   * `drm_syncobj_replace_fence(syncobj, fence)`: install `fence` (the syncobj takes its own
   * reference; null empties it) and drop the old one. Tasks waiting for a fence to be
   * submitted wake if the new fence serves their point. EINVAL for a non-fence or an
   * INACTIVE fence, nothing changed. Any context.
   */
  replaceFence(fence: Fence | null): void {
    const who = 'drm_syncobj_replace_fence';
    this.#alive(who);
    if (fence !== null) this.#checkFence(fence, who);
    this.#replace(fence === null ? null : (fence as DmaFence).get());
  }

  #replace(fence: DmaFence | null): void {
    let old: DmaFence | null;
    this.#lock.lock();
    try {
      old = this.#fence;
      this.#fence = fence;
      if (fence !== old) this.#wakeWaiters();
    } finally {
      this.#lock.unlock();
    }
    old?.put();
  }

  #checkFence(fence: Fence, who: string): DmaFence {
    const f = asFence(fence, who);
    if (f.runtime !== this.runtime) throw new DepError('EINVAL', `${who}: fence ${fenceLabel(f)} belongs to another runtime than the syncobj`);
    assertActive(f, who);
    return f;
  }

  /**
   * `drm_syncobj_add_point(syncobj, chain, fence, point)`: a new timeline point. `fence` is
   * wrapped in a `DmaFenceChain` node (`chain`, preallocated with `DmaFenceChain.alloc()`,
   * or allocated here — GFP_KERNEL, ENOMEM under fault injection) whose prev is the current
   * fence, and the node becomes the syncobj's fence. The syncobj takes its own reference to
   * `fence`. A point not later than the current one is only a debug message (trace event
   * `drm_syncobj:debug`), as in the kernel: the chain then starts a new context. Waiters
   * for the point wake; then the chain is walked once to garbage-collect signalled points.
   * EINVAL for a non-fence, an INACTIVE fence, a point that is not a u64 bigint, or a
   * `chain` that is not a fresh node; nothing changes on error.
   *
   * In checked mode the node declares "point waits on fence" and "point waits on the
   * previous point" wait-for edges.
   */
  addPoint(fence: Fence, point: bigint, chain?: DmaFenceChain): void {
    const who = 'drm_syncobj_add_point';
    this.#alive(who);
    const f = this.#checkFence(fence, who);
    checkU64(point, 'point', who);
    if (chain !== undefined) {
      if (!(chain instanceof DmaFenceChain) || chain.wasInitialized()) {
        throw new DepError('EINVAL', `${who}: chain must be a fresh node from DmaFenceChain.alloc()`);
      }
    }
    const node = chain ?? DmaFenceChain.alloc(this.runtime);
    f.get();
    let prev: Fence | null;
    this.#lock.lock();
    try {
      prev = this.#fence === null ? null : this.#fence.get();
      // "You are adding an unorder point to timeline, which could cause payload returned
      // from query_ioctl is 0!"
      if (prev !== null && prev.seqno >= point) {
        const rt = this.runtime;
        if (rt.trace.enabled) rt.trace.emit('drm_syncobj:debug', { message: `You are adding an unorder point to timeline! (point ${point} after ${prev.seqno})` });
      }
      node.initChain(prev, f, point, { reason: `drm_syncobj timeline point ${point}` });
      this.#fence = node;
      this.#wakeWaiters();
    } finally {
      this.#lock.unlock();
    }
    // Walk the chain once to trigger garbage collection.
    if (prev !== null) {
      for (const iter of DmaFenceChain.forEach(prev)) void iter;
      prev.put();
    }
  }

  /**
   * `drm_syncobj_find_fence(file, handle, point, flags, &fence)` on this syncobj: a new
   * reference to the fence that signals `point` (the current fence for point 0). If the
   * point has signalled and its node was garbage-collected, the stub. Throws:
   * - EINVAL for flags other than WAIT_FOR_SUBMIT, or when there is no fence for the point
   *   (empty syncobj, or a point not submitted yet) and WAIT_FOR_SUBMIT is not set;
   * - with WAIT_FOR_SUBMIT it sleeps (interruptibly; no lock may be held) until a fence for
   *   the point is installed — resolving at that instant — or `timeout` (default 5 s) runs
   *   out: ETIME; `signal` aborting it: ERESTARTSYS.
   */
  async findFence(point: bigint, flags = 0, options: SyncobjFindFenceOptions = {}): Promise<Fence> {
    const who = 'drm_syncobj_find_fence';
    this.#alive(who);
    checkFlags(flags, SyncobjWaitFlags.WAIT_FOR_SUBMIT, who);
    checkU64(point, 'point', who);
    const timeout = checkTimeout(options.timeout ?? SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT, who);
    const waitForSubmit = (flags & SyncobjWaitFlags.WAIT_FOR_SUBMIT) !== 0;
    const rt = this.runtime;
    if (waitForSubmit) {
      rt.mightSleep(who);
      this.#assertNoneHeld(who);
    }
    const found = this.#findNow(point);
    if (found !== null) return found;
    if (!waitForSubmit) {
      throw new DepError('EINVAL', `${who}: no fence for point ${point} (${this.#fence === null ? 'the syncobj is empty' : 'the point was not submitted yet'}); pass SyncobjWaitFlags.WAIT_FOR_SUBMIT to wait for it`);
    }
    const entry: WaitEntry = { point, fence: null, wake: () => undefined, cbAdded: false };
    // drm_syncobj_find() holds a reference for the duration of the wait.
    this.get();
    try {
      return await this.#waitForSubmit(entry, timeout, options.signal, who);
    } finally {
      this.put();
    }
  }

  async #waitForSubmit(entry: WaitEntry, timeout: number, signal: AbortSignal | undefined, who: string): Promise<Fence> {
    const rt = this.runtime;
    const point = entry.point;
    const r = await rt.sleepOn<true>(
      who,
      (waker) => {
        entry.wake = () => {
          waker.wake(true);
        };
        this.#fenceAddWait(entry);
        if (entry.fence !== null) waker.wake(true);
        // On timeout or interrupt the entry is removed below, in this task's context
        // (the timer's frame must not take the syncobj lock).
      },
      { timeout, ...(signal === undefined ? {} : { signal }), object: this },
    );
    this.#removeWait(entry);
    if (entry.fence !== null) return entry.fence;
    if (r === INTERRUPTED) throw new DepError('ERESTARTSYS', `${who}: the wait for point ${point} to be submitted was interrupted`);
    throw new DepError('ETIME', `${who}: no fence was submitted for point ${point} within ${timeout} ms`);
  }

  /** The fence for `point` right now (a reference; the stub for a signalled, collected point), or null. */
  #findNow(point: bigint): Fence | null {
    const fence = this.fenceGet();
    if (fence === null) return null;
    const r = DmaFenceChain.findSeqno(fence, point);
    if (r.ret === 0) return r.fence ?? getStub(this.runtime);
    fence.put();
    return null;
  }

  /** `lockdep_assert_none_held_once()`: waiting for userspace with locks held deadlocks. */
  #assertNoneHeld(who: string): void {
    const rt = this.runtime;
    if (rt.checks === 'off') return;
    const held = rt.current.held;
    if (held.length > 0) {
      rt.reports.report('lockdep', `${who}: waiting for userspace to submit with locks held`, [
        ...held.map((h) => `held: ${h.className}`),
        'a wait for submission can wait on a page fault that needs these locks: drop them before waiting',
      ]);
    }
  }

  /** `drm_syncobj_fence_add_wait()`. */
  #fenceAddWait(entry: WaitEntry): void {
    if (entry.fence !== null) return;
    this.#lock.lock();
    try {
      // We already tried once to get a fence and failed; now that we have the lock, try
      // once more so no wake-up is missed.
      const fence = this.#fence === null ? null : this.#fence.get();
      const r = fence === null ? null : DmaFenceChain.findSeqno(fence, entry.point);
      if (r === null || r.ret !== 0) {
        fence?.put();
        this.#cbList.add(entry);
      } else {
        entry.fence = (r.fence ?? getStub(this.runtime)) as DmaFence;
      }
    } finally {
      this.#lock.unlock();
    }
  }

  /** `drm_syncobj_remove_wait()`. */
  #removeWait(entry: WaitEntry): void {
    if (!this.#cbList.has(entry)) return;
    this.#lock.lock();
    try {
      this.#cbList.delete(entry);
    } finally {
      this.#lock.unlock();
    }
  }

  /** `syncobj_wait_syncobj_func()` for every waiter, under the lock. */
  #wakeWaiters(): void {
    if (this.#cbList.size === 0) return;
    for (const entry of [...this.#cbList]) {
      const fence = this.#fence === null ? null : this.#fence.get();
      if (fence === null) continue;
      const r = DmaFenceChain.findSeqno(fence, entry.point);
      if (r.ret !== 0) {
        fence.put();
        continue;
      }
      entry.fence = (r.fence ?? getStub(this.runtime)) as DmaFence;
      entry.wake();
      this.#cbList.delete(entry);
    }
  }

  /**
   * `drm_syncobj_assign_null_handle()` (`DRM_IOCTL_SYNCOBJ_SIGNAL`): install a new private
   * signalled stub stamped now. Allocates (site `dma_fence_allocate_private_stub`).
   */
  signal(): void {
    const who = 'drm_syncobj_signal';
    this.#alive(who);
    const rt = this.runtime;
    const stub = allocatePrivateStub(rt.now(), rt);
    this.replaceFence(stub);
    stub.put();
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL` for one syncobj: add `point` with the (signalled)
   * stub fence. Allocates the chain node (ENOMEM under fault injection, nothing changed).
   */
  timelineSignal(point: bigint): void {
    const who = 'drm_syncobj_timeline_signal';
    this.#alive(who);
    checkU64(point, 'point', who);
    const chain = DmaFenceChain.alloc(this.runtime);
    const stub = getStub(this.runtime);
    this.addPoint(stub, point, chain);
    stub.put();
  }

  /** `DRM_IOCTL_SYNCOBJ_RESET`: `replaceFence(null)`. */
  reset(): void {
    this.#alive('drm_syncobj_reset');
    this.#replace(null);
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_QUERY` for one syncobj: the last signalled point of the timeline —
   * walking back from the head within its context (garbage-collecting signalled points),
   * the oldest unsignalled node's `prevSeqno`, or its seqno if it has signalled. With
   * {@link SyncobjQueryFlags.LAST_SUBMITTED}, the head's seqno. 0 for a binary syncobj
   * (the fence is not a chain node) or an empty one. EINVAL for unknown flags.
   */
  query(flags = 0): bigint {
    const who = 'drm_syncobj_query';
    this.#alive(who);
    checkFlags(flags, SyncobjQueryFlags.LAST_SUBMITTED, who);
    const fence = this.fenceGet();
    let point = 0n;
    if (fence !== null && toDmaFenceChain(fence) !== null) {
      let last: Fence = fence.get();
      if ((flags & SyncobjQueryFlags.LAST_SUBMITTED) !== 0) {
        point = fence.seqno;
      } else {
        for (const iter of DmaFenceChain.forEach(fence)) {
          // Most likely the timeline has unordered points.
          if (iter.context !== fence.context) break;
          last.put();
          last = iter.get();
        }
        point = last.isSignaled() ? last.seqno : (toDmaFenceChain(last)?.prevSeqno ?? 0n);
      }
      last.put();
    }
    fence?.put();
    return point;
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_TRANSFER`: take the fence of `src` at `srcPoint`
   * ({@link Syncobj.findFence} with `flags`, so WAIT_FOR_SUBMIT may wait) and install it in `dst`:
   * as point `dstPoint` (the fence flattened with `unwrapMerge` first, then
   * {@link Syncobj.addPoint}), or, for `dstPoint == 0`, as the binary fence ({@link Syncobj.replaceFence}).
   * Errors as `findFence`; ENOMEM (merge, chain allocation) changes nothing in `dst`.
   */
  static async transfer(src: Syncobj, srcPoint: bigint, dst: Syncobj, dstPoint: bigint, flags = 0): Promise<void> {
    const who = 'drm_syncobj_transfer';
    if (!(src instanceof Syncobj) || !(dst instanceof Syncobj)) throw new DepError('ENOENT', `${who}: src and dst must be syncobjs`);
    checkU64(srcPoint, 'srcPoint', who);
    checkU64(dstPoint, 'dstPoint', who);
    if (src.runtime !== dst.runtime) throw new DepError('EINVAL', `${who}: src and dst belong to different runtimes`);
    dst.#alive(who);
    if (dstPoint !== 0n) {
      const tmp = await src.findFence(srcPoint, flags);
      let fence: Fence;
      try {
        fence = unwrapMerge(tmp);
      } finally {
        tmp.put();
      }
      try {
        const chain = DmaFenceChain.alloc(dst.runtime);
        dst.addPoint(fence, dstPoint, chain);
      } finally {
        fence.put();
      }
    } else {
      const fence = await src.findFence(srcPoint, flags);
      try {
        dst.replaceFence(fence);
      } finally {
        fence.put();
      }
    }
  }

  /**
   * `drm_syncobj_array_wait_timeout()`: the host wait of `DRM_IOCTL_SYNCOBJ_WAIT` /
   * `_TIMELINE_WAIT` over `syncobjs` at `points` (null: all 0, the binary wait). Waits for
   * the first one (or all, with WAIT_ALL) to signal, or, with WAIT_AVAILABLE, to have a
   * fence for its point at all. A syncobj without a fence for its point is an EINVAL
   * unless WAIT_FOR_SUBMIT or WAIT_AVAILABLE is set, which wait for it to be submitted.
   * Resolves `{ ret, first }`: `ret` the remaining ms (the whole `timeout` if nothing had
   * to be waited for; 0 is a successful poll), -ETIME when `timeout` ran out (0 polls),
   * -ERESTARTSYS when `options.signal` interrupted it. Throws EINVAL for bad arguments.
   * Sleeps; with WAIT_FOR_SUBMIT/WAIT_AVAILABLE no lock may be held.
   */
  static async arrayWaitTimeout(
    syncobjs: readonly Syncobj[],
    points: readonly bigint[] | null,
    flags: number,
    timeout: number,
    options: SyncobjWaitOptions = {},
  ): Promise<SyncobjWaitResult> {
    const who = 'drm_syncobj_array_wait_timeout';
    const given: unknown = syncobjs;
    if (!Array.isArray(given) || !given.every((s) => s instanceof Syncobj)) {
      throw new DepError('EINVAL', `${who}: pass an array of syncobjs`);
    }
    const count = syncobjs.length;
    if (points !== null && (!Array.isArray(points) || points.length !== count)) {
      throw new DepError('EINVAL', `${who}: points must be null or an array with one point per syncobj`);
    }
    if (points !== null) for (const p of points) checkU64(p, 'point', who);
    checkFlags(flags, WAIT_FLAGS_ALL, who);
    checkTimeout(timeout, who);
    const deadline = options.deadline;
    if ((flags & SyncobjWaitFlags.WAIT_DEADLINE) !== 0 && (typeof deadline !== 'number' || Number.isNaN(deadline))) {
      throw new DepError('EINVAL', `${who}: WAIT_DEADLINE needs options.deadline (ms, runtime clock)`);
    }
    if (count === 0) return { ret: 0, first: -1 };
    const rt = syncobjs[0]!.runtime;
    for (const s of syncobjs) {
      if (s.runtime !== rt) throw new DepError('EINVAL', `${who}: the syncobjs belong to different runtimes`);
      s.#alive(who);
    }
    if ((flags & (SyncobjWaitFlags.WAIT_FOR_SUBMIT | SyncobjWaitFlags.WAIT_AVAILABLE)) !== 0) {
      rt.mightSleep(who);
      syncobjs[0]!.#assertNoneHeld(who);
    }
    rt.alloc(GFP_KERNEL, who);
    // drm_syncobj_array_find(): a reference on each for the duration of the wait.
    for (const s of syncobjs) s.get();
    try {
      return await Syncobj.#arrayWait(syncobjs, points, flags, timeout, options, who);
    } finally {
      for (const s of syncobjs) s.put();
    }
  }

  static async #arrayWait(
    syncobjs: readonly Syncobj[],
    points: readonly bigint[] | null,
    flags: number,
    timeout: number,
    options: SyncobjWaitOptions,
    who: string,
  ): Promise<SyncobjWaitResult> {
    const rt = syncobjs[0]!.runtime;
    const count = syncobjs.length;
    let remaining = timeout;
    const deadline = options.deadline;
    const waitSubmit = (flags & (SyncobjWaitFlags.WAIT_FOR_SUBMIT | SyncobjWaitFlags.WAIT_AVAILABLE)) !== 0;
    const available = (flags & SyncobjWaitFlags.WAIT_AVAILABLE) !== 0;
    const waitAll = (flags & SyncobjWaitFlags.WAIT_ALL) !== 0;
    const waiter = new TaskWaiter();
    const entries: WaitEntry[] = syncobjs.map((_s, i) => ({ point: points?.[i] ?? 0n, fence: null, wake: waiter.wake, cbAdded: false }));
    let first = -1;
    try {
      // Walk the syncobjs up front so a missing fence is an EINVAL before any wait.
      let signaledCount = 0;
      for (let i = 0; i < count; i++) {
        const fence = syncobjs[i]!.#findNow(entries[i]!.point);
        if (fence === null) {
          if (waitSubmit) continue;
          throw new DepError('EINVAL', `${who}: syncobj ${i} has no fence for point ${entries[i]!.point}; pass WAIT_FOR_SUBMIT (or WAIT_AVAILABLE) to wait for it`);
        }
        entries[i]!.fence = fence as DmaFence;
        if (available || fence.isSignaled()) {
          if (signaledCount === 0) first = i;
          signaledCount++;
        }
      }
      if (signaledCount === count || (signaledCount > 0 && !waitAll)) return { ret: remaining, first };

      if (waitSubmit) for (let i = 0; i < count; i++) syncobjs[i]!.#fenceAddWait(entries[i]!);
      if (deadline !== undefined && (flags & SyncobjWaitFlags.WAIT_DEADLINE) !== 0) {
        for (const e of entries) e.fence?.setDeadline(deadline);
      }

      for (;;) {
        waiter.woken = false;
        signaledCount = 0;
        for (let i = 0; i < count; i++) {
          const e = entries[i]!;
          const fence = e.fence;
          if (fence === null) continue;
          let done = available || fence.isSignaled();
          if (!done && !e.cbAdded) {
            if (fence.addCallback(waitFenceFunc, e)) e.cbAdded = true;
            else done = true;
          }
          if (done) {
            if (waitAll) signaledCount++;
            else return { ret: remaining, first: i };
          }
        }
        if (signaledCount === count) return { ret: remaining, first };
        if (remaining === 0) return { ret: ETIME, first };
        if (options.signal?.aborted === true) return { ret: ERESTARTSYS, first };
        if (waiter.woken) continue;
        const start = rt.now();
        await rt.sleepOn<true>(
          who,
          (waker) => {
            waiter.waker = waker;
            return () => {
              waiter.waker = null;
            };
          },
          { timeout: remaining, ...(options.signal === undefined ? {} : { signal: options.signal }), object: entries.map((e) => e.fence).filter((f) => f !== null) },
        );
        waiter.waker = null;
        if (remaining !== Infinity) remaining = Math.max(0, remaining - (rt.now() - start));
      }
    } finally {
      for (let i = 0; i < count; i++) {
        const e = entries[i]!;
        syncobjs[i]!.#removeWait(e);
        if (e.cbAdded) e.fence!.removeCallback(waitFenceFunc, e);
        e.fence?.put();
        e.fence = null;
      }
    }
  }

  /**
   * `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE`: a new sync_file with the fence at
   * `point` now (a snapshot: later changes of the syncobj do not affect it). EINVAL if
   * there is none.
   */
  exportSyncFile(point = 0n): SyncFile {
    const who = 'drm_syncobj_export_sync_file';
    this.#alive(who);
    checkU64(point, 'point', who);
    const fence = this.#findNow(point);
    if (fence === null) throw new DepError('EINVAL', `${who}: no fence for point ${point} to export`);
    try {
      return SyncFile.create(fence);
    } finally {
      fence.put();
    }
  }

  /**
   * `DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE`: install the sync_file's fence as
   * `point` ({@link Syncobj.addPoint}) or, for point 0, as the binary fence.
   */
  importSyncFile(file: SyncFile, point = 0n): void {
    const who = 'drm_syncobj_import_sync_file_fence';
    this.#alive(who);
    if (!(file instanceof SyncFile)) throw new DepError('EINVAL', `${who}: pass a SyncFile`);
    checkU64(point, 'point', who);
    const fence = file.getFence();
    try {
      if (point !== 0n) this.addPoint(fence, point);
      else this.replaceFence(fence);
    } finally {
      fence.put();
    }
  }
}
