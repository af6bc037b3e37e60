/**
 * The CI reliability budget over the demo scenarios: every scenario × 3 seeds × {no faults,
 * the fault matrix (up to 3 sites per kind and seed)}, every invariant checked after every run. Expected: no violation,
 * and no run that throws, faulted or not: every run ends with a verdict the invariants
 * checked.
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
      // Every invariant was checked on a result: no run, faulted or not, ends in a throw (the
      // scenarios' clients handle every errno a fault gives them; decision 0707).
      const threw = outcomes.filter((x) => x.outcome === 'error').map((o) => `seed ${o.seed} ${runFaultsLabel(o.faults)}: ${o.detail}`);
      expect(threw).toEqual([]);
      // A site the recording run reached is reached again with the fault armed there (the
      // run is the same up to that call), so every per-site run injected its fault.
      // A kind the scenario declares it injects itself (kill, teardown, device-lost) fired too.
      const silent = outcomes.filter((o) => (o.faults.type === 'site' || o.faults.type === 'kind') && o.injected === 0).map((o) => `seed ${o.seed} ${runFaultsLabel(o.faults)}`);
      expect(silent).toEqual([]);
      // Sampled seeds were re-run and compared.
      expect(outcomes.some((o) => o.rechecked)).toBe(true);
    }, 120_000);
  }
});
