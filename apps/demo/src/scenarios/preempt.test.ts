import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { checkChromeTrace, threadNames, toChromeTrace } from '../chrome-trace.js';
import type { ScenarioResult } from './index.js';
import { foreignResvScenario, narrativeRecords, preemptDeadlockScenario } from './preempt.js';

const colors = pc.createColors(false);
async function run(s: typeof preemptDeadlockScenario, ordering: string, seed = 1): Promise<{ result: ScenarioResult; log: string[] }> {
  const log: string[] = [];
  const result = (await s.run({ seed, log: (l) => void log.push(l), colors, params: { ordering } }))!;
  return { result, log };
}

describe('preempt-deadlock (rfc-designs B.2)', () => {
  it('none: the cycle is found, the TDR kills the VM at 5 s, 8 seqnos are lost', async () => {
    const { result, log } = await run(preemptDeadlockScenario, 'none');
    expect(result.verdict.ok).toBe(false);
    expect(result.verdict.outcome).toBe('cycle found');
    expect(result.verdict.detail).toMatch(/at 5000 ms the user-fence TDR signalled U with -ETIME and killed the VM \(8 seqnos lost\)/);
    expect(result.reports.map((r) => r.kind)).toEqual(['fence-cycle']);
    expect(result.stats).toEqual([
      expect.objectContaining({ client: 'vm0', jobs: 10, completed: 2, errors: 8, timeouts: 1, extra: { 'user fence U': '-62 at 5000 ms', VM: 'killed' } }),
    ]);
    expect(log.some((l) => /^\s+26ms {2}FENCE-CYCLE/.test(l))).toBe(true);
  });

  for (const ordering of ['slot', 'gate']) {
    it(`${ordering}: completes, every seqno written, every fence signalled`, async () => {
      const { result } = await run(preemptDeadlockScenario, ordering);
      expect(result.verdict).toMatchObject({ ok: true, outcome: 'all fences signalled' });
      expect(result.stats[0]).toMatchObject({ jobs: 10, completed: 10, errors: 0, timeouts: 0, extra: { VM: 'alive' } });
      expect(result.reports).toEqual([]);
    });
  }

  it('the trace has the user queue as an engine lane, the cycle as a report marker, and is valid Chrome JSON', async () => {
    const { result } = await run(preemptDeadlockScenario, 'none');
    const t = JSON.parse(JSON.stringify(toChromeTrace(result))) as ReturnType<typeof toChromeTrace>;
    expect(checkChromeTrace(t)).toEqual([]);
    expect(threadNames(t)).toEqual(expect.arrayContaining(['engine:vm0-q0 (user queue)', 'scenario', 'kworker/vm-rebind:0']));
    const running = t.traceEvents.filter((e) => e.ph === 'X' && e.name === 'vm0-q0 running');
    expect(running.map((e) => [e.ts, e.dur])).toEqual([[0, 26000]]); // runs until suspended at 26 ms, never resumed
    expect(t.traceEvents.some((e) => e.cat === 'marker' && e.name.startsWith('[fence-cycle]'))).toBe(true);
  });
});

describe('foreign-resv (rfc-designs B.3)', () => {
  it('all designs side by side: none and slot deadlock, only gate and the manager survive', async () => {
    const { result } = await run(foreignResvScenario, 'all');
    expect(result.traces.map((t) => t.label)).toEqual(['none', 'slot', 'gate', 'manager']);
    expect(result.verdict).toEqual({ ok: false, outcome: 'cycle found', detail: 'none, slot: cycle found, VM killed by the TDR; gate, manager: complete, nothing lost' });
    const row = (label: string) => result.comparison!.rows.find((r) => r.label === label)!.values;
    expect(row('VM killed')).toEqual(['yes', 'yes', 'no', 'no']);
    expect(row('seqnos written / lost')).toEqual(['2 / 8', '2 / 8', '10 / 0', '10 / 0']);
    expect(row('fences never signalled')).toEqual([0, 0, 0, 0]);
  });

  it('same seed, same hash; chaos seeds keep the verdicts', async () => {
    const a = await run(foreignResvScenario, 'gate', 3);
    const b = await run(foreignResvScenario, 'gate', 3);
    expect(a.result.traceHash).toBe(b.result.traceHash);
    for (const seed of [1, 2, 3]) {
      const r = (await foreignResvScenario.run({ seed, log: () => undefined, colors, params: { ordering: 'slot' }, chaos: true }))!;
      expect([seed, r.verdict.outcome]).toEqual([seed, 'cycle found']);
    }
  });
});

describe('the narrative as trace records', () => {
  it('running spans between start/resume and suspend/ban; preemption and ban markers on the queue lane', () => {
    const recs = narrativeRecords(
      ['     0ms  export U', '    10ms  vm0-q0: writes seqno 1', '    25ms  vm0-q0: preemption requested', '    26ms  vm0-q0: suspended (off the hardware)', '    26ms  FENCE-CYCLE: x', '    53ms  vm0-q0: resumed', '  5000ms  user-fence TDR: y', '  5000ms  vm0-q0: banned (the VM is killed)'],
      5001,
    );
    const spans = recs.filter((r) => r.name === 'demo:span').map((r) => [r.ts, r.dur]);
    expect(spans).toEqual([[0, 26], [53, 4947]]);
    const kinds = recs.filter((r) => r.name === 'demo:note').map((r) => `${r.lane}|${(r.args as { kind?: string }).kind}`);
    expect(kinds).toEqual([
      'scenario|event',
      'engine:vm0-q0 (user queue)|event',
      'engine:vm0-q0 (user queue)|preempt',
      'engine:vm0-q0 (user queue)|event',
      'scenario|report',
      'engine:vm0-q0 (user queue)|event',
      'scenario|timeout',
      'engine:vm0-q0 (user queue)|fault',
    ]);
  });
});
