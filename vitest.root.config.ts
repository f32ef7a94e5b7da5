import { defineConfig } from 'vitest/config';

// Root-only suites: network namespaces, nfqueue, pcap. One file at a time (they share the
// kernel), each creating and removing its own namespaces.
export default defineConfig({
  test: {
    include: ['test/**/*.root.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
