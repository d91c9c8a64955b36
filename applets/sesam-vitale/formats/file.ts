/**
 * DI-SV 01 file manifest: the `.txt` attachment that lists the lots of one file (one mail) for one
 * destination. The file id is stable across re-sends so the receiver deduplicates on it.
 */
import type { Cents, InvoiceKind, IsoDate } from '../model.js';
import { FormatError } from './errors.js';
import { INVOICE_LAYOUT } from './invoice.js';
import { MAX_INVOICES_PER_LOT } from './lot.js';
import { RecordReader, RecordWriter, joinRecords, splitRecords } from './records.js';

export interface FileManifest {
  fileId: string;
  fileNo: number;
  billingNumber: string;
  destination: string;
  createdAt: IsoDate;
  lots: Array<{ lotNo: number; kind: InvoiceKind; invoices: number; amount: Cents; attachment: string }>;
}

export const MAX_LOTS_PER_FILE = 99;
export const FILE_RECORD = { header: 'F00', lot: 'F10', trailer: 'F99' } as const;

const KINDS: Record<InvoiceKind, string> = { FSE: 'FSE', DRE: 'DRE' };
const DESTINATION = /^(AMO|AMC)-[0-9A-Z]{1,16}$/;
const BILLING = /^[0-9]{9}$/;
const FILE_ID = /^F[0-9]{9}[0-9]{6}$/;

/** `F<billing 9 digits><file number 6 digits>`. */
export function fileIdOf(billingNumber: string, fileNo: number): string {
  if (!BILLING.test(billingNumber)) throw new FormatError('FILE', 'fileId', `billing number ${JSON.stringify(billingNumber)} is not 9 digits`);
  if (!Number.isSafeInteger(fileNo) || fileNo < 0 || fileNo > 999_999) throw new FormatError('FILE', 'fileId', `file number ${String(fileNo)} is not 0..999999`);
  return `F${billingNumber}${String(fileNo).padStart(6, '0')}`;
}

/** `<fileId>-L<lotNo>.p7m`: the attached CMS of one lot. */
export function lotAttachmentName(fileId: string, lotNo: number): string {
  return `${fileId}-L${lotNo}.p7m`;
}

export function manifestAttachmentName(fileId: string): string {
  return `${fileId}.txt`;
}

export function encodeManifest(m: FileManifest): Uint8Array {
  const lines: string[] = [];
  const w = (type: string): RecordWriter => new RecordWriter('FILE', lines.length + 1, type);
  if (m.lots.length < 1 || m.lots.length > MAX_LOTS_PER_FILE) {
    throw new FormatError('FILE', 'record 1 (F00) lotCount', `a file holds 1..${MAX_LOTS_PER_FILE} lots, got ${m.lots.length}`);
  }
  if (m.fileId !== fileIdOf(m.billingNumber, m.fileNo)) {
    throw new FormatError('FILE', 'record 1 (F00) fileId', `${JSON.stringify(m.fileId)} is not the id of file ${m.fileNo} of ${m.billingNumber}`);
  }
  lines.push(
    w(FILE_RECORD.header)
      .raw('layout', 8, INVOICE_LAYOUT)
      .code('fileId', 16, m.fileId, FILE_ID)
      .num('fileNo', 6, m.fileNo)
      .code('billingNumber', 9, m.billingNumber, BILLING)
      .code('destination', 20, m.destination, DESTINATION)
      .date6('createdAt', m.createdAt)
      .num('lotCount', 2, m.lots.length)
      .done(),
  );
  let invoices = 0;
  let amount = 0;
  const seen = new Set<number>();
  for (const l of m.lots) {
    const lw = w(FILE_RECORD.lot);
    if (seen.has(l.lotNo)) throw new FormatError('FILE', `record ${lines.length + 1} (F10) lotNo`, `lot ${l.lotNo} appears twice`);
    seen.add(l.lotNo);
    if (l.invoices < 1 || l.invoices > MAX_INVOICES_PER_LOT) throw new FormatError('FILE', `record ${lines.length + 1} (F10) invoices`, `a lot holds 1..${MAX_INVOICES_PER_LOT} invoices`);
    if (l.attachment !== lotAttachmentName(m.fileId, l.lotNo)) {
      throw new FormatError('FILE', `record ${lines.length + 1} (F10) attachment`, `must be ${lotAttachmentName(m.fileId, l.lotNo)}`);
    }
    lines.push(
      lw
        .num('lotNo', 6, l.lotNo)
        .choice('kind', 3, l.kind, KINDS)
        .num('invoices', 2, l.invoices)
        .num('amount', 10, l.amount)
        .fileName('attachment', 40, l.attachment)
        .done(),
    );
    invoices += l.invoices;
    amount += l.amount;
  }
  lines.push(
    w(FILE_RECORD.trailer)
      .num('recordCount', 4, lines.length + 1)
      .num('lotCount', 2, m.lots.length)
      .num('invoiceCount', 4, invoices)
      .num('amount', 12, amount)
      .done(),
  );
  return joinRecords(lines);
}

