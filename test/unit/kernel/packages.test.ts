import { beforeAll, describe, expect, it } from 'vitest';
import { assertOpenssl } from '../../support/openssl.js';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import type * as pkijs from 'pkijs';
import {
  KeyError,
  certificateToPem,
  generateP256,
  issueCertificate,
  loadOrCreateDevKeys,
  loadSigner,
  loadTrustAnchors,
  privateKeyToPem,
  type DevKeys,
  type Signer,
} from '../../../platform/kernel/packages/keys.js';
import { PackageError, serializeManifest, sha256Hex, type PackageManifest } from '../../../platform/kernel/packages/manifest.js';
import { packApplet, signDetached } from '../../../platform/kernel/packages/pack.js';
import { verifyPackage } from '../../../platform/kernel/packages/verify.js';

const HELLO = resolve('test/fixtures/applets/hello');
const SDK = resolve('platform/sdk');

let work: string;
let dev: DevKeys;
let devAnchors: pkijs.Certificate[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'di-packages-'));
  dev = await loadOrCreateDevKeys(join(work, 'data'));
  devAnchors = loadTrustAnchors([dev.rootPath]);
});

let n = 0;
async function packHello(signer: Signer = dev.signer): Promise<string> {
  const { packageDir } = await packApplet({ dir: HELLO, outDir: join(work, `out-${n++}`), signer });
  return packageDir;
}

async function expectRefusal(p: Promise<unknown>, code: string, reason: RegExp): Promise<PackageError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PackageError);
    const e = err as PackageError;
    expect({ code: e.code, reason: e.reason }).toMatchObject({ code });
    expect(e.reason).toMatch(reason);
    return e;
  }
  throw new Error(`expected a PackageError ${code}, but the package was accepted`);
}

/** A CA and an end-entity signer, as a manufacturer (or a stranger) would make them. */
async function makeAuthority(cn: string): Promise<{ root: pkijs.Certificate; rootKey: CryptoKeyPair; signer: Signer; leafPem: string; keyPem: string }> {
  const rootKey = await generateP256();
  const root = await issueCertificate({ subjectCN: `${cn} Root`, publicKey: rootKey.publicKey, selfKey: rootKey.privateKey, ca: true });
  const leafKey = await generateP256();
  const leaf = await issueCertificate({
    subjectCN: `${cn} Signer`,
    publicKey: leafKey.publicKey,
    issuer: { certificate: root, privateKey: rootKey.privateKey },
    ca: false,
  });
  const leafPem = certificateToPem(leaf);
  const keyPem = await privateKeyToPem(leafKey.privateKey);
  return { root, rootKey, signer: await loadSigner(keyPem, [leafPem]), leafPem, keyPem };
}
type CryptoKeyPair = Awaited<ReturnType<typeof generateP256>>;

/** Re-sign a package after changing its files, as a signer with the dev key would. */
async function resign(packageDir: string, edit: (m: Record<string, unknown>) => void, signer: Signer = dev.signer): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  edit(manifest);
  const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
  writeFileSync(join(packageDir, 'manifest.json'), bytes);
  writeFileSync(join(packageDir, 'signature.p7s'), await signDetached(bytes, signer));
}

describe('development keys', () => {
  it('are made once, with private keys readable only by the owner', async () => {
    expect(dev.created).toBe(true);
    const again = await loadOrCreateDevKeys(join(work, 'data'));
    expect(again.created).toBe(false);
    expect(certificateToPem(again.signer.chain[0]!)).toBe(certificateToPem(dev.signer.chain[0]!));
    for (const f of ['dev-signer.key.pem', 'dev-root-ca.key.pem']) {
      expect(statSync(join(work, 'data', 'keys', f)).mode & 0o777).toBe(0o600);
    }
  });

  it('loadSigner refuses a key that does not match the certificate', async () => {
    const other = await generateP256();
    await expect(loadSigner(await privateKeyToPem(other.privateKey), [certificateToPem(dev.signer.chain[0]!)])).rejects.toThrow(
      /does not match the signing certificate/,
    );
    await expect(loadSigner('not a pem', [certificateToPem(dev.signer.chain[0]!)])).rejects.toBeInstanceOf(KeyError);
  });
});

