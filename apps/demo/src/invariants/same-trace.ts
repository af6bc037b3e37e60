/**
 * The same seed reproduces the same trace: a second run of the same scenario, seed,
 * params, chaos and faults has the same trace hash. Checked only where the harness
 * replayed the run (explore re-runs a sample of seeds).
 */
import type { Invariant } from './types.js';

export const sameTrace: Invariant = {
  name: 'same-trace',
  description: 'the same seed (and options) reproduces the same trace hash',
  check({ result, replay }) {
    if (replay === undefined || replay.traceHash === result.traceHash) return [];
    return [`seed ${result.seed} ran twice gave trace hashes ${result.traceHash} and ${replay.traceHash}`];
  },
};
