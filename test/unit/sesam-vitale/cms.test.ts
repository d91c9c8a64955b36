/**
 * formats/cms.ts (unit): signatures made by signCms with the signer callback a CPS provides (PKCS#1 v1.5
 * over DigestInfo(SHA-256, hash), here node:crypto privateEncrypt with the emulator test PKI's key) verify
 * with pkijs (verifyCms) and with openssl; a flipped byte does not; and the bundled module signs inside a
 * bare isolated-vm Isolate with only the text shim.
 */
import { constants, createHash, createPrivateKey, privateEncrypt, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ivm from 'isolated-vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCms, verifyCms } from '../../../applets/sesam-vitale/formats/cms.js';
import { loadOrCreatePki, type EmulatorPki, type IssuedIdentity } from '../../../emulator/cards/pki/index.js';
import { repoRoot } from '../../../platform/kernel/paths.js';
import { fromHex } from '../../../platform/sdk/hex.js';
import { assertOpenssl, openssl } from '../../support/openssl.js';

const sharedKeyDir = process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');
/** DER prefix of DigestInfo { sha256, NULL } OCTET STRING(32): what PSO CDS prepends before padding. */
const SHA256_DIGEST_INFO = fromHex('3031300d060960864801650304020105000420');
const SIGNING_TIME = new Date('2025-03-14T10:15:00Z');

let pki: EmulatorPki;
let id: IssuedIdentity;
let key: KeyObject;
let dir: string;

const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(createHash('sha256').update(b).digest());
/** The CPS's PSO COMPUTE DIGITAL SIGNATURE: RSA PKCS#1 v1.5 type 1 over DigestInfo(SHA-256, hash). */
const signHash = async (hash: Uint8Array): Promise<Uint8Array> => {
  expect(hash).toHaveLength(32);
  return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, hash])));
};

function sign(content: Uint8Array, detached: boolean): Promise<Uint8Array> {
  return signCms({ content, detached, signerCertDer: id.certificateDer, chainDer: id.chainDer, signingTime: SIGNING_TIME, digest: sha256, signHash });
}

function opensslVerify(cms: Uint8Array, content?: Uint8Array): { ok: boolean; out: string } {
  const sig = join(dir, `sig-${Math.random().toString(36).slice(2)}.der`);
  writeFileSync(sig, cms);
  const args = ['cms', '-verify', '-inform', 'DER', '-in', sig, '-binary', '-CAfile', join(dir, 'root.pem'), '-purpose', 'any', '-out', join(dir, 'out.bin')];
  if (content) {
    const c = `${sig}.content`;
    writeFileSync(c, content);
    args.push('-content', c);
  }
  return openssl(args);
}

