import type { Reporter, SerializedError, TestModule } from 'vitest/node';

/**
 * Prints, as the very last line of a vitest run, the plain summary CI reads:
 *
 *     N passed, N failed            (", N skipped" is appended when tests were skipped)
 *
 * Counted over test cases. A test file that failed outside any test (an import error, a
 * failing beforeAll/afterAll hook) counts as one failure, and so does every unhandled
 * error, so a broken run can never print "0 failed". Registered in the root
 * vitest.config.ts after the default reporter, so its line comes after the default summary.
 */
export default class SummaryReporter implements Reporter {
  #line: string | undefined;

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedInModule = 0;
      for (const test of mod.children.allTests()) {
        const { state } = test.result();
        switch (state) {
          case 'passed':
            passed++;
            break;
          case 'failed':
            failed++;
            failedInModule++;
            break;
          case 'skipped':
            skipped++;
            break;
          case 'pending':
            // Never finished (run interrupted or bailed): not a pass.
            failed++;
            failedInModule++;
            break;
        }
      }
      if (failedInModule === 0 && (mod.state() === 'failed' || mod.errors().length > 0)) failed++;
    }
    failed += unhandledErrors.length;
    this.#line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
    process.stdout.write(`\n${this.#line}\n`);
  }

  /**
   * With --coverage, vitest prints the coverage report after onTestRunEnd and then calls
   * this (undocumented) hook: repeat the line so it stays the last one.
   */
  onFinishedReportCoverage(): void {
    if (this.#line !== undefined) process.stdout.write(`\n${this.#line}\n`);
  }
}
