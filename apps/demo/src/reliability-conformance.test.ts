/**
 * The CI reliability budget over the conformance kit: every driver's adapter × 3 seeds with
 * the kit's random allocation-failure phase on (its deterministic checks — fences, errors,
 * order, leaks, lockdep, kill and teardown under load, fault injection at every site,
 * ioctl mutations — run every time). Every check must pass, and the first seed, run twice,
 * must fail (or pass) the same checks.
 */
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_DRIVERS, runConformanceUnit } from './explore-conformance.js';
import type { RunOutcome } from './explore-run.js';
import { BUDGET_RECHECK, BUDGET_SEEDS } from './reliability-budget.js';

describe('reliability budget: the conformance kit × drivers × seeds, allocation failures on', () => {
  for (const driver of CONFORMANCE_DRIVERS) {
    it(`conformance/${driver}: every check passes`, async () => {
      const outcomes: RunOutcome[] = [];
      for (const seed of BUDGET_SEEDS) {
        outcomes.push(
          ...(await runConformanceUnit(driver, { scenario: `conformance/${driver}`, params: {}, seed, faults: { type: 'runs', runs: [{ type: 'kind', kind: 'alloc' }] }, recheck: BUDGET_RECHECK(seed) })),
        );
      }
      expect(outcomes.map((o) => [o.seed, o.faults.type, o.injected])).toEqual(BUDGET_SEEDS.map((s) => [s, 'kind', 1]));
      const failures = outcomes.filter((o) => !o.ok || o.violations.length > 0).map((o) => `seed ${o.seed} ${o.outcome}: ${o.violations.map((v) => `${v.invariant}: ${v.reason}`).join('; ') || o.detail}`);
      expect(failures).toEqual([]);
      for (const o of outcomes) expect(o.outcome).toBe('conformance passed');
    }, 120_000);
  }
});
