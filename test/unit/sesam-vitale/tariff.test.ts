import { describe, expect, it } from 'vitest';
import type { ActInput, Beneficiary, CareContext, PractitionerRef } from '../../../applets/sesam-vitale/model.js';
import { TariffError } from '../../../applets/sesam-vitale/tariff/errors.js';
import { priceActs } from '../../../applets/sesam-vitale/tariff/price.js';
import { checkTableSet, loadTariffTable, TARIFF_TABLES, tableFor, TariffTableError } from '../../../applets/sesam-vitale/tariff/tables.js';
import { AMC_01, adult, context, practitioner } from './tariff-fixtures.js';

function price(acts: ActInput[], opts: { ctx?: Partial<CareContext>; ben?: Beneficiary; p?: PractitionerRef } = {}) {
  return priceActs({ acts, context: context(opts.ctx), beneficiary: opts.ben ?? adult(), practitioner: opts.p ?? practitioner() });
}

function refusal(f: () => unknown): TariffError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TariffError);
    return e as TariffError;
  }
  throw new Error('expected a TariffError');
}

describe('dated tables', () => {
  it('G is 26,50 € until 2024-12-21 and 30,00 € from 2024-12-22; tables do not overlap', () => {
    expect(tableFor('2024-12-21').ngap.G!.unit).toBe(2650);
    expect(tableFor('2024-12-22').ngap.G!.unit).toBe(3000);
    expect(tableFor('2024-12-22').version).toBe('NGAP-2024-12-22');
    expect(tableFor('2024-02-01').ngap.IFD!.unit).toBe(275);
    expect(tableFor('2024-01-27').ngap.IFD!.unit).toBe(250);
    expect(tableFor('2024-05-14').participation).toBe(100);
    expect(tableFor('2024-05-15').participation).toBe(200);
    expect(() => checkTableSet(TARIFF_TABLES)).not.toThrow();
    expect(Object.isFrozen(TARIFF_TABLES[0]!.ngap.G)).toBe(true);
  });

  it('refuses a date no table covers', () => {
    const e = refusal(() => tableFor('2023-10-31'));
    expect(e.code).toBe('no-table');
    expect(refusal(() => price([{ date: '2020-01-06', code: 'G' }])).field).toBe('acts[0].date');
  });

  it('prices each line with the table of its own date and reports the last date\'s version', () => {
    const kine = practitioner('26');
    const p = price([{ date: '2024-02-21', code: 'AMS', coefficient: 7.5 }, { date: '2024-02-22', code: 'AMS', coefficient: 7.5 }], { p: kine });
    expect(p.lines.map((l) => l.unitPrice)).toEqual([215, 221]);
    expect(p.lines.map((l) => l.base)).toEqual([1613, 1658]); // 16,125 → 16,13 and 16,575 → 16,58: half-up
    expect(p.tableVersion).toBe('NGAP-2024-02-22');
  });
});

