import type { DmaFence, Fence } from './fence.js';

/**
 * `struct dma_fence_ops`: what the issuer of a fence implements. One ops object is shared
 * by all fences of a kind (no closure per fence). Method syntax on purpose: a driver's
 * `DmaFenceOps<MyFence>` is accepted where `DmaFenceOps` is expected. Ops are constant, as
 * the kernel's `const struct dma_fence_ops`: which optional ops exist is read when a fence
 * is initialized, so adding or removing one later is not seen by fences made before.
 *
 * Every op but the two names is optional. `enableSignaling` runs with the fence lock held
 * in atomic context and must not await nor touch the same fence's lock; `release` may run
 * in any context; `setDeadline` runs without the lock.
 */
export interface DmaFenceOps<F extends DmaFence = DmaFence> {
  /** Mandatory. The driver's name. After the fence signals, readers see "detached-driver". */
  getDriverName(fence: F): string;
  /** Mandatory. The timeline's name. After the fence signals, readers see "signaled-timeline". */
  getTimelineName(fence: F): string;
  /**
   * Called with the fence lock held, at most once, on the first `addCallback`, wait or
   * `enableSwSignaling`. Return false for "already done / cannot enable": the core then
   * signals the fence itself (the op may `setError` first). Must not await.
   */
  enableSignaling?(fence: F): boolean;
  /** Fast-path peek used by `isSignaled`; returning true makes the core signal the fence. */
  signaled?(fence: F): boolean;
  /**
   * Deprecated custom wait. Resolve with the remaining time (> 0) on success, 0 on
   * timeout, -ERESTARTSYS (-512) when `signal` interrupted it. Having it prevents detaching
   * the ops on signal.
   */
  wait?(fence: F, timeout: number, signal: AbortSignal | undefined): Promise<number>;
  /** Runs on the last `put()`. Having it prevents detaching the ops on signal. */
  release?(fence: F): void;
  /** Deadline hint (ms, runtime clock), without the fence lock, possibly many times. */
  setDeadline?(fence: F, deadline: number): void;
}

/**
 * A fence callback (`dma_fence_func_t`): called as `fn(fence, arg)` when the fence
 * signals, synchronously, under the fence lock, in atomic context, in registration
 * order. `arg` plays the role of the kernel's embedded `struct dma_fence_cb`: pass the
 * object the callback works on, so no closure is needed. Must not await, and must not
 * call anything that takes the same fence's lock (`getStatus`, `addCallback`,
 * `removeCallback` on that fence).
 */
export type FenceFunc<A = undefined> = (fence: Fence, arg: A) => void;
