/**
 * applets/sesam-vitale/cards/*.ts against the emulator's card models: a tiny fake Lease over
 * `loadCard(...).process` (no kernel), and a fake `platform.pin.verify` that plays the kernel's
 * part (VERIFY 00 20 00 81 with the ascii-ff block of the test PIN) so PIN outcomes are the card's.
 */
import { createHash, verify, X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCard } from '../../../emulator/cards/profiles.js';
import type { CardModel } from '../../../emulator/cards/card.js';
import type { Lease, PinVerifyResult } from '../../../platform/sdk/api.js';
import { readCps, verifyCpsPin, cpsSignHash } from '../../../applets/sesam-vitale/cards/cps.js';
import { readVitale, vitaleAuthenticate } from '../../../applets/sesam-vitale/cards/vitale.js';
import { CardError } from '../../../applets/sesam-vitale/cards/errors.js';

function fakeLease(card: CardModel, cardClass: string, tamper?: (apdu: Uint8Array, answer: Uint8Array) => Uint8Array): Lease & { sent: Uint8Array[]; gone: boolean } {
  const lease = {
    slot: 0,
    token: 't',
    cardClass,
    atr: '3B',
    sent: [] as Uint8Array[],
    gone: false,
    async transmit(apdu: Uint8Array): Promise<Uint8Array> {
      if (lease.gone) throw Object.assign(new Error('lease ended'), { code: 'E_LEASE' });
      lease.sent.push(apdu);
      const a = card.process(apdu);
      if (!a) throw Object.assign(new Error('mute'), { code: 'E_CARD' });
      return tamper ? tamper(apdu, a) : a;
    },
    async reset(): Promise<Uint8Array> {
      return card.reset();
    },
    async release(): Promise<void> {},
  };
  return lease;
}

/** What the kernel does for platform.pin.verify: VERIFY with the PIN block, tries from 63Cx. */
function installPlatform(pin: string): void {
  const block = new Uint8Array(8).fill(0xff);
  for (let i = 0; i < pin.length; i++) block[i] = pin.charCodeAt(i);
  const fake = {
    pin: {
      async verify(lease: Lease, o: { reference: number; format: string; prompt?: string }): Promise<PinVerifyResult> {
        expect(o.reference).toBe(0x81);
        expect(o.format).toBe('ascii-ff');
        const r = await lease.transmit(Uint8Array.from([0x00, 0x20, 0x00, o.reference, 8, ...block]));
        const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
        if (sw === 0x9000) return { ok: true, triesLeft: null, blocked: false };
        if (sw === 0x6983) return { ok: false, triesLeft: 0, blocked: true };
        if (sw >> 4 === 0x63c) return { ok: false, triesLeft: sw & 0xf, blocked: (sw & 0xf) === 0 };
        return { ok: false, triesLeft: null, blocked: false };
      },
    },
  };
  (globalThis as unknown as { platform: unknown }).platform = fake;
}

afterEach(() => {
  delete (globalThis as unknown as { platform?: unknown }).platform;
});

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

