/**
 * `bypass-vs-worker` and `irq-put`: the same workload (workload.ts) under each side of a
 * drm_dep option debate, with the numbers side by side.
 *
 * Virtual time prices CPU work at zero: a worker wake-up costs no time here, so latencies
 * agree between the variants (they differ only by how same-instant events interleave), and
 * the difference shows in the counts — work items executed, where `runJob` and `freeJob`
 * ran. Those are the numbers the drm_dep RFC set out to measure (rfc-designs E.1, E.3).
 */
import { percentile, makeResult, queueStats, traceEnd } from '../result.js';
import type { Comparison, QueueStats, RunTrace, Scenario, ScenarioOptions, ScenarioParam, ScenarioResult } from './index.js';
import { MOCK_ENGINES_WHY } from './sim.js';
import { CLIENTS, planWorkload, runWorkload, type WorkloadRun } from './workload.js';

const FRAMES: ScenarioParam = {
  name: 'frames',
  description: 'frames of workload (16 ms each) per variant',
  integer: { min: 1, max: 100_000 },
  default: '12',
};

function latencies(run: WorkloadRun, from: string, to: string): number[] {
  const t0 = new Map<string, number>();
  const out: number[] = [];
  for (const r of run.records) {
    const args = r.args as { queue?: string; seqno?: bigint; error?: number };
    if (args.seqno === undefined) continue;
    const key = `${args.queue}#${args.seqno}`;
    if (r.name === from) t0.set(key, r.ts);
    else if (r.name === to && (to !== 'drm_dep:job_done' || args.error === 0)) {
      const t = t0.get(key);
      if (t !== undefined) out.push(r.ts - t);
    }
  }
  return out;
}

const fmt = (ms: number | null): string => (ms === null ? '–' : `${+ms.toFixed(3)}`);

interface Variant {
  readonly label: string;
  readonly options: { readonly bypass?: boolean; readonly jobPutIrqSafe?: boolean };
}

async function compare(
  scenario: string,
  opts: ScenarioOptions,
  variants: readonly Variant[],
  rows: (runs: readonly WorkloadRun[]) => Comparison['rows'],
  title: string,
  extra: (run: WorkloadRun, queue: string) => Record<string, number | string>,
): Promise<ScenarioResult> {
  const frames = Number(opts.params?.frames ?? FRAMES.default);
  const plan = planWorkload(opts.seed, frames);
  const jobs = plan.game.length + plan.comp.length + plan.ml.length;
  opts.log(
    opts.colors.dim(
      `workload: ${frames} frame(s) of game + compositor on gpu0:gfx, ${plan.ml.length} ml job(s) on gpu0:compute; ${jobs} jobs per variant, ` +
        `run once per variant: ${variants.map((v) => v.label).join(', ')}`,
    ),
  );
  const runs: WorkloadRun[] = [];
  for (const [i, v] of variants.entries()) {
    const base = i * jobs;
    const run = await runWorkload(
      { ...opts, ...(opts.progress ? { progress: (d: number) => opts.progress!(base + d, jobs * variants.length) } : {}) },
      plan,
      v.options,
      `${scenario}/${v.label}`,
    );
    runs.push(run);
    const failed = run.failedSubmits > 0 ? `, ${run.failedSubmits} submit(s) failed with ENOMEM and were unwound` : '';
    opts.log(`${opts.colors.bold(v.label.padEnd(8))} ${run.finished ? 'finished' : opts.colors.red('blocked')} at ${+traceEnd(run.records).toFixed(3)} ms${failed}`);
  }
  const traces: RunTrace[] = runs.map((run, i) => ({ label: variants[i]!.label, records: run.records, clients: CLIENTS, reports: run.reports }));
  const stats: QueueStats[] = traces.flatMap((t, i) => queueStats(t, { variant: t.label, extra: (q) => extra(runs[i]!, q) }));
  return makeResult(scenario, opts, {
    traces,
    reports: runs.flatMap((r) => r.reports),
    stats,
    chaos: runs[0]!.chaos,
    comparison: { title, columns: variants.map((v) => v.label), rows: rows(runs) },
  });
}

function total(run: WorkloadRun, key: keyof WorkloadRun['queues'][number]['stats']): number {
  return run.queues.reduce((n, q) => n + q.stats[key], 0);
}

function queueStat(run: WorkloadRun, queue: string): WorkloadRun['queues'][number]['stats'] | undefined {
  return run.queues.find((q) => q.name === queue)?.stats;
}

