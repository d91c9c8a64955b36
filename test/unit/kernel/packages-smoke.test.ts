import { test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateDevKeys, loadTrustAnchors } from '../../../platform/kernel/packages/keys.js';
import { packApplet } from '../../../platform/kernel/packages/pack.js';
import { verifyPackage } from '../../../platform/kernel/packages/verify.js';
test('x', async () => {
  const d = mkdtempSync(join(tmpdir(), 'smk-'));
  const dev = await loadOrCreateDevKeys(d);
  const r = await packApplet({ dir: 'test/fixtures/applets/hello', outDir: join(d, 'out'), signer: dev.signer });
  console.log(r.packageDir, dev.rootPath);
  const v = await verifyPackage(r.packageDir, { trustAnchors: loadTrustAnchors([dev.rootPath]) });
  console.log(v.signerSubject, v.script);
});
