import { defineConfig } from 'vitest/config';

/** Shared by every project's vitest.config.ts: node environment, generous timeouts for training. */
export const sharedTestConfig = defineConfig({
  test: {
    environment: 'node',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files one after another in forks so tensor-heavy files do not compete.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    // The JSON report feeds the one-line total that CI prints (.ci/summarize-tests.mjs).
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
