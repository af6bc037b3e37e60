/**
 * Building a {@link ScenarioResult} from what a run left behind: trace records and reports.
 * The numbers come from the trace (the drm_dep and dma_fence tracepoints), so every
 * scenario gets the same statistics and the same verdict rules.
 */
import { MemoryTraceSink, Runtime, traceHash, type Report, type TraceRecord } from '@dep/kernel';
import type { QueueStats, RunTrace, ScenarioOptions, ScenarioResult, Verdict } from './scenarios/index.js';

/** The `p`-th percentile (0–100) of `values` by nearest rank; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

type Rec = TraceRecord;
const arg = (r: Rec, key: string): unknown => (r.args as Record<string, unknown>)[key];
const str = (v: unknown): string => (typeof v === 'bigint' ? v.toString() : String(v));

/**
 * Per-queue statistics from the drm_dep tracepoints of one run: jobs pushed, completed
 * and failed, push → done latency (p50/p99), timeouts. Preemptions are the `hw:preempt`
 * saves of a hardware context named after the queue (or counted by the scenario itself
 * in `extraPreemptions`).
 */
export function queueStats(
  trace: RunTrace,
  options: { readonly variant?: string; readonly extra?: (queue: string) => Record<string, number | string> | undefined; readonly extraPreemptions?: Readonly<Record<string, number>> } = {},
): QueueStats[] {
  interface Acc {
    jobs: number;
    completed: number;
    errors: number;
    timeouts: number;
    preemptions: number;
    pushedAt: Map<string, number>;
    latencies: number[];
  }
  const queues = new Map<string, Acc>();
  const acc = (q: string): Acc => {
    let a = queues.get(q);
    if (a === undefined) {
      a = { jobs: 0, completed: 0, errors: 0, timeouts: 0, preemptions: 0, pushedAt: new Map(), latencies: [] };
      queues.set(q, a);
    }
    return a;
  };
  for (const r of trace.records) {
    if ((r.name as string) === 'hw:preempt') {
      if (str(arg(r, 'phase')) === 'saved') {
        const ctx = str(arg(r, 'ctx'));
        if (queues.has(ctx)) acc(ctx).preemptions++;
      }
      continue;
    }
    if (!r.name.startsWith('drm_dep:')) continue;
    const q = str(arg(r, 'queue'));
    switch (r.name) {
      case 'drm_dep:queue_init':
        acc(q);
        break;
      case 'drm_dep:job_push': {
        const a = acc(q);
        a.jobs++;
        a.pushedAt.set(str(arg(r, 'seqno')), r.ts);
        break;
      }
      case 'drm_dep:job_done': {
        const a = acc(q);
        const error = Number(arg(r, 'error'));
        if (error === 0) {
          a.completed++;
          const t0 = a.pushedAt.get(str(arg(r, 'seqno')));
          if (t0 !== undefined) a.latencies.push(r.ts - t0);
        } else {
          a.errors++;
        }
        break;
      }
      case 'drm_dep:timeout':
        acc(q).timeouts++;
        break;
      default:
        break;
    }
  }
  const rows: QueueStats[] = [];
  for (const [queue, a] of queues) {
    const extra = options.extra?.(queue);
    rows.push({
      ...(options.variant === undefined ? {} : { variant: options.variant }),
      client: trace.clients?.[queue] ?? queue,
      queue,
      jobs: a.jobs,
      completed: a.completed,
      errors: a.errors,
      latencyP50: percentile(a.latencies, 50),
      latencyP99: percentile(a.latencies, 99),
      preemptions: a.preemptions + (options.extraPreemptions?.[queue] ?? 0),
      timeouts: a.timeouts,
      ...(extra === undefined ? {} : { extra }),
    });
  }
  return rows;
}

/**
 * Fences of a trace that were initialised, never signalled and still alive at its end
 * (a waiter on one would wait forever), as `timeline context:seqno` strings. A fence
 * destroyed unsignalled is not counted: dropping an unpublished fence is legal (an
 * INACTIVE fence after a failed submit), and an illegal drop is the fence layer's WARN.
 */
export function unsignalledFences(records: readonly TraceRecord[]): string[] {
  const fences = new Map<string, { label: string; signalled: boolean; destroyed: boolean }[]>();
  for (const r of records) {
    if (r.name !== 'dma_fence:init' && r.name !== 'dma_fence:signaled' && r.name !== 'dma_fence:destroy') continue;
    const key = `${str(arg(r, 'context'))}:${str(arg(r, 'seqno'))}`;
    const list = fences.get(key) ?? [];
    fences.set(key, list);
    if (r.name === 'dma_fence:init') list.push({ label: `${str(arg(r, 'timeline'))} ${key}`, signalled: false, destroyed: false });
    else if (r.name === 'dma_fence:signaled') {
      const f = list.find((x) => !x.signalled && !x.destroyed);
      if (f) f.signalled = true;
    } else {
      const f = list.find((x) => !x.destroyed && x.signalled) ?? list.find((x) => !x.destroyed);
      if (f) f.destroyed = true;
    }
  }
  const out: string[] = [];
  for (const list of fences.values()) for (const f of list) if (!f.signalled && !f.destroyed) out.push(f.label);
  return out;
}

/** Fences initialised in a trace. */
export function fenceCount(records: readonly TraceRecord[]): number {
  let n = 0;
  for (const r of records) if (r.name === 'dma_fence:init') n++;
  return n;
}

