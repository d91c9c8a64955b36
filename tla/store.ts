/**
 * The practice computer's durable store (better-sqlite3, WAL, synchronous=FULL) in its directory:
 * the devices it is paired with (their pinned certificate fingerprints), the invoices and the
 * beneficiaries unloaded from them (invoice bytes exactly as received: the record and signatures go
 * into lots unchanged), the lots and files it built, and what it sent.
 *
 * Idempotence: an unload page is stored in ONE transaction with INSERT OR IGNORE on the invoice's
 * key (billing number, invoice number), so a page received twice (a cut and a restart) adds nothing.
 * Numbering: lots and files of this computer are numbered per billing number from 500000 up (the
 * device numbers below 500000: file ids never collide at the AMO); a number is allocated in the same
 * transaction as the record it numbers.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Packr } from 'msgpackr/pack';
import type { HostLinkValue, UnloadedBeneficiaries, UnloadedInvoice } from '../platform/wire/hostlink.js';
import { ensureTlaDir } from './identity.js';

export const STORE_FILE = 'tla.sqlite';
/** First lot and file number of the practice computer (the device stays below). */
export const HOST_NUMBER_BASE = 500_000;
export const HOST_NUMBER_MAX = 999_999;

export type InvoiceKind = 'FSE' | 'DRE';

export interface PairedDevice {
  fingerprint: string;
  deviceId: string;
  /** The name this computer gave itself when pairing (what the device shows). */
  hostName: string;
  pairedAt: number;
}

/** An invoice as unloaded (bytes as the device signed them), and where it stands here. */
export interface StoredInvoice extends UnloadedInvoice {
  /** The fingerprint of the device it came from. */
  device: string;
  unloadedAt: number;
  erasedAt: number | null;
  lotNo: number | null;
}

export interface StoredLot {
  billingNumber: string;
  lotNo: number;
  destination: string;
  kind: InvoiceKind;
  createdAt: string;
  amount: number;
  invoiceNos: number[];
  body: Uint8Array;
  /** Attached CMS by the practitioner's CPS; null until signed (a crash between the two is resumed). */
  signed: Uint8Array | null;
  fileNo: number | null;
}

export interface StoredFile {
  billingNumber: string;
  fileNo: number;
  fileId: string;
  destination: string;
  createdAt: string;
  lotNos: number[];
  state: 'ready' | 'sent';
  attempts: number;
  lastError: string | null;
  sentAt: number | null;
}

export interface PageOutcome {
  added: number;
  already: number;
  /** Refs already stored with OTHER bytes: kept as first received, reported. */
  conflicts: string[];
}

