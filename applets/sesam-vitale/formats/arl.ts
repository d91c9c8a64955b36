/**
 * DI-SV 01 ARL (accusé de réception logique): the receiver's answer for one lot of one file. Positive when
 * the lot was taken (some invoices may still be rejected one by one); negative when the lot itself failed
 * (unreadable, bad signature...), and then every invoice is rejected with the lot reason.
 */
import type { IsoDate } from '../model.js';
import { FormatError } from './errors.js';
import { INVOICE_LAYOUT } from './invoice.js';
import { MAX_INVOICES_PER_LOT } from './lot.js';
import { RecordReader, RecordWriter, joinRecords, splitRecords } from './records.js';

export interface ArlReport {
  fileId: string;
  lotNo: number;
  billingNumber: string;
  destination: string;
  date: IsoDate;
  status: 'positive' | 'negative';
  lotReason?: { code: string; text: string };
  invoices: Array<{ invoiceNo: number; status: 'accepted' | 'rejected'; code?: string; text?: string }>;
}

/**
 * This project's reason codes (docs/formats.md), with the practitioner-facing French text. `L..` are
 * lot-level (every invoice of the lot rejected), `F..` invoice-level.
 */
export const ARL_REASONS = {
  L01: 'Lot illisible : structure non conforme',
  L02: 'Signature du lot invalide',
  L03: 'Certificat du signataire du lot non reconnu ou expiré',
  L04: 'Numéro de facturation du lot différent de celui du signataire',
  L05: 'Destinataire du lot erroné',
  L06: 'Lot vide ou trop de factures',
  F01: 'Facture illisible : format non conforme',
  F02: 'Signature CPS de la facture invalide',
  F03: 'Authentification Vitale absente ou invalide',
  F04: 'Clé du NIR erronée',
  F05: 'Date des soins invalide, future ou prescrite',
  F06: 'Droits AMO fermés à la date des soins',
  F07: 'Montants incohérents avec la tarification',
  F08: 'Facture déjà reçue (numéro en double)',
  F09: 'Acte non autorisé pour la spécialité',
  F10: 'Situation de facturation non autorisée à signer',
  F11: 'Complémentaire non valide à la date des soins',
  F99: 'Rejet par règle de contrôle',
} as const satisfies Record<string, string>;

export type ArlReasonCode = keyof typeof ARL_REASONS;

export const ARL_RECORD = { header: '000', invoice: '100', trailer: '999' } as const;

const STATUS: Record<ArlReport['status'], string> = { positive: 'P', negative: 'N' };
const INVOICE_STATUS: Record<'accepted' | 'rejected', string> = { accepted: 'A', rejected: 'R' };
const REASON = /^[A-Z][0-9]{2}$/;
const DESTINATION = /^(AMO|AMC)-[0-9A-Z]{1,16}$/;
const BILLING = /^[0-9]{9}$/;
const FILE_ID = /^F[0-9]{15}$/;
const TEXT = 90;

function checkConsistency(r: ArlReport, fail: (field: string, reason: string) => never): void {
  if (r.lotReason && r.status !== 'negative') fail('lotReason', 'a lot reason makes the ARL negative');
  if (r.status === 'negative' && !r.lotReason) fail('lotReason', 'a negative ARL carries the lot reason');
  if (r.lotReason) {
    for (const i of r.invoices) {
      if (i.status !== 'rejected' || i.code !== r.lotReason.code) fail('invoices', `lot rejected (${r.lotReason.code}): invoice ${i.invoiceNo} must be rejected with the lot reason`);
    }
  }
}

export function encodeArl(r: ArlReport): Uint8Array {
  const lines: string[] = [];
  const w = (type: string): RecordWriter => new RecordWriter('ARL', lines.length + 1, type);
  checkConsistency(r, (field, reason) => {
    throw new FormatError('ARL', `record 1 (000) ${field}`, reason);
  });
  if (r.invoices.length > MAX_INVOICES_PER_LOT) throw new FormatError('ARL', 'record 1 (000) invoiceCount', `at most ${MAX_INVOICES_PER_LOT} invoices`);
  lines.push(
    w(ARL_RECORD.header)
      .raw('layout', 8, INVOICE_LAYOUT)
      .code('fileId', 16, r.fileId, FILE_ID)
      .num('lotNo', 6, r.lotNo)
      .code('billingNumber', 9, r.billingNumber, BILLING)
      .code('destination', 20, r.destination, DESTINATION)
      .date6('date', r.date)
      .choice('status', 1, r.status, STATUS)
      .optCode('lotReasonCode', 3, r.lotReason?.code, REASON)
      .optText('lotReasonText', 50, r.lotReason?.text)
      .done(),
  );
  if (r.lotReason && (r.lotReason.text === '' || r.lotReason.text === undefined)) throw new FormatError('ARL', 'record 1 (000) lotReasonText', 'is required with a lot reason');
  const seen = new Set<number>();
  for (const i of r.invoices) {
    const n = lines.length + 1;
    if (seen.has(i.invoiceNo)) throw new FormatError('ARL', `record ${n} (100) invoiceNo`, `invoice ${i.invoiceNo} appears twice`);
    seen.add(i.invoiceNo);
    if (i.status === 'rejected' && (!i.code || !i.text)) throw new FormatError('ARL', `record ${n} (100) code`, 'a rejected invoice carries a code and a text');
    if (i.status === 'accepted' && (i.code !== undefined || i.text !== undefined)) throw new FormatError('ARL', `record ${n} (100) code`, 'an accepted invoice carries no reason');
    lines.push(
      w(ARL_RECORD.invoice)
        .num('invoiceNo', 9, i.invoiceNo)
        .choice('status', 1, i.status, INVOICE_STATUS)
        .optCode('code', 3, i.code, REASON)
        .optText('text', TEXT, i.text)
        .done(),
    );
  }
  const accepted = r.invoices.filter((i) => i.status === 'accepted').length;
  lines.push(
    w(ARL_RECORD.trailer)
      .num('recordCount', 4, lines.length + 1)
      .num('invoiceCount', 2, r.invoices.length)
      .num('acceptedCount', 2, accepted)
      .num('rejectedCount', 2, r.invoices.length - accepted)
      .done(),
  );
  return joinRecords(lines);
}