beforeAll(async () => {
  assertOpenssl();
  pki = await loadOrCreatePki(sharedKeyDir);
  id = await pki.issue({ id: 'test:formats-cms:sign', ca: 'health', subject: { commonName: 'DR CMS TEST' }, usage: 'sign' });
  key = createPrivateKey(id.privateKeyPem);
  dir = mkdtempSync(join(tmpdir(), 'di-cms-'));
  writeFileSync(join(dir, 'root.pem'), pki.rootPem);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('signCms / verifyCms', () => {
  const content = new TextEncoder().encode('100DI-SV 01FSE000000042 exemple de facture\r\n');

  it('a detached signature verifies with pkijs and with openssl; the signing time and signer come back', async () => {
    const cms = await sign(content, true);
    const v = await verifyCms(cms, { detachedContent: content, trustedCertsDer: [pki.rootDer] });
    expect(v).toMatchObject({ ok: true, signingTime: SIGNING_TIME });
    if (v.ok) {
      expect(v.signerCertDer).toEqual(id.certificateDer);
      expect(v.content).toEqual(content);
    }
    // openssl reports success on stderr, which the helper drops on exit status 0: the status is the verdict.
    expect(opensslVerify(cms, content)).toMatchObject({ ok: true });
  });

  it('an attached signature carries its content and verifies with pkijs and openssl', async () => {
    const body = new Uint8Array(70_000).map((_, i) => (i * 7) & 255);
    const cms = await sign(body, false);
    const v = await verifyCms(cms, { trustedCertsDer: [pki.rootDer] });
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.content).toEqual(body);
    expect(opensslVerify(cms).ok).toBe(true);
  });

  it('a flipped content byte fails both verifiers', async () => {
    const cms = await sign(content, true);
    const bad = content.slice();
    bad[5] = bad[5]! ^ 0x01;
    const v = await verifyCms(cms, { detachedContent: bad, trustedCertsDer: [pki.rootDer] });
    expect(v.ok).toBe(false);
    const o = opensslVerify(cms, bad);
    expect(o.ok).toBe(false);
    expect(o.out).toMatch(/digest failure|verification failure/i);
  });

  it('a flipped byte in an attached content fails both verifiers', async () => {
    const cms = await sign(content, false);
    const at = Buffer.from(cms).indexOf(Buffer.from(content));
    expect(at).toBeGreaterThan(0);
    const bad = cms.slice();
    bad[at + 3] = bad[at + 3]! ^ 0x20;
    expect((await verifyCms(bad, { trustedCertsDer: [pki.rootDer] })).ok).toBe(false);
    expect(opensslVerify(bad).ok).toBe(false);
  });

  it('refuses an untrusted root, a missing detached content and garbage, without throwing', async () => {
    const cms = await sign(content, true);
    expect(await verifyCms(cms, { detachedContent: content, trustedCertsDer: [pki.vitaleCaDer] })).toMatchObject({ ok: false });
    expect(await verifyCms(cms, { trustedCertsDer: [pki.rootDer] })).toMatchObject({ ok: false, reason: expect.stringMatching(/détachée/) });
    expect(await verifyCms(Uint8Array.of(0x30, 0x03, 1, 2, 3), { trustedCertsDer: [pki.rootDer] })).toMatchObject({ ok: false });
  });

  it('orders the signed attributes as DER requires (the signature covers that encoding)', async () => {
    const cms = await sign(content, true);
    // contentType (30 18) < signingTime (30 1C) < messageDigest (30 2F): DER SET OF order.
    const hex = Buffer.from(cms).toString('hex');
    const ct = hex.indexOf('06092a864886f70d010903');
    const st = hex.indexOf('06092a864886f70d010905');
    const md = hex.indexOf('06092a864886f70d010904');
    expect(ct).toBeGreaterThan(0);
    expect(ct).toBeLessThan(st);
    expect(st).toBeLessThan(md);
  });
});

describe('signCms inside an isolate', () => {
  it('runs bundled with only the text shim (no TextEncoder, WebCrypto, Buffer or process there)', async () => {
    const cmsPath = fileURLToPath(new URL('../../../applets/sesam-vitale/formats/cms.ts', import.meta.url));
    const entry = `import { signCms } from ${JSON.stringify(cmsPath)};
globalThis.signInIsolate = async (content, cert, chain, timeMs, digestRef, signRef) => {
  const call = (ref, b) => ref.apply(undefined, [b], { arguments: { copy: true }, result: { promise: true, copy: true } });
  return signCms({ content, detached: false, signerCertDer: cert, chainDer: chain, signingTime: new Date(timeMs),
    digest: (b) => call(digestRef, b), signHash: (h) => call(signRef, h) });
};`;
    const out = await build({
      stdin: { contents: entry, resolveDir: repoRoot(), loader: 'js', sourcefile: 'isolate-entry.js' },
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      logLevel: 'silent',
    });
    const script = out.outputFiles[0]!.text;

    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    try {
      const context = await isolate.createContext();
      const globals = await context.eval('[typeof TextEncoder, typeof TextDecoder, typeof crypto, typeof Buffer, typeof process, typeof atob].join()', { copy: true });
      expect(globals).toBe('undefined,undefined,undefined,undefined,undefined,undefined');
      await context.eval(script);
      expect(await context.eval('typeof TextEncoder + "," + typeof TextDecoder', { copy: true })).toBe('function,function');

      const calls: string[] = [];
      const digestRef = new ivm.Reference(async (b: Uint8Array) => {
        calls.push('digest');
        return sha256(b);
      });
      const signRef = new ivm.Reference(async (h: Uint8Array) => {
        calls.push('sign');
        return signHash(h);
      });
      const content = new TextEncoder().encode('L00DI-SV 01 lot signé dans l’isolat\r\n');
      const fn = (await context.global.get('signInIsolate', { reference: true })) as ivm.Reference<(...args: unknown[]) => Promise<Uint8Array>>;
      const cms = (await fn.apply(
        undefined,
        [new ivm.ExternalCopy(content).copyInto(), new ivm.ExternalCopy(id.certificateDer).copyInto(), new ivm.ExternalCopy(id.chainDer).copyInto(), SIGNING_TIME.getTime(), digestRef, signRef],
        { result: { promise: true, copy: true } },
      )) as Uint8Array;
      expect(calls).toEqual(['digest', 'digest', 'sign']);
      const v = await verifyCms(new Uint8Array(cms), { trustedCertsDer: [pki.rootDer] });
      expect(v).toMatchObject({ ok: true, signingTime: SIGNING_TIME });
      if (v.ok) expect(v.content).toEqual(content);
      expect(opensslVerify(new Uint8Array(cms)).ok).toBe(true);
    } finally {
      isolate.dispose();
    }
  });
});