describe('pricing: médecin', () => {
  it('G in the parcours: 70 %, participation 2 € off the AMO part, no AMC', () => {
    const p = price([{ date: '2025-03-10', code: 'G' }]);
    expect(p.lines[0]).toMatchObject({ kind: 'NGAP', unitPrice: 3000, base: 3000, charged: 3000, rate: 70, amo: 1900, amc: 0, patient: 1100 });
    expect(p.totals).toEqual({ charged: 3000, base: 3000, amo: 1900, amc: 0, patient: 1100, participation: 200 });
  });

  it('hors parcours: 30 %; ALD-related with ALD rights: 100 %; maternité and AT: 100 % without participation', () => {
    expect(price([{ date: '2025-03-10', code: 'G' }], { ctx: { parcours: 'hors' } }).lines[0]).toMatchObject({ rate: 30, amo: 700 });
    const ald = adult({ rights: { start: '2020-01-01', ald: true, exoneration: '4' } });
    expect(price([{ date: '2025-03-10', code: 'G' }], { ben: ald, ctx: { aldRelated: true } }).lines[0]).toMatchObject({ rate: 100, amo: 2800, patient: 200 });
    // ALD flag on the card but the act is not related: general rate.
    expect(price([{ date: '2025-03-10', code: 'G' }], { ben: ald }).lines[0]!.rate).toBe(70);
    expect(price([{ date: '2025-03-10', code: 'G' }], { ctx: { nature: 'maternite' } }).totals).toMatchObject({ amo: 3000, patient: 0, participation: 0 });
    expect(price([{ date: '2025-03-10', code: 'G' }], { ctx: { nature: 'at', atNumber: '123456789' } }).totals).toMatchObject({ amo: 3000, participation: 0 });
  });

  it('no participation under 18 nor under the complémentaire santé solidaire (contract 89)', () => {
    const child = adult({ birthDate: '20070311', quality: '06' });
    expect(price([{ date: '2025-03-10', code: 'G' }], { ben: child }).totals.participation).toBe(0);
    expect(price([{ date: '2025-03-11', code: 'G' }], { ben: child }).totals.participation).toBe(200);
    const css = adult({ amc: { ...AMC_01, contractType: '89' } });
    expect(price([{ date: '2025-03-10', code: 'G' }], { ben: css }).totals).toMatchObject({ participation: 0, amo: 2100, amc: 900, patient: 0 });
  });

  it('one participation per date, on the eligible line with the largest AMO part; 1 € before 2024-05-15', () => {
    const p = price([{ date: '2025-03-10', code: 'G' }, { date: '2025-03-10', code: 'DEQP003', modifiers: ['F'] }]);
    expect(p.totals.participation).toBe(200);
    expect(p.lines[1]).toMatchObject({ unitPrice: 1452, base: 3358, amo: 2351 - 200 });
    expect(price([{ date: '2024-03-01', code: 'G' }]).totals.participation).toBe(100);
  });

  it('visit with MD and IK (médecin unit 0,61 €/km)', () => {
    const p = price([{ date: '2025-03-10', code: 'VG' }, { date: '2025-03-10', code: 'MD' }, { date: '2025-03-10', code: 'IK', quantity: 12 }]);
    expect(p.lines.map((l) => l.base)).toEqual([3000, 1000, 732]);
    expect(p.totals.participation).toBe(200);
  });

  it('AMC: pays the ticket modérateur; a responsible contract does not pay the excess, contract 03 does', () => {
    const s2 = practitioner('01', '2');
    const acts = [{ date: '2025-03-10', code: 'C', excess: 1700 }];
    const resp = price(acts, { p: s2, ben: adult({ amc: AMC_01 }) });
    expect(resp.lines[0]).toMatchObject({ base: 2300, charged: 4000, amo: 1610 - 200, amc: 690, patient: 1700 + 200 });
    const nonResp = price(acts, { p: s2, ben: adult({ amc: { ...AMC_01, contractType: '03' } }) });
    expect(nonResp.lines[0]).toMatchObject({ amc: 690 + 1700, patient: 200 });
    // AMC not valid on the date: nothing from it.
    const expired = price(acts, { p: s2, ben: adult({ amc: { ...AMC_01, end: '2025-03-09' } }) });
    expect(expired.lines[0]!.amc).toBe(0);
  });
});

describe('pricing: auxiliaires médicaux', () => {
  it('infirmier: AMI × coefficient, IFD, IK at 0,35 €/km, MCI; 60 %, no participation', () => {
    const p = price(
      [{ date: '2025-03-10', code: 'AMI', coefficient: 2 }, { date: '2025-03-10', code: 'IFD' }, { date: '2025-03-10', code: 'IK', quantity: 10 }, { date: '2025-03-10', code: 'MCI' }],
      { p: practitioner('24') },
    );
    expect(p.lines.map((l) => [l.base, l.rate, l.amo])).toEqual([[630, 60, 378], [275, 60, 165], [350, 60, 210], [500, 60, 300]]);
    expect(p.totals.participation).toBe(0);
  });

  it('kiné series: one line per session, AMK 2,21 €', () => {
    const p = price([{ date: '2025-03-10', code: 'AMK', coefficient: 8.5 }, { date: '2025-03-12', code: 'AMK', coefficient: 8.5 }], { p: practitioner('26') });
    expect(p.lines.map((l) => l.base)).toEqual([1879, 1879]); // 18,785 → 18,79
    expect(p.lines[0]!.rate).toBe(60);
  });
});

