/**
 * Confinement between health and payment (issue 5, DESIGN §2 and §11). A Vitale card in slot 0 is
 * read by health while an EMV card in slot 1 is charged by payment, interleaved, through the health
 * -> payment intent (real policies, the emulated acquirer, the kernel's acquirer transport, PIN typed
 * on the kernel's keypad). Then everything health could have got is scanned — what its handlers
 * received (it keeps it all), its store file's raw bytes, every log, the audit log, host output —
 * for the PAN, any Luhn-valid 13–19 digit run, track 2, the cryptograms (hex and raw) and the PIN.
 * The audit may carry the PAN masked 6/4 only. And the reverse: payment never sees Vitale data.
 *
 * The payment applet is the stand-in of test/unit/acquirer/payment-fixtures.ts (applets/payment-stub
 * is being rewritten); it hands card data back with its result on purpose, so this also proves the
 * kernel's intent filter. DI_PAYMENT_APPLET=real runs the real bundle instead.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDev, until, type DevKernel } from '../support/dev-kernel.js';
import { startAcquirer, type AcquirerServer } from '../../emulator/acquirer/server.js';
import { AcquirerTransport } from '../../platform/kernel/transports/acquirer.js';
import { bundleApplet } from '../../platform/kernel/packages/pack.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { loadCard } from '../../emulator/cards/profiles.js';
import type { DevApplet } from '../../platform/kernel/kernel.js';
import type { CardModel } from '../../emulator/cards/card.js';
import type { Policy } from '../../platform/kernel/policy/types.js';
import { KEY_DIR } from '../unit/acquirer/emv-terminal.js';
import { healthApplet, profile, realPolicies, standInPaymentApplet } from '../unit/acquirer/payment-fixtures.js';

interface EmvProfile {
  cardholder: { pan: string; name: string };
  pin: { value: string };
}
interface VitaleProfile {
  card: { serialNumber: string };
  insured: { nir: string };
  beneficiaries: Array<{ surname: string; firstName: string; birthDate: string }>;
}

const EMV = profile<EmvProfile>('emv-online');
const VITALE = profile<VitaleProfile>('vitale-assure-seul');
const ALL_EMV_PANS = readdirSync(join(repoRoot(), 'emulator', 'cards', 'profiles'))
  .filter((f) => f.startsWith('emv-'))
  .map((f) => profile<EmvProfile>(f.replace(/\.json$/, '')).cardholder.pan);

async function paymentApplet(policy: Policy): Promise<DevApplet> {
  if (process.env.DI_PAYMENT_APPLET !== 'real') return standInPaymentApplet(policy);
  return { policy, script: await bundleApplet(join(repoRoot(), 'applets', 'payment-stub'), 'main.ts'), filename: 'payment-stub/applet.js' };
}

/**
 * A value as received: `text` shows bytes as hex (for hex needles), `plain` as latin1 characters
 * (for digit runs: the hex of binary data is full of digit runs that are no text at all), `raw`
 * concatenates them.
 */
function flatten(v: unknown): { text: string; plain: string; raw: Buffer } {
  const raw: Buffer[] = [];
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Uint8Array) {
      raw.push(Buffer.from(x));
      return Buffer.from(x).toString('hex').toUpperCase();
    }
    return x;
  });
  const plain = JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('latin1') : x));
  return { text, plain, raw: Buffer.concat(raw) };
}

function luhn(d: string): boolean {
  let s = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    s += x;
  }
  return s % 10 === 0;
}

/** Maximal digit runs of 13–19 that pass Luhn, minus values known not to be card numbers. */
function luhnRuns(text: string, notCards: Set<string>): string[] {
  return (text.match(/\d+/g) ?? []).filter((r) => {
    if (r.length < 13 || r.length > 19 || !luhn(r) || notCards.has(r)) return false;
    // Millisecond timestamps of this decade.
    return !(r.length === 13 && Number(r) > 1.5e12 && Number(r) < 2.5e12);
  });
}

interface Secrets {
  pan: string;
  track2: string;
  arqc: Uint8Array;
  tc: Uint8Array;
}

