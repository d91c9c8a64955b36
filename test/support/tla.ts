/**
 * The practice computer in tests: a billing device with its host link on an ephemeral loopback port,
 * pairing by the code READ FROM THE DEVICE SCREEN (as the practitioner does), and the invoices of a
 * small offline day.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootBilling, CONTEXT, todayIso, type Billing, type R } from './billing.js';
import { until } from './dev-kernel.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import { TlaClient } from '../../tla/index.js';
import type { DevKernel } from './dev-kernel.js';

export const PAIRING_TITLE = 'Association d’un ordinateur';

/** A billing device whose host link listens on 127.0.0.1, any free port. */
export function bootTlaBilling(): Promise<Billing> {
  return bootBilling({ config: { hostLink: { enabled: true, host: '127.0.0.1', port: 0 } } });
}

export function hostLinkOf(dk: DevKernel): NonNullable<DevKernel['kernel']['hostLink']> {
  const hl = dk.kernel.hostLink;
  if (!hl) throw new Error('the kernel has no host link (config.hostLink.enabled?)');
  return hl;
}

/** What the device screen shows while a pairing code is open: the code and the short fingerprint. */
export async function readPairingScreen(dk: DevKernel): Promise<{ code: string; fingerprint: string }> {
  return until(
    () => {
      const v = dk.kernel.terminal.current();
      if (v.screen.title !== PAIRING_TITLE) return undefined;
      const text = v.screen.lines.join('\n');
      const code = /(\d{4} \d{4})/.exec(text)?.[1];
      const fp = /([0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4})/.exec(text)?.[1];
      return code && fp ? { code, fingerprint: fp } : undefined;
    },
    5000,
    'the pairing screen',
  );
}

export function tempTlaDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'di-tla-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The practitioner asks the device to pair, reads the code on its screen and types it on the computer. */
export async function pairFromScreen(dk: DevKernel, dir: string, name = 'Poste accueil'): Promise<{ client: TlaClient; screen: { code: string; fingerprint: string } }> {
  hostLinkOf(dk).beginPairing();
  const screen = await readPairingScreen(dk);
  const client = await TlaClient.connect({ dir, device: hostLinkOf(dk).address(), forPairing: true });
  await client.pair(screen.code, name);
  return { client, screen };
}

export async function connectPaired(dk: DevKernel, dir: string): Promise<TlaClient> {
  return TlaClient.connect({ dir, device: hostLinkOf(dk).address() });
}

/** Inserts a Vitale card (slot 1) and picks the beneficiary when the applet asks. */
export async function insertVitaleAs(b: Billing, name: string, beneficiary = 0): Promise<R> {
  if (b.dk.kernel.broker.cardsFor('sesam-vitale').some((c) => c.slot === 1)) {
    b.dk.kernel.removeCard(1);
    await b.waitState((s) => !s.vitale, 'Vitale removed');
  }
  b.dk.kernel.insertCard(1, await loadCard(name));
  const t0 = Date.now();
  for (;;) {
    if (b.dk.kernel.terminal.current().question) b.dk.kernel.terminal.answer(beneficiary);
    const s = await b.act('session.state');
    if (s.vitale) return s;
    if (Date.now() - t0 > 30_000) throw new Error(`timed out reading ${name}; last state ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const shift = (d: string, days: number): string => new Date(Date.parse(`${d}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * A médecin's visits: the CPS in slot 0, then two patients: three FSEs and (tiers payant AMC) one DRE,
 * all secured on the device. Returns the refs `<billing>/<no>` of the invoices, in number order.
 */
export async function visitDay(b: Billing): Promise<{ refs: string[]; billingNumber: string; numbers: Array<{ invoiceNo: number; kind: 'FSE' | 'DRE' }> }> {
  const today = todayIso();
  const cps = await b.insertCps(0, 'cps-medecin-generaliste', '1234', 0);
  const c = cps.cps as { situation: number; situations: Array<{ billingNumber: string }> };
  const billingNumber = c.situations[c.situation]!.billingNumber;
  const numbers: Array<{ invoiceNo: number; kind: 'FSE' | 'DRE' }> = [];
  const create = async (payload: R): Promise<void> => {
    const r = await b.act('fse.create', payload);
    if (r.ok !== true) throw new Error(`fse.create refused: ${JSON.stringify(r)}`);
    numbers.push({ invoiceNo: r.invoiceNo as number, kind: 'FSE' });
    if (typeof r.dreNo === 'number') numbers.push({ invoiceNo: r.dreNo, kind: 'DRE' });
  };
  await insertVitaleAs(b, 'vitale-assure-seul');
  await create({ acts: [{ date: shift(today, -1), code: 'G' }], context: CONTEXT, beneficiary: 0 });
  await create({ acts: [{ date: today, code: 'G' }], context: CONTEXT, beneficiary: 0 });
  await insertVitaleAs(b, 'vitale-amc-tiers-payant');
  await create({ acts: [{ date: today, code: 'G' }], context: { ...CONTEXT, tiersPayantAmo: true, tiersPayantAmc: true }, beneficiary: 0 });
  numbers.sort((x, y) => x.invoiceNo - y.invoiceNo);
  return { refs: numbers.map((n) => `${billingNumber}/${n.invoiceNo}`), billingNumber, numbers };
}
