/**
 * DI-SV 01 lot body: the invoices of one destination and kind, each with its CPS signature and Vitale
 * authentication, as the CPS signs it (attached CMS) before it goes into a file. Invoice records and binary
 * items travel as base64 continuation records so the lot decoder never interprets an invoice: the AMO
 * rejects a malformed invoice on its own without losing the others.
 */
import type { InvoiceKind, IsoDate } from '../model.js';
import { FormatError } from './errors.js';
import { RecordReader, RecordWriter, base64RecordCount, base64Records, joinRecords, readBase64Records, splitRecords } from './records.js';
import { INVOICE_LAYOUT } from './invoice.js';

export const MAX_INVOICES_PER_LOT = 50;

export interface LotHeader {
  lotNo: number;
  kind: InvoiceKind;
  destination: string;
  billingNumber: string;
  createdAt: IsoDate;
}

export interface LotEntry {
  invoiceNo: number;
  /** formats/invoice.ts encoding of the invoice. */
  record: Uint8Array;
  /** Detached CMS SignedData over `record`. */
  cpsSignature: Uint8Array;
  vitaleAuth?: Uint8Array;
  vitaleCertDer?: Uint8Array;
}

export const LOT_RECORD = {
  header: 'L00',
  entry: 'L10',
  invoice: 'L11',
  cpsSignature: 'L12',
  vitaleAuth: 'L13',
  vitaleCert: 'L14',
  trailer: 'L99',
} as const;

const KINDS: Record<InvoiceKind, string> = { FSE: 'FSE', DRE: 'DRE' };
const DESTINATION = /^(AMO|AMC)-[0-9A-Z]{1,16}$/;
const BILLING = /^[0-9]{9}$/;
const LEN = 7;
const MAX_LEN = 9_999_999;

export function encodeLotBody(h: LotHeader, entries: LotEntry[]): Uint8Array {
  if (entries.length < 1 || entries.length > MAX_INVOICES_PER_LOT) {
    throw new FormatError('LOT', 'record 1 (L00) entryCount', `a lot holds 1..${MAX_INVOICES_PER_LOT} invoices, got ${entries.length}`);
  }
  const lines: string[] = [];
  const w = (type: string): RecordWriter => new RecordWriter('LOT', lines.length + 1, type);
  lines.push(
    w(LOT_RECORD.header)
      .raw('layout', 8, INVOICE_LAYOUT)
      .num('lotNo', 6, h.lotNo)
      .choice('kind', 3, h.kind, KINDS)
      .code('destination', 20, h.destination, DESTINATION)
      .code('billingNumber', 9, h.billingNumber, BILLING)
      .date6('createdAt', h.createdAt)
      .num('entryCount', 2, entries.length)
      .done(),
  );
  const seen = new Set<number>();
  for (const e of entries) {
    if (seen.has(e.invoiceNo)) throw new FormatError('LOT', `record ${lines.length + 1} (L10) invoiceNo`, `invoice ${e.invoiceNo} appears twice in the lot`);
    seen.add(e.invoiceNo);
    if ((e.vitaleAuth === undefined) !== (e.vitaleCertDer === undefined)) {
      throw new FormatError('LOT', `record ${lines.length + 1} (L10) vitaleAuth`, 'the Vitale authentication and the card certificate go together');
    }
    for (const [name, v] of [['record', e.record], ['cpsSignature', e.cpsSignature], ['vitaleAuth', e.vitaleAuth], ['vitaleCertDer', e.vitaleCertDer]] as const) {
      if (v !== undefined && (!(v instanceof Uint8Array) || v.length > MAX_LEN)) {
        throw new FormatError('LOT', `record ${lines.length + 1} (L10) ${name}`, `must be at most ${MAX_LEN} bytes`);
      }
    }
    lines.push(
      w(LOT_RECORD.entry)
        .num('invoiceNo', 9, e.invoiceNo)
        .num('recordLength', LEN, e.record.length)
        .num('cpsSignatureLength', LEN, e.cpsSignature.length)
        .optNum('vitaleAuthLength', LEN, e.vitaleAuth?.length)
        .optNum('vitaleCertLength', LEN, e.vitaleCertDer?.length)
        .done(),
    );
    lines.push(...base64Records('LOT', lines.length + 1, LOT_RECORD.invoice, e.record));
    lines.push(...base64Records('LOT', lines.length + 1, LOT_RECORD.cpsSignature, e.cpsSignature));
    if (e.vitaleAuth && e.vitaleCertDer) {
      lines.push(...base64Records('LOT', lines.length + 1, LOT_RECORD.vitaleAuth, e.vitaleAuth));
      lines.push(...base64Records('LOT', lines.length + 1, LOT_RECORD.vitaleCert, e.vitaleCertDer));
    }
  }
  lines.push(w(LOT_RECORD.trailer).num('recordCount', 6, lines.length + 1).num('entryCount', 2, entries.length).done());
  return joinRecords(lines);
}

