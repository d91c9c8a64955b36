/**
 * Signing keys and trust anchors for applet packages (DESIGN §8).
 *
 * Development: a root CA and a signing certificate are made on first use under <dataDir>/keys/, so
 * `di applet pack` works out of the box. A manufacturer instead brings its own key and certificate
 * chain (loadSigner) and points the kernel at its own anchor (loadTrustAnchors).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export type CryptoKey = webcrypto.CryptoKey;

/** What signs a package: the signing certificate first, then any intermediates (the root is optional). */
export interface Signer {
  chain: pkijs.Certificate[];
  privateKey: CryptoKey;
}

export interface DevKeys {
  signer: Signer;
  root: pkijs.Certificate;
  /** PEM file of the development root: the trust anchor that verifies dev-signed packages. */
  rootPath: string;
  /** True when the keys were made by this call. */
  created: boolean;
}

export class KeyError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'KeyError';
  }
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
} as const;

const CURVES: Record<string, string> = { [OID.p256]: 'P-256', [OID.p384]: 'P-384', [OID.p521]: 'P-521' };

let engine: pkijs.ICryptoEngine | undefined;

/** pkijs with Node's WebCrypto; set once per process, before any certificate or CMS operation. */
export function cryptoEngine(): pkijs.ICryptoEngine {
  if (!engine) {
    engine = new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters["crypto"] });
    pkijs.setEngine('node-webcrypto', engine);
  }
  return engine;
}

// ---------------------------------------------------------------------------------------------
// PEM

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** All PEM blocks in a text, in order. */
export function fromPem(text: string): Array<{ label: string; der: Uint8Array }> {
  const out: Array<{ label: string; der: Uint8Array }> = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64')) });
  }
  return out;
}

const toArrayBuffer = (u: Uint8Array): ArrayBuffer => u.slice().buffer as ArrayBuffer;

export function parseCertificateDer(der: Uint8Array, source: string): pkijs.Certificate {
  cryptoEngine();
  try {
    return pkijs.Certificate.fromBER(toArrayBuffer(der));
  } catch (err) {
    throw new KeyError(source, `is not a valid X.509 certificate (${err instanceof Error ? err.message : String(err)})`);
  }
}

