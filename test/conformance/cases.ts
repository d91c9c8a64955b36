/**
 * The card-level conformance cases, one list for every card profile. Each case drives a card through
 * a `Harness` (in-process emulated reader, or pcscd + vpcd) exactly as the kernel would for an
 * applet: through the slot broker, under a lease, VERIFY only through transmitPinVerify. The same
 * functions run on both paths; nothing here knows which path it is on except for the few hostile
 * behaviours whose outcome depends on the reader stack (said where it happens).
 */
import { createHash, randomBytes, verify as rsaVerify, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CardModel } from '../../emulator/cards/card.js';
import { parseAtr } from '../../emulator/cards/framework/atr.js';
import { loadEmvIssuerKeys } from '../../emulator/cards/models/emv/keys.js';
import { acMacInput, verifyArqc } from '../../emulator/cards/models/emv/crypto.js';
import { checkNir } from '../../emulator/cards/models/vitale/nir.js';
import { loadOrCreatePki, type EmulatorPki } from '../../emulator/cards/pki/index.js';
import { cardProfiles, createCard, loadCard } from '../../emulator/cards/profiles.js';
import { loadProfile } from '../../emulator/cards/registry.js';
import { repoRoot } from '../../platform/kernel/paths.js';
import { TlvError } from '../../platform/sdk/tlv.js';
import { BrokerError, DEFAULT_BROKER_OPTIONS } from '../../platform/slot-broker/types.js';
import {
  apdu,
  ascii,
  body,
  buildDolData,
  child,
  concat,
  deep,
  expectOk,
  expectSw,
  h,
  hex,
  indepIccMasterKey,
  indepRetailMac,
  indepSessionKey,
  need,
  parseDolList,
  readDerBySfi,
  SHA256_DIGEST_INFO_PREFIX,
  strictTlv,
  sw,
  template,
  utf8,
} from './helpers.js';
import type { CardSession, Harness } from './session.js';

/** Where models cache keys: the same directory loadCard uses by default. */
export const KEY_DIR = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');

export interface ConformanceCase {
  model: 'test-card' | 'vitale' | 'cps' | 'emv' | 'hostile';
  profile: string;
  run(h: Harness): Promise<void>;
}

/** Wraps a card so a case can see what reached it (the broker's GET RESPONSEs, the hostile rounds). */
function recording(card: CardModel): CardModel & { seen: Uint8Array[] } {
  const seen: Uint8Array[] = [];
  const wrapped: CardModel & { seen: Uint8Array[] } = {
    kind: card.kind,
    seen,
    reset: () => card.reset(),
    process: (a) => {
      seen.push(a.slice());
      return card.process(a);
    },
  };
  if (card.processingMs) wrapped.processingMs = (a) => card.processingMs!(a);
  return wrapped;
}

async function expectBrokerError(p: Promise<unknown>, codes: string[], what: string): Promise<BrokerError> {
  let err: unknown = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `${what}: expected a BrokerError`).toBeInstanceOf(BrokerError);
  const be = err as BrokerError;
  if (process.env.DI_CONFORMANCE_DEBUG === '1') console.log(`[conformance] ${what}: ${be.code}: ${be.message}`);
  expect(codes, `${what}: BrokerError ${be.code}: ${be.message}`).toContain(be.code);
  expect(be.message.length, `${what}: the error says what went wrong`).toBeGreaterThan(20);
  return be;
}

function protocolOf(atrHex: string): 'T=0' | 'T=1' {
  return parseAtr(h(atrHex)).protocols.includes(1) ? 'T=1' : 'T=0';
}

// ---------------------------------------------------------------------------------------------
// Test card
// ---------------------------------------------------------------------------------------------

const TEST_AID = h('F044495445535401');
const pinBlockAsciiFF = (digits: string): Uint8Array => concat(new TextEncoder().encode(digits), new Uint8Array(8 - digits.length).fill(0xff));