describe('pack then verify', () => {
  it('produces a package the kernel accepts', async () => {
    const dir = await packHello();
    expect(dir).toBe(join(work, `out-${n - 1}`, 'hello'));
    const pkg = await verifyPackage(dir, { trustAnchors: devAnchors });
    expect(pkg.manifest).toMatchObject({ format: 1, id: 'hello', version: '1.0.0', domain: 'hello' });
    expect(pkg.manifest.script).toEqual({ file: 'applet.js', sha256: sha256Hex(readFileSync(join(dir, 'applet.js'))) });
    expect(pkg.policy.domain).toBe('hello');
    expect(Object.isFrozen(pkg.policy)).toBe(true);
    expect(Buffer.from(pkg.policyBytes).equals(readFileSync('test/fixtures/policies/hello.json'))).toBe(true);
    expect(pkg.signerSubject).toContain('CN=DI Development Applet Signer');
    // One classic script: no module syntax left, handlers defined as globals.
    expect(pkg.script).not.toMatch(/^\s*(import|export)\s/m);
    expect(pkg.script).toContain('globalThis.main');
    const main = new Function('platform', `${pkg.script}; return globalThis.main;`) as (p: unknown) => () => Promise<unknown>;
    await expect(main({ domain: 'hello' })()).resolves.toEqual({ hello: 'hello' });
  });

  it('the manifest bytes are exactly what was signed and parse as the returned manifest', async () => {
    const { packageDir, manifest } = await packApplet({ dir: HELLO, outDir: join(work, 'exact'), signer: dev.signer, now: new Date('2030-01-02T03:04:05Z') });
    expect(manifest.createdAt).toBe('2030-01-02T03:04:05.000Z');
    expect(Buffer.from(serializeManifest(manifest)).equals(readFileSync(join(packageDir, 'manifest.json')))).toBe(true);
  });

  it('bundles several files and platform/sdk into one script', async () => {
    const dir = join(work, 'multi');
    mkdirSync(dir);
    cpSync('test/fixtures/policies/hello.json', join(dir, 'policy.json'));
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '2.0.0', domain: 'hello', entry: 'main.ts', policy: 'policy.json' }));
    writeFileSync(join(dir, 'util.ts'), 'export const twice = (x: number): number => 2 * x;\n');
    writeFileSync(
      join(dir, 'main.ts'),
      `import { twice } from './util.js';\nimport { HANDLER_NAMES } from ${JSON.stringify(join(SDK, 'api.js'))};\n(globalThis as any).main = async () => ({ n: twice(21), handlers: HANDLER_NAMES.length });\n`,
    );
    const { packageDir } = await packApplet({ dir, outDir: join(work, 'multi-out'), signer: dev.signer });
    const pkg = await verifyPackage(packageDir, { trustAnchors: devAnchors });
    const main = new Function(`${pkg.script}; return globalThis.main;`) as () => () => Promise<unknown>;
    await expect(main()()).resolves.toEqual({ n: 42, handlers: 8 });
    expect(pkg.script).not.toContain(work); // no absolute build paths leak into the package
  });

  it('refuses imports of packages or built-ins', async () => {
    const dir = join(work, 'builtin');
    mkdirSync(dir);
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '1.0.0', domain: 'hello', entry: 'main.ts', policy: resolve('test/fixtures/policies/hello.json') }));
    writeFileSync(join(dir, 'main.ts'), "import { readFileSync } from 'node:fs';\n(globalThis as any).main = async () => readFileSync('/etc/passwd', 'utf8');\n");
    await expectRefusal(packApplet({ dir, outDir: join(work, 'x'), signer: dev.signer }), 'E_PACK', /"node:fs" \(imported by main\.ts\) is a Node built-in/);
  });

  it('bundles only the npm packages applet.json grants, and never a built-in even when granted', async () => {
    const mk = (name: string, manifest: Record<string, unknown>, code: string) => {
      const dir = join(work, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '1.0.0', domain: 'hello', entry: 'main.ts', policy: resolve('test/fixtures/policies/hello.json'), ...manifest }));
      writeFileSync(join(dir, 'main.ts'), code);
      return dir;
    };
    const code = "import { OctetString } from 'asn1js';\n(globalThis as any).main = async () => new OctetString().idBlock.tagNumber;\n";
    await expectRefusal(packApplet({ dir: mk('undeclared', {}, code), outDir: join(work, 'x'), signer: dev.signer }), 'E_PACK', /"asn1js" .*is a package the applet does not declare/);
    const ok = await packApplet({ dir: mk('declared', { packages: ['asn1js'] }, code), outDir: join(work, 'y'), signer: dev.signer });
    const pkg = await verifyPackage(ok.packageDir, { trustAnchors: devAnchors });
    expect(pkg.script).toContain('OctetString');
    await expectRefusal(
      packApplet({ dir: mk('builtin-granted', { packages: ['fs'] }, "import { readFileSync } from 'fs';\n(globalThis as any).main = async () => readFileSync('/etc/passwd', 'utf8');\n"), outDir: join(work, 'z'), signer: dev.signer }),
      'E_PACK',
      /"fs" .*is a Node built-in/,
    );
    await expectRefusal(packApplet({ dir: mk('bad-packages', { packages: 'asn1js' }, code), outDir: join(work, 'w'), signer: dev.signer }), 'E_PACK', /applet\.json: \/packages: must be an array of npm package names/);
  });

  it('refuses imports from outside the applet directory', async () => {
    const dir = join(work, 'escape');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(work, 'secret.ts'), 'export const secret = 1;\n');
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '1.0.0', domain: 'hello', entry: 'src/main.ts', policy: resolve('test/fixtures/policies/hello.json') }));
    writeFileSync(join(dir, 'src', 'main.ts'), "import { secret } from '../../secret.js';\n(globalThis as any).main = async () => secret;\n");
    await expectRefusal(packApplet({ dir, outDir: join(work, 'x'), signer: dev.signer }), 'E_PACK', /"\.\.\/\.\.\/secret\.js" .*outside the applet directory, platform\/sdk and the granted packages/);
  });

  it('refuses a policy for another domain or applet', async () => {
    const dir = join(work, 'mismatch');
    cpSync(HELLO, dir, { recursive: true });
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: '1.0.0', domain: 'other', entry: 'main.ts', policy: resolve('test/fixtures/policies/hello.json') }));
    await expectRefusal(packApplet({ dir, outDir: join(work, 'x'), signer: dev.signer }), 'E_POLICY', /\/domain: is "hello" but applet\.json says domain "other"/);
  });

  it('names the applet.json field that is wrong', async () => {
    const dir = join(work, 'badjson');
    cpSync(HELLO, dir, { recursive: true });
    writeFileSync(join(dir, 'applet.json'), JSON.stringify({ id: 'hello', version: 'one', domain: 'hello', entry: 'main.ts', policy: 'p.json' }));
    await expectRefusal(packApplet({ dir, outDir: join(work, 'x'), signer: dev.signer }), 'E_PACK', /applet\.json: \/version: must be a semantic version/);
  });
});

