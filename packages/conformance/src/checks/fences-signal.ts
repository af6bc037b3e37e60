/**
 * fences-signal: every fence an adapter publishes signals, and with status 1 when its
 * work succeeded — the dma-fence rule that a fence made visible to others must signal in
 * bounded time (Documentation/driver-api/dma-buf.rst, "Indefinite DMA Fences").
 */
import { fenceLabel } from '@dep/dma-fence';
import { expectThat, type ConformanceCheck } from '../check.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, submitLoad } from '../workload.js';

export const fencesSignal: ConformanceCheck = {
  name: 'fences-signal',
  title: 'every published fence signals; work that succeeded signals with status 1',
  kernel: 'dma_fence_signal() in bounded time for every fence installed in a syncobj/resv (no indefinite fences)',
  async run(ctx) {
    const { reports } = await runSession(ctx, { salt: 1 }, async (s) => {
      const queues = await openQueues(s, 2, 2);
      await submitLoad(s, queues, { jobs: ctx.jobs });
      for (const lq of queues) {
        for (const f of lq.fences) await s.waitSignalled(f, lq.queue.label);
        const bad = lq.fences.filter((f) => f.getStatus() !== 1);
        expectThat(bad.length === 0, () => `${lq.queue.label}: ${bad.length} of ${lq.fences.length} successful jobs signalled with an error (first ${fenceLabel(bad[0]!)} status ${bad[0]!.getStatus()})`);
      }
    });
    expectNoReports(reports, 'fences-signal');
  },
};
