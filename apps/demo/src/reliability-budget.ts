/**
 * The bounded reliability budget CI runs on every change (reliability.test.ts and
 * reliability-conformance.test.ts): every registered scenario × {@link BUDGET_SEEDS} ×
 * {no faults, the fault matrix (a few sites per kind and seed)}, and the conformance kit with every driver's adapter
 * × the same seeds × {no faults, allocation failures}. `npm run explore -- --report` runs
 * the same thing bigger.
 */
import { FAULT_KINDS, type FaultRequest } from './explore-faults.js';

/** Seeds of the budget. */
export const BUDGET_SEEDS: readonly number[] = [1, 2, 3];

/**
 * Fault settings of the budget: none, then every kind — at most {@link BUDGET_MAX_SITES}
 * sites per kind and seed, taken in turn so the three seeds fault different sites.
 */
export const BUDGET_MAX_SITES = 3;
export const BUDGET_FAULTS: readonly FaultRequest[] = [{ type: 'off' }, { type: 'matrix', kinds: FAULT_KINDS, maxSites: BUDGET_MAX_SITES }];

/** The first seed's unfaulted (recording) runs are run twice to compare trace hashes. */
export const BUDGET_RECHECK = (seed: number): boolean => seed === BUDGET_SEEDS[0];