export function decodeManifest(b: Uint8Array): FileManifest {
  const lines = splitRecords('FILE', b);
  let idx = 0;
  const next = (type: string, what: string): RecordReader => {
    const line = lines[idx];
    if (line === undefined) throw new FormatError('FILE', `record ${idx + 1}`, `missing: record ${type} (${what}) expected`);
    const r = new RecordReader('FILE', ++idx, line);
    if (r.type !== type) r.fail('type', `record type ${JSON.stringify(r.type)} where ${type} (${what}) is expected`);
    return r;
  };
  let r = next(FILE_RECORD.header, 'file header');
  if (r.raw(8) !== INVOICE_LAYOUT) r.fail('layout', `unknown layout, this decoder reads ${INVOICE_LAYOUT}`);
  const fileId = r.code('fileId', 16, FILE_ID);
  const fileNo = r.num('fileNo', 6);
  const billingNumber = r.code('billingNumber', 9, BILLING);
  if (fileId !== fileIdOf(billingNumber, fileNo)) r.fail('fileId', `${fileId} is not the id of file ${fileNo} of ${billingNumber}`);
  const destination = r.code('destination', 20, DESTINATION);
  const createdAt = r.date6('createdAt');
  const lotCount = r.num('lotCount', 2);
  if (lotCount < 1) r.fail('lotCount', 'a file holds at least one lot');
  r.done();

  const lots: FileManifest['lots'] = [];
  const seen = new Set<number>();
  let invoices = 0;
  let amount = 0;
  for (let k = 0; k < lotCount; k++) {
    r = next(FILE_RECORD.lot, `lot ${k + 1} of ${lotCount}`);
    const lotNo = r.num('lotNo', 6);
    if (seen.has(lotNo)) r.fail('lotNo', `lot ${lotNo} appears twice`);
    seen.add(lotNo);
    const kind = r.choice('kind', 3, KINDS);
    const n = r.num('invoices', 2);
    if (n < 1 || n > MAX_INVOICES_PER_LOT) r.fail('invoices', `a lot holds 1..${MAX_INVOICES_PER_LOT} invoices, got ${n}`);
    const a = r.num('amount', 10);
    const attachment = r.fileName('attachment', 40);
    if (attachment !== lotAttachmentName(fileId, lotNo)) r.fail('attachment', `must be ${lotAttachmentName(fileId, lotNo)}`);
    r.done();
    lots.push({ lotNo, kind, invoices: n, amount: a, attachment });
    invoices += n;
    amount += a;
  }
  r = next(FILE_RECORD.trailer, 'trailer');
  const recordCount = r.num('recordCount', 4);
  if (recordCount !== idx) r.fail('recordCount', `says ${recordCount} records, the file has ${idx}`);
  const trailerLots = r.num('lotCount', 2);
  if (trailerLots !== lots.length) r.fail('lotCount', `says ${trailerLots} lots, the file has ${lots.length}`);
  const trailerInvoices = r.num('invoiceCount', 4);
  if (trailerInvoices !== invoices) r.fail('invoiceCount', `says ${trailerInvoices} invoices, the lots add up to ${invoices}`);
  const trailerAmount = r.num('amount', 12);
  if (trailerAmount !== amount) r.fail('amount', `says ${trailerAmount}, the lots add up to ${amount}`);
  r.done();
  if (idx !== lines.length) throw new FormatError('FILE', `record ${idx + 1}`, 'data after the trailer');
  return { fileId, fileNo, billingNumber, destination, createdAt, lots };
}
