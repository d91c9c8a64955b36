import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildDre, buildInvoice, deadlineOf, destinationOf, InvoiceError } from '../../../applets/sesam-vitale/invoice/build.js';
import { validateInvoice, type InvoiceInput } from '../../../applets/sesam-vitale/invoice/validate.js';
import { isWorkingDay, workingDaysBetween } from '../../../applets/sesam-vitale/rules/dates.js';
import { adult, AMC_01, context, insured, invoiceInput, practitioner, situation, withKey } from './tariff-fixtures.js';

const TODAY = '2025-03-14';
const codes = (input: InvoiceInput, today = TODAY) => validateInvoice(input, today).map((i) => `${i.field}:${i.code}`);

describe('validateInvoice', () => {
  it('accepts a plain consultation', () => {
    expect(validateInvoice(invoiceInput(), TODAY)).toEqual([]);
  });

  it('checks NIR keys of the insured and of the beneficiary, Corsica included', () => {
    const bad = { ...insured(), nir: '185057512345600' };
    expect(codes(invoiceInput({ insured: bad }))).toEqual(['insured.nir:nir-invalid']);
    const corsican = withKey('269052A001001');
    expect(codes(invoiceInput({ beneficiary: adult({ nir: corsican }) }))).toEqual([]);
    const wrong = corsican.slice(0, 13) + String((Number(corsican.slice(13)) % 97) + 1).padStart(2, '0');
    const issues = validateInvoice(invoiceInput({ beneficiary: adult({ nir: wrong }) }), TODAY);
    expect(issues.map((i) => i.code)).toEqual(['nir-invalid']);
    expect(issues[0]!.message).toMatch(/NIR du bénéficiaire invalide : clé .* incorrecte/);
  });

  it('dates: not in the future, not older than 2 years, one date unless a series', () => {
    expect(codes(invoiceInput({ acts: [{ date: '2025-03-15', code: 'G' }] }))).toEqual(['acts[0].date:date-future']);
    expect(codes(invoiceInput({ acts: [{ date: '2023-03-13', code: 'G' }] }))).toEqual(['acts[0].date:date-prescribed']);
    // The boundary day itself is still billable (the tables start on 2023-11-01).
    expect(codes(invoiceInput({ acts: [{ date: '2023-11-01', code: 'G' }] }), '2025-11-01')).toEqual([]);
    expect(codes(invoiceInput({ acts: [{ date: '2023-10-31', code: 'G' }] }), '2025-11-01')).toEqual(['acts[0].date:date-prescribed']);
    expect(codes(invoiceInput({ acts: [{ date: '2025-03-10', code: 'G' }, { date: '2025-03-11', code: 'G' }] }))).toEqual(['acts:dates-multiple']);
    expect(codes(invoiceInput({ acts: [{ date: '2025-02-30', code: 'G' }] }))).toEqual(['acts[0].date:date-invalid']);
  });

  it('series: sessions after the prescription date and within its validity (1 year)', () => {
    const kine = practitioner('26');
    const base = { practitioner: kine, situation: situation(kine), series: { prescriberId: '19999000011', prescriptionDate: '2025-03-01' } };
    const sessions = ['2025-03-03', '2025-03-05', '2025-03-07'].map((date) => ({ date, code: 'AMK', coefficient: 8.5 }));
    expect(codes(invoiceInput({ ...base, acts: sessions }))).toEqual([]);
    expect(codes(invoiceInput({ ...base, acts: [{ date: '2025-02-28', code: 'AMK', coefficient: 8.5 }] }))).toEqual(['acts[0].date:series-before-prescription']);
    const old = { ...base, series: { prescriberId: '19999000011', prescriptionDate: '2024-03-01' } };
    expect(codes(invoiceInput({ ...old, acts: [{ date: '2025-03-03', code: 'AMK', coefficient: 8.5 }] }))).toEqual(['acts[0].date:series-expired']);
    expect(codes(invoiceInput({ ...base, series: { prescriberId: 'X', prescriptionDate: '2025-13-01' }, acts: sessions }))).toEqual(['series.prescriberId:prescriber-invalid', 'series.prescriptionDate:date-invalid']);
    // Daily limit of a series (AMK: 2 a day) comes from the tariff as an issue.
    const three = ['2025-03-03', '2025-03-03', '2025-03-03'].map((date) => ({ date, code: 'AMK', coefficient: 8.5 }));
    expect(codes(invoiceInput({ ...base, acts: three }))).toEqual(['acts[2].code:daily-limit']);
  });

  it('rights open at every act date; AMC valid under tiers payant AMC; AT number; orienting doctor', () => {
    const closed = adult({ rights: { start: '2023-01-01', end: '2025-03-09', ald: false, exoneration: '0' } });
    expect(codes(invoiceInput({ beneficiary: closed }))).toEqual(['beneficiary.rights:rights-closed']);
    expect(codes(invoiceInput({ context: context({ tiersPayantAmc: true }) }))).toEqual(['context.tiersPayantAmc:amc-missing']);
    expect(codes(invoiceInput({ context: context({ tiersPayantAmc: true }), beneficiary: adult({ amc: { ...AMC_01, tiersPayant: false } }) }))).toEqual(['context.tiersPayantAmc:amc-no-tiers-payant']);
    expect(codes(invoiceInput({ context: context({ tiersPayantAmc: true }), beneficiary: adult({ amc: { ...AMC_01, start: '2025-04-01' } }) }))).toEqual(['beneficiary.amc:amc-not-valid']);
    expect(codes(invoiceInput({ context: context({ nature: 'at' }) }))).toEqual(['context.atNumber:at-number-required']);
    expect(codes(invoiceInput({ context: context({ nature: 'at', atNumber: '123456789' }) }))).toEqual([]);
    expect(codes(invoiceInput({ context: context({ parcours: 'oriente' }) }))).toEqual(['context.orientingPractitioner:orienting-required']);
  });

  it('lines 1..999, excess only in secteur 2 (and never under the CSS), the situation must sign FSEs', () => {
    expect(codes(invoiceInput({ acts: [] }))).toEqual(['acts:lines-count']);
    const many = Array.from({ length: 1000 }, () => ({ date: '2025-03-10', code: 'G' }));
    expect(codes(invoiceInput({ acts: many }))).toEqual(['acts:lines-count']);
    expect(codes(invoiceInput({ acts: [{ date: '2025-03-10', code: 'C', excess: 700 }] }))).toEqual(['acts[0].excess:excess-not-allowed']);
    const s2 = practitioner('01', '2');
    expect(codes(invoiceInput({ practitioner: s2, situation: situation(s2), acts: [{ date: '2025-03-10', code: 'C', excess: 700 }] }))).toEqual([]);
    expect(codes(invoiceInput({ practitioner: s2, situation: situation(s2), beneficiary: adult({ amc: { ...AMC_01, contractType: '89' } }), acts: [{ date: '2025-03-10', code: 'C', excess: 700 }] }))).toEqual(['acts[0].excess:excess-css']);
    expect(codes(invoiceInput({ practitioner: s2, situation: situation(s2), acts: [{ date: '2025-03-10', code: 'C', excess: -5 }] }))).toEqual(['acts[0].excess:excess-invalid']);
    const p = practitioner();
    const issues = validateInvoice(invoiceInput({ situation: situation(p, false) }), TODAY);
    expect(issues.map((i) => i.code)).toEqual(['situation-cannot-sign']);
    expect(issues[0]!.message).toMatch(/n'a pas le droit de signer des FSE/);
    expect(codes(invoiceInput({ situation: { ...situation(p), billingNumber: '019999998' } }))).toEqual(['practitioner.billingNumber:situation-mismatch']);
  });

  it('degraded mode needs the beneficiary typed in, NIR first', () => {
    expect(codes(invoiceInput({ degraded: true }))).toEqual(['beneficiary.nir:degraded-nir-required']);
    expect(codes(invoiceInput({ degraded: true, beneficiary: adult({ nir: insured().nir }) }))).toEqual([]);
    expect(codes(invoiceInput({ degraded: true, beneficiary: adult({ nir: insured().nir, surname: ' ' }) }))).toEqual(['beneficiary.surname:degraded-name-required']);
  });

  it('pricing refusals become issues; every issue found is reported', () => {
    const issues = validateInvoice(invoiceInput({ acts: [{ date: '2025-03-10', code: 'AMI' }], insured: { ...insured(), nir: '1' } }), TODAY);
    expect(issues.map((i) => i.code)).toEqual(['nir-invalid', 'specialty-not-allowed']);
    expect(issues[1]!.message).toMatch(/Acte AMI non autorisé/);
  });
});

describe('buildInvoice / buildDre', () => {
  it('builds an FSE: priced, dated, destination AMO-<régime><caisse><centre>, 3 working days when the patient pays', () => {
    const input = invoiceInput({ vitaleSerial: '9900000005' });
    const { data, destination, deadline } = buildInvoice(input, { invoiceNo: 42 }, TODAY);
    expect(data).toMatchObject({ kind: 'FSE', invoiceNo: 42, createdAt: TODAY, careDate: '2025-03-10', degraded: false, vitaleSerial: '9900000005' });
    expect(data.pricing.totals).toMatchObject({ charged: 3000, amo: 1900, participation: 200 });
    expect(data.pricing.tableVersion).toBe('NGAP-2024-12-22');
    expect(destination).toBe('AMO-017519999');
    expect(destinationOf(data)).toBe(destination);
    expect(deadline).toBe('2025-03-13');
    expect('correctedFrom' in data).toBe(false);
    // The data is a copy: changing the input afterwards changes nothing.
    input.beneficiary.surname = 'AUTRE';
    expect(data.beneficiary.surname).toBe('TESTMARTIN');
  });

  it('series: the care date is the last session; corrected invoices keep their origin', () => {
    const nurse = practitioner('24');
    const input = invoiceInput({
      practitioner: nurse, situation: situation(nurse), series: { prescriberId: '19999000011', prescriptionDate: '2025-03-01' },
      acts: ['2025-03-12', '2025-03-04', '2025-03-07'].map((date) => ({ date, code: 'AMI', coefficient: 1 })),
      context: context({ tiersPayantAmo: true }),
    });
    const { data, deadline } = buildInvoice(input, { invoiceNo: 7, correctedFrom: 3 }, TODAY);
    expect(data.careDate).toBe('2025-03-12');
    expect(data.correctedFrom).toBe(3);
    expect(data.series).toEqual({ prescriberId: '19999000011', prescriptionDate: '2025-03-01' });
    expect(deadline).toBe('2025-03-24'); // 8 working days under tiers payant
    expect(workingDaysBetween(data.careDate, deadline)).toBe(8);
  });

  it('refuses with every issue, and refuses bad numbers', () => {
    try {
      buildInvoice(invoiceInput({ acts: [{ date: '2025-03-20', code: 'ZZ' }] }), { invoiceNo: 1 }, TODAY);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvoiceError);
      expect((e as InvoiceError).issues.map((i) => i.code)).toEqual(['date-future', 'unknown-code']);
      expect((e as InvoiceError).message).toMatch(/2 problèmes/);
    }
    expect(() => buildInvoice(invoiceInput(), { invoiceNo: 0 }, TODAY)).toThrow(InvoiceError);
    expect(() => buildInvoice(invoiceInput(), { invoiceNo: 1e9 }, TODAY)).toThrow(/Numéro de facture/);
    expect(() => buildInvoice(invoiceInput({ vitaleSerial: 'X' }), { invoiceNo: 1.5 }, TODAY)).toThrow(InvoiceError);
  });

  it('degraded FSE carries no Vitale serial', () => {
    const { data } = buildInvoice(invoiceInput({ degraded: true, vitaleSerial: '9900000005', beneficiary: adult({ nir: insured().nir }) }), { invoiceNo: 9 }, TODAY);
    expect(data.degraded).toBe(true);
    expect(data.vitaleSerial).toBeUndefined();
  });

  it('DRE only under tiers payant AMC with an AMC part: same lines, AMC destination, related to the FSE', () => {
    const tp = invoiceInput({ context: context({ tiersPayantAmo: true, tiersPayantAmc: true }), beneficiary: adult({ amc: AMC_01 }) });
    const fse = buildInvoice(tp, { invoiceNo: 10 }, TODAY).data;
    const dre = buildDre(fse, 11)!;
    expect(dre.data).toMatchObject({ kind: 'DRE', invoiceNo: 11, relatedNo: 10 });
    expect(dre.data.pricing).toEqual(fse.pricing);
    expect(dre.data.pricing.totals.amc).toBe(900);
    expect(dre.destination).toBe('AMC-99999901');
    expect(dre.deadline).toBe(deadlineOf(fse));
    expect(() => buildDre(fse, 10)).toThrow(InvoiceError);
    // No tiers payant AMC, or nothing for the AMC (maternité at 100 %): no DRE.
    expect(buildDre(buildInvoice(invoiceInput({ beneficiary: adult({ amc: AMC_01 }) }), { invoiceNo: 12 }, TODAY).data, 13)).toBeNull();
    const mat = invoiceInput({ context: context({ nature: 'maternite', tiersPayantAmo: true, tiersPayantAmc: true }), beneficiary: adult({ amc: AMC_01 }) });
    expect(buildDre(buildInvoice(mat, { invoiceNo: 14 }, TODAY).data, 15)).toBeNull();
    expect(buildDre(dre.data, 16)).toBeNull();
  });

  it('property: deadlines are working days, 3 or 8 after the care date', () => {
    const day = fc.date({ min: new Date('2025-01-01T00:00:00Z'), max: new Date('2026-11-30T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    fc.assert(
      fc.property(day, fc.boolean(), (care, tpAmo) => {
        const built = buildInvoice(invoiceInput({ acts: [{ date: care, code: 'G' }], context: context({ tiersPayantAmo: tpAmo }) }), { invoiceNo: 1 }, '2026-11-30');
        expect(isWorkingDay(built.deadline)).toBe(true);
        expect(workingDaysBetween(care, built.deadline)).toBe(tpAmo ? 8 : 3);
      }),
      { numRuns: 150 },
    );
  });
});
