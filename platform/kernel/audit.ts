/**
 * The kernel's audit log (DESIGN §4): append-only JSON Lines, hash-chained, redacted.
 *
 * Each line is one entry, serialized canonically: top-level keys in the fixed order
 * seq, ts, domain, event, fields, prev, hash; keys inside `fields` sorted (UTF-16 order) at every
 * level; no whitespace. `hash` is the hex SHA-256 of the same serialization without `hash`, and
 * `prev` is the previous entry's `hash` (64 zeros for the first), so changing, removing, inserting
 * or reordering any line breaks the chain at a line `verifyAuditFile` can name.
 *
 * Only the kernel process writes it, one entry at a time with write + fsync before `append`
 * returns, so the order of entries is the order of events and an acknowledged entry survives a
 * crash. A crash during a write can leave a torn last line; that is reported as a torn write,
 * not as tampering, and `open` refuses to write after it unless asked to repair.
 *
 * An unkeyed chain proves internal consistency only: whoever can rewrite the whole file can
 * recompute every hash. Anchoring `head.hash` somewhere else (printed receipts, the AMO back end)
 * is what makes a full rewrite detectable.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { redactFields, redactText, type RedactedValue } from './redact.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  /** 1 for the first entry, then +1 per entry, no gaps. */
  seq: number;
  /** ISO 8601, UTC. */
  ts: string;
  /** The domain the event concerns, or null for the kernel itself. */
  domain: string | null;
  /** Dotted event name, e.g. 'host.start', 'lease.revoked', 'policy.refused', 'watchdog.breach'. */
  event: string;
  /** Already redacted when stored. */
  fields: { [key: string]: RedactedValue };
  prev: string;
  hash: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Entries that verified, in order, before the first problem (all of them when ok). */
  entries: number;
  /** 1-based line number of the first problem. */
  firstBadLine?: number;
  reason?: string;
  /**
   * The only problem is an incomplete last line, the mark of a crash during an append (the entry
   * was never acknowledged); distinct from tampering.
   */
  torn?: boolean;
}

export interface AuditOpenOptions {
  /** Clock for `ts`; tests inject one. */
  now?: () => Date;
  /**
   * When the last line is torn (crash during append), move its bytes to `<path>.torn-<time>`,
   * cut the file back to the last complete entry and record an 'audit.torn-tail-repaired' entry.
   * Without it, `open` throws so that a person decides.
   */
  repairTornTail?: boolean;
}

export type AuditListener = (entry: AuditEntry) => void;

const EVENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const ENTRY_KEYS = ['seq', 'ts', 'domain', 'event', 'fields', 'prev', 'hash'] as const;

/** Paths open for writing in this process: two writers on one chain would fork it. */
const openPaths = new Set<string>();

// ---- canonical form ----------------------------------------------------------------------------

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v);
    if (s === undefined) throw new TypeError(`audit: value of type ${typeof v} has no JSON form`);
    return s;
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

function serializeBody(e: Omit<AuditEntry, 'hash'>): string {
  return (
    `{"seq":${JSON.stringify(e.seq)},"ts":${JSON.stringify(e.ts)},"domain":${JSON.stringify(e.domain)},` +
    `"event":${JSON.stringify(e.event)},"fields":${canonicalJson(e.fields)},"prev":${JSON.stringify(e.prev)}`
  );
}

/** The hash an entry must carry: SHA-256 over its canonical serialization without `hash`. */
export function computeEntryHash(e: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(`${serializeBody(e)}}`, 'utf8').digest('hex');
}

/** The exact line (without newline) the writer produces for an entry. */
export function serializeEntry(e: AuditEntry): string {
  return `${serializeBody(e)},"hash":${JSON.stringify(e.hash)}}`;
}

// ---- parsing -----------------------------------------------------------------------------------

