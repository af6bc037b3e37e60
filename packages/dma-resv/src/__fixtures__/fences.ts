// Test fixtures: fences with the kernel selftests' minimal ops, and recording ops.
import { DmaFence, contextAlloc, type DmaFenceOps } from '@dep/dma-fence';
import type { Runtime } from '@dep/kernel';

/** The selftests' `fence_ops`: both names "selftest", nothing else. */
export const selftestOps: DmaFenceOps = {
  getDriverName: () => 'selftest',
  getTimelineName: () => 'selftest',
};

/** `alloc_fence()` of st-dma-resv.c: context 0, seqno 0. */
export function allocFence(rt: Runtime): DmaFence {
  return new DmaFence(selftestOps, 0n, 0n, { runtime: rt });
}

/** A fence on a fresh context (so it never replaces another one). */
export function freshFence(rt: Runtime, seqno = 1n, ops: DmaFenceOps = selftestOps): DmaFence {
  return new DmaFence(ops, contextAlloc(1, rt), seqno, { runtime: rt });
}

/** Ops whose `enableSignaling` appends `name` to `log` (and keeps the fence pending). */
export function recordingOps(name: string, log: string[]): DmaFenceOps {
  return {
    getDriverName: () => 'rec',
    getTimelineName: () => name,
    enableSignaling: () => {
      log.push(name);
      return true;
    },
  };
}
