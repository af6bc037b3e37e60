import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { toChromeTrace } from './chrome-trace.js';
import { defaultWorkers, explore, formatExplore, parseShard, runJobs, type ExploreOptions, type Shard } from './explore.js';
import { CONFORMANCE_UNITS, conformanceDriver } from './explore-conformance.js';
import { FAULT_KINDS, parseFaults, runFaultsLabel, type FaultRequest } from './explore-faults.js';
import { formatReportMarkdown, formatReportTerminal, harnessFailures, reportJobs, reportKinds, summarizeReport, type ReportOptions } from './explore-report.js';
import { failed } from './explore-run.js';
import { renderHtml } from './html.js';
import { createProgress } from './progress.js';
import { DEFAULT_SCENARIO, scenarios as registeredScenarios, type Colors, type Scenario, type ScenarioParam } from './scenarios/index.js';
import { formatSummary } from './summary.js';

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly color: boolean;
  /** True when progress bars may be drawn (stderr is a terminal). Default false. */
  readonly isTTY?: boolean;
  /** Where progress bars go (default process.stderr). */
  readonly progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  color: pc.isColorSupported,
  isTTY: process.stderr.isTTY === true,
};

function parseSeed(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

function parsePositive(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

function parseShardArg(value: string): Shard {
  try {
    return parseShard(value);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
}

function scenarioList(scenarios: readonly Scenario[]): string {
  if (scenarios.length === 0) return '  (none registered yet)\n';
  const width = Math.max(...scenarios.map((s) => s.name.length));
  return scenarios
    .map((s) => {
      const params = (s.params ?? []).map((p) => `--${p.name} ${p.choices ? p.choices.join('|') : '<n>'}`).join(' ');
      return `  ${s.name.padEnd(width)}  ${s.summary}${s.name === DEFAULT_SCENARIO ? ' (default)' : ''}${params ? `\n  ${' '.repeat(width)}  options: ${params}` : ''}\n`;
    })
    .join('');
}

const camel = (name: string): string => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** Every scenario param, once per name, with the scenarios that take it and their defaults. */
function allParams(scenarios: readonly Scenario[]): { param: ScenarioParam; owners: string[]; defaults: string[] }[] {
  const out = new Map<string, { param: ScenarioParam; owners: string[]; defaults: string[] }>();
  for (const s of scenarios) {
    for (const p of s.params ?? []) {
      const e = out.get(p.name) ?? { param: p, owners: [], defaults: [] };
      e.owners.push(s.name);
      e.defaults.push(p.default);
      out.set(p.name, e);
    }
  }
  return [...out.values()];
}

function addParamOptions(cmd: Command, scenarios: readonly Scenario[]): void {
  for (const { param, owners, defaults } of allParams(scenarios)) {
    const values = param.choices ? param.choices.join('|') : `${param.integer?.min ?? 0}…${param.integer?.max ?? '∞'}`;
    const dflt = new Set(defaults).size === 1 ? `default ${param.default}` : `default ${owners.map((o, i) => `${defaults[i]} for ${o}`).join(', ')}`;
    cmd.addOption(new Option(`--${param.name} <value>`, `${param.description} [${values}; ${dflt}] (${owners.join(', ')} only)`));
  }
}

/** The scenario's params from the parsed options: an error message, or the values given (and all values with defaults). */
function chooseParams(
  scenario: Scenario,
  scenarios: readonly Scenario[],
  opts: Record<string, unknown>,
): { error: string } | { given: Record<string, string>; all: Record<string, string> } {
  const given: Record<string, string> = {};
  const all: Record<string, string> = {};
  const own = new Map((scenario.params ?? []).map((p) => [p.name, p]));
  for (const { param, owners } of allParams(scenarios)) {
    const v = opts[camel(param.name)];
    if (typeof v !== 'string') continue;
    if (!own.has(param.name)) return { error: `--${param.name} applies to ${owners.join(', ')}, not to ${scenario.name}` };
    const value = v;
    const p = own.get(param.name)!;
    if (p.choices && !p.choices.includes(value)) return { error: `--${p.name} must be one of ${p.choices.join(', ')} (got "${value}")` };
    if (p.integer) {
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(n >= p.integer.min && n <= p.integer.max)) return { error: `--${p.name} must be an integer from ${p.integer.min} to ${p.integer.max} (got "${value}")` };
    }
    given[p.name] = value;
  }
  for (const p of scenario.params ?? []) all[p.name] = given[p.name] ?? p.default;
  return { given, all };
}

function writeOut(path: string, text: string): string {
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  return abs;
}

/** `--faults` as the explore header shows it. */
function describeFaults(f: FaultRequest): string {
  switch (f.type) {
    case 'off':
      return 'off';
    case 'default':
      return "the scenario's own";
    case 'matrix':
      return f.kinds.length === 0 ? 'none' : `${f.kinds.join(', ')} (one run per site or kind)`;
    case 'runs':
      return f.runs.map(runFaultsLabel).join(', ');
  }
}

const EXAMPLES = `
Examples:
  npm run demo                                    the default scenario (flagship), seed 1
  npm run demo -- bypass-vs-worker --seed 7       another scenario, another seed
  npm run demo -- bypass-vs-worker --html t.html  …and a timeline page to open in a browser
  npm run demo -- irq-put --trace t.json          …or a trace for Perfetto (ui.perfetto.dev → Open trace file)
  npm run demo -- explore --scenario kernel --seeds 200
                                                  200 seeds in parallel; prints the command replaying each failure
  npm run demo -- --list                          the scenarios and their options

Every run is deterministic: the same scenario, seed and options give the same output and
the same trace hash. The simulated GPU runs in virtual time (ms); nothing here needs a GPU.
`;

/**
 * Runs the demo CLI on `argv` (the arguments after the script name) and resolves to the
 * process exit code: 0 on success, non-zero for a bad flag, an unknown scenario, a
 * scenario that threw, or an `explore` that found failing seeds.
 */
export async function main(
  argv: readonly string[],
  io: CliIO = processIO,
  scenarios: readonly Scenario[] = registeredScenarios,
): Promise<number> {
  const colors: Colors = pc.createColors(io.color);
  let exitCode = 0;
  const fail = (message: string): void => {
    io.stderr(colors.red(`error: ${message}\n`));
    exitCode = 1;
  };
  const findScenario = (wanted: string): Scenario | undefined => {
    const scenario = scenarios.find((s) => s.name === wanted);
    if (!scenario) {
      const available = scenarios.length > 0 ? `available: ${scenarios.map((s) => s.name).join(', ')}` : 'no scenarios are registered yet';
      fail(`unknown scenario "${wanted}" (${available}; --list describes them)`);
    }
    return scenario;
  };

  const program = new Command('dep-demo')
    .description(
      'Run a scenario of the Linux GPU dependency layer (dma-fence, dma-resv, drm_dep, …) on a simulated GPU, ' +
        'print what happened, and optionally write a Perfetto trace or an HTML timeline. ' +
        'From the repository root: npm run demo -- [scenario] [options]',
    )
    .usage('[scenario] [options]  |  explore --scenario <name> [options]')
    .argument('[scenario]', `scenario to run (default: ${DEFAULT_SCENARIO}; see the list below)`)
    .option('--seed <n>', 'seed of the virtual executor: same seed, same run', parseSeed, 1)
    .option('--trace <file>', 'write a Chrome trace (JSON) for Perfetto or chrome://tracing')
    .option('--html <file>', 'write a self-contained HTML timeline (no network needed)')
    .option('--chaos', 'shuffle events that are runnable at the same instant (by the seed)')
    .option('--faults', 'inject seeded allocation failures (the error paths must unwind)')
    .option('--list', 'list the scenarios and exit')
    // Options after `explore` are explore's (its own --chaos, --faults, scenario options).
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(colors.red(text)),
    });
  addParamOptions(program, scenarios);
  program.addHelpText('after', () => `${EXAMPLES}\nScenarios:\n${scenarioList(scenarios)}\nMore: npm run demo -- explore --help`);

  program.action(async (name: string | undefined, opts: { seed: number; list?: true; trace?: string; html?: string; chaos?: true; faults?: true } & Record<string, unknown>) => {
    if (opts.list) {
      io.stdout(scenarioList(scenarios));
      return;
    }
    const wanted = name ?? (scenarios.some((s) => s.name === DEFAULT_SCENARIO) ? DEFAULT_SCENARIO : scenarios[0]?.name);
    if (wanted === undefined) {
      io.stdout('No scenarios are registered yet (apps/demo/src/scenarios/index.ts).\n');
      return;
    }
    const scenario = findScenario(wanted);
    if (!scenario) return;
    const chosen = chooseParams(scenario, scenarios, opts);
    if ('error' in chosen) {
      fail(chosen.error);
      return;
    }
    const shown = Object.entries(chosen.all).map(([k, v]) => ` ${k}=${v}`).join('');
    io.stdout(`${colors.bold(scenario.name)} ${colors.dim(`seed=${opts.seed}${shown}${opts.chaos ? ' chaos' : ''}${opts.faults ? ' faults' : ''}`)}\n`);
    const progress = createProgress(scenario.name, { enabled: io.isTTY === true, color: io.color, unit: 'jobs', ...(io.progressStream ? { stream: io.progressStream } : {}) });
    let result;
    try {
      result = await scenario.run({
        seed: opts.seed,
        log: (line) => io.stdout(`${line}\n`),
        colors,
        params: chosen.all,
        ...(opts.chaos ? { chaos: true } : {}),
        ...(opts.faults ? { faults: true } : {}),
        progress: (done, total) => progress.update(done, total),
      });
    } catch (err) {
      progress.stop();
      io.stderr(colors.red(`scenario "${scenario.name}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`));
      exitCode = 1;
      return;
    }
    progress.stop();
    if (!result) {
      if (opts.trace !== undefined || opts.html !== undefined) fail(`scenario "${scenario.name}" returns no trace to write`);
      return;
    }
    for (const line of formatSummary(result, colors)) io.stdout(`${line}\n`);
    if (opts.trace !== undefined) {
      const trace = toChromeTrace(result);
      const at = writeOut(opts.trace, JSON.stringify(trace));
      io.stdout(`${colors.green('wrote')} ${at} ${colors.dim(`(${trace.traceEvents.length} events; open it in Perfetto — ui.perfetto.dev, "Open trace file" — or chrome://tracing)`)}\n`);
    }
    if (opts.html !== undefined) {
      const at = writeOut(opts.html, renderHtml(result));
      io.stdout(`${colors.green('wrote')} ${at} ${colors.dim('(a self-contained page: open it in any browser, offline)')}\n`);
    }
  });

  const exploreCmd = program
    .command('explore')
    .description(
      'Run a scenario under many seeds in parallel (worker threads), check every invariant after every run ' +
        '(fences signalled, no job run twice, completion order, credits, no leak, no lockdep report, freed contexts, same seed ⇒ same trace) ' +
        'and count the outcomes. Prints a table and, for every failing run, the one command that replays it. ' +
        'With --report, every scenario × every fault kind × the seeds, summarised as a table (and a Markdown file). ' +
        'Exit code 1 when a run failed (--report: when an invariant broke or a run threw).',
    )
    .option(
      '--scenario <name>',
      `the scenario to explore, or ${CONFORMANCE_UNITS.join('|')} (the conformance kit); --report: a comma-separated list, default every scenario and the kit`,
      DEFAULT_SCENARIO,
    )
    .option('--seeds <n>', 'how many seeds (default 100; --report: 10)', parsePositive, 100)
    .option('--first-seed <s>', 'the first seed', parseSeed, 1)
    .addOption(
      new Option('--shard <i/n>', 'run only every n-th seed starting with the i-th (split a big run across machines)')
        .argParser(parseShardArg)
        .default({ index: 1, count: 1 }, '1/1'),
    )
    .addOption(new Option('--workers <n>', 'worker threads').argParser(parsePositive).default(defaultWorkers(), 'one per core, at most 4'))
    .option('--chaos', 'shuffle same-instant events by the seed (explores interleavings)')
    .option(
      '--faults [list]',
      `fault matrix: ${FAULT_KINDS.join(', ')} or all (per seed: an unfaulted run that records the sites, then one run per site or kind); ` +
        'kind@site replays one run; bare --faults: the scenario\'s own seeded allocation failures',
    )
    .option('--recheck-every <n>', 're-run every n-th seed and compare its trace hash (0: never)', parseSeed, 10)
    .option('--report [file]', 'run every scenario × fault kind × seeds and write the summary table (Markdown) to file')
    .option('--all-failures', 'list the replay command of every failing run (default: the first 20)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npm run explore -- --scenario kernel --seeds 500\n' +
        '  npm run explore -- --scenario bypass-vs-worker --seeds 100 --chaos --faults\n' +
        '  npm run explore -- --scenario teardown-under-load --seeds 20 --faults alloc,kill\n' +
        '  npm run explore -- --scenario kernel --seeds 1000 --shard 2/4   (seeds 2, 6, 10, …)\n' +
        '  npm run explore -- --report report.md --seeds 10\n',
    );
  addParamOptions(exploreCmd, scenarios);
  exploreCmd.action(
    async (
      opts: {
        scenario: string;
        seeds: number;
        firstSeed: number;
        shard: Shard;
        workers: number;
        chaos?: true;
        faults?: string | true;
        recheckEvery: number;
        report?: string | true;
        allFailures?: true;
      } & Record<string, unknown>,
    ) => {
      let faults: FaultRequest;
      try {
        faults = parseFaults(opts.faults);
      } catch (e) {
        fail(`--faults: ${(e as Error).message}`);
        return;
      }
      const progressTo = io.progressStream ? { stream: io.progressStream } : {};
      if (opts.report !== undefined) {
        await exploreReport(opts, faults, progressTo);
        return;
      }
      // `conformance/<driver>`: the conformance kit with that driver's adapter (no params).
      const kit = conformanceDriver(opts.scenario) !== null;
      const scenario = kit ? { name: opts.scenario, params: [] } : findScenario(opts.scenario);
      if (!scenario) return;
      const chosen = chooseParams(scenario as Scenario, scenarios, opts);
      if ('error' in chosen) {
        fail(chosen.error);
        return;
      }
      const eo: ExploreOptions = {
        scenario: scenario.name,
        seeds: opts.seeds,
        firstSeed: opts.firstSeed,
        shard: opts.shard,
        ...(opts.chaos ? { chaos: true } : {}),
        faults,
        params: chosen.given,
        workers: opts.workers,
        recheckEvery: opts.recheckEvery,
      };
      const last = opts.firstSeed + opts.seeds - 1;
      io.stdout(
        `${colors.bold(`explore ${scenario.name}`)} ${colors.dim(
          `seeds ${opts.firstSeed}…${last}${opts.shard.count > 1 ? `, shard ${opts.shard.index}/${opts.shard.count}` : ''}, ` +
            `${opts.workers} worker(s), chaos: ${opts.chaos ? 'on' : 'scenario default'}, faults: ${describeFaults(faults)}`,
        )}\n`,
      );
      const progress = createProgress(`explore ${scenario.name}`, { enabled: io.isTTY === true, color: io.color, unit: 'seeds', ...progressTo });
      const t0 = Date.now();
      let outcomes;
      try {
        outcomes = await explore(eo, (done, total) => progress.update(done, total));
      } finally {
        progress.stop();
      }
      const seeds = new Set(outcomes.map((o) => o.seed)).size;
      const runs = outcomes.length === seeds ? '' : `${outcomes.length} run(s) of `;
      io.stdout(`${colors.dim(`${runs}${seeds} seed(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s, every invariant checked after every run`)}\n`);
      for (const line of formatExplore(outcomes, colors, opts.allFailures ? { maxReplays: Infinity } : {})) io.stdout(`${line}\n`);
      if (outcomes.some(failed)) exitCode = 1;
    },
  );

  /** `explore --report`: every scenario (or those named) × fault kinds × seeds. */
  async function exploreReport(
    opts: { scenario: string; seeds: number; firstSeed: number; shard: Shard; workers: number; chaos?: true; recheckEvery: number; report?: string | true; allFailures?: true },
    faults: FaultRequest,
    progressTo: { stream?: NodeJS.WritableStream & { isTTY?: boolean } },
  ): Promise<void> {
    let kinds;
    try {
      kinds = reportKinds(faults);
    } catch (e) {
      fail((e as Error).message);
      return;
    }
    const named =
      exploreCmd.getOptionValueSource('scenario') === 'default' ? [...scenarios.map((s) => s.name), ...CONFORMANCE_UNITS] : opts.scenario.split(',').map((s) => s.trim());
    for (const name of named) if (conformanceDriver(name) === null && !findScenario(name)) return;
    const ro: ReportOptions = {
      scenarios: named,
      seeds: exploreCmd.getOptionValueSource('seeds') === 'default' ? 10 : opts.seeds,
      firstSeed: opts.firstSeed,
      shard: opts.shard,
      ...(opts.chaos ? { chaos: true } : {}),
      kinds,
      recheckEvery: opts.recheckEvery,
    };
    const jobs = reportJobs(ro);
    io.stdout(
      `${colors.bold('explore --report')} ${colors.dim(
        `${named.length} scenario(s) × seeds ${ro.firstSeed}…${ro.firstSeed + ro.seeds - 1}${ro.shard.count > 1 ? ` (shard ${ro.shard.index}/${ro.shard.count})` : ''} × faults ${kinds.join(', ') || 'none'}, ` +
          `${opts.workers} worker(s), chaos: ${opts.chaos ? 'on' : 'scenario default'}`,
      )}\n`,
    );
    const progress = createProgress('explore --report', { enabled: io.isTTY === true, color: io.color, unit: 'scenario-seeds', delayMs: 0, ...progressTo });
    const t0 = Date.now();
    let outcomes;
    try {
      outcomes = await runJobs(jobs, { workers: opts.workers }, (done, total) => progress.update(done, total));
    } finally {
      progress.stop();
    }
    const report = summarizeReport(ro, outcomes, Date.now() - t0);
    for (const line of formatReportTerminal(report, colors, opts.allFailures ? Infinity : 20)) io.stdout(`${line}\n`);
    if (typeof opts.report === 'string') {
      const command = `npm run explore -- --report ${opts.report} --seeds ${ro.seeds}${ro.firstSeed === 1 ? '' : ` --first-seed ${ro.firstSeed}`}` +
        `${ro.shard.count > 1 ? ` --shard ${ro.shard.index}/${ro.shard.count}` : ''}${opts.chaos ? ' --chaos' : ''}`;
      const at = writeOut(opts.report, formatReportMarkdown(report, { date: new Date().toISOString().slice(0, 10), command }));
      io.stdout(`${colors.green('wrote')} ${at}\n`);
    }
    if (harnessFailures(report).length > 0) exitCode = 1;
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
  return exitCode;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `npm run demo | head`: the reader went away; stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
