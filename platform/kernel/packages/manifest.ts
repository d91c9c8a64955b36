/**
 * The signed applet package format (DESIGN §8): four files in one directory.
 *
 *   applet.js      the bundled applet script
 *   policy.json    the domain policy, byte for byte as the manufacturer wrote it
 *   manifest.json  id, version, domain and the SHA-256 of the two files above
 *   signature.p7s  CMS SignedData (DER) over the exact bytes of manifest.json, detached
 *
 * Only the manifest is signed; the hashes in it bind the script and the policy.
 */
import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';

export const PACKAGE_FILES = {
  script: 'applet.js',
  policy: 'policy.json',
  manifest: 'manifest.json',
  signature: 'signature.p7s',
} as const;

export interface PackageManifest {
  format: 1;
  id: string;
  version: string;
  domain: string;
  script: { file: 'applet.js'; sha256: string };
  policy: { file: 'policy.json'; sha256: string };
  /** ISO 8601, when the package was made (informative: not a validity bound). */
  createdAt: string;
}

export type PackageErrorCode =
  | 'E_MISSING_FILE'
  | 'E_UNSIGNED'
  | 'E_SIGNATURE_FORMAT'
  | 'E_BAD_SIGNATURE'
  | 'E_UNKNOWN_SIGNER'
  | 'E_MANIFEST'
  | 'E_HASH_MISMATCH'
  | 'E_POLICY'
  | 'E_PACK';

/** Why a package was refused (or could not be made: E_PACK). */
export class PackageError extends Error {
  constructor(
    readonly code: PackageErrorCode,
    readonly packageDir: string,
    readonly reason: string,
  ) {
    super(`${code}: ${packageDir}: ${reason}`);
    this.name = 'PackageError';
  }
}

export const APPLET_ID_PATTERN = '^[a-z][a-z0-9._-]{1,63}$';
export const DOMAIN_PATTERN = '^[a-z][a-z0-9-]{1,31}$';
export const VERSION_PATTERN = '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]{1,32})?$';

const sha256Field = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

const manifestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['format', 'id', 'version', 'domain', 'script', 'policy', 'createdAt'],
  properties: {
    format: { const: 1 },
    id: { type: 'string', pattern: APPLET_ID_PATTERN },
    version: { type: 'string', pattern: VERSION_PATTERN },
    domain: { type: 'string', pattern: DOMAIN_PATTERN },
    script: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'sha256'],
      properties: { file: { const: PACKAGE_FILES.script }, sha256: sha256Field },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'sha256'],
      properties: { file: { const: PACKAGE_FILES.policy }, sha256: sha256Field },
    },
    createdAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true });
const validateManifestSchema: ValidateFunction = ajv.compile(manifestSchema);

/** Checks a parsed manifest; returns the field pointer and reason of the first problem, or null. */
export function manifestProblem(value: unknown): { field: string; reason: string } | null {
  if (validateManifestSchema(value)) return null;
  const e = validateManifestSchema.errors?.[0];
  if (!e) return { field: '/', reason: 'does not match the manifest format' };
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'required') return { field: `${e.instancePath}/${String(p.missingProperty)}`, reason: 'is required but missing' };
  if (e.keyword === 'additionalProperties') {
    return { field: `${e.instancePath}/${String(p.additionalProperty)}`, reason: 'is not a manifest field' };
  }
  if (e.keyword === 'const') return { field: e.instancePath, reason: `must be ${JSON.stringify(p.allowedValue)}` };
  if (e.keyword === 'pattern') {
    const hints: Record<string, string> = {
      [APPLET_ID_PATTERN]: 'must be an applet id (lowercase letters, digits, ".", "_", "-"; starts with a letter)',
      [DOMAIN_PATTERN]: 'must be a domain id (lowercase letters, digits, "-"; starts with a letter)',
      [VERSION_PATTERN]: 'must be a semantic version such as 1.2.3',
      [sha256Field.pattern]: 'must be a SHA-256 digest as 64 lowercase hex digits',
    };
    return { field: e.instancePath, reason: hints[String(p.pattern)] ?? 'must be an ISO 8601 UTC time such as 2024-01-31T12:00:00Z' };
  }
  return { field: e.instancePath || '/', reason: e.message ?? `fails rule "${e.keyword}"` };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The manifest's bytes as written and signed: stable key order, two-space indent, final newline. */
export function serializeManifest(m: PackageManifest): Uint8Array {
  const ordered: PackageManifest = {
    format: m.format,
    id: m.id,
    version: m.version,
    domain: m.domain,
    script: { file: m.script.file, sha256: m.script.sha256 },
    policy: { file: m.policy.file, sha256: m.policy.sha256 },
    createdAt: m.createdAt,
  };
  return new TextEncoder().encode(`${JSON.stringify(ordered, null, 2)}\n`);
}