describe('CPS', () => {
  let card: CardModel;
  beforeAll(async () => {
    card = await loadCard('cps-medecin-generaliste');
  });

  it('reads holder, both situations and the two certificates (chained to the health CA)', async () => {
    card.reset();
    const cps = await readCps(fakeLease(card, 'cps'));
    expect(cps.cardNumber).toMatch(/^[0-9]{10}$/);
    expect(cps.holder).toEqual({ idType: 'RPPS', id: '19999000011', nationalId: '819999000011', civilite: 'DR', nom: 'FICTIF', prenom: 'ALICE', profession: '10', specialite: '01' });
    expect(cps.situations).toHaveLength(2);
    expect(cps.situations[0]).toMatchObject({ number: 1, mode: 'L', billingNumber: expect.stringMatching(/^75199001[0-9]$/), conventionCode: '1', tariffZone: '10', canSignFse: true, canSignLot: true, remplacant: false, raisonSociale: 'CABINET MEDICAL DU TEST (FICTIF)' });
    const sign = new X509Certificate(Buffer.from(cps.signCertDer));
    const ca = new X509Certificate(Buffer.from(cps.caCertDer));
    expect(sign.checkIssued(ca)).toBe(true);
    expect(sign.verify(ca.publicKey)).toBe(true);
    expect(cps.signCertDer.length).toBeGreaterThan(256); // read in several chunks
  });

  it('signing before the PIN is refused with a French CardError naming 6982', async () => {
    card.reset();
    const lease = fakeLease(card, 'cps');
    await readCps(lease);
    const err = await cpsSignHash(lease, sha256(Uint8Array.of(1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).sw).toBe(0x6982);
    expect((err as CardError).message).toContain('CPS');
    expect((err as CardError).message).toContain('6982 PIN non vérifié');
  });

  it('wrong PIN reports tries left; the right PIN lets the card sign a hash the certificate verifies', async () => {
    card.reset();
    const lease = fakeLease(card, 'cps');
    const cps = await readCps(lease);
    installPlatform('9999');
    expect(await verifyCpsPin(lease, 'Code CPS')).toEqual({ ok: false, triesLeft: 2, blocked: false });
    installPlatform('1234');
    expect((await verifyCpsPin(lease, 'Code CPS')).ok).toBe(true);
    const data = new TextEncoder().encode('FSE 000000001');
    const sig = await cpsSignHash(lease, sha256(data));
    expect(sig).toHaveLength(256);
    expect(verify('sha256', data, new X509Certificate(Buffer.from(cps.signCertDer)).publicKey, Buffer.from(sig))).toBe(true);
    // The applet never put a PIN in any command it sent: the only VERIFY came from the fake kernel.
    const mseIndex = lease.sent.findIndex((a) => a[1] === 0x22);
    expect(Array.from(lease.sent[mseIndex]!)).toEqual([0x00, 0x22, 0x41, 0xb6, 0x06, 0x84, 0x01, 0x02, 0x80, 0x01, 0x42]);
  });

  it('a blocked card says so (6983)', async () => {
    const blocked = await loadCard('cps-pin-bloque');
    const lease = fakeLease(blocked, 'cps');
    await readCps(lease);
    installPlatform('1234');
    expect(await verifyCpsPin(lease, 'Code CPS')).toMatchObject({ ok: false, blocked: true });
    const err = await cpsSignHash(lease, sha256(Uint8Array.of(2))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
  });

  it('a remplaçant situation carries its flags and the replaced billing number', async () => {
    const r = await loadCard('cps-remplacant');
    const cps = await readCps(fakeLease(r, 'cps'));
    expect(cps.situations[0]).toMatchObject({ remplacant: true, canSignFse: true, canSignLot: false, replacedBillingNumber: expect.stringMatching(/^[0-9]{9}$/) });
  });

  it('works over a T=0 card (61xx / 6Cxx transport)', async () => {
    const kine = await loadCard('cps-kine');
    const cps = await readCps(fakeLease(kine, 'cps'));
    expect(cps.holder.idType).toBe('ADELI');
    expect(cps.holder.specialite).toBe('26');
  });

  it('a malformed answer (TLV overrun) is a CardError, never a crash', async () => {
    card.reset();
    // Corrupt the holder EF answer: claim a longer E1 than sent.
    const lease = fakeLease(card, 'cps', (apdu, a) => (apdu[1] === 0xb0 && apdu[2] === 0x82 ? Uint8Array.from([0xe1, 0x7f, 0x80, 0x01, ...a.slice(-2)]) : a));
    const err = await readCps(lease).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).kind).toBe('malformed');
    expect((err as CardError).message).toMatch(/^Carte CPS : réponse invalide/);
  });

  it('a lease that ended is a "removed" CardError', async () => {
    const lease = fakeLease(card, 'cps');
    lease.gone = true;
    const err = await readCps(lease).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).kind).toBe('removed');
  });
});

describe('Vitale', () => {
  it('reads the insured, the beneficiary, its rights and the certificate; INTERNAL AUTHENTICATE verifies', async () => {
    const card = await loadCard('vitale-assure-seul');
    const lease = fakeLease(card, 'vitale');
    const v = await readVitale(lease);
    expect(v.serialNumber).toBe('9900000001');
    expect(v.insured).toEqual({ nir: '180017599900137', regime: '01', caisse: '751', centre: '9999', codeGestion: '10' });
    expect(v.beneficiaries).toEqual([
      { surname: 'TESTDUPONT', firstName: 'JEAN', birthDate: '19800115', birthRank: 1, quality: '00', nir: '180017599900137', nationality: 'FRA', rights: { start: '2023-01-01', ald: false, exoneration: '0' } },
    ]);
    const cert = new X509Certificate(Buffer.from(v.certDer));
    expect(cert.subject).toContain('9900000001');
    const challenge = sha256(new TextEncoder().encode('record'));
    const sig = await vitaleAuthenticate(lease, challenge);
    expect(verify('sha256', challenge, cert.publicKey, Buffer.from(sig))).toBe(true);
  });

  it('twins, usual names, 2A/2B NIRs and AMC data', async () => {
    const fam = await readVitale(fakeLease(await loadCard('vitale-famille-jumeaux'), 'vitale'));
    const twins = fam.beneficiaries.filter((b) => b.quality === '06');
    expect(twins.map((b) => b.birthRank).sort()).toEqual([1, 2]);
    expect(twins[0]!.birthDate).toBe(twins[1]!.birthDate);
    expect(fam.beneficiaries.some((b) => b.usualName !== undefined)).toBe(true);
    expect(fam.insured.nir).toMatch(/^[0-9]{5}2A/);
    const amc = await readVitale(fakeLease(await loadCard('vitale-amc-tiers-payant'), 'vitale'));
    expect(amc.beneficiaries[0]!.amc).toMatchObject({ number: expect.stringMatching(/^[0-9]{8,10}$/), tiersPayant: true });
    const ald = await readVitale(fakeLease(await loadCard('vitale-ald'), 'vitale'));
    expect(ald.beneficiaries[0]!.birthDate).toBe('19480000');
    expect(ald.beneficiaries[0]!.rights).toMatchObject({ ald: true, exoneration: '4' });
    const expired = await readVitale(fakeLease(await loadCard('vitale-droits-expires'), 'vitale'));
    expect(expired.beneficiaries[0]!.rights.end).toBe('2023-12-31');
  });

  it('a record with garbage after the 65 template is a CardError', async () => {
    const card = await loadCard('vitale-assure-seul');
    const lease = fakeLease(card, 'vitale', (apdu, a) => (apdu[1] === 0xb2 && a.length > 2 && a[a.length - 2] === 0x90 ? Uint8Array.from([...a.slice(0, -2), 0x01, 0x90, 0x00]) : a));
    const err = await readVitale(lease).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).message).toContain('Vitale');
  });
});
