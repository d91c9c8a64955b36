/**
 * The acquirer's own journal: one JSON line per request and decision, appended and fsynced before
 * the reply leaves, so a reversal or a batch after a restart sees every authorisation answered.
 * The PAN is kept masked 6/4; the cryptogram only as a fingerprint (enough to recognise a
 * retransmission), so the file is not a store of card data.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ResponseCode } from './rules.js';

export interface AuthorizationEntry {
  kind: 'authorization';
  seq: number;
  at: string;
  ref: string;
  terminalId: string;
  panMasked: string;
  amount: number;
  currency: number;
  date: string;
  atc: string;
  /** First 16 hex digits of SHA-256(ARQC). */
  arqcFingerprint: string;
  responseCode: ResponseCode;
  authCode?: string;
  reason: string;
}

export interface ReversalEntry {
  kind: 'reversal';
  seq: number;
  at: string;
  ref: string;
  originalRef: string;
  amount: number;
  accepted: boolean;
  reason?: string;
}

export interface BatchEntry {
  kind: 'batch';
  seq: number;
  at: string;
  terminalId: string;
  date: string;
  count: number;
  total: number;
  acquirerCount: number;
  acquirerTotal: number;
  accepted: boolean;
  differences: string[];
  /** The refs an accepted batch settled: they are collected and belong to no later batch. */
  refs?: string[];
}

export interface CaKeysEntry {
  kind: 'ca-keys';
  seq: number;
  at: string;
  keys: number;
}

export interface ErrorEntry {
  kind: 'error';
  seq: number;
  at: string;
  reason: string;
}

export type Entry = AuthorizationEntry | ReversalEntry | BatchEntry | CaKeysEntry | ErrorEntry;
type OmitEach<T, K extends string> = T extends unknown ? Omit<T, K> : never;
export type NewEntry = OmitEach<Entry, 'seq' | 'at'>;

export function maskPan(pan: string): string {
  if (pan.length < 10) return '*'.repeat(pan.length);
  return `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`;
}

export class Journal {
  private readonly entries: Entry[] = [];
  private fd: number | null = null;

  private constructor(private readonly path: string | null) {}

  /** Opens (and replays) the journal file; `null` keeps it in memory only. */
  static open(path: string | null): Journal {
    const j = new Journal(path);
    if (path !== null) {
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) {
        for (const line of readFileSync(path, 'utf8').split('\n')) {
          if (line.trim() === '') continue;
          try {
            const e = JSON.parse(line) as Entry;
            if (e !== null && typeof e === 'object' && typeof e.kind === 'string' && typeof e.seq === 'number') j.entries.push(e);
          } catch {
            // A torn last line (crash mid-append) is dropped: its reply never left.
          }
        }
      }
      j.fd = openSync(path, 'a', 0o600);
    }
    return j;
  }

  append(e: NewEntry): Entry {
    const last = this.entries[this.entries.length - 1];
    const entry = { seq: (last?.seq ?? 0) + 1, at: new Date().toISOString(), ...e } as Entry;
    if (this.fd !== null) {
      writeSync(this.fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(this.fd);
    }
    this.entries.push(entry);
    return entry;
  }

  all(): Entry[] {
    return structuredClone(this.entries);
  }

  authorization(ref: string): AuthorizationEntry | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.kind === 'authorization' && e.ref === ref) return e;
    }
    return undefined;
  }

  reversalOf(originalRef: string): ReversalEntry | undefined {
    return this.entries.find((e): e is ReversalEntry => e.kind === 'reversal' && e.accepted && e.originalRef === originalRef);
  }

  /** Approved, not reversed authorisations of one terminal and transaction date. */
  /** Approved, not reversed, not yet collected by an accepted batch. */
  settled(terminalId: string, date: string): AuthorizationEntry[] {
    const collected = new Set<string>();
    for (const e of this.entries) if (e.kind === 'batch' && e.accepted && e.terminalId === terminalId) for (const r of e.refs ?? []) collected.add(r);
    return this.entries.filter(
      (e): e is AuthorizationEntry =>
        e.kind === 'authorization' && e.terminalId === terminalId && e.date === date && e.responseCode === '00' && !this.reversalOf(e.ref) && !collected.has(e.ref),
    );
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
