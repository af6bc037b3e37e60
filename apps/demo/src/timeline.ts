/**
 * The timeline model both outputs draw from (`--trace` Chrome JSON, `--html` page): lanes
 * (engines, queues, fence timelines, CPU tasks) split into rows so slices never overlap,
 * slices (jobs, hardware work, work items), markers (fence signals, timeouts, faults,
 * reports) and dependency flows (a job waited for a fence: arrow from the fence's producer
 * to the job).
 *
 * It is derived from trace records alone:
 * - `B`/`E` pairs become slices, matched on their lane by `seqno` when they carry one (a
 *   queue with several jobs on the hardware) and last-in-first-out otherwise;
 * - a `drm_dep:job_dependency` before `arm` belongs to the next `drm_dep:job_arm` on that
 *   queue (dependencies are collected before arm; its `job` field is 0 until then);
 * - a fence is a queue's finished fence when its context is one a `drm_dep:queue_init`
 *   announced, a hardware fence when a `demo:hw_job` names it, otherwise it gets a lane of
 *   its own timeline.
 */
import type { Report, TraceRecord } from '@dep/kernel';
import type { RunTrace } from './scenarios/index.js';

export type LaneGroup = 'engines' | 'queues' | 'fences' | 'cpu';
export const LANE_GROUPS: readonly LaneGroup[] = ['engines', 'queues', 'fences', 'cpu'];
export const GROUP_TITLES: Readonly<Record<LaneGroup, string>> = {
  engines: 'hardware engines',
  queues: 'drm_dep queues',
  fences: 'fence timelines',
  cpu: 'CPU: tasks, workers, irq',
};

export interface TimelineLane {
  /** The trace lane (`drm_dep:q0`, `gpu0:ring`, `kworker/drm_dep_q0:0`, `fence:<timeline>`). */
  readonly key: string;
  /** What a person reads: the queue or engine name without prefix. */
  readonly name: string;
  readonly group: LaneGroup;
  /** Rows the lane needs so that its slices never overlap (at least 1). */
  rows: number;
  /** The client a queue belongs to. */
  readonly client?: string;
  /** True when something is drawn on it. */
  visible: boolean;
}

export type SliceKind = 'job' | 'hw' | 'work' | 'other';

export interface TimelineSlice {
  readonly lane: number;
  row: number;
  readonly name: string;
  readonly kind: SliceKind;
  /** The tracepoint that began it (`drm_dep:job_run`, …). */
  readonly event: string;
  readonly ts: number;
  /** Drawn duration (ms): jobs get at least {@link MIN_JOB_DUR} so they stay visible. */
  readonly dur: number;
  /** True when it never ended (still running, hung, deadlocked). */
  readonly open: boolean;
  readonly client?: string;
  readonly args: Record<string, string>;
}

export type MarkerKind = 'fence' | 'timeout' | 'fault' | 'report' | 'preempt' | 'irq' | 'event';

export interface TimelineMarker {
  readonly lane: number;
  readonly ts: number;
  readonly kind: MarkerKind;
  readonly name: string;
  readonly args: Record<string, string>;
}

export type FlowEnd = { readonly slice: number } | { readonly marker: number };

export interface TimelineFlow {
  readonly from: FlowEnd;
  readonly to: { readonly slice: number };
  /** The fence the job waited for. */
  readonly label: string;
  readonly preempt: boolean;
}

export interface TimelineView {
  readonly label: string;
  readonly lanes: TimelineLane[];
  readonly slices: TimelineSlice[];
  readonly markers: TimelineMarker[];
  readonly flows: TimelineFlow[];
  /** Trace records of phase `i`/`C` not drawn as markers (kept for the Chrome trace). */
  readonly instants: { readonly lane: number; readonly record: TraceRecord }[];
  readonly clients: string[];
  readonly end: number;
}

/** Jobs and hardware slices shorter than this (ms) are drawn this long (1 µs). */
export const MIN_JOB_DUR = 0.001;

/** Append `value` to the list of `key` in `map`. */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

const GROUP_ORDER: Readonly<Record<LaneGroup, number>> = { engines: 0, queues: 1, fences: 2, cpu: 3 };

