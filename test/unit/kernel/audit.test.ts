import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import {
  AuditLog,
  GENESIS_HASH,
  computeEntryHash,
  readAuditEntries,
  serializeEntry,
  verifyAuditFile,
  type AuditEntry,
} from '../../../platform/kernel/audit.js';
import { registerAuditCommands } from '../../../cli/commands/audit.js';

let dir: string;
let file: string;
let clock: number;
const now = (): Date => new Date(Date.UTC(2025, 0, 1) + clock++ * 1000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'di-audit-'));
  file = join(dir, 'nested', 'audit.log');
  clock = 0;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeLog(n: number): AuditEntry[] {
  const log = AuditLog.open(file, { now });
  const out: AuditEntry[] = [];
  for (let i = 0; i < n; i++) out.push(log.append(i % 2 === 0 ? 'host.start' : 'lease.revoked', i % 3 === 0 ? null : 'payment', { i }));
  log.close();
  return out;
}

function lines(): string[] {
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

function writeLines(ls: string[]): void {
  writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
}

describe('AuditLog', () => {
  it('creates directories, chains entries from the genesis hash and writes canonical lines', () => {
    const log = AuditLog.open(file, { now });
    expect(log.lastSeq).toBe(0);
    const a = log.append('kernel.boot', null, { pid: 42 });
    const b = log.append('host.start', 'sesam-vitale', { z: 1, a: { y: 2, b: 3 } });
    log.close();

    expect(a).toMatchObject({ seq: 1, domain: null, event: 'kernel.boot', prev: GENESIS_HASH, ts: '2025-01-01T00:00:00.000Z' });
    expect(b.seq).toBe(2);
    expect(b.prev).toBe(a.hash);
    // The hash is SHA-256 over the serialization without `hash`, fields sorted.
    const body =
      '{"seq":2,"ts":"2025-01-01T00:00:01.000Z","domain":"sesam-vitale","event":"host.start",' +
      `"fields":{"a":{"b":3,"y":2},"z":1},"prev":"${a.hash}"}`;
    expect(b.hash).toBe(createHash('sha256').update(body).digest('hex'));
    expect(lines()[1]).toBe(`${body.slice(0, -1)},"hash":"${b.hash}"}`);
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 2 });
  });

  it('redacts fields before writing', () => {
    const log = AuditLog.open(file, { now });
    const e = log.append('policy.refused', 'payment', { pin: '1234', pan: '4970101234567893', apdu: new Uint8Array(5) });
    log.close();
    expect(e.fields).toEqual({ pin: '[redacted]', pan: '497010******7893', apdu: '<5 bytes>' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('1234"');
    expect(text).not.toContain('4970101234567893');
  });

  it('continues the chain after reopening', () => {
    const first = writeLog(3);
    const log = AuditLog.open(file, { now });
    expect(log.lastSeq).toBe(3);
    expect(log.head).toEqual({ seq: 3, hash: first[2]!.hash });
    const next = log.append('kernel.boot', null);
    expect(next.seq).toBe(4);
    expect(next.prev).toBe(first[2]!.hash);
    expect(log.entriesSince(2).map((e) => e.seq)).toEqual([3, 4]);
    log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 4 });
  });

  it('notifies listeners after the entry is durable, and unsubscribes', () => {
    const log = AuditLog.open(file, { now });
    const seen: Array<{ seq: number; onDisk: boolean }> = [];
    const off = log.onAppend((e) => seen.push({ seq: e.seq, onDisk: readFileSync(file, 'utf8').includes(e.hash) }));
    log.append('a.one', null);
    off();
    log.append('a.two', null);
    log.close();
    expect(seen).toEqual([{ seq: 1, onDisk: true }]);
  });

  it('refuses bad event and domain names, a second writer, and use after close', () => {
    const log = AuditLog.open(file, { now });
    expect(() => log.append('', null)).toThrow(/event name "" must match/);
    expect(() => log.append('x y', null)).toThrow(/event name "x y"/);
    expect(() => log.append('ok.event', '../etc')).toThrow(/domain "..\/etc"/);
    expect(() => AuditLog.open(file)).toThrow(/already open for writing/);
    log.close();
    expect(() => log.append('late.event', null)).toThrow(/is closed/);
    expect(lines()).toHaveLength(0);
  });

  it('refuses to continue after a malformed tail entry, naming the line', () => {
    writeLog(3);
    const ls = lines();
    ls[2] = ls[2]!.replace('"i":2', '"i":7');
    writeLines(ls);
    expect(() => AuditLog.open(file)).toThrow(/line 3 is malformed/);
    writeLines([...ls.slice(0, 2), '{"not":"an entry"}']);
    expect(() => AuditLog.open(file)).toThrow(/line 3 is malformed \(unexpected field/);
  });

  it('refuses a torn tail by default and repairs it on request without losing acknowledged entries', () => {
    const written = writeLog(3);
    const tornTail = '{"seq":4,"ts":"2025-01-01T00:00:09.000Z","dom';
    appendFileSync(file, tornTail);
    expect(() => AuditLog.open(file)).toThrow(/line 4 is a torn write/);

    const log = AuditLog.open(file, { now, repairTornTail: true });
    expect(log.lastSeq).toBe(4);
    const [repair] = log.entriesSince(3);
    expect(repair).toMatchObject({ seq: 4, event: 'audit.torn-tail-repaired', prev: written[2]!.hash, fields: { line: 4, bytes: tornTail.length } });
    log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 4 });
    const aside = readdirSync(join(dir, 'nested')).filter((f) => f.startsWith('audit.log.torn-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, 'nested', aside[0]!), 'utf8')).toBe(tornTail);
  });

  it('completes a last entry whose newline was lost', () => {
    writeLog(2);
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, -1));
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 2 });
    const log = AuditLog.open(file, { now });
    log.append('after.fix', null);
    log.close();
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 3 });
  });
});