const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false, mapsAsObjects: true, copyBuffers: true, bundleStrings: false });

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  fingerprint TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  host_name TEXT NOT NULL,
  paired_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
  billing TEXT NOT NULL,
  invoice_no INTEGER NOT NULL,
  ref TEXT NOT NULL,
  device TEXT NOT NULL,
  kind TEXT NOT NULL,
  destination TEXT NOT NULL,
  care_date TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deadline TEXT NOT NULL,
  amo INTEGER NOT NULL,
  amc INTEGER NOT NULL,
  record BLOB NOT NULL,
  cps_signature BLOB NOT NULL,
  vitale_auth BLOB,
  vitale_cert BLOB,
  record_sha256 TEXT NOT NULL,
  unloaded_at INTEGER NOT NULL,
  erased_at INTEGER,
  erase_refused TEXT,
  lot_no INTEGER,
  PRIMARY KEY (billing, invoice_no)
);
CREATE TABLE IF NOT EXISTS beneficiaries (
  device TEXT NOT NULL,
  ref TEXT NOT NULL,
  read_at INTEGER NOT NULL,
  vitale_serial TEXT NOT NULL,
  body BLOB NOT NULL,
  unloaded_at INTEGER NOT NULL,
  erased_at INTEGER,
  erase_refused TEXT,
  PRIMARY KEY (device, ref)
);
CREATE TABLE IF NOT EXISTS counters (
  billing TEXT PRIMARY KEY,
  lot INTEGER NOT NULL,
  file INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lots (
  billing TEXT NOT NULL,
  lot_no INTEGER NOT NULL,
  destination TEXT NOT NULL,
  kind TEXT NOT NULL,
  created_at TEXT NOT NULL,
  amount INTEGER NOT NULL,
  invoice_nos TEXT NOT NULL,
  body BLOB NOT NULL,
  signed BLOB,
  file_no INTEGER,
  PRIMARY KEY (billing, lot_no)
);
CREATE TABLE IF NOT EXISTS files (
  billing TEXT NOT NULL,
  file_no INTEGER NOT NULL,
  file_id TEXT NOT NULL UNIQUE,
  destination TEXT NOT NULL,
  created_at TEXT NOT NULL,
  lot_nos TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  PRIMARY KEY (billing, file_no)
);
CREATE TABLE IF NOT EXISTS sends (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  detail TEXT
);
`;

const bytes = (b: Buffer | Uint8Array | null): Uint8Array | undefined => (b === null ? undefined : new Uint8Array(b));
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface InvoiceRow {
  billing: string;
  invoice_no: number;
  ref: string;
  device: string;
  kind: InvoiceKind;
  destination: string;
  care_date: string;
  created_at: string;
  deadline: string;
  amo: number;
  amc: number;
  record: Buffer;
  cps_signature: Buffer;
  vitale_auth: Buffer | null;
  vitale_cert: Buffer | null;
  unloaded_at: number;
  erased_at: number | null;
  lot_no: number | null;
}

function invoiceOf(r: InvoiceRow): StoredInvoice {
  const inv: StoredInvoice = {
    ref: r.ref,
    device: r.device,
    billingNumber: r.billing,
    invoiceNo: r.invoice_no,
    kind: r.kind,
    destination: r.destination,
    careDate: r.care_date,
    createdAt: r.created_at,
    deadline: r.deadline,
    amo: r.amo,
    amc: r.amc,
    record: new Uint8Array(r.record),
    cpsSignature: new Uint8Array(r.cps_signature),
    unloadedAt: r.unloaded_at,
    erasedAt: r.erased_at,
    lotNo: r.lot_no,
  };
  const va = bytes(r.vitale_auth);
  const vc = bytes(r.vitale_cert);
  if (va) inv.vitaleAuth = va;
  if (vc) inv.vitaleCertDer = vc;
  return inv;
}

interface LotRow {
  billing: string;
  lot_no: number;
  destination: string;
  kind: InvoiceKind;
  created_at: string;
  amount: number;
  invoice_nos: string;
  body: Buffer;
  signed: Buffer | null;
  file_no: number | null;
}

function lotOf(r: LotRow): StoredLot {
  return {
    billingNumber: r.billing,
    lotNo: r.lot_no,
    destination: r.destination,
    kind: r.kind,
    createdAt: r.created_at,
    amount: r.amount,
    invoiceNos: JSON.parse(r.invoice_nos) as number[],
    body: new Uint8Array(r.body),
    signed: r.signed === null ? null : new Uint8Array(r.signed),
    fileNo: r.file_no,
  };
}

interface FileRow {
  billing: string;
  file_no: number;
  file_id: string;
  destination: string;
  created_at: string;
  lot_nos: string;
  state: 'ready' | 'sent';
  attempts: number;
  last_error: string | null;
  sent_at: number | null;
}

function fileOf(r: FileRow): StoredFile {
  return {
    billingNumber: r.billing,
    fileNo: r.file_no,
    fileId: r.file_id,
    destination: r.destination,
    createdAt: r.created_at,
    lotNos: JSON.parse(r.lot_nos) as number[],
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error,
    sentAt: r.sent_at,
  };
}

export interface StoreSummary {
  devices: PairedDevice[];
  invoices: { total: number; toErase: number; notInLot: number; inLot: number; sent: number };
  beneficiaries: { total: number; toErase: number };
  lots: { total: number; unsigned: number };
  files: { ready: number; sent: number };
}

export class TlaStore {
  readonly db: Database.Database;
  readonly path: string;

  constructor(dir: string) {
    const d = ensureTlaDir(dir);
    this.path = join(d, STORE_FILE);
    // Created 0600 before SQLite opens it (its -wal and -shm files take the same mode).
    closeSync(openSync(this.path, 'a', 0o600));
    this.db = new Database(this.path);
    const mode = this.db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`${this.path}: journal_mode WAL refused (got ${String(mode)})`);
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  tx<T>(f: () => T): T {
    return this.db.transaction(f)();
  }

  // ---- devices (pins) ----------------------------------------------------------------------------

  devices(): PairedDevice[] {
    const rows = this.db.prepare('SELECT fingerprint, device_id, host_name, paired_at FROM devices ORDER BY paired_at').all() as Array<{
      fingerprint: string;
      device_id: string;
      host_name: string;
      paired_at: number;
    }>;
    return rows.map((r) => ({ fingerprint: r.fingerprint, deviceId: r.device_id, hostName: r.host_name, pairedAt: r.paired_at }));
  }

  device(fingerprint: string): PairedDevice | undefined {
    return this.devices().find((d) => d.fingerprint === fingerprint);
  }

  pinDevice(d: PairedDevice): void {
    this.db
      .prepare('INSERT INTO devices (fingerprint, device_id, host_name, paired_at) VALUES (?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET device_id = excluded.device_id, host_name = excluded.host_name, paired_at = excluded.paired_at')
      .run(d.fingerprint, d.deviceId, d.hostName, d.pairedAt);
  }

  unpinDevice(fingerprint: string): boolean {
    return this.db.prepare('DELETE FROM devices WHERE fingerprint = ?').run(fingerprint).changes > 0;
  }

  // ---- unloaded data -----------------------------------------------------------------------------

  /** One page, one transaction: the page is stored whole or not at all. */
  storeInvoicePage(device: string, items: UnloadedInvoice[], at: number): PageOutcome {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO invoices (billing, invoice_no, ref, device, kind, destination, care_date, created_at, deadline, amo, amc,
        record, cps_signature, vitale_auth, vitale_cert, record_sha256, unloaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const existing = this.db.prepare('SELECT record_sha256, cps_signature FROM invoices WHERE billing = ? AND invoice_no = ?');
    // The device hands it out again, so it holds it for this computer again: an erase it refused
    // before (released with tla.release between unload and erase) is to be asked again, of this
    // device, or the invoice would stay held on the device, sent by nobody.
    const reheld = this.db.prepare('UPDATE invoices SET erase_refused = NULL, device = ? WHERE billing = ? AND invoice_no = ? AND erased_at IS NULL');
    return this.tx(() => {
      const out: PageOutcome = { added: 0, already: 0, conflicts: [] };
      for (const i of items) {
        const h = sha256(i.record);
        const r = insert.run(
          i.billingNumber,
          i.invoiceNo,
          i.ref,
          device,
          i.kind,
          i.destination,
          i.careDate,
          i.createdAt,
          i.deadline,
          i.amo,
          i.amc,
          Buffer.from(i.record),
          Buffer.from(i.cpsSignature),
          i.vitaleAuth ? Buffer.from(i.vitaleAuth) : null,
          i.vitaleCertDer ? Buffer.from(i.vitaleCertDer) : null,
          h,
          at,
        );
        if (r.changes > 0) {
          out.added++;
          continue;
        }
        const e = existing.get(i.billingNumber, i.invoiceNo) as { record_sha256: string; cps_signature: Buffer } | undefined;
        if (e && e.record_sha256 === h && Buffer.from(i.cpsSignature).equals(e.cps_signature)) {
          reheld.run(device, i.billingNumber, i.invoiceNo);
          out.already++;
        } else out.conflicts.push(i.ref);
      }
      return out;
    });
  }

  storeBeneficiaryPage(device: string, items: UnloadedBeneficiaries[], at: number): PageOutcome {
    const insert = this.db.prepare('INSERT OR IGNORE INTO beneficiaries (device, ref, read_at, vitale_serial, body, unloaded_at) VALUES (?, ?, ?, ?, ?, ?)');
    // As for invoices: handed out again means held again, so a refused erase is asked again.
    const reheld = this.db.prepare('UPDATE beneficiaries SET erase_refused = NULL WHERE device = ? AND ref = ? AND erased_at IS NULL');
    return this.tx(() => {
      const out: PageOutcome = { added: 0, already: 0, conflicts: [] };
      for (const b of items) {
        const body = packr.pack({ insured: b.insured, beneficiaries: b.beneficiaries });
        const r = insert.run(device, b.ref, b.readAt, b.vitaleSerial, body, at);
        if (r.changes > 0) out.added++;
        else {
          reheld.run(device, b.ref);
          out.already++;
        }
      }
      return out;
    });
  }

  /** Refs stored from `device` whose erase the device has not confirmed (nor refused). */
  toErase(device: string): { invoices: string[]; beneficiaries: string[] } {
    const inv = this.db.prepare('SELECT ref FROM invoices WHERE device = ? AND erased_at IS NULL AND erase_refused IS NULL ORDER BY billing, invoice_no').all(device) as Array<{ ref: string }>;
    const ben = this.db.prepare('SELECT ref FROM beneficiaries WHERE device = ? AND erased_at IS NULL AND erase_refused IS NULL ORDER BY ref').all(device) as Array<{ ref: string }>;
    return { invoices: inv.map((r) => r.ref), beneficiaries: ben.map((r) => r.ref) };
  }

  /** After an erase answer: the refs not refused are erased on the device. */
  markErased(device: string, what: 'invoices' | 'beneficiaries', refs: string[], refused: Map<string, string>, at: number): void {
    const table = what === 'invoices' ? 'invoices' : 'beneficiaries';
    const ok = this.db.prepare(`UPDATE ${table} SET erased_at = ? WHERE device = ? AND ref = ? AND erased_at IS NULL`);
    const no = this.db.prepare(`UPDATE ${table} SET erase_refused = ? WHERE device = ? AND ref = ? AND erased_at IS NULL`);
    this.tx(() => {
      for (const ref of refs) {
        const why = refused.get(ref);
        if (why === undefined) ok.run(at, device, ref);
        else no.run(why.slice(0, 200), device, ref);
      }
    });
  }

  invoices(): StoredInvoice[] {
    return (this.db.prepare('SELECT * FROM invoices ORDER BY billing, invoice_no').all() as InvoiceRow[]).map(invoiceOf);
  }

  beneficiaries(): Array<{ device: string; ref: string; readAt: number; vitaleSerial: string; insured: { [k: string]: HostLinkValue }; beneficiaries: Array<{ [k: string]: HostLinkValue }>; erasedAt: number | null }> {
    const rows = this.db.prepare('SELECT device, ref, read_at, vitale_serial, body, erased_at FROM beneficiaries ORDER BY device, ref').all() as Array<{
      device: string;
      ref: string;
      read_at: number;
      vitale_serial: string;
      body: Buffer;
      erased_at: number | null;
    }>;
    return rows.map((r) => {
      const v = packr.unpack(new Uint8Array(r.body)) as { insured: { [k: string]: HostLinkValue }; beneficiaries: Array<{ [k: string]: HostLinkValue }> };
      return { device: r.device, ref: r.ref, readAt: r.read_at, vitaleSerial: r.vitale_serial, insured: v.insured, beneficiaries: v.beneficiaries, erasedAt: r.erased_at };
    });
  }

  // ---- lots and files ------------------------------------------------------------------------------

  /**
   * Invoices to put in lots (of every billing number), in key order: not yet in a lot, and erased
   * on the device. Until the device confirms the erase it still owns them (tla.release gives them
   * back to its own transmission): sending them from here too could send them twice.
   */
  invoicesWithoutLot(): StoredInvoice[] {
    return (this.db.prepare('SELECT * FROM invoices WHERE lot_no IS NULL AND erased_at IS NOT NULL ORDER BY billing, invoice_no').all() as InvoiceRow[]).map(invoiceOf);
  }

  billingNumbersPending(): string[] {
    const rows = this.db
      .prepare(
        `SELECT billing FROM invoices WHERE lot_no IS NULL AND erased_at IS NOT NULL
         UNION SELECT billing FROM lots WHERE signed IS NULL OR file_no IS NULL
         UNION SELECT billing FROM files WHERE state = 'ready' ORDER BY 1`,
      )
      .all() as Array<{ billing: string }>;
    return rows.map((r) => r.billing);
  }

  /** Next lot or file number of `billing`, allocated inside the caller's transaction. */
  private allocate(billing: string, which: 'lot' | 'file'): number {
    const row = this.db.prepare('SELECT lot, file FROM counters WHERE billing = ?').get(billing) as { lot: number; file: number } | undefined;
    const last = row ? row[which] : HOST_NUMBER_BASE - 1;
    const next = Math.max(last + 1, HOST_NUMBER_BASE);
    if (next > HOST_NUMBER_MAX) throw new RangeError(`${which === 'lot' ? 'lot' : 'file'} numbers of ${billing} exhausted (${HOST_NUMBER_MAX})`);
    const lot = which === 'lot' ? next : (row?.lot ?? HOST_NUMBER_BASE - 1);
    const file = which === 'file' ? next : (row?.file ?? HOST_NUMBER_BASE - 1);
    this.db.prepare('INSERT INTO counters (billing, lot, file) VALUES (?, ?, ?) ON CONFLICT(billing) DO UPDATE SET lot = excluded.lot, file = excluded.file').run(billing, lot, file);
    return next;
  }

  /**
   * Number, lot record (unsigned) and the invoices' lot number in one transaction; `body` is made
   * with the number inside it.
   */
  createLot(l: { billingNumber: string; destination: string; kind: InvoiceKind; createdAt: string; amount: number; invoiceNos: number[] }, body: (lotNo: number) => Uint8Array): StoredLot {
    return this.tx(() => {
      const lotNo = this.allocate(l.billingNumber, 'lot');
      const b = body(lotNo);
      this.db
        .prepare('INSERT INTO lots (billing, lot_no, destination, kind, created_at, amount, invoice_nos, body, signed, file_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)')
        .run(l.billingNumber, lotNo, l.destination, l.kind, l.createdAt, l.amount, JSON.stringify(l.invoiceNos), Buffer.from(b));
      const upd = this.db.prepare('UPDATE invoices SET lot_no = ? WHERE billing = ? AND invoice_no = ? AND lot_no IS NULL');
      for (const n of l.invoiceNos) {
        if (upd.run(lotNo, l.billingNumber, n).changes !== 1) throw new Error(`invoice ${l.billingNumber}/${n} is already in a lot`);
      }
      return { ...l, lotNo, body: b, signed: null, fileNo: null };
    });
  }

  setLotSigned(billing: string, lotNo: number, signed: Uint8Array): void {
    this.db.prepare('UPDATE lots SET signed = ? WHERE billing = ? AND lot_no = ? AND signed IS NULL').run(Buffer.from(signed), billing, lotNo);
  }

  lots(billing?: string): StoredLot[] {
    const rows = (billing === undefined
      ? this.db.prepare('SELECT * FROM lots ORDER BY billing, lot_no').all()
      : this.db.prepare('SELECT * FROM lots WHERE billing = ? ORDER BY lot_no').all(billing)) as LotRow[];
    return rows.map(lotOf);
  }

  lot(billing: string, lotNo: number): StoredLot | undefined {
    const r = this.db.prepare('SELECT * FROM lots WHERE billing = ? AND lot_no = ?').get(billing, lotNo) as LotRow | undefined;
    return r ? lotOf(r) : undefined;
  }

  createFile(f: { billingNumber: string; destination: string; createdAt: string; lotNos: number[] }, fileIdOf: (fileNo: number) => string): StoredFile {
    return this.tx(() => {
      const fileNo = this.allocate(f.billingNumber, 'file');
      const fileId = fileIdOf(fileNo);
      this.db
        .prepare("INSERT INTO files (billing, file_no, file_id, destination, created_at, lot_nos, state, attempts) VALUES (?, ?, ?, ?, ?, ?, 'ready', 0)")
        .run(f.billingNumber, fileNo, fileId, f.destination, f.createdAt, JSON.stringify(f.lotNos));
      const upd = this.db.prepare('UPDATE lots SET file_no = ? WHERE billing = ? AND lot_no = ? AND file_no IS NULL AND signed IS NOT NULL');
      for (const n of f.lotNos) {
        if (upd.run(fileNo, f.billingNumber, n).changes !== 1) throw new Error(`lot ${n} of ${f.billingNumber} is unsigned or already in a file`);
      }
      return { ...f, fileNo, fileId, state: 'ready' as const, attempts: 0, lastError: null, sentAt: null };
    });
  }

  files(state?: 'ready' | 'sent'): StoredFile[] {
    const rows = (state === undefined
      ? this.db.prepare('SELECT * FROM files ORDER BY billing, file_no').all()
      : this.db.prepare('SELECT * FROM files WHERE state = ? ORDER BY billing, file_no').all(state)) as FileRow[];
    return rows.map(fileOf);
  }

  markFileSent(fileId: string, at: number, detail: string): void {
    this.tx(() => {
      this.db.prepare("UPDATE files SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE file_id = ?").run(at, fileId);
      this.db.prepare('INSERT INTO sends (file_id, at, ok, detail) VALUES (?, ?, 1, ?)').run(fileId, at, detail.slice(0, 300));
    });
  }

  markFileFailed(fileId: string, at: number, error: string): void {
    this.tx(() => {
      this.db.prepare('UPDATE files SET attempts = attempts + 1, last_error = ? WHERE file_id = ?').run(error.slice(0, 300), fileId);
      this.db.prepare('INSERT INTO sends (file_id, at, ok, detail) VALUES (?, ?, 0, ?)').run(fileId, at, error.slice(0, 300));
    });
  }

  sends(): Array<{ fileId: string; at: number; ok: boolean; detail: string | null }> {
    const rows = this.db.prepare('SELECT file_id, at, ok, detail FROM sends ORDER BY id').all() as Array<{ file_id: string; at: number; ok: number; detail: string | null }>;
    return rows.map((r) => ({ fileId: r.file_id, at: r.at, ok: r.ok === 1, detail: r.detail }));
  }

  summary(): StoreSummary {
    const n = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      devices: this.devices(),
      invoices: {
        total: n('SELECT COUNT(*) AS n FROM invoices'),
        toErase: n('SELECT COUNT(*) AS n FROM invoices WHERE erased_at IS NULL'),
        notInLot: n('SELECT COUNT(*) AS n FROM invoices WHERE lot_no IS NULL'),
        inLot: n('SELECT COUNT(*) AS n FROM invoices i WHERE lot_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lots l JOIN files f ON f.billing = l.billing AND f.file_no = l.file_no WHERE l.billing = i.billing AND l.lot_no = i.lot_no AND f.state = \'sent\')'),
        sent: n('SELECT COUNT(*) AS n FROM invoices i WHERE EXISTS (SELECT 1 FROM lots l JOIN files f ON f.billing = l.billing AND f.file_no = l.file_no WHERE l.billing = i.billing AND l.lot_no = i.lot_no AND f.state = \'sent\')'),
      },
      beneficiaries: { total: n('SELECT COUNT(*) AS n FROM beneficiaries'), toErase: n('SELECT COUNT(*) AS n FROM beneficiaries WHERE erased_at IS NULL') },
      lots: { total: n('SELECT COUNT(*) AS n FROM lots'), unsigned: n('SELECT COUNT(*) AS n FROM lots WHERE signed IS NULL') },
      files: { ready: n("SELECT COUNT(*) AS n FROM files WHERE state = 'ready'"), sent: n("SELECT COUNT(*) AS n FROM files WHERE state = 'sent'") },
    };
  }

  // ---- returns from the AMO (tla/returns.ts) ------------------------------------------------------
  // Tables of their own (RETURNS_SCHEMA, below), made on first use: every return applied, shared or
  // set aside is recorded under its POP3 uid in the same transaction as its effects.

  private returnsSchemaReady = false;

  private returnsSchema(): void {
    if (this.returnsSchemaReady) return;
    this.db.exec(RETURNS_SCHEMA);
    this.returnsSchemaReady = true;
  }

  /** The return recorded under a POP3 uid (applied, shared or set aside as corrupt), if any. */
  returnOf(uid: string): StoredReturn | undefined {
    this.returnsSchema();
    const r = this.db.prepare('SELECT * FROM host_returns WHERE uid = ?').get(uid) as ReturnRow | undefined;
    return r ? returnOfRow(r) : undefined;
  }

  returns(): StoredReturn[] {
    this.returnsSchema();
    return (this.db.prepare('SELECT * FROM host_returns ORDER BY at, uid').all() as ReturnRow[]).map(returnOfRow);
  }

  lotArl(billing: string, lotNo: number): LotArl | undefined {
    this.returnsSchema();
    const r = this.db.prepare('SELECT * FROM host_lot_arl WHERE billing = ? AND lot_no = ?').get(billing, lotNo) as LotArlRow | undefined;
    return r ? lotArlOf(r) : undefined;
  }

  lotArls(): LotArl[] {
    this.returnsSchema();
    return (this.db.prepare('SELECT * FROM host_lot_arl ORDER BY billing, lot_no').all() as LotArlRow[]).map(lotArlOf);
  }

  invoiceReturn(billing: string, invoiceNo: number): InvoiceReturn | undefined {
    this.returnsSchema();
    const r = this.db.prepare('SELECT * FROM host_invoice_returns WHERE billing = ? AND invoice_no = ?').get(billing, invoiceNo) as InvoiceReturnRow | undefined;
    return r ? invoiceReturnOf(r) : undefined;
  }

  invoiceReturns(): InvoiceReturn[] {
    this.returnsSchema();
    return (this.db.prepare('SELECT * FROM host_invoice_returns ORDER BY billing, invoice_no').all() as InvoiceReturnRow[]).map(invoiceReturnOf);
  }

  /** The file this computer built under `fileId`, if any. */
  fileById(fileId: string): StoredFile | undefined {
    const r = this.db.prepare('SELECT * FROM files WHERE file_id = ?').get(fileId) as FileRow | undefined;
    return r ? fileOf(r) : undefined;
  }

  /** Invoice numbers of `billing` this computer put in its lots (so transmits, and is paid for). */
  hostInvoiceNos(billing: string): Set<number> {
    const rows = this.db.prepare('SELECT invoice_no FROM invoices WHERE billing = ? AND lot_no IS NOT NULL').all(billing) as Array<{ invoice_no: number }>;
    return new Set(rows.map((r) => r.invoice_no));
  }

  /**
   * One return in ONE transaction: its record under `uid` (new: a uid already recorded throws), the
   * lot's ARL (the first one kept), the invoices' new states (an invoice paid or rejected by an RSP
   * never changes again), and a file an ARL answers marked sent if a cut left it 'ready'.
   */
  recordReturn(ret: NewReturn, effects: { lotArl?: LotArlInput; invoices?: InvoiceReturnInput[] } = {}): void {
    this.returnsSchema();
    this.tx(() => {
      this.db
        .prepare(
          `INSERT INTO host_returns (uid, kind, outcome, subject, file_id, lot_no, billing, seq, error, raw, size, sha256, truncated, at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          ret.uid,
          ret.kind,
          ret.outcome,
          ret.subject.slice(0, 200),
          ret.fileId ?? null,
          ret.lotNo ?? null,
          ret.billingNumber ?? null,
          ret.seq ?? null,
          ret.error === undefined ? null : ret.error.slice(0, 500),
          ret.raw ? Buffer.from(ret.raw) : null,
          ret.size ?? 0,
          ret.sha256 ?? null,
          ret.truncated ? 1 : 0,
          ret.at,
        );
      const a = effects.lotArl;
      if (a) {
        this.db
          .prepare('INSERT OR IGNORE INTO host_lot_arl (billing, lot_no, file_id, status, reason_code, reason_text, date, uid, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(a.billingNumber, a.lotNo, a.fileId, a.status, a.reason?.code ?? null, a.reason?.text ?? null, a.date, ret.uid, ret.at);
        const f = this.fileById(a.fileId);
        if (f && f.state === 'ready') this.markFileSent(a.fileId, ret.at, `ARL reçu (${ret.uid})`);
      }
      const upsert = this.db.prepare(
        `INSERT INTO host_invoice_returns (billing, invoice_no, state, arl, reject_code, reject_text, reject_source, paid_amount, payment_date, rsp_seq, uid, at)
         VALUES (@billing, @no, @state, @arl, @rc, @rt, @rs, @pa, @pd, @seq, @uid, @at)
         ON CONFLICT(billing, invoice_no) DO UPDATE SET state = excluded.state, arl = COALESCE(excluded.arl, host_invoice_returns.arl),
           reject_code = excluded.reject_code, reject_text = excluded.reject_text, reject_source = excluded.reject_source,
           paid_amount = excluded.paid_amount, payment_date = excluded.payment_date, rsp_seq = COALESCE(excluded.rsp_seq, host_invoice_returns.rsp_seq),
           uid = excluded.uid, at = excluded.at
         WHERE host_invoice_returns.state NOT IN ('paid', 'rejected')`,
      );
      for (const i of effects.invoices ?? []) {
        upsert.run({
          billing: i.billingNumber,
          no: i.invoiceNo,
          state: i.state,
          arl: i.arl ?? null,
          rc: i.reject?.code ?? null,
          rt: i.reject?.text ?? null,
          rs: i.reject?.source ?? null,
          pa: i.paid?.amount ?? null,
          pd: i.paid?.date ?? null,
          seq: i.rspSeq ?? null,
          uid: ret.uid,
          at: ret.at,
        });
      }
    });
  }
}

