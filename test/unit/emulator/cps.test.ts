/**
 * The CPS card model: every command and status word, PIN/PUK counters, signatures checked with
 * node:crypto and openssl against the emulator's certificate chain, the profiles and their schema.
 * Keys come from the checkout's emulator key cache, so a warm run generates no RSA key.
 */
import { X509Certificate, constants, createHash, publicDecrypt, verify } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../platform/kernel/paths.js';
import { assertOpenssl, openssl } from '../../support/openssl.js';
import { fromHex, toHex } from '../../../platform/sdk/hex.js';
import { findTag, parseTlv } from '../../../platform/sdk/tlv.js';
import { parseAtr } from '../../../emulator/cards/framework/atr.js';
import { CardProfileError, profilesDir } from '../../../emulator/cards/registry.js';
import { loadOrCreatePki, type EmulatorPki } from '../../../emulator/cards/pki/index.js';
import {
  billingNumberKey,
  checkCpsProfile,
  CPS_AID_HEX,
  CPS_FILES,
  cpsModel,
  createCpsCard,
  decodeCardInfo,
  decodeHolder,
  decodeSituations,
  luhnDigit,
  sha256DigestInfo,
  type CpsCard,
} from '../../../emulator/cards/models/cps/index.js';
import { asciiHex, send } from './helpers.js';

const sharedKeyDir = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');
const PROFILES = ['cps-medecin-generaliste', 'cps-infirmiere', 'cps-kine', 'cps-remplacant', 'cps-pin-bloque', 'cps-certificat-expire'] as const;


function profileFile(name: string): string {
  return join(profilesDir(), `${name}.json`);
}

function profileJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(profileFile(name), 'utf8')) as Record<string, unknown>;
}

async function card(name: (typeof PROFILES)[number]): Promise<CpsCard> {
  return createCpsCard(profileJson(name), profileFile(name), { keyDir: sharedKeyDir });
}

const PIN_OK = `${asciiHex('1234')}FFFFFFFF`;
const PIN_BAD = `${asciiHex('9999')}FFFFFFFF`;
const PUK_OK = asciiHex('12345678');
const PUK_BAD = asciiHex('87654321');
const SELECT_CPS = `00A404000D${CPS_AID_HEX}00`;
const MSE_DST = '002241B606840102800142';
const MSE_AT = '002241A406840101800102';

function hashOf(message: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(message).digest());
}

/** A case 2 command with Le=00; on a T=0 card a short answer comes back as 6Cxx and is re-asked. */
function readT0Aware(c: CpsCard, header: string): { data: string; sw: string } {
  const r = send(c, `${header}00`);
  return r.sw.startsWith('6C') ? send(c, `${header}${r.sw.slice(2)}`) : r;
}

/** Read a whole transparent EF by SFI in chunks, as a T=1 terminal would with short APDUs. */
function readEf(c: CpsCard, sfi: number): Uint8Array {
  const first = readT0Aware(c, `00B0${(0x80 | sfi).toString(16).toUpperCase()}00`);
  if (first.sw !== '9000' && first.sw !== '6282') throw new Error(`READ BINARY SFI ${sfi}: ${first.sw}`);
  let out = first.data;
  // Once the EF is current, continue by offset (P1 P2 = 15-bit offset).
  for (;;) {
    const offset = out.length / 2;
    const r = readT0Aware(c, `00B0${offset.toString(16).padStart(4, '0').toUpperCase()}`);
    if (r.sw === '6B00') break;
    if (r.sw !== '9000' && r.sw !== '6282') throw new Error(`READ BINARY at ${offset}: ${r.sw}`);
    out += r.data;
    if (r.data.length / 2 < 256) break;
  }
  return fromHex(out);
}

function signHash(c: CpsCard, hash: Uint8Array): { data: string; sw: string } {
  expect(send(c, MSE_DST).sw).toBe('9000');
  expect(send(c, `002A90A0229020${toHex(hash)}`).sw).toBe('9000');
  return send(c, '002A9E9A00');
}

let medecin: CpsCard;
let pki: EmulatorPki;
let work: string;

