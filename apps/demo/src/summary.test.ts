import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { Report, TraceRecord } from '@dep/kernel';
import { judge, percentile, queueStats, unsignalledFences } from './result.js';
import type { QueueStats, ScenarioResult } from './scenarios/index.js';
import { formatMs, formatSummary, formatTable, statsTable, stripAnsi, verdictLine, visibleWidth } from './summary.js';

const plain = pc.createColors(false);
const colored = pc.createColors(true);

const rec = (name: string, ts: number, args: Record<string, unknown>, extra: Partial<TraceRecord> = {}): TraceRecord =>
  ({ name, ts, ph: 'i', lane: 'x', args, ...extra }) as unknown as TraceRecord;

function stats(over: Partial<QueueStats> = {}): QueueStats {
  return { client: 'game', queue: 'game-gfx', jobs: 12, completed: 12, errors: 0, latencyP50: 6.8, latencyP99: 8.9, preemptions: 0, timeouts: 0, ...over };
}

function result(over: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    scenario: 'demo',
    seed: 7,
    params: {},
    chaos: false,
    faults: false,
    traces: [],
    stats: [stats()],
    reports: [],
    verdict: { ok: true, outcome: 'all fences signalled', detail: 'all 24 fence(s) signalled' },
    traceHash: '0123456789abcdef',
    endTime: 197.3,
    ...over,
  };
}

const report = (kind: Report['kind'], message: string, details: string[] = []): Report => ({ kind, message, details, time: 3, task: 'kworker/x:0' });

describe('tables', () => {
  it('measures visible width without colour codes', () => {
    expect(visibleWidth(colored.red('abc'))).toBe(3);
    expect(visibleWidth('✔ é')).toBe(3);
  });

  it('pads columns to the widest cell, numbers right-aligned, colour codes not counted', () => {
    const lines = formatTable(['name', 'n'], [['a', '1'], [colored.green('longer'), '123']], colored, new Set([1]));
    const stripped = lines.map(stripAnsi);
    expect(stripped).toEqual(['name      n', '──────  ───', 'a         1', 'longer  123']);
  });

  it('formats latencies: dash for none, two decimals below 10 ms, one above', () => {
    expect([formatMs(null), formatMs(0), formatMs(6.8), formatMs(19.46), formatMs(0.004)]).toEqual(['–', '0', '6.80', '19.5', '4.0e-3']);
  });

  it('the per-queue table: variant column only when there are variants, extra columns appended in order', () => {
    const a = statsTable([stats()], plain);
    expect(a[0]).toBe('client  queue     jobs  done  errors  p50 ms  p99 ms  preempt  timeouts');
    expect(a[2]).toBe('game    game-gfx    12    12       0    6.80    8.90        0         0');
    const b = statsTable(
      [stats({ variant: 'worker', extra: { inline: 0, 'run items': 12 } }), stats({ variant: 'bypass', queue: 'q', extra: { inline: 12, 'run items': 0 } })],
      plain,
    );
    expect(b[0]!.split(/\s{2,}/)).toEqual(['variant', 'client', 'queue', 'jobs', 'done', 'errors', 'p50 ms', 'p99 ms', 'preempt', 'timeouts', 'inline', 'run items']);
    expect(b[3]!.split(/\s+/)).toEqual(['bypass', 'game', 'q', '12', '12', '0', '6.80', '8.90', '0', '0', '12', '0']);
  });

  it('colours the counts that need attention', () => {
    const line = statsTable([stats({ completed: 10, errors: 2, timeouts: 1 })], colored)[2]!;
    expect(line).toContain(colored.yellow('10'));
    expect(line).toContain(colored.red('2'));
    expect(line).toContain(colored.yellow('1'));
  });
});

