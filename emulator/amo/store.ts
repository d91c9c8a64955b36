/**
 * The AMO emulator's own SQLite store (better-sqlite3, WAL, synchronous=FULL): every message
 * received (raw, whatever it is: a refused file is kept for inspection), files (file_id UNIQUE is
 * what deduplicates re-sent files), lots, invoices seen per billing number (an invoice number is
 * never processed twice), ARL and RSP bodies (a duplicate file gets the stored ARLs again), the
 * payments due, and the practitioners' mailboxes served by POP3.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  raw BLOB NOT NULL,
  file_id TEXT,
  outcome TEXT NOT NULL DEFAULT 'received',
  reason TEXT
);
CREATE TABLE IF NOT EXISTS files (
  file_id TEXT PRIMARY KEY,
  billing TEXT NOT NULL,
  destination TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  received_at INTEGER NOT NULL,
  lots INTEGER NOT NULL,
  status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lots (
  file_id TEXT NOT NULL,
  lot_no INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason_code TEXT,
  reason_text TEXT,
  PRIMARY KEY (file_id, lot_no)
);
CREATE TABLE IF NOT EXISTS invoices (
  billing TEXT NOT NULL,
  kind TEXT NOT NULL,
  invoice_no INTEGER NOT NULL,
  record_sha256 TEXT NOT NULL,
  file_id TEXT NOT NULL,
  lot_no INTEGER NOT NULL,
  status TEXT NOT NULL,
  code TEXT,
  text TEXT,
  PRIMARY KEY (billing, kind, invoice_no)
);
CREATE TABLE IF NOT EXISTS arl (
  file_id TEXT NOT NULL,
  lot_no INTEGER NOT NULL,
  body BLOB NOT NULL,
  mail BLOB NOT NULL,
  PRIMARY KEY (file_id, lot_no)
);
CREATE TABLE IF NOT EXISTS payments (
  billing TEXT NOT NULL,
  kind TEXT NOT NULL,
  invoice_no INTEGER NOT NULL,
  destination TEXT NOT NULL,
  nir TEXT NOT NULL,
  care_date TEXT NOT NULL,
  charged INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  accepted_on TEXT NOT NULL,
  rsp_seq INTEGER,
  payment_date TEXT,
  PRIMARY KEY (billing, kind, invoice_no)
);
CREATE TABLE IF NOT EXISTS rsp (
  billing TEXT NOT NULL,
  seq INTEGER NOT NULL,
  destination TEXT NOT NULL,
  body BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (billing, seq)
);
CREATE TABLE IF NOT EXISTS mailbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  uid TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL,
  raw BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

export interface StoredFile {
  fileId: string;
  billing: string;
  destination: string;
  receivedAt: number;
  lots: number;
  status: 'processed' | 'refused';
}

export interface SeenInvoice {
  recordSha256: string;
  status: 'accepted' | 'rejected';
}

export interface PaymentDue {
  billing: string;
  kind: string;
  invoiceNo: number;
  destination: string;
  nir: string;
  careDate: string;
  charged: number;
  amount: number;
}

export type Outcome = 'received' | 'processed' | 'duplicate' | 'refused';

export class AmoStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'amo.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // A returned ARL must survive a crash of the emulator: it is what the practitioner relies on.
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Kept before anything is parsed: a message that breaks the parser is still on disk. */
  keepMessage(at: number, from: string, to: string[], raw: Uint8Array): number {
    const r = this.db.prepare('INSERT INTO messages (received_at, mail_from, rcpt_to, raw) VALUES (?, ?, ?, ?)').run(at, from, to.join(','), Buffer.from(raw));
    return Number(r.lastInsertRowid);
  }

  setOutcome(messageId: number, outcome: Outcome, fileId: string | null, reason: string | null): void {
    this.db.prepare('UPDATE messages SET outcome = ?, file_id = ?, reason = ? WHERE id = ?').run(outcome, fileId, reason, messageId);
  }

  messages(): Array<{ id: number; outcome: Outcome; fileId: string | null; reason: string | null; raw: Uint8Array; mailFrom: string; rcptTo: string[] }> {
    const rows = this.db.prepare('SELECT id, outcome, file_id, reason, raw, mail_from, rcpt_to FROM messages ORDER BY id').all() as Array<{
      id: number;
      outcome: Outcome;
      file_id: string | null;
      reason: string | null;
      raw: Buffer;
      mail_from: string;
      rcpt_to: string;
    }>;
    return rows.map((r) => ({
      id: r.id,
      outcome: r.outcome,
      fileId: r.file_id,
      reason: r.reason,
      raw: new Uint8Array(r.raw),
      mailFrom: r.mail_from,
      rcptTo: r.rcpt_to === '' ? [] : r.rcpt_to.split(','),
    }));
  }

  file(fileId: string): StoredFile | undefined {
    const r = this.db.prepare('SELECT * FROM files WHERE file_id = ?').get(fileId) as
      | { file_id: string; billing: string; destination: string; received_at: number; lots: number; status: StoredFile['status'] }
      | undefined;
    return r && { fileId: r.file_id, billing: r.billing, destination: r.destination, receivedAt: r.received_at, lots: r.lots, status: r.status };
  }

  files(): StoredFile[] {
    const rows = this.db.prepare('SELECT file_id FROM files ORDER BY received_at, file_id').all() as Array<{ file_id: string }>;
    return rows.map((r) => this.file(r.file_id)!);
  }

  addFile(f: StoredFile, messageId: number): void {
    this.db.prepare('INSERT INTO files (file_id, billing, destination, message_id, received_at, lots, status) VALUES (?, ?, ?, ?, ?, ?, ?)').run(f.fileId, f.billing, f.destination, messageId, f.receivedAt, f.lots, f.status);
  }

  addLot(fileId: string, lotNo: number, status: 'positive' | 'negative', reason?: { code: string; text: string }): void {
    this.db.prepare('INSERT OR REPLACE INTO lots (file_id, lot_no, status, reason_code, reason_text) VALUES (?, ?, ?, ?, ?)').run(fileId, lotNo, status, reason?.code ?? null, reason?.text ?? null);
  }

  seenInvoice(billing: string, kind: string, invoiceNo: number): SeenInvoice | undefined {
    const r = this.db.prepare('SELECT record_sha256, status FROM invoices WHERE billing = ? AND kind = ? AND invoice_no = ?').get(billing, kind, invoiceNo) as
      | { record_sha256: string; status: SeenInvoice['status'] }
      | undefined;
    return r && { recordSha256: r.record_sha256, status: r.status };
  }

  recordInvoice(v: { billing: string; kind: string; invoiceNo: number; recordSha256: string; fileId: string; lotNo: number; status: 'accepted' | 'rejected'; code?: string; text?: string }): void {
    this.db
      .prepare('INSERT OR REPLACE INTO invoices (billing, kind, invoice_no, record_sha256, file_id, lot_no, status, code, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(v.billing, v.kind, v.invoiceNo, v.recordSha256, v.fileId, v.lotNo, v.status, v.code ?? null, v.text ?? null);
  }

  invoiceCounts(): { accepted: number; rejected: number } {
    const r = this.db.prepare("SELECT SUM(status = 'accepted') AS a, SUM(status = 'rejected') AS r FROM invoices").get() as { a: number | null; r: number | null };
    return { accepted: r.a ?? 0, rejected: r.r ?? 0 };
  }

  addArl(fileId: string, lotNo: number, body: Uint8Array, mail: Uint8Array): void {
    this.db.prepare('INSERT OR REPLACE INTO arl (file_id, lot_no, body, mail) VALUES (?, ?, ?, ?)').run(fileId, lotNo, Buffer.from(body), Buffer.from(mail));
  }

  arls(fileId: string): Array<{ lotNo: number; body: Uint8Array; mail: Uint8Array }> {
    const rows = this.db.prepare('SELECT lot_no, body, mail FROM arl WHERE file_id = ? ORDER BY lot_no').all(fileId) as Array<{ lot_no: number; body: Buffer; mail: Buffer }>;
    return rows.map((r) => ({ lotNo: r.lot_no, body: new Uint8Array(r.body), mail: new Uint8Array(r.mail) }));
  }

  addPaymentDue(p: PaymentDue, acceptedOn: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO payments (billing, kind, invoice_no, destination, nir, care_date, charged, amount, accepted_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(p.billing, p.kind, p.invoiceNo, p.destination, p.nir, p.careDate, p.charged, p.amount, acceptedOn);
  }

  paymentsDue(): PaymentDue[] {
    const rows = this.db.prepare('SELECT billing, kind, invoice_no, destination, nir, care_date, charged, amount FROM payments WHERE rsp_seq IS NULL ORDER BY billing, destination, invoice_no').all() as Array<{
      billing: string;
      kind: string;
      invoice_no: number;
      destination: string;
      nir: string;
      care_date: string;
      charged: number;
      amount: number;
    }>;
    return rows.map((r) => ({ billing: r.billing, kind: r.kind, invoiceNo: r.invoice_no, destination: r.destination, nir: r.nir, careDate: r.care_date, charged: r.charged, amount: r.amount }));
  }

  markPaid(p: PaymentDue, seq: number, paymentDate: string): void {
    this.db.prepare('UPDATE payments SET rsp_seq = ?, payment_date = ? WHERE billing = ? AND kind = ? AND invoice_no = ?').run(seq, paymentDate, p.billing, p.kind, p.invoiceNo);
  }

  paidCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM payments WHERE rsp_seq IS NOT NULL').get() as { n: number }).n;
  }

  /** Next value of a named counter (RSP sequence per billing number), inside the caller's transaction. */
  next(name: string): number {
    const r = this.db.prepare('INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value').get(name) as { value: number };
    return r.value;
  }

  /** The value next() will return, without taking it. */
  peekNext(name: string): number {
    const r = this.db.prepare('SELECT value FROM counters WHERE name = ?').get(name) as { value: number } | undefined;
    return (r?.value ?? 0) + 1;
  }

  addRsp(billing: string, seq: number, destination: string, body: Uint8Array, at: number): void {
    this.db.prepare('INSERT INTO rsp (billing, seq, destination, body, created_at) VALUES (?, ?, ?, ?, ?)').run(billing, seq, destination, Buffer.from(body), at);
  }

  rspCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM rsp').get() as { n: number }).n;
  }

  // ---- mailbox ----------------------------------------------------------------------------------

  deliver(user: string, uid: string, raw: Uint8Array, at: number): void {
    this.db.prepare('INSERT INTO mailbox (uid, user, raw, created_at) VALUES (?, ?, ?, ?)').run(uid, user, Buffer.from(raw), at);
  }

  mailbox(user: string): Array<{ uid: string; raw: Uint8Array }> {
    const rows = this.db.prepare('SELECT uid, raw FROM mailbox WHERE user = ? ORDER BY seq').all(user) as Array<{ uid: string; raw: Buffer }>;
    return rows.map((r) => ({ uid: r.uid, raw: new Uint8Array(r.raw) }));
  }

  removeMail(user: string, uids: string[]): void {
    const del = this.db.prepare('DELETE FROM mailbox WHERE user = ? AND uid = ?');
    this.tx(() => {
      for (const u of uids) del.run(user, u);
    });
  }
}
