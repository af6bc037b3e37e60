/**
 * `explore`: run one scenario under many seeds, in parallel worker threads, and report
 * the outcomes, with the one command that replays each failure.
 *
 * Each worker runs the TypeScript source (a plain-JS bootstrap registers tsx's loader in
 * the worker, which does not inherit the parent's `--import tsx`), takes seeds one at a
 * time from the parent and answers with the run's outcome. The outcome of a seed does not
 * depend on which worker ran it or when: a seed is a whole, independent simulation.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Colors } from './scenarios/index.js';
import { formatTable } from './summary.js';

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
  readonly faults: boolean;
  /** Scenario params as given on the command line (non-default ones appear in replay lines). */
  readonly params: Readonly<Record<string, string>>;
  /** Worker threads. */
  readonly workers: number;
  /** Module (file URL) exporting `scenarios`; default the app's registry. For tests. */
  readonly registry?: string;
}

/** What one seed did. */
export interface SeedOutcome {
  readonly seed: number;
  readonly ok: boolean;
  readonly outcome: string;
  readonly detail: string;
  readonly hash: string;
  readonly reports: number;
}

/** Messages between the parent and a worker. */
export type ToWorker = { readonly type: 'run'; readonly seed: number } | { readonly type: 'exit' };
export type FromWorker = { readonly type: 'ready' } | { readonly type: 'done'; readonly result: SeedOutcome };

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

/** The one command that replays `seed` of an explore run. */
export function replayCommand(opts: Pick<ExploreOptions, 'scenario' | 'params' | 'chaos' | 'faults'>, seed: number): string {
  const params = Object.entries(opts.params).map(([k, v]) => ` --${k} ${v}`).join('');
  return `npm run demo -- ${opts.scenario} --seed ${seed}${params}${opts.chaos === true ? ' --chaos' : ''}${opts.faults ? ' --faults' : ''}`;
}

/** Worker threads to use by default: one per core, at most 4. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

const BOOT = new URL('./explore-worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./explore-worker.ts', import.meta.url);

/**
 * Run the shard's seeds on `opts.workers` worker threads. Resolves with one outcome per
 * seed, in seed order. `onProgress(done, total)` after each seed.
 */
export async function explore(opts: ExploreOptions, onProgress?: (done: number, total: number) => void): Promise<SeedOutcome[]> {
  const seeds = shardSeeds(opts.firstSeed, opts.seeds, opts.shard);
  const results: SeedOutcome[] = [];
  if (seeds.length === 0) return results;
  const n = Math.max(1, Math.min(opts.workers, seeds.length));
  let next = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let live = n;
      const feed = (w: Worker): void => {
        if (next < seeds.length) {
          w.postMessage({ type: 'run', seed: seeds[next++]! } satisfies ToWorker);
        } else {
          w.postMessage({ type: 'exit' } satisfies ToWorker);
        }
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker(BOOT, {
          workerData: {
            entry: ENTRY.href,
            registry: opts.registry,
            scenario: opts.scenario,
            params: opts.params,
            chaos: opts.chaos,
            faults: opts.faults,
          },
          // The parent's flags (--import tsx, vitest's) are not for the worker: the
          // bootstrap registers tsx itself; the condition picks @dep/* source.
          execArgv: ['--conditions=@dep/source'],
          stdout: false,
          stderr: false,
        });
        workers.push(w);
        w.on('message', (m: FromWorker) => {
          if (m.type === 'done') {
            results.push(m.result);
            onProgress?.(results.length, seeds.length);
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
  return results.sort((x, y) => x.seed - y.seed);
}

/** Seeds as a short list: `1, 4, 7, … (12 more)`. */
function seedList(seeds: readonly number[], max = 8): string {
  const shown = seeds.slice(0, max).join(', ');
  return seeds.length > max ? `${shown}, … (${seeds.length - max} more)` : shown;
}

/** The report: a table of outcomes, then one replay line per failing seed. */
export function formatExplore(opts: ExploreOptions, outcomes: readonly SeedOutcome[], colors: Colors, options: { readonly maxReplays?: number } = {}): string[] {
  const out: string[] = [];
  const groups = new Map<string, SeedOutcome[]>();
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
      return [ok ? colors.green(`✔ ${outcome}`) : colors.red(`✘ ${outcome}`), String(list.length), pct, String(hashes), seedList(list.map((o) => o.seed))];
    });
  out.push(...formatTable(['outcome', 'seeds', 'share', 'distinct traces', 'seeds (first)'], rows, colors, new Set([1, 2, 3])).map((l) => `  ${l}`));
  const failures = outcomes.filter((o) => !o.ok);
  out.push('');
  if (failures.length === 0) {
    out.push(colors.green(`No failures in ${outcomes.length} seed(s).`));
    return out;
  }
  const max = options.maxReplays ?? 20;
  out.push(colors.bold(`${failures.length} failing seed(s) of ${outcomes.length}; replay each with:`));
  const shown = failures.slice(0, max);
  const width = Math.max(...shown.map((f) => replayCommand(opts, f.seed).length));
  for (const f of shown) out.push(`  ${replayCommand(opts, f.seed).padEnd(width)}  ${colors.dim(`# ${f.outcome}: ${f.detail}`)}`);
  if (failures.length > shown.length) out.push(colors.dim(`  … ${failures.length - shown.length} more (--all-failures lists every one)`));
  return out;
}
