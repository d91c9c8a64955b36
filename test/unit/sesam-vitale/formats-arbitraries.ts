/**
 * fast-check generators of already-normalised DI-SV values (uppercase unaccented text, no surrounding
 * spaces, optional fields absent rather than empty): what decode(encode(x)) must give back unchanged.
 */
import fc from 'fast-check';
import type { Beneficiary, CareContext, InvoiceData, Insured, PractitionerRef, PricedLine, SeriesInput } from '../../../applets/sesam-vitale/model.js';
import type { ArlReport } from '../../../applets/sesam-vitale/formats/arl.js';
import type { RspReport } from '../../../applets/sesam-vitale/formats/rsp.js';
import type { FileManifest } from '../../../applets/sesam-vitale/formats/file.js';
import { fileIdOf, lotAttachmentName } from '../../../applets/sesam-vitale/formats/file.js';

const TEXT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '-./,:()+%&".split('');
const CODE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'.split('');

export const text = (max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...TEXT_CHARS), { maxLength: max }).map((a) => a.join('').trim());
export const someText = (max: number): fc.Arbitrary<string> => text(max).filter((s) => s.length > 0);
export const code = (max: number): fc.Arbitrary<string> => fc.array(fc.constantFrom(...CODE_CHARS), { minLength: 1, maxLength: max }).map((a) => a.join(''));
export const digits = (min: number, max = min): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...'0123456789'.split('')), { minLength: min, maxLength: max }).map((a) => a.join(''));

function iso(d: Date): string {
  return d.toISOString().slice(0, 10);
}
export const date6 = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map(iso);
export const date8 = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map(iso);
export const nir = fc.tuple(digits(5), fc.constantFrom('75', '2A', '2B', '13', '99'), digits(8)).map(([a, b, c]) => a + b + c);
export const amount = fc.integer({ min: 0, max: 99_999_999 });
export const total = fc.integer({ min: 0, max: 9_999_999_999 });

/** Drops keys whose value is undefined, so generated objects look like decoded ones. */
export function clean<T>(x: T): T {
  if (Array.isArray(x)) return x.map(clean) as T;
  if (x instanceof Uint8Array || x === null || typeof x !== 'object') return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) if (v !== undefined) out[k] = clean(v);
  return out as T;
}

const practitioner: fc.Arbitrary<PractitionerRef> = fc.record({
  nationalId: code(20),
  nom: text(27),
  prenom: text(27),
  specialite: digits(1, 2),
  billingNumber: digits(9),
  situationNumber: fc.integer({ min: 0, max: 99 }),
  conventionCode: code(2),
  tariffZone: code(2),
  remplacant: fc.boolean(),
  replacedBillingNumber: fc.option(digits(9), { nil: undefined }),
});

const insured: fc.Arbitrary<Insured> = fc.record({ nir, regime: digits(2), caisse: digits(3), centre: digits(4), codeGestion: code(2) });

const beneficiary: fc.Arbitrary<Beneficiary> = fc.record({
  surname: text(27),
  usualName: fc.option(someText(27), { nil: undefined }),
  firstName: text(27),
  birthDate: digits(8),
  birthRank: fc.integer({ min: 0, max: 9 }),
  quality: digits(2),
  nir: fc.option(nir, { nil: undefined }),
  nationality: fc.constantFrom('FRA', 'DEU', 'MAR', 'ZZZ'),
  rights: fc.record({ start: date8, end: fc.option(date8, { nil: undefined }), ald: fc.boolean(), exoneration: code(1) }),
  amc: fc.option(
    fc.record({
      number: digits(8, 10),
      contractType: digits(2),
      tiersPayant: fc.boolean(),
      start: date8,
      end: date8,
      name: fc.option(someText(40), { nil: undefined }),
    }),
    { nil: undefined },
  ),
});

const context: fc.Arbitrary<CareContext> = fc.record({
  nature: fc.constantFrom('maladie' as const, 'maternite' as const, 'at' as const),
  atNumber: fc.option(code(15), { nil: undefined }),
  aldRelated: fc.boolean(),
  parcours: fc.constantFrom('traitant' as const, 'oriente' as const, 'hors' as const, 'exempt' as const),
  orientingPractitioner: fc.option(code(20), { nil: undefined }),
  tiersPayantAmo: fc.boolean(),
  tiersPayantAmc: fc.boolean(),
});

const line: fc.Arbitrary<PricedLine> = fc.record({
  date: date6,
  code: code(8),
  kind: fc.constantFrom('NGAP' as const, 'CCAM' as const),
  coefficient: fc.integer({ min: 0, max: 999_999 }).map((n) => n / 100),
  quantity: fc.integer({ min: 0, max: 9999 }),
  activity: fc.option(digits(1), { nil: undefined }),
  phase: fc.option(digits(1), { nil: undefined }),
  modifiers: fc.array(code(4), { maxLength: 5 }),
  unitPrice: amount,
  charged: amount,
  base: amount,
  rate: fc.integer({ min: 0, max: 100 }),
  amo: amount,
  amc: amount,
  patient: amount,
});

