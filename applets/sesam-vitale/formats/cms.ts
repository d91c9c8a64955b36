/**
 * CMS SignedData (RFC 5652) for invoices (detached) and lots (attached), signed by the CPS.
 *
 * signCms runs in the applet isolate as well as in Node: it never touches WebCrypto. The caller gives the
 * digest (platform.crypto.digest) and the signer (the CPS's PSO COMPUTE DIGITAL SIGNATURE, which returns
 * PKCS#1 v1.5 over DigestInfo(SHA-256, hash)); pkijs/asn1js only build the structures. verifyCms is for
 * the AMO emulator (Node) only.
 */
import './text-shim.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

export interface SignCmsOptions {
  content: Uint8Array;
  /** Detached: the content is not embedded (invoices, whose record travels beside the signature). */
  detached: boolean;
  signerCertDer: Uint8Array;
  /** Issuing CA certificates, included so the receiver can build the chain. */
  chainDer: Uint8Array[];
  signingTime: Date;
  /** SHA-256 of the bytes. */
  digest: (b: Uint8Array) => Promise<Uint8Array>;
  /** PKCS#1 v1.5 RSA over DigestInfo(SHA-256, hash): exactly what the CPS's PSO CDS returns. */
  signHash: (sha256: Uint8Array) => Promise<Uint8Array>;
}

function buf(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer;
}

function bytesOf(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

function parseCert(der: Uint8Array, what: string): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(buf(der));
  } catch (err) {
    throw new Error(`signCms: ${what} is not an X.509 certificate (${err instanceof Error ? err.message : String(err)})`);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** CMS ContentInfo / SignedData, DER, with signed attributes contentType, messageDigest and signingTime. */
export async function signCms(opts: SignCmsOptions): Promise<Uint8Array> {
  const signer = parseCert(opts.signerCertDer, 'the signer certificate');
  const chain = opts.chainDer.map((d, i) => parseCert(d, `chain certificate ${i + 1}`));
  if (!(opts.signingTime instanceof Date) || Number.isNaN(opts.signingTime.getTime())) throw new Error('signCms: signingTime is not a valid date');

  const contentDigest = await opts.digest(opts.content);
  if (contentDigest.length !== 32) throw new Error(`signCms: the digest callback returned ${contentDigest.length} bytes, SHA-256 is 32`);
  // UTCTime covers 1950..2049 (RFC 5652 §11.3); past that the attribute is GeneralizedTime.
  const year = opts.signingTime.getUTCFullYear();
  const time = year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate: opts.signingTime }) : new asn1js.GeneralizedTime({ valueDate: opts.signingTime });
  const attributes = [
    new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
    new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: buf(contentDigest) })] }),
    new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [time] }),
  ];
  // DER orders a SET OF by the encodings of its elements; the signature covers that exact encoding.
  const encoded = attributes.map((a) => ({ a, der: new Uint8Array(a.toSchema().toBER(false)) })).sort((x, y) => compareBytes(x.der, y.der));
  const sorted = encoded.map((e) => e.a);
  const setDer = new Uint8Array(new asn1js.Set({ value: sorted.map((a) => a.toSchema()) }).toBER(false));

  const attrsHash = await opts.digest(setDer);
  const signature = await opts.signHash(attrsHash);
  if (!(signature instanceof Uint8Array) || signature.length === 0) throw new Error('signCms: the signer returned no signature');

  const sha256 = new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 });
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.issuer, serialNumber: signer.serialNumber }),
    digestAlgorithm: sha256,
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted }),
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_RSA_ENCRYPTION, algorithmParams: new asn1js.Null() }),
    signature: new asn1js.OctetString({ valueHex: buf(signature) }),
  });
  const encap = new pkijs.EncapsulatedContentInfo({
    eContentType: OID_DATA,
    ...(opts.detached ? {} : { eContent: new asn1js.OctetString({ valueHex: buf(opts.content) }) }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 })],
    encapContentInfo: encap,
    certificates: [signer, ...chain],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}

