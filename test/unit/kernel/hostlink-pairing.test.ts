/** Pairing code and proofs of the TLA host link: the shared proof function, the code window, the paired list. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createHmac, scryptSync } from 'node:crypto';
import { certFingerprint, computePairProofs, fingerprintBytes, normalizePairCode, shortFingerprint } from '../../../platform/kernel/hostlink/proof.js';
import { formatPairCode, PairedHosts, PairingWindow, PAIRING_TTL_MS } from '../../../platform/kernel/hostlink/pairing.js';
import { createSelfSignedIdentity, loadOrCreateDeviceIdentity } from '../../../platform/kernel/hostlink/identity.js';
import { checkHostRequest } from '../../../platform/kernel/hostlink/request.js';
import { mapDomainAnswer, redactDomainText } from '../../../platform/kernel/hostlink/router.js';
import { PAIR_SALT_PREFIX } from '../../../platform/wire/hostlink.js';

const DEV = 'a'.repeat(64);
const HOST = 'b'.repeat(64);

describe('host link proofs', () => {
  it('follow wire/hostlink.ts: scrypt(code, prefix || device fp || host fp), HMAC "host" / "device"', async () => {
    const p = await computePairProofs('1234 5678', DEV, HOST);
    const key = scryptSync('12345678', Buffer.concat([Buffer.from(PAIR_SALT_PREFIX), Buffer.from(DEV, 'hex'), Buffer.from(HOST, 'hex')]), 32, { N: 1 << 14, r: 8, p: 1 });
    expect(Buffer.from(p.hostProof)).toEqual(createHmac('sha256', key).update('host').digest());
    expect(Buffer.from(p.deviceProof)).toEqual(createHmac('sha256', key).update('device').digest());
    // Raw bytes or hex: the same proofs.
    const raw = await computePairProofs('12345678', fingerprintBytes(DEV), fingerprintBytes(HOST));
    expect(Buffer.from(raw.hostProof)).toEqual(Buffer.from(p.hostProof));
  });

  it('differ when the code or either certificate differs (a relay sees another fingerprint)', async () => {
    const p = await computePairProofs('12345678', DEV, HOST);
    for (const q of [
      await computePairProofs('12345679', DEV, HOST),
      await computePairProofs('12345678', 'c'.repeat(64), HOST),
      await computePairProofs('12345678', DEV, 'c'.repeat(64)),
      await computePairProofs('12345678', HOST, DEV),
    ]) {
      expect(Buffer.from(q.hostProof).equals(Buffer.from(p.hostProof))).toBe(false);
      expect(Buffer.from(q.deviceProof).equals(Buffer.from(p.deviceProof))).toBe(false);
    }
    expect(Buffer.from(p.hostProof).equals(Buffer.from(p.deviceProof))).toBe(false);
  });

  it('refuse fingerprints that are not SHA-256', () => {
    expect(() => fingerprintBytes('abc')).toThrow(/64 hexadecimal/);
    expect(() => fingerprintBytes(new Uint8Array(31))).toThrow(/32 raw bytes/);
    expect(normalizePairCode(' 1234 5678 ')).toBe('12345678');
    expect(shortFingerprint('ab12cd34ef567890' + '0'.repeat(48))).toBe('AB12 CD34 EF56 7890');
    expect(formatPairCode('12345678')).toBe('1234 5678');
  });

  it('certificates: ECDSA P-256, fingerprint = SHA-256 of the DER; the device key is 0600 and kept across loads', async () => {
    const id = await createSelfSignedIdentity('unit');
    expect(certFingerprint(id.certDer)).toBe(createHash('sha256').update(id.certDer).digest('hex'));
    expect(id.keyPem).toContain('BEGIN PRIVATE KEY');
    const dir = mkdtempSync(join(tmpdir(), 'di-hl-'));
    const a = await loadOrCreateDeviceIdentity(dir);
    const b = await loadOrCreateDeviceIdentity(dir);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a.deviceId).toBe(`DI-${a.fingerprint.slice(0, 12).toUpperCase()}`);
    expect(statSync(join(dir, 'hostlink', 'device.key.pem')).mode & 0o777).toBe(0o600);
    const { X509Certificate } = await import('node:crypto');
    const x = new X509Certificate(a.certPem);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});

describe('pairing window', () => {
  it('8 digits, single use: the right proof consumes the code', async () => {
    const w = new PairingWindow();
    const { code } = w.begin();
    expect(code).toMatch(/^\d{8}$/);
    const { hostProof } = await computePairProofs(code, DEV, HOST);
    const ok = await w.check(hostProof, DEV, HOST);
    expect(ok.ok).toBe(true);
    const again = await w.check(hostProof, DEV, HOST);
    expect(again).toMatchObject({ ok: false, reason: 'none' });
  });

  it('three wrong proofs void the code, even if the fourth is right', async () => {
    const w = new PairingWindow();
    const { code } = w.begin();
    const bad = new Uint8Array(32);
    expect(await w.check(bad, DEV, HOST)).toMatchObject({ ok: false, reason: 'wrong' });
    expect(await w.check(bad, DEV, HOST)).toMatchObject({ ok: false, reason: 'wrong' });
    expect(await w.check(bad, DEV, HOST)).toMatchObject({ ok: false, reason: 'void' });
    const { hostProof } = await computePairProofs(code, DEV, HOST);
    expect((await w.check(hostProof, DEV, HOST)).ok).toBe(false);
  });

  it('parallel tries cannot exceed the limit', async () => {
    const w = new PairingWindow();
    const { code } = w.begin();
    const bad = new Uint8Array(32);
    const { hostProof } = await computePairProofs(code, DEV, HOST);
    const results = await Promise.all([w.check(bad, DEV, HOST), w.check(bad, DEV, HOST), w.check(bad, DEV, HOST), w.check(hostProof, DEV, HOST)]);
    expect(results.every((r) => !r.ok)).toBe(true);
  });

  it('expires after 5 minutes (on the clock it is given)', async () => {
    let t = 1_000_000;
    const w = new PairingWindow(() => t);
    const { code, expiresAt } = w.begin();
    expect(expiresAt).toBe(t + PAIRING_TTL_MS);
    const { hostProof } = await computePairProofs(code, DEV, HOST);
    t += PAIRING_TTL_MS;
    expect(await w.check(hostProof, DEV, HOST)).toMatchObject({ ok: false, reason: 'expired' });
    expect(w.pendingUntil()).toBeNull();
  });

  it('a new code replaces the previous one; cancel voids it', async () => {
    const w = new PairingWindow();
    const first = w.begin();
    const second = w.begin();
    const p1 = await computePairProofs(first.code, DEV, HOST);
    if (first.code !== second.code) expect((await w.check(p1.hostProof, DEV, HOST)).ok).toBe(false);
    w.begin();
    expect(w.cancel()).toBe(true);
    expect(w.pendingUntil()).toBeNull();
  });
});

describe('paired hosts file', () => {
  it('is written atomically (no temp file left), 0600, and read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-hl-'));
    const h = new PairedHosts(dir);
    h.add({ fingerprint: HOST, name: 'Accueil', pairedAt: 5 });
    h.add({ fingerprint: DEV, name: 'Bureau', pairedAt: 6 });
    h.add({ fingerprint: HOST, name: 'Accueil 2', pairedAt: 7 });
    expect(readdirSync(dir)).toEqual(['paired.json']);
    expect(statSync(join(dir, 'paired.json')).mode & 0o777).toBe(0o600);
    const again = new PairedHosts(dir);
    expect(again.list().map((x) => x.name).sort()).toEqual(['Accueil 2', 'Bureau']);
    expect(again.remove(DEV)).toBe(true);
    expect(again.remove(DEV)).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'paired.json'), 'utf8')).hosts).toHaveLength(1);
  });

  it('refuses a damaged file naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'di-hl-'));
    writeFileSync(join(dir, 'paired.json'), '{"hosts":[{"fingerprint":"zz"}]}');
    expect(() => new PairedHosts(dir)).toThrow(/paired\.json: hosts\[0\]/);
  });
});

describe('request envelope and domain answers', () => {
  it('accepts exactly { v: 1, id: uint32, op, args: {} }', () => {
    expect(checkHostRequest({ v: 1, id: 0xffffffff, op: 'identify', args: {} }).ok).toBe(true);
    expect(checkHostRequest({ v: 1, id: 3, op: 'nope', args: {} })).toMatchObject({ ok: false, code: 'E_OP', close: false, id: 3 });
    expect(checkHostRequest({ v: 1, id: 3, op: 'identify', args: {}, x: 1 })).toMatchObject({ ok: false, code: 'E_FRAME', field: 'x', id: 3 });
    expect(checkHostRequest({ v: 1, id: 3, op: 'identify', args: { a: { b: new Date() } } })).toMatchObject({ ok: false, code: 'E_FRAME', field: 'args' });
    expect(checkHostRequest(null)).toMatchObject({ ok: false, code: 'E_FRAME', id: null });
  });

  it('maps ok:true to the result without ok, ok:false to E_DOMAIN with the code, redacted', () => {
    expect(mapDomainAnswer('d', { ok: true, a: 1 })).toEqual({ ok: true, result: { a: 1 } });
    expect(mapDomainAnswer('d', { ok: false, error: { code: 'E_X', message: 'NIR 1840575123456 78 refusé', field: 'f' } })).toEqual({
      ok: false,
      error: { code: 'E_DOMAIN', domainCode: 'E_X', message: expect.not.stringContaining('1840575123456') as unknown as string, field: 'f' },
    });
    expect(mapDomainAnswer('d', { ok: false, error: { code: 'bad code!', message: 'x' } })).toMatchObject({ ok: false, error: { code: 'E_INTERNAL' } });
    expect(mapDomainAnswer('d', [1])).toMatchObject({ ok: false, error: { code: 'E_INTERNAL' } });
    expect(redactDomainText('x'.repeat(500), 300)).toHaveLength(300);
    expect(redactDomainText('facture 12345678/42', 300)).toBe('facture 12345678/42');
  });
});