describe('verify refuses, and says why', () => {
  it('modified applet.js → E_HASH_MISMATCH naming applet.js and both digests', async () => {
    const dir = await packHello();
    const original = readFileSync(join(dir, 'applet.js'));
    const tampered = Buffer.concat([original, Buffer.from('\nglobalThis.main = async () => "pwned";\n')]);
    writeFileSync(join(dir, 'applet.js'), tampered);
    const e = await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_HASH_MISMATCH', /^applet\.js has SHA-256/);
    expect(e.reason).toContain(sha256Hex(tampered).slice(0, 16));
    expect(e.reason).toContain(sha256Hex(original).slice(0, 16));
    expect(e.packageDir).toBe(dir);
  });

  it('modified policy.json → E_HASH_MISMATCH naming policy.json', async () => {
    const dir = await packHello();
    const policy = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as { store: { quotaBytes: number } };
    policy.store.quotaBytes = 1 << 30;
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_HASH_MISMATCH', /^policy\.json has SHA-256 [0-9a-f]{16}… but the signed manifest says [0-9a-f]{16}…/);
  });

  it('modified manifest → E_BAD_SIGNATURE', async () => {
    const dir = await packHello();
    const text = readFileSync(join(dir, 'manifest.json'), 'utf8').replace('"1.0.0"', '"9.9.9"');
    writeFileSync(join(dir, 'manifest.json'), text);
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_BAD_SIGNATURE', /does not verify over manifest\.json/);
  });

  it('manifest and applet changed together, hashes updated, old signature kept → E_BAD_SIGNATURE', async () => {
    const dir = await packHello();
    writeFileSync(join(dir, 'applet.js'), 'globalThis.main = async () => 1;');
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as PackageManifest;
    m.script.sha256 = sha256Hex(readFileSync(join(dir, 'applet.js')));
    writeFileSync(join(dir, 'manifest.json'), serializeManifest(m));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_BAD_SIGNATURE', /manifest/);
  });

  it('deleted signature → E_UNSIGNED', async () => {
    const dir = await packHello();
    rmSync(join(dir, 'signature.p7s'));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_UNSIGNED', /signature\.p7s is missing: the package is not signed/);
  });

  it('deleted applet.js → E_MISSING_FILE', async () => {
    const dir = await packHello();
    rmSync(join(dir, 'applet.js'));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_MISSING_FILE', /applet\.js is missing/);
  });

  it('garbage signature file → E_SIGNATURE_FORMAT', async () => {
    const dir = await packHello();
    writeFileSync(join(dir, 'signature.p7s'), Buffer.from('this is not a signature at all'));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_SIGNATURE_FORMAT', /signature\.p7s/);
    // Valid DER, but a certificate rather than CMS SignedData.
    writeFileSync(join(dir, 'signature.p7s'), Buffer.from(dev.root.toSchema().toBER(false)));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_SIGNATURE_FORMAT', /not a CMS ContentInfo|content type|SignedData/);
  });

  it("signed by a stranger's self-made CA → E_UNKNOWN_SIGNER", async () => {
    const stranger = await makeAuthority('Stranger');
    const dir = await packHello(stranger.signer);
    const e = await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_UNKNOWN_SIGNER', /does not chain to any trusted anchor/);
    expect(e.reason).toContain('CN=Stranger Signer');
  });

  it('a stranger re-signing a genuine package → E_UNKNOWN_SIGNER', async () => {
    const stranger = await makeAuthority('Resigner');
    const dir = await packHello();
    writeFileSync(join(dir, 'signature.p7s'), await signDetached(readFileSync(join(dir, 'manifest.json')), stranger.signer));
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_UNKNOWN_SIGNER', /CN=Resigner Signer/);
  });

  it('an expired signing certificate → E_UNKNOWN_SIGNER', async () => {
    const dir = await packHello();
    const later = new Date(Date.now() + 50 * 365 * 86_400_000);
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors, now: later }), 'E_UNKNOWN_SIGNER', /expired on/);
  });

  it('signed directly with the CA key → E_UNKNOWN_SIGNER (CA certificates do not sign packages)', async () => {
    const auth = await makeAuthority('Direct');
    const dir = await packHello({ chain: [auth.root], privateKey: auth.rootKey.privateKey });
    await expectRefusal(verifyPackage(dir, { trustAnchors: [auth.root] }), 'E_UNKNOWN_SIGNER', /CA certificate/);
  });

  it('a certificate issued by an end-entity certificate → E_UNKNOWN_SIGNER', async () => {
    const key = await generateP256();
    const leafKeyPem = readFileSync(join(work, 'data', 'keys', 'dev-signer.key.pem'), 'utf8');
    const devLeafKey = (await loadSigner(leafKeyPem, [certificateToPem(dev.signer.chain[0]!)])).privateKey;
    const sub = await issueCertificate({
      subjectCN: 'Sub-signer',
      publicKey: key.publicKey,
      issuer: { certificate: dev.signer.chain[0]!, privateKey: devLeafKey },
      ca: false,
    });
    const dir = await packHello({ chain: [sub, dev.signer.chain[0]!], privateKey: key.privateKey });
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_UNKNOWN_SIGNER', /Sub-signer/);
  });

  it('no trust anchor configured → E_UNKNOWN_SIGNER', async () => {
    const dir = await packHello();
    await expectRefusal(verifyPackage(dir, { trustAnchors: [] }), 'E_UNKNOWN_SIGNER', /no trust anchor is configured/);
  });

  it('a correctly signed manifest with a wrong field → E_MANIFEST naming the field', async () => {
    const dir = await packHello();
    await resign(dir, (m) => {
      (m.script as Record<string, unknown>).file = '../../etc/passwd';
    });
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_MANIFEST', /manifest\.json: \/script\/file: must be "applet\.js"/);
    await resign(dir, (m) => {
      m.extra = true;
    });
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_MANIFEST', /\/extra: is not a manifest field/);
  });

  it('a correctly signed package with an invalid policy → E_POLICY', async () => {
    const dir = await packHello();
    const policy = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as Record<string, unknown>;
    policy.cardClasses = [
      { name: 'evil', atr: { value: '3B', mask: 'FF' }, aids: ['A000000001'], apdu: [{ cla: '00', ins: '20' }], pinReferences: [] },
    ];
    const bytes = Buffer.from(JSON.stringify(policy));
    writeFileSync(join(dir, 'policy.json'), bytes);
    await resign(dir, (m) => {
      (m.policy as Record<string, unknown>).sha256 = sha256Hex(bytes);
    });
    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_POLICY', /policy\.json: \/cardClasses\/0\/apdu\/0\/ins: INS 20 \(VERIFY\)/);
  });
});

