import { getDefaultRuntime, type Runtime } from '@dep/kernel';
import { beginSignallingChecked, endSignallingChecked } from './locking.js';

/**
 * `dma_fence_begin_signalling()`: open a fence-signalling critical section on the
 * running task (lockdep then reports waits, and blocking allocations, inside it). Returns
 * the cookie for {@link endSignalling}. Nests. Checks `off`: a no-op returning true.
 */
export function beginSignalling(runtime: Runtime = getDefaultRuntime()): boolean {
  if (runtime.checks === 'off') return true;
  return beginSignallingChecked(runtime);
}

/** `dma_fence_end_signalling(cookie)`. */
export function endSignalling(cookie: boolean, runtime: Runtime = getDefaultRuntime()): void {
  if (runtime.checks === 'off') return;
  endSignallingChecked(runtime, cookie);
}
