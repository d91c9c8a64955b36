import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootDev, applet, devPolicy, testCardClass, until, type DevKernel } from '../support/dev-kernel.js';
import { createCard } from '../../emulator/cards/profiles.js';

const SCRIPT = `
globalThis.main = async () => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
  await lease.transmit(new Uint8Array([0x00, 0xA4, 0x04, 0x0C, 0x08, 0xF0, 0x44, 0x49, 0x54, 0x45, 0x53, 0x54, 0x01]));
  const r = await platform.pin.verify(lease, { reference: 1, format: 'ascii-ff', prompt: 'Code porteur' });
  // The protected EF 0102 becomes readable only after a good PIN.
  const sel = await lease.transmit(new Uint8Array([0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]));
  const rd = await lease.transmit(new Uint8Array([0x00, 0xB0, 0x00, 0x00, 0x00]));
  await lease.release();
  return { r, readSw: rd[rd.length - 2] * 256 + rd[rd.length - 1] };
};
globalThis.onIntent = async (req) => {
  const lease = await platform.slots.acquire(0, { timeoutMs: 1000 });
  try {
    if (req.payload.op === 'read') {
      await lease.transmit(new Uint8Array([0x00, 0xA4, 0x04, 0x0C, 0x08, 0xF0, 0x44, 0x49, 0x54, 0x45, 0x53, 0x54, 0x01]));
      await lease.transmit(new Uint8Array([0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]));
      const rd = await lease.transmit(new Uint8Array([0x00, 0xB0, 0x00, 0x00, 0x00]));
      return { sw: rd[rd.length - 2] * 256 + rd[rd.length - 1] };
    }
    return await platform.pin.verify(lease, { reference: req.payload.ref, format: 'ascii-ff' });
  } finally { await lease.release(); }
};
`;

describe('secure PIN entry', () => {
  let dk: DevKernel;
  beforeAll(async () => {
    dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)]);
    dk.kernel.insertCard(0, createCard('test-card'));
    await until(() => dk.kernel.broker.cardsFor('alpha').length > 0);
  });
  afterAll(async () => dk.close());

  it('a wrong PIN decrements the tries; the right one opens the protected file', async () => {
    dk.kernel.terminal.typeKeys(['9', '9', '9', '9', 'OK']);
    const bad = (await dk.kernel.call('alpha', 'main')) as { r: { ok: boolean; triesLeft: number }; readSw: number };
    expect(bad.r).toMatchObject({ ok: false, triesLeft: 2, blocked: false });
    expect(bad.readSw).toBe(0x6982);
    dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const good = (await dk.kernel.call('alpha', 'main')) as { r: { ok: boolean }; readSw: number };
    expect(good.r.ok).toBe(true);
    expect(good.readSw).toBe(0x9000);
  });

  it('a verified PIN does not survive the end of the lease (card reset)', async () => {
    // Same card, new lease, no VERIFY: the protected file is closed again.
    const r = (await dk.kernel.call('alpha', 'onIntent', [{ from: 'x', action: 'y', payload: { op: 'read' } }])) as { sw: number };
    expect(r.sw).toBe(0x6982);
  });

  it('a PIN reference outside the policy is refused before the keypad is read', async () => {
    const err = await dk.kernel.call('alpha', 'onIntent', [{ from: 'x', action: 'y', payload: { ref: 7 } }]).catch((e: Error) => e);
    expect(String((err as Error).message)).toMatch(/PIN reference 7 is not listed for card class test-card/);
    expect(dk.kernel.terminal.current().pinEntry).toBe(null);
  });

  it('keypad cancel reaches the applet as aborted, with no VERIFY sent', async () => {
    dk.kernel.terminal.typeKeys(['1', 'ANNULER']);
    const r = (await dk.kernel.call('alpha', 'main')) as { r: { ok: boolean; aborted?: string } };
    expect(r.r).toMatchObject({ ok: false, aborted: 'cancelled' });
  });

  it('the PIN digits appear in no log, audit entry or store file', async () => {
    const files = [join(dk.dataDir, 'audit.log'), ...readdirSync(join(dk.dataDir, 'logs')).map((f) => join(dk.dataDir, 'logs', f))];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/31323334|"1234"|\b1234\b/);
      expect(text, f).not.toMatch(/39393939|\b9999\b/);
    }
  });
});

describe('secure PIN entry and the lease idle timeout', () => {
  it('a person typing slowly does not lose the lease to the idle timeout', async () => {
    const dk = await bootDev([applet(devPolicy('alpha', { cardClasses: [testCardClass()] }), SCRIPT)], { broker: { leaseIdleTimeoutMs: 150, leaseMaxMs: 60_000 } });
    try {
      dk.kernel.insertCard(0, createCard('test-card'));
      await until(() => dk.kernel.broker.cardsFor('alpha').length > 0);
      const run = dk.kernel.call('alpha', 'main');
      await until(() => dk.kernel.terminal.current().pinEntry !== null, 5000, 'PIN prompt');
      // Well past the idle timeout, then the digits.
      await new Promise((r) => setTimeout(r, 450));
      dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
      const r = (await run) as { r: { ok: boolean }; readSw: number };
      expect(r.r.ok).toBe(true);
      expect(r.readSw).toBe(0x9000);
    } finally {
      await dk.close();
    }
  });
});
