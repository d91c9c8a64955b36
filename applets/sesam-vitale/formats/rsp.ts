/**
 * DI-SV 01 RSP (retour de paiement, NOEMIE-like): the AMO's payment report for one billing number,
 * `000` header, one `100` detail per invoice, `999` trailer whose counts and totals the decoder checks.
 */
import type { Cents, IsoDate } from '../model.js';
import { FormatError } from './errors.js';
import { INVOICE_LAYOUT } from './invoice.js';
import { RecordReader, RecordWriter, joinRecords, splitRecords } from './records.js';

export interface RspPayment {
  invoiceNo: number;
  nir: string;
  careDate: IsoDate;
  charged: Cents;
  paid: Cents;
  paymentDate: IsoDate;
  status: 'paid' | 'rejected';
  code?: string;
  text?: string;
}

export interface RspReport {
  emitter: string;
  billingNumber: string;
  seq: number;
  date: IsoDate;
  payments: RspPayment[];
}

/** Payment rejection codes of this project (docs/formats.md). */
export const RSP_REASONS = {
  P01: 'Droits non ouverts à la date des soins',
  P02: 'Acte non remboursable',
  P03: 'Facture en double',
  P04: 'Montant supérieur au tarif',
  P05: 'Bénéficiaire inconnu',
  P99: 'Rejet par règle de liquidation',
} as const satisfies Record<string, string>;

export type RspReasonCode = keyof typeof RSP_REASONS;

export const RSP_RECORD = { header: '000', detail: '100', trailer: '999' } as const;
export const MAX_RSP_PAYMENTS = 99_999;

const STATUS: Record<RspPayment['status'], string> = { paid: 'P', rejected: 'R' };
const NIR = /^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}$/;
const BILLING = /^[0-9]{9}$/;
const REASON = /^[A-Z][0-9]{2}$/;
const AMOUNT = 8;
const TEXT = 60;

export function encodeRsp(r: RspReport): Uint8Array {
  const lines: string[] = [];
  const w = (type: string): RecordWriter => new RecordWriter('RSP', lines.length + 1, type);
  if (r.payments.length > MAX_RSP_PAYMENTS) throw new FormatError('RSP', 'record 1 (000)', `at most ${MAX_RSP_PAYMENTS} payments`);
  lines.push(
    w(RSP_RECORD.header)
      .raw('layout', 8, INVOICE_LAYOUT)
      .code('emitter', 20, r.emitter)
      .code('billingNumber', 9, r.billingNumber, BILLING)
      .num('seq', 6, r.seq)
      .date6('date', r.date)
      .done(),
  );
  let charged = 0;
  let paid = 0;
  for (const p of r.payments) {
    const n = lines.length + 1;
    if (p.status === 'rejected' && (!p.code || !p.text)) throw new FormatError('RSP', `record ${n} (100) code`, 'a rejected payment carries a code and a text');
    if (p.status === 'paid' && (p.code !== undefined || p.text !== undefined)) throw new FormatError('RSP', `record ${n} (100) code`, 'a paid invoice carries no reason');
    lines.push(
      w(RSP_RECORD.detail)
        .num('invoiceNo', 9, p.invoiceNo)
        .code('nir', 15, p.nir, NIR)
        .date6('careDate', p.careDate)
        .num('charged', AMOUNT, p.charged)
        .num('paid', AMOUNT, p.paid)
        .date6('paymentDate', p.paymentDate)
        .choice('status', 1, p.status, STATUS)
        .optCode('code', 3, p.code, REASON)
        .optText('text', TEXT, p.text)
        .done(),
    );
    charged += p.charged;
    paid += p.paid;
  }
  lines.push(
    w(RSP_RECORD.trailer)
      .num('recordCount', 6, lines.length + 1)
      .num('paymentCount', 5, r.payments.length)
      .num('totalCharged', 12, charged)
      .num('totalPaid', 12, paid)
      .done(),
  );
  return joinRecords(lines);
}

export function decodeRsp(b: Uint8Array): RspReport {
  const lines = splitRecords('RSP', b);
  let idx = 0;
  const next = (type: string, what: string): RecordReader => {
    const line = lines[idx];
    if (line === undefined) throw new FormatError('RSP', `record ${idx + 1}`, `missing: record ${type} (${what}) expected`);
    const rr = new RecordReader('RSP', ++idx, line);
    if (rr.type !== type) rr.fail('type', `record type ${JSON.stringify(rr.type)} where ${type} (${what}) is expected`);
    return rr;
  };
  let r = next(RSP_RECORD.header, 'header');
  if (r.raw(8) !== INVOICE_LAYOUT) r.fail('layout', `unknown layout, this decoder reads ${INVOICE_LAYOUT}`);
  const report: RspReport = {
    emitter: r.code('emitter', 20),
    billingNumber: r.code('billingNumber', 9, BILLING),
    seq: r.num('seq', 6),
    date: r.date6('date'),
    payments: [],
  };
  r.done();
  let charged = 0;
  let paid = 0;
  while (lines[idx] !== undefined && (lines[idx] as string).startsWith(RSP_RECORD.detail)) {
    r = next(RSP_RECORD.detail, 'payment');
    const invoiceNo = r.num('invoiceNo', 9);
    const nir = r.code('nir', 15, NIR);
    const careDate = r.date6('careDate');
    const ch = r.num('charged', AMOUNT);
    const pd = r.num('paid', AMOUNT);
    const paymentDate = r.date6('paymentDate');
    const status = r.choice('status', 1, STATUS);
    const code = r.optCode('code', 3, REASON);
    const text = r.optText('text', TEXT);
    if (status === 'rejected' && (code === undefined || text === undefined)) r.fail('code', 'a rejected payment carries a code and a text');
    if (status === 'paid' && (code !== undefined || text !== undefined)) r.fail('code', 'a paid invoice carries no reason');
    r.done();
    if (report.payments.length >= MAX_RSP_PAYMENTS) r.fail('type', `more than ${MAX_RSP_PAYMENTS} payments`);
    report.payments.push({
      invoiceNo,
      nir,
      careDate,
      charged: ch,
      paid: pd,
      paymentDate,
      status,
      ...(code !== undefined ? { code } : {}),
      ...(text !== undefined ? { text } : {}),
    });
    charged += ch;
    paid += pd;
  }
  r = next(RSP_RECORD.trailer, 'trailer');
  const recordCount = r.num('recordCount', 6);
  if (recordCount !== idx) r.fail('recordCount', `says ${recordCount} records, the RSP has ${idx}`);
  const count = r.num('paymentCount', 5);
  if (count !== report.payments.length) r.fail('paymentCount', `says ${count}, the RSP lists ${report.payments.length}`);
  const tc = r.num('totalCharged', 12);
  if (tc !== charged) r.fail('totalCharged', `says ${tc}, the details add up to ${charged}`);
  const tp = r.num('totalPaid', 12);
  if (tp !== paid) r.fail('totalPaid', `says ${tp}, the details add up to ${paid}`);
  r.done();
  if (idx !== lines.length) throw new FormatError('RSP', `record ${idx + 1}`, 'data after the trailer');
  return report;
}
