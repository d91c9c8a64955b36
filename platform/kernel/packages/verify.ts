/**
 * Package verification at boot (DESIGN §8): the kernel runs nothing that is unsigned, signed by
 * someone it does not trust, or changed after signing, and it says which of these it was.
 *
 * Order matters: the signature over manifest.json is checked before anything in the manifest is
 * believed, and the manifest's hashes before the script or the policy are used.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parseStrictJson } from '../policy/strict-json.js';
import { parsePolicyBytes, PolicyError } from '../policy/loader.js';
import type { Policy } from '../policy/types.js';
import { cryptoEngine, subjectString } from './keys.js';
import { PACKAGE_FILES, PackageError, manifestProblem, sha256Hex, type PackageManifest } from './manifest.js';

export interface VerifyOptions {
  trustAnchors: pkijs.Certificate[];
  /** Time at which certificate validity is judged; defaults to now. */
  now?: Date;
}

export interface VerifiedPackage {
  manifest: PackageManifest;
  script: string;
  policy: Policy;
  /** The policy file exactly as signed, for audit and for re-checking later. */
  policyBytes: Uint8Array;
  signerSubject: string;
}

/** Large enough for any real applet; bounds what an attacker can make the kernel read and hash. */
const MAX_FILE_BYTES: Record<string, number> = {
  [PACKAGE_FILES.manifest]: 64 * 1024,
  [PACKAGE_FILES.signature]: 256 * 1024,
  [PACKAGE_FILES.policy]: 1024 * 1024,
  [PACKAGE_FILES.script]: 32 * 1024 * 1024,
};

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