// ---- returns from the AMO: tables and shapes (used by the TlaStore methods above) -------------------

const RETURNS_SCHEMA = `
CREATE TABLE IF NOT EXISTS host_returns (
  uid TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  outcome TEXT NOT NULL,
  subject TEXT NOT NULL,
  file_id TEXT,
  lot_no INTEGER,
  billing TEXT,
  seq INTEGER,
  error TEXT,
  raw BLOB,
  size INTEGER NOT NULL,
  sha256 TEXT,
  truncated INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS host_lot_arl (
  billing TEXT NOT NULL,
  lot_no INTEGER NOT NULL,
  file_id TEXT NOT NULL,
  status TEXT NOT NULL,
  reason_code TEXT,
  reason_text TEXT,
  date TEXT NOT NULL,
  uid TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (billing, lot_no)
);
CREATE TABLE IF NOT EXISTS host_invoice_returns (
  billing TEXT NOT NULL,
  invoice_no INTEGER NOT NULL,
  state TEXT NOT NULL,
  arl TEXT,
  reject_code TEXT,
  reject_text TEXT,
  reject_source TEXT,
  paid_amount INTEGER,
  payment_date TEXT,
  rsp_seq INTEGER,
  uid TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (billing, invoice_no)
);
`;

/**
 * A message of the POP3 mailbox this computer dealt with: 'applied' (wholly its own: deleted from the
 * server after the commit), 'shared' (an RSP also naming the device's invoices: its part applied, left
 * on the server for the device), 'corrupt' (claims to be about this computer's files but does not
 * decode or does not match them: kept here with its error, left on the server).
 */
