/**
 * The practice computer's own TLS identity: an ECDSA P-256 key and a self-signed certificate kept in
 * its directory (default ./.di-tla), made on first use. The directory is 0700 and the key 0600: the
 * key is what the device pins after pairing, so whoever reads it can speak to the device as this
 * computer. Its certificate's SHA-256 (hex, lower case) is the identity the device knows.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSelfSignedIdentity } from '../platform/kernel/hostlink/identity.js';
import { certFingerprint } from '../platform/kernel/hostlink/proof.js';

export { shortFingerprint } from '../platform/kernel/hostlink/proof.js';

export const DEFAULT_TLA_DIR = '.di-tla';
export const KEY_FILE = 'host-key.pem';
export const CERT_FILE = 'host-cert.pem';

export interface HostIdentity {
  dir: string;
  keyPem: string;
  certPem: string;
  certDer: Uint8Array;
  /** SHA-256 of the DER certificate, hex lower case. */
  fingerprint: string;
}

/** Creates the directory 0700 (or tightens it); refuses a path that is not a directory. */
export function ensureTlaDir(dir: string): string {
  const d = resolve(dir);
  if (existsSync(d)) {
    if (!statSync(d).isDirectory()) throw new Error(`${d} exists and is not a directory: choose another --dir`);
  } else {
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  // Only this user: the key and the health data unloaded from the device live here.
  if (process.platform !== 'win32') chmodSync(d, 0o700);
  return d;
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(new X509Certificate(pem).raw);
}

function commonName(): string {
  const h = hostname().replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40) || 'poste';
  return `di-tla ${h}`;
}

/** The computer's identity in `dir`, made on first use. */
export async function loadOrCreateIdentity(dir: string = DEFAULT_TLA_DIR): Promise<HostIdentity> {
  const d = ensureTlaDir(dir);
  const keyPath = join(d, KEY_FILE);
  const certPath = join(d, CERT_FILE);
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    const made = await createSelfSignedIdentity(commonName());
    try {
      // 'wx': two processes starting at once keep the first one's identity, never a mix.
      writeFileSync(keyPath, made.keyPem, { mode: 0o600, flag: 'wx' });
      writeFileSync(certPath, made.certPem, { mode: 0o644, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if (process.platform !== 'win32') {
    const mode = statSync(keyPath).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
  }
  const keyPem = readFileSync(keyPath, 'utf8');
  const certPem = readFileSync(certPath, 'utf8');
  let certDer: Uint8Array;
  try {
    certDer = pemToDer(certPem);
  } catch (err) {
    throw new Error(`${certPath} is not a certificate (${(err as Error).message}): remove ${KEY_FILE} and ${CERT_FILE} to make a new identity, then pair again`);
  }
  return { dir: d, keyPem, certPem, certDer, fingerprint: certFingerprint(certDer) };
}
