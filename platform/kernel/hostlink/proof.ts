/**
 * The pairing proofs of the TLA host link (wire/hostlink.ts), shared by the device (kernel) and the
 * practice computer (tla/): both compute the same key from the code shown on the device screen and
 * the two certificates' fingerprints, so a relay between them (a third TLS endpoint, hence another
 * fingerprint on one side) cannot produce a proof that matches.
 */
import { createHash, createHmac, scrypt, timingSafeEqual } from 'node:crypto';
import { PAIR_SALT_PREFIX, PAIR_SCRYPT } from '../../wire/hostlink.js';

/** SHA-256 of a DER certificate, lower-case hex: the identity of either end of the link. */
export function certFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The 32 raw bytes of a fingerprint given as hex (64 characters) or already raw. */
export function fingerprintBytes(fp: Uint8Array | string): Uint8Array {
  if (typeof fp !== 'string') {
    if (fp.length !== 32) throw new TypeError(`fingerprint: expected 32 raw bytes, got ${fp.length}`);
    return fp;
  }
  if (!/^[0-9a-fA-F]{64}$/.test(fp)) throw new TypeError('fingerprint: expected 64 hexadecimal characters (SHA-256)');
  return new Uint8Array(Buffer.from(fp, 'hex'));
}

/** "AB12 CD34 EF56 7890": the first 8 bytes of a fingerprint, as the device screen shows it. */
export function shortFingerprint(fp: string): string {
  return (fp.slice(0, 16).toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}

/** How the audit names a host: its short fingerprint, or '(no certificate)' when it presented none (''). */
export function hostLabel(fp: string): string {
  return fp ? shortFingerprint(fp) : '(no certificate)';
}

/** The code as typed, without spaces ("1234 5678" -> "12345678"). */
export function normalizePairCode(code: string): string {
  return code.replace(/\s+/g, '');
}

export interface PairProofs {
  hostProof: Uint8Array;
  deviceProof: Uint8Array;
}

/**
 * key = scrypt(code without spaces, "di-tla-pair/1" || deviceFp(32) || hostFp(32), N=2^14, r=8, p=1, 32);
 * hostProof = HMAC-SHA256(key, "host"), deviceProof = HMAC-SHA256(key, "device").
 * The fingerprints are the raw 32 bytes or their hex text.
 */
export async function computePairProofs(
  code: string,
  deviceFpRaw: Uint8Array | string,
  hostFpRaw: Uint8Array | string,
): Promise<PairProofs> {
  const salt = Buffer.concat([Buffer.from(PAIR_SALT_PREFIX, 'utf8'), fingerprintBytes(deviceFpRaw), fingerprintBytes(hostFpRaw)]);
  const key = await new Promise<Buffer>((resolve, reject) => {
    scrypt(
      Buffer.from(normalizePairCode(code), 'utf8'),
      salt,
      PAIR_SCRYPT.keyLen,
      { N: PAIR_SCRYPT.N, r: PAIR_SCRYPT.r, p: PAIR_SCRYPT.p, maxmem: 64 * 1024 * 1024 },
      (err, derived) => (err ? reject(err) : resolve(derived)),
    );
  });
  const mac = (label: string): Uint8Array => new Uint8Array(createHmac('sha256', key).update(label, 'utf8').digest());
  return { hostProof: mac('host'), deviceProof: mac('device') };
}

/** Constant-time comparison of two proofs (false when the lengths differ). */
export function proofsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
