import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { DEFAULT_SCENARIO, scenarios as registeredScenarios, type Scenario } from './scenarios/index.js';

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly color: boolean;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  color: pc.isColorSupported,
};

function parseSeed(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

function scenarioList(scenarios: readonly Scenario[]): string {
  if (scenarios.length === 0) return '  (none registered yet)\n';
  const width = Math.max(...scenarios.map((s) => s.name.length));
  return scenarios
    .map((s) => `  ${s.name.padEnd(width)}  ${s.summary}${s.name === DEFAULT_SCENARIO ? ' (default)' : ''}\n`)
    .join('');
}

/**
 * Runs the demo CLI on `argv` (the arguments after the script name) and resolves to the
 * process exit code: 0 on success, non-zero for a bad flag, an unknown scenario, or a
 * scenario that threw.
 */
export async function main(
  argv: readonly string[],
  io: CliIO = processIO,
  scenarios: readonly Scenario[] = registeredScenarios,
): Promise<number> {
  const colors = pc.createColors(io.color);
  let exitCode = 0;

  const program = new Command('dep-demo')
    .description('Run a dep scenario on the simulated GPU.')
    .argument('[scenario]', `scenario to run (default: ${DEFAULT_SCENARIO})`)
    .option('--seed <n>', 'seed for the virtual executor', parseSeed, 1)
    .option('--list', 'list the scenarios and exit')
    .addHelpText('after', () => `\nScenarios:\n${scenarioList(scenarios)}`)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(colors.red(text)),
    })
    .action(async (name: string | undefined, opts: { seed: number; list?: true }) => {
      if (opts.list) {
        io.stdout(scenarioList(scenarios));
        return;
      }
      const wanted = name ?? (scenarios.some((s) => s.name === DEFAULT_SCENARIO) ? DEFAULT_SCENARIO : scenarios[0]?.name);
      if (wanted === undefined) {
        io.stdout('No scenarios are registered yet (apps/demo/src/scenarios/index.ts).\n');
        return;
      }
      const scenario = scenarios.find((s) => s.name === wanted);
      if (!scenario) {
        const available = scenarios.length > 0 ? `available: ${scenarios.map((s) => s.name).join(', ')}` : 'no scenarios are registered yet';
        io.stderr(colors.red(`error: unknown scenario "${wanted}" (${available})\n`));
        exitCode = 1;
        return;
      }
      io.stdout(`${colors.bold(scenario.name)} ${colors.dim(`seed=${opts.seed}`)}\n`);
      try {
        await scenario.run({ seed: opts.seed, log: (line) => io.stdout(`${line}\n`), colors });
      } catch (err) {
        io.stderr(colors.red(`scenario "${scenario.name}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`));
        exitCode = 1;
      }
    });

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
