import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json is), whether running from TypeScript sources or from dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot locate the project root (no package.json above ' + fileURLToPath(import.meta.url) + ')');
}

/** The built domain host entry; `npm run build` (run by npm ci, npm start and npm test) produces it. */
export function hostEntry(): string {
  const p = join(repoRoot(), 'dist', 'host.js');
  if (!existsSync(p)) throw new Error(`domain host not built: ${p} is missing; run \`npm run build\``);
  return p;
}