export interface StoredReturn {
  uid: string;
  kind: 'ARL' | 'RSP';
  outcome: 'applied' | 'shared' | 'corrupt';
  subject: string;
  fileId: string | null;
  lotNo: number | null;
  billingNumber: string | null;
  seq: number | null;
  error: string | null;
  /** The attachment (at most MAX_KEPT_RETURN_BYTES) of a corrupt return; null otherwise. */
  raw: Uint8Array | null;
  size: number;
  sha256: string | null;
  truncated: boolean;
  at: number;
}

export type NewReturn = Omit<StoredReturn, 'fileId' | 'lotNo' | 'billingNumber' | 'seq' | 'error' | 'raw' | 'size' | 'sha256' | 'truncated'> &
  Partial<{ fileId: string; lotNo: number; billingNumber: string; seq: number; error: string; raw: Uint8Array; size: number; sha256: string; truncated: boolean }>;

export interface LotArl {
  billingNumber: string;
  lotNo: number;
  fileId: string;
  status: 'positive' | 'negative';
  reason: { code: string; text: string } | null;
  date: string;
  uid: string;
  at: number;
}

export type LotArlInput = Omit<LotArl, 'uid' | 'at'>;

export type InvoiceReturnState = 'arl-positive' | 'arl-negative' | 'paid' | 'rejected';

