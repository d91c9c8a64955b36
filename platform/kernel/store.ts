/**
 * The per-domain persistent store behind `platform.store` (DESIGN §4): one SQLite database per
 * domain at `<dataDir>/stores/<domain>.sqlite`, WAL with synchronous=FULL so that a call that
 * returned is on disk ("nothing acknowledged is ever lost"), values as msgpack of plain data.
 *
 * Everything here is synchronous; the kernel wraps calls for the async applet API and is the only
 * process that opens these files, which is what lets usage be counted in memory.
 *
 * Quota accounting: bytes = Σ (UTF-8 length of key + length of encoded value).
 * list() order is SQLite's BINARY collation on UTF-8, i.e. Unicode code point order.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Packr } from 'msgpackr';
import type { StoreListOptions, StoreOp, Transferable } from '../sdk/api.js';
import { redactText } from './redact.js';

export type StoreErrorCode = 'E_QUOTA' | 'E_KEY' | 'E_VALUE' | 'E_STORE';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** The key concerned, when there is one (unredacted: for the kernel's own logic only). */
  readonly key: string | undefined;

  constructor(code: StoreErrorCode, message: string, key?: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.key = key;
  }
}

export interface DomainStoreOptions {
  dataDir: string;
  domain: string;
  /** Upper bound on Σ(key bytes + value bytes), from the domain policy. */
  quotaBytes: number;
}

export interface StoreUsage {
  bytes: number;
  keys: number;
}

export interface DomainStore {
  readonly domain: string;
  readonly path: string;
  readonly quotaBytes: number;
  /** Read back from the connection after setting, so a silently ignored pragma is caught at open. */
  readonly durability: { journalMode: 'wal'; synchronous: 'full' };
  get(key: string): Transferable | undefined;
  put(key: string, value: Transferable): void;
  delete(key: string): boolean;
  list(options?: StoreListOptions): string[];
  /** All ops or none; quota checked against the state after the last op. */
  transaction(ops: StoreOp[]): void;
  usage(): StoreUsage;
  close(): void;
}

export const MAX_KEY_CHARS = 512;
export const MAX_VALUE_BYTES = 1024 * 1024;
export const MAX_TRANSACTION_OPS = 10_000;
const MAX_VALUE_DEPTH = 64;

const DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// C0, DEL and C1 controls.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Stores open in this process, by file: the in-memory usage counters assume a single writer. */
const openStores = new Set<string>();

