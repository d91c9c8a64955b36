/**
 * The practice computer's own TLS identity: an ECDSA P-256 key and a self-signed certificate kept in
 * its directory (default ./.di-tla), made on first use. The directory is 0700 and the key 0600: the
 * key is what the device pins after pairing, so whoever reads it can speak to the device as this
 * computer. Its certificate's SHA-256 (hex, lower case) is the identity the device knows.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createSelfSignedIdentity, writeFileAtomic } from '../platform/kernel/hostlink/identity.js';
import { fromPem, toPem } from '../platform/kernel/packages/keys.js';
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

/**
 * Writes `data` to `path` only if `path` does not exist, all or nothing: a temporary file, fsynced,
 * then hard-linked to `path` (link fails if `path` exists, and never shows a partial file).
 * Returns false when `path` was already there.
 */
function createFileOnce(path: string, data: string, mode: number): boolean {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * The computer's identity in `dir`, made on first use.
 *
 * The key file holds the key AND its certificate, written in one step: a crash (or a second
 * process starting at the same time) can never leave a key without its certificate, or a
 * certificate of another key. The certificate file is a copy for the practitioner, rewritten from
 * the key file when it is missing.
 */
export async function loadOrCreateIdentity(dir: string = DEFAULT_TLA_DIR): Promise<HostIdentity> {
  const d = ensureTlaDir(dir);
  const keyPath = join(d, KEY_FILE);
  const certPath = join(d, CERT_FILE);
  for (let attempt = 0; ; attempt++) {
    if (!existsSync(keyPath)) {
      const made = await createSelfSignedIdentity(commonName());
      createFileOnce(keyPath, made.keyPem + made.certPem, 0o600);
    }
    if (process.platform !== 'win32') {
      const mode = statSync(keyPath).mode & 0o777;
      if ((mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
    }
    const blocks = fromPem(readFileSync(keyPath, 'utf8'));
    const key = blocks.find((b) => b.label === 'PRIVATE KEY');
    let cert = blocks.find((b) => b.label === 'CERTIFICATE');
    // A key file from an earlier version holds the key only; its certificate is the cert file.
    if (key && !cert && existsSync(certPath)) cert = fromPem(readFileSync(certPath, 'utf8')).find((b) => b.label === 'CERTIFICATE');
    if (key && !cert && attempt === 0) {
      // A key alone: an earlier version crashed between the key and the certificate. Never usable
      // (a TLS client needs both), so never paired: made again.
      unlinkSync(keyPath);
      continue;
    }
    if (!key || !cert) throw new Error(`${keyPath} is not a key and certificate: remove ${KEY_FILE} and ${CERT_FILE} to make a new identity, then pair again`);
    const keyPem = toPem('PRIVATE KEY', key.der);
    const certPem = toPem('CERTIFICATE', cert.der);
    let certDer: Uint8Array;
    try {
      certDer = pemToDer(certPem);
    } catch (err) {
      throw new Error(`${keyPath}: its certificate is unreadable (${(err as Error).message}): remove ${KEY_FILE} and ${CERT_FILE} to make a new identity, then pair again`);
    }
    if (!existsSync(certPath) || readFileSync(certPath, 'utf8') !== certPem) writeFileAtomic(certPath, certPem, 0o644);
    return { dir: d, keyPem, certPem, certDer, fingerprint: certFingerprint(certDer) };
  }
}
