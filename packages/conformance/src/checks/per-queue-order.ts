/**
 * per-queue-order: the jobs of one queue complete in submission order — one fence context
 * per queue, seqnos growing with each submit, signal times non-decreasing in seqno order —
 * whatever the interleaving of submitters and queues, also with two submitters on one
 * queue (arm + push atomic against each other); with dependencies, a job never
 * signals before the fence it waits for.
 */
import { fenceLabel } from '@dep/dma-fence';
import { expectThat, type ConformanceCheck } from '../check.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, submitLoad } from '../workload.js';

export const perQueueOrder: ConformanceCheck = {
  name: 'per-queue-order',
  title: 'one fence context per queue, seqnos in submission order, completion in seqno order; dependencies respected',
  kernel: 'dma_fence_context_alloc() per entity/queue; fences on one context signal in seqno order (dma_fence_is_later); drm_sched dependencies',
  async run(ctx) {
    const { reports } = await runSession(ctx, { salt: 3 }, async (s) => {
      const queues = await openQueues(s, 2, 2);
      await submitLoad(s, queues, { jobs: ctx.jobs, maxUnits: 12, maxGapMs: 1 });
      for (const lq of queues) {
        const fs = lq.fences;
        for (const f of fs) await s.waitSignalled(f, lq.queue.label);
        for (let i = 1; i < fs.length; i++) {
          const a = fs[i - 1]!;
          const b = fs[i]!;
          expectThat(a.context === b.context, `${lq.queue.label}: jobs ${i - 1} and ${i} have different fence contexts (${fenceLabel(a)}, ${fenceLabel(b)})`);
          expectThat(b.seqno > a.seqno, `${lq.queue.label}: job ${i} got seqno ${b.seqno}, not after job ${i - 1}'s ${a.seqno}`);
          expectThat(b.timestamp() >= a.timestamp(), `${lq.queue.label}: job ${i} (${fenceLabel(b)}) signalled at ${b.timestamp()} ms, before job ${i - 1} (${fenceLabel(a)}) at ${a.timestamp()} ms`);
        }
      }
      // Two submitters on one queue: arm and push are atomic against each other, so seqno
      // order is queue order — unique seqnos, completion in seqno order.
      const shared = queues[1]!;
      const before = shared.fences.length;
      await submitLoad(s, [shared, { ...shared, fences: shared.fences }], { jobs: ctx.jobs, maxUnits: 6, maxGapMs: 1 });
      const both = shared.fences.slice(before).sort((a, b) => (a.seqno < b.seqno ? -1 : a.seqno > b.seqno ? 1 : 0));
      for (const f of both) await s.waitSignalled(f, `${shared.queue.label} (two submitters)`);
      for (let i = 1; i < both.length; i++) {
        const a = both[i - 1]!;
        const b = both[i]!;
        expectThat(a.context === b.context && b.seqno > a.seqno, `${shared.queue.label} (two submitters): two jobs share seqno ${b.seqno} or a context differs (${fenceLabel(a)}, ${fenceLabel(b)})`);
        expectThat(b.timestamp() >= a.timestamp(), `${shared.queue.label} (two submitters): seqno ${b.seqno} signalled at ${b.timestamp()} ms, before seqno ${a.seqno} at ${a.timestamp()} ms`);
      }
      const contexts = new Set(queues.map((lq) => lq.fences[0]?.context));
      expectThat(contexts.size === queues.length, `${queues.length} queues share ${contexts.size} fence context(s): each queue needs its own timeline`);
      if (ctx.adapter.features.dependencies) {
        // A long job on one client's queue; a short job on another client's queue waiting for it.
        const [a, b] = [queues[0]!, queues[2]!];
        const first = await s.submit(a.queue, { units: 30 });
        const after = await s.submit(b.queue, { units: 1, deps: [first] });
        await s.waitSignalled(after, b.queue.label);
        expectThat(first.isSignaled(), `${b.queue.label}: a job signalled (${fenceLabel(after)}) before the fence it depends on (${fenceLabel(first)})`);
        expectThat(after.timestamp() >= first.timestamp(), `${b.queue.label}: a job signalled at ${after.timestamp()} ms, before its dependency at ${first.timestamp()} ms`);
        expectThat(after.getStatus() === 1, `a job depending on a successful fence signalled with status ${after.getStatus()}`);
      }
    });
    expectNoReports(reports, 'per-queue-order');
  },
};
