import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';
import { verifyAuditFile } from '../../platform/kernel/audit.js';
import { SCRIPT, checkPlatformFlow } from './platform-flow.js';


describe('platform API end to end (kernel -> host -> isolate -> broker -> card)', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)]);
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('alpha').length > 0, 5000, 'card offered');
  });
  afterAll(async () => dk.close());

  it('serves every capability family to an applet', async () => {
    await checkPlatformFlow(dk.kernel, 'alpha');
  });

  it('redacts what the applet logs: PAN masked, PIN field dropped', async () => {
    const log = readFileSync(join(dk.dataDir, 'logs', 'alpha.log'), 'utf8');
    expect(log).toContain('497010******7893');
    expect(log).not.toContain('4970101234567893');
    expect(log).not.toMatch(/"pin":"1234"/);
  });

  it('keeps an audit chain that verifies', () => {
    const v = verifyAuditFile(join(dk.dataDir, 'audit.log'));
    expect(v.ok).toBe(true);
    const events = dk.kernel.audit.entriesSince(0).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['kernel.boot', 'package.unsigned', 'host.ready', 'card.offered', 'lease.acquire']));
  });

  it('persists the store across a host restart', async () => {
    const pid = dk.kernel.supervisor.state('alpha')?.pid;
    process.kill(pid as number, 'SIGKILL');
    await until(() => dk.kernel.supervisor.state('alpha')?.pid !== pid && dk.kernel.supervisor.state('alpha')?.state === 'ready', 10_000, 'restart');
    const r = (await dk.kernel.call('alpha', 'main')) as Record<string, unknown>;
    expect(r.back).toEqual({ n: 1, b: new Uint8Array([9, 8]) });
    expect(readdirSync(join(dk.dataDir, 'stores'))).toContain('alpha.sqlite');
  });
});
