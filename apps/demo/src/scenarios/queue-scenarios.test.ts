import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { Comparison, Scenario, ScenarioResult } from './index.js';
import { inactiveFenceScenario } from './inactive-fence.js';
import { kernelScenario } from './kernel.js';
import { bypassVsWorkerScenario, irqPutScenario } from './queue-options.js';
import { teardownUnderLoadScenario } from './teardown.js';
import { planWorkload } from './workload.js';

const colors = pc.createColors(false);

async function run(s: Scenario, opts: { seed?: number; params?: Record<string, string>; chaos?: boolean; faults?: boolean } = {}): Promise<{ result: ScenarioResult; log: string[] }> {
  const log: string[] = [];
  const result = (await s.run({ seed: opts.seed ?? 1, log: (l) => void log.push(l), colors, params: opts.params ?? {}, ...(opts.chaos ? { chaos: true } : {}), ...(opts.faults ? { faults: true } : {}) }))!;
  return { result, log };
}

/** A comparison row's values by label. */
function row(c: Comparison | undefined, label: string): readonly (number | string)[] {
  const r = c?.rows.find((x) => x.label === label);
  if (!r) throw new Error(`no row "${label}"`);
  return r.values;
}

describe('the workload plan', () => {
  it('is the same for a seed whatever runs it, and differs between seeds', () => {
    expect(planWorkload(3, 5)).toEqual(planWorkload(3, 5));
    expect(planWorkload(3, 5)).not.toEqual(planWorkload(4, 5));
    const p = planWorkload(1, 12);
    expect(p.game).toHaveLength(12);
    expect(p.comp.every((c, i) => c.at >= i * 16 + 8 && c.duration >= 1 && c.duration <= 2)).toBe(true);
    expect(p.ml.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12 * 16);
  });
});

describe('bypass-vs-worker', () => {
  it('the same jobs run either way; the bypass saves the run work items; every fence signals', async () => {
    const { result } = await run(bypassVsWorkerScenario, { params: { frames: '6' } });
    expect(result.verdict).toMatchObject({ ok: true, outcome: 'all fences signalled' });
    expect(result.traces.map((t) => t.label)).toEqual(['worker', 'bypass']);
    const [pushedW, pushedB] = row(result.comparison, 'jobs pushed') as number[];
    expect(pushedW).toBe(pushedB);
    const [inlineW, inlineB] = row(result.comparison, 'runJob inline from push (bypass)') as number[];
    expect(inlineW).toBe(0);
    expect(inlineB).toBeGreaterThan(pushedB! / 2);
    const [runW, runB] = row(result.comparison, 'run work items executed') as number[];
    expect(runB).toBeLessThan(runW!);
    expect(row(result.comparison, 'runJob on the submit worker')).toEqual([pushedW, pushedB! - inlineB!]);
    // Per queue and variant: jobs equal, all done.
    for (const s of result.stats) expect(s.completed).toBe(s.jobs);
    expect(result.stats.map((s) => `${s.variant}/${s.client}`)).toEqual(['worker/game', 'worker/compositor', 'worker/ml', 'bypass/game', 'bypass/compositor', 'bypass/ml']);
    expect(result.reports).toEqual([]);
  });

  it('same seed, same hash; another seed, another workload', async () => {
    const a = await run(bypassVsWorkerScenario, { seed: 4, params: { frames: '3' } });
    const b = await run(bypassVsWorkerScenario, { seed: 4, params: { frames: '3' } });
    const c = await run(bypassVsWorkerScenario, { seed: 5, params: { frames: '3' } });
    expect(a.result.traceHash).toBe(b.result.traceHash);
    expect(c.result.traceHash).not.toBe(a.result.traceHash);
  });

  it('under --chaos --faults, failed submits unwind and every pushed job still completes', async () => {
    let failedSomewhere = false;
    for (const seed of [1, 2, 3]) {
      const { result, log } = await run(bypassVsWorkerScenario, { seed, params: { frames: '8' }, chaos: true, faults: true });
      expect(result.verdict, `seed ${seed}`).toMatchObject({ ok: true, outcome: 'all fences signalled' });
      expect(result.reports.filter((r) => r.kind === 'leak' || r.kind === 'oops')).toEqual([]);
      if (log.some((l) => /submit\(s\) failed with ENOMEM and were unwound/.test(l))) failedSomewhere = true;
      expect(result).toMatchObject({ chaos: true, faults: true });
    }
    expect(failedSomewhere).toBe(true);
  });
});