export function parseCertificatesPem(text: string, source: string): pkijs.Certificate[] {
  const blocks = fromPem(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new KeyError(source, 'contains no "BEGIN CERTIFICATE" PEM block');
  return blocks.map((b) => parseCertificateDer(b.der, source));
}

export function certificateToPem(cert: pkijs.Certificate): string {
  return toPem('CERTIFICATE', cert.toSchema().toBER(false));
}

/** "CN=..., O=..." for messages; certificates carry no other identity we rely on. */
export function subjectString(cert: pkijs.Certificate): string {
  const names: Record<string, string> = { [OID.commonName]: 'CN', [OID.organization]: 'O', '2.5.4.6': 'C', '2.5.4.11': 'OU' };
  return cert.subject.typesAndValues
    .map((tv) => `${names[tv.type] ?? tv.type}=${String(tv.value.valueBlock.value)}`)
    .join(', ');
}

/** Read trust anchors from PEM files (each file may hold several certificates). */
export function loadTrustAnchors(paths: string[]): pkijs.Certificate[] {
  return paths.flatMap((p) => {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (err) {
      throw new KeyError(p, `trust anchor cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return parseCertificatesPem(text, p);
  });
}

// ---------------------------------------------------------------------------------------------
// Keys

/** SEC1 "EC PRIVATE KEY" (what `openssl ecparam -genkey` writes) wrapped as PKCS#8 for WebCrypto. */
function sec1ToPkcs8(sec1: Uint8Array, curveOid: string): Uint8Array {
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.ecPublicKey }), new asn1js.ObjectIdentifier({ value: curveOid })],
      }),
      new asn1js.OctetString({ valueHex: toArrayBuffer(sec1) }),
    ],
  });
  return new Uint8Array(info.toBER(false));
}

type SigningAlgorithm = webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;

function algorithmFor(cert: pkijs.Certificate, source: string): SigningAlgorithm {
  const spki = cert.subjectPublicKeyInfo.algorithm;
  if (spki.algorithmId === OID.ecPublicKey) {
    const curveOid = spki.algorithmParams instanceof asn1js.ObjectIdentifier ? spki.algorithmParams.valueBlock.toString() : '';
    const namedCurve = CURVES[curveOid];
    if (!namedCurve) throw new KeyError(source, `uses an unsupported elliptic curve (${curveOid || 'unnamed'}); use P-256`);
    return { name: 'ECDSA', namedCurve };
  }
  if (spki.algorithmId === OID.rsaEncryption) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new KeyError(source, `has an unsupported public key algorithm (${spki.algorithmId}); use ECDSA P-256 or RSA`);
}

function curveOidOf(cert: pkijs.Certificate): string {
  const p = cert.subjectPublicKeyInfo.algorithm.algorithmParams;
  return p instanceof asn1js.ObjectIdentifier ? p.valueBlock.toString() : OID.p256;
}

/**
 * A signer from a manufacturer's PEM private key (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY")
 * and its certificate chain (signing certificate first; further PEM texts add intermediates).
 * Refuses a key that does not belong to the first certificate.
 */
export async function loadSigner(keyPem: string, certPem: string[], source = 'signing key'): Promise<Signer> {
  const crypto = cryptoEngine();
  const chain = certPem.flatMap((pem, i) => parseCertificatesPem(pem, `${source} certificate ${i + 1}`));
  const leaf = chain[0];
  if (!leaf) throw new KeyError(source, 'no signing certificate given');
  const block = fromPem(keyPem).find((b) => b.label === 'PRIVATE KEY' || b.label === 'EC PRIVATE KEY' || b.label === 'ENCRYPTED PRIVATE KEY');
  if (!block) throw new KeyError(source, 'contains no "BEGIN PRIVATE KEY" or "BEGIN EC PRIVATE KEY" PEM block');
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    throw new KeyError(source, 'is encrypted; decrypt it first (openssl pkcs8 -in key.pem -out plain.pem) and keep the result protected');
  }
  const algorithm = algorithmFor(leaf, source);
  const pkcs8 = block.label === 'EC PRIVATE KEY' ? sec1ToPkcs8(block.der, curveOidOf(leaf)) : block.der;
  let privateKey: CryptoKey;
  try {
    privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  } catch (err) {
    throw new KeyError(source, `private key cannot be imported as ${algorithm.name} (${err instanceof Error ? err.message : String(err)})`);
  }
  // A mismatched key would produce packages that no one can verify: catch it at load time.
  const probe = new Uint8Array(randomBytes(32));
  const sigParams = await crypto.getSignatureParameters(privateKey, 'SHA-256');
  const sig = await crypto.signWithPrivateKey(probe, privateKey, sigParams.parameters);
  const ok = await crypto
    .verifyWithPublicKey(
      toArrayBuffer(probe),
      new asn1js.BitString({ valueHex: sig }),
      leaf.subjectPublicKeyInfo,
      sigParams.signatureAlgorithm,
      'SHA-256',
    )
    .catch(() => false);
  if (!ok) throw new KeyError(source, `private key does not match the signing certificate (${subjectString(leaf)})`);
  return { chain, privateKey };
}

// ---------------------------------------------------------------------------------------------
// Development CA

function name(cn: string): pkijs.RelativeDistinguishedNames {
  // pkijs would put every attribute into one multi-valued RDN ("O=... + CN=..."); build one RDN per
  // attribute ourselves so other tools (openssl) show and match the usual "O=..., CN=...".
  const rdn = (type: string, value: string): asn1js.Set =>
    new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] });
  const der = new asn1js.Sequence({ value: [rdn(OID.organization, 'Dispositif Integre (development)'), rdn(OID.commonName, cn)] }).toBER(false);
  return new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(der).result });
}

function keyUsage(bits: { digitalSignature?: boolean; keyCertSign?: boolean; cRLSign?: boolean }): pkijs.Extension {
  // KeyUsage is a BIT STRING numbered from the most significant bit: 0 digitalSignature, 5 keyCertSign, 6 cRLSign.
  let byte = 0;
  if (bits.digitalSignature) byte |= 0x80;
  if (bits.keyCertSign) byte |= 0x04;
  if (bits.cRLSign) byte |= 0x02;
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  const value = new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits: unused });
  return new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: value.toBER(false), parsedValue: value });
}

async function keyIdentifier(publicKeyInfo: pkijs.PublicKeyInfo): Promise<ArrayBuffer> {
  return webcrypto.subtle.digest('SHA-1', publicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
}

export interface CertificateRequest {
  subjectCN: string;
  publicKey: CryptoKey;
  issuer?: { certificate: pkijs.Certificate; privateKey: CryptoKey };
  /** Self-signed when no issuer: this key signs. */
  selfKey?: CryptoKey;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  codeSigning?: boolean;
}

/** Issue an X.509 v3 certificate (used for the dev CA, and by tests to play manufacturer or stranger). */
export async function issueCertificate(req: CertificateRequest): Promise<pkijs.Certificate> {
  const crypto = cryptoEngine();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, no leading zero byte
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  cert.subject = name(req.subjectCN);
  cert.issuer = req.issuer ? req.issuer.certificate.subject : name(req.subjectCN);
  const notBefore = req.notBefore ?? new Date(Date.now() - 5 * 60_000);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = req.notAfter ?? new Date(notBefore.getTime() + (req.ca ? 20 : 5) * 365 * 86_400_000);
  await cert.subjectPublicKeyInfo.importKey(req.publicKey, crypto);

  const ski = await keyIdentifier(cert.subjectPublicKeyInfo);
  const aki = req.issuer ? await keyIdentifier(req.issuer.certificate.subjectPublicKeyInfo) : ski;
  const basic = new pkijs.BasicConstraints({ cA: req.ca });
  const extensions = [
    new pkijs.Extension({ extnID: OID.basicConstraints, critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic }),
    req.ca ? keyUsage({ keyCertSign: true, cRLSign: true }) : keyUsage({ digitalSignature: true }),
    new pkijs.Extension({ extnID: OID.subjectKeyId, extnValue: new asn1js.OctetString({ valueHex: ski }).toBER(false) }),
    new pkijs.Extension({
      extnID: OID.authorityKeyId,
      extnValue: new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: aki }) }).toSchema().toBER(false),
    }),
  ];
  if (req.codeSigning) {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: [OID.codeSigning] });
    extensions.push(new pkijs.Extension({ extnID: OID.extKeyUsage, extnValue: eku.toSchema().toBER(false), parsedValue: eku }));
  }
  cert.extensions = extensions;
  const signingKey = req.issuer?.privateKey ?? req.selfKey;
  if (!signingKey) throw new Error('issueCertificate: a self-signed certificate needs selfKey');
  await cert.sign(signingKey, 'SHA-256', crypto);
  // Re-parse so the object carries its encoded TBS exactly as a verifier will see it.
  return pkijs.Certificate.fromBER(cert.toSchema(true).toBER(false));
}

export async function generateP256(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

const DEV_FILES = {
  rootCert: 'dev-root-ca.pem',
  rootKey: 'dev-root-ca.key.pem',
  signerCert: 'dev-signer.pem',
  signerKey: 'dev-signer.key.pem',
} as const;

export function devKeysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

/** The development trust anchor's PEM path (it exists once loadOrCreateDevKeys has run). */
export function devTrustAnchorPath(dataDir: string): string {
  return join(devKeysDir(dataDir), DEV_FILES.rootCert);
}

async function createDevKeys(dir: string): Promise<void> {
  const rootKeys = await generateP256();
  const root = await issueCertificate({ subjectCN: 'DI Development Root CA', publicKey: rootKeys.publicKey, selfKey: rootKeys.privateKey, ca: true });
  const signerKeys = await generateP256();
  const signer = await issueCertificate({
    subjectCN: 'DI Development Applet Signer',
    publicKey: signerKeys.publicKey,
    issuer: { certificate: root, privateKey: rootKeys.privateKey },
    ca: false,
    codeSigning: true,
  });
  writeFileSync(join(dir, DEV_FILES.rootCert), certificateToPem(root), { mode: 0o644 });
  writeFileSync(join(dir, DEV_FILES.signerCert), certificateToPem(signer), { mode: 0o644 });
  writeFileSync(join(dir, DEV_FILES.rootKey), await privateKeyToPem(rootKeys.privateKey), { mode: 0o600 });
  writeFileSync(join(dir, DEV_FILES.signerKey), await privateKeyToPem(signerKeys.privateKey), { mode: 0o600 });
}

/**
 * The development root and signer under <dataDir>/keys/, made on first use. The directory is built
 * aside and renamed into place so that two processes starting together never mix keys.
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<DevKeys> {
  const dir = devKeysDir(dataDir);
  let created = false;
  if (!existsSync(join(dir, DEV_FILES.signerKey))) {
    mkdirSync(dataDir, { recursive: true });
    const staging = join(dataDir, `.keys-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(staging, { mode: 0o700 });
    try {
      await createDevKeys(staging);
      renameSync(staging, dir);
      created = true;
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // Someone else won the race (or an empty/partial keys dir exists): fall through to loading.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      if (!existsSync(join(dir, DEV_FILES.signerKey))) {
        throw new KeyError(dir, `exists but holds no ${DEV_FILES.signerKey}; remove the directory to regenerate the development keys`);
      }
    }
  }
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const signer = await loadSigner(read(DEV_FILES.signerKey), [read(DEV_FILES.signerCert)], join(dir, DEV_FILES.signerKey));
  const root = parseCertificatesPem(read(DEV_FILES.rootCert), join(dir, DEV_FILES.rootCert))[0]!;
  return { signer, root, rootPath: join(dir, DEV_FILES.rootCert), created };
}

export async function loadOrCreateDevSigner(dataDir: string): Promise<Signer> {
  return (await loadOrCreateDevKeys(dataDir)).signer;
}
