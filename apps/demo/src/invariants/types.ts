/**
 * What an invariant is: a pure check over what one scenario run exposes (its
 * {@link ScenarioResult}: the trace of every runtime and every report), returning the
 * reasons it was broken. Checks read the tracepoints the layers already emit (drm_dep,
 * dma_fence, drm, demo); they never reach into a runtime.
 */
import type { ScenarioResult } from '../scenarios/index.js';

/** The input of a check: a run, and a second run of the same seed and options when the harness replayed it. */
export interface InvariantInput {
  readonly result: ScenarioResult;
  /** The same scenario, seed, params, chaos and faults run again (explore re-runs a sample of seeds). */
  readonly replay?: ScenarioResult;
}

export interface Invariant {
  /** Short, stable, kebab-case: `fences-signalled`. Scenarios name it in `demonstrates`. */
  readonly name: string;
  /** One line for the report and `--help`. */
  readonly description: string;
  /** The violations of `input`, each one readable sentence (empty: the invariant holds). Pure; never throws on a well-formed result. */
  check(input: InvariantInput): readonly string[];
}

/** One broken invariant of one run. */
export interface Violation {
  readonly invariant: string;
  readonly reason: string;
}
