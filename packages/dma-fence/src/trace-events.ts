/**
 * The dma_fence tracepoints (include/trace/events/dma_fence.h), with the kernel's names
 * and its `dma_fence` event class fields.
 */
declare module '@dep/kernel' {
  interface TraceEventMap {
    'dma_fence:init': DmaFenceTraceArgs;
    'dma_fence:signaled': DmaFenceTraceArgs;
    'dma_fence:enable_signal': DmaFenceTraceArgs;
    'dma_fence:wait_start': DmaFenceTraceArgs;
    'dma_fence:wait_end': DmaFenceTraceArgs;
    'dma_fence:destroy': DmaFenceTraceArgs;
  }
}

/** Fields of the kernel's `dma_fence` trace event class. */
export interface DmaFenceTraceArgs {
  driver: string;
  timeline: string;
  context: bigint;
  seqno: bigint;
}

export {};
