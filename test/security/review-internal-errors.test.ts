/**
 * Review: the E_INTERNAL path (toWireError). Anything thrown with a string `code` is passed to the
 * domain as-is (code + message). Node's own errors carry a `code` (ENOENT, EEXIST, EISDIR, ENOSPC…)
 * and a message naming kernel paths, so an I/O failure inside a capability tells the applet where the
 * kernel's data directory is and what failed, instead of "E_INTERNAL (see the kernel log)".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, applet, devPolicy, type DevKernel } from '../support/dev-kernel.js';

const SCRIPT = `
globalThis.onIntent = async (req) => {
  try {
    if (req.payload.op === 'store') return { v: await platform.store.get('k') };
    if (req.payload.op === 'log') { await platform.log('info', 'hello', {}); return { ok: true }; }
  } catch (e) { return { code: e.code, message: e.message }; }
};
`;

describe('review: internal errors reach the applet without kernel details', () => {
  let dk: DevKernel;
  const call = (op: string) => dk.kernel.call('alpha', 'onIntent', [{ from: 't', action: 'x', payload: { op } }]) as Promise<{ code?: string; message?: string }>;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('alpha'), SCRIPT)]);
  });
  afterAll(async () => dk.close());

  it('[XDOM-08] a store that cannot be opened (I/O error) is E_INTERNAL/E_STORE with no host path', async () => {
    writeFileSync(join(dk.dataDir, 'stores'), 'not a directory');
    const r = await call('store');
    expect(['E_INTERNAL', 'E_STORE']).toContain(r.code);
    expect(String(r.message)).not.toContain(dk.dataDir);
  });

  it('[XDOM-08] a log write that fails (I/O error) is E_INTERNAL with no host path', async () => {
    mkdirSync(join(dk.dataDir, 'logs', 'alpha.log'), { recursive: true });
    const r = await call('log');
    expect(r.code).toBe('E_INTERNAL');
    expect(String(r.message)).not.toContain(dk.dataDir);
  });
});
