/**
 * The payment applet (packed, real policy) against the project's acquirer emulator
 * (emulator/acquirer/server.ts) through the kernel's own `acquirer` transport: CA key download,
 * online authorization with an ARQC the issuer verifies, the rules' declines, reversal, batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { loadPolicyFile } from '../../platform/kernel/policy/loader.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { Policy } from '../../platform/kernel/policy/types.js';
import type { WireValue } from '../../platform/wire/messages.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import { startAcquirer, defaultRules, type AcquirerServer } from '../../emulator/acquirer/server.js';

const KEY_DIR = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');

interface Result {
  status: string;
  transactionRef: string;
  authCode?: string;
}

describe('payment applet against the acquirer emulator', () => {
  let dk: DevKernel;
  let acq: AcquirerServer;

  beforeAll(async () => {
    const rules = defaultRules();
    // Mastercard test card: "insufficient funds".
    rules.rules.push({ kind: 'pan-in', pans: ['5413330000000027'], code: '51' });
    acq = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: null, rules });
    const policy: Policy = structuredClone(loadPolicyFile(join(repoRoot(), 'policies', 'payment.json')));
    policy.network.endpoints = policy.network.endpoints.map((e) => (e.name === 'acquirer' ? { ...e, port: acq.port } : e));
    const script = await bundleApplet(join(repoRoot(), 'applets', 'payment-stub'), 'main.ts');
    dk = await bootDev([{ policy, script, filename: 'payment.js' }]);
    expect(dk.kernel.transports.has('acquirer')).toBe(true);
    dk.kernel.store('payment').put('terminal-params', { targetPercent: 0, maxTargetPercent: 0, maxAmount: 300_000 });
  }, 60_000);

  afterAll(async () => {
    await dk?.close();
    await acq?.close();
  });

  const charge = async (profile: string, amount: number): Promise<Result> => {
    dk.kernel.insertCard(0, await loadCard(profile, KEY_DIR));
    try {
      await until(() => dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'card routed');
      const run = dk.kernel.call('payment', 'onIntent', [{ from: 'test', action: 'charge', payload: { amount, currency: 'EUR', reference: 'R1' } as { [k: string]: WireValue } }]);
      await until(() => dk.kernel.terminal.current().pinEntry, 15_000, 'PIN prompt');
      dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
      return (await run) as unknown as Result;
    } finally {
      dk.kernel.removeCard(0);
      await until(() => dk.kernel.broker.cardsFor('payment').length === 0, 10_000, 'card gone');
    }
  };
  const entry = (ref: string) => dk.kernel.store('payment').get(`tx/${ref}`) as Record<string, unknown>;
  const auths = () => acq.journal().filter((e) => e.kind === 'authorization');

  it('online approval: the CA keys come from the acquirer, DDA verifies, the ARQC verifies, the card takes the ARPC', async () => {
    const r = await charge('emv-approuve-offline', 15_000);
    expect(r.status).toBe('approved');
    expect(r.authCode).toMatch(/^[0-9A-Z]{6}$/);
    expect(entry(r.transactionRef)).toMatchObject({ oda: 'dda:ok', cryptogramType: 'ARQC/TC', responseCode: '00' });
    expect(acq.journal().some((e) => e.kind === 'ca-keys')).toBe(true);
    expect(auths().at(-1)).toMatchObject({ ref: r.transactionRef, responseCode: '00', panMasked: expect.stringMatching(/^497010.*0014$/), amount: 15_000 });
  });

  it('the amount rule (above 1 500,00 EUR) declines with 05', async () => {
    const r = await charge('emv-online', 200_000);
    expect(r).toEqual({ status: 'declined', transactionRef: expect.any(String) });
    expect(auths().at(-1)).toMatchObject({ ref: r.transactionRef, responseCode: '05' });
    expect(entry(r.transactionRef)).toMatchObject({ responseCode: '05', reason: 'Refusé par la banque' });
  });

  it('a PAN rule declines with 51 (insufficient funds)', async () => {
    const r = await charge('emv-online', 2_000);
    expect(r.status).toBe('declined');
    expect(entry(r.transactionRef)).toMatchObject({ responseCode: '51', reason: 'Provision insuffisante' });
  });

  it('reversal of the last approved payment is accepted by the acquirer', async () => {
    const first = await charge('emv-approuve-offline', 20_000);
    const paid = await charge('emv-approuve-offline', 12_000);
    expect([first.status, paid.status]).toEqual(['approved', 'approved']);
    dk.kernel.store('payment').put('command', { action: 'reversal' });
    expect(await dk.kernel.call('payment', 'main')).toMatchObject({ status: 'accepted', originalRef: paid.transactionRef });
    expect(acq.journal().filter((e) => e.kind === 'reversal').at(-1)).toMatchObject({ originalRef: paid.transactionRef, accepted: true });
  });

  it('the batch of online-approved payments matches the acquirer\'s count and total', async () => {
    dk.kernel.store('payment').put('command', { action: 'batch' });
    const r = (await dk.kernel.call('payment', 'main')) as { status: string; count: number; total: number; differences: string[] };
    expect(r).toMatchObject({ status: 'accepted', count: 2, total: 35_000, differences: [] });
  });

  it('an offline approval (TC) is settled at the batch: the acquirer checks its TC, the terminal then drops the clearing record', async () => {
    const r = await charge('emv-approuve-offline', 2_500);
    expect(r.status).toBe('approved');
    expect(entry(r.transactionRef)).toMatchObject({ online: false });
    expect(dk.kernel.store('payment').get(`clearing/${r.transactionRef}`)).toMatchObject({ amount: 2_500 });
    dk.kernel.store('payment').put('command', { action: 'batch' });
    const b = (await dk.kernel.call('payment', 'main')) as { status: string; count: number; total: number; differences: string[] };
    expect(b).toMatchObject({ status: 'accepted', count: 1, total: 2_500, differences: [] });
    expect(entry(r.transactionRef).batched).toBe(true);
    expect(auths().at(-1)).toMatchObject({ ref: r.transactionRef, responseCode: '00', reason: expect.stringMatching(/offline approval/) });
    expect(dk.kernel.store('payment').get(`clearing/${r.transactionRef}`)).toBeUndefined();
  });

  it('a forged offline TC is not settled: the batch names it', async () => {
    const r = await charge('emv-approuve-offline', 3_100);
    const key = `clearing/${r.transactionRef}`;
    const c = dk.kernel.store('payment').get(key) as { tc: Uint8Array };
    const tc = Uint8Array.from(c.tc);
    tc[0] = (tc[0] as number) ^ 0xff;
    dk.kernel.store('payment').put(key, { ...(c as object), tc } as never);
    dk.kernel.store('payment').put('command', { action: 'batch' });
    const b = (await dk.kernel.call('payment', 'main')) as { status: string; differences: string[] };
    expect(b.status).toBe('refused');
    expect(b.differences).toContain(`${r.transactionRef}: offline TC does not verify`);
    expect(auths().some((e) => e.ref === r.transactionRef)).toBe(false);
  });
});
