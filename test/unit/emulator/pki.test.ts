/**
 * The emulator's test PKI: structure of the CA certificates, issuance and caching of identities,
 * recovery from a damaged cache, and agreement of openssl with what we build.
 *
 * RSA-2048 generation is slow on a shared machine, so the CAs and most identities come from the
 * checkout's key cache (the one `loadCard` uses); tests that damage files work on a copy of it.
 */
import { X509Certificate, constants, createPrivateKey, createPublicKey, privateEncrypt, publicDecrypt } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../platform/kernel/paths.js';
import { assertOpenssl, openssl } from '../../support/openssl.js';
import { bytesEqual, toHex } from '../../../platform/sdk/hex.js';
import { loadOrCreatePki, type EmulatorPki } from '../../../emulator/cards/pki/index.js';

const sharedKeyDir = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');


function parseCert(der: Uint8Array): pkijs.Certificate {
  return pkijs.Certificate.fromBER(der.slice().buffer as ArrayBuffer);
}

function keyUsageNames(der: Uint8Array): string[] {
  const ext = parseCert(der).extensions?.find((e) => e.extnID === '2.5.29.15');
  if (!ext) return [];
  const first = (ext.parsedValue as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView[0] ?? 0;
  const names = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];
  return names.filter((_, i) => (first & (0x80 >> i)) !== 0);
}

function extValue(der: Uint8Array, oid: string): Uint8Array | undefined {
  const ext = parseCert(der).extensions?.find((e) => e.extnID === oid);
  return ext ? new Uint8Array(ext.extnValue.valueBlock.valueHexView) : undefined;
}

function pem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

let pki: EmulatorPki;
let work: string;

