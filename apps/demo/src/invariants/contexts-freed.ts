/**
 * Memory of destroyed contexts freed. Two kinds of context leave a trace:
 *
 * - a drm_dep queue (a driver's exec queue / group / hardware context): once it was
 *   finalised (`drm_dep:queue_fini`) it must be released (`drm_dep:queue_release`) and
 *   every job initialised on it freed (`drm_dep:job_free`) by the end of the run;
 * - a DRM file: once every file of the run was closed (`drm:file_close`), every GEM object
 *   created (`drm:gem_create`) must have been freed (`drm:gem_free`) — a file's handles,
 *   VMs and queues hold the objects, and closing the file drops them.
 */
import { argStr, few, forEachQueueRecord, where } from './trace-view.js';
import type { Invariant } from './types.js';

export const contextsFreed: Invariant = {
  name: 'contexts-freed',
  description: 'a finalised queue is released with all its jobs freed; closing every file frees every GEM object',
  check({ result }) {
    const out: string[] = [];
    for (const t of result.traces) {
      const at = where(t.label, result.traces.length);
      const inits = new Map<string, number>();
      const frees = new Map<string, number>();
      const finalised = new Set<string>();
      const released = new Set<string>();
      forEachQueueRecord(t.records, (queue, r) => {
        if (r.name === 'drm_dep:job_init') inits.set(queue, (inits.get(queue) ?? 0) + 1);
        else if (r.name === 'drm_dep:job_free') frees.set(queue, (frees.get(queue) ?? 0) + 1);
        else if (r.name === 'drm_dep:queue_fini') finalised.add(queue);
        else if (r.name === 'drm_dep:queue_release') released.add(queue);
      });
      const bad: string[] = [];
      for (const q of finalised) {
        if (!released.has(q)) bad.push(`queue ${q} finalised but never released`);
        const lost = (inits.get(q) ?? 0) - (frees.get(q) ?? 0);
        if (lost > 0) bad.push(`queue ${q}: ${lost} job(s) never freed`);
      }
      // DRM files and GEM objects.
      const open = new Set<string>();
      const objects = new Map<string, number>();
      let sawFiles = false;
      for (const r of t.records) {
        const name = r.name as string;
        if (name === 'drm:file_open') {
          sawFiles = true;
          open.add(argStr(r, 'file'));
        } else if (name === 'drm:file_close') open.delete(argStr(r, 'file'));
        else if (name === 'drm:gem_create') objects.set(`${argStr(r, 'dev')}:${argStr(r, 'obj')}`, argNumSize(r));
        else if (name === 'drm:gem_free') objects.delete(`${argStr(r, 'dev')}:${argStr(r, 'obj')}`);
      }
      if (sawFiles && open.size === 0 && objects.size > 0) {
        const bytes = [...objects.values()].reduce((a, b) => a + b, 0);
        bad.push(`every file closed but ${objects.size} GEM object(s) (${bytes} bytes) never freed: ${few([...objects.keys()])}`);
      }
      if (bad.length > 0) out.push(`${at}${few(bad, 2)}`);
    }
    return out;
  },
};

function argNumSize(r: { readonly args: unknown }): number {
  const v = (r.args as Record<string, unknown>).size;
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}
