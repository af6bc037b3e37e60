/**
 * The drm_dep tracepoints. Every event goes to the queue's lane (`drm_dep:<name>`);
 * `job_run` (`B`) and `job_done` (`E`) make a slice per job on it.
 */
declare module '@dep/kernel' {
  interface TraceEventMap {
    'drm_dep:queue_init': {
      queue: string;
      context: bigint;
      creditLimit: number;
      timeout: number;
      bypass: boolean;
      jobPutIrqSafe: boolean;
      inactiveFences: boolean;
      scheduledFence: boolean;
      teardown: string;
    };
    'drm_dep:job_init': { queue: string; credits: number };
    'drm_dep:job_dependency': { queue: string; context: bigint; seqno: bigint; preempt: boolean; job: number };
    'drm_dep:job_arm': { queue: string; context: bigint; seqno: bigint; credits: number; dependencies: number };
    'drm_dep:job_push': { queue: string; seqno: bigint; queued: number };
    'drm_dep:job_run': { queue: string; seqno: bigint; inline: boolean; credits: number };
    'drm_dep:job_done': { queue: string; seqno: bigint; error: number };
    'drm_dep:job_free': { queue: string; seqno: bigint; context: string };
    'drm_dep:job_cancel': { queue: string; seqno: bigint };
    'drm_dep:timeout': { queue: string; seqno: bigint; killed: boolean };
    'drm_dep:timeout_done': { queue: string; seqno: bigint; status: string };
    'drm_dep:queue_stop': { queue: string; pending: number; queued: number };
    'drm_dep:queue_start': { queue: string; pending: number; queued: number };
    'drm_dep:queue_kill': { queue: string; queued: number; pending: number };
    'drm_dep:queue_fini': { queue: string; teardown: string; queued: number; pending: number };
    'drm_dep:queue_release': { queue: string };
  }
}

export {};