/** A key as it may appear in a message: quoted, shortened, and with any card number masked. */
function showKey(key: string): string {
  const shown = key.length > 80 ? `${key.slice(0, 80)}…` : key;
  return redactText(JSON.stringify(shown));
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string') throw new StoreError('E_KEY', `store ${what} must be a string, got ${describeType(key)}`);
  const len = codePointLength(key);
  if (len < 1 || len > MAX_KEY_CHARS) {
    throw new StoreError('E_KEY', `store ${what} ${showKey(key)} must be 1–${MAX_KEY_CHARS} characters long (is ${len})`, key);
  }
  if (CONTROL_RE.test(key)) throw new StoreError('E_KEY', `store ${what} ${showKey(key)} contains a control character`, key);
  if (LONE_SURROGATE_RE.test(key)) {
    throw new StoreError('E_KEY', `store ${what} ${showKey(key)} contains an unpaired UTF-16 surrogate (not valid Unicode)`, key);
  }
  return key;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  const proto: unknown = Object.getPrototypeOf(v);
  const ctor = proto && typeof proto === 'object' ? (proto as { constructor?: { name?: unknown } }).constructor : undefined;
  return typeof ctor?.name === 'string' && ctor.name.length > 0 ? ctor.name : 'object';
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Rejects anything that is not Transferable before it reaches msgpack, which would otherwise
 * drop `undefined`, turn class instances into plain maps, rename `__proto__` or loop on cycles.
 */
function checkValue(key: string, value: unknown): void {
  const ancestors = new Set<object>();
  const fail = (path: string, why: string): never => {
    throw new StoreError('E_VALUE', `store value for key ${showKey(key)} at ${redactText(path)}: ${why}`, key);
  };
  const visit = (v: unknown, path: string, depth: number): void => {
    switch (typeof v) {
      case 'string':
        if (LONE_SURROGATE_RE.test(v)) fail(path, 'string contains an unpaired UTF-16 surrogate (not valid Unicode)');
        return;
      case 'number':
      case 'boolean':
        return;
      case 'undefined':
        return fail(path, 'undefined is not Transferable (use null or omit the field)');
      case 'function':
        return fail(path, 'a function is not Transferable');
      case 'symbol':
        return fail(path, 'a symbol is not Transferable');
      case 'bigint':
        return fail(path, 'a bigint is not Transferable (use a number or a string)');
      default:
        break;
    }
    if (v === null) return;
    const obj = v as object;
    if (obj instanceof Uint8Array) return;
    if (obj instanceof Date) return fail(path, 'a Date is not Transferable (store an ISO string or epoch milliseconds)');
    if (depth >= MAX_VALUE_DEPTH) return fail(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
    if (ancestors.has(obj)) return fail(path, 'circular reference');
    ancestors.add(obj);
    if (Array.isArray(obj)) {
      if (Object.getPrototypeOf(obj) !== Array.prototype) fail(path, `${describeType(obj)} is not a plain array`);
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) fail(`${path}[${i}]`, 'array hole is not Transferable');
        visit(obj[i], `${path}[${i}]`, depth + 1);
      }
    } else {
      const proto: unknown = Object.getPrototypeOf(obj);
      if (proto !== Object.prototype && proto !== null) {
        fail(path, `${describeType(obj)} instance is not Transferable (only plain objects, arrays, Uint8Array)`);
      }
      if (Object.getOwnPropertySymbols(obj).length > 0) fail(path, 'symbol-keyed properties are not Transferable');
      const descriptors = Object.getOwnPropertyDescriptors(obj);
      for (const k of Object.keys(descriptors)) {
        const d = descriptors[k]!;
        if (!d.enumerable) continue;
        if (k === '__proto__') fail(childPath(path, k), 'the key "__proto__" is not allowed');
        if (d.get !== undefined || d.set !== undefined) fail(childPath(path, k), 'accessor properties are not Transferable');
        visit(d.value, childPath(path, k), depth + 1);
      }
    }
    ancestors.delete(obj);
  };
  visit(value, '$', 0);
}

// Plain data only: no records/structures (which would make stored bytes depend on earlier
// writes) and no extension types that could revive class instances on decode.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

function encode(key: string, value: unknown): Buffer {
  checkValue(key, value);
  let bytes: Buffer;
  try {
    bytes = packr.pack(value);
  } catch (err) {
    throw new StoreError('E_VALUE', `store value for key ${showKey(key)} cannot be encoded: ${redactText(String(err))}`, key);
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new StoreError(
      'E_VALUE',
      `store value for key ${showKey(key)} is ${bytes.length} bytes encoded, over the ${MAX_VALUE_BYTES}-byte limit per value`,
      key,
    );
  }
  // pack() may return a view on a shared buffer that the next pack() overwrites.
  return Buffer.from(bytes);
}

