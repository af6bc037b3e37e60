/**
 * The CI reliability budget over the demo scenarios: every scenario × 3 seeds × {no faults,
 * the fault matrix (up to 3 sites per kind and seed)}, every invariant checked after every run. Expected: no violation,
 * no run without faults that throws, and under a fault only an ioctl errno may escape (a
 * client giving up, which the report lists).
 */
import { describe, expect, it } from 'vitest';
import { harnessFailed, runUnit, type RunOutcome } from './explore-run.js';
import { runFaultsLabel } from './explore-faults.js';
import { replayCommand } from './explore.js';
import { BUDGET_FAULTS, BUDGET_RECHECK, BUDGET_SEEDS } from './reliability-budget.js';
import { scenarios } from './scenarios/index.js';

/** One readable line per run the harness counts against the code. */
function problems(outcomes: readonly RunOutcome[]): string[] {
  return outcomes.filter(harnessFailed).map((o) => `${replayCommand(o)}  # ${o.violations.map((v) => `${v.invariant}: ${v.reason}`).join('; ') || o.detail}`);
}

describe('reliability budget: scenarios × seeds × {none, fault matrix}', () => {
  it('has scenarios to run', () => {
    expect(scenarios.length).toBeGreaterThan(0);
  });

  for (const scenario of scenarios) {
    it(`${scenario.name}: every invariant holds after every run`, async () => {
      const outcomes: RunOutcome[] = [];
      for (const seed of BUDGET_SEEDS) {
        for (const faults of BUDGET_FAULTS) outcomes.push(...(await runUnit(scenario, { scenario: scenario.name, params: {}, seed, faults, recheck: BUDGET_RECHECK(seed), recheckFaulted: false })));
      }
      expect(problems(outcomes)).toEqual([]);
      // Every invariant was checked on a result: only a faulted run may end without one.
      for (const o of outcomes.filter((x) => x.faults.type === 'none')) expect(o.outcome, `${scenario.name} seed ${o.seed}`).not.toBe('error');
      // A site the recording run reached is reached again with the fault armed there (the
      // run is the same up to that call), so every per-site run injected its fault.
      const silent = outcomes.filter((o) => o.faults.type === 'site' && o.injected === 0).map((o) => `seed ${o.seed} ${runFaultsLabel(o.faults)}`);
      expect(silent).toEqual([]);
      // Sampled seeds were re-run and compared.
      expect(outcomes.some((o) => o.rechecked)).toBe(true);
    }, 120_000);
  }
});