beforeAll(async () => {
  // All six cards once: on a cold cache this is where keys are made (in parallel).
  await Promise.all(PROFILES.map((p) => card(p)));
  medecin = await card('cps-medecin-generaliste');
  pki = await loadOrCreatePki(sharedKeyDir);
  work = mkdtempSync(join(tmpdir(), 'di-cps-test-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('ATR and application selection', () => {
  it('every profile answers an ATR starting 3B; T=1 by default, T=0 for the kiné card', async () => {
    for (const name of PROFILES) {
      const c = await card(name);
      const atr = c.reset();
      expect(atr[0]).toBe(0x3b);
      const parsed = parseAtr(atr);
      expect(parsed.protocols[0]).toBe(name === 'cps-kine' ? 0 : 1);
      expect(new TextDecoder().decode(parsed.historical)).toBe('DI-CPS-TEST');
      expect(c.kind).toBe('cps');
    }
  });

  it('SELECT by its AID answers 9000 with an FCI naming the AID; other AIDs 6A82', () => {
    medecin.reset();
    const r = send(medecin, SELECT_CPS);
    expect(r.sw).toBe('9000');
    expect(toHex(findTag(parseTlv(fromHex(r.data)), 0x84)!.value)).toBe(CPS_AID_HEX);
    expect(send(medecin, '00A404000BD250000002564954414C4500').sw).toBe('6A82');
    expect(send(medecin, '00A404000ED2500000024D465F564954414C4500').sw).toBe('6A82');
    expect(send(medecin, '00A4040007A000000004101000').sw).toBe('6A82');
    expect(send(medecin, '00A404000E315041592E5359532E444446303100').sw).toBe('6A82');
    expect(send(medecin, `00A4040C0D${CPS_AID_HEX}`)).toEqual({ data: '', sw: '9000' });
  });

  it('unknown INS 6D00, unknown CLA 6E00, malformed APDU 6700', () => {
    medecin.reset();
    expect(send(medecin, '00E2000000').sw).toBe('6D00');
    expect(send(medecin, '80CA9F1700').sw).toBe('6E00');
    expect(send(medecin, '00A4').sw).toBe('6700');
  });
});

describe('holder data and certificates in EFs', () => {
  it('card info, holder and situations decode to the profile (médecin, two situations)', () => {
    medecin.reset();
    send(medecin, SELECT_CPS);
    const info = decodeCardInfo(readEf(medecin, CPS_FILES.cardInfo.sfi));
    expect(info).toMatchObject({ layoutVersion: 1, authKeyRef: 0x01, signKeyRef: 0x02, pinRef: 0x81 });
    expect(info.cardNumber).toMatch(/^[0-9]{10}$/);
    const holder = decodeHolder(readEf(medecin, CPS_FILES.holder.sfi));
    expect(holder).toEqual({ idType: 'RPPS', identifier: '19999000011', civilite: 'DR', nom: 'FICTIF', prenom: 'ALICE', profession: '10', specialite: '01' });
    const raw = readEf(medecin, CPS_FILES.holder.sfi);
    expect(new TextDecoder().decode(findTag(parseTlv(raw), 0x82)!.value)).toBe('819999000011');
    const situations = decodeSituations(readEf(medecin, CPS_FILES.situations.sfi));
    expect(situations).toHaveLength(2);
    expect(situations[0]).toMatchObject({ number: 1, mode: 'L', billingNumber: `75199001${billingNumberKey('75199001')}`, conventionCode: '1', tariffZone: '10', specialite: '01', canSignFse: true, canSignLot: true, remplacant: false });
    expect(situations[1]!.number).toBe(2);
  });

  it('each profile carries its own holder and situation facts', async () => {
    const read = async (name: (typeof PROFILES)[number]) => {
      const c = await card(name);
      send(c, SELECT_CPS);
      return { holder: decodeHolder(readEf(c, 2)), situations: decodeSituations(readEf(c, 3)) };
    };
    const inf = await read('cps-infirmiere');
    expect(inf.holder).toMatchObject({ civilite: 'MME', profession: '60', specialite: '24' });
    const kine = await read('cps-kine');
    expect(kine.holder).toMatchObject({ idType: 'ADELI', identifier: '139900012', profession: '70', specialite: '26' });
    const rempl = await read('cps-remplacant');
    expect(rempl.situations[0]).toMatchObject({ remplacant: true, canSignFse: true, canSignLot: false, replacedBillingNumber: '751990011' });
    const exp = await read('cps-certificat-expire');
    expect(exp.situations[0]!.conventionCode).toBe('2');
  });

  it('EF by FID after SELECT; the certificates are DER from the PKI; the CA EF holds the health CA', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    expect(send(c, '00A4020C020202').sw).toBe('9000');
    const first = send(c, '00B0000004');
    expect(first.data.slice(0, 2)).toBe('30');
    const signCert = new X509Certificate(readEf(c, CPS_FILES.signCertificate.sfi));
    const authCert = new X509Certificate(readEf(c, CPS_FILES.authCertificate.sfi));
    expect(toHex(readEf(c, CPS_FILES.caCertificate.sfi))).toBe(toHex(pki.healthCaDer));
    expect(signCert.subject).toContain('CN=ALICE FICTIF');
    expect(signCert.subject).toContain('serialNumber=819999000011');
    expect(signCert.issuer).toContain('CN=AC PROFESSIONNELS DE SANTE TEST');
    expect(signCert.keyUsage ?? []).toEqual([]); // no EKU on the signature certificate
    expect(authCert.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(signCert.verify(new X509Certificate(pki.healthCaDer).publicKey)).toBe(true);
    expect(authCert.fingerprint256).not.toBe(signCert.fingerprint256);
    // Same profile, same keys: a second card from the cache has identical certificates.
    const again = await card('cps-medecin-generaliste');
    send(again, SELECT_CPS);
    expect(new X509Certificate(readEf(again, 5)).fingerprint256).toBe(signCert.fingerprint256);
  });

  it('READ BINARY errors: outside the application 6A82, offset past the end 6B00, no current EF 6986', async () => {
    const c = await card('cps-infirmiere');
    expect(send(c, '00B0820000').sw).toBe('6A82');
    send(c, SELECT_CPS);
    expect(send(c, '00B0000000').sw).toBe('6986');
    expect(send(c, '00B0820000').sw).toBe('9000');
    expect(send(c, '00B07F0000').sw).toBe('6B00');
    expect(send(c, '00A4020C020999').sw).toBe('6A82');
  });
});

describe('PIN', () => {
  it('VERIFY counts down 63C2 63C1 then blocks 6983; a right PIN before that restores 3 tries', async () => {
    const c = await card('cps-infirmiere');
    send(c, SELECT_CPS);
    expect(send(c, '0020008100').sw).toBe('6700');
    expect(send(c, '0020008100'.slice(0, 8)).sw).toBe('63C3');
    expect(send(c, `0020008108${PIN_BAD}`).sw).toBe('63C2');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    expect(send(c, '00200081').sw).toBe('9000');
    expect(send(c, `0020008108${PIN_BAD}`).sw).toBe('63C2');
    expect(send(c, `0020008108${PIN_BAD}`).sw).toBe('63C1');
    expect(send(c, `0020008108${PIN_BAD}`).sw).toBe('63C0');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('6983');
    expect(send(c, '00200081').sw).toBe('6983');
    expect(send(c, `0020008104${asciiHex('1234')}`).sw).toBe('6983');
    expect(send(c, `0020008308${PIN_OK}`).sw).toBe('6A88');
  });

  it('a wrong-length PIN costs no try', async () => {
    const c = await card('cps-infirmiere');
    send(c, SELECT_CPS);
    expect(send(c, `0020008104${asciiHex('1234')}`).sw).toBe('6700');
    expect(send(c, '00200081').sw).toBe('63C3');
  });

  it('reset and leaving the application drop the verified state', async () => {
    const c = await card('cps-infirmiere');
    send(c, SELECT_CPS);
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    c.reset();
    send(c, SELECT_CPS);
    expect(send(c, '00200081').sw).toBe('63C3');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    expect(send(c, '00A4000C023F00').sw).toBe('9000');
    send(c, SELECT_CPS);
    expect(send(c, '00200081').sw).toBe('63C3');
  });

  it('CHANGE REFERENCE DATA 00 24 00 81: old then new PIN', async () => {
    const c = await card('cps-infirmiere');
    send(c, SELECT_CPS);
    const newPin = `${asciiHex('4321')}FFFFFFFF`;
    expect(send(c, `0024008110${PIN_BAD}${newPin}`).sw).toBe('63C2');
    expect(send(c, `0024008110${PIN_OK}${asciiHex('12')}FFFFFFFFFFFF`).sw).toBe('6A80');
    expect(send(c, `0024008108${PIN_OK}`).sw).toBe('6700');
    expect(send(c, `0024018110${PIN_OK}${newPin}`).sw).toBe('6A86');
    expect(send(c, `0024008210${PIN_OK}${newPin}`).sw).toBe('6A88');
    expect(send(c, `0024008110${PIN_OK}${newPin}`).sw).toBe('9000');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('63C2');
    expect(send(c, `0020008108${newPin}`).sw).toBe('9000');
  });
});

describe('PUK: RESET RETRY COUNTER 00 2C', () => {
  it('cps-pin-bloque: PIN blocked; P1=01 with the PUK unblocks, a wrong PUK counts down', async () => {
    const c = await card('cps-pin-bloque');
    send(c, SELECT_CPS);
    expect(send(c, '00200081').sw).toBe('6983');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('6983');
    expect(send(c, `002C018108${PUK_BAD}`).sw).toBe('63C2');
    expect(send(c, `002C018108${PUK_OK}`).sw).toBe('9000');
    // Unblocked but not verified: signing still needs the PIN.
    expect(send(c, '00200081').sw).toBe('63C3');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    // The PUK counter was restored by the right PUK.
    expect(send(c, '00200082').sw).toBe('63C3');
  });

  it('P1=00 sets a new PIN at the same time; P1=02/03 need the PUK verified first', async () => {
    const c = await card('cps-pin-bloque');
    send(c, SELECT_CPS);
    const newPin = `${asciiHex('2468')}FFFFFFFF`;
    expect(send(c, `002C008110${PUK_OK}${newPin}`).sw).toBe('9000');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('63C2');
    expect(send(c, `0020008108${newPin}`).sw).toBe('9000');
    expect(send(c, '002C0381').sw).toBe('6982');
    expect(send(c, `002C028108${PIN_OK}`).sw).toBe('6982');
    expect(send(c, `0020008208${PUK_OK}`).sw).toBe('9000');
    expect(send(c, `002C028108${PIN_OK}`).sw).toBe('9000');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    expect(send(c, '002C0381').sw).toBe('6982'); // PUK status is consumed by a reset
  });

  it('status words for bad parameters and data', async () => {
    const c = await card('cps-pin-bloque');
    send(c, SELECT_CPS);
    expect(send(c, `002C048108${PUK_OK}`).sw).toBe('6A86');
    expect(send(c, `002C018208${PUK_OK}`).sw).toBe('6A88');
    expect(send(c, `002C018104${asciiHex('1234')}`).sw).toBe('6700');
    expect(send(c, `002C008110${PUK_OK}${asciiHex('12345')}FFFFFF`).sw).toBe('6A80');
    expect(send(c, `002C008110${PUK_OK}${asciiHex('12A4')}FFFFFFFF`).sw).toBe('6A80');
    // The malformed new PIN cost no PUK try.
    expect(send(c, '00200082').sw).toBe('63C3');
    expect(send(c, `002C01810800`.padEnd(26, '0')).sw).toBe('63C2');
  });

  it('three wrong PUKs block the PUK too (6983)', async () => {
    const c = await card('cps-pin-bloque');
    send(c, SELECT_CPS);
    expect(send(c, `002C018108${PUK_BAD}`).sw).toBe('63C2');
    expect(send(c, `002C018108${PUK_BAD}`).sw).toBe('63C1');
    expect(send(c, `002C018108${PUK_BAD}`).sw).toBe('63C0');
    expect(send(c, `002C018108${PUK_OK}`).sw).toBe('6983');
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('6983');
  });
});

describe('signature: MSE SET, PSO HASH, PSO COMPUTE DIGITAL SIGNATURE', () => {
  it('signs a SHA-256 hash (PKCS#1 v1.5 over DigestInfo) that node:crypto verifies with the certificate', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    const cert = new X509Certificate(readEf(c, CPS_FILES.signCertificate.sfi));
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    const message = 'FSE 000001 FICTIVE';
    const r = signHash(c, hashOf(message));
    expect(r.sw).toBe('9000');
    const sig = fromHex(r.data);
    expect(sig.length).toBe(256);
    expect(verify('sha256', Buffer.from(message), cert.publicKey, sig)).toBe(true);
    expect(verify('sha256', Buffer.from('other message'), cert.publicKey, sig)).toBe(false);
    // Not signed with the authentication key.
    const auth = new X509Certificate(readEf(c, CPS_FILES.authCertificate.sfi));
    expect(verify('sha256', Buffer.from(message), auth.publicKey, sig)).toBe(false);
  });

  it('accepts the hash under tag 80 too; the signature is deterministic', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    send(c, `0020008108${PIN_OK}`);
    const h = hashOf('lot 42');
    const a = signHash(c, h);
    expect(send(c, `002A90A0228020${toHex(h)}`).sw).toBe('9000');
    const b = send(c, '002A9E9A00');
    expect(b).toEqual(a);
  });

  it('status words: 6982 without PIN, 6985 without MSE or hash, 6A88 wrong key, 6A80 bad data, 6700 bad lengths, 6A86 bad P1P2', async () => {
    const c = await card('cps-medecin-generaliste');
    const h = toHex(hashOf('x'));
    expect(send(c, MSE_DST).sw).toBe('6985'); // application not selected
    send(c, SELECT_CPS);
    expect(send(c, `002A90A0229020${h}`).sw).toBe('6985'); // no MSE yet
    expect(send(c, '002A9E9A00').sw).toBe('6985');
    expect(send(c, '002241B603840101').sw).toBe('6A88'); // the auth key is not a signature key
    expect(send(c, '002241B603840109').sw).toBe('6A88');
    expect(send(c, '002241B606840102800112').sw).toBe('6A80'); // SHA-1 algorithm not offered
    expect(send(c, '002241B603830102').sw).toBe('6A80');
    expect(send(c, '002241B6038401').sw).toBe('6700'); // Lc does not match
    expect(send(c, '002241B60484020102').sw).toBe('6A80'); // key reference of 2 bytes
    expect(send(c, '002241B603800142').sw).toBe('6A80'); // no key reference
    expect(send(c, '002241B603840202').sw).toBe('6A80'); // truncated TLV
    expect(send(c, '002241B803840102').sw).toBe('6A86');
    expect(send(c, '002281B603840102').sw).toBe('6A86');
    expect(send(c, '002241B60384010200').sw).toBe('6700'); // Le on a case 3 command
    expect(send(c, '002241B603840102').sw).toBe('9000'); // algorithm defaults to 42
    expect(send(c, `002A90A021901F${h.slice(0, 62)}`).sw).toBe('6700'); // 31-byte hash
    expect(send(c, `002A90A0219020${h.slice(0, 62)}`).sw).toBe('6A80'); // TLV length overruns
    expect(send(c, `002A90A0229120${h}`).sw).toBe('6A80');
    expect(send(c, `002A90A0229020${h}00`).sw).toBe('6700');
    expect(send(c, `002A90A0229020${h}`).sw).toBe('9000');
    expect(send(c, '002A9E9A00').sw).toBe('6982'); // PIN not verified
    expect(send(c, '002A9E9B00').sw).toBe('6A86');
    expect(send(c, '002A808600').sw).toBe('6A86');
    send(c, `0020008108${PIN_OK}`);
    expect(send(c, '002A9E9A').sw).toBe('6700'); // no Le
    expect(send(c, `002A9E9A20${h}00`).sw).toBe('6700'); // data not accepted
    expect(send(c, '002A9E9A00').sw).toBe('9000');
    expect(send(c, '002A9E9A00').sw).toBe('6985'); // one hash, one signature
    // A new MSE SET drops a pending hash.
    expect(send(c, `002A90A0229020${h}`).sw).toBe('9000');
    expect(send(c, MSE_DST).sw).toBe('9000');
    expect(send(c, '002A9E9A00').sw).toBe('6985');
  });

  it('leaving the application drops the security environment like the PIN status', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    expect(send(c, MSE_DST).sw).toBe('9000');
    expect(send(c, '00A4000C023F00').sw).toBe('9000');
    send(c, SELECT_CPS);
    expect(send(c, `002A90A0229020${toHex(hashOf('w'))}`).sw).toBe('6985');
    // Re-selecting the application it is already in keeps both.
    send(c, `0020008108${PIN_OK}`);
    send(c, MSE_DST);
    send(c, SELECT_CPS);
    expect(send(c, `002A90A0229020${toHex(hashOf('w'))}`).sw).toBe('9000');
    expect(send(c, '002A9E9A00').sw).toBe('9000');
  });

  it('reset clears the security environment and the PIN status', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    send(c, `0020008108${PIN_OK}`);
    send(c, MSE_DST);
    c.reset();
    send(c, SELECT_CPS);
    expect(send(c, `002A90A0229020${toHex(hashOf('y'))}`).sw).toBe('6985');
    send(c, MSE_DST);
    send(c, `002A90A0229020${toHex(hashOf('y'))}`);
    expect(send(c, '002A9E9A00').sw).toBe('6982');
  });

  it('the blocked-PIN card refuses to sign until the PUK unblocks it', async () => {
    const c = await card('cps-pin-bloque');
    send(c, SELECT_CPS);
    expect(send(c, MSE_DST).sw).toBe('9000');
    expect(send(c, `002A90A0229020${toHex(hashOf('z'))}`).sw).toBe('9000');
    expect(send(c, '002A9E9A00').sw).toBe('6982');
    send(c, `002C018108${PUK_OK}`);
    send(c, `0020008108${PIN_OK}`);
    expect(send(c, '002A9E9A00').sw).toBe('9000');
  });

  it('T=0 card (kiné): PSO CDS with Le=00 returns the 256 bytes; INTERNAL AUTHENTICATE goes through 61xx / GET RESPONSE', async () => {
    const c = await card('cps-kine');
    expect(c.protocol).toBe('T=0');
    expect(send(c, SELECT_CPS.slice(0, -2)).sw).toMatch(/^61/);
    expect(send(c, '00C0000000').sw).toBe('9000');
    const pin = send(c, `0020008108${PIN_OK}`);
    expect(pin.sw).toBe('9000');
    const r = signHash(c, hashOf('kine'));
    expect(r.sw).toBe('9000');
    expect(r.data.length).toBe(512);
    const ia = send(c, `0088000020${'11'.repeat(32)}00`);
    expect(ia.sw).toBe('6100');
    const resp = send(c, '00C0000000');
    expect(resp.sw).toBe('9000');
    expect(resp.data.length).toBe(512);
  });
});