type ParsedLine = { ok: true; entry: AuditEntry } | { ok: false; reason: string; badJson: boolean };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseLine(line: string): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, badJson: true, reason: `not valid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!isPlainObject(raw)) return { ok: false, badJson: false, reason: 'not a JSON object' };
  const keys = Object.keys(raw);
  const extra = keys.filter((k) => !(ENTRY_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) return { ok: false, badJson: false, reason: `unexpected field(s) ${extra.join(', ')}` };
  const missing = ENTRY_KEYS.filter((k) => !keys.includes(k));
  if (missing.length > 0) return { ok: false, badJson: false, reason: `missing field(s) ${missing.join(', ')}` };
  const { seq, ts, domain, event, fields, prev, hash } = raw;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return bad(`seq ${JSON.stringify(seq)} is not a positive integer`);
  if (typeof ts !== 'string' || !ISO_RE.test(ts) || Number.isNaN(Date.parse(ts))) return bad(`ts ${JSON.stringify(ts)} is not an ISO 8601 UTC time`);
  if (domain !== null && typeof domain !== 'string') return bad('domain is neither a string nor null');
  if (typeof event !== 'string' || event.length === 0) return bad('event is not a non-empty string');
  if (!isPlainObject(fields)) return bad('fields is not an object');
  if (typeof prev !== 'string' || !HEX64_RE.test(prev)) return bad('prev is not 64 lowercase hex digits');
  if (typeof hash !== 'string' || !HEX64_RE.test(hash)) return bad('hash is not 64 lowercase hex digits');
  return {
    ok: true,
    entry: { seq, ts, domain, event, fields: fields as { [key: string]: RedactedValue }, prev, hash },
  };
}

function bad(reason: string): ParsedLine {
  return { ok: false, badJson: false, reason };
}

/** Splits file text into lines; `complete` is false when the last line lacks its newline. */
function splitLines(text: string): { lines: string[]; complete: boolean } {
  if (text.length === 0) return { lines: [], complete: true };
  const complete = text.endsWith('\n');
  const lines = text.split('\n');
  if (complete) lines.pop();
  return { lines, complete };
}

// ---- verification ------------------------------------------------------------------------------

interface ChainCheck {
  result: AuditVerifyResult;
  /** The last verified entry, when any. */
  last?: AuditEntry;
  /** Byte offset just past the last verified line (including its newline). */
  goodBytes: number;
}

function checkChain(text: string): ChainCheck {
  const { lines, complete } = splitLines(text);
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let last: AuditEntry | undefined;
  let goodBytes = 0;
  const fail = (index: number, reason: string, torn = false): ChainCheck => ({
    result: { ok: false, entries: index, firstBadLine: index + 1, reason, ...(torn ? { torn: true } : {}) },
    ...(last ? { last } : {}),
    goodBytes,
  });

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const isLast = i === lines.length - 1;
    const parsed = line.length === 0 ? bad('empty line') : parseLine(line);
    const hashOk = parsed.ok && computeEntryHash(parsed.entry) === parsed.entry.hash;
    if (isLast && !complete) {
      // A write that stopped early leaves a prefix of a valid line and no newline; anything else
      // without a newline (a line that verifies fully) is a complete entry whose newline was lost.
      if (!parsed.ok || !hashOk) {
        return fail(i, `torn write: the last line is incomplete (${line.length} bytes, no newline), as left by a crash during an append`, true);
      }
    }
    if (!parsed.ok) return fail(i, parsed.reason);
    const e = parsed.entry;
    if (serializeEntry(e) !== line) {
      return fail(i, hashOk ? 'line is not in canonical form (edited by hand?)' : 'hash mismatch: the entry was modified after it was written');
    }
    if (!hashOk) return fail(i, 'hash mismatch: the entry was modified after it was written');
    if (e.seq !== expectedSeq) return fail(i, describeSeqBreak(lines, i, expectedSeq, e.seq));
    if (e.prev !== prevHash) {
      return fail(i, `chain broken: prev does not match the hash of ${i === 0 ? 'the genesis' : `line ${i}`} (a line was inserted, removed or replaced)`);
    }
    prevHash = e.hash;
    expectedSeq++;
    last = e;
    goodBytes += Buffer.byteLength(line, 'utf8') + (isLast && !complete ? 0 : 1);
  }
  return { result: { ok: true, entries: lines.length }, ...(last ? { last } : {}), goodBytes };
}

/** Tells a reordering (the expected entry is further down) from a gap or a repeat. */
function describeSeqBreak(lines: string[], index: number, expected: number, found: number): string {
  if (found < expected) return `seq goes back: expected ${expected}, found ${found} (a line was repeated or inserted)`;
  for (let j = index + 1; j < lines.length; j++) {
    const later = parseLine(lines[j]!);
    if (later.ok && later.entry.seq === expected) {
      return `entries out of order: expected seq ${expected}, found ${found}; seq ${expected} is at line ${j + 1}`;
    }
  }
  const missing = found - expected;
  return `seq gap: expected ${expected}, found ${found} (${missing} entr${missing === 1 ? 'y' : 'ies'} deleted)`;
}

/** Checks every line of an audit file: syntax, hashes, seq continuity and the prev links. */
export function verifyAuditFile(path: string): AuditVerifyResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, entries: 0, reason: `cannot read audit file ${path}: ${code ?? String(err)}` };
  }
  return checkChain(text).result;
}

export interface ReadAuditOptions {
  /** Only entries with seq greater than this. */
  sinceSeq?: number;
  /** Only entries for this domain ('kernel' or '-' selects entries with domain null). */
  domain?: string;
}

/**
 * Entries of an audit file for display, without opening it for writing. Lines that do not parse
 * are returned as problems rather than skipped silently.
 */
export function readAuditEntries(
  path: string,
  options: ReadAuditOptions = {},
): { entries: AuditEntry[]; problems: Array<{ line: number; reason: string }> } {
  const text = readFileSync(path, 'utf8');
  const { lines } = splitLines(text);
  const entries: AuditEntry[] = [];
  const problems: Array<{ line: number; reason: string }> = [];
  const since = options.sinceSeq ?? 0;
  const wantKernel = options.domain === 'kernel' || options.domain === '-';
  lines.forEach((line, i) => {
    const parsed = parseLine(line);
    if (!parsed.ok) {
      problems.push({ line: i + 1, reason: parsed.reason });
      return;
    }
    const e = parsed.entry;
    if (e.seq <= since) return;
    if (options.domain !== undefined && !(e.domain === options.domain || (wantKernel && e.domain === null))) return;
    entries.push(e);
  });
  return { entries, problems };
}

// ---- the writer --------------------------------------------------------------------------------

function fsyncDir(dir: string): void {
  // Makes a newly created file's directory entry durable; some platforms cannot open directories.
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the file's own fsync still holds its data.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads the last `maxBytes` of a file (the tail holds the entry the chain continues from). */
function readTail(fd: number, size: number, maxBytes: number): Buffer {
  const len = Math.min(size, maxBytes);
  const buf = Buffer.alloc(len);
  let read = 0;
  while (read < len) {
    const n = readSync(fd, buf, read, len - read, size - len + read);
    if (n === 0) break;
    read += n;
  }
  return buf.subarray(0, read);
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** Longest line `open` reads back to find the chain head; entries are far smaller (fields are bounded). */
const MAX_TAIL_BYTES = 4 * 1024 * 1024;

export class AuditLog {
  readonly path: string;
  private fd: number | undefined;
  private size: number;
  private seq: number;
  private headHash: string;
  private broken: string | undefined;
  private readonly listeners = new Set<AuditListener>();
  private readonly now: () => Date;

  private constructor(path: string, fd: number, size: number, last: AuditEntry | undefined, now: () => Date) {
    this.path = path;
    this.fd = fd;
    this.size = size;
    this.seq = last?.seq ?? 0;
    this.headHash = last?.hash ?? GENESIS_HASH;
    this.now = now;
  }

  /**
   * Opens (creating directories and file as needed) and continues the chain from the last entry.
   * Throws, naming the line, when the last entry is malformed or torn (see `repairTornTail`).
   * Only the tail is read: the full chain is checked by `verifyAuditFile`.
   */
  static open(path: string, options: AuditOpenOptions = {}): AuditLog {
    const abs = resolve(path);
    if (openPaths.has(abs)) throw new Error(`audit log ${abs} is already open for writing in this process`);
    const dir = dirname(abs);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const created = !existsSync(abs);
    const fd = openSync(abs, 'a+', 0o600);
    let log: AuditLog;
    try {
      if (created) fsyncDir(dir);
      const size = fstatSync(fd).size;
      const tail = readTail(fd, size, MAX_TAIL_BYTES);
      const { last, goodSize, tornLine } = AuditLog.readHead(abs, tail, size);
      log = new AuditLog(abs, fd, size, last, options.now ?? (() => new Date()));
      if (tornLine !== undefined) {
        if (!options.repairTornTail) {
          throw new Error(
            `audit log ${abs}: line ${tornLine} is a torn write (incomplete last line left by a crash); ` +
              'refusing to continue the chain; run `di audit verify`, then reopen with repairTornTail to set it aside',
          );
        }
        log.repairTail(goodSize, tornLine);
      } else if (size > 0 && tail[tail.length - 1] !== 0x0a) {
        // The last entry verified but its newline never reached the disk: complete the line.
        writeAll(fd, Buffer.from('\n'));
        fsyncSync(fd);
        log.size += 1;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    openPaths.add(abs);
    return log;
  }

  private static readHead(
    path: string,
    tail: Buffer,
    size: number,
  ): { last?: AuditEntry; goodSize: number; tornLine?: number } {
    if (size === 0) return { goodSize: 0 };
    if (size > tail.length && !tail.subarray(0, tail.length - 1).includes(0x0a)) {
      throw new Error(`audit log ${path}: the last line is longer than ${MAX_TAIL_BYTES} bytes; refusing to continue the chain`);
    }
    const complete = tail[tail.length - 1] === 0x0a;
    const body = complete ? tail.subarray(0, tail.length - 1) : tail;
    const lastNl = body.lastIndexOf(0x0a);
    // Line numbers are needed for messages; counting newlines is cheap compared with parsing.
    const lineNumber = (offsetInTail: number): number => {
      const before = size - tail.length + offsetInTail;
      if (before === 0) return 1;
      return countNewlinesBefore(path, before) + 1;
    };
    const lastLine = body.subarray(lastNl + 1).toString('utf8');
    const parsed = lastLine.length === 0 ? bad('empty line') : parseLine(lastLine);
    const valid = parsed.ok && computeEntryHash(parsed.entry) === parsed.entry.hash && serializeEntry(parsed.entry) === lastLine;
    if (!valid) {
      const line = lineNumber(lastNl + 1);
      if (!complete) {
        const goodSize = size - tail.length + lastNl + 1;
        // Torn only when what precedes it is a sound entry; otherwise the damage is older.
        if (lastNl >= 0) {
          // Buffer.lastIndexOf treats a negative offset as counted from the end, hence the guard.
          const prevStart = lastNl > 0 ? body.lastIndexOf(0x0a, lastNl - 1) + 1 : 0;
          const prevLine = body.subarray(prevStart, lastNl).toString('utf8');
          const prevParsed = parseLine(prevLine);
          if (!prevParsed.ok || computeEntryHash(prevParsed.entry) !== prevParsed.entry.hash) {
            throw new Error(`audit log ${path}: line ${line - 1} is malformed (${prevParsed.ok ? 'hash mismatch' : prevParsed.reason}); refusing to continue the chain`);
          }
          return { last: prevParsed.entry, goodSize, tornLine: line };
        }
        return { goodSize, tornLine: line };
      }
      const reason = parsed.ok ? 'hash mismatch or non-canonical form' : parsed.reason;
      throw new Error(`audit log ${path}: last entry at line ${line} is malformed (${redactText(reason)}); refusing to continue the chain`);
    }
    return { last: (parsed as { ok: true; entry: AuditEntry }).entry, goodSize: size };
  }

  private repairTail(goodSize: number, tornLine: number): void {
    const fd = this.requireFd();
    const tornBytes = this.size - goodSize;
    const torn = readTail(fd, this.size, tornBytes);
    const aside = `${this.path}.torn-${this.now().toISOString().replace(/[:.]/g, '-')}`;
    writeFileSync(aside, torn, { mode: 0o600, flush: true });
    ftruncateSync(fd, goodSize);
    fsyncSync(fd);
    this.size = goodSize;
    this.append('audit.torn-tail-repaired', null, { line: tornLine, bytes: tornBytes, savedTo: aside });
  }

  private requireFd(): number {
    if (this.fd === undefined) throw new Error(`audit log ${this.path} is closed`);
    return this.fd;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** The chain head, to be anchored outside the file. */
  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.headHash };
  }

  /**
   * Appends one entry and returns once it is on disk (write + fsync). `fields` are redacted here,
   * so callers cannot forget to. Throws on a bad event or domain name, or after an I/O failure
   * (the log then refuses further appends rather than risk a forked or torn chain).
   */
  append(event: string, domain: string | null, fields: Record<string, unknown> = {}): AuditEntry {
    const fd = this.requireFd();
    if (this.broken !== undefined) throw new Error(`audit log ${this.path} refuses appends after a write failure: ${this.broken}`);
    if (typeof event !== 'string' || !EVENT_RE.test(event)) {
      throw new Error(`audit: event name ${redactText(JSON.stringify(String(event)).slice(0, 140))} must match ${EVENT_RE}`);
    }
    if (domain !== null && (typeof domain !== 'string' || !DOMAIN_RE.test(domain))) {
      throw new Error(`audit: domain ${redactText(JSON.stringify(String(domain)).slice(0, 80))} must be null or match ${DOMAIN_RE}`);
    }
    const redacted = redactFields(fields);
    const safeFields: { [key: string]: RedactedValue } =
      typeof redacted === 'object' && redacted !== null && !Array.isArray(redacted) ? redacted : { value: redacted };
    const body: Omit<AuditEntry, 'hash'> = {
      seq: this.seq + 1,
      ts: this.now().toISOString(),
      domain,
      event,
      fields: safeFields,
      prev: this.headHash,
    };
    const entry: AuditEntry = { ...body, hash: computeEntryHash(body) };
    const data = Buffer.from(`${serializeEntry(entry)}\n`, 'utf8');
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? String(err);
      try {
        ftruncateSync(fd, this.size);
        fsyncSync(fd);
      } catch {
        this.broken = `write failed (${why}) and the partial line could not be removed`;
        throw new Error(`audit log ${this.path}: ${this.broken}`);
      }
      throw new Error(`audit log ${this.path}: append of '${event}' failed (${why}); nothing was written`);
    }
    this.size += data.length;
    this.seq = entry.seq;
    this.headHash = entry.hash;
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (err) {
        // The entry is already durable; a failing observer must not make it look unwritten.
        process.emitWarning(`audit listener failed on seq ${entry.seq}: ${redactText(String(err))}`);
      }
    }
    return entry;
  }

  /** Entries with seq greater than `seq`, read back from the file. */
  entriesSince(seq: number): AuditEntry[] {
    this.requireFd();
    const text = readFileSync(this.path, 'utf8');
    const out: AuditEntry[] = [];
    const { lines } = splitLines(text);
    lines.forEach((line, i) => {
      const parsed = parseLine(line);
      if (!parsed.ok) throw new Error(`audit log ${this.path}: line ${i + 1} is malformed (${parsed.reason})`);
      if (parsed.entry.seq > seq) out.push(parsed.entry);
    });
    return out;
  }

  /** Called after each durable append; returns a function that unsubscribes. */
  onAppend(listener: AuditListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    this.listeners.clear();
    openPaths.delete(this.path);
  }
}

function countNewlinesBefore(path: string, offset: number): number {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(offset, 1 << 20));
    let count = 0;
    let pos = 0;
    while (pos < offset) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, offset - pos), pos);
      if (n === 0) break;
      for (let i = 0; i < n; i++) if (buf[i] === 0x0a) count++;
      pos += n;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}