export interface InvoiceReturn {
  billingNumber: string;
  invoiceNo: number;
  state: InvoiceReturnState;
  arl: 'positive' | 'negative' | null;
  reject: { code: string; text: string; source: 'ARL' | 'RSP' } | null;
  paid: { amount: number; date: string } | null;
  rspSeq: number | null;
  /** The return that last changed it. */
  uid: string;
  at: number;
}

export type InvoiceReturnInput = Omit<InvoiceReturn, 'uid' | 'at'>;

interface ReturnRow {
  uid: string;
  kind: 'ARL' | 'RSP';
  outcome: StoredReturn['outcome'];
  subject: string;
  file_id: string | null;
  lot_no: number | null;
  billing: string | null;
  seq: number | null;
  error: string | null;
  raw: Buffer | null;
  size: number;
  sha256: string | null;
  truncated: number;
  at: number;
}

function returnOfRow(r: ReturnRow): StoredReturn {
  return {
    uid: r.uid,
    kind: r.kind,
    outcome: r.outcome,
    subject: r.subject,
    fileId: r.file_id,
    lotNo: r.lot_no,
    billingNumber: r.billing,
    seq: r.seq,
    error: r.error,
    raw: r.raw === null ? null : new Uint8Array(r.raw),
    size: r.size,
    sha256: r.sha256,
    truncated: r.truncated === 1,
    at: r.at,
  };
}