const series: fc.Arbitrary<SeriesInput> = fc.record({ prescriberId: code(20), prescriptionDate: date6 });

export const invoiceData: fc.Arbitrary<InvoiceData> = fc
  .record({
    kind: fc.constantFrom('FSE' as const, 'DRE' as const),
    invoiceNo: fc.integer({ min: 0, max: 999_999_999 }),
    relatedNo: fc.option(fc.integer({ min: 0, max: 999_999_999 }), { nil: undefined }),
    correctedFrom: fc.option(fc.integer({ min: 0, max: 999_999_999 }), { nil: undefined }),
    createdAt: date6,
    careDate: date6,
    practitioner,
    insured,
    beneficiary,
    context,
    series: fc.option(series, { nil: undefined }),
    degraded: fc.boolean(),
    vitaleSerial: fc.option(digits(10, 16), { nil: undefined }),
    pricing: fc.record({
      lines: fc.array(line, { minLength: 1, maxLength: 12 }),
      totals: fc.record({ charged: total, base: total, amo: total, amc: total, patient: total, participation: total }),
      tableVersion: someText(30),
    }),
  })
  .map(clean);

export const arlReport: fc.Arbitrary<ArlReport> = fc
  .record({
    fileId: fc.tuple(digits(9), fc.integer({ min: 0, max: 999_999 })).map(([b, n]) => fileIdOf(b, n)),
    lotNo: fc.integer({ min: 0, max: 999_999 }),
    billingNumber: digits(9),
    destination: fc.oneof(digits(9).map((d) => `AMO-${d}`), digits(8, 10).map((d) => `AMC-${d}`)),
    date: date6,
    lotReason: fc.option(fc.record({ code: fc.constantFrom('L01', 'L02', 'L03'), text: someText(50) }), { nil: undefined }),
    invoices: fc.uniqueArray(
      fc.record({
        invoiceNo: fc.integer({ min: 0, max: 999_999_999 }),
        rejected: fc.option(fc.record({ code: fc.constantFrom('F01', 'F04', 'F99'), text: someText(90) }), { nil: undefined }),
      }),
      { maxLength: 50, selector: (i) => i.invoiceNo },
    ),
  })
  .map((r) =>
    clean({
      fileId: r.fileId,
      lotNo: r.lotNo,
      billingNumber: r.billingNumber,
      destination: r.destination,
      date: r.date,
      status: r.lotReason ? ('negative' as const) : ('positive' as const),
      lotReason: r.lotReason,
      invoices: r.invoices.map((i) =>
        r.lotReason
          ? { invoiceNo: i.invoiceNo, status: 'rejected' as const, code: r.lotReason.code, text: r.lotReason.text }
          : i.rejected
            ? { invoiceNo: i.invoiceNo, status: 'rejected' as const, code: i.rejected.code, text: i.rejected.text }
            : { invoiceNo: i.invoiceNo, status: 'accepted' as const },
      ),
    }),
  );

export const rspReport: fc.Arbitrary<RspReport> = fc
  .record({
    emitter: code(20),
    billingNumber: digits(9),
    seq: fc.integer({ min: 0, max: 999_999 }),
    date: date6,
    payments: fc.array(
      fc.record({
        invoiceNo: fc.integer({ min: 0, max: 999_999_999 }),
        nir,
        careDate: date6,
        charged: amount,
        paid: amount,
        paymentDate: date6,
        rejected: fc.option(fc.record({ code: fc.constantFrom('P01', 'P02', 'P99'), text: someText(60) }), { nil: undefined }),
      }),
      { maxLength: 30 },
    ),
  })
  .map((r) =>
    clean({
      ...r,
      payments: r.payments.map(({ rejected, ...p }) => (rejected ? { ...p, status: 'rejected' as const, ...rejected } : { ...p, status: 'paid' as const })),
    }),
  );

export const manifest: fc.Arbitrary<FileManifest> = fc
  .record({
    billingNumber: digits(9),
    fileNo: fc.integer({ min: 0, max: 999_999 }),
    destination: fc.oneof(digits(9).map((d) => `AMO-${d}`), digits(8, 10).map((d) => `AMC-${d}`)),
    createdAt: date6,
    lots: fc.uniqueArray(
      fc.record({ lotNo: fc.integer({ min: 0, max: 999_999 }), kind: fc.constantFrom('FSE' as const, 'DRE' as const), invoices: fc.integer({ min: 1, max: 50 }), amount: fc.integer({ min: 0, max: 9_999_999_999 }) }),
      { minLength: 1, maxLength: 20, selector: (l) => l.lotNo },
    ),
  })
  .map((m) => {
    const fileId = fileIdOf(m.billingNumber, m.fileNo);
    return { fileId, ...m, lots: m.lots.map((l) => ({ ...l, attachment: lotAttachmentName(fileId, l.lotNo) })) };
  });
