/**
 * The emulator's test PKI (DESIGN §9): a root "AC RACINE TEST DI (fictive)" with two intermediates,
 * "AC PROFESSIONNELS DE SANTE TEST" (CPS certificates) and "AC CARTES VITALE TEST" (Vitale card
 * certificates), and end-entity identities issued on demand. Everything is RSA-2048 and cached
 * under <keyDir>/pki/ so a card keeps the same key and certificate across runs.
 *
 * Several test processes may start on an empty cache together: files are written to a temporary
 * name and linked into place (first writer wins, the others read the winner); a file that does not
 * parse or does not match its key is regenerated rather than trusted.
 */
import { createHash, createPrivateKey, generateKeyPair as generateKeyPairCb, randomBytes, type KeyObject } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bytesEqual } from '../../../platform/sdk/hex.js';
import { certificateSpki, certificateValidity, createCertificate, isPrintableString, spkiOfPrivateKey, toPem, type NameSpec } from './x509.js';

export interface IssuedIdentity {
  privateKeyPem: string;
  certificateDer: Uint8Array;
  /** Issuer(s) up to the root, root last. */
  chainDer: Uint8Array[];
}

export type CaName = 'health' | 'vitale';

export interface IssueOptions {
  /** Cache key, e.g. 'cps:cps-medecin-generaliste:auth'. Same id, same key across runs. */
  id: string;
  ca: CaName;
  subject: { commonName: string; serialNumber?: string; organization?: string; title?: string };
  /** auth: digitalSignature; sign: nonRepudiation. */
  usage: 'auth' | 'sign';
  notBefore?: Date;
  notAfter?: Date;
}

export interface EmulatorPki {
  rootDer: Uint8Array;
  healthCaDer: Uint8Array;
  vitaleCaDer: Uint8Array;
  rootPem: string;
  /** The intermediate then the root, PEM. */
  chainPem(which: CaName): string;
  /** Where the cache lives (root.pem, health-chain.pem, vitale-chain.pem are written there for outside tools). */
  readonly dir: string;
  issue(opts: IssueOptions): Promise<IssuedIdentity>;
}

export const ROOT_CA_NAME: NameSpec = { country: 'FR', organization: 'DI TEST (fictive)', commonName: 'AC RACINE TEST DI (fictive)' };
export const HEALTH_CA_NAME: NameSpec = { country: 'FR', organization: 'DI TEST (fictive)', commonName: 'AC PROFESSIONNELS DE SANTE TEST' };
export const VITALE_CA_NAME: NameSpec = { country: 'FR', organization: 'DI TEST (fictive)', commonName: 'AC CARTES VITALE TEST' };

/**
 * Fixed CA validity, well in the past: certificates of the expired-certificate profile are dated
 * years back and must still chain to CAs that were valid then.
 */
const CA_NOT_BEFORE = new Date('2015-01-01T00:00:00Z');
const ROOT_NOT_AFTER = new Date('2045-12-31T23:59:59Z');
const INTERMEDIATE_NOT_AFTER = new Date('2044-12-31T23:59:59Z');
const END_ENTITY_YEARS = 3;
const DAY_MS = 86_400_000;

const CACHE_VERSION = 1;
const CA_FILE = 'ca.json';
const IDENTITY_DIR = 'identities';

const generateKeyPair = promisify(generateKeyPairCb);

export class PkiError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`emulator PKI ${file}: ${reason}`);
    this.name = 'PkiError';
  }
}

async function newRsaKey(): Promise<KeyObject> {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  return privateKey;
}

function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function b64(u: Uint8Array): string {
  return Buffer.from(u).toString('base64');
}

