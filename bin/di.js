#!/usr/bin/env node
// `npx di …`: re-executes the built CLI with --no-node-snapshot (isolated-vm on Node 20 needs it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('di: dist/cli.js is missing; run `npm run build` (npm ci does it) first.');
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--no-node-snapshot', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
