/**
 * errors-propagate: a job that fails on the hardware, and a job that hangs until the
 * driver's timeout recovers it, signal their fences with a negative errno
 * (`dma_fence_set_error()` before `dma_fence_signal()`), while another client's work on
 * the same device completes untouched; a job submitted behind it on the same queue is
 * refused or signals (never lost), and the client gets a working queue afterwards.
 */
import { fenceLabel } from '@dep/dma-fence';
import { expectThat, type ConformanceCheck } from '../check.js';
import type { Fence } from '@dep/dma-fence';
import { isDepError } from '@dep/kernel';
import { CheckFailure } from '../check.js';
import { expectNoReports, runSession } from '../session.js';

/** A submit's fence, or null when it was refused with a DepError (anything else fails). */
async function errnoOrFence(p: Promise<Fence>): Promise<{ fence: Fence | null }> {
  try {
    return { fence: await p };
  } catch (e) {
    if (isDepError(e)) return { fence: null };
    throw new CheckFailure(`a submit behind failed work threw ${e instanceof Error ? e.message : typeof e}, not a DepError`);
  }
}
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
      const bad: Array<{ what: string; queue: Awaited<ReturnType<typeof victim.createQueue>>; fence: Fence }> = [];
      // Each on a fresh queue, as its first job (the contract of JobSpec.kind).
      const submitBad = async (what: string, kind: 'fail' | 'hang') => {
        const queue = await victim.createQueue();
        return { what, queue, fence: await s.submit(queue, { units: 2, kind }) };
      };
      if (features.failingJobs) bad.push(await submitBad('a failing job', 'fail'));
      if (features.hangingJobs) bad.push(await submitBad('a hanging job', 'hang'));
      for (const b of bad) {
        await s.waitSignalled(b.fence, b.what);
        const st = b.fence.getStatus();
        expectThat(st < 0, `${b.what}: fence ${fenceLabel(b.fence)} signalled with status ${st}, not a negative errno`);
        // Behind it on the same queue: refused (a banned/fatal context) or signalled — never lost.
        const after = await errnoOrFence(s.submit(b.queue, { units: 1 }));
        if (after.fence !== null) await s.waitSignalled(after.fence, `${b.what}: a job submitted behind it`);
      }
      // Recovery: the same client gets a working queue afterwards.
      if (bad.length > 0) {
        const fresh = await s.submit(await victim.createQueue(), { units: 1 });
        await s.waitSignalled(fresh, 'a new queue of the client whose work failed');
        expectThat(fresh.getStatus() === 1, `after the failure and recovery, a job on a new queue of the same client signalled with ${fresh.getStatus()}`);
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
