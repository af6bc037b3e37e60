/**
 * `@dep/conformance/vitest`: the kit as a vitest suite — one `it` per check, failing with
 * the check's reason and evidence. vitest is an optional peer dependency: only this
 * subpath imports it.
 *
 * ```ts
 * // packages/drivers/<d>/src/conformance.test.ts
 * import { describeConformance } from '@dep/conformance/vitest';
 * import { myConformanceAdapter } from './conformance.js';
 * describeConformance(myConformanceAdapter, { seeds: [1, 2], chaos: true });
 * ```
 */
import { describe, it } from 'vitest';
import type { ConformanceAdapter } from './adapter.js';
import { listChecks, runConformance, type ConformanceOptions } from './runner.js';

/** Options of {@link describeConformance}. */
export interface DescribeConformanceOptions extends Omit<ConformanceOptions, 'seed'> {
  /** Seeds to run each check with (one `it` per check and seed). Default `[1]`. */
  readonly seeds?: readonly number[];
  /** Per-test timeout (ms, wall clock). Default 60 000. */
  readonly timeout?: number;
}

/**
 * Register `describe('conformance: <adapter>')` with one `it` per check (and seed). A
 * skipped check (a feature the adapter lacks) is registered as `it.skip`.
 */
export function describeConformance(adapter: ConformanceAdapter, options: DescribeConformanceOptions = {}): void {
  const { seeds = [1], timeout = 60_000, only, ...rest } = options;
  const checks = listChecks().filter((c) => only === undefined || only.includes(c.name));
  describe(`conformance: ${adapter.name}`, () => {
    for (const seed of seeds) {
      for (const c of checks) {
        const title = `${c.name}${seeds.length > 1 ? ` (seed ${seed})` : ''}: ${c.title}`;
        it(title, { timeout }, async (tc) => {
          const report = await runConformance(adapter, { ...rest, seed, only: [c.name] });
          const r = report.results[0]!;
          if (r.status === 'skip') {
            tc.skip(r.reason);
            return;
          }
          if (r.status === 'fail') {
            const err = new Error(`${adapter.name} ${c.name} (seed ${seed}${rest.chaos === true ? ', chaos' : ''}): ${r.reason}${r.details.length > 0 ? `\n  ${r.details.join('\n  ')}` : ''}`);
            err.name = 'ConformanceFailure';
            throw err;
          }
        });
      }
    }
  });
}
