import type pc from 'picocolors';
import type { Report, Runtime, TraceRecord } from '@dep/kernel';
import { flagshipScenario } from './flagship.js';
import { hangRecoveryScenario } from './hang-recovery.js';
import { kernelScenario } from './kernel.js';
import { bypassVsWorkerScenario, irqPutScenario } from './queue-options.js';
import { inactiveFenceScenario } from './inactive-fence.js';
import { teardownUnderLoadScenario } from './teardown.js';
import { foreignResvScenario, preemptDeadlockScenario } from './preempt.js';

/** Colour helpers handed to a scenario (disabled when output is not a terminal). */
export type Colors = ReturnType<typeof pc.createColors>;

/**
 * A scenario-specific option, e.g. `preempt-deadlock --ordering none|slot|gate`. The CLI
 * turns it into `--<name> <value>` (only valid with the scenario that declares it) and
 * hands the chosen value to `run` in {@link ScenarioOptions.params}.
 */
export interface ScenarioParam {
  /** Flag name without dashes, lower-case: `ordering` → `--ordering <value>`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  /** The values it accepts (or {@link integer}). */
  readonly choices?: readonly string[];
  /** An integer in this range (instead of {@link choices}). */
  readonly integer?: { readonly min: number; readonly max: number };
  /** The value when the flag is not given. */
  readonly default: string;
}

export interface ScenarioOptions {
  /** Seed for the virtual executor: same seed, same interleaving, same output. */
  readonly seed: number;
  /** Writes one line of output. */
  readonly log: (line: string) => void;
  readonly colors: Colors;
  /** Values of the scenario's {@link Scenario.params} (defaults filled in). Absent: all defaults. */
  readonly params?: Readonly<Record<string, string>>;
  /**
   * `--chaos`: the executor picks among events runnable at the same instant by the seed.
   * Undefined: the scenario's own default.
   */
  readonly chaos?: boolean;
  /** `--faults`: seeded fault injection (allocations fail now and then). Default off. */
  readonly faults?: boolean;
  /** Reports progress of a long run (the CLI draws a bar on a terminal). */
  readonly progress?: (done: number, total: number) => void;
  /**
   * The reliability harness's faults for this run (`explore --faults <list>`); absent
   * outside the harness. See {@link HarnessFaults}.
   */
  readonly harnessFaults?: HarnessFaults;
}

/**
 * What `explore --faults <list>` can inject. `alloc` (allocation failures), `hang`
 * (a batch that never completes), `fw-error` (a firmware error reply) and `page-fault` (a
 * batch stalled on a page fault) are armed by the harness itself through `rt.faults`, one
 * site at a time; `kill` (a context killed mid-flight), `teardown` (a queue or file torn
 * down mid-flight) and `device-lost` need the scenario's own hands and are injected by
 * scenarios that list them in {@link Scenario.faultKinds}.
 */
export type FaultKind = 'alloc' | 'hang' | 'fw-error' | 'page-fault' | 'kill' | 'teardown' | 'device-lost';

/**
 * The harness's faults for one run. A scenario taking part calls {@link arm} on each of
 * its runtimes once its set-up is done (where `--faults` arms: the faults then hit the
 * paths under test, not the set-up), and injects the kinds it implements itself
 * (`kill`, `teardown`, `device-lost`) when they are in {@link kinds}. Nothing here may
 * change a run without faults: `arm` only installs rules and counts calls.
 */
export interface HarnessFaults {
  /** The kinds to inject in this run (a subset of the scenario's {@link Scenario.faultKinds}). */
  readonly kinds: readonly FaultKind[];
  /** Install the harness's fault rules on `rt` (process context, before the faulted work). */
  arm(rt: Runtime): void;
  /** The scenario injected one of its own {@link kinds} (`what`: `kill compute`, …): counted as a fired fault. */
  fired(what: string): void;
}

/** Per client and queue: what the summary table shows. */
export interface QueueStats {
  /** A side-by-side variant (`bypass`, `worker`, …), when the scenario runs several. */
  readonly variant?: string;
  readonly client: string;
  readonly queue: string;
  /** Jobs pushed. */
  readonly jobs: number;
  /** Jobs whose finished fence signalled without error. */
  readonly completed: number;
  /** Jobs whose finished fence signalled with an error (timeout, cancel, kill). */
  readonly errors: number;
  /** Push → finished-fence signal, ms of virtual time; null without completed jobs. */
  readonly latencyP50: number | null;
  readonly latencyP99: number | null;
  readonly preemptions: number;
  readonly timeouts: number;
  /** Further columns, in this order (work items, bypassed, …). */
  readonly extra?: Readonly<Record<string, number | string>>;
}