describe('the summary', () => {
  it('shows the table, no-warnings line, the verdict and the replay facts', () => {
    const text = formatSummary(result({ params: { frames: '12' }, chaos: true }), plain).join('\n');
    expect(text).toContain('Per client and queue');
    expect(text).toContain('No warnings: lockdep and the WARN sink stayed quiet.');
    expect(text).toContain('✔ verdict: all fences signalled — all 24 fence(s) signalled');
    expect(text).toContain('seed 7, frames=12, chaos; 197.3 ms of virtual time; trace hash 0123456789abcdef (same seed, same hash)');
  });

  it('lists every report with its details, cut after a limit', () => {
    const details = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const text = formatSummary(result({ reports: [report('lockdep', 'possible circular locking', details), report('warn', 'a WARN')] }), plain, { maxReportDetails: 5 }).join('\n');
    expect(text).toContain('2 report(s) from lockdep and the WARN sink (checks: warn):');
    expect(text).toContain('[lockdep] possible circular locking (kworker/x:0 at 3 ms)');
    expect(text).toContain('    line 4');
    expect(text).not.toContain('    line 5');
    expect(text).toContain('… 15 more line(s)');
    expect(text).toContain('[warn] a WARN');
  });

  it('a failed verdict is a red cross', () => {
    const r = result({ verdict: { ok: false, outcome: 'deadlock', detail: 'stall: nothing runnable' } });
    expect(verdictLine(r, plain)).toBe('✘ verdict: deadlock — stall: nothing runnable');
    expect(verdictLine(r, colored)).toContain('\x1b[31m');
  });

  it('shows the side-by-side comparison with its columns', () => {
    const text = formatSummary(
      result({ stats: [], comparison: { title: 'bypass vs worker', columns: ['worker', 'bypass'], rows: [{ label: 'run work items', values: [46, 4] }, { label: 'per job', values: [2.046, 1.09] }] } }),
      plain,
    );
    const i = text.indexOf('bypass vs worker');
    expect(i).toBeGreaterThan(-1);
    expect(text[i + 1]).toMatch(/^\s+worker\s+bypass$/);
    expect(text[i + 3]).toMatch(/^ {2}run work items\s+46\s+4$/);
    expect(text[i + 4]).toMatch(/^ {2}per job\s+2.05\s+1.09$/);
    expect(text.join('\n')).not.toContain('Per client and queue');
  });
});

describe('statistics and verdicts from the trace', () => {
  it('percentile by nearest rank', () => {
    expect(percentile([], 50)).toBe(null);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
  });

  it('per-queue jobs, completions, errors, push→done latency and timeouts from drm_dep tracepoints', () => {
    const records = [
      rec('drm_dep:queue_init', 0, { queue: 'q', context: 5n }),
      rec('drm_dep:job_push', 0, { queue: 'q', seqno: 1n }),
      rec('drm_dep:job_push', 1, { queue: 'q', seqno: 2n }),
      rec('drm_dep:job_push', 2, { queue: 'q', seqno: 3n }),
      rec('drm_dep:job_done', 4, { queue: 'q', seqno: 1n, error: 0 }, { ph: 'E' }),
      rec('drm_dep:timeout', 9, { queue: 'q', seqno: 2n, killed: false }),
      rec('drm_dep:job_done', 9, { queue: 'q', seqno: 2n, error: -110 }, { ph: 'E' }),
      rec('drm_dep:job_done', 12, { queue: 'q', seqno: 3n, error: 0 }, { ph: 'E' }),
      rec('drm_dep:queue_init', 0, { queue: 'idle', context: 6n }),
    ];
    const rows = queueStats({ label: 'x', records, clients: { q: 'client-q' } }, { variant: 'v', extra: (q) => ({ q }) });
    expect(rows).toEqual([
      { variant: 'v', client: 'client-q', queue: 'q', jobs: 3, completed: 2, errors: 1, latencyP50: 4, latencyP99: 10, preemptions: 0, timeouts: 1, extra: { q: 'q' } },
      { variant: 'v', client: 'idle', queue: 'idle', jobs: 0, completed: 0, errors: 0, latencyP50: null, latencyP99: null, preemptions: 0, timeouts: 0, extra: { q: 'idle' } },
    ]);
  });

  it('a fence initialised, never signalled and never destroyed is unsignalled; a destroyed one is not', () => {
    const f = (name: string, seqno: bigint) => rec(name, 0, { driver: 'd', timeline: 'tl', context: 1n, seqno });
    expect(unsignalledFences([f('dma_fence:init', 1n), f('dma_fence:init', 2n), f('dma_fence:signaled', 1n), f('dma_fence:init', 3n), f('dma_fence:destroy', 3n)])).toEqual(['tl 1:2']);
  });

  it('the verdict: cycle, then deadlock, then unsignalled fences, then leaks; else all signalled or completed', () => {
    const fence = [rec('dma_fence:init', 0, { timeline: 't', context: 1n, seqno: 1n })];
    const signalled = [...fence, rec('dma_fence:signaled', 1, { timeline: 't', context: 1n, seqno: 1n })];
    const t = (records: TraceRecord[]) => [{ label: 'x', records }];
    expect(judge(t(signalled), [report('fence-cycle', 'cycle!'), report('stall', 'stall!')])).toMatchObject({ ok: false, outcome: 'cycle found', detail: 'cycle!' });
    expect(judge(t(signalled), [report('stall', 'stall!')])).toMatchObject({ ok: false, outcome: 'deadlock' });
    expect(judge(t(fence), [])).toMatchObject({ ok: false, outcome: 'unsignalled fences', detail: '1 fence(s) never signalled: t 1:1' });
    expect(judge(t(signalled), [report('leak', 'x alive')])).toMatchObject({ ok: false, outcome: 'leak' });
    expect(judge(t(signalled), [report('lockdep', 'a splat')])).toEqual({ ok: true, outcome: 'all fences signalled', detail: 'all 1 fence(s) signalled' });
    expect(judge(t([]), [])).toMatchObject({ ok: true, outcome: 'completed' });
  });
});
