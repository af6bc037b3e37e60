/**
 * `--trace out.json`: Chrome trace event JSON for Perfetto (ui.perfetto.dev → Open trace
 * file) and chrome://tracing.
 *
 * Built with the kernel's {@link ChromeTraceSink} (lanes → threads, µs timestamps, args),
 * fed from the timeline model rather than the raw records, which fixes three things a
 * raw dump gets wrong:
 * - `B`/`E` pairs become `X` slices matched by seqno, and a lane whose slices overlap (a
 *   queue with several jobs on the hardware) is split into rows (threads `q0`, `q0 (2)`),
 *   so slices nest properly — Perfetto drops mis-nested slices;
 * - processes group the lanes: hardware engines, drm_dep queues, fence timelines, CPU
 *   (tasks, workers, irq); one set per variant when a scenario compares options;
 * - dependency flow arrows (`s`/`f` events, bound inside their slices), and fence-signal
 *   markers on the queue or engine lane the fence belongs to.
 */
import { ChromeTraceSink, type ChromeTraceEvent, type TraceRecord } from '@dep/kernel';
import type { ScenarioResult } from './scenarios/index.js';
import { GROUP_TITLES, LANE_GROUPS, buildTimeline, pushTo, type LaneGroup } from './timeline.js';

export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: 'ms';
  /** Extra top-level metadata (Perfetto shows it under "metadata"). */
  metadata: Record<string, string | number | boolean>;
}

/** Width (ms) of the helper slice a flow starts from when its producer is a bare fence signal. */
const SIGNAL_SLICE = 0.001;

function rowName(key: string, row: number): string {
  return row === 0 ? key : `${key} (${row + 1})`;
}

