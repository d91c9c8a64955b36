/**
 * `di applet pack`: bundle an applet source directory into one script, check its policy, write the
 * manifest and sign it (DESIGN §8). The layout of the source directory:
 *
 *   <dir>/applet.json  { "id", "version", "domain", "entry": "main.ts", "policy": "<path to policy json>" }
 *   <dir>/main.ts ...  the applet; it may import files in <dir> and platform/sdk, nothing else
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuiltin } from 'node:module';
import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { build, type Message, type Plugin } from 'esbuild';
import { parseStrictJson, JsonSyntaxError } from '../policy/strict-json.js';
import { repoRoot } from '../paths.js';
import { parsePolicyBytes, PolicyError } from '../policy/loader.js';
import {
  APPLET_ID_PATTERN,
  DOMAIN_PATTERN,
  PACKAGE_FILES,
  PackageError,
  VERSION_PATTERN,
  serializeManifest,
  sha256Hex,
  type PackageManifest,
} from './manifest.js';
import { cryptoEngine, type Signer } from './keys.js';

export interface AppletSource {
  id: string;
  version: string;
  domain: string;
  entry: string;
  policy: string;
  /** npm packages the applet bundles (pure ECMAScript, e.g. pkijs): granted by name, nothing else. */
  packages: string[];
}

export interface PackOptions {
  /** The applet source directory (holds applet.json). */
  dir: string;
  /** Packages are written to <outDir>/<id>/. */
  outDir: string;
  signer: Signer;
  /** platform/sdk, the one directory outside the applet an applet may import from. Found automatically. */
  sdkDir?: string;
  /** For reproducible tests. */
  now?: Date;
}

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

/** Where platform/sdk is, whether we run from the source tree or from the dist/ bundle. */
export function defaultSdkDir(): string {
  const candidates = [new URL('../../sdk/', import.meta.url), new URL('../platform/sdk/', import.meta.url)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(join(p, 'api.ts'))) return p;
  }
  return fileURLToPath(candidates[0]!);
}

function readAppletJson(dir: string): AppletSource {
  const file = join(dir, 'applet.json');
  const fail = (field: string, reason: string): never => {
    throw new PackageError('E_PACK', dir, `applet.json: ${field}: ${reason}`);
  };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail('/', `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); an applet directory needs an applet.json`);
  }
  let json: unknown;
  try {
    json = parseStrictJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return fail(err.pointer || '/', err.message);
    throw err;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return fail('/', 'must be a JSON object');
  const obj = json as Record<string, unknown>;
  const allowed = ['id', 'version', 'domain', 'entry', 'policy', 'packages'];
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) fail(`/${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
  const str = (k: string, pattern: string | null, hint: string): string => {
    const v = obj[k];
    if (typeof v !== 'string') return fail(`/${k}`, v === undefined ? 'is required but missing' : 'must be a string');
    if (pattern && !new RegExp(pattern).test(v)) return fail(`/${k}`, `${hint}; got ${JSON.stringify(v)}`);
    return v;
  };
  const id = str('id', APPLET_ID_PATTERN, 'must be an applet id (lowercase letters, digits, ".", "_", "-"; starts with a letter)');
  const version = str('version', VERSION_PATTERN, 'must be a semantic version such as 1.0.0');
  const domain = str('domain', DOMAIN_PATTERN, 'must be a domain id (lowercase letters, digits, "-"; starts with a letter)');
  const entry = str('entry', null, '');
  const policy = str('policy', null, '');
  const packages = obj.packages ?? [];
  if (!Array.isArray(packages) || !packages.every((p) => typeof p === 'string' && PACKAGE_NAME.test(p))) {
    fail('/packages', 'must be an array of npm package names (e.g. ["pkijs", "asn1js"])');
  }
  if (isAbsolute(entry) || entry.split(/[\\/]/).includes('..') || !/\.(ts|js|mts|mjs)$/.test(entry)) {
    fail('/entry', `must be a .ts or .js file inside the applet directory, given relative to it; got ${JSON.stringify(entry)}`);
  }
  if (!policy.endsWith('.json')) fail('/policy', `must be the path of the policy .json file, relative to the applet directory; got ${JSON.stringify(policy)}`);
  return { id, version, domain, entry, policy, packages: packages as string[] };
}

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}


function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Keeps the bundle to the applet's own files, platform/sdk and the npm packages its applet.json
 * grants (with what they import in turn): the sandbox has no modules, so whatever is not bundled is
 * not there, and Node built-ins are refused whoever imports them.
 */
function confinePlugin(appletDir: string, sdkDir: string, packages: readonly string[]): Plugin {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  const roots = [appletDir, sdkDir].map(real);
  // Granted packages are the platform's installed ones, never a node_modules folder the applet ships.
  const installed = real(join(repoRoot(), 'node_modules'));
  return {
    name: 'applet-confinement',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if ((args.pluginData as { confined?: boolean } | undefined)?.confined) return undefined;
        if (args.kind === 'entry-point') return undefined;
        const spec = args.path;
        const from = args.importer ? relative(appletDir, args.importer) || args.importer : 'the entry';
        const bare = !spec.startsWith('.') && !isAbsolute(spec);
        // A granted package's own imports (its dependencies, its relative files) come with it.
        const fromPackage = args.importer !== undefined && args.importer !== '' && isInside(installed, real(args.importer));
        if (bare && (isBuiltin(spec) || (!fromPackage && !packages.includes(packageName(spec))))) {
          return {
            errors: [
              {
                text: isBuiltin(spec)
                  ? `"${spec}" (imported by ${from}) is a Node built-in; the sandbox has no modules, file system or network`
                  : `"${spec}" (imported by ${from}) is a package the applet does not declare; applets may import files inside the applet directory, platform/sdk and the packages listed in applet.json "packages"`,
              },
            ],
          };
        }
        const r = await b.resolve(spec, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { confined: true } });
        if (r.errors.length > 0) return { errors: r.errors };
        const target = real(r.path);
        const inPackages = (bare || fromPackage) && isInside(installed, target);
        if (!inPackages && !roots.some((root) => isInside(root, target))) {
          return {
            errors: [
              {
                text: `"${spec}" (imported by ${from}) resolves to ${target}, outside the applet directory, platform/sdk and the granted packages; copy what you need into the applet`,
              },
            ],
          };
        }
        return r;
      });
    },
  };
}

function formatBuildErrors(errors: Message[]): string {
  return errors
    .slice(0, 5)
    .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ${e.text}` : e.text))
    .join('; ');
}

