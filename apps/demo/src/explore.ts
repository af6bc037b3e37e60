/**
 * `explore`: run scenarios under many seeds, in parallel worker threads, check every
 * invariant after every run, and report the outcomes with the one command that replays
 * each failure.
 *
 * Each worker runs the TypeScript source (a plain-JS bootstrap registers tsx's loader in
 * the worker, which does not inherit the parent's `--import tsx`), takes units of work
 * (a scenario, a seed, the faults asked for) one at a time from the parent and answers
 * with the outcome of every run of the unit (see explore-run.ts). The outcome of a unit
 * does not depend on which worker ran it or when: a seed is a whole, independent
 * simulation.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runFaultsFlag, runFaultsLabel, shellQuote, type FaultRequest } from './explore-faults.js';
import { failed, type ExploreJob, type RunOutcome } from './explore-run.js';
import type { Colors } from './scenarios/index.js';
import { formatTable } from './summary.js';

export type { ExploreJob, RunOutcome } from './explore-run.js';
/** What one run of a seed did (the name explore has always used). */
export type SeedOutcome = RunOutcome;

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

export interface ExploreOptions {
  readonly scenario: string;
  /** How many seeds, starting at {@link firstSeed}. */
  readonly seeds: number;
  readonly firstSeed: number;
  readonly shard: Shard;
  /** `--chaos` given (undefined: the scenario's default). */
  readonly chaos?: boolean;
  /** What `--faults` asked for (explore-faults.ts). */
  readonly faults: FaultRequest;
  /** Scenario params as given on the command line (non-default ones appear in replay lines). */
  readonly params: Readonly<Record<string, string>>;
  /** Worker threads. */
  readonly workers: number;
  /** Re-run every n-th seed of the shard (the first included) and compare trace hashes. Default 10; 0: never. */
  readonly recheckEvery?: number;
  /** Module (file URL) exporting `scenarios`; default the app's registry. For tests. */
  readonly registry?: string;
}

/** Messages between the parent and a worker. */
export type ToWorker = { readonly type: 'run'; readonly id: number; readonly job: ExploreJob } | { readonly type: 'exit' };
export type FromWorker = { readonly type: 'ready' } | { readonly type: 'done'; readonly id: number; readonly outcomes: readonly RunOutcome[] };

/** Parses `i/n` (1 ≤ i ≤ n). Throws with a message for anything else. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 1) || index > count) throw new Error(`expected i/n with 1 ≤ i ≤ n (e.g. 2/4), got "${text}"`);
  return { index, count };
}

/**
 * The seeds of `shard`: of `count` seeds from `first`, every n-th one starting with the
 * i-th (seed k belongs to shard ((k - first) mod n) + 1). Shards are disjoint and together
 * cover every seed, whatever the machine or the number of workers.
 */
export function shardSeeds(first: number, count: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let k = shard.index - 1; k < count; k += shard.count) out.push(first + k);
  return out;
}

/** Whether the `i`-th seed of a shard (0-based) is re-run to compare its trace hash. */
export function rechecked(i: number, every: number): boolean {
  return every > 0 && i % every === 0;
}

/** The units of an explore run: one per seed of the shard. */
export function exploreJobs(opts: ExploreOptions): ExploreJob[] {
  return shardSeeds(opts.firstSeed, opts.seeds, opts.shard).map((seed, i) => ({
    scenario: opts.scenario,
    params: opts.params,
    seed,
    ...(opts.chaos === undefined ? {} : { chaos: opts.chaos }),
    faults: opts.faults,
    recheck: rechecked(i, opts.recheckEvery ?? 10),
  }));
}

/**
 * The one command that replays a run. A verdict failure of a run without harness faults
 * replays with the demo itself (narrative, `--html`, `--trace`); anything else (a broken
 * invariant, a run with one fault site or kind) with a one-seed explore, which checks the
 * invariants again and names the faults.
 */
export function replayCommand(o: Pick<RunOutcome, 'scenario' | 'params' | 'chaos' | 'faults' | 'seed' | 'violations'>): string {
  const params = Object.entries(o.params).map(([k, v]) => ` --${k} ${shellQuote(v)}`).join('');
  const chaos = o.chaos === true ? ' --chaos' : '';
  if (o.violations.length === 0 && (o.faults.type === 'none' || o.faults.type === 'default')) {
    return `npm run demo -- ${o.scenario} --seed ${o.seed}${params}${chaos}${o.faults.type === 'default' ? ' --faults' : ''}`;
  }
  return `npm run explore -- --scenario ${o.scenario} --first-seed ${o.seed} --seeds 1${params}${chaos}${runFaultsFlag(o.faults)}`;
}

/** Worker threads to use by default: one per core, at most 4. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

const BOOT = new URL('./explore-worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./explore-worker.ts', import.meta.url);

/**
 * Run `jobs` on `workers` worker threads. Resolves with every run's outcome, ordered by
 * unit (as given) and by run within a unit. `onProgress(done, total)` after each unit.
 */