async function testCardCase(hr: Harness, profile: string): Promise<void> {
  const card = recording(createCard(profile));
  await hr.withCard(card, async (s) => {
    expect(s.cardClass).toBe('test-card');
    expect(s.atr.startsWith('3B')).toBe(true);

    const fci = await expectOk(s, apdu('00A40400', TEST_AID, 0), 'SELECT test application');
    const fciT = template(fci, 0x6f);
    expect(hex(need(fciT, 0x84, 'FCI'))).toBe(hex(TEST_AID));

    // Another domain's AID: an applet may select only its class's applications, so the broker
    // refuses before the card (the card's own 6A82, which the routing probe relies on, is in its unit tests).
    await expectBrokerError(s.transmit(apdu('00A40400', h('A0000000041010'), 0)), ['E_APDU_DENIED'], 'SELECT of a foreign AID');
    // SELECT above refused: the test application stays current.
    await expectOk(s, apdu('00A4000C', h('0101')), 'SELECT EF 0101');
    expect(ascii(await expectOk(s, apdu('00B00000', undefined, 0), 'READ BINARY'))).toBe('DITEST PUBLIC DATA 0001');

    for (let n = 1; n <= 3; n++) {
      const rec = await expectOk(s, Uint8Array.of(0x00, 0xb2, n, 0x0c, 0x00), `READ RECORD ${n}`);
      expect(ascii(need(template(rec, 0x70), 0x80, `record ${n}`))).toBe(`REC${n}`);
    }
    await expectSw(s, h('00B2040C00'), '6A83', 'READ RECORD past the last');

    await expectSw(s, h('00B0820000'), '6982', 'READ BINARY of the protected EF before VERIFY');
    expect(sw(await s.transmitPinVerify(apdu('00200001', pinBlockAsciiFF('9999'))))).toBe('63C2');
    expect(sw(await s.transmitPinVerify(h('00200001'))), 'VERIFY without data: tries left').toBe('63C2');
    await expectSw(s, h('00B0820000'), '6982', 'protected EF after a wrong PIN');
    expect(sw(await s.transmitPinVerify(apdu('00200001', pinBlockAsciiFF('1234'))))).toBe('9000');
    expect(ascii(await expectOk(s, h('00B0820000'), 'READ BINARY protected after VERIFY'))).toBe('DITEST PROTECTED DATA');

    // An applet cannot send VERIFY, whatever its allowlist: only the kernel's path may.
    await expectBrokerError(s.transmit(apdu('00200001', pinBlockAsciiFF('1234'))), ['E_APDU_DENIED'], 'VERIFY from an applet');
    // Nor a command outside the class allowlist.
    await expectBrokerError(s.transmit(h('00CA9F1700')), ['E_APDU_DENIED'], 'GET DATA not in the test class allowlist');

    const payload = Uint8Array.from({ length: 200 }, (_, i) => (i * 7 + 3) & 0xff);
    expect(hex(await expectOk(s, Uint8Array.of(0x80, 0xee, 0, 0, payload.length, ...payload, 0x00), 'ECHO'))).toBe(hex(payload));
    await expectSw(s, h('80EE01000100'), '6A86', 'ECHO with bad P1-P2');

    const c1 = await expectOk(s, h('0084000008'), 'GET CHALLENGE');
    const c2 = await expectOk(s, h('0084000008'), 'GET CHALLENGE');
    expect(c1.length).toBe(8);
    expect(c2.length).toBe(8);
    expect(hex(c1)).not.toBe(hex(c2));

    // Reset ends the security status: the protected EF is closed again.
    const atr = await s.reset();
    expect(hex(atr)).toBe(s.atr);
    await expectOk(s, apdu('00A40400', TEST_AID, 0), 'SELECT after reset');
    await expectSw(s, h('00B0820000'), '6982', 'protected EF after reset');
  });

  if (protocolOf(hex(card.reset())) === 'T=0') {
    // The same values came back, and the T=0 transport (GET RESPONSE, Le re-send) was exercised.
    expect(card.seen.some((a) => a[1] === 0xc0), 'the T=0 card was sent GET RESPONSE').toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------
// Vitale
// ---------------------------------------------------------------------------------------------

const VITALE_AID = h('D250000002564954414C45');
const MF_VITALE_AID = h('D2500000024D465F564954414C45');

interface VitaleProfileJson {
  allowInvalidNir?: boolean;
  card: { serialNumber: string };
  insured: { nir: string; regime: string; caisse: string; centre: string; codeGestion: string };
  beneficiaries: Array<{
    surname: string;
    usualName?: string;
    firstName: string;
    birthDate: string;
    birthRank: number;
    quality: string;
    nir?: string;
    nationality: string;
    rights: { start: string; end?: string; ald?: boolean; exoneration?: string };
    amc?: { number: string; contractType: string; tiersPayant: boolean; start: string; end: string; name?: string };
  }>;
}

let pkiPromise: Promise<EmulatorPki> | null = null;
const pki = (): Promise<EmulatorPki> => (pkiPromise ??= loadOrCreatePki(KEY_DIR));

function checkChain(leaf: X509Certificate, ca: X509Certificate, root: X509Certificate, what: string): void {
  expect(leaf.checkIssued(ca), `${what} issued by ${ca.subject}`).toBe(true);
  expect(leaf.verify(ca.publicKey), `${what}: signature of the CA`).toBe(true);
  expect(ca.checkIssued(root) && ca.verify(root.publicKey), `${what}: CA chains to the root`).toBe(true);
  expect(root.verify(root.publicKey), 'root is self-signed').toBe(true);
}

const inValidity = (c: X509Certificate, at = new Date()): boolean => new Date(c.validFrom) <= at && at <= new Date(c.validTo);

async function vitaleCase(hr: Harness, profile: string): Promise<void> {
  const p = loadProfile(profile).data as VitaleProfileJson;
  const card = await loadCard(profile, KEY_DIR);
  const trust = await pki();
  await hr.withCard(card, async (s) => {
    expect(s.cardClass).toBe('vitale');

    // MF_VITALE: card-level objects.
    const fciMf = await expectOk(s, apdu('00A40400', MF_VITALE_AID, 0), 'SELECT MF_VITALE');
    expect(hex(need(template(fciMf, 0x6f), 0x84, 'FCI MF_VITALE'))).toBe(hex(MF_VITALE_AID));
    const dirAids: string[] = [];
    for (let n = 1; n < 8; n++) {
      const r = await s.transmit(Uint8Array.of(0x00, 0xb2, n, 0xf4, 0x00));
      if (sw(r) === '6A83') break;
      expect(sw(r), `EF.DIR record ${n}`).toBe('9000');
      dirAids.push(hex(need(template(body(r), 0x61), 0x4f, 'EF.DIR record')));
    }
    expect(dirAids.sort()).toEqual([hex(VITALE_AID), hex(MF_VITALE_AID)].sort());
    const ident = template(await expectOk(s, h('00B0820000'), 'READ BINARY card identification'), 0x73);
    expect(ascii(need(ident, 0x80, 'card identification'))).toBe(p.card.serialNumber);
    expect(ascii(need(ident, 0x81, 'card identification'))).toBe('VITALE 2');

    // VITALE: insured and beneficiaries.
    const fci = await expectOk(s, apdu('00A40400', VITALE_AID, 0), 'SELECT VITALE');
    expect(hex(need(template(fci, 0x6f), 0x84, 'FCI VITALE'))).toBe(hex(VITALE_AID));
    const insured = template(await expectOk(s, h('00B0810000'), 'READ BINARY insured'), 0x64);
    const insuredNir = ascii(need(insured, 0x93, 'insured'));
    expect(insuredNir).toBe(p.insured.nir);
    expect(ascii(need(insured, 0x80, 'insured'))).toBe(p.insured.regime);
    expect(ascii(need(insured, 0x81, 'insured'))).toBe(p.insured.caisse);
    expect(ascii(need(insured, 0x82, 'insured'))).toBe(p.insured.centre);
    expect(ascii(need(insured, 0x83, 'insured'))).toBe(p.insured.codeGestion);

    const nirs: string[] = [insuredNir];
    let n = 0;
    for (;;) {
      const r = await s.transmit(Uint8Array.of(0x00, 0xb2, n + 1, 0x14, 0x00));
      if (sw(r) === '6A83') break;
      expect(sw(r), `beneficiary record ${n + 1}`).toBe('9000');
      const b = template(body(r), 0x65);
      const want = p.beneficiaries[n];
      expect(want, `card has more beneficiaries than the profile (${n + 1})`).toBeDefined();
      if (want === undefined) break;
      const what = `beneficiary ${n + 1}`;
      expect(ascii(need(b, 0x80, what))).toBe(want.surname);
      expect(child(b, 0x85) === undefined ? undefined : ascii(child(b, 0x85)!)).toBe(want.usualName);
      expect(ascii(need(b, 0x81, what))).toBe(want.firstName);
      expect(ascii(need(b, 0x82, what))).toBe(want.birthDate);
      expect(ascii(need(b, 0x83, what))).toBe(String(want.birthRank));
      expect(ascii(need(b, 0x84, what))).toBe(want.quality);
      expect(ascii(need(b, 0x90, what))).toBe(want.nationality);
      const nir = child(b, 0x93);
      expect(nir === undefined ? undefined : ascii(nir)).toBe(want.quality === '00' ? (want.nir ?? p.insured.nir) : want.nir);
      if (nir !== undefined) nirs.push(ascii(nir));
      const rights = need(b, 0x66, what);
      const rt = strictTlv(rights);
      expect(ascii(need(rt, 0x80, `${what} rights`))).toBe(want.rights.start);
      expect(child(rt, 0x81) === undefined ? undefined : ascii(child(rt, 0x81)!)).toBe(want.rights.end);
      expect(hex(need(rt, 0x82, `${what} rights`))).toBe(want.rights.ald === true ? '01' : '00');
      expect(ascii(need(rt, 0x83, `${what} rights`))).toBe(want.rights.exoneration ?? '0');
      const amc = child(b, 0x67);
      expect(amc !== undefined, `${what}: AMC present`).toBe(want.amc !== undefined);
      if (amc !== undefined && want.amc !== undefined) {
        const at = strictTlv(amc);
        expect(ascii(need(at, 0x80, 'AMC'))).toBe(want.amc.number);
        expect(ascii(need(at, 0x81, 'AMC'))).toBe(want.amc.contractType);
        expect(hex(need(at, 0x82, 'AMC'))).toBe(want.amc.tiersPayant ? '01' : '00');
        expect(ascii(need(at, 0x83, 'AMC'))).toBe(want.amc.start);
        expect(ascii(need(at, 0x84, 'AMC'))).toBe(want.amc.end);
      }
      n++;
    }
    expect(n, 'beneficiary records').toBe(p.beneficiaries.length);

    // NIR keys: all valid, except the insured's on the invalid-NIR profile.
    const bad = nirs.filter((x) => !checkNir(x).ok);
    if (p.allowInvalidNir === true) {
      expect(checkNir(insuredNir).ok, 'the invalid-NIR profile fails the key check').toBe(false);
      expect(checkNir(insuredNir).reason).toMatch(/key/);
    } else {
      expect(bad, 'NIRs failing the key check').toEqual([]);
    }

    // Certificate (GET DATA 7F21, > 256 bytes: 61xx chaining through the broker) and its chain.
    const certObj = await expectOk(s, h('00CA7F2100'), 'GET DATA 7F21');
    const [top] = strictTlv(certObj);
    expect(top?.tagHex).toBe('7F21');
    const cert = new X509Certificate(Buffer.from(top!.value));
    const vitaleCa = new X509Certificate(Buffer.from(trust.vitaleCaDer));
    const root = new X509Certificate(Buffer.from(trust.rootDer));
    checkChain(cert, vitaleCa, root, 'Vitale card certificate');
    expect(cert.subject).toContain(p.card.serialNumber);
    expect(inValidity(cert), `certificate valid now (${cert.validFrom} .. ${cert.validTo})`).toBe(true);

    // INTERNAL AUTHENTICATE over a card challenge: RSA PKCS#1 v1.5 / SHA-256 with the certified key.
    const challenge = await expectOk(s, h('0084000010'), 'GET CHALLENGE');
    expect(challenge.length).toBe(16);
    const sig = await expectOk(s, apdu('00880000', challenge, 0), 'INTERNAL AUTHENTICATE');
    expect(sig.length).toBe(256);
    expect(rsaVerify('sha256', challenge, cert.publicKey, sig), 'INTERNAL AUTHENTICATE verifies with the certificate key').toBe(true);
    const other = challenge.slice();
    other[0]! ^= 1;
    expect(rsaVerify('sha256', other, cert.publicKey, sig), 'signature bound to the challenge').toBe(false);
    await expectSw(s, apdu('00880000', new Uint8Array(4), 0), '6700', 'INTERNAL AUTHENTICATE with a 4-byte challenge');

    // Status words of the documented negative paths.
    await expectBrokerError(s.transmit(apdu('00A40400', h('E828BD080F8025000001FF0010'), 0)), ['E_APDU_DENIED'], 'SELECT of the CPS AID (not a Vitale application)');
    await expectSw(s, h('00CA9F7F00'), '6A88', 'GET DATA of an unknown object');
    // No PIN on a Vitale card: the class has no PIN reference, so the kernel's VERIFY is refused.
    await expectBrokerError(s.transmitPinVerify(apdu('00200001', pinBlockAsciiFF('1234'))), ['E_APDU_DENIED'], 'VERIFY on a Vitale card');
  });
}

// ---------------------------------------------------------------------------------------------
// CPS
// ---------------------------------------------------------------------------------------------

const CPS_AID = h('E828BD080F8025000001FF0010');

interface CpsProfileJson {
  pin: { value: string; triesLeft?: number };
  holder: { idType: 'RPPS' | 'ADELI'; id: string; civilite: string; nom: string; prenom: string; profession: string; specialite: string };
  situations: Array<{ billingNumber: string; conventionCode: string; tariffZone: string; canSignFse: boolean; canSignLot: boolean; remplacant?: boolean }>;
  certificates?: { signature?: { notAfter?: string } };
}

const cpsPin = (digits: string): Uint8Array => apdu('00200081', pinBlockAsciiFF(digits));
const MSE_DST = apdu('002241B6', h('840102800142'));
const MSE_AT = apdu('002241A4', h('840101800102'));
const psoHash = (digest: Uint8Array): Uint8Array => apdu('002A90A0', concat(h('9020'), digest));
const PSO_CDS = h('002A9E9A00');

async function cpsCase(hr: Harness, profile: string): Promise<void> {
  const p = loadProfile(profile).data as CpsProfileJson;
  const card = await loadCard(profile, KEY_DIR);
  const trust = await pki();
  await hr.withCard(card, async (s) => {
    expect(s.cardClass).toBe('cps');
    const fci = await expectOk(s, apdu('00A40400', CPS_AID, 0), 'SELECT CPS');
    expect(hex(need(template(fci, 0x6f), 0x84, 'FCI CPS'))).toBe(hex(CPS_AID));

    const info = template(await expectOk(s, h('00B0810000'), 'READ BINARY card info'), 0xe0);
    expect(hex(need(info, 0x85, 'card info'))).toBe('81');

    const holder = template(await expectOk(s, h('00B0820000'), 'READ BINARY holder'), 0xe1);
    expect(hex(need(holder, 0x80, 'holder'))).toBe(p.holder.idType === 'RPPS' ? '08' : '00');
    expect(ascii(need(holder, 0x81, 'holder'))).toBe(p.holder.id);
    expect(ascii(need(holder, 0x83, 'holder'))).toBe(p.holder.civilite);
    expect(utf8(need(holder, 0x84, 'holder'))).toBe(p.holder.nom);
    expect(utf8(need(holder, 0x85, 'holder'))).toBe(p.holder.prenom);
    expect(ascii(need(holder, 0x86, 'holder'))).toBe(p.holder.profession);
    expect(ascii(need(holder, 0x87, 'holder'))).toBe(p.holder.specialite);

    const sits = strictTlv(await expectOk(s, h('00B0830000'), 'READ BINARY situations'));
    expect(sits.map((x) => x.tagHex)).toEqual(p.situations.map(() => 'E2'));
    sits.forEach((node, i) => {
      const want = p.situations[i]!;
      const billing = ascii(need(node, 0x82, `situation ${i + 1}`));
      expect(billing).toMatch(/^[0-9]{9}$/);
      expect(billing.startsWith(want.billingNumber.slice(0, 8)), `billing number ${billing} vs ${want.billingNumber}`).toBe(true);
      if (want.billingNumber.length === 9) expect(billing).toBe(want.billingNumber);
      expect(ascii(need(node, 0x83, 'situation'))).toBe(want.conventionCode);
      expect(ascii(need(node, 0x84, 'situation'))).toBe(want.tariffZone);
      const flags = need(node, 0x86, 'situation')[0]!;
      expect((flags & 0x01) !== 0, 'may sign FSE').toBe(want.canSignFse);
      expect((flags & 0x02) !== 0, 'may sign lots').toBe(want.canSignLot);
      expect((flags & 0x04) !== 0, 'remplaçant').toBe(want.remplacant === true);
    });

    // Certificates and their chain to the emulator PKI's health CA and root.
    const authCert = new X509Certificate(Buffer.from(await readDerBySfi(s, 4, 'authentication certificate')));
    const signCert = new X509Certificate(Buffer.from(await readDerBySfi(s, 5, 'signature certificate')));
    const caDer = await readDerBySfi(s, 6, 'issuing CA certificate');
    expect(hex(caDer)).toBe(hex(trust.healthCaDer));
    const ca = new X509Certificate(Buffer.from(caDer));
    const root = new X509Certificate(Buffer.from(trust.rootDer));
    checkChain(authCert, ca, root, 'CPS authentication certificate');
    checkChain(signCert, ca, root, 'CPS signature certificate');
    expect(inValidity(authCert), 'authentication certificate valid now').toBe(true);
    if (p.certificates?.signature?.notAfter !== undefined) {
      expect(new Date(signCert.validTo).getTime(), 'expired-certificate profile').toBe(new Date(p.certificates.signature.notAfter).getTime());
      expect(new Date(signCert.validTo) < new Date(), `signature certificate expired (${signCert.validTo})`).toBe(true);
    } else {
      expect(inValidity(signCert), `signature certificate valid now (${signCert.validTo})`).toBe(true);
    }

    const message = new TextEncoder().encode(`FSE lot conformance ${profile} ${hex(randomBytes(8))}`);
    const digest = createHash('sha256').update(message).digest();
    const challenge = await expectOk(s, h('0084000010'), 'GET CHALLENGE');
    const authInput = concat(SHA256_DIGEST_INFO_PREFIX, createHash('sha256').update(challenge).digest());

    // Before the PIN: the hash is accepted, the signature and the authentication are not.
    await expectOk(s, MSE_DST, 'MSE SET DST');
    await expectOk(s, psoHash(digest), 'PSO HASH');
    await expectSw(s, PSO_CDS, '6982', 'PSO CDS before VERIFY');
    await expectSw(s, apdu('00880000', authInput, 0), '6982', 'INTERNAL AUTHENTICATE before VERIFY');

    if ((p.pin.triesLeft ?? 3) === 0) {
      expect(sw(await s.transmitPinVerify(h('00200081'))), 'blocked PIN: tries left').toBe('6983');
      expect(sw(await s.transmitPinVerify(cpsPin(p.pin.value))), 'right PIN on a blocked card').toBe('6983');
      await expectSw(s, PSO_CDS, '6982', 'PSO CDS with a blocked PIN');
      return;
    }

    expect(sw(await s.transmitPinVerify(h('00200081'))), 'tries left').toBe('63C3');
    expect(sw(await s.transmitPinVerify(cpsPin('0000'))), 'wrong PIN').toBe('63C2');
    expect(sw(await s.transmitPinVerify(h('00200081'))), 'tries left after one wrong PIN').toBe('63C2');
    expect(sw(await s.transmitPinVerify(cpsPin(p.pin.value))), 'right PIN').toBe('9000');
    expect(sw(await s.transmitPinVerify(h('00200081'))), 'verified').toBe('9000');

    await expectOk(s, MSE_DST, 'MSE SET DST');
    await expectOk(s, psoHash(digest), 'PSO HASH');
    const sig = await expectOk(s, PSO_CDS, 'PSO COMPUTE DIGITAL SIGNATURE');
    expect(sig.length).toBe(256);
    expect(rsaVerify('sha256', message, signCert.publicKey, sig), 'PSO CDS verifies with the signature certificate').toBe(true);
    expect(rsaVerify('sha256', message, authCert.publicKey, sig), 'signed with the signature key, not the authentication key').toBe(false);
    await expectSw(s, PSO_CDS, '6985', 'a second signature of the same hash');

    await expectOk(s, MSE_AT, 'MSE SET AT');
    const auth = await expectOk(s, apdu('00880000', authInput, 0), 'INTERNAL AUTHENTICATE');
    expect(auth.length).toBe(256);
    expect(rsaVerify('sha256', challenge, authCert.publicKey, auth), 'INTERNAL AUTHENTICATE verifies with the authentication certificate').toBe(true);

    // Counters to blocked, after a reset (which ends the verified state but not the counter).
    await s.reset();
    await expectOk(s, apdu('00A4040C', CPS_AID), 'SELECT CPS after reset');
    await expectOk(s, MSE_DST, 'MSE SET DST');
    await expectOk(s, psoHash(digest), 'PSO HASH');
    await expectSw(s, PSO_CDS, '6982', 'PSO CDS after reset');
    const walk: string[] = [];
    for (let i = 0; i < 3; i++) walk.push(sw(await s.transmitPinVerify(cpsPin('0000'))));
    expect(walk).toEqual(['63C2', '63C1', '63C0']);
    expect(sw(await s.transmitPinVerify(cpsPin(p.pin.value))), 'right PIN once blocked').toBe('6983');
    await expectSw(s, PSO_CDS, '6982', 'PSO CDS once blocked');
    // The broker refuses another PIN reference than the class's (0x81).
    await expectBrokerError(s.transmitPinVerify(apdu('00200082', pinBlockAsciiFF('12345678'))), ['E_APDU_DENIED'], 'VERIFY of the PUK reference');
  });
}

// ---------------------------------------------------------------------------------------------
// EMV
// ---------------------------------------------------------------------------------------------

const PSE = new TextEncoder().encode('1PAY.SYS.DDF01');

interface EmvProfileJson {
  pse: boolean;
  cardholder: { pan: string; panSequenceNumber: number };
  pin: { value: string; maxTries: number; triesLeft?: number };
  applications: Array<{ aid: string; priority: number; confirmationRequired?: boolean }>;
}

type AcType = 'AAC' | 'TC' | 'ARQC';
const AC_OF: Record<number, AcType> = { 0x00: 'AAC', 0x40: 'TC', 0x80: 'ARQC' };

/**
 * What each profile's first GENERATE AC must give (TC requested, PIN presented when the card allows
 * it): a small amount (50.00 EUR) then a large one (250.00 EUR, over the offline limit).
 */
const EMV_EXPECT: Record<string, { small: AcType; large: AcType; reason?: number }> = {
  'emv-approuve-offline': { small: 'TC', large: 'ARQC' },
  'emv-deux-applications': { small: 'TC', large: 'ARQC' },
  'emv-sans-pse': { small: 'TC', large: 'ARQC' },
  'emv-online': { small: 'ARQC', large: 'ARQC' },
  'emv-refus': { small: 'AAC', large: 'AAC', reason: 1 },
  'emv-expiree': { small: 'AAC', large: 'AAC', reason: 1 },
  'emv-pin-bloque': { small: 'AAC', large: 'AAC', reason: 2 },
};

/** The payment policy's AIDs, for selection by AID list when the card has no PSE. */
const AID_LIST = ['A0000000421010', 'A0000000031010', 'A0000000041010'];

interface Candidate {
  aid: string;
  priority: number;
  confirm: boolean;
}

async function emvSelectApplication(s: CardSession, p: EmvProfileJson): Promise<Candidate[]> {
  const r = await s.transmit(apdu('00A40400', PSE, 0));
  const found: Candidate[] = [];
  if (!p.pse) {
    expect(sw(r), 'SELECT PSE on a card without PSE').toBe('6A82');
    for (const aid of AID_LIST) {
      const a = await s.transmit(apdu('00A40400', h(aid), 0));
      if (sw(a) === '6A82') continue;
      expect(sw(a), `SELECT ${aid}`).toBe('9000');
      const fci = template(body(a), 0x6f);
      expect(hex(need(fci, 0x84, 'FCI'))).toBe(aid);
      const prio = deep(fci.children!, 0x87, 'FCI priority')[0]!;
      found.push({ aid, priority: prio & 0x0f, confirm: (prio & 0x80) !== 0 });
    }
    return found;
  }
  expect(sw(r), 'SELECT PSE').toBe('9000');
  const fci = template(body(r), 0x6f);
  expect(hex(need(fci, 0x84, 'PSE FCI'))).toBe(hex(PSE));
  const sfi = deep(fci.children!, 0x88, 'PSE FCI SFI')[0]!;
  for (let n = 1; n < 16; n++) {
    const rec = await s.transmit(Uint8Array.of(0x00, 0xb2, n, (sfi << 3) | 4, 0x00));
    if (sw(rec) === '6A83') break;
    expect(sw(rec), `PSE record ${n}`).toBe('9000');
    for (const entry of template(body(rec), 0x70).children!.filter((c) => c.tag === 0x61)) {
      const prio = need(entry, 0x87, 'directory entry')[0]!;
      found.push({ aid: hex(need(entry, 0x4f, 'directory entry')), priority: prio & 0x0f, confirm: (prio & 0x80) !== 0 });
    }
  }
  return found;
}

interface AcResult {
  type: AcType;
  cid: number;
  atc: number;
  cdolLength: number;
}

async function emvTransaction(
  s: CardSession,
  p: EmvProfileJson,
  aid: string,
  amountMinor: number,
  imk: Uint8Array,
  pinFlow: boolean,
): Promise<AcResult> {
  const fciBytes = await expectOk(s, apdu('00A40400', h(aid), 0), `SELECT ${aid}`);
  expect(hex(need(template(fciBytes, 0x6f), 0x84, 'application FCI'))).toBe(aid);
  const pdol = parseDolList(deepOrEmpty(strictTlv(fciBytes), 0x9f38));
  const amount = h(String(amountMinor).padStart(12, '0'));
  const un = randomBytes(4);
  const terminal = new Map<number, Uint8Array>([
    [0x9f02, amount],
    [0x9f03, new Uint8Array(6)],
    [0x9f1a, h('0250')],
    [0x5f2a, h('0978')],
    [0x95, new Uint8Array(5)],
    [0x9a, h('260115')],
    [0x9c, h('00')],
    [0x9f37, un],
    [0x9f35, h('22')],
    [0x9f33, h('E0F8C8')],
    [0x9f40, h('6000F0A001')],
    [0x9f66, h('36000000')],
  ]);
  const pdolData = buildDolData(pdol, terminal);
  const gpo = await expectOk(s, apdu('80A80000', concat(Uint8Array.of(0x83, pdolData.length), pdolData), 0), 'GET PROCESSING OPTIONS');
  let aip: Uint8Array;
  let afl: Uint8Array;
  const g = strictTlv(gpo);
  if (g[0]?.tag === 0x80) {
    aip = g[0].value.subarray(0, 2);
    afl = g[0].value.subarray(2);
  } else {
    const t = template(gpo, 0x77);
    aip = need(t, 0x82, 'GPO');
    afl = need(t, 0x94, 'GPO');
  }
  expect(afl.length % 4, 'AFL is 4-byte entries').toBe(0);
  expect(afl.length).toBeGreaterThan(0);

  // READ RECORD along the AFL, every record strictly parsed as one 70 template.
  const data = new Map<number, Uint8Array>();
  for (let i = 0; i < afl.length; i += 4) {
    const sfi = afl[i]! >> 3;
    for (let rec = afl[i + 1]!; rec <= afl[i + 2]!; rec++) {
      const r = await expectOk(s, Uint8Array.of(0x00, 0xb2, rec, (sfi << 3) | 4, 0x00), `READ RECORD SFI ${sfi} rec ${rec}`);
      for (const c of template(r, 0x70).children!) data.set(c.tag, c.value);
    }
  }
  const pan = hex(data.get(0x5a) ?? new Uint8Array()).replace(/F+$/, '');
  expect(pan, 'PAN (5A) in the records').toBe(p.cardholder.pan);
  const psnByte = data.get(0x5f34)?.[0];
  expect(psnByte, 'PSN (5F34)').toBeDefined();
  const psn = Number(psnByte!.toString(16));
  expect(psn).toBe(p.cardholder.panSequenceNumber);
  const cdol1 = parseDolList(data.get(0x8c) ?? new Uint8Array());
  expect(cdol1.length, 'CDOL1 (8C)').toBeGreaterThan(0);

  if (pinFlow) {
    const tries0 = p.pin.triesLeft ?? p.pin.maxTries;
    const counter = async (): Promise<number> => {
      const r = await expectOk(s, h('80CA9F1700'), 'GET DATA 9F17');
      const [t] = strictTlv(r);
      expect(t?.tagHex).toBe('9F17');
      return t!.value[0]!;
    };
    expect(await counter(), 'PIN try counter').toBe(tries0);
    const block = (pin: string): Uint8Array => {
      const b = new Uint8Array(8).fill(0xff);
      b[0] = 0x20 | pin.length;
      b.set(h((pin + 'F'.repeat(pin.length % 2)).padEnd(pin.length + (pin.length % 2), 'F')).subarray(0, Math.ceil(pin.length / 2)), 1);
      return b;
    };
    if (tries0 === 0) {
      expect(sw(await s.transmitPinVerify(apdu('00200080', block(p.pin.value)))), 'VERIFY with a blocked PIN').toBe('6983');
      expect(await counter()).toBe(0);
    } else {
      expect(sw(await s.transmitPinVerify(apdu('00200080', block('9999')))), 'wrong PIN').toBe(`63C${tries0 - 1}`);
      expect(await counter()).toBe(tries0 - 1);
      expect(sw(await s.transmitPinVerify(apdu('00200080', block(p.pin.value)))), 'right PIN').toBe('9000');
      expect(await counter()).toBe(p.pin.maxTries);
    }
  }

  const cdolData = buildDolData(cdol1, terminal);
  const ac = await expectOk(s, apdu('80AE4000', cdolData, 0), 'GENERATE AC (TC requested)');
  let cid: number;
  let atc: number;
  let cryptogram: Uint8Array;
  let iad: Uint8Array;
  const a = strictTlv(ac);
  if (a[0]?.tag === 0x80) {
    const v = a[0].value;
    cid = v[0]!;
    atc = (v[1]! << 8) | v[2]!;
    cryptogram = v.subarray(3, 11);
    iad = v.subarray(11);
  } else {
    const t = template(ac, 0x77);
    cid = need(t, 0x9f27, 'GENERATE AC')[0]!;
    const atcB = need(t, 0x9f36, 'GENERATE AC');
    atc = (atcB[0]! << 8) | atcB[1]!;
    cryptogram = need(t, 0x9f26, 'GENERATE AC');
    iad = need(t, 0x9f10, 'GENERATE AC');
  }
  expect(cryptogram.length).toBe(8);
  const type = AC_OF[cid & 0xc0];
  expect(type, `CID ${cid.toString(16)}`).toBeDefined();

  // The issuer's check, with the emulator's issuer functions…
  const input = acMacInput(cdolData, aip, atc, iad);
  expect(verifyArqc({ imk, pan, panSequenceNumber: psn, atc, input, arqc: cryptogram }), `${type} verifies with verifyArqc`).toBe(true);
  // …and recomputed here from the specification alone.
  const mk = indepIccMasterKey(imk, pan, psn);
  const sk = indepSessionKey(mk, atc);
  const mine = indepRetailMac(sk, concat(cdolData, aip, Uint8Array.of(atc >> 8, atc & 0xff), iad.subarray(3, 7)));
  expect(hex(mine), `${type} recomputed independently`).toBe(hex(cryptogram));
  const tampered = cdolData.slice();
  tampered[0]! ^= 1;
  expect(verifyArqc({ imk, pan, panSequenceNumber: psn, atc, input: acMacInput(tampered, aip, atc, iad), arqc: cryptogram })).toBe(false);
  return { type: type!, cid, atc, cdolLength: cdolData.length };
}

function deepOrEmpty(nodes: ReturnType<typeof strictTlv>, tag: number): Uint8Array {
  try {
    return deep(nodes, tag, 'optional');
  } catch {
    return new Uint8Array();
  }
}

async function emvCase(hr: Harness, profile: string): Promise<void> {
  const p = loadProfile(profile).data as EmvProfileJson;
  const expected = EMV_EXPECT[profile];
  expect(expected, `profile ${profile} has an expectation in EMV_EXPECT (cases.ts)`).toBeDefined();
  const card = await loadCard(profile, KEY_DIR);
  const { imkAc } = await loadEmvIssuerKeys(KEY_DIR);
  await hr.withCard(card, async (s) => {
    expect(s.cardClass).toBe('emv');
    const candidates = await emvSelectApplication(s, p);
    expect(candidates.map((c) => c.aid).sort()).toEqual(p.applications.map((a) => a.aid).sort());
    for (const c of candidates) {
      const want = p.applications.find((a) => a.aid === c.aid)!;
      expect(c.priority, `priority of ${c.aid}`).toBe(want.priority);
      expect(c.confirm, `confirmation bit of ${c.aid}`).toBe(want.confirmationRequired === true);
    }
    const best = Math.min(...candidates.map((c) => c.priority));
    const top = candidates.filter((c) => c.priority === best);
    // Equal priorities: the cardholder must choose (87 b8 set); the test "chooses" the first.
    if (top.length > 1) expect(top.every((c) => c.confirm), 'equal priorities need cardholder confirmation').toBe(true);
    const aid = top[0]!.aid;

    const t1 = await emvTransaction(s, p, aid, 5000, imkAc, true);
    expect(t1.type, 'first transaction (50.00)').toBe(expected!.small);
    if (expected!.reason !== undefined) expect(t1.cid & 0x07, 'CID reason code').toBe(expected!.reason);
    const t2 = await emvTransaction(s, p, aid, 25000, imkAc, false);
    expect(t2.type, 'second transaction (250.00)').toBe(expected!.large);
    expect(t2.atc, 'ATC increments once per transaction').toBe(t1.atc + 1);

    // Applets never send VERIFY; GENERATE AC outside a transaction is refused by the card.
    await expectBrokerError(s.transmit(apdu('00200080', h('241234FFFFFFFFFF'))), ['E_APDU_DENIED'], 'VERIFY from an applet');
    // A new selection, then GPO data one byte longer than the PDOL asks for: 6700.
    const fci = await expectOk(s, apdu('00A40400', h(aid), 0), `SELECT ${aid}`);
    const pdolLen = parseDolList(deepOrEmpty(strictTlv(fci), 0x9f38)).reduce((n, d) => n + d.length, 0);
    await expectSw(s, apdu('80A80000', concat(Uint8Array.of(0x83, pdolLen + 1), new Uint8Array(pdolLen + 1)), 0), '6700', 'GPO with a wrong PDOL length');
    // GENERATE AC without GPO in this selection: conditions of use not satisfied.
    await expectSw(s, apdu('80AE4000', new Uint8Array(t2.cdolLength), 0), '6985', 'GENERATE AC before GPO');
  });
}

// ---------------------------------------------------------------------------------------------
// Hostile cards
// ---------------------------------------------------------------------------------------------

async function hostileCase(hr: Harness, profile: string): Promise<void> {
  const behaviour = (loadProfile(profile).data as { behaviour: string }).behaviour;
  const card = recording(createCard(profile));
  const opened = await hr.open(card);
  const maxRounds = DEFAULT_BROKER_OPTIONS.maxTransportRounds;
  try {
    expect(opened.kind, `hostile ${behaviour}: routed (it answers the test AID)`).toBe('offered');
    if (opened.kind !== 'offered') return;
    const s = opened.session;
    expect(s.cardClass).toBe('test-card');
    card.seen.length = 0;
    const select = await s.transmit(apdu('00A40400', TEST_AID, 0));
    switch (behaviour) {
      case 'malformed-tlv': {
        // The transport is fine (9000); the data is not: the strict parser refuses it, naming why.
        expect(sw(select)).toBe('9000');
        expect(() => strictTlv(body(select))).toThrow(TlvError);
        const r = await s.transmit(h('00B0000000'));
        expect(sw(r)).toBe('9000');
        let err: unknown = null;
        try {
          strictTlv(body(r));
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TlvError);
        expect((err as TlvError).reason).toMatch(/length/);
        break;
      }
      case 'endless-61xx': {
        const e = await expectBrokerError(s.transmit(h('00B0000000')), ['E_CARD'], 'endless 61xx');
        expect(e.message).toMatch(/61xx/);
        expect(card.seen.length - 1, 'bounded GET RESPONSE rounds').toBeLessThanOrEqual(maxRounds + 1);
        break;
      }
      case 'endless-6cxx': {
        const e = await expectBrokerError(s.transmit(h('00B0000010')), ['E_CARD'], 'endless 6Cxx');
        expect(e.message).toMatch(/6C/);
        expect(card.seen.length - 1, 'one re-send only').toBeLessThanOrEqual(2);
        break;
      }
      case 'oversized': {
        expect(sw(select)).toBe('9000');
        // In process the broker refuses the 60 000 bytes (class limit 4096); over PC/SC the reader
        // stack may already fail the exchange (E_CARD either way, never the data).
        await expectBrokerError(s.transmit(h('00B0000000')), ['E_CARD'], 'oversized response');
        break;
      }
      case 'bad-sw': {
        expect(sw(select)).toBe('9000');
        // The card cycles: a one-byte answer, data with 6A82, then SW 0000. The one-byte answer is
        // no response at all: in process the reader treats it as mute (E_CARD, card reset, which
        // restarts the cycle); through vpcd the bridge cannot carry it and answers 6F00 instead.
        const outcomes: string[] = [];
        for (let i = 0; i < 3; i++) {
          try {
            outcomes.push(sw(await s.transmit(h('00B0000000'))));
          } catch (e) {
            expect(e).toBeInstanceOf(BrokerError);
            expect((e as BrokerError).message).toMatch(/mute|SW1 SW2|byte|not an ISO 7816-4 status word/);
            outcomes.push(/not an ISO 7816-4 status word/.test((e as BrokerError).message) ? 'E_CARD(sw)' : (e as BrokerError).code);
          }
        }
        if (process.env.DI_CONFORMANCE_DEBUG === '1') console.log(`[conformance] bad-sw on ${s.path}: ${outcomes.join(' ')}`);
        for (const o of outcomes) expect(['E_CARD', '6F00', '6A82', 'E_CARD(sw)']).toContain(o);
        expect(outcomes).toContain(s.path === 'in-process' ? 'E_CARD' : '6F00');
        // SW 0000 (SW1 outside 6x/9x, ISO 7816-4 §5.6) never reaches the applet: the broker refuses it.
        expect(outcomes).toContain('E_CARD(sw)');
        break;
      }
      case 'mute': {
        expect(sw(select)).toBe('9000');
        // In process the reader times out (E_CARD, card reset); through vpcd the bridge pulls the
        // mute card and pcscd reports it gone (E_NO_CARD). Either way: a clear error, bounded time.
        await expectBrokerError(s.transmit(h('00B0000000')), ['E_CARD', 'E_NO_CARD'], 'mute card');
        break;
      }
      case 'atr-changer': {
        expect(sw(select)).toBe('9000');
        let atr: Uint8Array | null = null;
        try {
          atr = await s.reset();
        } catch (e) {
          // A reader stack that notices the new ATR reports a new card: the lease ends (E_NO_CARD).
          expect(e).toBeInstanceOf(BrokerError);
          expect(['E_NO_CARD', 'E_LEASE']).toContain((e as BrokerError).code);
        }
        if (process.env.DI_CONFORMANCE_DEBUG === '1') console.log(`[conformance] atr-changer on ${s.path}: ${s.atr} -> ${atr === null ? 'lease ended' : hex(atr)}`);
        if (atr !== null) {
          expect(hex(atr), 'a new ATR after reset').not.toBe(s.atr);
          expect(hex(atr).startsWith('3B')).toBe(true);
        }
        break;
      }
      default:
        throw new Error(`hostile behaviour ${behaviour} has no conformance expectation (cases.ts)`);
    }
  } finally {
    await hr.close(opened.kind === 'offered' ? opened.session : null);
  }

  // The slot works again with a sound card.
  await hr.withCard(createCard('test-card'), async (s) => {
    await expectOk(s, apdu('00A40400', TEST_AID, 0), 'SELECT after the hostile card');
    await expectOk(s, apdu('00A4000C', h('0101')), 'SELECT EF after the hostile card');
    expect(ascii(await expectOk(s, h('00B0000000'), 'READ BINARY after the hostile card'))).toBe('DITEST PUBLIC DATA 0001');
  });
}

// ---------------------------------------------------------------------------------------------

/** Every profile, grouped by model; a profile of an unknown kind fails the suite rather than being skipped. */
export function conformanceCases(): ConformanceCase[] {
  return cardProfiles().map((p): ConformanceCase => {
    if (p.kind === 'test-card' || p.kind === 'test-card-variant') return { model: 'test-card', profile: p.name, run: (hr) => testCardCase(hr, p.name) };
    if (p.kind === 'vitale-2') return { model: 'vitale', profile: p.name, run: (hr) => vitaleCase(hr, p.name) };
    if (p.kind === 'cps') return { model: 'cps', profile: p.name, run: (hr) => cpsCase(hr, p.name) };
    if (p.kind === 'emv') return { model: 'emv', profile: p.name, run: (hr) => emvCase(hr, p.name) };
    if (p.kind === 'hostile') return { model: 'hostile', profile: p.name, run: (hr) => hostileCase(hr, p.name) };
    return {
      model: 'test-card',
      profile: p.name,
      run: async () => {
        throw new Error(`profile ${p.name} is of kind "${p.kind}", which the conformance suite does not cover yet (test/conformance/cases.ts)`);
      },
    };
  });
}
