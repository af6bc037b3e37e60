import { DepError, GFP_KERNEL, INTERRUPTED, TIMED_OUT, getDefaultRuntime, type Waker } from '@dep/kernel';
import type { FenceFunc } from './fence-ops.js';
import { asFence, traceArgs, type DmaFence, type Fence, type FenceWaitOptions } from './fence.js';
import { F_CHECKED, F_INACTIVE, F_INITIALIZED, F_SIGNALED } from './flags.js';
import { fenceLabel, mightWaitChecked } from './locking.js';
import { ensureWaitForGraph } from './wait-for-graph.js';

/** -ERESTARTSYS: an interruptible wait was interrupted (its `AbortSignal` fired). */
export const ERESTARTSYS = -512;
const EINVAL = -22;
const ENOMEM = -12;

function wakeWaiter(_fence: Fence, waker: Waker<true>): void {
  waker.wake(true);
}

function checkTimeout(timeout: unknown, who: string): asserts timeout is number {
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
    throw new DepError('EINVAL', `${who}: timeout must be a number of ms (Infinity waits forever), got ${String(timeout)}`);
  }
}

function checkSignal(signal: unknown, who: string): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).aborted !== 'boolean')) {
    throw new DepError('EINVAL', `${who}: options.signal must be an AbortSignal (from an AbortController)`);
  }
}

function checkWaitable(f: DmaFence, who: string): void {
  const fl = f._flags;
  if ((fl & F_INITIALIZED) === 0) {
    throw new DepError('EINVAL', `${who}: the fence was never initialized; call fence.init(ops, context, seqno) first`);
  }
  if ((fl & F_INACTIVE) !== 0) {
    throw new DepError('EINVAL', `${who}: fence ${fenceLabel(f)} is INACTIVE (armed, not pushed): it cannot be waited on until its issuer calls setActive() at push`);
  }
}

/**
 * `dma_fence_wait_timeout(fence, intr, timeout)`: enables signalling, then waits with the
 * fence's `wait` op or {@link defaultWait}. Resolves with the remaining time (> 0; Infinity
 * for an infinite wait), 1 for `timeout == 0` on a signalled fence, 0 on timeout,
 * -ERESTARTSYS when `signal` interrupts it, -EINVAL (with a WARN) for a negative timeout.
 * Sleeps: `mightSleep` and the lockdep "might wait" annotation are checked at the call.
 */
export async function fenceWaitTimeout(fence: DmaFence, timeout: number, signal?: AbortSignal): Promise<number> {
  const who = 'dma_fence_wait_timeout';
  checkTimeout(timeout, who);
  checkSignal(signal, who);
  checkWaitable(fence, who);
  const rt = fence.runtime;
  if (rt.reports.warnOn(timeout < 0, `${who}(${fenceLabel(fence)}, ${timeout}): negative timeout; pass 0 to poll or Infinity to wait forever`)) return EINVAL;
  const checked = (fence._flags & F_CHECKED) !== 0;
  if (checked) {
    rt.mightSleep(who);
    mightWaitChecked(rt, who);
  }
  fence.enableSwSignaling();
  if (rt.trace.enabled) rt.trace.emit('dma_fence:wait_start', traceArgs(fence));
  try {
    const ops = fence._ops;
    if (ops !== null && ops.wait !== undefined) return await ops.wait(fence, timeout, signal);
    return await defaultWait(fence, timeout, signal);
  } finally {
    if (rt.trace.enabled) rt.trace.emit('dma_fence:wait_end', traceArgs(fence));
  }
}

/** `dma_fence_wait(fence, intr)`: waits forever; 0, or -ERESTARTSYS when interrupted. */
export async function fenceWait(fence: DmaFence, signal?: AbortSignal): Promise<number> {
  const ret = await fenceWaitTimeout(fence, Infinity, signal);
  return ret < 0 ? ret : 0;
}

/**
 * `dma_fence_default_wait(fence, intr, timeout)`, for `wait` ops that wrap it: puts a
 * waker at the head of the callback list and sleeps on the runtime
 * (`rt.sleepOn`), so the wake-up is an executor event and the waiter resumes as the
 * current task.
 */
