import pc from 'picocolors';
import type { TraceRecord } from '@dep/kernel';
import { describe, expect, it } from 'vitest';
import { buildTimeline } from '../timeline.js';
import type { HangCase } from './hang-cases.js';
import { HarnessArming, runFaultsLabel, type RunFaults } from '../explore-faults.js';
import { runUnit, type RunOutcome } from '../explore-run.js';
import { hangRecoveryResult, hangRecoveryScenario, hangVerdict, runHangRecovery, type HangRecoveryRun } from './hang-recovery.js';
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

describe('hang-recovery under the harness faults: both clients ride them out, every run is checked', () => {
  async function checked(seed: number, runs: readonly RunFaults[]): Promise<RunOutcome[]> {
    const out = await runUnit(hangRecoveryScenario, { scenario: 'hang-recovery', params: {}, seed, faults: { type: 'runs', runs }, recheck: false });
    for (const o of out) {
      const label = `seed ${seed} ${runFaultsLabel(o.faults)}`;
      expect(o.outcome, `${label}: ${o.detail}`).toBe('all fences signalled');
      expect(o.violations, label).toEqual([]);
      expect(o.armed, `${label}: the harness armed the runtime`).toBe(1);
      expect(o.events, `${label}: the invariants ran over a trace`).toBeGreaterThan(0);
      expect(o.injected, `${label}: the fault fired`).toBeGreaterThan(0);
    }
    return out;
  }

  it('declares every kind; after the set-up the recording run reaches sites of every site kind', async () => {
    expect(hangRecoveryScenario.faultKinds).toEqual(['alloc', 'hang', 'fw-error', 'page-fault', 'kill', 'teardown', 'device-lost']);
    const [rec] = await runUnit(hangRecoveryScenario, { scenario: 'hang-recovery', params: {}, seed: 1, faults: { type: 'matrix', kinds: ['alloc', 'hang', 'fw-error', 'page-fault'], maxSites: 0 }, recheck: false });
    for (const k of ['alloc', 'hang', 'fw-error', 'page-fault'] as const) expect(rec!.sites?.[k]?.length, k).toBeGreaterThan(0);
  });

  it('faults on the healthy clients and on the re-created contexts: retried, re-created, recovered', async () => {
    const out = await checked(1, [
      { type: 'site', kind: 'hang', site: 'g3.q0' }, // the re-created panthor group hangs: its progress timeout, another group
      { type: 'site', kind: 'hang', site: 'guc1' }, // the healthy xe client's queue hangs: TDR, the client re-creates it
      { type: 'site', kind: 'fw-error', site: 'guc:register' },
      { type: 'site', kind: 'fw-error', site: 'csf:load' },
      { type: 'site', kind: 'alloc', site: 'drm_syncobj_create' },
      { type: 'site', kind: 'alloc', site: 'drm_dep_job_init' },
    ]);
    expect(out.every((o) => o.injected === 1)).toBe(true);
  }, 60_000);

  it('kill and teardown hit each healthy client with a job in flight; it re-creates its context / opens a new file and carries on', async () => {
    for (const kind of ['kill', 'teardown'] as const) {
      const run = await runHangRecovery({ seed: 1, harnessFaults: new HarnessArming({ type: 'kind', kind }) });
      for (const c of run.cases) {
        expect(c.injected, c.driver).toEqual([`${kind} ${c.okClient}`]);
        expect(c.recoveryStatus, c.driver).toBe(1);
        expect(c.okStatuses.at(-1), `${c.driver}: the healthy client's last job`).toBe(1);
      }
      await checked(1, [{ type: 'kind', kind }]);
    }
  }, 60_000);

  it('device-lost: the NPU is lost while its command hangs; the commands abort with ENODEV, no context can be made, the verdict accepts it', async () => {
    const run = await runHangRecovery({ seed: 1, harnessFaults: new HarnessArming({ type: 'kind', kind: 'device-lost' }) });
    const npu = byDriver(run, 'amdxdna');
    expect(npu.deviceLost).toBe(true);
    expect(npu.hungStatuses).toEqual([-19, -19]);
    expect(npu.recoveryStatus).toBe(-19);
    expect(byDriver(run, 'xe').recoveryStatus).toBe(1);
    expect(hangVerdict(run, [{ label: 'hang-recovery', records: run.records }])).toMatchObject({ ok: true });
    await checked(1, [{ type: 'kind', kind: 'device-lost' }]);
  });
});

function byDriver(run: HangRecoveryRun, d: string): HangCase {
  return run.cases.find((c) => c.driver === d)!;
}
