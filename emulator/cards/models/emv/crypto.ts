/**
 * EMV cryptography for the emulated card AND for the emulated issuer host (the payment acquirer
 * stub imports the issuer-side functions: ARQC verification, ARPC generation). The issuer master
 * key is the emulator's test key, so exporting these is the issuer's side of the protocol, not a
 * card secret leaking to applets.
 *
 * Symmetric part (EMV Book 2 §8, Annex A1):
 * - ICC master key: Annex A1.4.1 Option A (3DES of the rightmost 16 digits of PAN ‖ PSN).
 * - Session key: Annex A1.3 common session key derivation with R = ATC ‖ 00 00 00 00 00 00.
 * - AC: ISO/IEC 9797-1 MAC algorithm 3 (single DES CBC, final 3DES), padding method 2, 8 bytes.
 * - ARPC: method 1 (§8.2.1), 3DES(SK_AC)[ARQC ⊕ (ARC ‖ 00…00)].
 * - MAC input of this emulator's CVN (documented in docs/cards/emv.md):
 *   DOL data as sent by the terminal ‖ AIP ‖ ATC ‖ CVR (IAD bytes 4–7: CVR length 03 + 3 CVR bytes).
 *
 * Asymmetric part (Book 2 §5, §6, Annex A2.1): EMV signs with ISO/IEC 9796-2 "message recovery":
 * the signer formats the whole block (header 6A … trailer BC, SHA-1 inside) and applies the raw RSA
 * private operation; the verifier applies the raw public operation and reads the block back. That
 * is not PKCS#1 (no 00 01 FF… padding, no DigestInfo), so node's sign()/verify() cannot be used:
 * we call privateEncrypt/publicDecrypt with RSA_NO_PADDING, i.e. plain modular exponentiation.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  privateEncrypt,
  publicDecrypt,
  timingSafeEqual,
  createPublicKey,
  type KeyObject,
} from 'node:crypto';
import { concatBytes } from '../../../../platform/sdk/hex.js';

// ---- DES building blocks ----------------------------------------------------------------------

function checkKey(key: Uint8Array, what: string): void {
  if (key.length !== 16) throw new RangeError(`${what}: a double-length 3DES key has 16 bytes, got ${key.length}`);
}

function checkBlock(block: Uint8Array, what: string): void {
  if (block.length !== 8) throw new RangeError(`${what}: a DES block has 8 bytes, got ${block.length}`);
}

/** 3DES (EDE, K1 K2 K1) of one block. */
export function des3EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  checkKey(key, 'des3EncryptBlock');
  checkBlock(block, 'des3EncryptBlock');
  const c = createCipheriv('des-ede', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

/**
 * Single DES through 3DES with K1 = K2 = K3: OpenSSL 3 keeps plain DES in its legacy provider,
 * which Node does not load; EDE with three equal keys is DES.
 */
function singleDesKey(k: Uint8Array): Uint8Array {
  return concatBytes(k, k, k);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Set each byte's least significant bit so the byte has odd parity (the DES key convention). */
export function withOddParity(key: Uint8Array): Uint8Array {
  const out = key.slice();
  for (let i = 0; i < out.length; i++) {
    const b = out[i]! & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    out[i] = ones % 2 === 0 ? b | 1 : b;
  }
  return out;
}

/** ISO/IEC 9797-1 padding method 2: 80 then 00 up to a multiple of 8 (always at least one byte). */
export function padMethod2(data: Uint8Array): Uint8Array {
  const len = (Math.floor(data.length / 8) + 1) * 8;
  const out = new Uint8Array(len);
  out.set(data, 0);
  out[data.length] = 0x80;
  return out;
}

/** ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with DES, padding method 2, full 8-byte MAC. */
export function retailMac(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkKey(key, 'retailMac');
  const padded = padMethod2(data);
  const kl = key.subarray(0, 8);
  const kr = key.subarray(8, 16);
  const c = createCipheriv('des-ede3-cbc', singleDesKey(kl), Buffer.alloc(8));
  c.setAutoPadding(false);
  const cbc = Buffer.concat([c.update(padded), c.final()]);
  const last = new Uint8Array(cbc.subarray(cbc.length - 8));
  const d = createDecipheriv('des-ede3', singleDesKey(kr), null);
  d.setAutoPadding(false);
  const mid = Buffer.concat([d.update(last), d.final()]);
  const e = createCipheriv('des-ede3', singleDesKey(kl), null);
  e.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([e.update(mid), e.final()]));
}

// ---- key derivation ---------------------------------------------------------------------------

function digitsToBcd(digits: string): Uint8Array {
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checkPan(pan: string): void {
  // The PAN itself is never quoted in an error.
  if (!/^[0-9]{12,19}$/.test(pan)) throw new RangeError(`PAN must be 12 to 19 decimal digits (got ${pan.length} characters)`);
}

function checkPsn(psn: number): void {
  if (!Number.isInteger(psn) || psn < 0 || psn > 99) throw new RangeError(`PAN sequence number must be 0..99, got ${String(psn)}`);
}

function checkAtc(atc: number): void {
  if (!Number.isInteger(atc) || atc < 0 || atc > 0xffff) throw new RangeError(`ATC must be 0..65535, got ${String(atc)}`);
}

/**
 * EMV Book 2 Annex A1.4.1, Option A: Y = rightmost 16 digits of PAN ‖ PSN (left-padded with 0 when
 * shorter), MK = 3DES(IMK)[Y] ‖ 3DES(IMK)[Y ⊕ FF…FF], with odd parity.
 */
export function deriveIccMasterKey(imk: Uint8Array, pan: string, psn: number): Uint8Array {
  checkKey(imk, 'deriveIccMasterKey');
  checkPan(pan);
  checkPsn(psn);
  const digits = (pan + psn.toString().padStart(2, '0')).padStart(16, '0').slice(-16);
  const y = digitsToBcd(digits);
  const zl = des3EncryptBlock(imk, y);
  const zr = des3EncryptBlock(imk, xor(y, new Uint8Array(8).fill(0xff)));
  return withOddParity(concatBytes(zl, zr));
}

/**
 * EMV Book 2 Annex A1.3 common session key derivation for an 8-byte diversification value R:
 * SK = 3DES(MK)[R0 R1 F0 R3..R7] ‖ 3DES(MK)[R0 R1 0F R3..R7], odd parity.
 */
export function commonSessionKey(masterKey: Uint8Array, r: Uint8Array): Uint8Array {
  checkKey(masterKey, 'commonSessionKey');
  checkBlock(r, 'commonSessionKey diversification value');
  const f1 = r.slice();
  const f2 = r.slice();
  f1[2] = 0xf0;
  f2[2] = 0x0f;
  return withOddParity(concatBytes(des3EncryptBlock(masterKey, f1), des3EncryptBlock(masterKey, f2)));
}

/** The AC session key: common session key derivation with R = ATC ‖ 00 00 00 00 00 00 (Book 2 §8.1.1). */
export function deriveAcSessionKey(iccMasterKey: Uint8Array, atc: number): Uint8Array {
  checkAtc(atc);
  return commonSessionKey(iccMasterKey, Uint8Array.of(atc >> 8, atc & 0xff, 0, 0, 0, 0, 0, 0));
}

// ---- application cryptogram -------------------------------------------------------------------

/** Issuer Application Data layout of this emulator: 06 ‖ DKI ‖ CVN ‖ 03 ‖ CVR (3 bytes). */
export const EMV_IAD_LENGTH = 7;
/** Cryptogram version number of this emulator's AC algorithm (emulator-defined, see docs/cards/emv.md). */
export const EMV_CVN = 0xe1;
/** Derivation key index: which issuer master key (there is one). */
export const EMV_DKI = 0x01;

/**
 * The exact bytes MACed for an AC: the CDOL1 (first GENERATE AC) or CDOL2 (second) data as the
 * terminal sent it ‖ AIP (2) ‖ ATC (2) ‖ CVR as carried in IAD bytes 4–7.
 */
export function acMacInput(dolData: Uint8Array, aip: Uint8Array, atc: number, iad: Uint8Array): Uint8Array {
  if (aip.length !== 2) throw new RangeError(`AIP has 2 bytes, got ${aip.length}`);
  checkAtc(atc);
  if (iad.length < EMV_IAD_LENGTH || iad[0] !== 0x06 || iad[3] !== 0x03) {
    throw new RangeError(`IAD is not this emulator's layout (06 DKI CVN 03 CVR): ${iad.length} bytes`);
  }
  return concatBytes(dolData, aip, Uint8Array.of(atc >> 8, atc & 0xff), iad.subarray(3, 7));
}

export interface AcKeyInput {
  /** Issuer master key for AC (16 bytes), from loadEmvIssuerKeys(). */
  imk: Uint8Array;
  pan: string;
  panSequenceNumber: number;
  atc: number;
}

export function acSessionKey(p: AcKeyInput): Uint8Array {
  return deriveAcSessionKey(deriveIccMasterKey(p.imk, p.pan, p.panSequenceNumber), p.atc);
}

/** The 8-byte application cryptogram (ARQC, TC or AAC: the algorithm is the same). */
export function computeApplicationCryptogram(p: AcKeyInput & { input: Uint8Array }): Uint8Array {
  return retailMac(acSessionKey(p), p.input);
}

/** Issuer side: does the ARQC match the data? Constant-time comparison. */
export function verifyArqc(p: AcKeyInput & { input: Uint8Array; arqc: Uint8Array }): boolean {
  if (p.arqc.length !== 8) return false;
  return timingSafeEqual(computeApplicationCryptogram(p), p.arqc);
}

function checkArc(arc: Uint8Array): void {
  if (arc.length !== 2) throw new RangeError(`ARC (tag 8A) has 2 bytes, got ${arc.length}`);
}

/** ARPC method 1 with the session key of the ARQC: 3DES(SK_AC)[ARQC ⊕ (ARC ‖ 00 00 00 00 00 00)]. */
export function arpcWithSessionKey(sessionKey: Uint8Array, arqc: Uint8Array, arc: Uint8Array): Uint8Array {
  checkBlock(arqc, 'ARQC');
  checkArc(arc);
  return des3EncryptBlock(sessionKey, xor(arqc, Uint8Array.of(arc[0]!, arc[1]!, 0, 0, 0, 0, 0, 0)));
}

/** Issuer side: the ARPC for an (already verified) ARQC and the chosen ARC. */
export function generateArpc(p: AcKeyInput & { arqc: Uint8Array; arc: Uint8Array }): Uint8Array {
  return arpcWithSessionKey(acSessionKey(p), p.arqc, p.arc);
}

/** Issuer Authentication Data (tag 91) for ARPC method 1: ARPC ‖ ARC, what the card expects in CDOL2. */
export function issuerAuthenticationData(arpc: Uint8Array, arc: Uint8Array): Uint8Array {
  checkBlock(arpc, 'ARPC');
  checkArc(arc);
  return concatBytes(arpc, arc);
}

/** Card side: check an ARPC received in tag 91. Constant-time. */
export function checkArpc(sessionKey: Uint8Array, arqc: Uint8Array, arc: Uint8Array, arpc: Uint8Array): boolean {
  if (arpc.length !== 8) return false;
  return timingSafeEqual(arpcWithSessionKey(sessionKey, arqc, arc), arpc);
}

// ---- RSA with message recovery ------------------------------------------------------------------

export interface RsaPublicKey {
  modulus: Uint8Array;
  exponent: Uint8Array;
}

/** The raw RSA private operation (ISO/IEC 9796-2 signing after the caller formatted the block). */
export function rsaSignRaw(privateKey: KeyObject, block: Uint8Array): Uint8Array {
  return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block));
}

