import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import SummaryReporter from './scripts/vitest-summary-reporter.ts';

// One vitest process for the whole repo (machines have 2 cores). Every workspace with its
// own vitest.config.ts is a project; globs like 'packages/*' would also pick up
// 'packages/drivers' itself, and a pattern that matches nothing must not fail the run,
// so the list is computed from what exists.
const PROJECT_DIRS = ['packages', 'packages/drivers', 'apps'];
const projects = PROJECT_DIRS.flatMap((dir) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'vitest.config.ts')))
        .map((e) => `${dir}/${e.name}`)
    : [],
);

export default defineConfig({
  resolve: { conditions: ['@dep/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@dep/source', ...defaultServerConditions] } },
  test: {
    projects,
    reporters: ['default', new SummaryReporter()],
    coverage: {
      provider: 'v8',
      include: ['packages/**/src/**/*.ts', 'apps/*/src/**/*.ts'],
      exclude: ['**/*.test.ts', '**/*.test-d.ts', '**/__fixtures__/**'],
      reporter: ['text-summary', 'html'],
    },
  },
});
