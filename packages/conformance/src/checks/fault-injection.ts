/**
 * fault-injection: survival under the runtime's fault injector (`rt.faults`).
 *
 * 1. Sweep: the allocations of one job's life (its submit and its run) are counted, then
 *    the job is repeated failing the 1st, 2nd, … nth of them (`failAlloc({ nth })`, armed
 *    until the job is done). Each attempt either fails with `ENOMEM` before anything was
 *    published — the device snapshot unchanged — or, when the failure hit past the point
 *    of no return, its published fence signals with an error.
 * 2. Random phase (probability > 0): allocations fail, and the device hangs batches,
 *    stalls them and refuses firmware requests (`hw-hang`, `hw-stall`, `hw-fw-error` of
 *    @dep/hw-sim) at random under load with a kill and a close; every refused ioctl is a
 *    `DepError`, every published fence signals.
 * Either way nothing leaks and nothing is reported (a WARN is accepted only when a firmware
 * error was injected: the kernel logs a refused firmware request).
 */
import type { Fence } from '@dep/dma-fence';
import { isDepError } from '@dep/kernel';
import { CheckFailure, expectThat, type ConformanceCheck } from '../check.js';
import { sameSnapshot } from '../snapshot.js';
import { expectNoReports, runSession } from '../session.js';
import { openQueues, submitLoad } from '../workload.js';

export const faultInjection: ConformanceCheck = {
  name: 'fault-injection',
  title: 'every injected allocation failure is ENOMEM with nothing changed, or the published fence still signals; nothing leaks',
  kernel: 'failslab / fault_attr (should_failslab) on every kmalloc of the submit path; error unwinding before the point of no return (drm_sched_job_arm)',
  async run(ctx) {
    const { reports, value: fwErrors } = await runSession(ctx, { salt: 8 }, async (s): Promise<number> => {
      const { rt } = s;
      const client = await s.open();
      const queue = await client.createQueue();
      const warm = await s.submit(queue, { units: 1 });
      await s.waitSignalled(warm, queue.label);
      await rt.sleep(5);
      const before = rt.faults.calls();
      const probe = await s.submit(queue, { units: 1 });
      await s.waitSignalled(probe, queue.label);
      await rt.sleep(5);
      // Every allocation of one job's life: the ioctl's, and any its run/completion makes.
      const n = rt.faults.calls() - before;
      expectThat(n > 0, `${queue.label}: a submit made no allocation through rt.alloc(); the fault injector cannot reach it (allocate where the kernel does)`);
      for (let nth = 1; nth <= n; nth++) {
        const snap = s.dev.drm.snapshot();
        const rule = rt.faults.failAlloc({ nth });
        let outcome: { readonly fence: Fence } | { readonly error: unknown };
        try {
          outcome = { fence: await s.submit(queue, { units: 1 }) };
          // The rule stays armed until the job is done: an allocation of its run fails too.
          await s.waitSignalled(outcome.fence, `${queue.label}, allocation ${nth} of ${n} failing`);
        } catch (e) {
          if (e instanceof CheckFailure) throw e;
          outcome = { error: e };
        } finally {
          rule.remove();
        }
        if ('error' in outcome) {
          const { error } = outcome;
          if (!isDepError(error)) throw new CheckFailure(`allocation ${nth} of ${n} failed: the submit threw ${error instanceof Error ? error.message : typeof error}, not a DepError`);
          expectThat(error.code === 'ENOMEM', `allocation ${nth} of ${n} failed: the submit failed with ${error.code}, not ENOMEM (${error.message})`);
          const diff = sameSnapshot(snap, s.dev.drm.snapshot());
          expectThat(diff === null, `allocation ${nth} of ${n} failed: the submit failed with ENOMEM but changed the device: ${diff}`);
        } else if (rule.injected > 0) {
          // Failed past the point of no return: the published fence must say so.
          const st = outcome.fence.getStatus();
          expectThat(st < 0, `allocation ${nth} of ${n} failed after the job's fence was published, yet the fence signalled with status ${st}, not an error`);
        }
        await rt.sleep(5);
      }
      // Still usable afterwards.
      const ok = await s.submit(queue, { units: 1 });
      await s.waitSignalled(ok, `${queue.label} after the sweep`);
      expectThat(ok.getStatus() === 1, `${queue.label}: a job after the fault sweep signalled with ${ok.getStatus()}`);

      if (ctx.faultProbability > 0) {
        const queues = await openQueues(s, 2, 2);
        const p = ctx.faultProbability;
        const rules = [rt.faults.failAlloc({ probability: p, times: Infinity }), ...HW_FAULT_KINDS.map((kind) => rt.faults.add(kind, { probability: p, times: Infinity }))];
        try {
          const load = s.rt.spawn('conformance.faulty-load', () => submitLoad(s, queues, { jobs: ctx.jobs, tolerateRefusal: true }), { joinable: true });
          await rt.sleep(3);
          await tolerate(queues[1]!.queue.kill());
          await rt.sleep(3);
          await tolerate(s.close(queues[2]!.client));
          await load.join();
        } finally {
          for (const r of rules) r.remove();
        }
        for (const lq of queues) for (const f of lq.fences) await s.waitSignalled(f, `${lq.queue.label} under random allocation and device faults`);
      }
      return rt.faults.injected.filter((f) => f.kind === 'hw-fw-error').length;
    });
    // A firmware request refused on purpose may make the driver WARN (the kernel logs a
    // failed G2H/firmware reply): accepted then, and only then. Everything else is a bug.
    expectNoReports(fwErrors > 0 ? reports.filter((r) => r.kind !== 'warn') : reports, 'fault-injection');
  },
};

/**
 * The device faults @dep/hw-sim takes from the runtime's generic injector: a batch that
 * never completes, a batch stalled on a page fault, a firmware request refused with -EIO.
 */
const HW_FAULT_KINDS = ['hw-hang', 'hw-stall', 'hw-fw-error'] as const;

/** An ioctl under random faults may fail, but only with a DepError. */
async function tolerate(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isDepError(e)) throw new CheckFailure(`under random allocation failures an ioctl threw ${e instanceof Error ? e.message : typeof e}, not a DepError`);
  }
}