describe('INTERNAL AUTHENTICATE 00 88 00 00 and GET CHALLENGE', () => {
  it('signs a DigestInfo with the authentication key (PKCS#1 v1.5); with or without MSE SET AT', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    const auth = new X509Certificate(readEf(c, CPS_FILES.authCertificate.sfi));
    expect(send(c, `0020008108${PIN_OK}`).sw).toBe('9000');
    const challenge = send(c, '0084000008');
    expect(challenge.sw).toBe('9000');
    expect(challenge.data.length).toBe(16);
    const info = sha256DigestInfo(hashOf(challenge.data));
    const r = send(c, `0088000033${toHex(info)}00`);
    expect(r.sw).toBe('9000');
    expect(verify('sha256', Buffer.from(challenge.data), auth.publicKey, fromHex(r.data))).toBe(true);
    // Raw challenge (client-authentication style): the public key recovers it.
    expect(send(c, MSE_AT).sw).toBe('9000');
    const raw = send(c, `0088000008${challenge.data}00`);
    expect(raw.sw).toBe('9000');
    expect(toHex(publicDecrypt({ key: auth.publicKey, padding: constants.RSA_PKCS1_PADDING }, fromHex(raw.data)))).toBe(challenge.data);
  });

  it('status words: 6982 without PIN, 6A86 P1P2, 6700 no data / no Le / too long, 6A88 wrong key in MSE AT, 6985 outside the application', async () => {
    const c = await card('cps-medecin-generaliste');
    expect(send(c, '00880000041122334400').sw).toBe('6985');
    send(c, SELECT_CPS);
    expect(send(c, '00880000041122334400').sw).toBe('6982');
    send(c, `0020008108${PIN_OK}`);
    expect(send(c, '00880100041122334400').sw).toBe('6A86');
    expect(send(c, '00880000041122334400').sw).toBe('9000');
    expect(send(c, '0088000000').sw).toBe('6700');
    expect(send(c, '008800000411223344').sw).toBe('6700');
    expect(send(c, `00880000F6${'AB'.repeat(246)}00`).sw).toBe('6700');
    expect(send(c, '002241A403840102').sw).toBe('6A88');
    expect(send(c, '002241A406840101800142').sw).toBe('6A80');
  });

  it('GET CHALLENGE: Ne random bytes, 6A86 on P1P2, 6700 without Le', () => {
    medecin.reset();
    const a = send(medecin, '0084000010');
    const b = send(medecin, '0084000010');
    expect(a.sw).toBe('9000');
    expect(a.data.length).toBe(32);
    expect(a.data).not.toBe(b.data);
    expect(send(medecin, '0084010008').sw).toBe('6A86');
    expect(send(medecin, '00840000').sw).toBe('6700');
  });
});

