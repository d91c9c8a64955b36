/**
 * Building the invoice data once validation passes: an FSE from the practitioner's input, a DRE split
 * from it for the AMC part under tiers payant AMC, their destination organism and transmission deadline.
 * Pure: the caller numbers (store counters), signs and stores.
 */
import type { ActInput, InvoiceData, IsoDate, PricedLine } from '../model.js';
import { addWorkingDays } from '../rules/dates.js';
import { priceActs } from '../tariff/price.js';
import { InvoiceError } from './errors.js';
import { validateInvoice, type InvoiceInput } from './validate.js';

export { InvoiceError } from './errors.js';

/** Working days to transmit: 3 when the patient pays, 8 under tiers payant. */
export const DEADLINE_PATIENT_PAYS = 3;
export const DEADLINE_TIERS_PAYANT = 8;
const MAX_INVOICE_NO = 999_999_999;

export interface BuiltInvoice {
  data: InvoiceData;
  destination: string;
  deadline: IsoDate;
}

function checkNumber(n: unknown, field: string): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_INVOICE_NO) {
    throw new InvoiceError([{ field, code: 'invoice-number-invalid', message: `Numéro de facture ${String(n)} invalide (1 à ${MAX_INVOICE_NO}).` }]);
  }
}

// Data crosses into the store and the formats: a deep copy keeps later edits of the input out of it.
function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Destination organism: `AMO-<régime><caisse><centre>` for an FSE, `AMC-<number>` for a DRE. */
export function destinationOf(data: InvoiceData): string {
  if (data.kind === 'FSE') return `AMO-${data.insured.regime}${data.insured.caisse}${data.insured.centre}`;
  const amc = data.beneficiary.amc;
  if (!amc) throw new InvoiceError([{ field: 'beneficiary.amc', code: 'amc-missing', message: 'DRE sans complémentaire : destinataire inconnu.' }]);
  return `AMC-${amc.number}`;
}

/** Transmission deadline: care date + 8 working days under tiers payant (always so for a DRE), else + 3. */
export function deadlineOf(data: InvoiceData): IsoDate {
  const tiersPayant = data.kind === 'DRE' ? data.context.tiersPayantAmc : data.context.tiersPayantAmo;
  return addWorkingDays(data.careDate, tiersPayant ? DEADLINE_TIERS_PAYANT : DEADLINE_PATIENT_PAYS);
}

/** Build an FSE. Throws InvoiceError with every issue when the input does not validate at `createdAt`. */
export function buildInvoice(input: InvoiceInput, numbers: { invoiceNo: number; correctedFrom?: number }, createdAt: IsoDate): BuiltInvoice {
  checkNumber(numbers.invoiceNo, 'invoiceNo');
  if (numbers.correctedFrom !== undefined) checkNumber(numbers.correctedFrom, 'correctedFrom');
  const issues = validateInvoice(input, createdAt);
  if (issues.length > 0) throw new InvoiceError(issues);
  const pricing = priceActs({ acts: input.acts, context: input.context, beneficiary: input.beneficiary, practitioner: input.practitioner, ...(input.series ? { series: input.series } : {}) }, input.tables);
  const careDate = pricing.lines.reduce((d, l) => (l.date > d ? l.date : d), pricing.lines[0]!.date);
  const data: InvoiceData = copy({
    kind: 'FSE',
    invoiceNo: numbers.invoiceNo,
    createdAt,
    careDate,
    practitioner: input.practitioner,
    insured: input.insured,
    beneficiary: input.beneficiary,
    context: input.context,
    degraded: input.degraded,
    pricing,
  });
  if (numbers.correctedFrom !== undefined) data.correctedFrom = numbers.correctedFrom;
  if (input.series) data.series = copy(input.series);
  if (!input.degraded && input.vitaleSerial !== undefined) data.vitaleSerial = input.vitaleSerial;
  return { data, destination: destinationOf(data), deadline: deadlineOf(data) };
}

/**
 * The DRE split from an FSE: only under tiers payant AMC with an AMC part. It carries the FSE's lines
 * unchanged (the AMC part is on each line; the AMO recomputes them identically) and points at the FSE.
 */
export function buildDre(fse: InvoiceData, invoiceNo: number): BuiltInvoice | null {
  if (fse.kind !== 'FSE' || !fse.context.tiersPayantAmc || fse.pricing.totals.amc <= 0 || !fse.beneficiary.amc) return null;
  checkNumber(invoiceNo, 'invoiceNo');
  if (invoiceNo === fse.invoiceNo) throw new InvoiceError([{ field: 'invoiceNo', code: 'invoice-number-invalid', message: 'La DRE doit avoir son propre numéro de facture.' }]);
  const data: InvoiceData = copy({ ...fse, kind: 'DRE' as const, invoiceNo, relatedNo: fse.invoiceNo });
  delete data.correctedFrom;
  return { data, destination: destinationOf(data), deadline: deadlineOf(data) };
}

/**
 * The acts as the practitioner entered them, rebuilt from priced lines (excess = charged − base):
 * how a correction starts from a stored invoice, and how the AMO re-prices what it receives.
 */
export function actsOfLines(lines: readonly PricedLine[]): ActInput[] {
  return lines.map((l) => {
    const a: ActInput = { date: l.date, code: l.code, coefficient: l.coefficient, quantity: l.quantity };
    if (l.activity !== undefined) a.activity = l.activity;
    if (l.phase !== undefined) a.phase = l.phase;
    if (l.modifiers.length > 0) a.modifiers = [...l.modifiers];
    if (l.charged > l.base) a.excess = l.charged - l.base;
    return a;
  });
}
