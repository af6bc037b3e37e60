import { defaultServerConditions } from 'vite';
import { defineProject } from 'vitest/config';

// Tests run on source: "@dep/source" resolves every @dep/* import to its src/.
export default defineProject({
  resolve: { conditions: ['@dep/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@dep/source', ...defaultServerConditions] } },
  test: {
    name: 'e2e',
    include: ['src/**/*.test.ts'],
  },
});
