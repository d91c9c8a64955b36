/**
 * The TLS identities of the host link: a self-signed ECDSA P-256 certificate per end. The device's
 * lives under <dataDir>/hostlink/ (key file 0600), made on first boot; the practice computer (tla/)
 * makes its own with the same function.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { certificateToPem, fromPem, generateP256, issueCertificate, privateKeyToPem } from '../packages/keys.js';
import { certFingerprint } from './proof.js';

export interface SelfSignedIdentity {
  keyPem: string;
  certPem: string;
  certDer: Uint8Array;
}

export interface DeviceIdentity extends SelfSignedIdentity {
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
  /** "DI-" + the fingerprint's first 12 hex digits, upper case. */
  deviceId: string;
}

/** A fresh ECDSA P-256 key and a self-signed certificate (10 years) naming `commonName`. */
export async function createSelfSignedIdentity(commonName: string): Promise<SelfSignedIdentity> {
  const keys = await generateP256();
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const cert = await issueCertificate({
    subjectCN: commonName,
    publicKey: keys.publicKey,
    selfKey: keys.privateKey,
    ca: false,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 10 * 365 * 86_400_000),
  });
  const certDer = new Uint8Array(cert.toSchema().toBER(false));
  return { keyPem: await privateKeyToPem(keys.privateKey), certPem: certificateToPem(cert), certDer };
}

export function deviceIdOf(fingerprint: string): string {
  return `DI-${fingerprint.slice(0, 12).toUpperCase()}`;
}

/** Write a file so that a crash leaves either the old or the new content: tmp + fsync + rename. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    // A full disk must not leave a temp file beside the key or the paired list at every try.
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dirFd = openSync(join(path, '..'), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Directory fsync is not supported everywhere; the rename is already atomic.
  }
}

export function hostLinkDir(dataDir: string): string {
  return join(dataDir, 'hostlink');
}

const KEY_FILE = 'device.key.pem';
const CERT_FILE = 'device.cert.pem';

/** The device's identity under <dataDir>/hostlink/, made on first use (key 0600, written before the cert). */
export async function loadOrCreateDeviceIdentity(dataDir: string): Promise<DeviceIdentity> {
  const dir = hostLinkDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);
  let identity: SelfSignedIdentity;
  if (existsSync(keyPath) && existsSync(certPath)) {
    const keyPem = readFileSync(keyPath, 'utf8');
    const certPem = readFileSync(certPath, 'utf8');
    const block = fromPem(certPem).find((b) => b.label === 'CERTIFICATE');
    if (!block || !fromPem(keyPem).some((b) => b.label === 'PRIVATE KEY')) {
      throw new Error(`${dir}: the host link identity is damaged (no certificate or key PEM block); remove ${KEY_FILE} and ${CERT_FILE} to make a new one (hosts must then pair again)`);
    }
    identity = { keyPem, certPem, certDer: block.der };
  } else {
    identity = await createSelfSignedIdentity('DI device host link');
    writeFileAtomic(keyPath, identity.keyPem, 0o600);
    writeFileAtomic(certPath, identity.certPem, 0o644);
  }
  const fingerprint = certFingerprint(identity.certDer);
  return { ...identity, fingerprint, deviceId: deviceIdOf(fingerprint) };
}
