/**
 * Review: the audit log is append-only, fsync'd per entry and never rotated. Every refused platform
 * call (E_POLICY, E_RATE, E_QUEUE, E_LEASE, E_APDU_DENIED) is audited, with no bound per domain, so
 * an applet granted nothing can grow the kernel's audit log (and burn an fsync per call) without
 * limit. The secure outcome asserted: refusals of one domain are audited in bounded numbers
 * (e.g. the first N, then a summary), while the other domain keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, applet, devPolicy, type DevKernel } from '../support/dev-kernel.js';
import { nothingPolicy } from '../../platform/kernel/policy/loader.js';

const NOISY = `
globalThis.main = async (n) => {
  let refused = 0;
  for (let i = 0; i < n; i += 32) {
    const batch = [];
    for (let j = 0; j < 32; j++) batch.push(platform.ui.show({ lines: ['x'] }).catch((e) => e.code));
    const codes = await Promise.all(batch);
    refused += codes.filter((c) => c === 'E_POLICY' || c === 'E_RATE' || c === 'E_QUEUE').length;
  }
  return refused;
};
`;

describe('review: audit flooding by refused calls', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([
      applet({ ...nothingPolicy('noisy'), limits: { ...nothingPolicy('noisy').limits, cpuMsPerCall: 2000, wallMsPerCall: 4000 } }, NOISY),
      applet(devPolicy('quiet'), 'globalThis.main = async () => { await platform.store.put("k", 1); return "ok"; };'),
    ]);
  });
  afterAll(async () => dk.close());

  it('[DOS-08] a domain granted nothing cannot grow the audit log without bound', async () => {
    const before = dk.kernel.audit.lastSeq;
    const size0 = statSync(join(dk.dataDir, 'audit.log')).size;
    const refused = (await dk.kernel.call('noisy', 'main', [1600], 20_000)) as number;
    expect(refused).toBe(1600);
    expect(await dk.kernel.call('quiet', 'main')).toBe('ok');
    const entries = dk.kernel.audit.entriesSince(before).filter((e) => e.domain === 'noisy' && e.event === 'call.refused');
    const grew = statSync(join(dk.dataDir, 'audit.log')).size - size0;
    // Today: one fsync'd entry per refused call (1600 entries, ~0.4 MB for 1600 calls).
    expect(entries.length).toBeLessThanOrEqual(100);
    expect(grew).toBeLessThan(64 * 1024);
  });
});
