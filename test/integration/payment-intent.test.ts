/**
 * The payment intent end to end: a health applet under the real sesam-vitale policy asks the
 * payment domain (real payment policy) to charge 23,00 EUR; the payment applet runs an EMV online
 * transaction against a real emulated card and the emulated acquirer, through the kernel's acquirer
 * transport. The health side gets { status, transactionRef, authCode? } only; the payment domain
 * held the screen meanwhile; payment cannot ask health for anything.
 *
 * The payment applet is the real one (applets/payment-stub, bundled as `di applet pack` does);
 * DI_PAYMENT_APPLET=stand-in runs the raw-APDU stand-in of test/unit/acquirer/payment-fixtures.ts
 * instead. The reverse-direction probe always uses the stand-in, which carries the probe hook.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { startAcquirer, type AcquirerServer } from '../../emulator/acquirer/server.js';
import { AcquirerTransport } from '../../platform/kernel/transports/acquirer.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import type { DevApplet } from '../../platform/kernel/kernel.js';
import type { Policy } from '../../platform/kernel/policy/types.js';
import type { TerminalView } from '../../platform/kernel/terminal.js';
import { KEY_DIR, emvCard } from '../unit/acquirer/emv-terminal.js';
import { healthApplet, realPolicies, standInPaymentApplet } from '../unit/acquirer/payment-fixtures.js';

const REAL = process.env.DI_PAYMENT_APPLET !== 'stand-in';

async function paymentApplet(policy: Policy): Promise<DevApplet> {
  if (!REAL) return standInPaymentApplet(policy);
  return { policy, script: await bundleApplet(join(repoRoot(), 'applets', 'payment-stub'), 'main.ts'), filename: 'payment-stub/applet.js' };
}

describe('payment intent from the health domain', () => {
  let dk: DevKernel;
  let acquirer: AcquirerServer;
  let journalDir: string;
  const transport = new AcquirerTransport();
  const views: Array<{ view: TerminalView; foreground: string | null }> = [];
  const health = (payload: Record<string, unknown>) =>
    dk.kernel.call('sesam-vitale', 'onIntent', [{ from: 'test', action: 'run', payload: payload as never }], 60_000) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    journalDir = mkdtempSync(join(tmpdir(), 'di-acq-intent-'));
    acquirer = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(journalDir, 'journal.jsonl') });
    const { health: hp, payment: pp } = realPolicies(acquirer.port);
    dk = await bootDev([healthApplet(hp), await paymentApplet(pp)]);
    dk.kernel.transports.set('acquirer', transport);
    dk.kernel.terminal.on('view', (view) => views.push({ view, foreground: dk.kernel.terminal.foreground() }));
    await until(() => dk.kernel.handlers.get('payment')?.includes('onIntent') && dk.kernel.handlers.get('sesam-vitale')?.includes('onIntent'), 15_000, 'both hosts ready');
    dk.kernel.insertCard(1, await emvCard('emv-online'));
    await until(() => dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'EMV card routed to payment');
  });
  afterAll(async () => {
    transport.close();
    await dk?.close();
    await acquirer?.close();
    rmSync(journalDir, { recursive: true, force: true });
  });

  it('charge 23,00 EUR: health receives only status, transactionRef and authCode', async () => {
    dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const r = await health({ op: 'charge', amount: 2300, reference: 'FSE-000123' });
    expect(r.code, String(r.message)).toBeUndefined();
    const result = r.result as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(['authCode', 'status', 'transactionRef']);
    expect(result.status).toBe('approved');
    // The payment domain's own reference (the stand-in reuses the health reference).
    expect(typeof result.transactionRef === 'string' && result.transactionRef.length > 0).toBe(true);
    expect(result.authCode).toMatch(/^[0-9A-Z]{6}$/);
    // The acquirer saw it, and approved it with the code health got.
    const auth = acquirer.journal().find((e) => e.kind === 'authorization' && (e.ref === result.transactionRef || e.ref === 'FSE-000123'));
    expect(auth).toMatchObject({ responseCode: '00', amount: 2300, panMasked: '541333******0027', authCode: result.authCode });
    // What health recorded receiving is exactly that.
    const rec = (await health({ op: 'received' })).received as Array<{ what: string; value: unknown }>;
    expect(rec.filter((x) => x.what === 'intent-result').map((x) => x.value)).toEqual([result]);
  });

  it('the payment domain had the screen and keypad during the transaction, in French', async () => {
    const text = (v: (typeof views)[number]) => [v.view.screen.title, ...v.view.screen.lines].join(' | ');
    // The transaction's screens (an idle screen shown while nobody holds the foreground is not one).
    const pay = views.filter((v) => v.view.domain === 'payment' && /Montant|Paiement accepté|Paiement refusé/.test(text(v)));
    expect(pay.length).toBeGreaterThan(0);
    for (const v of pay) expect(v.foreground).toBe('payment');
    expect(pay.some((v) => text(v).includes('Montant : 23,00 EUR'))).toBe(true);
    expect(pay.some((v) => text(v).includes('Paiement accepté'))).toBe(true);
    // The PIN was read by the kernel while payment held the foreground; the screen saw only a count.
    const pinViews = views.filter((v) => v.view.pinEntry !== null);
    expect(pinViews.length).toBeGreaterThan(0);
    for (const v of pinViews) expect(v.foreground).toBe('payment');
    expect(Math.max(...pinViews.map((v) => v.view.pinEntry!.digits))).toBe(4);
    // Released afterwards.
    expect(dk.kernel.terminal.foreground()).toBe(null);
  });

  it('a declined charge (above the acquirer limit) comes back as declined, still with nothing else', async () => {
    dk.kernel.terminal.typeKeys(['1', '2', '3', '4', 'OK']);
    const r = await health({ op: 'charge', amount: 200_000, reference: 'FSE-000124' });
    const result = r.result as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(['status', 'transactionRef']);
    // The stand-in asks the acquirer (05); an applet may also refuse the amount itself.
    expect(REAL ? ['declined', 'error'] : ['declined']).toContain(result.status);
  });

});

describe('the reverse direction', () => {
  it('is impossible: the payment domain cannot request anything from health (E_POLICY)', async () => {
    const { health: hp, payment: pp } = realPolicies(1);
    // The stand-in payment applet carries a probe that tries every intent towards health.
    const dk = await bootDev([healthApplet(hp), await standInPaymentApplet(pp)]);
    try {
      await until(() => dk.kernel.handlers.get('payment')?.includes('onIntent'), 15_000, 'payment ready');
      const r = (await dk.kernel.call('payment', 'onIntent', [{ from: 'test', action: 'probe-reverse', payload: {} }], 15_000)) as Record<string, string>;
      expect(r).toEqual({ charge: 'E_POLICY', 'read-vitale': 'E_POLICY', fse: 'E_POLICY' });
    } finally {
      await dk.close();
    }
  });
});
