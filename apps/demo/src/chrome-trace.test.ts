import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { ChromeTraceSink, type TraceRecord } from '@dep/kernel';
import { checkChromeTrace, threadNames, toChromeTrace, type ChromeTrace } from './chrome-trace.js';
import { bypassVsWorkerScenario } from './scenarios/queue-options.js';
import { kernelScenario } from './scenarios/kernel.js';
import type { ScenarioResult } from './scenarios/index.js';
import { buildTimeline, MIN_JOB_DUR } from './timeline.js';

const colors = pc.createColors(false);
const rec = (name: string, ts: number, lane: string, args: Record<string, unknown>, extra: Partial<TraceRecord> = {}): TraceRecord =>
  ({ name, ts, ph: 'i', lane, args, ...extra }) as unknown as TraceRecord;

async function run(scenario: typeof kernelScenario, params: Record<string, string> = {}): Promise<ScenarioResult> {
  return (await scenario.run({ seed: 1, log: () => undefined, colors, params }))!;
}

/** Parse as a file reader would. */
const roundTrip = (t: ChromeTrace): ChromeTrace => JSON.parse(JSON.stringify(t)) as ChromeTrace;

describe('the timeline model', () => {
  it('matches B/E by seqno, splits overlapping jobs into rows, and keeps unended slices open', () => {
    const L = 'drm_dep:q';
    const records = [
      rec('drm_dep:queue_init', 0, L, { queue: 'q', context: 7n }),
      rec('drm_dep:job_run', 0, L, { queue: 'q', seqno: 1n }, { ph: 'B' }),
      rec('drm_dep:job_run', 1, L, { queue: 'q', seqno: 2n }, { ph: 'B' }),
      rec('drm_dep:job_done', 5, L, { queue: 'q', seqno: 1n, error: 0 }, { ph: 'E' }),
      rec('drm_dep:job_run', 6, L, { queue: 'q', seqno: 3n }, { ph: 'B' }),
      rec('drm_dep:job_done', 8, L, { queue: 'q', seqno: 2n, error: 0 }, { ph: 'E' }),
      rec('drm_dep:job_run', 9, L, { queue: 'q', seqno: 4n }, { ph: 'B' }),
    ];
    const v = buildTimeline({ label: 't', records, clients: { q: 'app' } });
    const jobs = v.slices.map((s) => [s.name, s.ts, +s.dur.toFixed(6), s.row, s.open, s.client]);
    expect(jobs).toEqual([
      ['q #1', 0, 5, 0, false, 'app'],
      ['q #2', 1, 7, 1, false, 'app'],
      ['q #3', 6, 3, 0, true, 'app'],
      ['q #4', 9, MIN_JOB_DUR, 0, true, 'app'], // q #3 ran to the end of the trace (9): row 0 is free again
    ]);
    expect(v.lanes.find((l) => l.key === L)).toMatchObject({ name: 'q', group: 'queues', rows: 2, client: 'app' });
  });

  it('gives dependencies collected before arm to the next arm on that queue, and draws producer → job', () => {
    const records = [
      rec('drm_dep:queue_init', 0, 'drm_dep:a', { queue: 'a', context: 10n }),
      rec('drm_dep:queue_init', 0, 'drm_dep:b', { queue: 'b', context: 11n }),
      rec('dma_fence:init', 0, 'main', { timeline: 'user', context: 99n, seqno: 4n }),
      rec('drm_dep:job_run', 0, 'drm_dep:a', { queue: 'a', seqno: 1n }, { ph: 'B' }),
      rec('drm_dep:job_dependency', 0, 'drm_dep:b', { queue: 'b', context: 10n, seqno: 1n, preempt: false, job: 0 }),
      rec('drm_dep:job_dependency', 0, 'drm_dep:b', { queue: 'b', context: 99n, seqno: 4n, preempt: true, job: 0 }),
      rec('drm_dep:job_arm', 0, 'drm_dep:b', { queue: 'b', context: 11n, seqno: 1n }),
      rec('dma_fence:signaled', 2, 'timer', { timeline: 'user', context: 99n, seqno: 4n }),
      rec('drm_dep:job_done', 3, 'drm_dep:a', { queue: 'a', seqno: 1n, error: 0 }, { ph: 'E' }),
      rec('dma_fence:signaled', 3, 'irq', { timeline: 'a', context: 10n, seqno: 1n }),
      rec('drm_dep:job_run', 3, 'drm_dep:b', { queue: 'b', seqno: 1n }, { ph: 'B' }),
      rec('drm_dep:job_done', 4, 'drm_dep:b', { queue: 'b', seqno: 1n, error: 0 }, { ph: 'E' }),
    ];
    const v = buildTimeline({ label: 't', records });
    const name = (i: number) => v.slices[i]!.name;
    expect(v.flows.map((f) => [('slice' in f.from ? name(f.from.slice) : v.markers[f.from.marker]!.name), name(f.to.slice), f.preempt])).toEqual([
      ['a #1', 'b #1', false],
      ['signalled user 99:4', 'b #1', true],
    ]);
    expect(v.slices.find((s) => s.name === 'b #1')!.args.waitedFor).toBe('a #1, user 99:4 (preempt)');
    // The queue's finished fence is marked on the queue's lane; a task's fence on its timeline's lane.
    const markerLanes = v.markers.filter((m) => m.kind === 'fence').map((m) => v.lanes[m.lane]!.key);
    expect(markerLanes).toEqual(['fence:user', 'drm_dep:a']);
  });
});