export async function runJobs(
  jobs: readonly ExploreJob[],
  options: { readonly workers: number; readonly registry?: string },
  onProgress?: (done: number, total: number) => void,
): Promise<RunOutcome[]> {
  const results: (readonly RunOutcome[])[] = new Array<readonly RunOutcome[]>(jobs.length);
  if (jobs.length === 0) return [];
  const n = Math.max(1, Math.min(options.workers, jobs.length));
  let next = 0;
  let done = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let live = n;
      const feed = (w: Worker): void => {
        if (next < jobs.length) {
          const id = next++;
          w.postMessage({ type: 'run', id, job: jobs[id]! } satisfies ToWorker);
        } else {
          w.postMessage({ type: 'exit' } satisfies ToWorker);
        }
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker(BOOT, {
          workerData: { entry: ENTRY.href, registry: options.registry },
          // The parent's flags (--import tsx, vitest's) are not for the worker: the
          // bootstrap registers tsx itself; the condition picks @dep/* source.
          execArgv: ['--conditions=@dep/source'],
          stdout: false,
          stderr: false,
        });
        workers.push(w);
        w.on('message', (m: FromWorker) => {
          if (m.type === 'done') {
            results[m.id] = m.outcomes;
            onProgress?.(++done, jobs.length);
          }
          feed(w);
        });
        w.on('error', (e) => reject(e));
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`explore worker exited with code ${code}`));
          if (--live === 0) resolve();
        });
      }
    });
  } finally {
    for (const w of workers) void w.terminate();
  }
  return results.flat();
}

/** Run the shard's seeds of one scenario; outcomes in seed order. */
export async function explore(opts: ExploreOptions, onProgress?: (done: number, total: number) => void): Promise<RunOutcome[]> {
  return runJobs(exploreJobs(opts), { workers: opts.workers, ...(opts.registry === undefined ? {} : { registry: opts.registry }) }, onProgress);
}

/** Seeds as a short list: `1, 4, 7, … (12 more)`. */
function seedList(seeds: readonly number[], max = 8): string {
  const unique = [...new Set(seeds)];
  const shown = unique.slice(0, max).join(', ');
  return unique.length > max ? `${shown}, … (${unique.length - max} more)` : shown;
}

/** Why a run failed, in one line: the first broken invariant, or the verdict. */
export function failureReason(o: Pick<RunOutcome, 'ok' | 'outcome' | 'detail' | 'violations'>): string {
  const v = o.violations[0];
  if (v !== undefined) return `${v.invariant}: ${v.reason}${o.violations.length > 1 ? ` (+${o.violations.length - 1} more)` : ''}`;
  return `${o.outcome}: ${o.detail}`;
}

/**
 * The report: a table of outcomes (with the runs that broke an invariant), then one replay
 * line per failing run.
 */
export function formatExplore(outcomes: readonly RunOutcome[], colors: Colors, options: { readonly maxReplays?: number } = {}): string[] {
  const out: string[] = [];
  const groups = new Map<string, RunOutcome[]>();
  for (const o of outcomes) {
    const list = groups.get(o.outcome);
    if (list === undefined) groups.set(o.outcome, [o]);
    else list.push(o);
  }
  const rows = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([outcome, list]) => {
      const ok = list[0]!.ok;
      const pct = `${Math.round((100 * list.length) / Math.max(1, outcomes.length))}%`;
      const hashes = new Set(list.map((o) => o.hash)).size;
      const broken = list.filter((o) => o.violations.length > 0).length;
      return [
        ok ? colors.green(`✔ ${outcome}`) : colors.red(`✘ ${outcome}`),
        String(list.length),
        pct,
        String(hashes),
        broken === 0 ? '0' : colors.red(String(broken)),
        seedList(list.map((o) => o.seed)),
      ];
    });
  out.push(...formatTable(['outcome', 'runs', 'share', 'distinct traces', 'invariants broken', 'seeds (first)'], rows, colors, new Set([1, 2, 3, 4])).map((l) => `  ${l}`));
  const failures = outcomes.filter(failed);
  out.push('');
  if (failures.length === 0) {
    out.push(colors.green(`No failures in ${outcomes.length} run(s); every invariant held.`));
    return out;
  }
  const max = options.maxReplays ?? 20;
  out.push(colors.bold(`${failures.length} failing run(s) of ${outcomes.length}; replay each with:`));
  const shown = failures.slice(0, max);
  const width = Math.max(...shown.map((f) => replayCommand(f).length));
  for (const f of shown) out.push(`  ${replayCommand(f).padEnd(width)}  ${colors.dim(`# ${f.faults.type === 'none' ? '' : `[faults ${runFaultsLabel(f.faults)}] `}${failureReason(f)}`)}`);
  if (failures.length > shown.length) out.push(colors.dim(`  … ${failures.length - shown.length} more (--all-failures lists every one)`));
  return out;
}