/**
 * How a run ended. `ok` is false for what `explore` counts as a failure (a deadlock, a
 * dependency cycle, a fence never signalled, a leak, a scenario that threw).
 */
export interface Verdict {
  readonly ok: boolean;
  /** Short and stable, for grouping seeds: `all fences signalled`, `cycle found`, `deadlock`, … */
  readonly outcome: string;
  /** One sentence for a person. */
  readonly detail: string;
}

/** The trace of one runtime (a scenario comparing options runs one per variant). */
export interface RunTrace {
  /** The variant's name, or the scenario's for a single run. */
  readonly label: string;
  readonly records: readonly TraceRecord[];
  /** Queue name → client name (colours, the summary's client column). */
  readonly clients?: Readonly<Record<string, string>>;
  /** The reports of this run's runtime (drawn as markers on the reporting task's lane). */
  readonly reports?: readonly Report[];
}

/** A metrics × variants table (the numbers an option debate is about, side by side). */
export interface Comparison {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly { readonly label: string; readonly values: readonly (number | string)[] }[];
}

/** What a scenario run returns; the CLI prints it and writes `--trace` / `--html` from it. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly seed: number;
  readonly params: Readonly<Record<string, string>>;
  readonly chaos: boolean;
  readonly faults: boolean;
  readonly traces: readonly RunTrace[];
  readonly stats: readonly QueueStats[];
  /** lockdep splats, WARNs, stalls, leaks: from every runtime of the run. */
  readonly reports: readonly Report[];
  readonly comparison?: Comparison;
  readonly verdict: Verdict;
  /** A hash of every trace: same seed and options, same hash. */
  readonly traceHash: string;
  /** Virtual time at the end of the (longest) run, ms. */
  readonly endTime: number;
}

export interface Scenario {
  /** What the user types: `npm run demo -- <name>`. Lower-case, no spaces. */
  readonly name: string;
  /** One line for `--help` and `--list`. */
  readonly summary: string;
  /** Scenario-specific options. */
  readonly params?: readonly ScenarioParam[];
  /**
   * The fault kinds `explore --faults <list>` may apply to this scenario. Absent: the
   * kinds the harness arms itself (`alloc`, `hang`, `fw-error`, `page-fault`), which reach
   * only scenarios whose runtimes call {@link HarnessFaults.arm}.
   */
  readonly faultKinds?: readonly FaultKind[];
  /**
   * Why the kinds missing from {@link faultKinds} do not apply (one sentence, shown in the
   * `--report` table's "not applied" column): `kernel` has no device to fault, the mock
   * engines have no firmware, …
   */
  readonly faultKindsWhy?: string;
  /**
   * Invariants (apps/demo/src/invariants/, by name) a run with these params breaks on
   * purpose, because breaking them is what the scenario demonstrates (the kernel
   * scenario's lockdep splat, `preempt-deadlock --ordering none`'s cycle). The harness does
   * not count those as violations. `params` has every param, defaults filled in.
   */
  readonly demonstrates?: (params: Readonly<Record<string, string>>) => readonly string[];
  /**
   * Runs the scenario. Writes its narrative with `log`; returns the result the CLI
   * summarises (or nothing, for a scenario with nothing to summarise).
   */
  run(opts: ScenarioOptions): void | ScenarioResult | Promise<void | ScenarioResult>;
}

/** The scenario run when none is named, once it is registered. */
export const DEFAULT_SCENARIO = 'flagship';

/**
 * Every scenario the CLI knows, in the order `--list` shows them. Each lives in its own
 * module under src/scenarios/ and is added here by import.
 */
export const scenarios: readonly Scenario[] = [
  flagshipScenario,
  kernelScenario,
  preemptDeadlockScenario,
  foreignResvScenario,
  bypassVsWorkerScenario,
  irqPutScenario,
  inactiveFenceScenario,
  teardownUnderLoadScenario,
  hangRecoveryScenario,
];

