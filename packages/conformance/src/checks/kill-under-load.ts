import { errnoOf } from '@dep/kernel';
/**
 * kill-under-load: killing a context while its jobs are queued and running signals every
 * one of its fences — the ones that finished with status 1, every later one with an
 * error (nothing runs after the kill) — leaves the other queues of the same and of other
 * clients untouched, and a submit to the killed queue fails with a `DepError` changing
 * nothing.
 */
import { fenceLabel } from '@dep/dma-fence';
import { CheckFailure, expectThat, type ConformanceCheck } from '../check.js';
import { sameSnapshot } from '../snapshot.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, startLoad } from '../workload.js';

export const killUnderLoad: ConformanceCheck = {
  name: 'kill-under-load',
  title: 'a context killed with work in flight: all its fences signal (errors after the kill), the rest is untouched',
  kernel: 'xe_exec_queue_kill / panthor_group_destroy / aie2_hwctx_fini → drm_sched_entity_kill: pending jobs signalled with -ECANCELED/-ESRCH',
  async run(ctx) {
    const { reports } = await runSession(ctx, { salt: 6 }, async (s) => {
      const queues = await openQueues(s, 2, 2);
      const load = startLoad(s, queues, { jobs: ctx.jobs, maxUnits: 10, maxGapMs: 1, tolerateRefusal: true });
      await s.rt.sleep(2 + s.rt.randomInt(5));
      const victim = queues[0]!;
      await victim.queue.kill();
      await load();
      for (const lq of queues) for (const f of lq.fences) await s.waitSignalled(f, lq.queue.label);
      // In submission order: successes, then errors only.
      const st = victim.fences.map((f) => f.getStatus());
      const firstError = st.findIndex((x) => x < 0);
      const late = firstError < 0 ? -1 : st.findIndex((x, i) => i > firstError && x === 1);
      expectThat(late < 0, `${victim.queue.label}: job ${late} completed (status 1) after job ${firstError} was cancelled by the kill (statuses ${st.join(',')})`);
      expectThat(st.every((x) => x === 1 || x < 0), `${victim.queue.label}: statuses ${st.join(',')}`);
      for (const lq of queues.slice(1)) {
        const bad = lq.fences.filter((f) => f.getStatus() !== 1);
        expectThat(bad.length === 0, () => `${lq.queue.label} (not killed): ${bad.length} job(s) failed (first ${fenceLabel(bad[0]!)} status ${bad[0]!.getStatus()}) after ${victim.queue.label} was killed`);
        expectThat(lq.refused.length === 0, `${lq.queue.label} (not killed): a submit was refused with ${lq.refused[0]}`);
      }
      // A queue whose head job hangs: the kill ends it at once, not the timeout.
      if (ctx.adapter.features.hangingJobs) {
        const q = await queues[1]!.client.createQueue();
        const hung = await s.submit(q, { units: 1, kind: 'hang' });
        const behind = await s.submit(q, { units: 1 });
        await s.rt.sleep(1);
        const killedAt = s.rt.now();
        await q.kill();
        const bound = ctx.adapter.recoveryMs ?? 60_000;
        for (const f of [hung, behind]) {
          await s.waitSignalled(f, `${q.label} killed with a hung head job`);
          expectThat(f.getStatus() < 0, `${q.label} killed with a hung head job: fence ${fenceLabel(f)} signalled with ${f.getStatus()}, not an error`);
          const took = f.timestamp() - killedAt;
          expectThat(took <= bound, `${q.label} killed with a hung head job: fence ${fenceLabel(f)} signalled ${took} ms after the kill, beyond the adapter's recoveryMs ${bound}`);
        }
      }
      // The killed queue refuses work without changing anything.
      const before = s.dev.drm.snapshot();
      let errno;
      try {
        errno = await errnoOf(s.submit(victim.queue, { units: 1 }));
      } catch (e) {
        throw new CheckFailure(`a submit to the killed queue ${victim.queue.label} threw something other than a DepError: ${String(e)}`);
      }
      expectThat(errno !== null, `a submit to the killed queue ${victim.queue.label} succeeded`);
      const diff = sameSnapshot(before, s.dev.drm.snapshot());
      expectThat(diff === null, `a refused submit to the killed queue changed the device: ${diff}`);
    });
    expectNoReports(reports, 'kill-under-load');
  },
};