describe('manufacturer trust anchor', () => {
  it('a manufacturer-signed package verifies only when its anchor is trusted', async () => {
    const maker = await makeAuthority('Acme Terminals');
    const anchorPath = join(work, 'acme-root.pem');
    writeFileSync(anchorPath, certificateToPem(maker.root));
    const signer = await loadSigner(maker.keyPem, [maker.leafPem]);
    const dir = await packHello(signer);

    await expectRefusal(verifyPackage(dir, { trustAnchors: devAnchors }), 'E_UNKNOWN_SIGNER', /CN=Acme Terminals Signer/);
    const ok = await verifyPackage(dir, { trustAnchors: loadTrustAnchors([anchorPath]) });
    expect(ok.signerSubject).toContain('CN=Acme Terminals Signer');
    await expect(verifyPackage(dir, { trustAnchors: loadTrustAnchors([dev.rootPath, anchorPath]) })).resolves.toBeTruthy();
    // And the development package is not accepted under the manufacturer's anchor alone.
    await expectRefusal(verifyPackage(await packHello(), { trustAnchors: loadTrustAnchors([anchorPath]) }), 'E_UNKNOWN_SIGNER', /Development/);
  });

  it('an intermediate CA in the chain is carried in the signature', async () => {
    const maker = await makeAuthority('Chain Maker');
    const midKey = await generateP256();
    const mid = await issueCertificate({ subjectCN: 'Chain Maker Intermediate', publicKey: midKey.publicKey, issuer: { certificate: maker.root, privateKey: maker.rootKey.privateKey }, ca: true });
    const leafKey = await generateP256();
    const leaf = await issueCertificate({ subjectCN: 'Chain Maker Leaf', publicKey: leafKey.publicKey, issuer: { certificate: mid, privateKey: midKey.privateKey }, ca: false });
    const dir = await packHello({ chain: [leaf, mid], privateKey: leafKey.privateKey });
    const ok = await verifyPackage(dir, { trustAnchors: [maker.root] });
    expect(ok.signerSubject).toContain('CN=Chain Maker Leaf');
  });
});