function readPackageFile(packageDir: string, file: string, missingCode: 'E_MISSING_FILE' | 'E_UNSIGNED'): Uint8Array {
  const path = join(packageDir, file);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new PackageError(missingCode, packageDir, `${file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof PackageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw missingCode === 'E_UNSIGNED'
        ? new PackageError('E_UNSIGNED', packageDir, `${file} is missing: the package is not signed`)
        : new PackageError('E_MISSING_FILE', packageDir, `${file} is missing`);
    }
    throw new PackageError(missingCode, packageDir, `${file} cannot be read (${code ?? String(err)})`);
  }
  const limit = MAX_FILE_BYTES[file] ?? 1024 * 1024;
  if (size > limit) {
    throw new PackageError(missingCode === 'E_UNSIGNED' ? 'E_SIGNATURE_FORMAT' : 'E_MANIFEST', packageDir, `${file} is ${size} bytes, over the ${limit}-byte limit`);
  }
  return new Uint8Array(readFileSync(path));
}

const toArrayBuffer = (u: Uint8Array): ArrayBuffer => u.slice().buffer as ArrayBuffer;
const hex = (buf: ArrayBuffer): string => Buffer.from(buf).toString('hex');

function parseSignedData(packageDir: string, der: Uint8Array): pkijs.SignedData {
  const bad = (why: string): never => {
    throw new PackageError('E_SIGNATURE_FORMAT', packageDir, `${PACKAGE_FILES.signature} ${why}`);
  };
  const asn1 = asn1js.fromBER(toArrayBuffer(der));
  if (asn1.offset === -1) return bad(`is not DER-encoded ASN.1 (${asn1.result.error || 'cannot be decoded'})`);
  if (asn1.offset !== der.byteLength) bad(`has ${der.byteLength - asn1.offset} trailing bytes after the CMS structure`);
  let contentInfo: pkijs.ContentInfo;
  try {
    contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
  } catch {
    return bad('is ASN.1 but not a CMS ContentInfo');
  }
  if (contentInfo.contentType !== OID.signedData) bad(`holds CMS content type ${contentInfo.contentType}, not SignedData`);
  let signedData: pkijs.SignedData;
  try {
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch {
    return bad('is not a well-formed CMS SignedData');
  }
  if (signedData.signerInfos.length !== 1) bad(`must have exactly one signer, has ${signedData.signerInfos.length}`);
  // An embedded copy would be what pkijs verifies instead of the manifest on disk.
  if (signedData.encapContentInfo.eContent) bad('embeds its content; the signature must be detached (over manifest.json as stored)');
  const digestOid = signedData.signerInfos[0]!.digestAlgorithm.algorithmId;
  if (digestOid !== OID.sha256 && digestOid !== OID.sha384 && digestOid !== OID.sha512) {
    bad(`uses digest algorithm ${digestOid}; only SHA-256, SHA-384 and SHA-512 are accepted`);
  }
  if (!signedData.certificates?.some((c) => c instanceof pkijs.Certificate)) {
    bad('includes no certificate; the signing certificate (and its chain) must be included');
  }
  return signedData;
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

/** Why this certificate may not sign packages, or null when it may. */
function signingCertificateProblem(cert: pkijs.Certificate): string | null {
  const bc = extension(cert, OID.basicConstraints);
  if (bc && bc.parsedValue instanceof pkijs.BasicConstraints && bc.parsedValue.cA) {
    return 'it is a CA certificate; packages must be signed by an end-entity certificate issued by the CA';
  }
  const ku = extension(cert, OID.keyUsage);
  if (ku) {
    const bits = ku.parsedValue instanceof asn1js.BitString ? new Uint8Array(ku.parsedValue.valueBlock.valueHexView) : new Uint8Array();
    if (((bits[0] ?? 0) & 0x80) === 0) return 'its keyUsage does not include digitalSignature';
  }
  const eku = extension(cert, OID.extKeyUsage);
  if (eku && eku.parsedValue instanceof pkijs.ExtKeyUsage) {
    const purposes = eku.parsedValue.keyPurposes;
    if (!purposes.includes(OID.codeSigning) && !purposes.includes(OID.anyExtendedKeyUsage)) {
      return `its extendedKeyUsage (${purposes.join(', ')}) does not include codeSigning`;
    }
  }
  return null;
}

function findSignerCertificate(signedData: pkijs.SignedData): pkijs.Certificate | undefined {
  const sid = signedData.signerInfos[0]!.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return undefined;
  return signedData.certificates?.find(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber),
  );
}

async function checkChain(
  packageDir: string,
  signerCert: pkijs.Certificate,
  signedData: pkijs.SignedData,
  anchors: pkijs.Certificate[],
  now: Date,
): Promise<void> {
  const who = subjectString(signerCert);
  const refuse = (why: string): never => {
    throw new PackageError('E_UNKNOWN_SIGNER', packageDir, `signer "${who}" ${why}`);
  };
  if (anchors.length === 0) refuse('cannot be trusted: no trust anchor is configured');
  if (signerCert.notBefore.value > now) refuse(`has a certificate not valid before ${signerCert.notBefore.value.toISOString()}`);
  if (signerCert.notAfter.value < now) refuse(`has a certificate that expired on ${signerCert.notAfter.value.toISOString()}`);
  const problem = signingCertificateProblem(signerCert);
  if (problem) refuse(`may not sign packages: ${problem}`);

  const intermediates = (signedData.certificates ?? []).filter(
    (c): c is pkijs.Certificate => c instanceof pkijs.Certificate && c !== signerCert,
  );
  // The chain engine takes the last entry of `certs` as the end entity.
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: anchors,
    certs: [...intermediates, signerCert],
    checkDate: now,
  });
  let result: { result: boolean; resultMessage?: string; certificatePath?: pkijs.Certificate[] };
  try {
    result = await engine.verify({}, cryptoEngine());
  } catch (err) {
    const msg = (err as { resultMessage?: string }).resultMessage ?? (err instanceof Error ? err.message : String(err));
    return refuse(`does not chain to any trusted anchor (${msg})`);
  }
  if (!result.result) refuse(`does not chain to any trusted anchor (${result.resultMessage ?? 'chain validation failed'})`);
  // pkijs checks issuers' CA flags; say so ourselves as well, in words, since this is the trust decision.
  const path = result.certificatePath ?? [];
  for (const issuer of path.slice(1)) {
    const bc = extension(issuer, OID.basicConstraints);
    if (!(bc && bc.parsedValue instanceof pkijs.BasicConstraints && bc.parsedValue.cA)) {
      refuse(`is issued through "${subjectString(issuer)}", which is not a CA certificate`);
    }
  }
}

export async function verifyPackage(packageDir: string, options: VerifyOptions): Promise<VerifiedPackage> {
  cryptoEngine();
  const now = options.now ?? new Date();

  const manifestBytes = readPackageFile(packageDir, PACKAGE_FILES.manifest, 'E_MISSING_FILE');
  const signatureBytes = readPackageFile(packageDir, PACKAGE_FILES.signature, 'E_UNSIGNED');

  // Anything pkijs/asn1js throws on a structure that parsed but holds nonsense (a mutated
  // certificate field, a string that cannot be converted) is a malformed signature, not a crash.
  let signerSubject: string;
  try {
    const signedData = parseSignedData(packageDir, signatureBytes);
    const signerCert = findSignerCertificate(signedData);
    if (!signerCert) {
      throw new PackageError('E_SIGNATURE_FORMAT', packageDir, `${PACKAGE_FILES.signature} does not include the certificate its signer names`);
    }
    let verified: boolean;
    try {
      const r = await signedData.verify({ signer: 0, data: toArrayBuffer(manifestBytes), checkChain: false, extendedMode: true }, cryptoEngine());
      verified = r.signatureVerified === true;
    } catch {
      // pkijs reports a digest mismatch (the usual case of an edited manifest) by throwing.
      verified = false;
    }
    if (!verified) {
      throw new PackageError(
        'E_BAD_SIGNATURE',
        packageDir,
        `${PACKAGE_FILES.signature} does not verify over ${PACKAGE_FILES.manifest}: the manifest was changed after signing, or the signature was made over other content`,
      );
    }
    await checkChain(packageDir, signerCert, signedData, options.trustAnchors, now);
    signerSubject = subjectString(signerCert);
  } catch (err) {
    if (err instanceof PackageError) throw err;
    throw new PackageError('E_SIGNATURE_FORMAT', packageDir, `${PACKAGE_FILES.signature} is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }

  let manifestJson: unknown;
  try {
    manifestJson = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (err) {
    throw new PackageError('E_MANIFEST', packageDir, `${PACKAGE_FILES.manifest}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problem = manifestProblem(manifestJson);
  if (problem) throw new PackageError('E_MANIFEST', packageDir, `${PACKAGE_FILES.manifest}: ${problem.field}: ${problem.reason}`);
  const manifest = manifestJson as PackageManifest;

  const scriptBytes = readPackageFile(packageDir, PACKAGE_FILES.script, 'E_MISSING_FILE');
  const policyBytes = readPackageFile(packageDir, PACKAGE_FILES.policy, 'E_MISSING_FILE');
  for (const [file, bytes, expected] of [
    [PACKAGE_FILES.script, scriptBytes, manifest.script.sha256],
    [PACKAGE_FILES.policy, policyBytes, manifest.policy.sha256],
  ] as const) {
    const actual = sha256Hex(bytes);
    if (actual !== expected) {
      throw new PackageError(
        'E_HASH_MISMATCH',
        packageDir,
        `${file} has SHA-256 ${actual.slice(0, 16)}… but the signed manifest says ${expected.slice(0, 16)}…: the file was changed after signing`,
      );
    }
  }

  let script: string;
  try {
    script = new TextDecoder('utf-8', { fatal: true }).decode(scriptBytes);
  } catch {
    throw new PackageError('E_MANIFEST', packageDir, `${PACKAGE_FILES.script} is not valid UTF-8 text`);
  }

  let policy: Policy;
  try {
    policy = parsePolicyBytes(policyBytes, join(packageDir, PACKAGE_FILES.policy));
  } catch (err) {
    if (err instanceof PolicyError) throw new PackageError('E_POLICY', packageDir, err.message);
    throw err;
  }
  if (policy.domain !== manifest.domain) {
    throw new PackageError('E_POLICY', packageDir, `${PACKAGE_FILES.policy}: /domain: is "${policy.domain}" but the manifest's domain is "${manifest.domain}"`);
  }
  if (policy.applet.id !== manifest.id) {
    throw new PackageError('E_POLICY', packageDir, `${PACKAGE_FILES.policy}: /applet/id: is "${policy.applet.id}" but the manifest's id is "${manifest.id}"`);
  }

  return {
    manifest: Object.freeze({ ...manifest, script: Object.freeze({ ...manifest.script }), policy: Object.freeze({ ...manifest.policy }) }),
    script,
    policy,
    policyBytes,
    signerSubject,
  };
}
