/**
 * `inactive-fence`: a submit that fails between `arm` and `push` (rfc-designs E.2), with
 * and without INACTIVE finished fences.
 *
 * An `app` client submits a frame every 8 ms; its driver arms the job, tries to publish
 * the out-fence in the app's syncobj at once (as drivers that export early do), then does
 * one more fallible step — every third submit it fails (a copy_to_user of the out-fence
 * handle: -EFAULT) — and only then pushes. A `display` client composes every 8 ms from
 * whatever fence the syncobj holds.
 *
 * - `without` (the drm_sched contract: nothing between arm and push may fail): the early
 *   publish succeeds, so the failure leaves a published fence with no job behind it. The
 *   queue WARNs ("armed and freed without push") and signals it with -ECANCELED; the
 *   display composes from a cancelled frame.
 * - `with` INACTIVE: the syncobj refuses the armed fence (it is inactive until push), so
 *   the driver publishes after push; a failure before push drops an unpublished fence:
 *   nothing signalled with an error, the display keeps the previous frame.
 *
 * With INACTIVE the run is WARN-free: the dropped job's seqno is a gap the queue's
 * push-order check skips (an earlier version of @dep/queue WARNed there, found by this
 * scenario).
 */
import { isDepError } from '@dep/kernel';
import { Syncobj, type Fence } from '@dep/dma-fence';
import { DepQueue } from '@dep/queue';
import { MockJob } from '@dep/queue/testing';
import { makeResult, newSim, queueStats, runMain } from '../result.js';
import type { QueueStats, RunTrace, Scenario, ScenarioOptions, ScenarioResult } from './index.js';
import { MOCK_ENGINES_WHY, TracedEngine, submitJob } from './sim.js';

const CLIENTS = { 'app-gfx': 'app', 'display-gfx': 'display' } as const;
const FRAMES = 12;

interface VariantRun {
  readonly label: string;
  readonly trace: RunTrace;
  readonly attempted: number;
  readonly failedBetweenArmAndPush: number;
  readonly refusedEarlyPublish: number;
  readonly cancelledPublished: number;
  readonly displayFromCancelled: number;
  readonly warns: number;
  readonly leaks: number;
  readonly stats: QueueStats[];
}

async function runVariant(opts: ScenarioOptions, inactiveFences: boolean): Promise<VariantRun> {
  const label = inactiveFences ? 'with' : 'without';
  const { rt, trace, armFaults } = newSim(opts, { name: `inactive-fence/${label}`, faultSite: /^drm_dep_job/ });
  const gfx = new TracedEngine(rt, 'gpu0:gfx');
  const app = new DepQueue<MockJob>({ runtime: rt, name: 'app-gfx', creditLimit: 2, ops: gfx.ops, inactiveFences });
  const display = new DepQueue<MockJob>({ runtime: rt, name: 'display-gfx', creditLimit: 2, ops: gfx.ops, inactiveFences });
  const out = Syncobj.create({ runtime: rt });
  const keep: Fence[] = [];
  let attempted = 0;
  let failed = 0;
  let refused = 0;
  let fromCancelled = 0;
  const cancelled = new Set<Fence>();

  await runMain(rt, async () => {
    armFaults();
    const appTask = rt.spawn('app', async () => {
      for (let i = 1; i <= FRAMES; i++) {
        await rt.sleep(i === 1 ? 0 : 8);
        attempted++;
        let job: MockJob;
        try {
          job = new MockJob(app, { duration: 3 });
        } catch (e) {
          if (isDepError(e, 'ENOMEM')) continue; // --faults: the ioctl fails before arm
          throw e;
        }
        const armed = job.arm();
        const f = armed.finishedFence();
        let published = false;
        try {
          out.replaceFence(f); // export early: refused while the fence is INACTIVE
          published = true;
        } catch {
          refused++;
        }
        if (i % 3 === 0) {
          // copy_to_user of the out-fence handle failed: -EFAULT, unwind before push.
          failed++;
          if (published) cancelled.add(f.get());
          job.put();
          continue;
        }
        armed.push();
        if (!published) out.replaceFence(f);
        keep.push(f.get());
        armed.put();
      }
    });
    const displayTask = rt.spawn('display', async () => {
      for (let i = 1; i <= FRAMES; i++) {
        await rt.sleep(i === 1 ? 4 : 8);
        const frame = out.fenceGet();
        if (frame !== null && cancelled.has(frame)) fromCancelled++;
        const f = submitJob(display, { duration: 1, deps: [frame] });
        frame?.put();
        if (f !== null) keep.push(f);
      }
    });
    await appTask.join();
    await displayTask.join();
    for (const f of keep) await f.wait();
    for (const f of [...keep, ...cancelled]) f.put();
    out.put();
    await app.fini();
    await display.fini();
  });
  const reports = rt.shutdown();
  const t: RunTrace = { label, records: trace.records, clients: CLIENTS, reports };
  return {
    label,
    trace: t,
    attempted,
    failedBetweenArmAndPush: failed,
    refusedEarlyPublish: refused,
    cancelledPublished: cancelled.size,
    displayFromCancelled: fromCancelled,
    warns: reports.filter((r) => r.kind === 'warn').length,
    leaks: reports.filter((r) => r.kind === 'leak').length,
    stats: queueStats(t, { variant: label }),
  };
}

export const inactiveFenceScenario: Scenario = {
  name: 'inactive-fence',
  faultKinds: ['alloc'],
  faultKindsWhy: MOCK_ENGINES_WHY,
  summary: 'a submit failing between arm and push (rfc-designs E.2): a published, cancelled fence without INACTIVE; a silent drop with it',
  async run(opts): Promise<ScenarioResult> {
    const runs = [await runVariant(opts, false), await runVariant(opts, true)];
    for (const r of runs) {
      opts.log(
        `${opts.colors.bold(r.label.padEnd(8))} INACTIVE: ${r.attempted} submits, ${r.failedBetweenArmAndPush} failed between arm and push; ` +
          (r.cancelledPublished > 0
            ? opts.colors.yellow(`${r.cancelledPublished} already-published fence(s) signalled -ECANCELED, ${r.displayFromCancelled} display frame(s) composed from one`)
            : opts.colors.green(`the early publish was refused ${r.refusedEarlyPublish}×; failed submits dropped unpublished fences`)),
      );
    }
    const traces = runs.map((r) => r.trace);
    return makeResult('inactive-fence', opts, {
      traces,
      reports: traces.flatMap((t) => t.reports ?? []),
      stats: runs.flatMap((r) => r.stats),
      chaos: opts.chaos === true,
      comparison: {
        title: 'a failure between arm and push, without and with INACTIVE fences',
        columns: runs.map((r) => r.label),
        rows: [
          { label: 'submits attempted', values: runs.map((r) => r.attempted) },
          { label: 'failed between arm and push', values: runs.map((r) => r.failedBetweenArmAndPush) },
          { label: 'early publish refused (INACTIVE)', values: runs.map((r) => r.refusedEarlyPublish) },
          { label: 'published fences signalled -ECANCELED', values: runs.map((r) => r.cancelledPublished) },
          { label: 'display frames composed from one', values: runs.map((r) => r.displayFromCancelled) },
          { label: 'WARNs', values: runs.map((r) => r.warns) },
          { label: 'leaks', values: runs.map((r) => r.leaks) },
        ],
      },
    });
  },
};