export interface VerifyCmsOptions {
  /** The signed bytes when the CMS is detached. */
  detachedContent?: Uint8Array;
  /** Roots. */
  trustedCertsDer: Uint8Array[];
  intermediatesDer?: Uint8Array[];
  /** Certificate validity is checked at this date (default: now). */
  checkDate?: Date;
}

export type VerifyCmsResult = { ok: true; signerCertDer: Uint8Array; content: Uint8Array; signingTime?: Date } | { ok: false; reason: string };

function describe(err: unknown): string {
  if (err instanceof pkijs.SignedDataVerifyError) return err.message || `code ${err.code}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Verifies a CMS SignedData: signature over the signed attributes, messageDigest against the content,
 * signer certificate chain up to one of `trustedCertsDer` at `checkDate`. Node side only (the AMO
 * emulator): it uses pkijs's default engine, i.e. the WebCrypto of the process; the isolate never calls it.
 * Never throws: malformed input is `{ ok: false, reason }`.
 */
export async function verifyCms(cms: Uint8Array, opts: VerifyCmsOptions): Promise<VerifyCmsResult> {
  let signedData: pkijs.SignedData;
  try {
    const ci = pkijs.ContentInfo.fromBER(buf(cms));
    if (ci.contentType !== OID_SIGNED_DATA) return { ok: false, reason: `not a CMS SignedData (content type ${ci.contentType})` };
    signedData = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    return { ok: false, reason: `CMS illisible : ${describe(err)}` };
  }
  if (signedData.signerInfos.length !== 1) return { ok: false, reason: `${signedData.signerInfos.length} signataires, un seul attendu` };
  const si = signedData.signerInfos[0] as pkijs.SignerInfo;
  const eContent = signedData.encapContentInfo.eContent;
  let content: Uint8Array;
  if (eContent) {
    if (opts.detachedContent) return { ok: false, reason: 'contenu attaché et contenu détaché fournis à la fois' };
    content = bytesOf(eContent.getValue());
  } else {
    if (!opts.detachedContent) return { ok: false, reason: 'signature détachée sans le contenu signé' };
    content = opts.detachedContent;
  }
  if (!si.signedAttrs) return { ok: false, reason: 'pas d’attributs signés' };
  const attr = (oid: string): pkijs.Attribute | undefined => si.signedAttrs?.attributes.find((a) => a.type === oid);
  const ct = attr(OID_CONTENT_TYPE)?.values[0];
  if (!(ct instanceof asn1js.ObjectIdentifier) || ct.valueBlock.toString() !== OID_DATA) return { ok: false, reason: 'attribut contentType absent ou différent de data' };
  if (si.digestAlgorithm.algorithmId !== OID_SHA256) return { ok: false, reason: `algorithme de hachage ${si.digestAlgorithm.algorithmId} non admis (SHA-256 attendu)` };

  try {
    const certs: pkijs.CertificateSetItem[] = [...(signedData.certificates ?? [])];
    for (const d of opts.intermediatesDer ?? []) certs.push(pkijs.Certificate.fromBER(buf(d)));
    signedData.certificates = certs;
    const trusted = opts.trustedCertsDer.map((d) => pkijs.Certificate.fromBER(buf(d)));
    const result = await signedData.verify({
      signer: 0,
      data: buf(content),
      trustedCerts: trusted,
      checkChain: true,
      checkDate: opts.checkDate ?? new Date(),
      extendedMode: true,
    });
    if (!result.signatureVerified) return { ok: false, reason: `signature invalide${result.message ? ` (${result.message})` : ''}` };
    const signerCert = result.signerCertificate;
    if (!signerCert) return { ok: false, reason: 'certificat du signataire introuvable' };
    const st = attr(OID_SIGNING_TIME)?.values[0];
    const signingTime = st instanceof asn1js.UTCTime || st instanceof asn1js.GeneralizedTime ? st.toDate() : undefined;
    return {
      ok: true,
      signerCertDer: new Uint8Array(signerCert.toSchema().toBER(false)),
      content,
      ...(signingTime ? { signingTime } : {}),
    };
  } catch (err) {
    return { ok: false, reason: `signature non vérifiée : ${describe(err)}` };
  }
}