export function decodeLotBody(b: Uint8Array): { header: LotHeader; entries: LotEntry[] } {
  const lines = splitRecords('LOT', b);
  let idx = 0;
  const next = (type: string, what: string): RecordReader => {
    const line = lines[idx];
    if (line === undefined) throw new FormatError('LOT', `record ${idx + 1}`, `missing: record ${type} (${what}) expected`);
    const r = new RecordReader('LOT', ++idx, line);
    if (r.type !== type) r.fail('type', `record type ${JSON.stringify(r.type)} where ${type} (${what}) is expected`);
    return r;
  };

  let r = next(LOT_RECORD.header, 'lot header');
  if (r.raw(8) !== INVOICE_LAYOUT) r.fail('layout', `unknown layout, this decoder reads ${INVOICE_LAYOUT}`);
  const header: LotHeader = {
    lotNo: r.num('lotNo', 6),
    kind: r.choice('kind', 3, KINDS),
    destination: r.code('destination', 20, DESTINATION),
    billingNumber: r.code('billingNumber', 9, BILLING),
    createdAt: r.date6('createdAt'),
  };
  const entryCount = r.num('entryCount', 2);
  if (entryCount < 1 || entryCount > MAX_INVOICES_PER_LOT) r.fail('entryCount', `a lot holds 1..${MAX_INVOICES_PER_LOT} invoices, got ${entryCount}`);
  r.done();

  const entries: LotEntry[] = [];
  const seen = new Set<number>();
  while (lines[idx] !== undefined && (lines[idx] as string).startsWith(LOT_RECORD.entry)) {
    r = next(LOT_RECORD.entry, 'invoice entry');
    const invoiceNo = r.num('invoiceNo', 9);
    if (seen.has(invoiceNo)) r.fail('invoiceNo', `invoice ${invoiceNo} appears twice in the lot`);
    seen.add(invoiceNo);
    const recordLength = r.num('recordLength', LEN);
    const sigLength = r.num('cpsSignatureLength', LEN);
    const authLength = r.optNum('vitaleAuthLength', LEN);
    const certLength = r.optNum('vitaleCertLength', LEN);
    if ((authLength === undefined) !== (certLength === undefined)) r.fail('vitaleCertLength', 'the Vitale authentication and the card certificate go together');
    r.done();
    if (entries.length >= entryCount) r.fail('type', `more invoice entries than the ${entryCount} the header announces`);
    const take = (type: string, length: number, field: string): Uint8Array => {
      // Bound the work before reading: a forged length must not make us scan past the file.
      if (idx + base64RecordCount(length) > lines.length) {
        throw new FormatError('LOT', `record ${idx}`, `${field}: the declared ${length} bytes run past the end of the lot`);
      }
      const bytes = readBase64Records('LOT', lines, idx, type, length, field);
      idx += base64RecordCount(length);
      return bytes;
    };
    const entry: LotEntry = {
      invoiceNo,
      record: take(LOT_RECORD.invoice, recordLength, 'record'),
      cpsSignature: take(LOT_RECORD.cpsSignature, sigLength, 'cpsSignature'),
    };
    if (authLength !== undefined && certLength !== undefined) {
      entry.vitaleAuth = take(LOT_RECORD.vitaleAuth, authLength, 'vitaleAuth');
      entry.vitaleCertDer = take(LOT_RECORD.vitaleCert, certLength, 'vitaleCertDer');
    }
    entries.push(entry);
  }
  r = next(LOT_RECORD.trailer, 'trailer');
  const recordCount = r.num('recordCount', 6);
  if (recordCount !== idx) r.fail('recordCount', `says ${recordCount} records, the lot has ${idx}`);
  const trailerEntries = r.num('entryCount', 2);
  if (trailerEntries !== entries.length || entryCount !== entries.length) {
    r.fail('entryCount', `header says ${entryCount} invoices, trailer ${trailerEntries}, the lot has ${entries.length}`);
  }
  r.done();
  if (idx !== lines.length) throw new FormatError('LOT', `record ${idx + 1}`, 'data after the trailer');
  return { header, entries };
}