/** Wraps a card so that every response it gives is recorded: the raw traffic of one domain's card. */
function recording(card: CardModel, log: Uint8Array[]): CardModel {
  return {
    kind: card.kind,
    reset: () => card.reset(),
    process: (apdu) => {
      const r = card.process(apdu);
      if (r) log.push(r.slice());
      return r;
    },
    ...(card.processingMs && { processingMs: (apdu: Uint8Array) => card.processingMs!(apdu) }),
  };
}

/**
 * 12-byte windows of a card's response data with enough variety to identify that traffic (runs of
 * padding or a few repeated bytes are not evidence of anything).
 */
function fingerprints(responses: Uint8Array[]): Buffer[] {
  const out = new Map<string, Buffer>();
  for (const r of responses) {
    const data = r.subarray(0, r.length - 2);
    for (let i = 0; i + 12 <= data.length; i++) {
      const w = Buffer.from(data.subarray(i, i + 12));
      if (new Set(w).size >= 6) out.set(w.toString('hex'), w);
    }
  }
  return [...out.values()];
}

describe('payment confinement: no card data reaches health, no Vitale data reaches payment', () => {
  const emvTraffic: Uint8Array[] = [];
  const vitaleTraffic: Uint8Array[] = [];
  let dk: DevKernel;
  let acquirer: AcquirerServer;
  let journalDir: string;
  const transport = new AcquirerTransport();
  const secrets: Secrets[] = [];
  let paymentSeen: unknown;
  let healthReceived: unknown;
  const results: unknown[] = [];
  const health = (payload: Record<string, unknown>) =>
    dk.kernel.call('sesam-vitale', 'onIntent', [{ from: 'test', action: 'run', payload: payload as never }], 60_000) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    journalDir = mkdtempSync(join(tmpdir(), 'di-acq-conf-'));
    acquirer = await startAcquirer({ port: 0, keyDir: KEY_DIR, journalPath: join(journalDir, 'journal.jsonl') });
    const { health: hp, payment: pp } = realPolicies(acquirer.port);
    dk = await bootDev([healthApplet(hp), await paymentApplet(pp)]);
    dk.kernel.transports.set('acquirer', transport);
    await until(() => dk.kernel.handlers.get('payment')?.includes('onIntent') && dk.kernel.handlers.get('sesam-vitale')?.includes('onIntent'), 15_000, 'hosts ready');
    dk.kernel.insertCard(0, recording(await loadCard('vitale-assure-seul', KEY_DIR), vitaleTraffic));
    dk.kernel.insertCard(1, recording(await loadCard('emv-online', KEY_DIR), emvTraffic));
    await until(() => dk.kernel.broker.cardsFor('sesam-vitale').length > 0 && dk.kernel.broker.cardsFor('payment').length > 0, 10_000, 'cards routed');

    // Interleaved: health reads its card while payment runs a charge on the other slot.
    for (const [amount, reference] of [[2300, 'FSE-000123'], [4150, 'FSE-000124'], [160_000, 'FSE-000125']] as const) {
      dk.kernel.terminal.typeKeys(EMV.pin.value.split('') as never[]);
      dk.kernel.terminal.typeKeys(['OK']);
      const [charge, read] = await Promise.all([health({ op: 'charge', amount, reference }), health({ op: 'read-vitale' })]);
      results.push(charge);
      expect(read.insured).toBeInstanceOf(Uint8Array);
      const dump = (await dk.kernel.call('payment', 'onIntent', [{ from: 'test', action: 'dump', payload: {} }], 15_000)) as { seen: unknown; secrets: Secrets | null };
      if (dump.secrets) secrets.push(dump.secrets);
      paymentSeen = dump.seen;
    }
    healthReceived = (await health({ op: 'received' })).received;
  }, 120_000);
  afterAll(async () => {
    transport.close();
    await dk?.close();
    await acquirer?.close();
    rmSync(journalDir, { recursive: true, force: true });
  });

  const files = (pred: (name: string) => boolean): string[] => {
    const logs = join(dk.dataDir, 'logs');
    return existsSync(logs) ? readdirSync(logs).filter(pred).map((f) => join(logs, f)) : [];
  };
  const storeFiles = (domain: string) =>
    ['', '-wal', '-shm'].map((s) => join(dk.dataDir, 'stores', `${domain}.sqlite${s}`)).filter((f) => existsSync(f));

  it('[XDOM-11] no byte string of the bank card\'s responses reaches anything health received or stored, and no Vitale response reaches payment', () => {
    const emv = fingerprints(emvTraffic);
    const vitale = fingerprints(vitaleTraffic);
    expect(emv.length).toBeGreaterThan(50);
    expect(vitale.length).toBeGreaterThan(50);
    const healthBytes = [flatten(healthReceived).raw, Buffer.from(flatten(healthReceived).text), ...storeFiles('sesam-vitale').map((f) => readFileSync(f))];
    for (const hay of healthBytes) {
      const hexHay = hay.toString('latin1').toUpperCase();
      for (const w of emv) {
        expect(hay.includes(w), 'an EMV response window in health data').toBe(false);
        expect(hexHay.includes(w.toString('hex').toUpperCase()), 'an EMV response window (hex) in health data').toBe(false);
      }
    }
    const paymentBytes = [flatten(paymentSeen).raw, Buffer.from(flatten(paymentSeen).text), ...storeFiles('payment').map((f) => readFileSync(f))];
    for (const hay of paymentBytes) {
      const hexHay = hay.toString('latin1').toUpperCase();
      for (const w of vitale) {
        expect(hay.includes(w), 'a Vitale response window in payment data').toBe(false);
        expect(hexHay.includes(w.toString('hex').toUpperCase()), 'a Vitale response window (hex) in payment data').toBe(false);
      }
    }
    // The needles are live: health does hold its own card's traffic.
    expect(vitale.some((w) => healthBytes.some((hay) => hay.includes(w) || hay.toString('latin1').toUpperCase().includes(w.toString('hex').toUpperCase())))).toBe(true);
  });

  it('the transactions really ran (so the scans below have something to miss)', () => {
    expect(results.map((r) => (r as { result?: { status?: string } }).result?.status)).toEqual(['approved', 'approved', 'declined']);
    expect(secrets.length).toBe(3);
    expect(secrets[0]!.pan).toBe(EMV.cardholder.pan);
    expect(secrets[0]!.arqc.length).toBe(8);
    expect(acquirer.journal().filter((e) => e.kind === 'authorization')).toHaveLength(3);
    // Health's handlers received Vitale data and intent results: the scan covers real traffic.
    expect(flatten(healthReceived).text).toContain(Buffer.from(VITALE.insured.nir).toString('hex').toUpperCase());
    expect(flatten(healthReceived).text).toContain('intent-result');
    // The needles are right: the payment side, which legitimately read the card, does hold them.
    expect(flatten(paymentSeen).text).toContain(EMV.cardholder.pan);
    expect(luhnRuns(`"pan":"${EMV.cardholder.pan}"`, new Set())).toEqual([EMV.cardholder.pan]);
  });

  it('nothing health received, stored or logged, nor the audit or host output, holds card data or the PIN', () => {
    const pinBlock = Buffer.from(`2${EMV.pin.value.length}${EMV.pin.value}`.padEnd(16, 'F'), 'hex');
    const notCards = new Set([VITALE.insured.nir, VITALE.card.serialNumber]);
    const sources: Array<{ name: string; text: string; plain?: string; raw: Buffer; audit?: boolean }> = [];
    const rec = flatten(healthReceived);
    sources.push({ name: 'what health received', text: rec.text, plain: rec.plain, raw: rec.raw });
    for (const f of storeFiles('sesam-vitale')) {
      const raw = readFileSync(f);
      sources.push({ name: f, text: raw.toString('latin1'), raw });
    }
    for (const f of files(() => true)) {
      const raw = readFileSync(f);
      sources.push({ name: f, text: raw.toString('utf8'), raw });
    }
    const audit = readFileSync(join(dk.dataDir, 'audit.log'));
    // The chain's own SHA-256 hex (prev, hash) can hold 13+ digit runs that happen to pass Luhn:
    // scan the audit's content without them (the raw bytes are still scanned for PANs in full).
    const auditContent = audit
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const { prev: _p, hash: _h, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return JSON.stringify(rest);
      })
      .join('\n');
    sources.push({ name: 'audit.log', text: audit.toString('utf8'), plain: auditContent, raw: audit, audit: true });
    expect(sources.length).toBeGreaterThan(3);

    for (const s of sources) {
      // The audit chain's own SHA-256 hex can look like anything: scan its content without prev/hash.
      const upper = (s.audit ? (s.plain ?? s.text) : s.text).toUpperCase();
      for (const pan of ALL_EMV_PANS) {
        expect(s.text, `${s.name}: PAN`).not.toContain(pan);
        expect(s.raw.includes(Buffer.from(pan.length % 2 ? `${pan}F` : pan, 'hex')), `${s.name}: BCD PAN`).toBe(false);
      }
      expect(luhnRuns(s.plain ?? s.text, notCards), `${s.name}: Luhn-valid digit runs`).toEqual([]);
      expect(upper, `${s.name}: track 2`).not.toMatch(/\d{12,19}[D=]\d{4}/);
      for (const x of secrets) {
        for (const c of [x.arqc, x.tc]) {
          const h = Buffer.from(c).toString('hex').toUpperCase();
          expect(upper, `${s.name}: cryptogram hex`).not.toContain(h);
          expect(s.raw.includes(Buffer.from(c)), `${s.name}: cryptogram bytes`).toBe(false);
        }
        expect(upper, `${s.name}: track 2 hex`).not.toContain(x.track2.slice(0, 20));
      }
      expect(s.text, `${s.name}: PIN`).not.toMatch(new RegExp(`\\b${EMV.pin.value}\\b`));
      expect(upper, `${s.name}: PIN as ASCII hex`).not.toContain(Buffer.from(EMV.pin.value).toString('hex'));
      expect(upper, `${s.name}: PIN block hex`).not.toContain(pinBlock.toString('hex').toUpperCase());
      expect(s.raw.includes(pinBlock), `${s.name}: PIN block bytes`).toBe(false);
      if (!s.audit && s.name !== 'what health received') expect(s.raw.includes(Buffer.from(EMV.pin.value)), `${s.name}: PIN digits`).toBe(false);
    }
    // Health got nothing but the three declared fields, for every charge.
    for (const r of results) expect(Object.keys((r as { result: object }).result).every((k) => ['status', 'transactionRef', 'authCode'].includes(k))).toBe(true);
  });

  it('the audit log may show the masked PAN, never more', () => {
    const audit = readFileSync(join(dk.dataDir, 'audit.log'), 'utf8');
    const masked = audit.match(/\d{6}\*+\d{4}/g) ?? [];
    for (const m of masked) expect(m).toBe('541333******0027');
    expect(audit).not.toContain(EMV.cardholder.pan);
    expect(audit).not.toContain(EMV.cardholder.name);
  });

  it('the reverse: the payment domain never sees Vitale data (NIR, names, serial)', () => {
    const seen = flatten(paymentSeen);
    const sources = [{ name: 'what payment received', text: seen.text, raw: seen.raw }];
    for (const f of [...storeFiles('payment'), ...files((n) => n.includes('payment'))]) {
      const raw = readFileSync(f);
      sources.push({ name: f, text: raw.toString('latin1'), raw });
    }
    expect(seen.text).toContain('apdu-response');
    const b = VITALE.beneficiaries[0]!;
    for (const s of sources) {
      for (const needle of [VITALE.insured.nir, b.surname, VITALE.card.serialNumber]) {
        expect(s.text, `${s.name}: ${needle.length}-char Vitale value`).not.toContain(needle);
        expect(s.text.toUpperCase(), `${s.name}: Vitale value as hex`).not.toContain(Buffer.from(needle).toString('hex').toUpperCase());
      }
      expect(s.text, `${s.name}: first name`).not.toMatch(new RegExp(`\\b${b.firstName}\\b`));
    }
  });
});