/** Decoded bin values are Buffers viewing the row; applets get their own plain Uint8Array. */
function toTransferable(v: unknown): Transferable {
  if (v === null || typeof v !== 'object') return v as Transferable;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(toTransferable);
  const out: { [key: string]: Transferable } = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    Object.defineProperty(out, k, { value: toTransferable(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The smallest string greater than every string starting with `prefix` (code point order). */
function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()!;
    if (last < 0x10ffff) {
      last++;
      if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
      cps.push(last);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

interface Statements {
  get: Database.Statement<[string], { value: Buffer }>;
  size: Database.Statement<[string], { size: number }>;
  upsert: Database.Statement<[string, Buffer]>;
  del: Database.Statement<[string]>;
  listRange: Database.Statement<[string, string, number], { key: string }>;
  listFrom: Database.Statement<[string, number], { key: string }>;
}

export function openDomainStore(options: DomainStoreOptions): DomainStore {
  const { dataDir, domain, quotaBytes } = options;
  if (typeof domain !== 'string' || !DOMAIN_RE.test(domain)) {
    // The domain names a file: anything path-like would escape the stores directory.
    throw new StoreError('E_STORE', `store domain ${redactText(JSON.stringify(String(domain)))} must match ${DOMAIN_RE}`);
  }
  if (typeof quotaBytes !== 'number' || !Number.isSafeInteger(quotaBytes) || quotaBytes < 0) {
    throw new StoreError('E_STORE', `store quota for domain ${domain} must be a non-negative integer number of bytes, got ${String(quotaBytes)}`);
  }
  const dir = resolve(dataDir, 'stores');
  const path = join(dir, `${domain}.sqlite`);
  if (openStores.has(path)) throw new StoreError('E_STORE', `store for domain ${domain} is already open (${path})`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw new StoreError('E_STORE', `store for domain ${domain}: cannot open ${path}: ${String(err)}`);
  }
  let stmts: Statements;
  let bytes: number;
  let keys: number;
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL was refused`);
    db.pragma('synchronous = FULL');
    const sync = db.pragma('synchronous', { simple: true });
    if (sync !== 2) throw new Error(`synchronous is ${String(sync)} after setting FULL (2)`);
    db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
    stmts = {
      get: db.prepare('SELECT value FROM kv WHERE key = ?'),
      size: db.prepare('SELECT length(CAST(key AS BLOB)) + length(value) AS size FROM kv WHERE key = ?'),
      upsert: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      del: db.prepare('DELETE FROM kv WHERE key = ?'),
      listRange: db.prepare('SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?'),
      listFrom: db.prepare('SELECT key FROM kv WHERE key >= ? ORDER BY key LIMIT ?'),
    };
    const row = db
      .prepare('SELECT COUNT(*) AS keys, COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0) AS bytes FROM kv')
      .get() as { keys: number; bytes: number };
    bytes = row.bytes;
    keys = row.keys;
  } catch (err) {
    db.close();
    throw new StoreError('E_STORE', `store for domain ${domain}: cannot prepare ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  openStores.add(path);
  let closed = false;

  const live = (): void => {
    if (closed) throw new StoreError('E_STORE', `store for domain ${domain} is closed`);
  };
  const dbError = (what: string, key: string | undefined, err: unknown): StoreError => {
    if (err instanceof StoreError) return err;
    const on = key === undefined ? '' : ` for key ${showKey(key)}`;
    return new StoreError('E_STORE', `store ${domain}: ${what}${on} failed: ${redactText(err instanceof Error ? err.message : String(err))}`, key);
  };
  const quotaError = (attempted: number, key?: string): StoreError =>
    new StoreError(
      'E_QUOTA',
      `store ${domain}: ${key === undefined ? 'transaction' : `put of key ${showKey(key)}`} would use ${attempted} bytes, over the quota of ${quotaBytes} bytes`,
      key,
    );

  /** Applies one write inside the current SQL transaction; returns the change in (bytes, keys). */
  const applyPut = (key: string, encoded: Buffer): { dBytes: number; dKeys: number } => {
    const old = stmts.size.get(key);
    stmts.upsert.run(key, encoded);
    const size = Buffer.byteLength(key, 'utf8') + encoded.length;
    return old === undefined ? { dBytes: size, dKeys: 1 } : { dBytes: size - old.size, dKeys: 0 };
  };
  const applyDelete = (key: string): { dBytes: number; dKeys: number } => {
    const old = stmts.size.get(key);
    if (old === undefined) return { dBytes: 0, dKeys: 0 };
    stmts.del.run(key);
    return { dBytes: -old.size, dKeys: -1 };
  };

  const putTx = db.transaction((key: string, encoded: Buffer): { dBytes: number; dKeys: number } => {
    const d = applyPut(key, encoded);
    if (bytes + d.dBytes > quotaBytes && d.dBytes > 0) throw quotaError(bytes + d.dBytes, key);
    return d;
  });

  type Prepared = { op: 'put'; key: string; encoded: Buffer } | { op: 'delete'; key: string };
  const batchTx = db.transaction((prepared: Prepared[]): { dBytes: number; dKeys: number } => {
    let dBytes = 0;
    let dKeys = 0;
    for (const p of prepared) {
      const d = p.op === 'put' ? applyPut(p.key, p.encoded) : applyDelete(p.key);
      dBytes += d.dBytes;
      dKeys += d.dKeys;
    }
    // Only the end state counts: [delete big, put big'] must work even if the reverse would not.
    if (bytes + dBytes > quotaBytes && dBytes > 0) throw quotaError(bytes + dBytes);
    return { dBytes, dKeys };
  });

  const store: DomainStore = {
    domain,
    path,
    quotaBytes,
    durability: { journalMode: 'wal', synchronous: 'full' },

    get(key: string): Transferable | undefined {
      live();
      checkKey(key);
      let row: { value: Buffer } | undefined;
      try {
        row = stmts.get.get(key);
      } catch (err) {
        throw dbError('get', key, err);
      }
      if (row === undefined) return undefined;
      try {
        const decoded: unknown = packr.unpack(row.value);
        // A damaged row can decode to undefined or odd types; that must not pass as "missing".
        checkValue(key, decoded);
        return toTransferable(decoded);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new StoreError('E_STORE', `store ${domain}: value for key ${showKey(key)} cannot be decoded (corrupt row?): ${redactText(why)}`, key);
      }
    },

    put(key: string, value: Transferable): void {
      live();
      checkKey(key);
      const encoded = encode(key, value);
      let d: { dBytes: number; dKeys: number };
      try {
        d = putTx.immediate(key, encoded);
      } catch (err) {
        throw dbError('put', key, err);
      }
      bytes += d.dBytes;
      keys += d.dKeys;
    },

    delete(key: string): boolean {
      live();
      checkKey(key);
      let d: { dBytes: number; dKeys: number };
      try {
        d = db.transaction(() => applyDelete(key)).immediate();
      } catch (err) {
        throw dbError('delete', key, err);
      }
      bytes += d.dBytes;
      keys += d.dKeys;
      return d.dKeys !== 0;
    },

    list(options: StoreListOptions = {}): string[] {
      live();
      if (options === null || typeof options !== 'object') throw new StoreError('E_VALUE', 'store list options must be an object');
      const prefix = options.prefix ?? '';
      if (prefix !== '') checkKey(prefix, 'list prefix');
      const limit = options.limit ?? -1;
      if (options.limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
        throw new StoreError('E_VALUE', `store list limit must be a positive integer, got ${String(options.limit)}`);
      }
      // Range on the primary key instead of LIKE: '%' and '_' in a prefix are plain characters,
      // and the index is used.
      const upper = prefixUpperBound(prefix);
      try {
        const rows = upper === undefined ? stmts.listFrom.all(prefix, limit) : stmts.listRange.all(prefix, upper, limit);
        return rows.map((r) => r.key);
      } catch (err) {
        throw dbError('list', undefined, err);
      }
    },

    transaction(ops: StoreOp[]): void {
      live();
      if (!Array.isArray(ops)) throw new StoreError('E_VALUE', `store transaction takes an array of ops, got ${describeType(ops)}`);
      if (ops.length > MAX_TRANSACTION_OPS) {
        throw new StoreError('E_VALUE', `store transaction has ${ops.length} ops, over the limit of ${MAX_TRANSACTION_OPS}`);
      }
      // Everything that can be checked without the database is checked before it is touched.
      const prepared: Prepared[] = ops.map((op: unknown, i): Prepared => {
        if (op === null || typeof op !== 'object') throw new StoreError('E_VALUE', `store transaction op #${i} is not an object`);
        const o = op as { op?: unknown; key?: unknown; value?: unknown };
        if (o.op === 'put') {
          const key = checkKey(o.key, `key (transaction op #${i})`);
          if (!('value' in o)) throw new StoreError('E_VALUE', `store transaction op #${i} (put ${showKey(key)}) has no value`, key);
          return { op: 'put', key, encoded: encode(key, o.value) };
        }
        if (o.op === 'delete') return { op: 'delete', key: checkKey(o.key, `key (transaction op #${i})`) };
        throw new StoreError('E_VALUE', `store transaction op #${i} has op ${redactText(JSON.stringify(String(o.op)))}; expected 'put' or 'delete'`);
      });
      if (prepared.length === 0) return;
      let d: { dBytes: number; dKeys: number };
      try {
        d = batchTx.immediate(prepared);
      } catch (err) {
        throw dbError('transaction', undefined, err);
      }
      bytes += d.dBytes;
      keys += d.dKeys;
    },

    usage(): StoreUsage {
      live();
      return { bytes, keys };
    },

    close(): void {
      if (closed) return;
      closed = true;
      openStores.delete(path);
      db.close();
    },
  };
  return store;
}
