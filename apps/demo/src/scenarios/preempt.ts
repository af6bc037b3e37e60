/**
 * `preempt-deadlock` and `foreign-resv`: the RFC's preempt-fence deadlocks (rfc-designs
 * B.2, B.3), replayed from `@dep/fence-preempt/scenarios` with a trace attached.
 *
 * The package's scenarios run a VM whose user queue `vm0-q0` writes seqno k at k × 10 ms,
 * export "seqno 5" as a dma-fence U, and evict a buffer at 25 ms under one of the ordering
 * designs: `none`, `slot` (the preempt fence in the PREEMPT resv usage, v1) or `gate` (the
 * preempt fence's worker waits for the last exported fence, v2). The demo adds the user queue's running time as an engine
 * lane and the scenario's narrative as markers, so the timeline shows the preemption, the
 * cycle report and — for the designs that deadlock — the 5 s user-fence TDR.
 */
import { MemoryTraceSink, Runtime, type Report, type TraceRecord } from '@dep/kernel';
import { evictionScenario, foreignResvScenario as foreignResvRun, type ScenarioDesign, type ScenarioResult as PreemptResult } from '@dep/fence-preempt/scenarios';
import { judge, makeResult } from '../result.js';
import '../trace-events.js';
import type { FaultKind, QueueStats, RunTrace, Scenario, ScenarioOptions, ScenarioParam, ScenarioResult, Verdict } from './index.js';

/** The designs the demo runs: both RFC orderings, no ordering, and Christian's push-style manager. */
export const DESIGNS: readonly ScenarioDesign[] = ['none', 'slot', 'gate', 'manager'];
const USER_QUEUE_LANE = 'engine:vm0-q0 (user queue)';
const NARRATIVE_LANE = 'scenario';

function orderingParam(defaultValue: string): ScenarioParam {
  return {
    name: 'ordering',
    description: 'preempt-fence ordering design: none, slot (PREEMPT resv usage), gate (wait for the last exported fence), all (side by side)',
    choices: [...DESIGNS, 'all'],
    default: defaultValue,
  };
}

/**
 * The scenario's narrative (`"    25ms  vm0-q0: preemption requested"`) as trace records:
 * the user queue's running spans on an engine lane, its preemptions and seqno writes as
 * markers there, everything else as markers on a narrative lane.
 */
export function narrativeRecords(timeline: readonly string[], endedAt: number): TraceRecord[] {
  const out: TraceRecord[] = [];
  let runningSince: number | null = null;
  let started = false;
  const span = (from: number, to: number): void => {
    out.push({ name: 'demo:span', ts: from, ph: 'X', dur: Math.max(0, to - from), lane: USER_QUEUE_LANE, args: { name: 'vm0-q0 running', client: 'vm0' } });
  };
  const note = (ts: number, lane: string, text: string, kind?: string): void => {
    out.push({ name: 'demo:note', ts, ph: 'i', lane, args: { text, kind } });
  };
  for (const line of timeline) {
    const m = /^\s*(\d+(?:\.\d+)?)ms {2}(.*)$/.exec(line);
    if (!m) continue;
    const ts = Number(m[1]);
    const text = m[2]!;
    if (text.startsWith('vm0-q0: ')) {
      const what = text.slice('vm0-q0: '.length);
      if (!started) {
        // The queue starts with the scenario (before its first write).
        started = true;
        runningSince = 0;
      }
      if (what.startsWith('resumed')) runningSince = ts;
      else if ((what.startsWith('suspended') || what.startsWith('banned')) && runningSince !== null) {
        span(runningSince, ts);
        runningSince = null;
      }
      note(ts, USER_QUEUE_LANE, text, what.startsWith('preemption') ? 'preempt' : what.startsWith('banned') ? 'fault' : 'event');
    } else {
      const kind = text.startsWith('FENCE-CYCLE') ? 'report' : text.startsWith('user-fence TDR') ? 'timeout' : 'event';
      note(ts, NARRATIVE_LANE, text, kind);
    }
  }
  if (runningSince !== null) span(runningSince, endedAt);
  return out;
}

/** When the preempt scenarios' set-up is over (ms of virtual time): before it nothing is faulted. */
export const PREEMPT_SETUP_MS = 1;

interface DesignRun {
  readonly design: ScenarioDesign;
  readonly result: PreemptResult;
  readonly trace: RunTrace;
  readonly reports: readonly Report[];
}

async function runDesign(
  fn: typeof evictionScenario,
  design: ScenarioDesign,
  opts: ScenarioOptions,
  label: string,
): Promise<DesignRun> {
  const rt = new Runtime({ seed: opts.seed, chaos: opts.chaos === true, checks: 'warn', name: `${label}/${design}` });
  const sink = new MemoryTraceSink();
  rt.trace.attach(sink);
  // Faults are armed once the set-up is done (the world's workqueues, made synchronously
  // when `fn` starts, and vm0's queue, preempt fence and exported user fence at t = 0),
  // so they hit the eviction, preemption and resume paths, not alloc_workqueue.
  rt.spawn('harness-arm', async () => {
    await rt.sleep(PREEMPT_SETUP_MS);
    opts.harnessFaults?.arm(rt);
    if (opts.faults === true) rt.faults.failAlloc({ probability: 0.05 });
  });
  const result = await fn({ design, runtime: rt });
  const reports = rt.shutdown();
  const records = [...sink.records, ...narrativeRecords(result.timeline, result.endedAt)].sort((x, y) => x.ts - y.ts);
  return { design, result, reports, trace: { label: design, records, clients: { 'vm0-q0': 'vm0' }, reports } };
}