function bigFrom(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bytesOf(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The raw RSA public operation ("recovery"): signature^e mod n. Written with BigInt so it takes the
 * modulus and exponent exactly as a terminal reads them from tags 90/92/9F32 or a CA key table.
 */
export function rsaRecover(key: RsaPublicKey, signature: Uint8Array): Uint8Array {
  if (signature.length !== key.modulus.length) {
    throw new RangeError(`signature of ${signature.length} bytes for a ${key.modulus.length}-byte modulus`);
  }
  const n = bigFrom(key.modulus);
  const s = bigFrom(signature);
  if (s >= n) throw new RangeError('signature is not smaller than the modulus');
  let e = bigFrom(key.exponent);
  let base = s;
  let r = 1n;
  while (e > 0n) {
    if (e & 1n) r = (r * base) % n;
    base = (base * base) % n;
    e >>= 1n;
  }
  return bytesOf(r, key.modulus.length);
}

export function publicKeyParts(key: KeyObject): RsaPublicKey {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') throw new Error('not an RSA key');
  return { modulus: new Uint8Array(Buffer.from(jwk.n, 'base64url')), exponent: new Uint8Array(Buffer.from(jwk.e, 'base64url')) };
}

export function sha1(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** MMYY in BCD, as certificate expiration dates are written. */
export function mmyy(year: number, month: number): Uint8Array {
  return digitsToBcd(month.toString().padStart(2, '0') + (year % 100).toString().padStart(2, '0'));
}

/** Digits right-padded with F nibbles to `len` bytes (issuer identifier, application PAN in certificates). */
export function digitsPaddedF(digits: string, len: number): Uint8Array {
  if (!/^[0-9]*$/.test(digits) || digits.length > 2 * len) throw new RangeError(`${digits.length} digits do not fit ${len} bytes`);
  return digitsToBcd(digits.padEnd(2 * len, 'F'));
}

function block(n: number, ...parts: Uint8Array[]): Uint8Array {
  const b = concatBytes(...parts);
  if (b.length !== n) throw new Error(`EMV recovered data of ${b.length} bytes for a ${n}-byte modulus`);
  return b;
}

interface PkSplit {
  field: Uint8Array;
  remainder: Uint8Array;
}

/** The modulus part held in a certificate of `room` bytes (padded with BB) and the remainder. */
function splitModulus(modulus: Uint8Array, room: number): PkSplit {
  if (modulus.length <= room) {
    const field = new Uint8Array(room).fill(0xbb);
    field.set(modulus, 0);
    return { field, remainder: new Uint8Array(0) };
  }
  return { field: modulus.slice(0, room), remainder: modulus.slice(room) };
}

export interface IssuerCertificateInput {
  caPrivateKey: KeyObject;
  caModulusLength: number;
  issuerKey: RsaPublicKey;
  /** Leftmost 3–8 PAN digits. */
  issuerIdentifier: string;
  expiry: { year: number; month: number };
  serial: Uint8Array;
}

/** Book 2 §5.3 table 6: Issuer Public Key Certificate (tag 90) and remainder (tag 92). */
export function makeIssuerCertificate(p: IssuerCertificateInput): { certificate: Uint8Array; remainder: Uint8Array } {
  const nca = p.caModulusLength;
  if (p.issuerKey.modulus.length > nca) throw new RangeError('issuer modulus longer than the CA modulus');
  const { field, remainder } = splitModulus(p.issuerKey.modulus, nca - 36);
  const head = concatBytes(
    Uint8Array.of(0x02),
    digitsPaddedF(p.issuerIdentifier, 4),
    mmyy(p.expiry.year, p.expiry.month),
    p.serial,
    Uint8Array.of(0x01, 0x01, p.issuerKey.modulus.length, p.issuerKey.exponent.length),
    field,
  );
  const hash = sha1(head, remainder, p.issuerKey.exponent);
  const data = block(nca, Uint8Array.of(0x6a), head, hash, Uint8Array.of(0xbc));
  return { certificate: rsaSignRaw(p.caPrivateKey, data), remainder };
}

export interface IccCertificateInput {
  issuerPrivateKey: KeyObject;
  issuerModulusLength: number;
  iccKey: RsaPublicKey;
  pan: string;
  expiry: { year: number; month: number };
  serial: Uint8Array;
  staticData: Uint8Array;
}

/** Book 2 §6.4 table 14: ICC Public Key Certificate (tag 9F46) and remainder (tag 9F48). */
export function makeIccCertificate(p: IccCertificateInput): { certificate: Uint8Array; remainder: Uint8Array } {
  const ni = p.issuerModulusLength;
  if (p.iccKey.modulus.length > ni) throw new RangeError('ICC modulus longer than the issuer modulus');
  const { field, remainder } = splitModulus(p.iccKey.modulus, ni - 42);
  const head = concatBytes(
    Uint8Array.of(0x04),
    digitsPaddedF(p.pan, 10),
    mmyy(p.expiry.year, p.expiry.month),
    p.serial,
    Uint8Array.of(0x01, 0x01, p.iccKey.modulus.length, p.iccKey.exponent.length),
    field,
  );
  const hash = sha1(head, remainder, p.iccKey.exponent, p.staticData);
  const data = block(ni, Uint8Array.of(0x6a), head, hash, Uint8Array.of(0xbc));
  return { certificate: rsaSignRaw(p.issuerPrivateKey, data), remainder };
}

/** Book 2 §5.4 table 7: Signed Static Application Data (tag 93), format 03. */
export function makeSignedStaticData(issuerPrivateKey: KeyObject, issuerModulusLength: number, dac: Uint8Array, staticData: Uint8Array): Uint8Array {
  if (dac.length !== 2) throw new RangeError(`Data Authentication Code has 2 bytes, got ${dac.length}`);
  const head = concatBytes(Uint8Array.of(0x03, 0x01), dac, new Uint8Array(issuerModulusLength - 26).fill(0xbb));
  const hash = sha1(head, staticData);
  return rsaSignRaw(issuerPrivateKey, block(issuerModulusLength, Uint8Array.of(0x6a), head, hash, Uint8Array.of(0xbc)));
}

/** Book 2 §6.5 table 17: Signed Dynamic Application Data, format 05, over the DDOL data. */
export function makeSignedDynamicData(iccPrivateKey: KeyObject, iccModulusLength: number, iccDynamicData: Uint8Array, terminalData: Uint8Array): Uint8Array {
  const ldd = iccDynamicData.length;
  if (ldd > iccModulusLength - 25) throw new RangeError(`ICC dynamic data of ${ldd} bytes does not fit`);
  const head = concatBytes(Uint8Array.of(0x05, 0x01, ldd), iccDynamicData, new Uint8Array(iccModulusLength - ldd - 25).fill(0xbb));
  const hash = sha1(head, terminalData);
  return rsaSignRaw(iccPrivateKey, block(iccModulusLength, Uint8Array.of(0x6a), head, hash, Uint8Array.of(0xbc)));
}
