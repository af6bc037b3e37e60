/**
 * Per-queue completion order kept: the jobs of one drm_dep queue complete in seqno order,
 * so its finished fences signal in order on their context (what dma_fence_is_later and
 * every container assume).
 *
 * Two completions are outside the order by design and skipped: jobs the queue cancelled
 * on the hardware at teardown (`drm_dep:job_cancel`), which go newest first as
 * drm_sched_cancel_remaining_jobs walks the pending list in reverse, and jobs killed
 * while still queued (-ESRCH), which complete once their own dependencies signalled.
 */
import { argNum, argStr, few, forEachQueueRecord, where } from './trace-view.js';
import type { Invariant } from './types.js';

const ESRCH = -3;

export const completionOrder: Invariant = {
  name: 'completion-order',
  description: 'per queue, jobs complete in submission (seqno) order (teardown cancels and killed jobs aside)',
  check({ result }) {
    const out: string[] = [];
    for (const t of result.traces) {
      const last = new Map<string, bigint>();
      const cancelled = new Set<string>();
      const bad: string[] = [];
      forEachQueueRecord(t.records, (queue, r) => {
        if (r.name === 'drm_dep:job_cancel') {
          cancelled.add(`${queue}:${argStr(r, 'seqno')}`);
          return;
        }
        if (r.name !== 'drm_dep:job_done') return;
        if (argNum(r, 'error') === ESRCH || cancelled.has(`${queue}:${argStr(r, 'seqno')}`)) return;
        const seqno = BigInt(argStr(r, 'seqno'));
        const prev = last.get(queue);
        if (prev !== undefined && seqno < prev) bad.push(`${queue}: seqno ${seqno} after ${prev}`);
        if (prev === undefined || seqno > prev) last.set(queue, seqno);
      });
      if (bad.length > 0) out.push(`${where(t.label, result.traces.length)}${bad.length} job(s) completed out of order: ${few(bad)}`);
    }
    return out;
  },
};
