/**
 * The invariants checked after every run of the reliability harness (`explore`,
 * `explore --report`, the CI budget), one module each, in the order they are reported.
 */
import type { Scenario, ScenarioResult } from '../scenarios/index.js';
import { completionOrder } from './completion-order.js';
import { contextsFreed } from './contexts-freed.js';
import { creditsReturned } from './credits-returned.js';
import { fencesSignalled } from './fences-signalled.js';
import { jobRanOnce } from './job-ran-once.js';
import { noLeak } from './no-leak.js';
import { noLockdep } from './no-lockdep.js';
import { sameTrace } from './same-trace.js';
import type { Invariant, InvariantInput, Violation } from './types.js';

export type { Invariant, InvariantInput, Violation } from './types.js';

/** Every invariant, in report order. */
export const invariants: readonly Invariant[] = [
  fencesSignalled,
  jobRanOnce,
  completionOrder,
  creditsReturned,
  noLeak,
  noLockdep,
  contextsFreed,
  sameTrace,
];

/** Every param of `scenario` with its default filled in where `given` lacks it. */
export function withDefaults(scenario: Pick<Scenario, 'params'>, given: Readonly<Record<string, string>>): Record<string, string> {
  const all: Record<string, string> = { ...given };
  for (const p of scenario.params ?? []) all[p.name] ??= p.default;
  return all;
}

/**
 * The invariants `scenario` breaks on purpose with these params (its `demonstrates`), by
 * name. Unknown names are returned too, so a typo shows up in {@link checkInvariants}.
 */
export function demonstrated(scenario: Pick<Scenario, 'demonstrates' | 'params'>, params: Readonly<Record<string, string>>): readonly string[] {
  return scenario.demonstrates?.(withDefaults(scenario, params)) ?? [];
}

/**
 * Check every invariant of `list` over a run, except those in `exempt` (what the scenario
 * demonstrates). A check that throws is itself a violation (of that invariant), so a
 * malformed trace cannot pass silently.
 */
export function checkInvariants(input: InvariantInput, exempt: readonly string[] = [], list: readonly Invariant[] = invariants): Violation[] {
  const out: Violation[] = [];
  const skip = new Set(exempt);
  for (const name of skip) {
    if (!list.some((i) => i.name === name)) out.push({ invariant: 'harness', reason: `the scenario declares it demonstrates "${name}", which is no invariant (${list.map((i) => i.name).join(', ')})` });
  }
  for (const inv of list) {
    if (skip.has(inv.name)) continue;
    let reasons: readonly string[];
    try {
      reasons = inv.check(input);
    } catch (e) {
      reasons = [`the check failed: ${e instanceof Error ? e.message : String(e)}`];
    }
    for (const reason of reasons) out.push({ invariant: inv.name, reason });
  }
  return out;
}

/** One line per violation: `invariant: reason`. */
export function formatViolations(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.invariant}: ${v.reason}`);
}

/** Shorthand for a run without a replay. */
export function checkResult(result: ScenarioResult, exempt: readonly string[] = []): Violation[] {
  return checkInvariants({ result }, exempt);
}
