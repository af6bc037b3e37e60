/**
 * One model run: a fresh world and an empty model, the commands in order (each checks the
 * model after it), then the end-of-run invariants — every file closed, every device
 * removed, no GEM object left on any device, no report from the runtime (leaks,
 * use-after-free, WARNs, lockdep, stalls).
 */
import type { DrmDevice } from '@dep/drm';
import fc from 'fast-check';
import { expect } from 'vitest';
import { bootstrap } from './commands.js';
import type { Coverage } from './coverage.js';
import { InjectedFailure, checkModel, type Cmd } from './harness.js';
import { emptyModel } from './model.js';
import { createWorld, teardownWorld } from './world.js';

/** fast-check's settings of the fuzz property: `DEP_FUZZ_RUNS` sequences (default 10), `DEP_FUZZ_SEED`, `DEP_FUZZ_PATH` to replay one. */
export interface FuzzBudget {
  readonly numRuns: number;
  readonly maxCommands: number;
  readonly seed?: number;
  readonly path?: string;
}

/** The budget from the environment: `DEP_FUZZ_RUNS`, `DEP_FUZZ_COMMANDS`, `DEP_FUZZ_SEED`, `DEP_FUZZ_PATH`. */
export function budgetFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): FuzzBudget {
  const int = (name: string, dflt: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
    return n;
  };
  const seed = env['DEP_FUZZ_SEED'];
  const path = env['DEP_FUZZ_PATH'];
  return {
    numRuns: int('DEP_FUZZ_RUNS', 10),
    maxCommands: int('DEP_FUZZ_COMMANDS', 40),
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
    ...(path === undefined || path === '' ? {} : { path }),
  };
}

/** `cmd`, ending quietly (model checked) where an injected allocation failure stopped it. */
function stopOnInjectedFailure(cmd: Cmd): Cmd {
  return {
    check: (m) => cmd.check(m),
    run: async (m, w) => {
      try {
        await cmd.run(m, w);
      } catch (e) {
        if (!(e instanceof InjectedFailure)) throw e;
        checkModel(m, w);
      }
    },
    toString: () => cmd.toString(),
  };
}

/** Options of {@link runSequence}. */
export interface RunOptions {
  /** Counts what ran. */
  readonly coverage?: Coverage;
  /** Run {@link bootstrap} first (default true). */
  readonly bootstrap?: boolean;
}

/**
 * Run the bootstrap prefix and `cmds` against a fresh world, each command checking the
 * model after it, then check the end-of-run invariants.
 */
export async function runSequence(cmds: Iterable<Cmd>, options: RunOptions = {}): Promise<void> {
  const world = createWorld();
  const model = emptyModel();
  const { coverage } = options;
  if (options.bootstrap ?? true) await fc.asyncModelRun(() => ({ model, real: world }), bootstrap());
  const list = [...cmds].map((c) => stopOnInjectedFailure(coverage === undefined ? c : coverage.wrap(c)));
  await fc.asyncModelRun(() => ({ model, real: world }), list);
  await teardownWorld(world);
  for (const dev of world.devices as readonly DrmDevice[]) {
    expect(dev.objects.map((o) => o.name), `${dev.name}: GEM objects left after every file closed`).toEqual([]);
    expect(dev.files, `${dev.name}: files left`).toEqual([]);
  }
  expect(world.rt.shutdown().map((r) => `${r.kind}: ${r.message}`), 'runtime reports').toEqual([]);
}
