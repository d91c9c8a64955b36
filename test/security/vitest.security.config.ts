/**
 * Vitest configuration for `di security`: the repository's configuration, restricted to the attack
 * catalogue (test/security/**), with the JSON results written where the runner says (DI_SECURITY_JSON).
 */
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import base from '../../vitest.config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const timeout = Number(process.env.DI_SECURITY_TIMEOUT_MS ?? 0) || 30_000;

export default defineConfig({
  ...base,
  root,
  test: {
    ...base.test,
    include: ['test/security/**/*.test.ts'],
    testTimeout: timeout,
    reporters: [['json', { outputFile: process.env.DI_SECURITY_JSON ?? '.test-results/security.json' }]],
  },
});