describe('refusals (TariffError: code, field, French message naming the act)', () => {
  const cases: Array<[string, () => unknown, string, string, RegExp]> = [
    ['unknown code', () => price([{ date: '2025-03-10', code: 'XYZ' }]), 'unknown-code', 'acts[0].code', /Acte XYZ inconnu/],
    ['specialty', () => price([{ date: '2025-03-10', code: 'AMI' }]), 'specialty-not-allowed', 'acts[0].code', /AMI non autorisé pour la spécialité 01/],
    ['daily limit', () => price([{ date: '2025-03-10', code: 'G' }, { date: '2025-03-10', code: 'G' }]), 'daily-limit', 'acts[1].code', /G : limite de 1 par jour/],
    ['daily limit in a series', () => price(['2025-03-10', '2025-03-11', '2025-03-11', '2025-03-11'].map((date) => ({ date, code: 'AMK', coefficient: 8 })), { p: practitioner('26') }), 'daily-limit', 'acts[3].code', /2025-03-11/],
    ['coefficient range', () => price([{ date: '2025-03-10', code: 'AMI', coefficient: 31 }], { p: practitioner('24') }), 'coefficient-out-of-range', 'acts[0].coefficient', /AMI : coefficient 31/],
    ['coefficient decimals', () => price([{ date: '2025-03-10', code: 'AMI', coefficient: 1.234 }], { p: practitioner('24') }), 'coefficient-out-of-range', 'acts[0].coefficient', /2 décimales/],
    ['coefficient on G', () => price([{ date: '2025-03-10', code: 'G', coefficient: 2 }]), 'coefficient-out-of-range', 'acts[0].coefficient', /G : coefficient 2/],
    ['quantity', () => price([{ date: '2025-03-10', code: 'VG' }, { date: '2025-03-10', code: 'IK', quantity: 300 }]), 'quantity-out-of-range', 'acts[1].quantity', /IK : quantité 300/],
    ['quantity not an integer', () => price([{ date: '2025-03-10', code: 'G', quantity: 1.5 }]), 'quantity-out-of-range', 'acts[0].quantity', /G/],
    ['CCAM activity', () => price([{ date: '2025-03-10', code: 'DEQP003', activity: '4' }]), 'ccam-activity', 'acts[0].activity', /DEQP003 : activité 4/],
    ['CCAM phase', () => price([{ date: '2025-03-10', code: 'DEQP003', phase: '1' }]), 'ccam-phase', 'acts[0].phase', /DEQP003 : phase 1/],
    ['CCAM modifier', () => price([{ date: '2025-03-10', code: 'DEMP002', modifiers: ['P'] }], { p: practitioner('03') }), 'ccam-modifier', 'acts[0].modifiers', /DEMP002 : modificateur P/],
    ['CCAM for the wrong specialty', () => price([{ date: '2025-03-10', code: 'DEQP005' }]), 'specialty-not-allowed', 'acts[0].code', /DEQP005/],
    ['NGAP modifier not allowed', () => price([{ date: '2025-03-10', code: 'APC', modifiers: ['F'] }], { p: practitioner('03') }), 'modifier-not-allowed', 'acts[0].modifiers', /APC : modificateur F/],
    ['NGAP with an activity', () => price([{ date: '2025-03-10', code: 'G', activity: '1' }]), 'ngap-activity', 'acts[0].activity', /G/],
    ['majoration without its act', () => price([{ date: '2025-03-10', code: 'MD' }]), 'requires-act', 'acts[0].code', /MD : ne se facture qu'avec VG/],
    ['IFD without a nursing act', () => price([{ date: '2025-03-10', code: 'IFD' }], { p: practitioner('24') }), 'requires-act', 'acts[0].code', /IFD/],
    ['negative excess', () => price([{ date: '2025-03-10', code: 'G', excess: -1 }]), 'excess-invalid', 'acts[0].excess', /G : le dépassement/],
    ['no act', () => price([]), 'no-acts', 'acts', /Aucun acte/],
    ['invalid date', () => price([{ date: '2025-02-30', code: 'G' }]), 'date-invalid', 'acts[0].date', /Ligne 1/],
  ];
  for (const [name, f, code, field, message] of cases) {
    it(name, () => {
      const e = refusal(f);
      expect(e.code).toBe(code);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }
});

describe('loadTariffTable: official tables plug in as JSON', () => {
  const json = () => JSON.parse(JSON.stringify(tableFor('2025-01-01'))) as Record<string, unknown> & { ngap: Record<string, Record<string, unknown>>; ccam: Record<string, Record<string, unknown>>; modifiers: Record<string, unknown> };

  it('loads a table of the same shape and prices with it, percentage modifiers included', () => {
    const t = json();
    t.version = 'NGAP-2026-01-01';
    t.from = '2026-01-01';
    t.modifiers.K = { label: 'Majoration de 20 % (test)', percent: 20 };
    t.ccam.DEQP003!.modifiers = ['F', 'K'];
    const table = loadTariffTable(t);
    const tables = [...TARIFF_TABLES.slice(0, -1), { ...TARIFF_TABLES[TARIFF_TABLES.length - 1]!, to: '2025-12-31' }, table];
    expect(() => checkTableSet(tables)).not.toThrow();
    const p = priceActs({ acts: [{ date: '2026-01-05', code: 'DEQP003', modifiers: ['K', 'F'] }], context: context(), beneficiary: adult(), practitioner: practitioner() }, tables);
    expect(p.lines[0]!.base).toBe(1452 + 290 + 1906); // 20 % of 14,52 € = 2,904 → 2,90
    expect(p.tableVersion).toBe('NGAP-2026-01-01');
  });

  it('refuses malformed tables naming the field', () => {
    const bad: Array<[(t: ReturnType<typeof json>) => void, RegExp]> = [
      [(t) => { t.extra = 1; }, /table\.extra : champ inconnu/],
      [(t) => { t.ngap.G!.unit = 30.5; }, /ngap\.G\.unit : montant en centimes/],
      [(t) => { t.ngap.G!.unit = -1; }, /ngap\.G\.unit/],
      [(t) => { t.ngap.G!.modifiers = ['Z']; }, /ngap\.G\.modifiers : modificateur Z absent/],
      [(t) => { t.ngap.MD!.requires = ['VX']; }, /ngap\.MD\.requires : code VX absent/],
      [(t) => { t.ngap.G!.professions = ['1']; }, /ngap\.G\.professions\[0\]/],
      [(t) => { t.ccam.DEQP003!.activities = ['4']; }, /ccam\.DEQP003 : activité 1/],
      [(t) => { t.from = '2025-02-30'; }, /from : date/],
      [(t) => { t.to = '2024-01-01'; }, /to : antérieure à from/],
      [(t) => { t.modifiers.F = { label: 'x', amount: 1, percent: 2 }; }, /modifiers\.F : exactement un/],
      [(t) => { t.ngap.AMI!.coefficient = { min: 3, max: 2 }; }, /ngap\.AMI\.coefficient : min > max/],
      [(t) => { t.ngap.g = t.ngap.G!; }, /ngap\.g : code invalide/],
    ];
    for (const [mutate, re] of bad) {
      const t = json();
      mutate(t);
      expect(() => loadTariffTable(t)).toThrow(TariffTableError);
      expect(() => loadTariffTable(t)).toThrow(re);
    }
    expect(() => loadTariffTable(null)).toThrow(/objet attendu/);
  });

  it('refuses overlapping tables', () => {
    expect(() => checkTableSet([TARIFF_TABLES[1]!, TARIFF_TABLES[0]!])).toThrow(/chevauche/);
    expect(() => checkTableSet([{ ...TARIFF_TABLES[0]!, to: '2024-02-01' }, TARIFF_TABLES[1]!])).toThrow(/chevauche/);
  });
});
