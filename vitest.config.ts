import { defineConfig } from 'vitest/config';

// Unit and property suites: run in parallel. Root-only suites (*.root.test.ts) touch kernel
// state and run one file at a time from vitest.root.config.ts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.root.test.ts', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
