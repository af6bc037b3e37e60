import pc from 'picocolors';
import type { TraceRecord } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { buildTimeline } from '../timeline.js';
import type { HangCase } from './hang-cases.js';
import { hangRecoveryResult, hangRecoveryScenario, runHangRecovery, type HangRecoveryRun } from './hang-recovery.js';
import { scenarios } from './index.js';

const colors = pc.createColors(false);
const ETIME = -62;
const ETIMEDOUT = -110;
const ECANCELED = -125;

/** When the jobs of the queues of `client` finished, with their error. */
function doneTimes(run: HangRecoveryRun, client: string): { ts: number; error: number }[] {
  const queues = new Set(Object.entries(run.clients).filter(([, c]) => c === client).map(([q]) => q));
  return run.records
    .filter((r: TraceRecord) => r.name === 'drm_dep:job_done' && queues.has(String((r.args as { queue: string }).queue)))
    .map((r) => ({ ts: r.ts, error: Number((r.args as { error: number }).error) }));
}

describe('hang-recovery: every driver on one runtime', () => {
  let all: HangRecoveryRun | null = null;
  const runAll = async (): Promise<HangRecoveryRun> => (all ??= await runHangRecovery({ seed: 1 }));
  const byDriver = (run: HangRecoveryRun, d: string): HangCase => run.cases.find((c) => c.driver === d)!;

  it('is registered with a --driver option', () => {
    const s = scenarios.find((x) => x.name === 'hang-recovery');
    expect(s).toBe(hangRecoveryScenario);
    expect(s!.params![0]!.choices).toEqual(['xe', 'panthor', 'amdxdna', 'all']);
  });

  it('xe: the TDR bans the hung queue (head -ETIME, behind it -ECANCELED, then exec ECANCELED); a new queue works', async () => {
    const xe = byDriver(await runAll(), 'xe');
    expect(xe.hungStatuses).toEqual([ETIME, ECANCELED]);
    expect(xe.submitAfterHang).toBe('ECANCELED');
    expect(xe.hungAt, 'not before the 5 s job timeout').toBeGreaterThanOrEqual(5000);
    expect(xe.recoveryStatus).toBe(1);
  });

  it('panthor: the progress timeout terminates the hung group (-ETIMEDOUT, state TIMEDOUT); the other group\'s state is clean; a new group works', async () => {
    const p = byDriver(await runAll(), 'panthor') as HangCase & { states: { hung: string; ok: string } };
    expect(p.hungStatuses[0]).toBe(ETIMEDOUT);
    expect(p.hungStatuses.every((s) => s < 0)).toBe(true);
    expect(p.states).toEqual({ hung: 'TIMEDOUT', ok: 'ok' });
    expect(p.hungAt).toBeGreaterThanOrEqual(5000);
    expect(p.recoveryStatus).toBe(1);
  });

  it('amdxdna: at 60 s the context is destroyed and re-created (TIMEOUT, the one behind ABORTed); the same context runs the next command', async () => {
    const a = byDriver(await runAll(), 'amdxdna') as HangCase & { resets: number; cmdStates: string[] };
    expect(a.hungStatuses).toEqual([ETIMEDOUT, ECANCELED]);
    expect(a.cmdStates).toEqual(['TIMEOUT', 'ABORT']);
    expect(a.resets).toBe(1);
    expect(a.hungAt).toBeGreaterThanOrEqual(60_000);
    expect(a.recoveryStatus).toBe(1);
  });

  it('the other client on each device carries on during the hang: all its jobs complete, many of them before the recovery', async () => {
    const run = await runAll();
    for (const c of run.cases) {
      expect(c.okStatuses.length, c.driver).toBeGreaterThan(10);
      expect(c.okStatuses.every((s) => s === 1), c.driver).toBe(true);
      const during = doneTimes(run, c.okClient).filter((d) => d.ts > 100 && d.ts < c.hungAt);
      expect(during.length, `${c.driver}: jobs completed while the other context hung`).toBeGreaterThan(10);
      expect(during.every((d) => d.error === 0)).toBe(true);
      // The hung client's recovery job finished after its hang was dealt with.
      expect(c.recoveredAt).toBeGreaterThan(c.hungAt);
    }
  });

  it('summary and verdict: timeouts and errors on the hung queues only, every fence signalled, nothing leaked', async () => {
    const run = await runAll();
    expect(run.finished).toBe(true);
    expect(run.reports).toEqual([]);
    const result = hangRecoveryResult(run, { seed: 1, log: () => undefined, colors });
    expect(result.verdict).toMatchObject({ ok: true, outcome: 'all fences signalled' });
    const rows = result.stats;
    for (const client of ['xe-hung', 'panthor-hung', 'npu-hung']) {
      const mine = rows.filter((r) => r.client === client);
      expect(mine.reduce((n, r) => n + r.timeouts, 0), client).toBe(1);
      expect(mine.reduce((n, r) => n + r.errors, 0), client).toBeGreaterThanOrEqual(2);
      expect(mine.reduce((n, r) => n + r.completed, 0), client).toBe(1);
    }
    for (const client of ['xe-ok', 'panthor-ok', 'npu-ok']) {
      const mine = rows.filter((r) => r.client === client);
      expect(mine.reduce((n, r) => n + r.timeouts + r.errors, 0), client).toBe(0);
      expect(mine.reduce((n, r) => n + r.completed, 0), client).toBeGreaterThan(10);
    }
    const view = buildTimeline({ label: 'hang-recovery', records: run.records, clients: run.clients, reports: run.reports });
    expect(view.markers.filter((m) => m.kind === 'timeout').length).toBeGreaterThanOrEqual(3);
  });

  it('--driver picks one driver; the same seed gives the same trace hash', async () => {
    const opts = { seed: 3, log: () => undefined, colors, params: { driver: 'panthor' } };
    const a = (await hangRecoveryScenario.run(opts))!;
    const b = (await hangRecoveryScenario.run(opts))!;
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.verdict.ok).toBe(true);
    expect(new Set(a.stats.map((s) => s.client))).toEqual(new Set(['panthor-hung', 'panthor-ok']));
    expect(a.endTime).toBeLessThan(10_000);
  });

  it('under chaos the outcome holds for several seeds', async () => {
    for (const seed of [2, 5]) {
      const r = (await hangRecoveryScenario.run({ seed, chaos: true, log: () => undefined, colors, params: { driver: 'all' } }))!;
      expect(r.verdict, `seed ${seed}`).toMatchObject({ ok: true, outcome: 'all fences signalled' });
    }
  }, 60_000);
});
