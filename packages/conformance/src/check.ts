/**
 * What a check is, what it gets, and how it fails: a check is an async function that
 * drives an adapter on fresh runtimes and throws {@link CheckFailure} (with a readable
 * reason) when the adapter breaks the contract it stands for.
 */
import type { ConformanceAdapter } from './adapter.js';

/** Options of a run, as a check sees them. */
export interface CheckContext {
  readonly adapter: ConformanceAdapter;
  /** Seed of every runtime the check creates (each check derives its own from it). */
  readonly seed: number;
  /** Run the virtual executor in chaos mode (interleavings picked by the seed). */
  readonly chaos: boolean;
  /** Probability of the random allocation-failure phase of `fault-injection` (0 skips it). */
  readonly faultProbability: number;
  /** Jobs per queue in the load checks. */
  readonly jobs: number;
}

/** One check of the kit. */
export interface ConformanceCheck {
  /** Stable id, e.g. `'fences-signal'`. */
  readonly name: string;
  /** One line: what it proves. */
  readonly title: string;
  /** The kernel rule or tool it stands for. */
  readonly kernel: string;
  /** Why it does not apply to this adapter (then it is skipped), or null. */
  skip?(adapter: ConformanceAdapter): string | null;
  /** Run it; throws {@link CheckFailure} (or anything else: an error of the adapter) on failure. */
  run(ctx: CheckContext): Promise<void>;
}

/** A broken contract: `message` says what, `details` show the evidence. */
export class CheckFailure extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'CheckFailure';
    this.details = details;
  }
}

/** Throw {@link CheckFailure} with `message` unless `cond`. */
export function expectThat(cond: boolean, message: string | (() => string), details: readonly string[] = []): asserts cond {
  if (!cond) throw new CheckFailure(typeof message === 'string' ? message : message(), details);
}
