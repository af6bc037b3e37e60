import type pc from 'picocolors';
import { kernelScenario } from './kernel.js';

/** Colour helpers handed to a scenario (disabled when output is not a terminal). */
export type Colors = ReturnType<typeof pc.createColors>;

export interface ScenarioOptions {
  /** Seed for the virtual executor: same seed, same interleaving, same output. */
  readonly seed: number;
  /** Writes one line of output. */
  readonly log: (line: string) => void;
  readonly colors: Colors;
}

export interface Scenario {
  /** What the user types: `npm run demo -- <name>`. Lower-case, no spaces. */
  readonly name: string;
  /** One line for `--help` and `--list`. */
  readonly summary: string;
  run(opts: ScenarioOptions): void | Promise<void>;
}

/** The scenario run when none is named, once it is registered. */
export const DEFAULT_SCENARIO = 'kernel';

/**
 * Every scenario the CLI knows, in the order `--list` shows them. Each lives in its own
 * module under src/scenarios/ and is added here by import.
 */
export const scenarios: readonly Scenario[] = [kernelScenario];