describe('timing and robustness', () => {
  it('card-side processing: 200 ms for PSO CDS and INTERNAL AUTHENTICATE by default, 0 otherwise; profile override', async () => {
    expect(medecin.processingMs(fromHex('002A9E9A00'))).toBe(200);
    expect(medecin.processingMs(fromHex('00880000041122334400'))).toBe(200);
    expect(medecin.processingMs(fromHex('002A90A0229020'))).toBe(0);
    expect(medecin.processingMs(fromHex(SELECT_CPS))).toBe(0);
    const p = profileJson('cps-infirmiere');
    p.processingMs = { signature: 280, default: 3 };
    const c = await createCpsCard(p, profileFile('cps-infirmiere'), { keyDir: sharedKeyDir });
    expect(c.processingMs(fromHex('002A9E9A00'))).toBe(280);
    expect(c.processingMs(fromHex('00B0000000'))).toBe(3);
  });

  it('process() never throws and always answers a status word', () => {
    const c = medecin;
    c.reset();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), (apdu, selectFirst) => {
        if (selectFirst) send(c, SELECT_CPS);
        const r = c.process(apdu);
        expect(r).not.toBeNull();
        expect(r!.length).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 400 },
    );
  });
});

describe('profiles', () => {
  it('the expired profile has an expired signature certificate and a valid authentication one', async () => {
    const c = await card('cps-certificat-expire');
    send(c, SELECT_CPS);
    const sign = new X509Certificate(readEf(c, CPS_FILES.signCertificate.sfi));
    const auth = new X509Certificate(readEf(c, CPS_FILES.authCertificate.sfi));
    expect(new Date(sign.validTo).getTime()).toBeLessThan(Date.now());
    expect(new Date(sign.validTo).toISOString()).toBe('2022-01-01T00:00:00.000Z');
    expect(new Date(auth.validTo).getTime()).toBeGreaterThan(Date.now());
    // The card itself has no clock: it still signs, and the verifier is the one to refuse.
    send(c, `0020008108${PIN_OK}`);
    const r = signHash(c, hashOf('expired'));
    expect(r.sw).toBe('9000');
    expect(verify('sha256', Buffer.from('expired'), sign.publicKey, fromHex(r.data))).toBe(true);
  });

  it('loads through the registry (loadCard by profile name), which validates with the same schema', async () => {
    const { loadCard, cardProfiles } = await import('../../../emulator/cards/profiles.js');
    const listed = cardProfiles().filter((p) => p.kind === 'cps').map((p) => p.name).sort();
    expect(listed).toEqual([...PROFILES].sort());
    const c = await loadCard('cps-remplacant', sharedKeyDir);
    expect(c.kind).toBe('cps');
    expect(c.reset()[0]).toBe(0x3b);
    const { checkAllProfiles } = await import('../../../emulator/cards/registry.js');
    expect(checkAllProfiles().filter((e) => e.file.includes('/cps-')).map((e) => e.message)).toEqual([]);
  });

  it('a profile breaking the schema is refused with the file and the field (temp copies)', async () => {
    const cases: Array<[string, (p: Record<string, any>) => void, string, RegExp]> = [
      ['bad-id', (p) => (p.holder.id = '12AB'), '/holder/id', /pattern/],
      ['bad-luhn', (p) => (p.holder.id = '19999000012'), '/holder/id', /Luhn/],
      ['bad-pin', (p) => (p.pin.value = '12345'), '/pin/value', /pattern/],
      ['extra', (p) => (p.holder.age = 40), '/holder', /additional properties \(age\)/],
      ['no-situation', (p) => (p.situations = []), '/situations', /fewer than 1/],
      ['bad-key', (p) => (p.situations[0].billingNumber = '751990012'), '/situations/0/billingNumber', /key digit/],
      ['bad-flag', (p) => (p.situations[1].canSignLot = 'yes'), '/situations/1/canSignLot', /boolean/],
      ['dup-number', (p) => { p.situations[0].number = 2; }, '/situations/1/number', /used twice/],
      ['bad-date', (p) => (p.certificates = { signature: { notBefore: '2022-01-01', notAfter: '2021-01-01' } }), '/certificates/signature/notAfter', /after notBefore/],
      ['bad-ms', (p) => (p.processingMs = { signature: -1 }), '/processingMs/signature', />= 0/],
    ];
    for (const [name, mutate, field, reason] of cases) {
      const file = join(work, `cps-broken-${name}.json`);
      cpSync(profileFile('cps-medecin-generaliste'), file);
      const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
      mutate(data);
      writeFileSync(file, JSON.stringify(data, null, 2));
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      let err: unknown;
      try {
        checkCpsProfile(parsed, file);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(CardProfileError);
      const e = err as CardProfileError;
      expect(e.file, name).toBe(file);
      expect(e.field, name).toBe(field);
      expect(e.reason, name).toMatch(reason);
      expect(e.message).toContain(file);
      // The model's factory refuses it the same way, before any key is touched.
      await expect(cpsModel.createAsync!(parsed, file, { keyDir: join(work, 'never-created') }), name).rejects.toBeInstanceOf(CardProfileError);
    }
  });

  it('billing number key and RPPS key are Luhn (documented choice)', () => {
    expect(luhnDigit('7992739871')).toBe(3);
    expect(billingNumberKey('75199001')).toBe(1);
    expect(() => billingNumberKey('7519900')).toThrow(/8 digits/);
  });
});

describe('openssl agrees', () => {
  beforeAll(() => assertOpenssl());
  it('verifies the CPS certificates through AC PROFESSIONNELS DE SANTE TEST to the root, and the card signature', async () => {
    const c = await card('cps-medecin-generaliste');
    send(c, SELECT_CPS);
    const dir = join(work, 'openssl');
    cpSync(join(sharedKeyDir, 'pki'), dir, { recursive: true, filter: (src) => !src.includes('identities') });
    const signCert = new X509Certificate(readEf(c, CPS_FILES.signCertificate.sfi));
    const authCert = new X509Certificate(readEf(c, CPS_FILES.authCertificate.sfi));
    const intermediate = new X509Certificate(readEf(c, CPS_FILES.caCertificate.sfi));
    writeFileSync(join(dir, 'intermediate.pem'), intermediate.toString());
    writeFileSync(join(dir, 'sign.pem'), signCert.toString());
    writeFileSync(join(dir, 'auth.pem'), authCert.toString());
    for (const leaf of ['sign.pem', 'auth.pem']) {
      const v = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'intermediate.pem'), join(dir, leaf)]);
      expect(v.ok, v.out).toBe(true);
      expect(v.out).toContain(': OK');
    }

    send(c, `0020008108${PIN_OK}`);
    const message = 'LOT 000042 FICTIF\n';
    const r = signHash(c, hashOf(message));
    expect(r.sw).toBe('9000');
    writeFileSync(join(dir, 'message.txt'), message);
    writeFileSync(join(dir, 'message.sig'), fromHex(r.data));
    writeFileSync(join(dir, 'sign-pub.pem'), signCert.publicKey.export({ type: 'spki', format: 'pem' }));
    const dgst = openssl(['dgst', '-sha256', '-verify', join(dir, 'sign-pub.pem'), '-signature', join(dir, 'message.sig'), join(dir, 'message.txt')]);
    expect(dgst.ok, dgst.out).toBe(true);
    expect(dgst.out).toContain('Verified OK');
    // pkeyutl checks the PKCS#1 v1.5 block against the hash itself (what the card was given).
    writeFileSync(join(dir, 'message.sha256'), hashOf(message));
    const pkeyutl = openssl(['pkeyutl', '-verify', '-certin', '-inkey', join(dir, 'sign.pem'), '-pkeyopt', 'digest:sha256', '-in', join(dir, 'message.sha256'), '-sigfile', join(dir, 'message.sig')]);
    expect(pkeyutl.out).toContain('Signature Verified Successfully');
    writeFileSync(join(dir, 'tampered.txt'), `${message}x`);
    const bad = openssl(['dgst', '-sha256', '-verify', join(dir, 'sign-pub.pem'), '-signature', join(dir, 'message.sig'), join(dir, 'tampered.txt')]);
    expect(bad.ok).toBe(false);
  });

  it('reports the expired profile\'s signature certificate as expired', async () => {
    const c = await card('cps-certificat-expire');
    send(c, SELECT_CPS);
    const dir = join(work, 'openssl-expired');
    cpSync(join(sharedKeyDir, 'pki'), dir, { recursive: true, filter: (src) => !src.includes('identities') });
    writeFileSync(join(dir, 'intermediate.pem'), new X509Certificate(readEf(c, CPS_FILES.caCertificate.sfi)).toString());
    writeFileSync(join(dir, 'sign.pem'), new X509Certificate(readEf(c, CPS_FILES.signCertificate.sfi)).toString());
    const v = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'intermediate.pem'), join(dir, 'sign.pem')]);
    expect(v.ok).toBe(false);
    expect(v.out).toContain('certificate has expired');
  });
});