/**
 * The verdict every scenario starts from: a fence dependency cycle, then a deadlock (a
 * stall report), then fences never signalled, then leaks; otherwise every fence signalled
 * (or, with no fences at all, the run completed). lockdep splats and WARNs are warnings:
 * they do not fail a run that finished.
 */
export function judge(traces: readonly RunTrace[], reports: readonly Report[]): Verdict {
  const cycle = reports.find((r) => r.kind === 'fence-cycle');
  if (cycle) return { ok: false, outcome: 'cycle found', detail: cycle.message };
  const stall = reports.find((r) => r.kind === 'stall');
  if (stall) return { ok: false, outcome: 'deadlock', detail: stall.message };
  const oops = reports.find((r) => r.kind === 'oops' || r.kind === 'use-after-free');
  if (oops) return { ok: false, outcome: oops.kind, detail: oops.message };
  const open = traces.flatMap((t) => unsignalledFences(t.records));
  if (open.length > 0) {
    const shown = open.slice(0, 3).join(', ');
    return { ok: false, outcome: 'unsignalled fences', detail: `${open.length} fence(s) never signalled: ${shown}${open.length > 3 ? ', …' : ''}` };
  }
  const leaks = reports.filter((r) => r.kind === 'leak');
  if (leaks.length > 0) return { ok: false, outcome: 'leak', detail: `${leaks.length} object(s) alive at shutdown: ${leaks[0]!.message}` };
  const fences = traces.reduce((n, t) => n + fenceCount(t.records), 0);
  if (fences === 0) return { ok: true, outcome: 'completed', detail: 'the run completed with nothing blocked' };
  return { ok: true, outcome: 'all fences signalled', detail: `all ${fences} fence(s) signalled` };
}

/** A hash over several traces (their labels and records). */
export function hashTraces(traces: readonly RunTrace[]): string {
  if (traces.length === 1) return traceHash(traces[0]!.records);
  return traceHash(traces.flatMap((t) => t.records));
}

/** The end of a trace: the latest timestamp (or end of slice). */
export function traceEnd(records: readonly TraceRecord[]): number {
  let end = 0;
  for (const r of records) end = Math.max(end, r.ts + (r.dur ?? 0));
  return end;
}

/** Options every scenario's runtime shares: seed, chaos (scenario default unless given), checks `warn`. */
export interface SimOptions {
  readonly name: string;
  readonly chaosDefault?: boolean;
  /** Where `--faults` injects allocation failures (default: every site), and how often (default 1 in 20). */
  readonly faultSite?: string | RegExp;
  readonly faultProbability?: number;
}

/**
 * A runtime for a scenario run (checks `warn`, so reports are collected, not thrown), with
 * a memory trace sink attached. `armFaults()` applies `--faults` (seeded allocation
 * failures) and the reliability harness's faults (`explore --faults <list>`) once the
 * scenario's set-up is done, so they hit the paths under test.
 */
export function newSim(
  opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults' | 'harnessFaults'>,
  sim: SimOptions,
): { rt: Runtime; trace: MemoryTraceSink; chaos: boolean; armFaults: () => void } {
  const chaos = opts.chaos ?? sim.chaosDefault ?? false;
  const rt = new Runtime({ seed: opts.seed, chaos, checks: 'warn', name: sim.name });
  const trace = new MemoryTraceSink();
  rt.trace.attach(trace);
  const armFaults = (): void => {
    opts.harnessFaults?.arm(rt);
    if (opts.faults !== true) return;
    rt.faults.failAlloc({ probability: sim.faultProbability ?? 0.05, ...(sim.faultSite === undefined ? {} : { site: sim.faultSite }) });
  };
  return { rt, trace, chaos, armFaults };
}

/**
 * Run `fn` as the scenario's main task and drive the runtime until idle. Unlike
 * `rt.run`, a main task left blocked is an outcome (`finished: false`: a deadlock, which
 * the stall report explains), not an exception. An error `fn` threw is rethrown.
 */
export async function runMain(rt: Runtime, fn: () => Promise<void>): Promise<{ finished: boolean }> {
  const main = rt.spawn('main', fn, { joinable: true });
  await rt.runUntilIdle();
  if (!main.finished) return { finished: false };
  await main.join();
  return { finished: true };
}

/** Assemble a result. `verdict` defaults to {@link judge}. */
export function makeResult(
  scenario: string,
  opts: Pick<ScenarioOptions, 'seed' | 'chaos' | 'faults' | 'params'>,
  parts: {
    readonly traces: readonly RunTrace[];
    readonly reports: readonly Report[];
    readonly stats?: readonly QueueStats[];
    readonly comparison?: ScenarioResult['comparison'];
    readonly verdict?: Verdict;
    readonly chaos: boolean;
  },
): ScenarioResult {
  return {
    scenario,
    seed: opts.seed,
    params: { ...(opts.params ?? {}) },
    chaos: parts.chaos,
    faults: opts.faults === true,
    traces: parts.traces,
    stats: parts.stats ?? parts.traces.flatMap((t) => queueStats(t)),
    reports: parts.reports,
    ...(parts.comparison === undefined ? {} : { comparison: parts.comparison }),
    verdict: parts.verdict ?? judge(parts.traces, parts.reports),
    traceHash: hashTraces(parts.traces),
    endTime: Math.max(0, ...parts.traces.map((t) => traceEnd(t.records))),
  };
}
