/**
 * `teardown-under-load`: a client's queue is destroyed with work everywhere — jobs on the
 * hardware, jobs waiting for credits, a job waiting for another client's fence — once
 * with `teardown: 'sync'` and once with `'async'` (rfc-designs E.4, decision 0505).
 *
 * The `game` queue shares the gfx engine with a `compositor` that keeps submitting. At
 * 10 ms the game exits and its queue is finalised: jobs on the hardware are cancelled
 * (-ECANCELED), queued ones complete with -ESRCH after their own dependencies, the
 * firmware deregistration takes 5 ms. `sync` returns from `fini()` when all of that is
 * done; `async` returns at once and a worker finishes it. Either way every fence signals,
 * nothing leaks, and the compositor carries on.
 */
import type { Fence } from '@dep/dma-fence';
import { DepQueue, type DepTeardown } from '@dep/queue';
import type { MockJob } from '@dep/queue/testing';
import { makeResult, newSim, queueStats, runMain } from '../result.js';
import type { QueueStats, RunTrace, Scenario, ScenarioOptions, ScenarioResult } from './index.js';
import { MOCK_ENGINES_WHY, TracedEngine, submitJob } from './sim.js';

const CLIENTS = { 'game-gfx': 'game', 'comp-gfx': 'compositor' } as const;
const ECANCELED = -125;
const ESRCH = -3;

interface VariantRun {
  readonly label: DepTeardown;
  readonly trace: RunTrace;
  readonly finiReturnedAfter: number;
  readonly releasedAfter: number;
  readonly game: { done: number; cancelled: number; killed: number; other: number };
  readonly compositorDone: number;
  readonly compositorJobs: number;
  readonly stats: QueueStats[];
  readonly leaks: number;
  readonly warns: number;
}

async function runVariant(opts: ScenarioOptions, teardown: DepTeardown): Promise<VariantRun> {
  const { rt, trace, armFaults } = newSim(opts, { name: `teardown/${teardown}`, faultSite: /^drm_dep_job/ });
  const gfx = new TracedEngine(rt, 'gpu0:gfx', {
    deregister: async () => {
      await rt.sleep(5); // the firmware's two deregistration replies
    },
  });
  const game = new DepQueue<MockJob>({ runtime: rt, name: 'game-gfx', creditLimit: 2, ops: gfx.ops, teardown });
  const comp = new DepQueue<MockJob>({ runtime: rt, name: 'comp-gfx', creditLimit: 2, ops: gfx.ops });
  const gameFences: Fence[] = [];
  const compFences: Fence[] = [];
  let finiReturnedAfter = NaN;
  let releasedAfter = NaN;

  await runMain(rt, async () => {
    armFaults();
    const compositor = rt.spawn('compositor', async () => {
      for (let i = 0; i < 8; i++) {
        const f = submitJob(comp, { duration: 2 });
        if (f !== null) compFences.push(f);
        await rt.sleep(5);
      }
    });
    const gameTask = rt.spawn('game', async () => {
      for (let i = 0; i < 6; i++) {
        const f = submitJob(game, { duration: 4 });
        if (f !== null) gameFences.push(f);
      }
      await rt.sleep(3);
      // A frame that needs the compositor's next output: queued behind a foreign fence.
      const f = submitJob(game, { duration: 4, deps: [compFences.at(-1) ?? null] });
      if (f !== null) gameFences.push(f);
      await rt.sleep(7);
      // The game exits with all of that in flight.
      const t0 = rt.now();
      await game.fini();
      finiReturnedAfter = rt.now() - t0;
      await game.waitReleased();
      releasedAfter = rt.now() - t0;
    });
    await gameTask.join();
    await compositor.join();
    for (const f of [...gameFences, ...compFences]) await f.wait();
    await comp.fini();
  });
  const classify = { done: 0, cancelled: 0, killed: 0, other: 0 };
  for (const f of gameFences) {
    const s = f.getStatus();
    if (s === 1) classify.done++;
    else if (s === ECANCELED) classify.cancelled++;
    else if (s === ESRCH) classify.killed++;
    else classify.other++;
  }
  const compositorDone = compFences.filter((f) => f.getStatus() === 1).length;
  for (const f of [...gameFences, ...compFences]) f.put();
  const reports = rt.shutdown();
  const t: RunTrace = { label: teardown, records: trace.records, clients: CLIENTS, reports };
  return {
    label: teardown,
    trace: t,
    finiReturnedAfter,
    releasedAfter,
    game: classify,
    compositorDone,
    compositorJobs: compFences.length,
    stats: queueStats(t, { variant: teardown }),
    leaks: reports.filter((r) => r.kind === 'leak').length,
    warns: reports.filter((r) => r.kind === 'warn').length,
  };
}

export const teardownUnderLoadScenario: Scenario = {
  name: 'teardown-under-load',
  faultKinds: ['alloc'],
  faultKindsWhy: `${MOCK_ENGINES_WHY}; tearing down under load is the scenario itself`,
  summary: 'a queue destroyed with jobs on the hardware, queued and waiting (rfc-designs E.4): sync vs async teardown',
  async run(opts): Promise<ScenarioResult> {
    const runs = [await runVariant(opts, 'sync'), await runVariant(opts, 'async')];
    for (const r of runs) {
      opts.log(
        `${opts.colors.bold(r.label.padEnd(6))} teardown: fini() returned after ${r.finiReturnedAfter} ms, queue released after ${r.releasedAfter} ms; ` +
          `game jobs: ${r.game.done} done, ${r.game.cancelled} cancelled on the hardware, ${r.game.killed} killed while queued; ` +
          `compositor: ${r.compositorDone}/${r.compositorJobs} done`,
      );
    }
    const traces = runs.map((r) => r.trace);
    return makeResult('teardown-under-load', opts, {
      traces,
      reports: traces.flatMap((t) => t.reports ?? []),
      stats: runs.flatMap((r) => r.stats),
      chaos: opts.chaos === true,
      comparison: {
        title: 'tearing down a busy queue: sync vs async',
        columns: runs.map((r) => r.label),
        rows: [
          { label: 'fini() returned after (ms)', values: runs.map((r) => r.finiReturnedAfter) },
          { label: 'queue released after (ms)', values: runs.map((r) => r.releasedAfter) },
          { label: 'game jobs done before teardown', values: runs.map((r) => r.game.done) },
          { label: 'cancelled on the hardware (-ECANCELED)', values: runs.map((r) => r.game.cancelled) },
          { label: 'killed while queued (-ESRCH)', values: runs.map((r) => r.game.killed) },
          { label: 'compositor jobs done', values: runs.map((r) => `${r.compositorDone}/${r.compositorJobs}`) },
          { label: 'WARNs', values: runs.map((r) => r.warns) },
          { label: 'leaks', values: runs.map((r) => r.leaks) },
        ],
      },
    });
  },
};
