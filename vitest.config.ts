import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Hosts are child processes and isolated-vm needs --no-node-snapshot on Node 20.
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
  },
});
