/**
 * The programmatic runner: run every check (or some) against an adapter for one seed and
 * get a result per check. No test framework involved — `npm run explore` calls it across
 * many seeds; the vitest wrapper (`@dep/conformance/vitest`) calls it once per check.
 */
import { isDepError, isDepWarning } from '@dep/kernel';
import type { ConformanceAdapter } from './adapter.js';
import { CheckFailure, type CheckContext, type ConformanceCheck } from './check.js';
import { CHECKS } from './checks/index.js';

/** Names of the checks of the kit. */
export type CheckName =
  | 'fences-signal'
  | 'errors-propagate'
  | 'per-queue-order'
  | 'no-leaks'
  | 'no-lockdep'
  | 'kill-under-load'
  | 'teardown-under-load'
  | 'fault-injection'
  | 'ioctl-mutations'
  | 'cross-client';

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /** Seed of the run (every check derives its runtimes' seeds from it). Default 1. */
  readonly seed?: number;
  /** Chaos mode of the virtual executor: interleavings chosen by the seed. Default false. */
  readonly chaos?: boolean;
  /**
   * The random phase of `fault-injection`: the probability with which each allocation
   * fails, and each batch hangs or stalls and each firmware request is refused (the
   * `hw-*` kinds of @dep/hw-sim), under load (0 turns the phase off). Default
   * `{ probability: 0.02 }`.
   */
  readonly faults?: { readonly probability: number };
  /** Jobs per queue in the load checks (1…200). Default 6. */
  readonly jobs?: number;
  /** Run only these checks. Default: all. */
  readonly only?: readonly CheckName[];
}

/** The outcome of one check. */
export interface CheckResult {
  /** The check's id. */
  readonly name: CheckName;
  /** One line: what the check proves. */
  readonly title: string;
  /** The kernel rule or tool the check stands for. */
  readonly kernel: string;
  /** `skip`: the adapter lacks a feature the check needs (see `reason`). */
  readonly status: 'pass' | 'fail' | 'skip';
  /** Why it failed or was skipped (one line); empty when it passed. */
  readonly reason: string;
  /** Evidence: reports, statuses … (may be empty). */
  readonly details: readonly string[];
}

/** The outcome of a run. */
export interface ConformanceReport {
  /** The adapter's name. */
  readonly adapter: string;
  /** The run's seed. */
  readonly seed: number;
  /** Whether the executor ran in chaos mode. */
  readonly chaos: boolean;
  /** One per check run, in the kit's order. */
  readonly results: readonly CheckResult[];
  /** True when no check failed (skipped ones do not count against it). */
  readonly passed: boolean;
}

/** The checks of the kit: name, title and the kernel rule each stands for. */
export function listChecks(): ReadonlyArray<Pick<CheckResult, 'name' | 'title' | 'kernel'>> {
  return CHECKS.map((c) => ({ name: c.name as CheckName, title: c.title, kernel: c.kernel }));
}

function describeError(e: unknown): { reason: string; details: string[] } {
  if (e instanceof CheckFailure) return { reason: e.message, details: [...e.details] };
  if (isDepWarning(e)) return { reason: `unexpected report: ${e.report.kind}: ${e.report.message}`, details: [...e.report.details] };
  if (isDepError(e)) return { reason: `the adapter threw ${e.code}: ${e.message}`, details: (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()) };
  if (e instanceof Error) return { reason: `the adapter threw ${e.name}: ${e.message}`, details: (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()) };
  return { reason: `the adapter threw ${String(e)}`, details: [] };
}

async function runOne(check: ConformanceCheck, ctx: CheckContext): Promise<CheckResult> {
  const base = { name: check.name as CheckName, title: check.title, kernel: check.kernel };
  const skip = check.skip?.(ctx.adapter) ?? null;
  if (skip !== null) return { ...base, status: 'skip', reason: skip, details: [] };
  try {
    await check.run(ctx);
    return { ...base, status: 'pass', reason: '', details: [] };
  } catch (e) {
    return { ...base, status: 'fail', ...describeError(e) };
  }
}

function checkOptions(adapter: ConformanceAdapter, options: ConformanceOptions): CheckContext {
  if (typeof adapter !== 'object' || adapter === null || typeof adapter.createDevice !== 'function' || typeof adapter.name !== 'string') {
    throw new TypeError('runConformance(adapter): pass a ConformanceAdapter ({ name, features, createDevice })');
  }
  const seed = options.seed ?? 1;
  const jobs = options.jobs ?? 6;
  const p = options.faults?.probability ?? 0.02;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`runConformance: seed ${String(seed)} must be a safe integer`);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 200) throw new RangeError(`runConformance: jobs ${String(jobs)} must be an integer in 1…200`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`runConformance: faults.probability ${String(p)} must lie in [0, 1]`);
  const known = new Set(CHECKS.map((c) => c.name));
  for (const n of options.only ?? []) if (!known.has(n)) throw new RangeError(`runConformance: unknown check ${String(n)} (checks: ${[...known].join(', ')})`);
  return { adapter, seed, chaos: options.chaos ?? false, faultProbability: p, jobs };
}

/**
 * Run the kit's checks against `adapter`, each on fresh runtimes seeded from `seed`.
 * Never throws for a failing adapter: each check's failure is a result with a reason.
 * Throws `TypeError`/`RangeError` only for bad options. Call it outside any runtime task.
 */
export async function runConformance(adapter: ConformanceAdapter, options: ConformanceOptions = {}): Promise<ConformanceReport> {
  const ctx = checkOptions(adapter, options);
  const only = options.only === undefined ? null : new Set<string>(options.only);
  const results: CheckResult[] = [];
  for (const check of CHECKS) {
    if (only !== null && !only.has(check.name)) continue;
    results.push(await runOne(check, ctx));
  }
  return { adapter: adapter.name, seed: ctx.seed, chaos: ctx.chaos, results, passed: results.every((r) => r.status !== 'fail') };
}

/** One line per check: `✓ name`, `✗ name: reason`, `- name (skipped: reason)`. */
export function formatConformanceReport(report: ConformanceReport): string {
  const head = `${report.adapter} seed ${report.seed}${report.chaos ? ' (chaos)' : ''}: ${report.passed ? 'passed' : 'FAILED'}`;
  const lines = report.results.map((r) => (r.status === 'pass' ? `  ✓ ${r.name}` : r.status === 'skip' ? `  - ${r.name} (skipped: ${r.reason})` : `  ✗ ${r.name}: ${r.reason}`));
  return [head, ...lines].join('\n');
}