beforeAll(async () => {
  pki = await loadOrCreatePki(sharedKeyDir);
  work = mkdtempSync(join(tmpdir(), 'di-pki-test-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A private copy of the warm cache, to damage without disturbing other tests. */
function existsOr(dir: string, make: () => string): string {
  return existsSync(dir) ? dir : make();
}

function copyOfCache(name: string): string {
  const dir = join(work, name);
  cpSync(join(sharedKeyDir, 'pki'), join(dir, 'pki'), { recursive: true });
  return dir;
}

describe('CA certificates', () => {
  it('root is self-signed, a CA, with the fictitious name', () => {
    const root = new X509Certificate(pki.rootDer);
    expect(root.subject).toContain('CN=AC RACINE TEST DI (fictive)');
    expect(root.subject).toBe(root.issuer);
    expect(root.ca).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(keyUsageNames(pki.rootDer)).toEqual(['keyCertSign', 'cRLSign']);
    expect((root.publicKey.asymmetricKeyDetails?.modulusLength)).toBe(2048);
    expect(pki.rootPem).toBe(pem(pki.rootDer));
  });

  it('both intermediates are CAs issued by the root, linked by key identifiers', () => {
    const root = new X509Certificate(pki.rootDer);
    const rootSki = extValue(pki.rootDer, '2.5.29.14')!;
    for (const [der, cn] of [
      [pki.healthCaDer, 'AC PROFESSIONNELS DE SANTE TEST'],
      [pki.vitaleCaDer, 'AC CARTES VITALE TEST'],
    ] as const) {
      const ca = new X509Certificate(der);
      expect(ca.subject).toContain(`CN=${cn}`);
      expect(ca.ca).toBe(true);
      expect(ca.checkIssued(root)).toBe(true);
      expect(ca.verify(root.publicKey)).toBe(true);
      expect(keyUsageNames(der)).toEqual(['keyCertSign', 'cRLSign']);
      // AKI is SEQUENCE { [0] keyIdentifier }; the root's SKI is an OCTET STRING of the same bytes.
      expect(toHex(extValue(der, '2.5.29.35')!)).toContain(toHex(rootSki.subarray(2)));
    }
    expect(pki.chainPem('health')).toBe(pem(pki.healthCaDer) + pem(pki.rootDer));
    expect(pki.chainPem('vitale')).toBe(pem(pki.vitaleCaDer) + pem(pki.rootDer));
  });

  it('writes PEM files for outside tools, and loading again gives the same PKI', async () => {
    expect(readFileSync(join(sharedKeyDir, 'pki', 'root.pem'), 'utf8')).toBe(pki.rootPem);
    expect(readFileSync(join(sharedKeyDir, 'pki', 'health-chain.pem'), 'utf8')).toBe(pki.chainPem('health'));
    const again = await loadOrCreatePki(sharedKeyDir);
    expect(bytesEqual(again.rootDer, pki.rootDer)).toBe(true);
    expect(bytesEqual(again.vitaleCaDer, pki.vitaleCaDer)).toBe(true);
  });
});

describe('issued identities', () => {
  const subject = { commonName: 'TEST PKI FICTIF', serialNumber: '819999000011', organization: 'DI TEST (fictif)', title: 'Médecin' };

  it('auth: digitalSignature + clientAuth; sign: nonRepudiation; chain intermediate then root', async () => {
    const auth = await pki.issue({ id: 'test:pki:auth', ca: 'health', subject, usage: 'auth' });
    const sign = await pki.issue({ id: 'test:pki:sign', ca: 'health', subject, usage: 'sign' });
    expect(keyUsageNames(auth.certificateDer)).toEqual(['digitalSignature']);
    expect(keyUsageNames(sign.certificateDer)).toEqual(['nonRepudiation']);
    expect(extValue(auth.certificateDer, '2.5.29.37')).toBeDefined();
    expect(auth.chainDer.map(toHex)).toEqual([toHex(pki.healthCaDer), toHex(pki.rootDer)]);
    const cert = new X509Certificate(sign.certificateDer);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toContain('CN=TEST PKI FICTIF');
    expect(cert.subject).toContain('serialNumber=819999000011');
    expect(cert.verify(new X509Certificate(pki.healthCaDer).publicKey)).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now());
    // The private key belongs to the certificate.
    const probe = Buffer.from('probe');
    const sig = privateEncrypt({ key: createPrivateKey(sign.privateKeyPem), padding: constants.RSA_PKCS1_PADDING }, probe);
    expect(publicDecrypt({ key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, sig).toString()).toBe('probe');
  });

  it('the same id gives the same key and certificate, from this instance and from a reload', async () => {
    const a = await pki.issue({ id: 'test:pki:auth', ca: 'health', subject, usage: 'auth' });
    const b = await (await loadOrCreatePki(sharedKeyDir)).issue({ id: 'test:pki:auth', ca: 'health', subject, usage: 'auth' });
    expect(toHex(b.certificateDer)).toBe(toHex(a.certificateDer));
    expect(b.privateKeyPem).toBe(a.privateKeyPem);
  });

  it('the Vitale CA issues too', async () => {
    const v = await pki.issue({ id: 'test:pki:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST FICTIVE' }, usage: 'auth' });
    const cert = new X509Certificate(v.certificateDer);
    expect(cert.issuer).toContain('CN=AC CARTES VITALE TEST');
    expect(v.chainDer.map(toHex)).toEqual([toHex(pki.vitaleCaDer), toHex(pki.rootDer)]);
  });

  it('issues an expired certificate when asked (for the expired-certificate profiles)', async () => {
    const notBefore = new Date('2019-01-01T00:00:00Z');
    const notAfter = new Date('2022-01-01T00:00:00Z');
    const e = await pki.issue({ id: 'test:pki:expired', ca: 'health', subject, usage: 'sign', notBefore, notAfter });
    const cert = new X509Certificate(e.certificateDer);
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString());
    expect(new Date(cert.validTo).getTime()).toBeLessThan(Date.now());
    // Cached like any other identity, even though it is expired.
    const again = await pki.issue({ id: 'test:pki:expired', ca: 'health', subject, usage: 'sign', notBefore, notAfter });
    expect(toHex(again.certificateDer)).toBe(toHex(e.certificateDer));
  });

  it('refuses bad requests with the field named', async () => {
    await expect(pki.issue({ id: '', ca: 'health', subject, usage: 'auth' })).rejects.toThrow(/id must be/);
    await expect(pki.issue({ id: 'x', ca: 'other' as 'health', subject, usage: 'auth' })).rejects.toThrow(/ca must be/);
    await expect(pki.issue({ id: 'x', ca: 'health', subject: { ...subject, serialNumber: 'é' }, usage: 'auth' })).rejects.toThrow(/serialNumber/);
    await expect(pki.issue({ id: 'x', ca: 'health', subject, usage: 'auth', notBefore: new Date('2022-01-01'), notAfter: new Date('2021-01-01') })).rejects.toThrow(/notBefore/);
  });
});

describe('cache robustness (on a private copy of the cache)', () => {
  const subject = { commonName: 'TEST CACHE FICTIF' };

  it('concurrent issues of one id agree; a changed subject keeps the key and renews the certificate', async () => {
    const dir = copyOfCache('concurrent');
    const [p1, p2] = await Promise.all([loadOrCreatePki(dir), loadOrCreatePki(dir)]);
    const [a, b, c] = await Promise.all([
      p1.issue({ id: 'test:cache:one', ca: 'health', subject, usage: 'auth' }),
      p1.issue({ id: 'test:cache:one', ca: 'health', subject, usage: 'auth' }),
      p2.issue({ id: 'test:cache:one', ca: 'health', subject, usage: 'auth' }),
    ]);
    expect(toHex(b.certificateDer)).toBe(toHex(a.certificateDer));
    expect(toHex(c.certificateDer)).toBe(toHex(a.certificateDer));
    const renamed = await p1.issue({ id: 'test:cache:one', ca: 'health', subject: { commonName: 'TEST CACHE RENOMME' }, usage: 'auth' });
    expect(renamed.privateKeyPem).toBe(a.privateKeyPem);
    expect(toHex(renamed.certificateDer)).not.toBe(toHex(a.certificateDer));
    expect(new X509Certificate(renamed.certificateDer).subject).toContain('CN=TEST CACHE RENOMME');
    expect(readdirSync(join(dir, 'pki', 'identities')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a corrupt identity file is regenerated, not trusted and not fatal', async () => {
    const dir = copyOfCache('corrupt-identity');
    const p = await loadOrCreatePki(dir);
    const first = await p.issue({ id: 'test:pki:auth', ca: 'health', subject: { commonName: 'TEST PKI FICTIF', serialNumber: '819999000011', organization: 'DI TEST (fictif)', title: 'Médecin' }, usage: 'auth' });
    const idDir = join(dir, 'pki', 'identities');
    const file = readdirSync(idDir).find((f) => f.startsWith('test_pki_auth-'))!;
    writeFileSync(join(idDir, file), '{"version":1,"privateKeyPem":"-----BEGIN PRIVATE KEY-----\ngarbage');
    const again = await p.issue({ id: 'test:pki:auth', ca: 'health', subject: { commonName: 'TEST PKI FICTIF', serialNumber: '819999000011', organization: 'DI TEST (fictif)', title: 'Médecin' }, usage: 'auth' });
    expect(again.privateKeyPem).not.toBe(first.privateKeyPem);
    const cert = new X509Certificate(again.certificateDer);
    expect(cert.verify(new X509Certificate(p.healthCaDer).publicKey)).toBe(true);
    expect(createPublicKey(createPrivateKey(again.privateKeyPem)).export({ format: 'der', type: 'spki' }).equals(cert.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
  });

  it('a corrupt CA file is set aside and a new PKI made; old identities are re-certified under it', async () => {
    const dir = copyOfCache('corrupt-ca');
    const old = await loadOrCreatePki(dir);
    const before = await old.issue({ id: 'test:pki:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST FICTIVE' }, usage: 'auth' });
    writeFileSync(join(dir, 'pki', 'ca.json'), '{ not json');
    const fresh = await loadOrCreatePki(dir);
    expect(toHex(fresh.rootDer)).not.toBe(toHex(old.rootDer));
    expect(readdirSync(join(dir, 'pki')).some((f) => f.startsWith('ca.json.corrupt-'))).toBe(true);
    expect(readFileSync(join(dir, 'pki', 'root.pem'), 'utf8')).toBe(fresh.rootPem);
    const after = await fresh.issue({ id: 'test:pki:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST FICTIVE' }, usage: 'auth' });
    expect(after.privateKeyPem).toBe(before.privateKeyPem);
    expect(new X509Certificate(after.certificateDer).verify(new X509Certificate(fresh.vitaleCaDer).publicKey)).toBe(true);
  });

  it('an identity whose certificate does not match its key gets a new certificate for that key', async () => {
    // Reuses the previous test's copy and identity: no new key to generate.
    const dir = existsOr(join(work, 'concurrent'), () => copyOfCache('concurrent'));
    const p = await loadOrCreatePki(dir);
    const a = await p.issue({ id: 'test:cache:one', ca: 'health', subject, usage: 'auth' });
    const idDir = join(dir, 'pki', 'identities');
    const fileA = join(idDir, readdirSync(idDir).find((f) => f.startsWith('test_cache_one-'))!);
    const other = await p.issue({ id: 'test:pki:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST FICTIVE' }, usage: 'auth' });
    const stored = JSON.parse(readFileSync(fileA, 'utf8')) as { privateKeyPem: string };
    stored.privateKeyPem = other.privateKeyPem;
    writeFileSync(fileA, JSON.stringify(stored));
    const again = await p.issue({ id: 'test:cache:one', ca: 'health', subject, usage: 'auth' });
    expect(again.privateKeyPem).toBe(other.privateKeyPem);
    expect(toHex(again.certificateDer)).not.toBe(toHex(a.certificateDer));
    const spki = new X509Certificate(again.certificateDer).publicKey.export({ format: 'der', type: 'spki' });
    expect(spki.equals(createPublicKey(createPrivateKey(other.privateKeyPem)).export({ format: 'der', type: 'spki' }))).toBe(true);
  });
});

describe('openssl agrees', () => {
  beforeAll(() => assertOpenssl());
  it('verifies end-entity certificates of both CAs through their intermediate to the root', async () => {
    const dir = join(work, 'openssl');
    cpSync(join(sharedKeyDir, 'pki'), dir, { recursive: true });
    const health = await pki.issue({ id: 'test:pki:sign', ca: 'health', subject: { commonName: 'TEST PKI FICTIF', serialNumber: '819999000011', organization: 'DI TEST (fictif)', title: 'Médecin' }, usage: 'sign' });
    const vitale = await pki.issue({ id: 'test:pki:vitale', ca: 'vitale', subject: { commonName: 'CARTE VITALE TEST FICTIVE' }, usage: 'auth' });
    writeFileSync(join(dir, 'health-ca.pem'), pem(pki.healthCaDer));
    writeFileSync(join(dir, 'vitale-ca.pem'), pem(pki.vitaleCaDer));
    writeFileSync(join(dir, 'health-leaf.pem'), pem(health.certificateDer));
    writeFileSync(join(dir, 'vitale-leaf.pem'), pem(vitale.certificateDer));
    const h = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'health-ca.pem'), join(dir, 'health-leaf.pem')]);
    expect(h.out).toContain('OK');
    expect(h.ok).toBe(true);
    const v = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'vitale-ca.pem'), join(dir, 'vitale-leaf.pem')]);
    expect(v.ok, v.out).toBe(true);
    // Crossed chains must not verify: the intermediates are really distinct.
    const crossed = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'vitale-ca.pem'), join(dir, 'health-leaf.pem')]);
    expect(crossed.ok).toBe(false);
    const text = openssl(['x509', '-in', join(dir, 'health-leaf.pem'), '-noout', '-text']).out;
    expect(text).toMatch(/Key Usage: critical\s+Non Repudiation/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain('Authority Key Identifier');
    expect(text).toContain('Subject Key Identifier');
  });

  it('reports an expired certificate as expired, and accepts it at a date inside its validity', async () => {
    const dir = join(work, 'openssl-expired');
    cpSync(join(sharedKeyDir, 'pki'), dir, { recursive: true });
    const e = await pki.issue({
      id: 'test:pki:expired',
      ca: 'health',
      subject: { commonName: 'TEST PKI FICTIF', serialNumber: '819999000011', organization: 'DI TEST (fictif)', title: 'Médecin' },
      usage: 'sign',
      notBefore: new Date('2019-01-01T00:00:00Z'),
      notAfter: new Date('2022-01-01T00:00:00Z'),
    });
    writeFileSync(join(dir, 'ca.pem'), pem(pki.healthCaDer));
    writeFileSync(join(dir, 'leaf.pem'), pem(e.certificateDer));
    const now = openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
    expect(now.ok).toBe(false);
    expect(now.out).toContain('certificate has expired');
    const then = openssl(['verify', '-attime', String(Date.UTC(2020, 5, 1) / 1000), '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
    expect(then.ok, then.out).toBe(true);
  });
});
