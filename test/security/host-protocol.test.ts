/**
 * A host is untrusted: whatever it writes on its pipe, the kernel validates. Garbage, an oversize
 * length prefix, an invalid message or a lie about a call id gets the host killed (and audited),
 * and the kernel keeps serving the other domains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { HostProcess } from '../../platform/kernel/host-process.js';
import { bootDev, applet, devPolicy, type DevKernel } from '../support/dev-kernel.js';

const FAKE = fileURLToPath(new URL('../fixtures/hosts/misbehaving.mjs', import.meta.url));

describe('host protocol violations', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('bystander'), 'globalThis.main = async () => "alive";')]);
  });
  afterAll(async () => dk.close());

  const ids: Record<string, string> = { garbage: 'FAULT-03', oversize: 'FAULT-04', invalid: 'FAULT-05', 'lying-result': 'FAULT-06' };
  for (const mode of ['garbage', 'oversize', 'invalid', 'lying-result']) {
    it(`[${ids[mode]}] ${mode}: the host is killed with a reason, the kernel keeps serving`, async () => {
      const h = new HostProcess({
        domain: 'liar',
        script: 'x',
        filename: 'x.js',
        limits: { memoryMb: 16, cpuMsPerCall: 100, wallMsPerCall: 100 },
        clockGranularityMs: 100,
        maxFrameBytes: 64 * 1024,
        readyTimeoutMs: 5000,
        entry: FAKE,
        args: [mode],
      });
      const violation = new Promise<string>((r) => h.once('violation', r));
      const exit = new Promise<{ signal: string | null }>((r) => h.once('exit', r));
      h.start().catch(() => undefined);
      const reason = await violation;
      expect(reason).toMatch(mode === 'lying-result' ? /never made/ : mode === 'invalid' ? /invalid message/ : /undecodable frame|frame/);
      expect((await exit).signal).toBe('SIGKILL');
      expect(await dk.kernel.call('bystander', 'main')).toBe('alive');
    });
  }
});
