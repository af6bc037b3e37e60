/**
 * `hang-recovery [--driver xe|panthor|amdxdna|all]`: one context hangs on each chosen
 * driver, all on one runtime; the driver's own recovery runs (xe's TDR bans the exec
 * queue, panthor's progress timeout terminates the group, amdxdna's 60 s timeout re-creates
 * the context — see `hang-cases.ts`), the hung client recovers, another client on the same
 * device carries on throughout, and every fence signals (the hung ones with an error).
 * Under the harness's faults both clients ride them out (retry, re-create a lost context).
 */
import { Completion, type Report, type TraceRecord } from '@dep/kernel';
import { judge, makeResult, newSim, queueStats, runMain } from '../result.js';
import '../trace-events.js';
import { amdxdnaHangCase, panthorHangCase, xeHangCase, type HangCase } from './hang-cases.js';
import type { FaultKind, RunTrace, Scenario, ScenarioOptions, ScenarioResult, Verdict } from './index.js';
import { DRIVER_NAMES, createDevices, finiDevices, type DriverName } from './three-drivers.js';

const NARRATIVE_LANE = 'scenario';

/** What a hang-recovery run did. */
export interface HangRecoveryRun {
  readonly records: readonly TraceRecord[];
  readonly reports: readonly Report[];
  readonly clients: Readonly<Record<string, string>>;
  readonly chaos: boolean;
  readonly finished: boolean;
  readonly cases: readonly HangCase[];
  /** Faults were asked for (`--faults` or the harness): an innocent job failing is then expected, and a lost device needs no recovery. */
  readonly faulted: boolean;
}

/** Run the chosen drivers' cases concurrently on one runtime. */
export async function runHangRecovery(opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults' | 'harnessFaults'>, drivers: readonly DriverName[] = DRIVER_NAMES): Promise<HangRecoveryRun> {
  const { rt, trace, chaos, armFaults } = newSim(opts, { name: 'hang-recovery' });
  const kinds = opts.harnessFaults?.kinds ?? [];
  const devices = createDevices(rt);
  const cases: HangCase[] = [];
  const note = (text: string, kind = 'event'): void => {
    if (rt.trace.enabled) rt.trace.emit('demo:note', { text, kind }, { lane: NARRATIVE_LANE });
  };
  const { finished } = await runMain(rt, async () => {
    // The set-up barrier: once every case's clients exist, the faults are armed and the cases go on.
    const setUp = new Completion(rt, 'hang-recovery: set-up done');
    let waiting = drivers.length;
    const ready = async (): Promise<void> => {
      if (--waiting === 0) {
        armFaults();
        setUp.completeAll();
      }
      await setUp.waitForCompletion();
    };
    const env = { ready, kinds };
    const tasks = drivers.map((d) =>
      rt.spawn(
        `${d}-hung`,
        (): Promise<HangCase> => (d === 'xe' ? xeHangCase(rt, devices.xe, note, env) : d === 'panthor' ? panthorHangCase(rt, devices.panthor, note, env) : amdxdnaHangCase(rt, devices.amdxdna, note, env)),
        { joinable: true },
      ),
    );
    for (const t of tasks) cases.push(await t.join());
    for (const c of cases) for (const what of c.injected) opts.harnessFaults?.fired(what);
    await rt.sleep(1);
    await finiDevices(devices);
  });
  const reports = rt.shutdown();
  const clients = Object.assign({}, ...cases.map((c) => c.clients)) as Record<string, string>;
  return { records: trace.records, reports, clients, chaos, finished, cases, faulted: opts.faults === true || kinds.length > 0 };
}

