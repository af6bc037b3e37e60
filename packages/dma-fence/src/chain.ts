/**
 * `struct dma_fence_chain` (drivers/dma-buf/dma-fence-chain.c, kernel-api.md A3): one
 * point of a timeline. A node wraps one fence and links to the previous point; it
 * completes only when its own fence and every earlier one have signalled.
 */
import { DepError, GFP_KERNEL, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { contextAlloc } from './context.js';
import { asFence, DmaFence, markContainerOps, type Fence, type FenceInitOptions } from './fence.js';
import type { DmaFenceOps } from './fence-ops.js';
import { F_CHECKED, F_INITIALIZED } from './flags.js';
import { assertActive } from './inactive.js';
import { fenceLabel } from './locking.js';
import { checkU64 } from './seqno.js';
import { fenceWaitsOn } from './wait-for-graph.js';

const EINVAL = -22;

/** Lockdep class of a chain node's lock (`spin_lock_init(&chain->lock)` in the kernel). */
export const CHAIN_LOCK_CLASS = '&chain->lock';

/** Options of {@link DmaFenceChain.initChain}. */
export interface DmaFenceChainInitOptions {
  /**
   * What this point is, for the wait-for graph's reports (default
   * `"dma_fence_chain point <seqno>"`; a syncobj passes `"drm_syncobj timeline point N"`).
   */
  readonly reason?: string;
}

/**
 * Result of {@link DmaFenceChain.findSeqno}: `dma_fence_chain_find_seqno(&fence, seqno)`
 * returns 0 and moves the fence, or -EINVAL and leaves it.
 */
export type FindSeqnoResult =
  | {
      /** Found: `fence` is the node that signals the point (a reference the caller now owns), or null when every fence up to the point has signalled. */
      readonly ret: 0;
      readonly fence: Fence | null;
    }
  | {
      /** -EINVAL: not a chain node, or the point is later than the head (not submitted yet). The caller still owns its reference to `fence`. */
      readonly ret: -22;
      readonly fence: Fence;
    };

/** `to_dma_fence_chain()`: the chain node, or null if `fence` is not one. */
export function toDmaFenceChain(fence: Fence | null | undefined): DmaFenceChain | null {
  return isDmaFenceChain(fence) ? fence : null;
}

/**
 * `dma_fence_is_chain()`: compares the ops, as the kernel does (an initialized
 * `DmaFenceChain`; chain ops are never detached, they have `release`).
 */
export function isDmaFenceChain(fence: Fence | null | undefined): fence is DmaFenceChain {
  return fence != null && (fence as DmaFence)._ops === chainOps;
}

/** `dma_fence_chain_get_prev()`: a new reference to the previous node, or null. */
function getPrev(chain: DmaFenceChain): DmaFence | null {
  const prev = chain._prev;
  return prev === null ? null : prev.get();
}

/**
 * `dma_fence_chain_ops`. The lock is the node's own (`&chain->lock` class), so taking a
 * contained fence's inline lock from `enableSignaling` is an ordinary nesting.
 */
const chainOps: DmaFenceOps<DmaFenceChain> = {
  getDriverName: () => 'dma_fence_chain',
  getTimelineName: () => 'unbound',
  enableSignaling: (chain) => chainEnableSignaling(chain),
  signaled: (chain) => chainSignaled(chain),
  release: (chain) => chainRelease(chain),
  setDeadline: (chain, deadline) => {
    for (const f of DmaFenceChain.forEach(chain)) DmaFenceChain.contained(f).setDeadline(deadline);
  },
};
markContainerOps(chainOps);

/**
 * `dma_fence_chain_enable_signaling()`: attach the node's one callback to the first
 * unsignalled contained fence, walking from this node back. Returns false when none is
 * left (the core then signals the node). The pending callback owns a reference to the
 * node and one to the fence it waits on.
 */
function chainEnableSignaling(head: DmaFenceChain): boolean {
  head.get();
  for (let f: Fence | null = head.get(); f !== null; f = DmaFenceChain.walk(f)) {
    const contained = DmaFenceChain.contained(f);
    contained.get();
    if (contained.addCallback(chainCb, head)) {
      f.put();
      return true;
    }
    contained.put();
  }
  head.put();
  return false;
}

/** `dma_fence_chain_cb()`: under the contained fence's lock; re-arm through irq_work. */
function chainCb(f: Fence, chain: DmaFenceChain): void {
  // irq_work_queue(), without a closure per node.
  const rt = chain.runtime;
  rt.irqWorkQueue(chainIrqWork, chain);
  f.put();
}

/** `dma_fence_chain_irq_work()`: re-arm on the next unsignalled fence, or signal. */
function chainIrqWork(arg: unknown): void {
  const chain = arg as DmaFenceChain;
  if (!chainEnableSignaling(chain)) chain.signal();
  chain.put();
}

/** `dma_fence_chain_signaled()`: every contained fence from here back has signalled. */
function chainSignaled(chain: DmaFenceChain): boolean {
  for (let f: Fence | null = chain.get(); f !== null; f = DmaFenceChain.walk(f)) {
    if (!DmaFenceChain.contained(f).isSignaled()) {
      f.put();
      return false;
    }
  }
  return true;
}

/**
 * `dma_fence_chain_release()`: unlink predecessors iteratively while this node holds
 * their last reference, so releasing a long chain never recurses.
 */
function chainRelease(chain: DmaFenceChain): void {
  let prev: DmaFence | null;
  while ((prev = chain._prev) !== null) {
    if (prev.refcount > 1) break;
    const prevChain = toDmaFenceChain(prev);
    if (prevChain === null) break;
    // We hold the last reference to prevChain: no one else can look at its prev.
    chain._prev = prevChain._prev;
    prevChain._prev = null;
    prev.put();
  }
  chain._prev = null;
  if (prev !== null) prev.put();
  const fence = chain._fence;
  chain._fence = null;
  fence?.put();
}

function notAChainMethod(who: string): DepError {
  return new DepError('EINVAL', `${who}() on a DmaFenceChain: a chain node is initialized by initChain(prev, fence, seqno) (dma_fence_chain_init), not as a plain fence`);
}

/**
 * `struct dma_fence_chain`: a timeline point. Make one with {@link DmaFenceChain.alloc}
 * (the allocation hook, `dma_fence_chain_alloc`) and {@link DmaFenceChain.initChain}
 * (`dma_fence_chain_init`, which cannot fail on valid input), or {@link DmaFenceChain.create} for both.
 *
 * Semantics (kernel-api.md A3, B15, B16):
 * - a node completes only when its contained fence and every earlier one have signalled;
 *   signalling is armed on the first unsignalled contained fence and re-armed through
 *   irq_work (`rt.irqWorkQueue`), never recursively under a fence lock;
 * - `isSignaled()` walks the chain (the `signaled` op), so it can answer before the
 *   deferred signal has run;
 * - {@link DmaFenceChain.walk} and {@link DmaFenceChain.findSeqno} garbage-collect signalled predecessors;
 * - release unlinks predecessors iteratively (no recursion on long chains);
 * - deadlines are forwarded to every contained fence; names "dma_fence_chain"/"unbound";
 *   the node is initialized with `init64` (plain 64-bit seqno compare).
 */
export class DmaFenceChain extends DmaFence {
  /** @internal `chain->prev` (owned reference), null at the start of a timeline or after GC. */
  declare _prev: DmaFence | null;
  /** @internal `chain->fence` (owned reference); null only after release. */
  declare _fence: DmaFence | null;
  /** `chain->prev_seqno`: seqno of the previous node when the context was reused, else 0. */
  declare prevSeqno: bigint;
  /** @internal Runtime the node was allocated on. */
  declare _allocRuntime: Runtime | null;

  /**
   * An uninitialized node. Prefer {@link DmaFenceChain.alloc}, which calls the runtime's
   * allocation hook as `dma_fence_chain_alloc()` allocates.
   */
  constructor() {
    super();
    this._prev = null;
    this._fence = null;
    this.prevSeqno = 0n;
    this._allocRuntime = null;
  }

  /**
   * `dma_fence_chain_alloc()`: allocate an uninitialized node (GFP_KERNEL through
   * `rt.alloc`, site `dma_fence_chain_alloc`). Throws `DepError('ENOMEM')` under fault
   * injection, changing nothing. Process or worker context (may sleep); preallocate before
   * a signalling section and {@link DmaFenceChain.initChain} inside it.
   */
  static alloc(runtime: Runtime = getDefaultRuntime()): DmaFenceChain {
    runtime.alloc(GFP_KERNEL, 'dma_fence_chain_alloc');
    const chain = new DmaFenceChain();
    chain._allocRuntime = runtime;
    return chain;
  }

  /**
   * {@link DmaFenceChain.alloc} + {@link DmaFenceChain.initChain} on the contained fence's runtime. Takes ownership of
   * the references to `prev` and `fence` (get() them first to keep yours).
   */
  static create(prev: Fence | null, fence: Fence, seqno: bigint, options?: DmaFenceChainInitOptions): DmaFenceChain {
    const who = 'dma_fence_chain_init';
    const f = asFence(fence, who);
    checkChainArgs(prev, f, seqno, f.runtime, who);
    return DmaFenceChain.alloc(f.runtime).initChain(prev, fence, seqno, options);
  }

  /**
   * `dma_fence_chain_init(chain, prev, fence, seqno)`: takes ownership of the references
   * to `prev` (may be null) and `fence`. If `prev` is a chain node and `seqno` is later
   * than its seqno (in prev's 64-bit mode) the node joins prev's context and records
   * {@link DmaFenceChain.prevSeqno}; otherwise it gets a new context and seqno `max(prev.seqno, seqno)`.
   * Initialized with `init64`. Never allocates; any context.
   *
   * Rejects with `DepError('EINVAL')`, changing nothing: a non-fence, a seqno that is not a
   * u64 bigint, fences of another runtime, an INACTIVE `fence` or `prev`
   * (rfc-designs E.2), or a chain as the contained fence (chains nest only through `prev`:
   * WARN, as the kernel's `WARN_ON(dma_fence_is_chain(fence))`, then EINVAL; flatten with
   * `unwrapMerge` instead). EBUSY if the node is already initialized.
   *
   * In checked mode it declares the wait-for edges "node waits on its fence" and "node
   * waits on prev" (see `fenceWaitsOn`).
   */
  initChain(prev: Fence | null, fence: Fence, seqno: bigint, options?: DmaFenceChainInitOptions): this {
    const who = 'dma_fence_chain_init';
    if ((this._flags & F_INITIALIZED) !== 0) {
      throw new DepError('EBUSY', `${who}: chain node ${fenceLabel(this)} is already initialized; allocate a new node for each point`);
    }
    const f = asFence(fence, who);
    const rt = this._allocRuntime ?? f.runtime;
    checkChainArgs(prev, f, seqno, rt, who);
    const reason = options?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length === 0)) {
      throw new DepError('EINVAL', `${who}: options.reason must be a non-empty string naming the point`);
    }
    const p = prev === null ? null : (prev as DmaFence);
    const prevChain = toDmaFenceChain(p);
    let context: bigint;
    let prevSeqno = 0n;
    if (prevChain !== null && prevChain.isLaterSeqno(seqno, prevChain.seqno)) {
      context = prevChain.context;
      prevSeqno = prevChain.seqno;
    } else {
      context = contextAlloc(1, rt);
      // Always a valid sequence number.
      if (prevChain !== null && prevChain.seqno > seqno) seqno = prevChain.seqno;
    }
    this._prev = p;
    this._fence = f;
    this.prevSeqno = prevSeqno;
    const initOptions: FenceInitOptions = { runtime: rt, lockClass: CHAIN_LOCK_CLASS };
    super.init64(chainOps, context, seqno, initOptions);
    if ((this._flags & F_CHECKED) !== 0) {
      const what = reason ?? `dma_fence_chain point ${seqno}`;
      fenceWaitsOn(this, f, `${what} contains this fence`);
      if (p !== null) fenceWaitsOn(this, p, `${what} completes after the previous point`);
    }
    return this;
  }

  /** Not for chain nodes: use {@link DmaFenceChain.initChain}. Throws EINVAL. */
  override init(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAChainMethod('init');
  }

  /** Not for chain nodes: use {@link DmaFenceChain.initChain}. Throws EINVAL. */
  override init64(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAChainMethod('init64');
  }

  /** Not for chain nodes: use {@link DmaFenceChain.initChain}. Throws EINVAL. */
  override initInactive(_ops: DmaFenceOps<never>, _context: bigint, _seqno: bigint, _options?: FenceInitOptions): this {
    throw notAChainMethod('initInactive');
  }

  /**
   * `dma_fence_chain_free()`: drop a node that was never initialized (nothing to free in
   * JS). An initialized node must be released with `put()` instead: WARN.
   */
  free(): void {
    const rt = this._allocRuntime ?? this.runtime;
    if (rt !== undefined) {
      rt.reports.warnOn((this._flags & F_INITIALIZED) !== 0, `dma_fence_chain_free() on initialized chain node ${fenceLabel(this)}: release it with put()`);
    }
  }

  /** `chain->fence`: the contained fence (no reference taken). */
  get fence(): Fence {
    if (this._fence === null) {
      throw new DepError('EINVAL', `chain node ${(this._flags & F_INITIALIZED) === 0 ? 'is not initialized' : 'was released'}: it has no contained fence`);
    }
    return this._fence;
  }

  /** `chain->prev`: the previous point (no reference taken), or null. */
  get prev(): Fence | null {
    return this._prev;
  }

  /** `dma_fence_chain_contained(fence)`: the contained fence of a chain node, else `fence` itself. */
  static contained(fence: Fence): Fence {
    const chain = toDmaFenceChain(fence);
    return chain === null ? fence : chain.fence;
  }

  /**
   * `dma_fence_chain_walk(fence)`: consumes the caller's reference to `fence` and returns
   * a reference to the next node to look at (the previous unsignalled point, or a
   * non-chain tail), or null at the end. On the way it garbage-collects: predecessors whose
   * contained fence has signalled are spliced out of `fence`'s prev link. A non-chain
   * `fence` is put and null returned. Any context.
   */
  static walk(fence: Fence): Fence | null {
    const chain = toDmaFenceChain(fence);
    if (chain === null) {
      asFence(fence, 'dma_fence_chain_walk').put();
      return null;
    }
    let prev: DmaFence | null;
    while ((prev = getPrev(chain)) !== null) {
      const prevChain = toDmaFenceChain(prev);
      let replacement: DmaFence | null;
      if (prevChain !== null) {
        if (!prevChain.fence.isSignaled()) break;
        replacement = getPrev(prevChain);
      } else {
        if (!prev.isSignaled()) break;
        replacement = null;
      }
      // cmpxchg(&chain->prev, prev, replacement): a callback run by isSignaled() may have
      // walked this chain already.
      if (chain._prev === prev) {
        chain._prev = replacement;
        prev.put();
      } else {
        replacement?.put();
      }
      prev.put();
    }
    chain.put();
    return prev;
  }

  /**
   * `dma_fence_chain_for_each(iter, head)`: iterate from `head` back along the chain with
   * {@link DmaFenceChain.walk} (so signalled predecessors are garbage-collected). The iterator holds a
   * reference to the node it yields until the next step; breaking out of the loop puts it
   * (the kernel leaves that put to the caller).
   */
  static *forEach(head: Fence): Generator<Fence, void, undefined> {
    let iter: Fence | null = asFence(head, 'dma_fence_chain_for_each').get();
    try {
      while (iter !== null) {
        yield iter;
        const cur: Fence = iter;
        iter = null;
        iter = DmaFenceChain.walk(cur);
      }
    } finally {
      iter?.put();
    }
  }

  /**
   * `dma_fence_chain_find_seqno(&fence, seqno)`: move to the node that signals point
   * `seqno` — the oldest unsignalled node whose `prevSeqno < seqno`.
   *
   * - `seqno == 0`: a no-op, `{ ret: 0, fence }` (same reference).
   * - `fence` not a chain node, or `fence.seqno < seqno` (a future point): `{ ret: -EINVAL,
   *   fence }`, the caller keeps its reference (a syncobj waits for submission then).
   * - otherwise consumes the caller's reference and returns `{ ret: 0, fence: node }` with a
   *   new reference, or `fence: null` when everything up to the point has signalled.
   *
   * Garbage-collects signalled predecessors on the way. Any context. A seqno that is not a
   * u64 bigint is a `DepError('EINVAL')`.
   */
  static findSeqno(fence: Fence, seqno: bigint): FindSeqnoResult {
    const who = 'dma_fence_chain_find_seqno';
    asFence(fence, who);
    checkU64(seqno, 'seqno', who);
    if (seqno === 0n) return { ret: 0, fence };
    const chain = toDmaFenceChain(fence);
    if (chain === null || chain.seqno < seqno) return { ret: EINVAL, fence };
    let f: Fence | null;
    for (f = chain.get(); f !== null; f = DmaFenceChain.walk(f)) {
      const c = toDmaFenceChain(f);
      if (f.context !== chain.context || c === null || c.prevSeqno < seqno) break;
    }
    chain.put();
    return { ret: 0, fence: f };
  }
}

function checkChainArgs(prev: Fence | null, f: DmaFence, seqno: unknown, rt: Runtime, who: string): void {
  if (prev !== null) asFence(prev, who);
  checkU64(seqno, 'seqno', who);
  if (f.runtime !== rt || (prev !== null && prev.runtime !== rt)) {
    throw new DepError('EINVAL', `${who}: the fences belong to another runtime than the chain node; make every fence of a timeline on one runtime`);
  }
  assertActive(f, who);
  if (prev !== null) assertActive(prev, who);
  if (isDmaFenceChain(f)) {
    rt.reports.warnOn(true, `${who}: the contained fence ${fenceLabel(f)} is itself a chain node: chains nest only through prev`, [
      'flatten the fences into a dma_fence_array (unwrapMerge) and chain that instead',
    ]);
    throw new DepError('EINVAL', `${who}: fence ${fenceLabel(f)} is a dma_fence_chain; link chains through prev, or flatten with unwrapMerge()`);
  }
}