function stats(run: DesignRun, variant: boolean): QueueStats {
  const r = run.result;
  const u = r.userFence;
  return {
    ...(variant ? { variant: run.design } : {}),
    client: 'vm0',
    queue: 'vm0-q0 (user queue)',
    jobs: Number(r.seqnos.expected),
    completed: Number(r.seqnos.written),
    errors: Number(r.seqnos.lost),
    latencyP50: null,
    latencyP99: null,
    preemptions: r.timeline.filter((l) => l.includes('vm0-q0: preemption requested')).length,
    timeouts: r.tdr === null ? 0 : 1,
    extra: {
      'user fence U': u.status === 1 ? `signalled at ${u.signalledAt} ms` : `${u.status} at ${u.signalledAt ?? '–'} ms`,
      VM: r.vmKilled ? 'killed' : 'alive',
    },
  };
}

function verdictOf(runs: readonly DesignRun[]): Verdict {
  const base = judge(
    runs.map((r) => r.trace),
    runs.flatMap((r) => r.reports),
  );
  if (runs.length === 1) {
    const r = runs[0]!.result;
    if (r.deadlock) return { ok: false, outcome: 'cycle found', detail: `${r.cycle?.message ?? 'a fence wait-for cycle'}; at ${r.tdr?.firedAt ?? '?'} ms the user-fence TDR signalled U with -ETIME and killed the VM (${r.seqnos.lost} seqnos lost)` };
    if (base.ok) return { ok: true, outcome: 'all fences signalled', detail: `no cycle: the queue wrote all ${r.seqnos.written} seqnos, U signalled at ${r.userFence.signalledAt} ms` };
    return base;
  }
  const dead = runs.filter((r) => r.result.deadlock).map((r) => r.design);
  const alive = runs.filter((r) => !r.result.deadlock).map((r) => r.design);
  const detail = `${dead.length > 0 ? `${dead.join(', ')}: cycle found, VM killed by the TDR` : 'no design deadlocked'}; ${alive.length > 0 ? `${alive.join(', ')}: complete, nothing lost` : 'no design survived'}`;
  return dead.length > 0 ? { ok: false, outcome: 'cycle found', detail } : { ...base, detail };
}

async function runPreempt(name: string, fn: typeof evictionScenario, opts: ScenarioOptions): Promise<ScenarioResult> {
  const ordering = opts.params?.ordering ?? 'none';
  const designs = ordering === 'all' ? DESIGNS : [ordering as ScenarioDesign];
  const runs: DesignRun[] = [];
  for (const [i, design] of designs.entries()) {
    const run = await runDesign(fn, design, opts, name);
    runs.push(run);
    opts.progress?.(i + 1, designs.length);
    if (designs.length > 1) opts.log(opts.colors.bold(`— ordering ${design} —`));
    for (const line of run.result.timeline) {
      const colored = /FENCE-CYCLE|TDR|banned|killed/.test(line) ? opts.colors.red(line) : /preemption requested|suspended|resumed/.test(line) ? opts.colors.cyan(line) : line;
      opts.log(colored);
    }
  }
  const multi = runs.length > 1;
  return makeResult(name, opts, {
    traces: runs.map((r) => r.trace),
    reports: runs.flatMap((r) => r.reports),
    stats: runs.map((r) => stats(r, multi)),
    chaos: opts.chaos === true,
    verdict: verdictOf(runs),
    ...(multi
      ? {
          comparison: {
            title: 'the same scenario under each ordering design',
            columns: runs.map((r) => r.design),
            rows: [
              { label: 'fence wait-for cycle', values: runs.map((r) => (r.result.deadlock ? `at ${r.result.cycle?.time ?? '?'} ms` : 'no')) },
              { label: 'user fence U', values: runs.map((r) => (r.result.userFence.status === 1 ? `ok at ${r.result.userFence.signalledAt} ms` : `-ETIME at ${r.result.userFence.signalledAt} ms`)) },
              { label: 'user-fence TDR', values: runs.map((r) => (r.result.tdr ? `at ${r.result.tdr.firedAt} ms` : 'no')) },
              { label: 'VM killed', values: runs.map((r) => (r.result.vmKilled ? 'yes' : 'no')) },
              { label: 'seqnos written / lost', values: runs.map((r) => `${r.result.seqnos.written} / ${r.result.seqnos.lost}`) },
              { label: 'fences never signalled', values: runs.map((r) => r.result.unsignalled.length) },
            ],
          },
        }
      : {}),
  });
}

/** The preempt scenarios' world (@dep/fence-preempt) is a model VM and TTM without a device: allocations are all it can fail. */
const PREEMPT_FAULT_KINDS: readonly FaultKind[] = ['alloc'];
const PREEMPT_WHY = 'a model VM, queue and TTM (@dep/fence-preempt/scenarios) without hw-sim: no firmware, page fault, context kill or device to lose';

export const preemptDeadlockScenario: Scenario = {
  name: 'preempt-deadlock',
  faultKinds: PREEMPT_FAULT_KINDS,
  faultKindsWhy: PREEMPT_WHY,
  summary: "the RFC's preempt-fence deadlock (B.2): eviction waits for a user fence whose writer the preempt fence suspends",
  params: [orderingParam('none')],
  run: (opts) => runPreempt('preempt-deadlock', evictionScenario, opts),
};

export const foreignResvScenario: Scenario = {
  name: 'foreign-resv',
  faultKinds: PREEMPT_FAULT_KINDS,
  faultKindsWhy: PREEMPT_WHY,
  summary: "B.3: the user fence reaches another client's resv through a syncobj — only the gate design survives",
  params: [orderingParam('all')],
  run: (opts) => runPreempt('foreign-resv', foreignResvRun, opts),
};
