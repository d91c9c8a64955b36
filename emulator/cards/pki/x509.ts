/**
 * X.509 v3 certificates for the emulator's test PKI, built with pkijs and signed with node:crypto
 * (RSA-2048, sha256WithRSAEncryption). Signing synchronously with a KeyObject keeps WebCrypto key
 * imports and pkijs' global crypto engine out of the emulator.
 */
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export const OID = {
  country: '2.5.4.6',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  title: '2.5.4.12',
  serialNumber: '2.5.4.5',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

export interface NameSpec {
  country?: string;
  organization?: string;
  organizationalUnit?: string;
  title?: string;
  serialNumber?: string;
  commonName: string;
}

/** PrintableString's alphabet (X.680 §41.4): C and serialNumber must fit it. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function isPrintableString(s: string): boolean {
  return PRINTABLE.test(s);
}

function toArrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.slice().buffer as ArrayBuffer;
}

/**
 * One RDN per attribute, in the usual C, O, OU, title, serialNumber, CN order. pkijs would put all
 * attributes into one multi-valued RDN, which openssl prints and matches differently.
 */
export function buildName(spec: NameSpec): pkijs.RelativeDistinguishedNames {
  const rdns: asn1js.Set[] = [];
  const add = (type: string, value: pkijs.AttributeValueType): void => {
    rdns.push(new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value }).toSchema()] }));
  };
  const printable = (field: string, v: string): asn1js.PrintableString => {
    if (!isPrintableString(v)) throw new RangeError(`certificate name ${field} ${JSON.stringify(v)} has characters outside PrintableString`);
    return new asn1js.PrintableString({ value: v });
  };
  if (spec.country !== undefined) add(OID.country, printable('country', spec.country));
  if (spec.organization !== undefined) add(OID.organization, new asn1js.Utf8String({ value: spec.organization }));
  if (spec.organizationalUnit !== undefined) add(OID.organizationalUnit, new asn1js.Utf8String({ value: spec.organizationalUnit }));
  if (spec.title !== undefined) add(OID.title, new asn1js.Utf8String({ value: spec.title }));
  if (spec.serialNumber !== undefined) add(OID.serialNumber, printable('serialNumber', spec.serialNumber));
  add(OID.commonName, new asn1js.Utf8String({ value: spec.commonName }));
  const der = new asn1js.Sequence({ value: rdns }).toBER(false);
  return new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(der).result });
}

export interface KeyUsageBits {
  digitalSignature?: boolean;
  nonRepudiation?: boolean;
  keyCertSign?: boolean;
  cRLSign?: boolean;
}

function keyUsageExtension(bits: KeyUsageBits): pkijs.Extension {
  // Bit 0 is the most significant bit of the first byte (RFC 5280 §4.2.1.3).
  let byte = 0;
  if (bits.digitalSignature) byte |= 0x80;
  if (bits.nonRepudiation) byte |= 0x40;
  if (bits.keyCertSign) byte |= 0x04;
  if (bits.cRLSign) byte |= 0x02;
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  const value = new asn1js.BitString({ valueHex: Uint8Array.of(byte).buffer, unusedBits: unused });
  return new pkijs.Extension({ extnID: OID.keyUsage, critical: true, extnValue: value.toBER(false), parsedValue: value });
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  const spki = pkijs.PublicKeyInfo.fromBER(toArrayBuffer(spkiDer));
  return new Uint8Array(createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest());
}

function time(d: Date): pkijs.Time {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return new pkijs.Time({ type: d.getUTCFullYear() >= 2050 ? 1 : 0, value: d });
}

export interface CertificateSpec {
  subject: NameSpec;
  /** SubjectPublicKeyInfo DER of the key being certified. */
  subjectSpkiDer: Uint8Array;
  /** Absent for a self-signed certificate (the subject key must then be `signingKey`'s). */
  issuer?: { certificateDer: Uint8Array };
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  /** For CAs: how many intermediates may follow. */
  pathLength?: number;
  keyUsage: KeyUsageBits;
  clientAuth?: boolean;
}

export function createCertificate(spec: CertificateSpec): Uint8Array {
  if (!(spec.notBefore.getTime() < spec.notAfter.getTime())) {
    throw new RangeError(`certificate for ${spec.subject.commonName}: notBefore ${spec.notBefore.toISOString()} is not before notAfter ${spec.notAfter.toISOString()}`);
  }
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, and no leading zero byte to strip
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  cert.subject = buildName(spec.subject);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(toArrayBuffer(spec.subjectSpkiDer));
  cert.notBefore = time(spec.notBefore);
  cert.notAfter = time(spec.notAfter);

  let issuerName: pkijs.RelativeDistinguishedNames;
  let authorityKeyId: Uint8Array;
  const ski = keyIdentifier(spec.subjectSpkiDer);
  if (spec.issuer) {
    const issuerCert = pkijs.Certificate.fromBER(toArrayBuffer(spec.issuer.certificateDer));
    issuerName = issuerCert.subject;
    authorityKeyId = keyIdentifier(new Uint8Array(issuerCert.subjectPublicKeyInfo.toSchema().toBER(false)));
  } else {
    issuerName = cert.subject;
    authorityKeyId = ski;
  }
  cert.issuer = issuerName;

  const basic = new pkijs.BasicConstraints(spec.ca && spec.pathLength !== undefined ? { cA: true, pathLenConstraint: spec.pathLength } : { cA: spec.ca });
  const extensions = [
    new pkijs.Extension({ extnID: OID.basicConstraints, critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic }),
    keyUsageExtension(spec.keyUsage),
    new pkijs.Extension({ extnID: OID.subjectKeyId, extnValue: new asn1js.OctetString({ valueHex: toArrayBuffer(ski) }).toBER(false) }),
    new pkijs.Extension({
      extnID: OID.authorityKeyId,
      extnValue: new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(authorityKeyId) }) })
        .toSchema()
        .toBER(false),
    }),
  ];
  if (spec.clientAuth) {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: [OID.clientAuth] });
    extensions.push(new pkijs.Extension({ extnID: OID.extKeyUsage, extnValue: eku.toSchema().toBER(false), parsedValue: eku }));
  }
  cert.extensions = extensions;

  const algorithm = new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256WithRsa, algorithmParams: new asn1js.Null() });
  cert.signature = algorithm;
  cert.signatureAlgorithm = algorithm;
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER(false));
  const signature = sign('sha256', cert.tbsView, spec.signingKey);
  cert.signatureValue = new asn1js.BitString({ valueHex: toArrayBuffer(new Uint8Array(signature)) });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}

/** SubjectPublicKeyInfo DER of a certificate. */
export function certificateSpki(der: Uint8Array): Uint8Array {
  const cert = pkijs.Certificate.fromBER(toArrayBuffer(der));
  return new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
}

export function certificateValidity(der: Uint8Array): { notBefore: Date; notAfter: Date } {
  const cert = pkijs.Certificate.fromBER(toArrayBuffer(der));
  return { notBefore: cert.notBefore.value, notAfter: cert.notAfter.value };
}

export function spkiOfPrivateKey(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
