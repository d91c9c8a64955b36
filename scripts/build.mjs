// Builds the runnable JavaScript: the CLI (kernel side) and the domain host entry.
// esbuild is used because the host must start fast (cold start target) and TypeScript 7 has no emitter API.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: { cli: 'cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...common, entryPoints: { host: 'platform/host/main.ts' }, outdir: 'dist' }),
  build({ ...common, entryPoints: { 'bench-echo': 'bench/echo-child.ts' }, outdir: 'dist' }),
]);