describe('verifyAuditFile detects tampering at the right line', () => {
  it('accepts an intact file and an empty one', () => {
    writeLog(6);
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 6 });
    writeFileSync(file, '');
    expect(verifyAuditFile(file)).toEqual({ ok: true, entries: 0 });
  });

  it('reports a missing file', () => {
    const r = verifyAuditFile(join(dir, 'none.log'));
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/cannot read audit file .*ENOENT/);
  });

  it('modified field', () => {
    writeLog(6);
    const ls = lines();
    ls[3] = ls[3]!.replace('"i":3', '"i":4');
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, entries: 3, firstBadLine: 4, reason: expect.stringMatching(/hash mismatch/) });
  });

  it('modified event with the hash recomputed (breaks the next link)', () => {
    writeLog(6);
    const ls = lines();
    const e = JSON.parse(ls[2]!) as AuditEntry;
    const forged = { ...e, event: 'nothing.happened' };
    forged.hash = computeEntryHash(forged);
    ls[2] = serializeEntry(forged);
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBadLine: 4, reason: expect.stringMatching(/chain broken: prev does not match .*line 3/) });
  });

  it('whitespace edit', () => {
    writeLog(3);
    const ls = lines();
    ls[1] = ls[1]!.replace('"seq":2', '"seq": 2');
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBadLine: 2, reason: expect.stringMatching(/canonical form/) });
  });

  it('deleted line', () => {
    writeLog(6);
    const ls = lines();
    ls.splice(2, 1);
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, entries: 2, firstBadLine: 3, reason: expect.stringMatching(/seq gap: expected 3, found 4 \(1 entry deleted\)/) });
  });

  it('deleted first line', () => {
    writeLog(3);
    writeLines(lines().slice(1));
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBadLine: 1, reason: expect.stringMatching(/seq gap: expected 1, found 2/) });
  });

  it('inserted forged line without a valid hash', () => {
    writeLog(5);
    const ls = lines();
    const forged = ls[1]!.replace('lease.revoked', 'lease.granted');
    ls.splice(2, 0, forged);
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBadLine: 3, reason: expect.stringMatching(/hash mismatch/) });
  });

  it('inserted duplicate (replayed) line', () => {
    writeLog(5);
    const ls = lines();
    ls.splice(3, 0, ls[1]!);
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, firstBadLine: 4, reason: expect.stringMatching(/seq goes back: expected 4, found 2/) });
  });

  it('inserted line forged with a correct hash and link: caught at the next line', () => {
    writeLog(5);
    const ls = lines();
    const prev = JSON.parse(ls[1]!) as AuditEntry;
    const body = { seq: 3, ts: '2025-01-01T00:00:02.500Z', domain: 'payment', event: 'lease.granted', fields: {}, prev: prev.hash };
    ls.splice(2, 0, serializeEntry({ ...body, hash: computeEntryHash(body) }));
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({ ok: false, entries: 3, firstBadLine: 4, reason: expect.stringMatching(/seq goes back: expected 4, found 3/) });
  });

  it('reordered lines', () => {
    writeLog(6);
    const ls = lines();
    [ls[2], ls[3]] = [ls[3]!, ls[2]!];
    writeLines(ls);
    expect(verifyAuditFile(file)).toMatchObject({
      ok: false,
      firstBadLine: 3,
      reason: 'entries out of order: expected seq 3, found 4; seq 3 is at line 4',
    });
  });

  it('bad JSON in the middle is tampering, not a torn write', () => {
    writeLog(4);
    const ls = lines();
    ls[1] = ls[1]!.slice(0, 30);
    writeLines(ls);
    const r = verifyAuditFile(file);
    expect(r).toMatchObject({ ok: false, entries: 1, firstBadLine: 2, reason: expect.stringMatching(/not valid JSON/) });
    expect(r.torn).toBeUndefined();
  });

  it('empty line and wrong shapes', () => {
    writeLog(3);
    const ls = lines();
    writeLines([ls[0]!, '', ls[1]!]);
    expect(verifyAuditFile(file)).toMatchObject({ firstBadLine: 2, reason: 'empty line' });
    writeLines([ls[0]!, '[1,2]']);
    expect(verifyAuditFile(file)).toMatchObject({ firstBadLine: 2, reason: 'not a JSON object' });
    writeLines([ls[0]!.replace(/"prev":"0+"/, '"prev":"00"')]);
    expect(verifyAuditFile(file)).toMatchObject({ firstBadLine: 1, reason: expect.stringMatching(/prev is not 64/) });
  });

  it('truncated last line is reported as a torn write', () => {
    writeLog(4);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length - 25));
    const r = verifyAuditFile(file);
    expect(r).toMatchObject({ ok: false, entries: 3, firstBadLine: 4, torn: true });
    expect(r.reason).toMatch(/^torn write: the last line is incomplete/);
  });
});

