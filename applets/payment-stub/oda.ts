/**
 * Offline data authentication (EMV Book 2 §5 SDA, §6 DDA): recover the issuer public key from its
 * certificate with the CA key, then verify the signed static data (SDA) or recover the ICC public key
 * and verify the INTERNAL AUTHENTICATE signature over the DDOL data (DDA). RSA with message recovery
 * is the bare public operation (BigInt), SHA-1 is the platform's. A failure sets TVR bits; it never
 * ends the transaction by itself (terminal action analysis decides).
 */
import { bytesEqual, concatBytes, fromHex, toHex } from '../../platform/sdk/hex.js';
import { childMap, parseCardTlv } from './card.js';
import { terminalValue, type Tx } from './context.js';
import { buildDolData, parseDol } from './dol.js';
import { cnDigits } from './util.js';

export interface CaKey {
  rid: string;
  index: number;
  modulus: Uint8Array;
  exponent: Uint8Array;
}

export type OdaOutcome = { method: 'sda' | 'dda' | 'none'; ok: boolean; reason?: string };

function toBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`);
}

function fromBig(n: bigint, length: number): Uint8Array {
  const hex = n.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new RangeError('integer longer than the modulus');
  return fromHex(hex);
}

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** The RSA public operation; null when the signature is not smaller than the modulus. */
export function rsaRecover(signature: Uint8Array, modulus: Uint8Array, exponent: Uint8Array): Uint8Array | null {
  const n = toBig(modulus);
  const s = toBig(signature);
  if (signature.length !== modulus.length || s >= n || n === 0n) return null;
  return fromBig(modPow(s, toBig(exponent), n), modulus.length);
}

async function sha1(...parts: Uint8Array[]): Promise<Uint8Array> {
  return platform.crypto.digest('SHA-1', concatBytes(...parts));
}

/** MMYY of a certificate is still valid on the transaction date (valid through the end of that month). */
function certStillValid(mmyy: Uint8Array, txDate: string): boolean {
  const h = toHex(mmyy);
  if (!/^\d{4}$/.test(h)) return false;
  const mm = Number(h.slice(0, 2));
  if (mm < 1 || mm > 12) return false;
  const yy = Number(h.slice(2, 4));
  const cert = (yy < 50 ? 2000 + yy : 1900 + yy) * 100 + mm;
  const ty = Number(txDate.slice(0, 2));
  const now = (ty < 50 ? 2000 + ty : 1900 + ty) * 100 + Number(txDate.slice(2, 4));
  return cert >= now;
}

class OdaFail extends Error {
  constructor(
    readonly missing: boolean,
    reason: string,
  ) {
    super(reason);
  }
}

/** Book 2 §5.3: issuer public key from 90 (+92, 9F32) with the CA key named by 8F and the RID. */
async function recoverIssuerKey(tx: Tx, caKeys: readonly CaKey[], pan: string): Promise<{ modulus: Uint8Array; exponent: Uint8Array }> {
  const index = tx.card.get(0x8f);
  const cert = tx.card.get(0x90);
  const exp = tx.card.get(0x9f32);
  if (!index || index.length !== 1 || !cert || !exp) throw new OdaFail(true, 'issuer certificate data missing (8F, 90 or 9F32)');
  const rid = toHex(tx.app!.adf.subarray(0, 5));
  const ca = caKeys.find((k) => k.rid === rid && k.index === index[0]);
  if (!ca) throw new OdaFail(false, `no CA public key ${rid}/${toHex(index)}`);
  const rec = rsaRecover(cert, ca.modulus, ca.exponent);
  const n = ca.modulus.length;
  if (!rec || rec[0] !== 0x6a || rec[1] !== 0x02 || rec[n - 1] !== 0xbc) throw new OdaFail(false, 'issuer certificate does not recover (header, format or trailer)');
  const keyLen = rec[13]!;
  const inCert = rec.subarray(15, n - 21);
  const remainder = tx.card.get(0x92) ?? new Uint8Array(0);
  if (keyLen > inCert.length && remainder.length !== keyLen - inCert.length) throw new OdaFail(true, 'issuer public key remainder (92) missing or of the wrong length');
  const hash = await sha1(rec.subarray(1, n - 21), remainder, exp);
  if (!bytesEqual(hash, rec.subarray(n - 21, n - 1))) throw new OdaFail(false, 'issuer certificate hash mismatch');
  const issuerId = cnDigits(rec.subarray(2, 6));
  if (issuerId === null || issuerId.length < 3 || !pan.startsWith(issuerId)) throw new OdaFail(false, 'issuer identifier does not match the PAN');
  if (!certStillValid(rec.subarray(6, 8), tx.date)) throw new OdaFail(false, 'issuer certificate expired');
  if (rec[11] !== 0x01 || rec[12] !== 0x01) throw new OdaFail(false, 'issuer certificate algorithm indicators not recognised');
  const modulus = keyLen <= inCert.length ? inCert.slice(0, keyLen) : concatBytes(inCert, remainder);
  return { modulus, exponent: exp };
}

/** The data signed by the issuer (Book 3 §10.3): ODA records, then the SDA tag list values (AIP only). */
function staticData(tx: Tx, aip: Uint8Array): Uint8Array | null {
  if (tx.odaDataBroken) return null;
  const list = tx.card.get(0x9f4a);
  if (list && !(list.length === 1 && list[0] === 0x82)) return null;
  return concatBytes(...tx.odaRecords, ...(list ? [aip] : []));
}

async function sda(tx: Tx, caKeys: readonly CaKey[], pan: string, aip: Uint8Array): Promise<void> {
  const ssad = tx.card.get(0x93);
  if (!ssad) throw new OdaFail(true, 'signed static application data (93) missing');
  const issuer = await recoverIssuerKey(tx, caKeys, pan);
  const rec = rsaRecover(ssad, issuer.modulus, issuer.exponent);
  const n = issuer.modulus.length;
  if (!rec || rec[0] !== 0x6a || rec[1] !== 0x03 || rec[n - 1] !== 0xbc || rec[2] !== 0x01) throw new OdaFail(false, 'signed static data does not recover');
  const data = staticData(tx, aip);
  if (!data) throw new OdaFail(false, 'static data to authenticate is malformed');
  const hash = await sha1(rec.subarray(1, n - 21), data);
  if (!bytesEqual(hash, rec.subarray(n - 21, n - 1))) throw new OdaFail(false, 'signed static data hash mismatch');
  tx.extra.set(0x9f45, rec.slice(3, 5));
}

async function dda(tx: Tx, caKeys: readonly CaKey[], pan: string, aip: Uint8Array): Promise<void> {
  const cert = tx.card.get(0x9f46);
  const exp = tx.card.get(0x9f47);
  if (!cert || !exp) throw new OdaFail(true, 'ICC public key certificate data missing (9F46, 9F47)');
  const issuer = await recoverIssuerKey(tx, caKeys, pan);
  const n = issuer.modulus.length;
  const rec = rsaRecover(cert, issuer.modulus, issuer.exponent);
  if (!rec || rec[0] !== 0x6a || rec[1] !== 0x04 || rec[n - 1] !== 0xbc) throw new OdaFail(false, 'ICC certificate does not recover');
  const data = staticData(tx, aip);
  if (!data) throw new OdaFail(false, 'static data to authenticate is malformed');
  const keyLen = rec[19]!;
  const inCert = rec.subarray(21, n - 21);
  const remainder = tx.card.get(0x9f48) ?? new Uint8Array(0);
  if (keyLen > inCert.length && remainder.length !== keyLen - inCert.length) throw new OdaFail(true, 'ICC public key remainder (9F48) missing or of the wrong length');
  const hash = await sha1(rec.subarray(1, n - 21), remainder, exp, data);
  if (!bytesEqual(hash, rec.subarray(n - 21, n - 1))) throw new OdaFail(false, 'ICC certificate hash mismatch');
  if (cnDigits(rec.subarray(2, 12)) !== pan) throw new OdaFail(false, 'ICC certificate is for another PAN');
  if (!certStillValid(rec.subarray(12, 14), tx.date)) throw new OdaFail(false, 'ICC certificate expired');
  if (rec[17] !== 0x01 || rec[18] !== 0x01) throw new OdaFail(false, 'ICC certificate algorithm indicators not recognised');
  const iccModulus = keyLen <= inCert.length ? inCert.slice(0, keyLen) : concatBytes(inCert, remainder);

  // Book 2 §6.5: INTERNAL AUTHENTICATE with the DDOL (card's, else the terminal default).
  const ddolBytes = tx.card.get(0x9f49) ?? fromHex(tx.app!.terminal.ddol);
  const ddol = parseDol(ddolBytes, 'DDOL');
  if (!ddol.some((e) => e.tag === 0x9f37)) throw new OdaFail(false, 'DDOL without the unpredictable number');
  const ddolData = buildDolData(ddol, (t) => terminalValue(tx, t));
  const r = await tx.channel.send(0x00, 0x88, 0x00, 0x00, ddolData);
  if (r.sw !== 0x9000) throw new OdaFail(false, `INTERNAL AUTHENTICATE refused (${r.sw.toString(16)})`);
  const nodes = parseCardTlv(r.data, 'INTERNAL AUTHENTICATE response');
  const top = nodes[0];
  let sdad: Uint8Array | undefined;
  if (nodes.length === 1 && top?.tag === 0x80) sdad = top.value;
  else if (nodes.length === 1 && top?.tag === 0x77) sdad = childMap(top, 'INTERNAL AUTHENTICATE response').get(0x9f4b)?.value;
  if (!sdad) throw new OdaFail(true, 'signed dynamic application data missing');
  const m = iccModulus.length;
  const dyn = rsaRecover(sdad, iccModulus, exp);
  if (!dyn || dyn[0] !== 0x6a || dyn[1] !== 0x05 || dyn[m - 1] !== 0xbc || dyn[2] !== 0x01) throw new OdaFail(false, 'signed dynamic data does not recover');
  const ldd = dyn[3]!;
  if (4 + ldd > m - 21) throw new OdaFail(false, 'dynamic data length out of range');
  const dynHash = await sha1(dyn.subarray(1, m - 21), ddolData);
  if (!bytesEqual(dynHash, dyn.subarray(m - 21, m - 1))) throw new OdaFail(false, 'signed dynamic data hash mismatch');
  if (ldd >= 1) {
    const nLen = dyn[4]!;
    if (nLen >= 2 && nLen <= 8 && nLen <= ldd - 1) tx.extra.set(0x9f4c, dyn.slice(5, 5 + nLen));
  }
}

/** Book 3 §10.3: DDA when both support it, else SDA, else "ODA not performed". */
export async function offlineDataAuthentication(tx: Tx, aip: Uint8Array, pan: string, caKeys: () => Promise<readonly CaKey[]>): Promise<OdaOutcome> {
  const cardDda = (aip[0]! & 0x20) !== 0;
  const cardSda = (aip[0]! & 0x40) !== 0;
  const method = cardDda ? 'dda' : cardSda ? 'sda' : 'none';
  if (method === 'none') {
    tx.tvr.set('odaNotPerformed');
    return { method, ok: false, reason: 'card supports no ODA method this terminal has' };
  }
  tx.tsi.set('odaPerformed');
  if (method === 'sda') tx.tvr.set('sdaSelected');
  try {
    const keys = await caKeys();
    if (method === 'dda') await dda(tx, keys, pan, aip);
    else await sda(tx, keys, pan, aip);
    return { method, ok: true };
  } catch (err) {
    if (!(err instanceof OdaFail)) throw err;
    if (err.missing) tx.tvr.set('iccDataMissing');
    tx.tvr.set(method === 'dda' ? 'ddaFailed' : 'sdaFailed');
    return { method, ok: false, reason: err.message };
  }
}
