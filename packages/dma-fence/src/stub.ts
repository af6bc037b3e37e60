import { DepError, GFP_KERNEL, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { DmaFence, type Fence } from './fence.js';
import type { DmaFenceOps } from './fence-ops.js';
import { F_ENABLE_SIGNAL } from './flags.js';

/** `dma_fence_stub_ops`: both names read "stub". */
const stubOps: DmaFenceOps = {
  getDriverName: () => 'stub',
  getTimelineName: () => 'stub',
};

const STUB_KEY = Symbol('@dep/dma-fence:stub');

function makeStub(rt: Runtime, timestamp: number): DmaFence {
  const f = new DmaFence(stubOps, 0n, 0n, { runtime: rt });
  f._flags |= F_ENABLE_SIGNAL;
  f.signalTimestamp(timestamp);
  return f;
}

/**
 * `dma_fence_get_stub()`: the runtime's one always-signalled fence (context 0, seqno 0,
 * timestamped when first asked for). Each call returns a new reference (put it). Any
 * context.
 */
export function getStub(runtime: Runtime = getDefaultRuntime()): Fence {
  const stub = runtime.subsystem(STUB_KEY, (rt) => makeStub(rt, rt.coarseNow()));
  return stub.get();
}

/**
 * `dma_fence_allocate_private_stub(timestamp)`: a new signalled fence (context 0, seqno
 * 0) carrying `timestamp` (ms, runtime clock), e.g. the latest timestamp of the fences a
 * merge dropped. Allocates (`GFP_KERNEL`, site `dma_fence_allocate_private_stub`): where
 * the kernel returns NULL, `DepError('ENOMEM')` is thrown when the runtime's fault
 * injection fails the allocation.
 */
export function allocatePrivateStub(timestamp: number, runtime: Runtime = getDefaultRuntime()): Fence {
  if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) {
    throw new DepError('EINVAL', `dma_fence_allocate_private_stub(${String(timestamp)}): pass a timestamp in ms on the runtime clock`);
  }
  runtime.alloc(GFP_KERNEL, 'dma_fence_allocate_private_stub');
  return makeStub(runtime, timestamp);
}