describe('irq-put', () => {
  it('with the flag every job retires in the fence callback and freeJob runs in irq; without, a put worker does it all', async () => {
    const { result } = await run(irqPutScenario, { params: { frames: '5' } });
    expect(result.verdict.ok).toBe(true);
    const [jobs] = row(result.comparison, 'jobs pushed') as number[];
    expect(row(result.comparison, 'retired in the fence callback (irq)')).toEqual([0, jobs]);
    expect(row(result.comparison, 'retired by the put worker')).toEqual([jobs, 0]);
    expect(row(result.comparison, 'put work items executed')).toEqual([jobs, 0]);
    expect(row(result.comparison, 'freeJob ran in irq / worker / process')).toEqual([`0 / ${jobs} / 0`, `${jobs} / 0 / 0`]);
  });
});

describe('inactive-fence', () => {
  it('without INACTIVE: the published fences of failed submits are cancelled, WARNed, and a consumer composes from them', async () => {
    const { result } = await run(inactiveFenceScenario);
    const without = result.traces[0]!;
    expect(without.label).toBe('without');
    const armedWithoutPush = (without.reports ?? []).filter((r) => r.kind === 'warn' && /armed and freed without push/.test(r.message));
    expect(armedWithoutPush).toHaveLength(4);
    expect(row(result.comparison, 'failed between arm and push')).toEqual([4, 4]);
    expect(row(result.comparison, 'published fences signalled -ECANCELED')).toEqual([4, 0]);
    expect(row(result.comparison, 'display frames composed from one')[0]).toBeGreaterThan(0);
  });

  it('with INACTIVE: the early publish is refused, failed submits drop unpublished fences, nothing is cancelled or leaked', async () => {
    const { result } = await run(inactiveFenceScenario);
    const withIt = result.traces[1]!;
    expect(withIt.label).toBe('with');
    expect((withIt.reports ?? []).filter((r) => r.kind === 'warn')).toEqual([]);
    expect(row(result.comparison, 'early publish refused (INACTIVE)')).toEqual([0, 12]);
    expect(row(result.comparison, 'display frames composed from one')[1]).toBe(0);
    expect(row(result.comparison, 'leaks')).toEqual([0, 0]);
    // The dropped fences were never signalled, and the verdict does not count them.
    expect(result.verdict).toMatchObject({ ok: true, outcome: 'all fences signalled' });
  });
});

describe('teardown-under-load', () => {
  it('sync returns from fini when the firmware replied; async at once; both cancel, kill and free everything', async () => {
    const { result, log } = await run(teardownUnderLoadScenario);
    expect(row(result.comparison, 'fini() returned after (ms)')).toEqual([5, 0]);
    expect(row(result.comparison, 'queue released after (ms)')).toEqual([5, 5]);
    const cancelled = row(result.comparison, 'cancelled on the hardware (-ECANCELED)') as number[];
    const killed = row(result.comparison, 'killed while queued (-ESRCH)') as number[];
    expect(cancelled[0]).toBeGreaterThan(0);
    expect(killed[0]).toBeGreaterThan(0);
    expect(cancelled).toEqual([cancelled[0], cancelled[0]]);
    expect(row(result.comparison, 'compositor jobs done')).toEqual(['8/8', '8/8']);
    expect(row(result.comparison, 'leaks')).toEqual([0, 0]);
    expect(result.verdict).toMatchObject({ ok: true, outcome: 'all fences signalled' });
    expect(log[0]).toMatch(/^sync {3}teardown: fini\(\) returned after 5 ms/);
  });
});

describe('the kernel scenario as a result', () => {
  it('returns its trace, its reports and a verdict matching the run', async () => {
    const ok = await run(kernelScenario, { seed: 1 });
    expect(ok.result.verdict).toMatchObject({ ok: true, outcome: 'completed' });
    expect(ok.result.reports.map((r) => r.kind)).toEqual(['lockdep', 'lockdep']);
    expect(ok.result.traces[0]!.records.some((r) => r.name === 'workqueue:workqueue_execute_start')).toBe(true);
    expect(ok.result.chaos).toBe(true);
    const dead = await run(kernelScenario, { seed: 2 });
    expect(dead.result.verdict).toMatchObject({ ok: false, outcome: 'deadlock' });
  });
});