export function decodeArl(b: Uint8Array): ArlReport {
  const lines = splitRecords('ARL', b);
  let idx = 0;
  const next = (type: string, what: string): RecordReader => {
    const line = lines[idx];
    if (line === undefined) throw new FormatError('ARL', `record ${idx + 1}`, `missing: record ${type} (${what}) expected`);
    const rr = new RecordReader('ARL', ++idx, line);
    if (rr.type !== type) rr.fail('type', `record type ${JSON.stringify(rr.type)} where ${type} (${what}) is expected`);
    return rr;
  };
  let r = next(ARL_RECORD.header, 'header');
  if (r.raw(8) !== INVOICE_LAYOUT) r.fail('layout', `unknown layout, this decoder reads ${INVOICE_LAYOUT}`);
  const fileId = r.code('fileId', 16, FILE_ID);
  const lotNo = r.num('lotNo', 6);
  const billingNumber = r.code('billingNumber', 9, BILLING);
  const destination = r.code('destination', 20, DESTINATION);
  const date = r.date6('date');
  const status = r.choice('status', 1, STATUS);
  const lotCode = r.optCode('lotReasonCode', 3, REASON);
  const lotText = r.optText('lotReasonText', 50);
  if ((lotCode === undefined) !== (lotText === undefined)) r.fail('lotReasonText', 'the lot reason has a code and a text');
  r.done();
  const header = r;
  const report: ArlReport = {
    fileId,
    lotNo,
    billingNumber,
    destination,
    date,
    status,
    ...(lotCode !== undefined && lotText !== undefined ? { lotReason: { code: lotCode, text: lotText } } : {}),
    invoices: [],
  };
  const seen = new Set<number>();
  while (lines[idx] !== undefined && (lines[idx] as string).startsWith(ARL_RECORD.invoice)) {
    r = next(ARL_RECORD.invoice, 'invoice');
    const invoiceNo = r.num('invoiceNo', 9);
    if (seen.has(invoiceNo)) r.fail('invoiceNo', `invoice ${invoiceNo} appears twice`);
    seen.add(invoiceNo);
    const st = r.choice('status', 1, INVOICE_STATUS);
    const code = r.optCode('code', 3, REASON);
    const text = r.optText('text', TEXT);
    if (st === 'rejected' && (code === undefined || text === undefined)) r.fail('code', 'a rejected invoice carries a code and a text');
    if (st === 'accepted' && (code !== undefined || text !== undefined)) r.fail('code', 'an accepted invoice carries no reason');
    r.done();
    if (report.invoices.length >= MAX_INVOICES_PER_LOT) r.fail('type', `more than ${MAX_INVOICES_PER_LOT} invoices`);
    report.invoices.push({ invoiceNo, status: st, ...(code !== undefined ? { code } : {}), ...(text !== undefined ? { text } : {}) });
  }
  checkConsistency(report, (field, reason) => header.fail(field, reason));
  r = next(ARL_RECORD.trailer, 'trailer');
  const recordCount = r.num('recordCount', 4);
  if (recordCount !== idx) r.fail('recordCount', `says ${recordCount} records, the ARL has ${idx}`);
  const count = r.num('invoiceCount', 2);
  if (count !== report.invoices.length) r.fail('invoiceCount', `says ${count}, the ARL lists ${report.invoices.length}`);
  const accepted = report.invoices.filter((i) => i.status === 'accepted').length;
  const acc = r.num('acceptedCount', 2);
  if (acc !== accepted) r.fail('acceptedCount', `says ${acc}, the ARL lists ${accepted}`);
  const rej = r.num('rejectedCount', 2);
  if (rej !== report.invoices.length - accepted) r.fail('rejectedCount', `says ${rej}, the ARL lists ${report.invoices.length - accepted}`);
  r.done();
  if (idx !== lines.length) throw new FormatError('ARL', `record ${idx + 1}`, 'data after the trailer');
  return report;
}
