/**
 * The demo's own tracepoints. The mock hardware of `@dep/queue/testing` traces nothing
 * itself, so the demo's traced driver emits one `demo:hw_job` slice per job it ran (from
 * the moment the in-order timeline started it to the hardware fence's signal), on one lane
 * per hardware timeline: the engine lanes of the timeline and the Perfetto trace.
 */
declare module '@dep/kernel' {
  interface TraceEventMap {
    'demo:hw_job': { hw: string; queue: string; seqno: bigint; context: bigint; hwSeqno: bigint; error: number };
    /** A scenario's narrative step; `kind` picks the marker (`event` by default). */
    'demo:note': { text: string; kind: string | undefined };
    /** A span of time something ran (an `X` slice): a user queue on the GPU, … */
    'demo:span': { name: string; client: string | undefined };
  }
}

export {};
