/**
 * The emulator's EMV test PKI and issuer keys, made on first use and cached under
 * `<keyDir>/emv/`:
 * - ca.pem: the test certification authority (RSA 1408, e = 3), published for every RID of the
 *   emulated schemes under index EMV_CA_INDEX (ca-public-keys.json, for terminals to load);
 * - issuer.pem: the issuer key (RSA 1152, e = 3) the CA certifies;
 * - icc-<profile>.pem: one ICC key per card profile (RSA 1024, e = 3), for DDA;
 * - issuer-master-keys.json: the 3DES issuer master key for application cryptograms (IMK-AC).
 *
 * Lengths are chosen so that both certificate remainders (tags 92 and 9F48) are exercised:
 * 144 > 176 − 36 and 128 > 144 − 42.
 *
 * Several test processes may start at once: a file is installed with link(2), which fails if
 * another process got there first (then its key is used), so every process ends up with the key
 * on disk. A cache file that does not parse is replaced.
 */
import { generateKeyPair, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, linkSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromHex, toHex } from '../../../../platform/sdk/hex.js';
import { publicKeyParts, sha1, type RsaPublicKey } from './crypto.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export const EMV_CA_BITS = 1408;
export const EMV_ISSUER_BITS = 1152;
export const EMV_ICC_BITS = 1024;
/** CA public key index (tag 8F) of the emulator's test CA; chosen outside the ranges of well-known test keys. */
export const EMV_CA_INDEX = 0xe8;
/** RIDs the emulator publishes its test CA under (CB, Visa, Mastercard). */
export const EMV_RIDS = ['A000000042', 'A000000003', 'A000000004'] as const;

export interface RsaKeyPair extends RsaPublicKey {
  privateKey: KeyObject;
}

export interface EmvIssuerKeys {
  ca: RsaKeyPair;
  issuer: RsaKeyPair;
  /** Issuer master key for application cryptograms (16 bytes, 3DES). */
  imkAc: Uint8Array;
}

export interface CaPublicKeyEntry {
  rid: string;
  index: number;
  modulusHex: string;
  exponentHex: string;
  /** SHA-1 of RID ‖ index ‖ modulus ‖ exponent, as EMV CA key tables carry it. */
  checksumHex: string;
}

function emvDir(keyDir: string): string {
  const dir = join(keyDir, 'emv');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function tryRead<T>(file: string, parse: (text: string) => T): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/** Install `text` at `file` unless a valid one appeared meanwhile; returns what is on disk. */
function install<T>(file: string, text: string, parse: (text: string) => T): T {
  const tmp = `${file}.${process.pid}.${toHex(randomBytes(6))}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    unlinkSync(tmp);
    return parse(text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw e;
    }
  }
  const existing = tryRead(file, parse);
  if (existing !== undefined) {
    unlinkSync(tmp);
    return existing;
  }
  // The file there is corrupt (an interrupted older run): replace it.
  renameSync(tmp, file);
  return parse(text);
}

function parseRsa(bits: number): (pem: string) => RsaKeyPair {
  return (pem) => {
    const privateKey = createPrivateKey(pem);
    const d = privateKey.asymmetricKeyDetails;
    if (privateKey.asymmetricKeyType !== 'rsa' || d?.modulusLength !== bits || d.publicExponent !== 3n) {
      throw new Error(`not an RSA-${bits} key with exponent 3`);
    }
    return { privateKey, ...publicKeyParts(privateKey) };
  };
}

async function rsaKey(file: string, bits: number): Promise<RsaKeyPair> {
  const parse = parseRsa(bits);
  const cached = tryRead(file, parse);
  if (cached) return cached;
  // EMV allows exponents 3 and 2^16+1; 3 keeps terminal-side recovery cheap, as real schemes do.
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 3 });
  return install(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, parse);
}

function parseImk(text: string): Uint8Array {
  const o = JSON.parse(text) as { imkAc?: unknown };
  if (typeof o.imkAc !== 'string' || !/^[0-9A-F]{32}$/.test(o.imkAc)) throw new Error('imkAc must be 32 hex digits');
  return fromHex(o.imkAc);
}

function imk(file: string): Uint8Array {
  return tryRead(file, parseImk) ?? install(file, `${JSON.stringify({ imkAc: toHex(randomBytes(16)) }, null, 2)}\n`, parseImk);
}

const issuerCache = new Map<string, Promise<EmvIssuerKeys>>();

/** The CA, issuer and IMK of this key directory (made on first use, then read from disk). */
export function loadEmvIssuerKeys(keyDir: string): Promise<EmvIssuerKeys> {
  let p = issuerCache.get(keyDir);
  if (!p) {
    p = (async () => {
      const dir = emvDir(keyDir);
      const ca = await rsaKey(join(dir, 'ca.pem'), EMV_CA_BITS);
      const issuer = await rsaKey(join(dir, 'issuer.pem'), EMV_ISSUER_BITS);
      const keys = { ca, issuer, imkAc: imk(join(dir, 'issuer-master-keys.json')) };
      writeCaTable(dir, caPublicKeyTable(keys));
      return keys;
    })();
    p.catch(() => issuerCache.delete(keyDir));
    issuerCache.set(keyDir, p);
  }
  return p;
}

const iccCache = new Map<string, Promise<RsaKeyPair>>();

/** The ICC key of one card profile. */
export function loadIccKey(keyDir: string, profileName: string): Promise<RsaKeyPair> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(profileName)) throw new RangeError(`ICC key name ${JSON.stringify(profileName)} is not a profile name`);
  const file = join(emvDir(keyDir), `icc-${profileName}.pem`);
  let p = iccCache.get(file);
  if (!p) {
    p = rsaKey(file, EMV_ICC_BITS);
    p.catch(() => iccCache.delete(file));
    iccCache.set(file, p);
  }
  return p;
}

function caPublicKeyTable(keys: EmvIssuerKeys): CaPublicKeyEntry[] {
  return EMV_RIDS.map((rid) => ({
    rid,
    index: EMV_CA_INDEX,
    modulusHex: toHex(keys.ca.modulus),
    exponentHex: toHex(keys.ca.exponent),
    checksumHex: toHex(sha1(fromHex(rid), Uint8Array.of(EMV_CA_INDEX), keys.ca.modulus, keys.ca.exponent)),
  }));
}

function writeCaTable(dir: string, table: CaPublicKeyEntry[]): void {
  const file = join(dir, 'ca-public-keys.json');
  const text = `${JSON.stringify({ description: 'EMV test CA public keys of the di emulator (not a real scheme key)', keys: table }, null, 2)}\n`;
  if (tryRead(file, (t) => t) === text) return;
  const tmp = `${file}.${process.pid}.${toHex(randomBytes(6))}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** What a terminal loads to authenticate the emulator's cards (by RID and index, tag 8F). */
export async function emvCaPublicKeys(keyDir: string): Promise<CaPublicKeyEntry[]> {
  return caPublicKeyTable(await loadEmvIssuerKeys(keyDir));
}
