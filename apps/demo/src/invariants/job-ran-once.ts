/**
 * No job ran twice, and none completed twice: per drm_dep queue instance, each seqno has
 * at most one `drm_dep:job_run` and at most one `drm_dep:job_done` (drm_dep never
 * resubmits a job; a driver replaying its ring after a reset does so below the queue).
 */
import { argStr, few, forEachQueueRecord, where } from './trace-view.js';
import type { Invariant } from './types.js';

export const jobRanOnce: Invariant = {
  name: 'job-ran-once',
  description: 'no job ran (or completed) twice',
  check({ result }) {
    const out: string[] = [];
    for (const t of result.traces) {
      const runs = new Map<string, number>();
      const dones = new Map<string, number>();
      forEachQueueRecord(t.records, (queue, r) => {
        const map = r.name === 'drm_dep:job_run' ? runs : r.name === 'drm_dep:job_done' ? dones : null;
        if (map === null) return;
        const key = `${queue} seqno ${argStr(r, 'seqno')}`;
        map.set(key, (map.get(key) ?? 0) + 1);
      });
      const at = where(t.label, result.traces.length);
      const twice = (m: Map<string, number>): string[] => [...m].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
      const ran = twice(runs);
      const done = twice(dones);
      if (ran.length > 0) out.push(`${at}${ran.length} job(s) ran more than once: ${few(ran)}`);
      if (done.length > 0) out.push(`${at}${done.length} job(s) completed more than once: ${few(done)}`);
    }
    return out;
  },
};
