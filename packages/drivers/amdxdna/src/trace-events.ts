/**
 * The amdxdna:* tracepoints (declaration merging into @dep/kernel's TraceEventMap), after
 * the driver's `trace_xdna_job`. Emitted only while a trace sink is attached.
 */

/** What happened to a job (`trace_xdna_job`'s message). */
export type AmdxdnaJobTraceWhat = 'submitted' | 'sent to device' | 'signaled fence' | 'job timedout' | 'job free';

/** What happened to a hardware context. */
export type AmdxdnaHwctxTraceOp = 'create' | 'config-cu' | 'stop' | 'restart' | 'dead' | 'destroy';

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** A job of a hardware context: `seq`, and its fence status when it signalled. */
    'amdxdna:job': { hwctx: string; seq: bigint; what: AmdxdnaJobTraceWhat; status: number | undefined };
    /** A hardware context's life: created, configured, stopped and restarted by the timeout, dead, destroyed. */
    'amdxdna:hwctx': { hwctx: string; op: AmdxdnaHwctxTraceOp; columns: string | undefined };
  }
}

export {};
