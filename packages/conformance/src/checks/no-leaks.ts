/**
 * no-leaks: after the mixed workload, closing every client and `fini()` of the device,
 * nothing the runtime tracks is alive (no fence, job, queue, BO, syncobj … still
 * referenced) and nothing was used after its last put.
 */
import { type ConformanceCheck } from '../check.js';
import { mixedWorkload } from '../mixed-workload.js';
import { expectNoReports, runSession } from '../session.js';

export const noLeaks: ConformanceCheck = {
  name: 'no-leaks',
  title: 'no object alive at shutdown and no use after the last put, after every path (fail, hang, kill, close)',
  kernel: 'kmemleak and KASAN use-after-free on kref-managed objects (dma_fence_put, drm_gem_object_put, drm_syncobj_put)',
  async run(ctx) {
    const { reports } = await runSession(ctx, { salt: 4 }, (s) => mixedWorkload(s, ctx));
    expectNoReports(reports, 'no-leaks', ['leak', 'use-after-free']);
    expectNoReports(reports, 'no-leaks (other reports)');
  },
};