function unb64(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(s)) throw new Error(`${what} is not base64`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Write `text` to `file` unless it exists: returns false when another writer got there first. */
function writeExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links: fall back to a plain (last writer wins) rename.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
      renameSync(tmp, file);
      return true;
    }
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Replace `file` atomically (readers see the old or the new content, never half of one). */
function writeReplace(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

interface CaEntry {
  key: KeyObject;
  der: Uint8Array;
}

interface CaSet {
  root: CaEntry;
  health: CaEntry;
  vitale: CaEntry;
}

interface StoredEntry {
  keyPem: string;
  certificateDer: string;
}

function encodeEntry(e: CaEntry): StoredEntry {
  return { keyPem: keyPem(e.key), certificateDer: b64(e.der) };
}

function decodeEntry(v: unknown, what: string): CaEntry {
  if (typeof v !== 'object' || v === null) throw new Error(`${what} is missing`);
  const o = v as Record<string, unknown>;
  if (typeof o.keyPem !== 'string') throw new Error(`${what}.keyPem is missing`);
  const key = createPrivateKey(o.keyPem);
  const der = unb64(o.certificateDer, `${what}.certificateDer`);
  if (!bytesEqual(certificateSpki(der), spkiOfPrivateKey(key))) throw new Error(`${what}: key and certificate do not match`);
  return { key, der };
}

function parseCaFile(text: string): CaSet {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (o.version !== CACHE_VERSION) throw new Error(`version ${String(o.version)} is not ${CACHE_VERSION}`);
  return { root: decodeEntry(o.root, 'root'), health: decodeEntry(o.health, 'health'), vitale: decodeEntry(o.vitale, 'vitale') };
}

async function createCaSet(): Promise<CaSet> {
  const [rootKey, healthKey, vitaleKey] = await Promise.all([newRsaKey(), newRsaKey(), newRsaKey()]);
  const rootDer = createCertificate({
    subject: ROOT_CA_NAME,
    subjectSpkiDer: spkiOfPrivateKey(rootKey),
    signingKey: rootKey,
    notBefore: CA_NOT_BEFORE,
    notAfter: ROOT_NOT_AFTER,
    ca: true,
    pathLength: 1,
    keyUsage: { keyCertSign: true, cRLSign: true },
  });
  const intermediate = (name: NameSpec, key: KeyObject): Uint8Array =>
    createCertificate({
      subject: name,
      subjectSpkiDer: spkiOfPrivateKey(key),
      issuer: { certificateDer: rootDer },
      signingKey: rootKey,
      notBefore: CA_NOT_BEFORE,
      notAfter: INTERMEDIATE_NOT_AFTER,
      ca: true,
      pathLength: 0,
      keyUsage: { keyCertSign: true, cRLSign: true },
    });
  return {
    root: { key: rootKey, der: rootDer },
    health: { key: healthKey, der: intermediate(HEALTH_CA_NAME, healthKey) },
    vitale: { key: vitaleKey, der: intermediate(VITALE_CA_NAME, vitaleKey) },
  };
}

const creating = new Map<string, Promise<CaSet>>();

async function loadOrCreateCaSet(dir: string): Promise<CaSet> {
  const file = join(dir, CA_FILE);
  const text = readText(file);
  if (text !== undefined) {
    try {
      return parseCaFile(text);
    } catch {
      // Corrupt or from another layout: set it aside (kept for inspection) and make a new one.
      try {
        renameSync(file, `${file}.corrupt-${Date.now()}-${process.pid}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  const pending = creating.get(file);
  if (pending) return pending;
  const work = (async () => {
    const set = await createCaSet();
    const json = JSON.stringify({ version: CACHE_VERSION, root: encodeEntry(set.root), health: encodeEntry(set.health), vitale: encodeEntry(set.vitale) });
    writeExclusive(file, json);
    // Whoever linked first defines the PKI, possibly another process: use what is on disk.
    const onDisk = readText(file);
    if (onDisk === undefined) throw new PkiError(file, 'vanished right after being written');
    try {
      return parseCaFile(onDisk);
    } catch (err) {
      throw new PkiError(file, `unreadable right after being written (${(err as Error).message}); remove ${dir} to regenerate`);
    }
  })();
  creating.set(file, work);
  try {
    return await work;
  } finally {
    creating.delete(file);
  }
}

/** Outside tools (openssl, the AMO back end) read these; rewrite them when they differ. */
function writePemFiles(dir: string, set: CaSet): void {
  const files: Array<[string, string]> = [
    ['root.pem', toPem('CERTIFICATE', set.root.der)],
    ['health-chain.pem', toPem('CERTIFICATE', set.health.der) + toPem('CERTIFICATE', set.root.der)],
    ['vitale-chain.pem', toPem('CERTIFICATE', set.vitale.der) + toPem('CERTIFICATE', set.root.der)],
  ];
  for (const [name, pem] of files) {
    const f = join(dir, name);
    if (readText(f) !== pem) writeReplace(f, pem);
  }
}

function identityFile(dir: string, id: string): string {
  const readable = id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return join(dir, IDENTITY_DIR, `${readable}-${sha256Hex(id).slice(0, 12)}.json`);
}

function checkIssueOptions(opts: IssueOptions): void {
  if (typeof opts.id !== 'string' || opts.id.length === 0 || opts.id.length > 200) {
    throw new RangeError(`issue: id must be a string of 1 to 200 characters, got ${JSON.stringify(opts.id)}`);
  }
  if (opts.ca !== 'health' && opts.ca !== 'vitale') throw new RangeError(`issue ${opts.id}: ca must be 'health' or 'vitale', got ${String(opts.ca)}`);
  if (opts.usage !== 'auth' && opts.usage !== 'sign') throw new RangeError(`issue ${opts.id}: usage must be 'auth' or 'sign', got ${String(opts.usage)}`);
  if (typeof opts.subject?.commonName !== 'string' || opts.subject.commonName.length === 0) {
    throw new RangeError(`issue ${opts.id}: subject.commonName is required`);
  }
  if (opts.subject.serialNumber !== undefined && !isPrintableString(opts.subject.serialNumber)) {
    throw new RangeError(`issue ${opts.id}: subject.serialNumber must be PrintableString characters (letters, digits, space, '()+,-./:=?)`);
  }
  for (const f of ['notBefore', 'notAfter'] as const) {
    const d = opts[f];
    if (d !== undefined && !(d instanceof Date && Number.isFinite(d.getTime()))) throw new RangeError(`issue ${opts.id}: ${f} is not a valid Date`);
  }
  // Checked before any key is generated: a bad request should cost nothing.
  const { notBefore, notAfter } = validityOf(opts, Date.now());
  if (notBefore.getTime() >= notAfter.getTime()) {
    throw new RangeError(`issue ${opts.id}: notBefore ${notBefore.toISOString()} is not before notAfter ${notAfter.toISOString()}${opts.notBefore ? '' : ' (notBefore defaulted to yesterday: give one)'}`);
  }
}

function validityOf(opts: IssueOptions, now: number): { notBefore: Date; notAfter: Date } {
  const notBefore = opts.notBefore ?? new Date(Math.floor(now / DAY_MS) * DAY_MS - DAY_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + END_ENTITY_YEARS * 365 * DAY_MS);
  return { notBefore, notAfter };
}

/** What must match for a cached certificate to be reused; defaulted dates are left out on purpose. */
function requestFingerprint(opts: IssueOptions): string {
  const s = opts.subject;
  return sha256Hex(
    JSON.stringify({
      ca: opts.ca,
      usage: opts.usage,
      subject: [s.commonName, s.serialNumber ?? null, s.organization ?? null, s.title ?? null],
      notBefore: opts.notBefore?.toISOString() ?? null,
      notAfter: opts.notAfter?.toISOString() ?? null,
    }),
  );
}

interface StoredIdentity {
  key: KeyObject;
  der: Uint8Array;
  request: string;
  issuer: string;
}

function parseIdentity(text: string): StoredIdentity {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (o.version !== CACHE_VERSION) throw new Error(`version ${String(o.version)} is not ${CACHE_VERSION}`);
  if (typeof o.privateKeyPem !== 'string') throw new Error('privateKeyPem is missing');
  if (typeof o.request !== 'string' || typeof o.issuer !== 'string') throw new Error('request or issuer fingerprint is missing');
  const key = createPrivateKey(o.privateKeyPem);
  return { key, der: unb64(o.certificateDer, 'certificateDer'), request: o.request, issuer: o.issuer };
}

class Pki implements EmulatorPki {
  readonly rootDer: Uint8Array;
  readonly healthCaDer: Uint8Array;
  readonly vitaleCaDer: Uint8Array;
  readonly rootPem: string;
  readonly #set: CaSet;
  readonly #inFlight = new Map<string, Promise<IssuedIdentity>>();

  constructor(
    readonly dir: string,
    set: CaSet,
  ) {
    this.#set = set;
    this.rootDer = set.root.der.slice();
    this.healthCaDer = set.health.der.slice();
    this.vitaleCaDer = set.vitale.der.slice();
    this.rootPem = toPem('CERTIFICATE', set.root.der);
  }

  chainPem(which: CaName): string {
    if (which !== 'health' && which !== 'vitale') throw new RangeError(`chainPem: which must be 'health' or 'vitale', got ${String(which)}`);
    return toPem('CERTIFICATE', this.#set[which].der) + this.rootPem;
  }

  issue(opts: IssueOptions): Promise<IssuedIdentity> {
    try {
      checkIssueOptions(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    const running = this.#inFlight.get(opts.id);
    if (running) return running;
    const work = this.#issue(opts).finally(() => this.#inFlight.delete(opts.id));
    this.#inFlight.set(opts.id, work);
    return work;
  }

  async #issue(opts: IssueOptions): Promise<IssuedIdentity> {
    const file = identityFile(this.dir, opts.id);
    const ca = this.#set[opts.ca];
    const request = requestFingerprint(opts);
    const issuer = sha256Hex(ca.der);
    const now = Date.now();

    let key: KeyObject | undefined;
    const text = readText(file);
    let existed = false;
    if (text !== undefined) {
      existed = true;
      try {
        const stored = parseIdentity(text);
        key = stored.key;
        const matches = bytesEqual(certificateSpki(stored.der), spkiOfPrivateKey(stored.key));
        // A certificate with defaulted dates that has run out is renewed; an explicitly dated one never is.
        const lapsed = opts.notAfter === undefined && certificateValidity(stored.der).notAfter.getTime() < now;
        if (matches && stored.request === request && stored.issuer === issuer && !lapsed) return this.#identity(stored.key, stored.der, opts.ca);
      } catch {
        // Unreadable: a new key and certificate below.
        key = undefined;
      }
    }

    key ??= await newRsaKey();
    const { notBefore, notAfter } = validityOf(opts, now);
    const der = createCertificate({
      subject: { country: 'FR', ...definedOnly(opts.subject) },
      subjectSpkiDer: spkiOfPrivateKey(key),
      issuer: { certificateDer: ca.der },
      signingKey: ca.key,
      notBefore,
      notAfter,
      ca: false,
      keyUsage: opts.usage === 'auth' ? { digitalSignature: true } : { nonRepudiation: true },
      clientAuth: opts.usage === 'auth',
    });
    const json = JSON.stringify({ version: CACHE_VERSION, id: opts.id, request, issuer, privateKeyPem: keyPem(key), certificateDer: b64(der) });
    mkdirSync(join(this.dir, IDENTITY_DIR), { recursive: true, mode: 0o700 });
    if (existed) {
      writeReplace(file, json);
      return this.#identity(key, der, opts.ca);
    }
    if (writeExclusive(file, json)) return this.#identity(key, der, opts.ca);
    // Another process issued the same id first: take its identity so both agree.
    const theirs = readText(file);
    if (theirs !== undefined) {
      try {
        const stored = parseIdentity(theirs);
        if (stored.request === request && stored.issuer === issuer) return this.#identity(stored.key, stored.der, opts.ca);
      } catch {
        // fall through: ours replaces the unreadable one
      }
    }
    writeReplace(file, json);
    return this.#identity(key, der, opts.ca);
  }

  #identity(key: KeyObject, der: Uint8Array, ca: CaName): IssuedIdentity {
    return { privateKeyPem: keyPem(key), certificateDer: der.slice(), chainDer: [this.#set[ca].der.slice(), this.#set.root.der.slice()] };
  }
}

function definedOnly(s: IssueOptions['subject']): Omit<NameSpec, 'country'> {
  const out: Omit<NameSpec, 'country'> = { commonName: s.commonName };
  if (s.organization !== undefined) out.organization = s.organization;
  if (s.title !== undefined) out.title = s.title;
  if (s.serialNumber !== undefined) out.serialNumber = s.serialNumber;
  return out;
}

/** The PKI under <keyDir>/pki/, made on first use (three RSA-2048 keys: allow a second or two). */
export async function loadOrCreatePki(keyDir: string): Promise<EmulatorPki> {
  if (typeof keyDir !== 'string' || keyDir.length === 0) throw new RangeError('loadOrCreatePki: keyDir must be a non-empty path');
  const dir = join(keyDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const set = await loadOrCreateCaSet(dir);
  writePemFiles(dir, set);
  return new Pki(dir, set);
}
