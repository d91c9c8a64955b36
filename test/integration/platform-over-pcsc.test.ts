/**
 * The core platform flow, unchanged, over the PC/SC driver: the kernel drives a real pcscd, which
 * reaches the emulated test card through vsmartcard's vpcd, as it would a manufacturer's reader.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../platform/kernel/kernel.js';
import { defaultConfig } from '../../platform/kernel/config.js';
import { PcscDriver } from '../../platform/slot-broker/drivers/pcsc.js';
import { serveCardToVpcd, type VpcdBridge } from '../../emulator/reader/vpcd.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { enableLoopbackQuickAck, gateOnDeps, pcscDeps, startPrivatePcscd, type PrivatePcscd } from '../support/pcscd.js';
import { applet, devPolicy, testCardClass, until } from '../support/dev-kernel.js';
import { SCRIPT, checkPlatformFlow } from './platform-flow.js';

const deps = await pcscDeps();
const runnable = gateOnDeps('the platform flow over PC/SC (pcscd + vpcd)', deps.missing);

describe.runIf(runnable)('platform flow over the pcsc driver', () => {
  let pcscd: PrivatePcscd;
  let bridge: VpcdBridge;
  let quick: { undo(): void } | null;
  let kernel: Kernel;
  let dataDir: string;

  beforeAll(async () => {
    pcscd = await startPrivatePcscd();
    const q = enableLoopbackQuickAck();
    quick = q;
    bridge = serveCardToVpcd({ card: createCard('test-card'), host: q?.host ?? '127.0.0.1', port: pcscd.basePort, reconnectMs: 50 });
    dataDir = mkdtempSync(join(tmpdir(), 'di-pcsc-kernel-'));
    const base = defaultConfig(dataDir);
    kernel = await Kernel.boot({
      config: { ...base, supervisor: { ...base.supervisor, spareHost: false } },
      driver: new PcscDriver(deps.binding!, { readers: [pcscd.readers[0]] }),
      devApplets: [applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)],
    });
    await until(() => kernel.broker.cardsFor('alpha').length > 0, 15_000, 'card offered through pcscd');
  }, 60_000);

  afterAll(async () => {
    await kernel?.shutdown();
    await bridge?.close();
    quick?.undo();
    await pcscd?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves every capability family to an applet, the card being reached through pcscd', async () => {
    await checkPlatformFlow(kernel, 'alpha');
  });
});
