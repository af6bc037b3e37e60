/**
 * The conformance kit (@dep/conformance) as explore units: `conformance/<driver>` runs
 * `runConformance` with the driver's adapter (`@dep/driver-<driver>/conformance`) for one
 * seed, and each failed check becomes a violation (`conformance:<check>`). The kit checks
 * on its own runtimes what the invariants check on a scenario's trace — fences signal,
 * errors propagate, per-queue order, no leaks, no lockdep, kill and teardown under load,
 * allocation failures — so its results are the invariants of that unit.
 *
 * Faults: without `alloc` in the matrix the kit's random allocation-failure phase is off
 * (probability 0); with it, a second run has it on (the kit's 0.02). The kit's
 * deterministic fault, kill and teardown checks run every time. The kit has no harness
 * sites: `alloc@<site>` runs the allocation-failure run; other kinds are not taken.
 */
import type { ConformanceAdapter } from '@dep/conformance';
import type { RunFaults } from './explore-faults.js';
import type { ExploreJob, RunOutcome } from './explore-run.js';

/** The drivers with a conformance adapter. */
export const CONFORMANCE_DRIVERS = ['xe', 'panthor', 'amdxdna'] as const;
export type ConformanceDriver = (typeof CONFORMANCE_DRIVERS)[number];

const PREFIX = 'conformance/';

/** `conformance/xe` → `xe`; null for a scenario name. */
export function conformanceDriver(name: string): ConformanceDriver | null {
  if (!name.startsWith(PREFIX)) return null;
  const d = name.slice(PREFIX.length);
  return (CONFORMANCE_DRIVERS as readonly string[]).includes(d) ? (d as ConformanceDriver) : null;
}

/** The unit names: `conformance/xe`, … */
export const CONFORMANCE_UNITS: readonly string[] = CONFORMANCE_DRIVERS.map((d) => `${PREFIX}${d}`);

/** Probability of the kit's random allocation-failure phase when `alloc` is asked for (the kit's default). */
const ALLOC_PROBABILITY = 0.02;

async function adapterOf(driver: ConformanceDriver): Promise<ConformanceAdapter> {
  switch (driver) {
    case 'xe':
      return (await import('@dep/driver-xe/conformance')).xeConformanceAdapter;
    case 'panthor':
      return (await import('@dep/driver-panthor/conformance')).panthorConformanceAdapter;
    case 'amdxdna':
      return (await import('@dep/driver-amdxdna/conformance')).amdxdnaConformanceAdapter;
  }
}

/** Every run of a conformance unit: without random allocation failures, then with them when `alloc` is asked for. */
export async function runConformanceUnit(driver: ConformanceDriver, job: ExploreJob): Promise<RunOutcome[]> {
  const { runConformance } = await import('@dep/conformance');
  const adapter = await adapterOf(driver);
  const req = job.faults;
  const withAlloc = (req.type === 'matrix' && req.kinds.includes('alloc')) || req.type === 'default' || (req.type === 'runs' && req.runs.some((r) => (r.type === 'kind' || r.type === 'site') && r.kind === 'alloc'));
  const settings: { faults: RunFaults; probability: number }[] = [];
  if (req.type !== 'runs') settings.push({ faults: { type: 'none' }, probability: 0 });
  if (withAlloc) settings.push({ faults: { type: 'kind', kind: 'alloc' }, probability: ALLOC_PROBABILITY });
  const unsupported = req.type === 'matrix' ? req.kinds.filter((k) => k !== 'alloc') : [];
  const out: RunOutcome[] = [];
  for (const { faults, probability } of settings) {
    const run = async (): Promise<{ passed: boolean; failed: { name: string; reason: string }[]; checks: number; error?: string }> => {
      try {
        const r = await runConformance(adapter, { seed: job.seed, chaos: job.chaos === true, faults: { probability } });
        return { passed: r.passed, failed: r.results.filter((c) => c.status === 'fail').map((c) => ({ name: c.name, reason: c.reason })), checks: r.results.length };
      } catch (e) {
        return { passed: false, failed: [], checks: 0, error: e instanceof Error ? e.message : String(e) };
      }
    };
    const r = await run();
    const violations = r.failed.map((c) => ({ invariant: `conformance:${c.name}`, reason: c.reason }));
    // The kit derives every runtime's seed from the seed: a second run must agree check by check.
    if (job.recheck && r.error === undefined) {
      const again = await run();
      const a = r.failed.map((c) => c.name).join(',');
      const b = again.failed.map((c) => c.name).join(',');
      if (a !== b) violations.push({ invariant: 'same-trace', reason: `seed ${job.seed} ran twice failed different checks: [${a}] and [${b}]` });
    }
    out.push({
      scenario: job.scenario,
      params: {},
      seed: job.seed,
      ...(job.chaos === undefined ? {} : { chaos: job.chaos }),
      faults,
      ok: r.error === undefined,
      outcome: r.error !== undefined ? 'error' : r.passed ? 'conformance passed' : 'conformance failed',
      detail: r.error ?? `${r.checks - r.failed.length}/${r.checks} check(s) passed`,
      hash: '',
      reports: 0,
      violations,
      events: 0,
      virtualMs: 0,
      injected: probability > 0 ? 1 : 0,
      armed: 0,
      rechecked: job.recheck,
      ...(out.length === 0 && unsupported.length > 0 ? { unsupported } : {}),
    });
  }
  return out;
}