export async function defaultWait(fence: Fence, timeout: number, signal?: AbortSignal): Promise<number> {
  const who = 'dma_fence_default_wait';
  const f = asFence(fence, who);
  checkTimeout(timeout, who);
  checkSignal(signal, who);
  checkWaitable(f, who);
  const ret = timeout !== 0 ? timeout : 1;
  if ((f._flags & F_SIGNALED) !== 0) return ret;
  if (signal?.aborted === true) return ERESTARTSYS;
  const rt = f.runtime;
  if (timeout === 0) {
    // Enable signalling (it may signal at once), then poll.
    f.enableSwSignaling();
    return (f._flags & F_SIGNALED) !== 0 ? 1 : 0;
  }
  if ((f._flags & F_CHECKED) !== 0) ensureWaitForGraph(rt);
  const start = rt.now();
  const r = await rt.sleepOn<true>(
    who,
    (waker) => {
      if (!f._addCallbackSlow(wakeWaiter as FenceFunc<unknown>, waker, true, who)) {
        waker.wake(true);
        return;
      }
      return () => {
        f.removeCallback(wakeWaiter, waker);
      };
    },
    { timeout, ...(signal === undefined ? {} : { signal }), object: f },
  );
  if (r === TIMED_OUT) return 0;
  if (r === INTERRUPTED) return ERESTARTSYS;
  if (timeout === Infinity) return Infinity;
  const left = timeout - (rt.now() - start);
  return left > 0 ? left : 1;
}

interface AnyWait {
  waker: Waker<true> | null;
  fired: boolean;
}

function wakeAny(_fence: Fence, st: AnyWait): void {
  st.fired = true;
  st.waker?.wake(true);
}

/** Result of {@link waitAnyTimeout}. */
export interface WaitAnyResult {
  /** As `waitTimeout`: remaining ms (> 0), 0 on timeout, -ERESTARTSYS, -EINVAL. */
  readonly ret: number;
  /** Index of the first signalled fence found (meaningful when `ret > 0`), else -1. */
  readonly index: number;
}

/**
 * `dma_fence_wait_any_timeout(fences, count, intr, timeout, &idx)`: waits until any of
 * `fences` signals. `timeout == 0` is a pure poll (`isSignaled` on each). An empty list or
 * a negative timeout WARNs and gives -EINVAL; -ENOMEM when the runtime's fault injection
 * fails its allocation (site `dma_fence_wait_any_timeout`). Sleeps.
 */
export async function waitAnyTimeout(fences: readonly Fence[], timeout: number, options: FenceWaitOptions = {}): Promise<WaitAnyResult> {
  const who = 'dma_fence_wait_any_timeout';
  if (!Array.isArray(fences)) throw new DepError('EINVAL', `${who}: pass an array of fences`);
  const list = fences.map((f) => asFence(f, who));
  checkTimeout(timeout, who);
  const signal = options.signal;
  checkSignal(signal, who);
  for (const f of list) checkWaitable(f, who);
  if (list.length === 0) {
    // No fence, so no runtime of its own to report to: the default one.
    getDefaultRuntime().reports.warnOn(true, `${who}: empty fence list; pass at least one fence`);
    return { ret: EINVAL, index: -1 };
  }
  const rt = list[0]!.runtime;
  if (rt.reports.warnOn(timeout < 0, `${who}: negative timeout ${timeout}; pass 0 to poll or Infinity to wait forever`)) return { ret: EINVAL, index: -1 };
  if (timeout === 0) {
    for (let i = 0; i < list.length; i++) if (list[i]!.isSignaled()) return { ret: 1, index: i };
    return { ret: 0, index: -1 };
  }
  const checked = (list[0]!._flags & F_CHECKED) !== 0;
  if (checked) {
    mightWaitChecked(rt, who);
    ensureWaitForGraph(rt);
  }
  // kcalloc(count, sizeof(struct default_wait_cb), GFP_KERNEL)
  if (!rt.tryAlloc(GFP_KERNEL, who)) return { ret: ENOMEM, index: -1 };
  const st: AnyWait = { waker: null, fired: false };
  let added = 0;
  let index = -1;
  try {
    for (; added < list.length; added++) {
      if (!list[added]!._addCallbackSlow(wakeAny as FenceFunc<unknown>, st, false, who)) {
        index = added;
        return { ret: timeout, index };
      }
    }
    const start = rt.now();
    const r = await rt.sleepOn<true>(
      who,
      (waker) => {
        if (st.fired) waker.wake(true);
        else st.waker = waker;
      },
      { timeout, ...(signal === undefined ? {} : { signal }), object: list },
    );
    if (r === TIMED_OUT) return { ret: 0, index: -1 };
    if (r === INTERRUPTED) return { ret: ERESTARTSYS, index: -1 };
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.testSignaledFlag()) {
        index = i;
        break;
      }
    }
    const left = timeout === Infinity ? Infinity : timeout - (rt.now() - start);
    return { ret: left > 0 ? left : 1, index };
  } finally {
    for (let i = 0; i < added; i++) list[i]!.removeCallback(wakeAny, st);
  }
}