/** The Chrome trace of a scenario result. */
export function toChromeTrace(result: ScenarioResult): ChromeTrace {
  const views = result.traces.map((t) => buildTimeline(t));
  const events: ChromeTraceEvent[] = [];
  let flowId = 0;
  views.forEach((view, vi) => {
    const prefix = views.length > 1 ? `${view.label}: ` : '';
    const sinks = new Map<LaneGroup, { sink: ChromeTraceSink; names: (string | null)[] }>();
    LANE_GROUPS.forEach((g, gi) => {
      sinks.set(g, { sink: new ChromeTraceSink({ pid: vi * LANE_GROUPS.length + gi + 1, processName: `${prefix}${GROUP_TITLES[g]}` }), names: [] });
    });
    // Write lane by lane, row by row, so thread ids follow the timeline's lane order.
    const write = (group: LaneGroup, record: TraceRecord, name: string | null): void => {
      const s = sinks.get(group)!;
      s.sink.write(record);
      s.names.push(name);
    };
    const sliceByLane = new Map<number, number[]>();
    view.slices.forEach((s, i) => pushTo(sliceByLane, s.lane, i));
    const markersByLane = new Map<number, number[]>();
    view.markers.forEach((m, i) => pushTo(markersByLane, m.lane, i));
    const instantsByLane = new Map<number, TraceRecord[]>();
    for (const it of view.instants) pushTo(instantsByLane, it.lane, it.record);

    view.lanes.forEach((lane, li) => {
      for (let row = 0; row < lane.rows; row++) {
        const thread = rowName(lane.key, row);
        for (const i of sliceByLane.get(li) ?? []) {
          const s = view.slices[i]!;
          if (s.row !== row) continue;
          const rec = { name: s.event, ts: s.ts, ph: 'X', dur: s.dur, lane: thread, args: { ...s.args, ...(s.client === undefined ? {} : { client: s.client }) } } as unknown as TraceRecord;
          write(lane.group, rec, s.name);
        }
        if (row !== 0) continue;
        for (const i of markersByLane.get(li) ?? []) {
          const m = view.markers[i]!;
          const rec = { name: `marker:${m.kind}`, ts: m.ts, ph: 'i', lane: thread, args: m.args } as unknown as TraceRecord;
          write(lane.group, rec, m.name);
        }
        for (const r of instantsByLane.get(li) ?? []) write(lane.group, { ...r, lane: thread }, null);
      }
    });

    // Flows. Producer without a slice (a fence signalled by a task, a timer, …): a short
    // "signal" slice on its lane group's "fence signals" thread gives the arrow an anchor.
    const anchors: number[] = []; // end of the last anchor per row
    const anchorRows = new Map<number, { group: LaneGroup; row: number }>();
    const anchor = (marker: number): { group: LaneGroup; row: number } => {
      const known = anchorRows.get(marker);
      if (known) return known;
      const m = view.markers[marker]!;
      let row = anchors.findIndex((e) => e <= m.ts);
      if (row < 0) row = anchors.push(0) - 1;
      anchors[row] = m.ts + SIGNAL_SLICE;
      const group = view.lanes[m.lane]!.group;
      write(group, { name: 'dma_fence:signaled', ts: m.ts, ph: 'X', dur: SIGNAL_SLICE, lane: rowName('fence signals', row), args: m.args } as unknown as TraceRecord, m.name);
      const at = { group, row };
      anchorRows.set(marker, at);
      return at;
    };
    const flowEvents: { group: LaneGroup; ev: ChromeTraceEvent; thread: string }[] = [];
    for (const f of view.flows) {
      const to = view.slices[f.to.slice]!;
      const toLane = view.lanes[to.lane]!;
      let fromTs: number;
      let fromThread: string;
      let fromGroup: LaneGroup;
      if ('slice' in f.from) {
        const s = view.slices[f.from.slice]!;
        fromTs = s.ts + s.dur / 2;
        fromThread = rowName(view.lanes[s.lane]!.key, s.row);
        fromGroup = view.lanes[s.lane]!.group;
      } else {
        const at = anchor(f.from.marker);
        fromTs = view.markers[f.from.marker]!.ts + SIGNAL_SLICE / 2;
        fromThread = rowName('fence signals', at.row);
        fromGroup = at.group;
      }
      const id = ++flowId;
      const name = f.preempt ? 'preempt dependency' : 'dependency';
      flowEvents.push({ group: fromGroup, thread: fromThread, ev: { name, cat: 'dependency', ph: 's', ts: fromTs * 1000, pid: 0, tid: 0, id, args: { fence: f.label } } });
      flowEvents.push({ group: toLane.group, thread: rowName(toLane.key, to.row), ev: { name, cat: 'dependency', ph: 'f', bp: 'e', ts: (to.ts + to.dur / 2) * 1000, pid: 0, tid: 0, id, args: { fence: f.label } } });
    }

    // Render each group's sink; name the slices; resolve the flows' threads.
    const tids = new Map<string, { pid: number; tid: number }>();
    LANE_GROUPS.forEach((g, gi) => {
      const { sink, names } = sinks.get(g)!;
      if (names.length === 0) return;
      const json = sink.toJSON();
      const pid = vi * LANE_GROUPS.length + gi + 1;
      const meta = json.traceEvents.filter((e) => e.ph === 'M');
      const body = json.traceEvents.filter((e) => e.ph !== 'M');
      for (const m of meta) {
        if (m.name === 'thread_name') {
          tids.set(`${g}|${String(m.args?.name)}`, { pid, tid: m.tid });
          events.push({ name: 'thread_sort_index', cat: '__metadata', ph: 'M', ts: 0, pid, tid: m.tid, args: { sort_index: m.tid } });
        }
      }
      events.push({ name: 'process_sort_index', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { sort_index: pid } });
      events.push(...meta);
      body.forEach((e, k) => {
        const display = names[k];
        if (display !== null && display !== undefined) e.name = display;
        if (e.name.startsWith('marker:')) e.cat = 'marker';
        events.push(e);
      });
    });
    for (const { group, thread, ev } of flowEvents) {
      const at = tids.get(`${group}|${thread}`);
      if (at === undefined) continue;
      events.push({ ...ev, pid: at.pid, tid: at.tid });
    }
  });
  // Times in µs at ns resolution; a slice's end is rounded once, so back-to-back slices
  // stay back to back (no 1e-9 overlaps from floating point).
  const ns = (us: number): number => Math.round(us * 1000) / 1000;
  for (const e of events) {
    const t0 = ns(e.ts);
    if (e.dur !== undefined) e.dur = ns(e.ts + e.dur) - t0 >= 0 ? +(ns(e.ts + e.dur) - t0).toFixed(3) : 0;
    e.ts = t0;
  }
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    metadata: {
      scenario: result.scenario,
      seed: result.seed,
      ...Object.fromEntries(Object.entries(result.params).map(([k, v]) => [`param.${k}`, v])),
      chaos: result.chaos,
      faults: result.faults,
      verdict: result.verdict.outcome,
      traceHash: result.traceHash,
    },
  };
}