describe('--trace: Chrome trace JSON', () => {
  it('bypass-vs-worker: valid, engine and queue lanes per variant, flow pairs matched and bound inside slices', async () => {
    const t = roundTrip(toChromeTrace(await run(bypassVsWorkerScenario, { frames: '4' })));
    expect(checkChromeTrace(t)).toEqual([]);
    const threads = threadNames(t);
    for (const lane of ['gpu0:gfx', 'gpu0:compute', 'drm_dep:game-gfx', 'drm_dep:comp-gfx', 'drm_dep:ml-compute', 'drm_dep:ml-compute (2)']) {
      expect(threads.filter((n) => n === lane), lane).toHaveLength(2); // worker and bypass
    }
    const processes = t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => e.args?.name);
    expect(processes).toEqual(expect.arrayContaining(['worker: hardware engines', 'worker: drm_dep queues', 'bypass: hardware engines', 'bypass: drm_dep queues']));
    const starts = t.traceEvents.filter((e) => e.ph === 's');
    const ends = t.traceEvents.filter((e) => e.ph === 'f');
    expect(starts.length).toBeGreaterThan(0);
    expect(new Set(starts.map((e) => e.id))).toEqual(new Set(ends.map((e) => e.id)));
    expect(ends.every((e) => e.bp === 'e')).toBe(true);
    const fenceMarkers = t.traceEvents.filter((e) => e.cat === 'marker' && e.name.startsWith('signalled'));
    expect(fenceMarkers.length).toBeGreaterThan(0);
    const jobs = t.traceEvents.filter((e) => e.ph === 'X' && /^game-gfx #\d+$/.test(e.name));
    expect(jobs.length).toBe(4 * 2 * 2); // 4 frames × (queue + engine lane) × 2 variants
    expect(jobs.every((e) => e.args?.client === 'game')).toBe(true);
    expect(t.metadata).toMatchObject({ scenario: 'bypass-vs-worker', seed: 1, 'param.frames': '4', verdict: 'all fences signalled' });
  });

  it('kernel: valid, CPU lanes for the tasks and workers, work items as slices', async () => {
    const t = roundTrip(toChromeTrace(await run(kernelScenario)));
    expect(checkChromeTrace(t)).toEqual([]);
    expect(threadNames(t)).toEqual(expect.arrayContaining(['main', 'timer', 'kworker/submit:0', 'kworker/cleanup:0']));
    expect(t.traceEvents.filter((e) => e.ph === 'X' && e.name.startsWith('submit-job-')).length).toBe(3);
    expect(t.traceEvents.some((e) => e.cat === 'marker' && e.name.startsWith('[lockdep]'))).toBe(true);
  });

  it('the checker catches what Perfetto would reject: mis-nested slices, unpaired or unbound flows, unnamed threads', () => {
    // What a raw dump of overlapping B/E jobs on one lane gives: not nested.
    const sink = new ChromeTraceSink();
    sink.write(rec('x:a', 0, 'q', {}, { ph: 'X', dur: 5 }));
    sink.write(rec('x:b', 1, 'q', {}, { ph: 'X', dur: 7 }));
    const bad = sink.toJSON();
    bad.traceEvents.push({ name: 'dependency', cat: 'dependency', ph: 's', ts: 500, pid: 1, tid: 1, id: 1 });
    bad.traceEvents.push({ name: 'dependency', cat: 'dependency', ph: 's', ts: 20000, pid: 1, tid: 1, id: 2 });
    bad.traceEvents.push({ name: 'dependency', cat: 'dependency', ph: 'f', ts: 20000, pid: 1, tid: 1, id: 2 });
    bad.traceEvents.push({ name: 'orphan', cat: 'x', ph: 'i', ts: 0, pid: 1, tid: 9 });
    const problems = checkChromeTrace(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/overlaps the one at 0 without nesting/),
        'flow 1: 1 start(s), 0 end(s)',
        expect.stringMatching(/flow 2 \(s\) at 20000 is not inside a slice/),
        'orphan: thread 1/9 has no thread_name',
      ]),
    );
    expect(checkChromeTrace({})).toEqual(['not an object with a traceEvents array']);
  });
});
