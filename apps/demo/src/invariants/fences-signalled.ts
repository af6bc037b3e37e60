/**
 * Every published fence signalled, with an error where its work failed.
 *
 * A fence is published once `dma_fence:init` traced it; it must have signalled unless it
 * was destroyed unsignalled (dropping an unpublished INACTIVE fence is legal; an illegal
 * drop is the fence layer's own WARN). Where its work failed the finished fence must carry
 * the error: a job whose hardware work ended with an error (`demo:hw_job` error < 0) or
 * that the queue cancelled (`drm_dep:job_cancel`) must complete (`drm_dep:job_done`) with
 * an error, not with 0.
 */
import { unsignalledFences } from '../result.js';
import { argNum, argStr, few, forEachQueueRecord, where } from './trace-view.js';
import type { Invariant } from './types.js';

export const fencesSignalled: Invariant = {
  name: 'fences-signalled',
  description: 'every published fence signalled, with an error where its work failed',
  check({ result }) {
    const out: string[] = [];
    for (const t of result.traces) {
      const at = where(t.label, result.traces.length);
      const open = unsignalledFences(t.records);
      if (open.length > 0) out.push(`${at}${open.length} published fence(s) never signalled: ${few(open)}`);
      // Failed work per job: the hardware's error, a cancel; then the finished fence's error.
      const failed = new Map<string, string>();
      const hwErrors = new Map<string, number>();
      for (const r of t.records) {
        if ((r.name as string) === 'demo:hw_job' && argNum(r, 'error') < 0) hwErrors.set(`${argStr(r, 'queue')}:${argStr(r, 'seqno')}`, argNum(r, 'error'));
      }
      const wrong: string[] = [];
      forEachQueueRecord(t.records, (queue, r) => {
        const key = `${queue}:${argStr(r, 'seqno')}`;
        if (r.name === 'drm_dep:job_cancel') failed.set(key, 'cancelled');
        else if (r.name === 'drm_dep:job_done') {
          const name = argStr(r, 'queue');
          const hw = hwErrors.get(`${name}:${argStr(r, 'seqno')}`);
          const why = failed.get(key) ?? (hw === undefined ? undefined : `hardware error ${hw}`);
          if (why !== undefined && argNum(r, 'error') === 0) wrong.push(`${queue} seqno ${argStr(r, 'seqno')} (${why})`);
        }
      });
      if (wrong.length > 0) out.push(`${at}${wrong.length} job(s) whose work failed signalled their finished fence without an error: ${few(wrong)}`);
    }
    return out;
  },
};