/** Lanes per view, as {@link toChromeTrace} names its threads (for tests and the HTML). */
export function threadNames(trace: ChromeTrace): string[] {
  return trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => String(e.args?.name));
}

/**
 * Structural checks of a Chrome trace, as Perfetto's importer needs it: known phases,
 * numeric times, a named thread for every event, `X` slices of a thread properly nested,
 * every flow id with exactly one start and one end, each bound inside a slice of its
 * thread. Returns the problems found (empty: fine).
 */
export function checkChromeTrace(json: unknown): string[] {
  const problems: string[] = [];
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { traceEvents?: unknown }).traceEvents)) {
    return ['not an object with a traceEvents array'];
  }
  const evs = (json as { traceEvents: Record<string, unknown>[] }).traceEvents;
  const named = new Set<string>();
  const slices = new Map<string, { ts: number; end: number }[]>();
  const flows = new Map<number, { s: number; f: number }>();
  const PHASES = new Set(['X', 'B', 'E', 'i', 'I', 'C', 's', 't', 'f', 'M']);
  for (const e of evs) {
    const where = `${String(e.name)}@${String(e.ts)}`;
    if (typeof e.ph !== 'string' || !PHASES.has(e.ph)) problems.push(`${where}: unknown phase ${String(e.ph)}`);
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) problems.push(`${where}: ts is not a number`);
    if (typeof e.pid !== 'number' || typeof e.tid !== 'number') problems.push(`${where}: pid/tid missing`);
    if (typeof e.name !== 'string') problems.push(`event without a name at ${String(e.ts)}`);
    const key = `${String(e.pid)}/${String(e.tid)}`;
    if (e.ph === 'M' && e.name === 'thread_name') named.add(key);
    if (e.ph === 'X') {
      if (typeof e.dur !== 'number' || !(e.dur >= 0)) problems.push(`${where}: X without a duration`);
      pushTo(slices, key, { ts: e.ts as number, end: (e.ts as number) + (e.dur as number) });
    }
    if (e.ph === 's' || e.ph === 'f') {
      const id = e.id as number;
      const f = flows.get(id) ?? { s: 0, f: 0 };
      f[e.ph]++;
      flows.set(id, f);
    }
  }
  for (const e of evs) {
    if (e.ph === 'M') continue;
    const key = `${String(e.pid)}/${String(e.tid)}`;
    if (!named.has(key)) problems.push(`${String(e.name)}: thread ${key} has no thread_name`);
  }
  for (const [key, list] of slices) {
    list.sort((x, y) => x.ts - y.ts || y.end - x.end);
    const stack: { ts: number; end: number }[] = [];
    for (const s of list) {
      while (stack.length > 0 && stack[stack.length - 1]!.end <= s.ts + 1e-6) stack.pop();
      const top = stack[stack.length - 1];
      if (top !== undefined && s.end > top.end + 1e-6) problems.push(`thread ${key}: slice at ${s.ts} overlaps the one at ${top.ts} without nesting`);
      stack.push(s);
    }
  }
  for (const [id, f] of flows) if (f.s !== 1 || f.f !== 1) problems.push(`flow ${id}: ${f.s} start(s), ${f.f} end(s)`);
  for (const e of evs) {
    if (e.ph !== 's' && e.ph !== 'f') continue;
    const key = `${String(e.pid)}/${String(e.tid)}`;
    const ts = e.ts as number;
    if (!(slices.get(key) ?? []).some((s) => s.ts < ts && ts < s.end)) problems.push(`flow ${String(e.id)} (${e.ph}) at ${ts} is not inside a slice of thread ${key}`);
  }
  return problems;
}