interface LotArlRow {
  billing: string;
  lot_no: number;
  file_id: string;
  status: 'positive' | 'negative';
  reason_code: string | null;
  reason_text: string | null;
  date: string;
  uid: string;
  at: number;
}

function lotArlOf(r: LotArlRow): LotArl {
  return {
    billingNumber: r.billing,
    lotNo: r.lot_no,
    fileId: r.file_id,
    status: r.status,
    reason: r.reason_code !== null ? { code: r.reason_code, text: r.reason_text ?? '' } : null,
    date: r.date,
    uid: r.uid,
    at: r.at,
  };
}

interface InvoiceReturnRow {
  billing: string;
  invoice_no: number;
  state: InvoiceReturnState;
  arl: 'positive' | 'negative' | null;
  reject_code: string | null;
  reject_text: string | null;
  reject_source: 'ARL' | 'RSP' | null;
  paid_amount: number | null;
  payment_date: string | null;
  rsp_seq: number | null;
  uid: string;
  at: number;
}

function invoiceReturnOf(r: InvoiceReturnRow): InvoiceReturn {
  return {
    billingNumber: r.billing,
    invoiceNo: r.invoice_no,
    state: r.state,
    arl: r.arl,
    reject: r.reject_code !== null ? { code: r.reject_code, text: r.reject_text ?? '', source: r.reject_source ?? 'ARL' } : null,
    paid: r.paid_amount !== null && r.payment_date !== null ? { amount: r.paid_amount, date: r.payment_date } : null,
    rspSeq: r.rsp_seq,
    uid: r.uid,
    at: r.at,
  };
}
