/**
 * Credits returned: a drm_dep queue's credit count, replayed from its tracepoints, matches
 * what the queue reports and ends at zero.
 *
 * A job takes its credits (from `drm_dep:job_arm`) when it runs (`drm_dep:job_run`, whose
 * `credits` field is the queue's count after taking them) and gives them back when it
 * completes (`drm_dep:job_done`). The invariant: the reported count always equals the
 * replayed one, never exceeds the queue's `creditLimit` (a single job bigger than the
 * limit aside), and nothing is still taken at the end of the run.
 */
import { argNum, argStr, few, forEachQueueRecord, where } from './trace-view.js';
import type { Invariant } from './types.js';

export const creditsReturned: Invariant = {
  name: 'credits-returned',
  description: "a queue's credits balance: taken when a job runs, returned when it completes, zero at the end",
  check({ result }) {
    const out: string[] = [];
    for (const t of result.traces) {
      const limit = new Map<string, number>();
      const jobCredits = new Map<string, number>();
      const running = new Map<string, number>();
      const inUse = new Map<string, number>();
      const bad: string[] = [];
      forEachQueueRecord(t.records, (queue, r) => {
        const key = `${queue}:${argStr(r, 'seqno')}`;
        switch (r.name) {
          case 'drm_dep:queue_init':
            limit.set(queue, argNum(r, 'creditLimit'));
            break;
          case 'drm_dep:job_arm':
            jobCredits.set(key, argNum(r, 'credits'));
            break;
          case 'drm_dep:job_run': {
            const c = jobCredits.get(key) ?? 0;
            running.set(key, c);
            const now = (inUse.get(queue) ?? 0) + c;
            inUse.set(queue, now);
            const reported = argNum(r, 'credits');
            if (reported !== now) bad.push(`${queue} reports ${reported} credit(s) in use running seqno ${argStr(r, 'seqno')}, its jobs hold ${now}`);
            const max = limit.get(queue);
            if (max !== undefined && now > Math.max(max, c)) bad.push(`${queue} has ${now} credit(s) in use, over its limit of ${max}`);
            break;
          }
          case 'drm_dep:job_done': {
            const c = running.get(key);
            if (c !== undefined) {
              running.delete(key);
              inUse.set(queue, (inUse.get(queue) ?? 0) - c);
            }
            break;
          }
          default:
            break;
        }
      });
      for (const [queue, n] of inUse) {
        if (n === 0) continue;
        const held = [...running.keys()].filter((k) => k.startsWith(`${queue}:`)).map((k) => `seqno ${k.slice(queue.length + 1)}`);
        bad.push(`${queue} ends with ${n} credit(s) never returned (${few(held)} ran and never completed)`);
      }
      if (bad.length > 0) out.push(`${where(t.label, result.traces.length)}credits: ${few(bad, 2)}`);
    }
    return out;
  },
};