describe('readAuditEntries', () => {
  it('filters by seq and domain, and lists unreadable lines', () => {
    writeLog(6);
    appendFileSync(file, 'garbage\n');
    const { entries, problems } = readAuditEntries(file, { sinceSeq: 2, domain: 'payment' });
    expect(entries.map((e) => e.seq)).toEqual([3, 5, 6]);
    expect(readAuditEntries(file, { domain: 'kernel' }).entries.map((e) => e.seq)).toEqual([1, 4]);
    expect(problems).toEqual([{ line: 7, reason: expect.stringMatching(/not valid JSON/) }]);
  });
});

describe('di audit', () => {
  async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    registerAuditCommands(program, { dataDir: () => join(dir, 'nested') });
    const out: string[] = [];
    const err: string[] = [];
    const log = console.log;
    const error = console.error;
    const prevExit = process.exitCode;
    console.log = (...a: unknown[]) => void out.push(a.join(' '));
    console.error = (...a: unknown[]) => void err.push(a.join(' '));
    process.exitCode = 0;
    try {
      await program.parseAsync(['node', 'di', ...args]);
      return { out: out.join('\n'), err: err.join('\n'), exitCode: Number(process.exitCode ?? 0) };
    } finally {
      console.log = log;
      console.error = error;
      process.exitCode = prevExit;
    }
  }

  it('verify prints OK for the default file, BROKEN with the line otherwise', async () => {
    writeLog(3);
    expect(await run(['audit', 'verify'])).toEqual({ out: 'audit chain OK: 3 entries', err: '', exitCode: 0 });
    const ls = lines();
    ls.splice(1, 1);
    writeLines(ls);
    const broken = await run(['audit', 'verify', '--file', file]);
    expect(broken.exitCode).toBe(1);
    expect(broken.out).toBe('audit chain BROKEN at line 2: seq gap: expected 2, found 3 (1 entry deleted)');
    const json = await run(['audit', 'verify', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, firstBadLine: 2, file });
    expect(json.exitCode).toBe(1);
  });

  it('verify says a torn write is not tampering', async () => {
    writeLog(2);
    appendFileSync(file, '{"seq":3');
    const r = await run(['audit', 'verify']);
    expect(r.exitCode).toBe(1);
    expect(r.out).toMatch(/^audit chain BROKEN at line 3: torn write/);
    expect(r.out).toMatch(/not tampering: the 2 entries before it verify/);
  });

  it('show prints entries, filtered', async () => {
    writeLog(4);
    const all = await run(['audit', 'show']);
    expect(all.out.split('\n')).toEqual([
      '#1 2025-01-01T00:00:00.000Z kernel host.start {"i":0}',
      '#2 2025-01-01T00:00:01.000Z payment lease.revoked {"i":1}',
      '#3 2025-01-01T00:00:02.000Z payment host.start {"i":2}',
      '#4 2025-01-01T00:00:03.000Z kernel lease.revoked {"i":3}',
    ]);
    const some = await run(['audit', 'show', '--since', '1', '--domain', 'payment']);
    expect(some.out.split('\n').map((l) => l.split(' ')[0])).toEqual(['#2', '#3']);
    const json = await run(['audit', 'show', '--since', '3', '--json']);
    expect((JSON.parse(json.out) as AuditEntry).seq).toBe(4);
  });

  it('show refuses a bad --since and a missing file', async () => {
    await expect(run(['audit', 'show', '--since', 'abc'])).rejects.toThrow(/--since takes a sequence number/);
    rmSync(file, { force: true });
    expect(existsSync(file)).toBe(false);
    const r = await run(['audit', 'show']);
    expect(r.exitCode).toBe(1);
    expect(r.err).toMatch(/no audit log at/);
  });
});