export const bypassVsWorkerScenario: Scenario = {
  name: 'bypass-vs-worker',
  faultKinds: ['alloc'],
  faultKindsWhy: MOCK_ENGINES_WHY,
  summary: 'the submit-worker bypass (rfc-designs E.3): one workload with and without it, work items and latency side by side',
  params: [FRAMES],
  run(opts) {
    return compare(
      'bypass-vs-worker',
      opts,
      [
        { label: 'worker', options: { bypass: false } },
        { label: 'bypass', options: { bypass: true } },
      ],
      (runs) => {
        const lat = (r: WorkloadRun, p: number): string => fmt(percentile(latencies(r, 'drm_dep:job_push', 'drm_dep:job_run'), p));
        const done = (r: WorkloadRun, p: number): string => fmt(percentile(latencies(r, 'drm_dep:job_push', 'drm_dep:job_done'), p));
        return [
          { label: 'jobs pushed', values: runs.map((r) => total(r, 'pushed')) },
          { label: 'runJob inline from push (bypass)', values: runs.map((r) => total(r, 'bypassed')) },
          { label: 'runJob on the submit worker', values: runs.map((r) => total(r, 'ranOnWorker')) },
          { label: 'run work items executed', values: runs.map((r) => total(r, 'runWorkItems')) },
          { label: 'put work items executed', values: runs.map((r) => total(r, 'putWorkItems')) },
          { label: 'work items per job', values: runs.map((r) => +((total(r, 'runWorkItems') + total(r, 'putWorkItems')) / Math.max(1, total(r, 'pushed'))).toFixed(2)) },
          { label: 'push → runJob p50 / p99 (ms)', values: runs.map((r) => `${lat(r, 50)} / ${lat(r, 99)}`) },
          { label: 'push → done p50 / p99 (ms)', values: runs.map((r) => `${done(r, 50)} / ${done(r, 99)}`) },
          { label: 'reports (lockdep, WARN)', values: runs.map((r) => r.reports.length) },
        ];
      },
      'bypass vs submit worker (virtual time: a wake-up costs 0 ms; the counts are the difference)',
      (run, q) => {
        const s = queueStat(run, q);
        return { inline: s?.bypassed ?? 0, 'on worker': s?.ranOnWorker ?? 0, 'run items': s?.runWorkItems ?? 0 };
      },
    );
  },
};

export const irqPutScenario: Scenario = {
  name: 'irq-put',
  faultKinds: ['alloc'],
  faultKindsWhy: MOCK_ENGINES_WHY,
  summary: 'IRQ-safe job put (rfc-designs E.1): one workload retiring jobs in the fence callback vs a put worker',
  params: [FRAMES],
  run(opts) {
    return compare(
      'irq-put',
      opts,
      [
        { label: 'worker', options: { jobPutIrqSafe: false } },
        { label: 'irq', options: { jobPutIrqSafe: true } },
      ],
      (runs) => {
        const done = (r: WorkloadRun, p: number): string => fmt(percentile(latencies(r, 'drm_dep:job_push', 'drm_dep:job_done'), p));
        const free = (r: WorkloadRun, p: number): string => fmt(percentile(latencies(r, 'drm_dep:job_done', 'drm_dep:job_free'), p));
        return [
          { label: 'jobs pushed', values: runs.map((r) => total(r, 'pushed')) },
          { label: 'retired in the fence callback (irq)', values: runs.map((r) => total(r, 'irqRetired')) },
          { label: 'retired by the put worker', values: runs.map((r) => total(r, 'workerRetired')) },
          { label: 'put work items executed', values: runs.map((r) => total(r, 'putWorkItems')) },
          { label: 'run work items executed', values: runs.map((r) => total(r, 'runWorkItems')) },
          { label: 'freeJob ran in irq / worker / process', values: runs.map((r) => `${r.freedIn.irq ?? 0} / ${r.freedIn.worker ?? 0} / ${r.freedIn.process ?? 0}`) },
          { label: 'done → freed p50 / p99 (ms)', values: runs.map((r) => `${free(r, 50)} / ${free(r, 99)}`) },
          { label: 'push → done p50 / p99 (ms)', values: runs.map((r) => `${done(r, 50)} / ${done(r, 99)}`) },
          { label: 'reports (lockdep, WARN)', values: runs.map((r) => r.reports.length) },
        ];
      },
      'job put in irq vs put worker (virtual time: a wake-up costs 0 ms; the counts are the difference)',
      (run, q) => {
        const s = queueStat(run, q);
        return { 'irq retired': s?.irqRetired ?? 0, 'put items': s?.putWorkItems ?? 0 };
      },
    );
  },
};