const str = (v: unknown): string => (typeof v === 'bigint' ? v.toString() : String(v));

function argsOf(r: TraceRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.args as Record<string, unknown>)) if (v !== undefined) out[k] = str(v);
  return out;
}

const a = (r: TraceRecord, k: string): string => str((r.args as Record<string, unknown>)[k]);

const MARKER_KINDS: Readonly<Record<MarkerKind, true>> = { fence: true, timeout: true, fault: true, report: true, preempt: true, irq: true, event: true };

/** Instants drawn as markers, and their kind. */
const MARKER_EVENTS: Readonly<Record<string, MarkerKind>> = {
  'dma_fence:signaled': 'fence',
  'drm_dep:timeout': 'timeout',
  'drm_dep:job_cancel': 'fault',
  'drm_dep:queue_kill': 'event',
  'drm_dep:queue_fini': 'event',
  'drm_dep:queue_stop': 'event',
  'drm_dep:queue_start': 'event',
  'hw:fault': 'fault',
  'hw:reset': 'fault',
  'hw:preempt': 'preempt',
  'hw:irq': 'irq',
  'timer:timer_expire_entry': 'event',
  'demo:note': 'event',
};

/** Build the timeline of one run. Its reports become markers on the lane of their task. */
export function buildTimeline(trace: RunTrace): TimelineView {
  const reports: readonly Report[] = trace.reports ?? [];
  const records = trace.records;
  const clients = trace.clients ?? {};
  const lanes: TimelineLane[] = [];
  const laneIndex = new Map<string, number>();
  const queueByContext = new Map<string, string>();
  const hwLaneByContext = new Map<string, string>();
  const timelineByContext = new Map<string, string>();
  const engineLanes = new Set<string>();

  // Pass 1: what each context and lane is.
  for (const r of records) {
    if (r.name === 'drm_dep:queue_init') queueByContext.set(a(r, 'context'), a(r, 'queue'));
    else if (r.name === 'demo:hw_job') {
      hwLaneByContext.set(a(r, 'context'), r.lane);
      engineLanes.add(r.lane);
    } else if (r.name.startsWith('hw:')) engineLanes.add(r.lane);
    else if (r.name === 'dma_fence:init' || r.name === 'dma_fence:signaled') {
      const tl = a(r, 'timeline');
      if (tl !== 'signaled-timeline' && tl !== 'detached-timeline') timelineByContext.set(a(r, 'context'), tl);
    }
  }

  const lane = (key: string): number => {
    let i = laneIndex.get(key);
    if (i !== undefined) return i;
    let group: LaneGroup;
    let name = key;
    let client: string | undefined;
    if (key.startsWith('drm_dep:')) {
      group = 'queues';
      name = key.slice('drm_dep:'.length);
      client = clients[name];
    } else if (key.startsWith('fence:')) {
      group = 'fences';
      name = key.slice('fence:'.length);
    } else if (key.startsWith('engine:')) {
      group = 'engines';
      name = key.slice('engine:'.length);
    } else if (engineLanes.has(key)) group = 'engines';
    else group = 'cpu';
    i = lanes.length;
    lanes.push({ key, name, group, rows: 1, visible: false, ...(client === undefined ? {} : { client }) });
    laneIndex.set(key, i);
    return i;
  };

  const slices: TimelineSlice[] = [];
  const markers: TimelineMarker[] = [];
  const instants: { lane: number; record: TraceRecord }[] = [];
  const open = new Map<string, { record: TraceRecord }[]>();
  const jobSlice = new Map<string, number>(); // `${queue}#${seqno}` → slice
  const fenceMarker = new Map<string, number>(); // `${context}:${seqno}` → marker
  const pendingDeps = new Map<string, { context: string; seqno: string; preempt: boolean }[]>();
  const jobDeps = new Map<string, { context: string; seqno: string; preempt: boolean }[]>();
  let end = 0;
  for (const r of records) end = Math.max(end, r.ts + (r.dur ?? 0));

  const addSlice = (begin: TraceRecord, endTs: number, endRec: TraceRecord | null): void => {
    const li = lane(begin.lane);
    const args = { ...argsOf(begin), ...(endRec ? argsOf(endRec) : {}) };
    let kind: SliceKind = 'other';
    let name: string = begin.name;
    let client: string | undefined;
    if (begin.name === 'drm_dep:job_run') {
      kind = 'job';
      name = `${a(begin, 'queue')} #${a(begin, 'seqno')}`;
      client = clients[a(begin, 'queue')] ?? a(begin, 'queue');
    } else if (begin.name === 'demo:hw_job') {
      kind = 'hw';
      name = `${a(begin, 'queue')} #${a(begin, 'seqno')}`;
      client = clients[a(begin, 'queue')] ?? a(begin, 'queue');
    } else if ((begin.name as string) === 'hw:batch') {
      kind = 'hw';
      name = a(begin, 'ctx');
      client = clients[name] ?? name;
    } else if (begin.name === 'demo:span') {
      kind = 'hw';
      name = a(begin, 'name');
      const c = (begin.args as Record<string, unknown>).client;
      if (typeof c === 'string') client = c;
    } else if (begin.name === 'workqueue:workqueue_execute_start') {
      kind = 'work';
      name = a(begin, 'work');
    }
    let dur = Math.max(0, endTs - begin.ts);
    if (kind === 'job' || kind === 'hw') {
      args.duration = `${+dur.toFixed(6)} ms`;
      dur = Math.max(dur, MIN_JOB_DUR);
    }
    const index = slices.length;
    slices.push({ lane: li, row: 0, name, kind, event: begin.name, ts: begin.ts, dur, open: endRec === null && begin.ph === 'B', args, ...(client === undefined ? {} : { client }) });
    if (kind === 'job') jobSlice.set(`${a(begin, 'queue')}#${a(begin, 'seqno')}`, index);
  };

  for (const r of records) {
    if (r.name === 'drm_dep:job_dependency') {
      const q = a(r, 'queue');
      const dep = { context: a(r, 'context'), seqno: a(r, 'seqno'), preempt: a(r, 'preempt') === 'true' };
      const job = a(r, 'job');
      if (job !== '0') pushTo(jobDeps, `${q}#${job}`, dep);
      else pushTo(pendingDeps, q, dep);
    } else if (r.name === 'drm_dep:job_arm') {
      const q = a(r, 'queue');
      const deps = pendingDeps.get(q) ?? [];
      pendingDeps.delete(q);
      if (deps.length > 0) jobDeps.set(`${q}#${a(r, 'seqno')}`, deps);
    }
    switch (r.ph) {
      case 'X':
        addSlice(r, r.ts + (r.dur ?? 0), r);
        break;
      case 'B': {
        const stack = open.get(r.lane) ?? [];
        stack.push({ record: r });
        open.set(r.lane, stack);
        break;
      }
      case 'E': {
        const stack = open.get(r.lane);
        if (!stack || stack.length === 0) break;
        const seqno = (r.args as Record<string, unknown>).seqno;
        let at = stack.length - 1;
        if (seqno !== undefined) {
          const k = stack.findIndex((s) => (s.record.args as Record<string, unknown>).seqno === seqno);
          if (k >= 0) at = k;
        }
        const [begin] = stack.splice(at, 1);
        addSlice(begin!.record, r.ts, r);
        break;
      }
      default: {
        const noteKind = r.name === 'demo:note' ? (r.args as { kind?: string }).kind : undefined;
        const kind: MarkerKind | undefined =
          r.name === 'drm_dep:job_done' ? 'fault' : noteKind !== undefined && noteKind in MARKER_KINDS ? (noteKind as MarkerKind) : MARKER_EVENTS[r.name];
        if (kind === undefined) {
          instants.push({ lane: lane(r.lane), record: r });
          break;
        }
        let key = r.lane;
        let name: string = r.name;
        const args = argsOf(r);
        if (kind === 'fence') {
          const ctx = a(r, 'context');
          const tl = timelineByContext.get(ctx) ?? a(r, 'timeline');
          const q = queueByContext.get(ctx);
          key = q !== undefined ? `drm_dep:${q}` : (hwLaneByContext.get(ctx) ?? `fence:${tl}`);
          name = `signalled ${tl} ${ctx}:${a(r, 'seqno')}`;
          args.timeline = tl;
          args.signalledBy = r.lane;
          fenceMarker.set(`${ctx}:${a(r, 'seqno')}`, markers.length);
        } else if (r.name === 'drm_dep:job_done') {
          name = `${a(r, 'queue')} #${a(r, 'seqno')} killed (${a(r, 'error')})`;
        } else if (r.name === 'demo:note') {
          name = a(r, 'text');
        }
        markers.push({ lane: lane(key), ts: r.ts, kind, name, args });
        // Keep the original instant on its own lane for the Chrome trace.
        if (key !== r.lane) instants.push({ lane: lane(r.lane), record: r });
      }
    }
  }
  // Slices that never ended run to the end of the trace.
  for (const stack of open.values()) for (const s of stack) addSlice(s.record, Math.max(end, s.record.ts), null);

  for (const rep of reports) {
    const key = laneIndex.has(rep.task) ? rep.task : 'reports';
    markers.push({ lane: lane(key), ts: rep.time, kind: 'report', name: `[${rep.kind}] ${rep.message}`, args: { kind: rep.kind, task: rep.task, details: rep.details.slice(0, 6).join('\n') } });
  }

  // Dependency flows: producer (a job's slice, else the fence's signal marker) → the job.
  const flows: TimelineFlow[] = [];
  for (const [job, deps] of jobDeps) {
    const to = jobSlice.get(job);
    if (to === undefined) continue;
    const labels: string[] = [];
    for (const d of deps) {
      const q = queueByContext.get(d.context);
      const tl = timelineByContext.get(d.context) ?? d.context;
      const label = q !== undefined ? `${q} #${d.seqno}` : `${tl} ${d.context}:${d.seqno}`;
      labels.push(`${label}${d.preempt ? ' (preempt)' : ''}`);
      const fromSlice = q !== undefined ? jobSlice.get(`${q}#${d.seqno}`) : undefined;
      const fromMarker = fenceMarker.get(`${d.context}:${d.seqno}`);
      const from: FlowEnd | undefined = fromSlice !== undefined ? { slice: fromSlice } : fromMarker !== undefined ? { marker: fromMarker } : undefined;
      if (from !== undefined) flows.push({ from, to: { slice: to }, label, preempt: d.preempt });
    }
    slices[to]!.args.waitedFor = labels.join(', ');
  }

  // Rows: greedy, in start order, so no two slices of a row overlap.
  const byLane = new Map<number, number[]>();
  slices.forEach((s, i) => pushTo(byLane, s.lane, i));
  for (const [li, idx] of byLane) {
    idx.sort((x, y) => slices[x]!.ts - slices[y]!.ts || x - y);
    const rowEnds: number[] = [];
    for (const i of idx) {
      const s = slices[i]!;
      let row = rowEnds.findIndex((e) => e <= s.ts);
      if (row < 0) row = rowEnds.push(0) - 1;
      rowEnds[row] = s.ts + s.dur;
      s.row = row;
    }
    lanes[li]!.rows = Math.max(1, rowEnds.length);
  }
  for (const s of slices) lanes[s.lane]!.visible = true;
  for (const m of markers) lanes[m.lane]!.visible = true;

  // Lane order: by group, then by first appearance (stable); remap indices.
  const order = lanes.map((_, i) => i).sort((x, y) => GROUP_ORDER[lanes[x]!.group] - GROUP_ORDER[lanes[y]!.group] || x - y);
  const remap = new Map(order.map((old, i) => [old, i]));
  const sortedLanes = order.map((i) => lanes[i]!);
  const mapLane = <T extends { lane: number }>(x: T): T => ({ ...x, lane: remap.get(x.lane)! });
  const clientSet = new Set<string>();
  for (const s of slices) if (s.client !== undefined) clientSet.add(s.client);
  for (const l of sortedLanes) if (l.client !== undefined) clientSet.add(l.client);

  return {
    label: trace.label,
    lanes: sortedLanes,
    slices: slices.map(mapLane),
    markers: markers.map(mapLane),
    flows,
    instants: instants.map(mapLane),
    clients: [...clientSet],
    end,
  };
}
