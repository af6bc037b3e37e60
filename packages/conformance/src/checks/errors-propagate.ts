/**
 * errors-propagate: a job that fails on the hardware, and a job that hangs until the
 * driver's timeout recovers it, signal their fences with a negative errno
 * (`dma_fence_set_error()` before `dma_fence_signal()`), while another client's work on
 * the same device completes untouched.
 */
import { fenceLabel } from '@dep/dma-fence';
import { expectThat, type ConformanceCheck } from '../check.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, submitLoad } from '../workload.js';

export const errorsPropagate: ConformanceCheck = {
  name: 'errors-propagate',
  title: 'failing and hanging work signals its fence with a negative errno; other clients are unaffected',
  kernel: 'dma_fence_set_error() + dma_fence_signal() on fault / timedout_job recovery; drm_sched guilty-context isolation',
  skip: (a) => (a.features.failingJobs || a.features.hangingJobs ? null : 'the adapter can make neither failing nor hanging jobs'),
  async run(ctx) {
    const { features } = ctx.adapter;
    const { reports } = await runSession(ctx, { salt: 2 }, async (s) => {
      const bystanders = await openQueues(s, 1, 1);
      const victim = await s.open();
      const done = s.rt.spawn('conformance.bystander', () => submitLoad(s, bystanders, { jobs: ctx.jobs }), { joinable: true });
      const bad = [];
      // Each on a fresh queue, as its first job (the contract of JobSpec.kind).
      if (features.failingJobs) bad.push({ what: 'a failing job', fence: await s.submit(await victim.createQueue(), { units: 2, kind: 'fail' }) });
      if (features.hangingJobs) bad.push({ what: 'a hanging job', fence: await s.submit(await victim.createQueue(), { units: 2, kind: 'hang' }) });
      for (const b of bad) {
        await s.waitSignalled(b.fence, b.what);
        const st = b.fence.getStatus();
        expectThat(st < 0, `${b.what}: fence ${fenceLabel(b.fence)} signalled with status ${st}, not a negative errno`);
      }
      await done.join();
      for (const lq of bystanders) {
        for (const f of lq.fences) await s.waitSignalled(f, lq.queue.label);
        const failed = lq.fences.filter((f) => f.getStatus() !== 1);
        expectThat(failed.length === 0, () => `another client's queue ${lq.queue.label}: ${failed.length} of ${lq.fences.length} jobs failed next to the bad work (first status ${failed[0]!.getStatus()})`);
      }
    });
    expectNoReports(reports, 'errors-propagate');
  },
};
