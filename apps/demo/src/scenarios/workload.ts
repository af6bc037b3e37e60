/**
 * A small desktop workload on two mock engines, the same for every variant of a
 * comparison: the plan (times, durations) is drawn up front from the seed, so the variants
 * differ only in the queue option under test (and, under `--chaos`, in how same-instant
 * events interleave).
 *
 * - `game` renders a frame every 16 ms on the gfx engine (4–9 ms of GPU work);
 * - `compositor` composes 8 ms into each period (1–2 ms on the same engine), depending on
 *   the game's latest frame — a cross-queue dependency, drawn as an arrow;
 * - `ml` streams compute jobs (6–14 ms) to the compute engine, two in flight at most (it
 *   waits for job n-2 before pushing job n).
 */
import { Prng, type Report, type TraceRecord } from '@dep/kernel';
import type { Fence } from '@dep/dma-fence';
import { DepQueue, type DepQueueOptions, type DepQueueStats } from '@dep/queue';
import type { MockJob } from '@dep/queue/testing';
import { newSim, runMain } from '../result.js';
import type { ScenarioOptions } from './index.js';
import { TracedEngine, submitJob } from './sim.js';

export const CLIENTS: Readonly<Record<string, string>> = { 'game-gfx': 'game', 'comp-gfx': 'compositor', 'ml-compute': 'ml' };

const FRAME = 16;

export interface WorkloadPlan {
  readonly frames: number;
  readonly game: readonly { at: number; duration: number }[];
  readonly comp: readonly { at: number; duration: number }[];
  readonly ml: readonly number[];
}

/** The plan for `seed`: `frames` frames of game and compositor, and an ml stream as long. */
export function planWorkload(seed: number, frames: number): WorkloadPlan {
  const prng = new Prng(seed ^ 0x5eed);
  const between = (lo: number, hi: number): number => Math.round((lo + prng.next() * (hi - lo)) * 10) / 10;
  const game = Array.from({ length: frames }, (_, i) => ({ at: i * FRAME + between(0, 1), duration: between(4, 9) }));
  const comp = Array.from({ length: frames }, (_, i) => ({ at: i * FRAME + 8 + between(0, 1), duration: between(1, 2) }));
  const ml: number[] = [];
  let total = 0;
  while (total < frames * FRAME) {
    const d = between(6, 14);
    ml.push(d);
    total += d;
  }
  return { frames, game, comp, ml };
}

export interface WorkloadRun {
  readonly records: readonly TraceRecord[];
  readonly reports: readonly Report[];
  readonly chaos: boolean;
  readonly queues: readonly { readonly name: string; readonly stats: DepQueueStats }[];
  /** Where each job's `freeJob` ran (`worker`, `irq`, `process`), counted. */
  readonly freedIn: Readonly<Record<string, number>>;
  /** Submits that failed with ENOMEM (`--faults`). */
  readonly failedSubmits: number;
  /** False when the main task was left blocked (a deadlock; the stall report says why). */
  readonly finished: boolean;
}

/** Run the plan with `queueOptions` on every queue. */
export async function runWorkload(
  opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults' | 'progress'>,
  plan: WorkloadPlan,
  queueOptions: Pick<DepQueueOptions, 'bypass' | 'jobPutIrqSafe'>,
  name: string,
): Promise<WorkloadRun> {
  const { rt, trace, chaos, armFaults } = newSim(opts, { name, faultSite: /^drm_dep_job/ });
  const gfx = new TracedEngine(rt, 'gpu0:gfx');
  const compute = new TracedEngine(rt, 'gpu0:compute');
  const mk = (qname: string, engine: TracedEngine, creditLimit: number): DepQueue<MockJob> =>
    new DepQueue<MockJob>({ runtime: rt, name: qname, creditLimit, ops: engine.ops, ...queueOptions });
  const game = mk('game-gfx', gfx, 2);
  const comp = mk('comp-gfx', gfx, 2);
  const ml = mk('ml-compute', compute, 2);
  const keep: Fence[] = [];
  let failed = 0;
  let done = 0;
  const total = plan.game.length + plan.comp.length + plan.ml.length;
  const step = (): void => {
    done++;
    opts.progress?.(done, total);
  };
  const submit = (q: DepQueue<MockJob>, duration: number, deps: readonly (Fence | null)[] = []): Fence | null => {
    const f = submitJob(q, { duration, deps });
    if (f === null) failed++;
    else keep.push(f);
    step();
    return f;
  };
  let lastFrame: Fence | null = null;

  const { finished } = await runMain(rt, async () => {
    armFaults();
    const clients = [
      rt.spawn('game', async () => {
        for (const j of plan.game) {
          await rt.sleep(Math.max(0, j.at - rt.now()));
          lastFrame = submit(game, j.duration) ?? lastFrame;
        }
      }),
      rt.spawn('compositor', async () => {
        for (const j of plan.comp) {
          await rt.sleep(Math.max(0, j.at - rt.now()));
          submit(comp, j.duration, [lastFrame]);
        }
      }),
      rt.spawn('ml', async () => {
        const inFlight: Fence[] = [];
        for (const d of plan.ml) {
          if (inFlight.length >= 2) await inFlight.shift()!.wait();
          const f = submit(ml, d);
          if (f !== null) inFlight.push(f);
        }
      }),
    ];
    for (const c of clients) await c.join();
    for (const f of keep) await f.wait();
    for (const f of keep) f.put();
    await game.fini();
    await comp.fini();
    await ml.fini();
  });
  const reports = rt.shutdown();
  const freedIn: Record<string, number> = {};
  for (const e of [gfx, compute]) for (const c of e.driver.freedIn) freedIn[c] = (freedIn[c] ?? 0) + 1;
  return {
    records: trace.records,
    reports,
    chaos,
    queues: [game, comp, ml].map((q) => ({ name: q.name, stats: { ...q.stats } })),
    freedIn,
    failedSubmits: failed,
    finished,
  };
}