describe('interoperability with OpenSSL', () => {
  beforeAll(() => assertOpenssl());
  it('OpenSSL verifies our CMS signature over manifest.json against the dev root', async () => {
    const dir = await packHello();
    const out = execFileSync(
      'openssl',
      ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'signature.p7s'), '-content', join(dir, 'manifest.json'), '-CAfile', dev.rootPath, '-purpose', 'any', '-out', '/dev/null'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(out).toBeDefined();
  });

  it('a manufacturer key and certificates made with OpenSSL (SEC1 EC key) sign packages we accept', async () => {
    const d = join(work, 'openssl');
    mkdirSync(d);
    const run = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: d, stdio: 'ignore' });
    };
    writeFileSync(join(d, 'ca.cnf'), '[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n[v3_leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n');
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
    run('req', '-new', '-x509', '-key', 'ca.key', '-subj', '/O=OpenSSL Maker/CN=OpenSSL Maker Root', '-days', '30', '-config', 'ca.cnf', '-extensions', 'v3_ca', '-out', 'ca.pem');
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key');
    run('req', '-new', '-key', 'leaf.key', '-subj', '/O=OpenSSL Maker/CN=OpenSSL Maker Signer', '-out', 'leaf.csr');
    run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'ca.cnf', '-extensions', 'v3_leaf', '-out', 'leaf.pem');
    const keyPem = readFileSync(join(d, 'leaf.key'), 'utf8');
    expect(keyPem).toContain('BEGIN EC PRIVATE KEY');
    const signer = await loadSigner(keyPem, [readFileSync(join(d, 'leaf.pem'), 'utf8')], join(d, 'leaf.key'));
    const dir = await packHello(signer);
    const ok = await verifyPackage(dir, { trustAnchors: loadTrustAnchors([join(d, 'ca.pem')]) });
    expect(ok.signerSubject).toBe('O=OpenSSL Maker, CN=OpenSSL Maker Signer');
  });
});