/** Bundle an applet's entry into one self-contained script (IIFE, ES2022, no imports left). */
export async function bundleApplet(appletDir: string, entry: string, sdkDir = defaultSdkDir(), packages?: readonly string[]): Promise<string> {
  const entryPath = join(appletDir, entry);
  const granted = packages ?? (existsSync(join(appletDir, 'applet.json')) ? readAppletJson(appletDir).packages : []);
  if (!existsSync(entryPath)) throw new PackageError('E_PACK', appletDir, `entry ${entry} does not exist`);
  try {
    const result = await build({
      entryPoints: [entryPath],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'neutral',
      // Granted packages resolve as ES modules first, CommonJS otherwise (neutral sets neither).
      mainFields: ['module', 'main'],
      // Granted packages come from the platform's own installation (versions pinned by its lockfile).
      nodePaths: [join(repoRoot(), 'node_modules')],
      target: 'es2022',
      minify: false,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
      // Relative to the applet so the script does not embed the packager's absolute paths.
      absWorkingDir: realpathSync(appletDir),
      plugins: [confinePlugin(appletDir, sdkDir, granted)],
    });
    const out = result.outputFiles[0];
    if (!out) throw new PackageError('E_PACK', appletDir, 'the bundler produced no output');
    return out.text;
  } catch (err) {
    if (err instanceof PackageError) throw err;
    const errors = (err as { errors?: Message[] }).errors;
    throw new PackageError(
      'E_PACK',
      appletDir,
      `cannot bundle ${entry}: ${errors && errors.length > 0 ? formatBuildErrors(errors) : err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** CMS SignedData (DER) over `content`, detached, with the signer's chain included. */
export async function signDetached(content: Uint8Array, signer: Signer, now = new Date()): Promise<Uint8Array> {
  const crypto = cryptoEngine();
  const leaf = signer.chain[0];
  if (!leaf) throw new Error('signDetached: the signer has no certificate');
  const digest = await webcrypto.subtle.digest('SHA-256', content);
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: leaf.issuer, serialNumber: leaf.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
            new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
            new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [new asn1js.UTCTime({ valueDate: now })] }),
          ],
        }),
      }),
    ],
    certificates: signer.chain,
  });
  await signedData.sign(signer.privateKey, 0, 'SHA-256', content.slice().buffer, crypto);
  const contentInfo = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}

export async function packApplet(options: PackOptions): Promise<{ packageDir: string; manifest: PackageManifest }> {
  const dir = resolve(options.dir);
  const source = readAppletJson(dir);

  const policyPath = resolve(dir, source.policy);
  let policyBytes: Uint8Array;
  try {
    policyBytes = new Uint8Array(readFileSync(policyPath));
  } catch (err) {
    throw new PackageError('E_POLICY', dir, `policy ${policyPath} (from applet.json /policy) cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let policy;
  try {
    policy = parsePolicyBytes(policyBytes, policyPath);
  } catch (err) {
    if (err instanceof PolicyError) throw new PackageError('E_POLICY', dir, err.message);
    throw err;
  }
  if (policy.domain !== source.domain) {
    throw new PackageError('E_POLICY', dir, `${policyPath}: /domain: is "${policy.domain}" but applet.json says domain "${source.domain}"`);
  }
  if (policy.applet.id !== source.id) {
    throw new PackageError('E_POLICY', dir, `${policyPath}: /applet/id: is "${policy.applet.id}" but applet.json says id "${source.id}"`);
  }

  const script = await bundleApplet(dir, source.entry, options.sdkDir, source.packages);
  const scriptBytes = new TextEncoder().encode(script);

  const manifest: PackageManifest = {
    format: 1,
    id: source.id,
    version: source.version,
    domain: source.domain,
    script: { file: PACKAGE_FILES.script, sha256: sha256Hex(scriptBytes) },
    policy: { file: PACKAGE_FILES.policy, sha256: sha256Hex(policyBytes) },
    createdAt: (options.now ?? new Date()).toISOString(),
  };
  const manifestBytes = serializeManifest(manifest);
  let signature: Uint8Array;
  try {
    signature = await signDetached(manifestBytes, options.signer, options.now);
  } catch (err) {
    throw new PackageError('E_PACK', dir, `signing failed (${err instanceof Error ? err.message : String(err)})`);
  }

  // The id was checked against a pattern without separators, so this stays inside outDir.
  const packageDir = join(resolve(options.outDir), source.id);
  rmSync(packageDir, { recursive: true, force: true });
  mkdirSync(packageDir, { recursive: true });
  writeFileSync(join(packageDir, PACKAGE_FILES.script), scriptBytes);
  writeFileSync(join(packageDir, PACKAGE_FILES.policy), policyBytes);
  writeFileSync(join(packageDir, PACKAGE_FILES.manifest), manifestBytes);
  writeFileSync(join(packageDir, PACKAGE_FILES.signature), signature);
  return { packageDir, manifest };
}
