/**
 * A registry for explore's tests: `every-third` fails exactly on seeds divisible by 3 (a
 * deadlock under seeds 3, 6, …), passes otherwise; its trace hash depends on the seed only.
 * `throws` throws under odd seeds. `nondeterministic` gives a new trace hash on every run.
 */
import type { Scenario, ScenarioResult } from '../scenarios/index.js';

let runs = 0;

function result(seed: number, ok: boolean, params: Readonly<Record<string, string>>): ScenarioResult {
  return {
    scenario: 'every-third',
    seed,
    params: { ...params },
    chaos: false,
    faults: false,
    traces: [],
    stats: [],
    reports: [],
    verdict: ok ? { ok: true, outcome: 'all fences signalled', detail: 'fine' } : { ok: false, outcome: 'deadlock', detail: `seed ${seed} is a multiple of 3` },
    traceHash: `hash-${seed % 2}-${params.mode ?? 'a'}`,
    endTime: 0,
  };
}

export const scenarios: readonly Scenario[] = [
  {
    name: 'every-third',
    summary: 'fails on multiples of 3',
    params: [{ name: 'mode', description: 'a test param', choices: ['a', 'b'], default: 'a' }],
    run: ({ seed, params }) => result(seed, seed % 3 !== 0, params ?? {}),
  },
  {
    name: 'throws',
    summary: 'throws under odd seeds',
    run: ({ seed }) => {
      if (seed % 2 === 1) throw new Error(`boom ${seed}`);
      return result(seed, true, {});
    },
  },
  {
    name: 'nondeterministic',
    summary: 'a different trace every run',
    run: ({ seed }) => ({ ...result(seed, true, {}), traceHash: `run-${++runs}` }),
  },
];
