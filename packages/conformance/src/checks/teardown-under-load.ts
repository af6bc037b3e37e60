/**
 * teardown-under-load: closing a client (`drm_release`) with jobs queued and running, then
 * tearing the whole device down with another client's work in flight, in every teardown
 * variant the adapter's queues support (drm_dep `teardown: 'sync' | 'async'`): every fence
 * signals, the other client is untouched until its own close, nothing leaks, nothing is
 * used after free, the teardown does not stall.
 */
import { fenceLabel } from '@dep/dma-fence';
import { CheckFailure, expectThat, type ConformanceCheck } from '../check.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, startLoad } from '../workload.js';

export const teardownUnderLoad: ConformanceCheck = {
  name: 'teardown-under-load',
  title: 'closing a client and finishing the device with work in flight (each teardown variant): every fence signals, nothing leaks',
  kernel: 'drm_file release → driver postclose (queue/group/hwctx destroy), drm_sched_fini / drm_dep teardown (sync or async deregister)',
  async run(ctx) {
    const modes = ctx.adapter.features.teardown;
    if (modes.length === 0) throw new CheckFailure('features.teardown lists no teardown variant');
    for (const [i, mode] of modes.entries()) {
      const { reports } = await runSession(ctx, { salt: 7 + i * 100, teardown: mode }, async (s) => {
        const queues = await openQueues(s, 2, 2);
        const load = startLoad(s, queues, { jobs: ctx.jobs, maxUnits: 10, maxGapMs: 1, tolerateRefusal: true });
        await s.rt.sleep(2 + s.rt.randomInt(5));
        const [a0, a1, b0, b1] = queues;
        await s.close(a0!.client);
        await load();
        for (const lq of queues) for (const f of lq.fences) await s.waitSignalled(f, `${mode} teardown: ${lq.queue.label}`);
        for (const lq of [b0!, b1!]) {
          const bad = lq.fences.filter((f) => f.getStatus() !== 1);
          expectThat(bad.length === 0, () => `${mode} teardown: ${lq.queue.label} of another client: ${bad.length} job(s) failed (first ${fenceLabel(bad[0]!)} status ${bad[0]!.getStatus()}) when a client was closed`);
          expectThat(lq.refused.length === 0, `${mode} teardown: ${lq.queue.label} of another client: a submit was refused with ${lq.refused[0]}`);
        }
        for (const lq of [a0!, a1!]) expectThat(lq.fences.every((f) => f.getStatus() === 1 || f.getStatus() < 0), `${mode} teardown: ${lq.queue.label}: bad statuses`);
        // Then the other client goes with its queues busy, and the device right after.
        for (const lq of [b0!, b1!]) for (let n = 0; n < 3; n++) lq.fences.push(await s.submit(lq.queue, { units: 20 }));
        await s.close(b0!.client);
        for (const lq of [b0!, b1!]) for (const f of lq.fences) await s.waitSignalled(f, `${mode} teardown: ${lq.queue.label} after close`);
      });
      expectNoReports(reports, `teardown-under-load (${mode})`);
    }
  },
};
