// Model-based uAPI fuzzing (fast-check `fc.commands`) across the three drivers: random
// sequences of core, xe, panthor and amdxdna ioctls from two clients per device, valid
// ones checked against the model, invalid ones for the kernel's errno and every device
// unchanged; at the end nothing may be left. The budget is small for CI; raise it with
// DEP_FUZZ_RUNS / DEP_FUZZ_COMMANDS (see apps/e2e/README.md).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allCommands } from './commands.js';
import { Coverage } from './coverage.js';
import { budgetFromEnv, runSequence } from './run.js';

const budget = budgetFromEnv();

describe('uAPI fuzzing across xe, panthor and amdxdna', () => {
  it(`random ioctl sequences agree with the model, invalid calls fail cleanly, nothing leaks (${budget.numRuns} runs)`, { timeout: 60_000 + budget.numRuns * 10_000 }, async () => {
    const coverage = new Coverage();
    await fc.assert(
      fc.asyncProperty(fc.commands(allCommands, { maxCommands: budget.maxCommands, size: 'max' }), async (cmds) => {
        await runSequence(cmds, { coverage });
      }),
      { numRuns: budget.numRuns, ...(budget.seed === undefined ? {} : { seed: budget.seed }), ...(budget.path === undefined ? {} : { path: budget.path }) },
    );
    if (process.env['DEP_FUZZ_REPORT'] !== undefined) console.log(`${coverage.commands} commands, ${coverage.invalid} invalid calls\n${coverage.table()}`);
    if (budget.path !== undefined) return;
    // The sequences reach the deep paths: valid submits and binds, and a fair share of bad
    // calls; with a bigger budget, every driver's submits, binds and cross-device PRIME.
    const submits = ['XeExec', 'PtSubmit', 'AxExecCmd'];
    expect(submits.reduce((n, k) => n + coverage.validOf(k), 0), 'valid submits').toBeGreaterThan(0);
    expect(coverage.invalid, 'invalid calls').toBeGreaterThan(coverage.commands / 5);
    if (budget.numRuns >= 50) for (const kind of [...submits, 'PrimeShare', 'XeVmBind', 'PtVmBind']) expect(coverage.validOf(kind), `valid ${kind}`).toBeGreaterThan(0);
  });
});
