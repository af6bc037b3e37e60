import { DepError, getDefaultRuntime, type Runtime } from '@dep/kernel';

const CONTEXT_KEY = Symbol('@dep/dma-fence:context-counter');

interface ContextCounter {
  next: bigint;
}

/**
 * `dma_fence_context_alloc(num)`: reserves `num` consecutive fence contexts of the
 * runtime and returns the first. The counter starts at 1 (context 0 is the stub's and is
 * never handed out). `num == 0` WARNs, as in the kernel, and reserves nothing. Any context.
 */
export function contextAlloc(num = 1, runtime: Runtime = getDefaultRuntime()): bigint {
  if (!Number.isSafeInteger(num) || num < 0) {
    throw new DepError('EINVAL', `contextAlloc(${String(num)}): pass the number of contexts to reserve, a non-negative integer`);
  }
  runtime.reports.warnOn(num === 0, 'dma_fence_context_alloc(0): reserving no context; pass num >= 1');
  const counter = runtime.subsystem<ContextCounter>(CONTEXT_KEY, () => ({ next: 1n }));
  const first = counter.next;
  counter.next = first + BigInt(num);
  return first;
}