/** The verdict: the shared fence/leak rules, then: each hung job errored, its recovery job and every healthy job completed. */
export function hangVerdict(run: HangRecoveryRun, traces: readonly RunTrace[]): Verdict {
  const base = judge(traces, run.reports);
  if (!base.ok) return base;
  if (!run.finished) return { ok: false, outcome: 'deadlock', detail: 'the main task never finished, with nothing left to run' };
  for (const c of run.cases) {
    if (!(c.hungStatuses[0]! < 0)) return { ok: false, outcome: 'hang not detected', detail: `${c.driver}: the hung job signalled ${c.hungStatuses[0]}` };
    if (c.recoveryStatus !== 1 && !c.deviceLost) return { ok: false, outcome: 'not recovered', detail: `${c.driver}: the job after the recovery signalled ${c.recoveryStatus}` };
    const bad = c.okStatuses.filter((s) => s !== 1).length;
    // Under faults the healthy client may be hit itself (a fault on its context, a kill): it re-created and carried on.
    if (bad > 0 && !run.faulted) return { ok: false, outcome: 'innocent client hit', detail: `${c.driver}: ${bad} of ${c.okStatuses.length} jobs of ${c.okClient} failed` };
  }
  const parts = run.cases.map((c) => {
    const okJobs = c.okStatuses.filter((s) => s === 1).length;
    return `${c.driver}: hung job ${c.hungStatuses[0]} at ${+c.hungAt.toFixed(1)} ms, ${c.action}; ${c.okClient} ${okJobs}/${c.okStatuses.length} ok${c.injected.length > 0 ? `; injected: ${c.injected.join(', ')}` : ''}`;
  });
  return { ok: true, outcome: base.outcome, detail: `${base.detail} (the hung ones with an error) — ${parts.join('; ')}` };
}

function clientOrder(run: HangRecoveryRun, client: string): number {
  const i = run.cases.findIndex((c) => c.hungClient === client || c.okClient === client);
  return i < 0 ? Number.MAX_SAFE_INTEGER : 2 * i + (run.cases[i]!.hungClient === client ? 0 : 1);
}

export function hangRecoveryResult(run: HangRecoveryRun, opts: ScenarioOptions): ScenarioResult {
  const trace: RunTrace = { label: 'hang-recovery', records: run.records, clients: run.clients, reports: run.reports };
  // One block per client (a re-created queue or group under its first one); idle queues left out.
  const stats = queueStats(trace)
    .filter((s) => s.jobs > 0 || s.queue in run.clients)
    .sort((a, b) => clientOrder(run, a.client) - clientOrder(run, b.client));
  return makeResult('hang-recovery', opts, { traces: [trace], reports: run.reports, stats, chaos: run.chaos, verdict: hangVerdict(run, [trace]) });
}

/**
 * The harness faults hang-recovery takes: every site kind (armed once every case's clients
 * exist), `kill` and `teardown` (the healthy client's context destroyed / its file closed
 * with a job in flight) and `device-lost` (the NPU, while its command hangs: amdxdna is the
 * one driver modelling it; with `--driver xe|panthor` nothing is lost).
 */
export const HANG_RECOVERY_FAULT_KINDS: readonly FaultKind[] = ['alloc', 'hang', 'fw-error', 'page-fault', 'kill', 'teardown', 'device-lost'];

export const hangRecoveryScenario: Scenario = {
  name: 'hang-recovery',
  summary: "one context hangs per driver: xe's TDR bans the queue, panthor's progress timeout kills the group, amdxdna re-creates the context; the other clients carry on",
  params: [{ name: 'driver', description: 'which driver gets the hung context (all: each of them, at once)', choices: [...DRIVER_NAMES, 'all'], default: 'all' }],
  faultKinds: HANG_RECOVERY_FAULT_KINDS,
  async run(opts: ScenarioOptions): Promise<ScenarioResult> {
    const which = opts.params?.driver ?? 'all';
    const drivers = which === 'all' ? DRIVER_NAMES : [which as DriverName];
    const run = await runHangRecovery(opts, drivers);
    opts.log(opts.colors.dim('virtual time  event'));
    for (const r of run.records) {
      if (r.name !== 'demo:note') continue;
      const { text, kind } = r.args as { text: string; kind?: string };
      const line = `${r.ts.toFixed(3).padStart(10)} ms  ${text}`;
      opts.log(kind === 'timeout' || kind === 'fault' ? opts.colors.red(line) : line);
    }
    return hangRecoveryResult(run, opts);
  },
};
