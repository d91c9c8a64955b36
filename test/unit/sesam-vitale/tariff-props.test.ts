import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ActInput, Amc, Beneficiary, CareContext, Pricing } from '../../../applets/sesam-vitale/model.js';
import { TariffError } from '../../../applets/sesam-vitale/tariff/errors.js';
import { priceActs } from '../../../applets/sesam-vitale/tariff/price.js';
import { tableFor } from '../../../applets/sesam-vitale/tariff/tables.js';
import { adult, AMC_01, context, practitioner } from './tariff-fixtures.js';

const date = fc.date({ min: new Date('2023-11-01T00:00:00Z'), max: new Date('2026-11-30T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const coef = (min: number, max: number) => fc.integer({ min: min * 10, max: max * 10 }).map((n) => n / 10);

/** Valid groups of acts for one date, per specialty (majorations with their act). */
type Group = Array<Omit<ActInput, 'date'>>;
const group = (g: Group): fc.Arbitrary<Group> => fc.constant(g);
const GROUPS: Record<string, fc.Arbitrary<Group>> = {
  '01': fc.oneof(
    group([{ code: 'G' }]),
    group([{ code: 'G' }, { code: 'MCG' }]),
    fc.constantFrom<string[]>([], ['F']).map((modifiers): Group => [{ code: 'GS', modifiers }]),
    fc.integer({ min: 1, max: 299 }).map((km): Group => [{ code: 'VG' }, { code: 'MD' }, { code: 'IK', quantity: km }]),
    fc.constantFrom<string[]>([], ['F'], ['U'], ['P', 'F'], ['S']).map((modifiers): Group => [{ code: 'G' }, { code: 'DEQP003', modifiers }]),
  ),
  '03': fc.oneof(group([{ code: 'CS' }]), group([{ code: 'APC' }, { code: 'DEQP003' }]), group([{ code: 'DEQP005' }]), fc.constantFrom<string[]>([], ['F'], ['U']).map((modifiers): Group => [{ code: 'DEMP002', modifiers }])),
  '24': fc.tuple(coef(0.5, 30), fc.boolean(), fc.integer({ min: 0, max: 40 }), fc.boolean()).map(([c, ifd, km, mci]): Group => [
    { code: 'AMI', coefficient: c },
    ...(ifd ? [{ code: 'IFD' }, ...(km > 0 ? [{ code: 'IK', quantity: km }] : [])] : []),
    ...(mci ? [{ code: 'MCI' }] : []),
  ]),
  '26': fc.tuple(fc.constantFrom('AMK', 'AMS'), coef(1, 30)).map(([code, c]): Group => [{ code, coefficient: c }]),
};

const amc = (start: string): fc.Arbitrary<Amc | undefined> =>
  fc.oneof(fc.constant(undefined), fc.constantFrom('01', '02', '03', '89').map((contractType) => ({ ...AMC_01, contractType, start })), fc.constant({ ...AMC_01, end: '2024-06-30' }));

const beneficiary: fc.Arbitrary<Beneficiary> = fc
  .tuple(fc.integer({ min: 1930, max: 2022 }) /* born before the earliest care date */, fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 28 }), fc.boolean(), amc('2023-01-01'))
  .map(([y, m, d, ald, a]) => adult({
    birthDate: `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`,
    rights: { start: '2020-01-01', ald, exoneration: ald ? '4' : '0' },
    ...(a ? { amc: a } : {}),
  }));

const ctx: fc.Arbitrary<CareContext> = fc
  .tuple(fc.constantFrom('maladie', 'maladie', 'maternite', 'at') as fc.Arbitrary<CareContext['nature']>, fc.boolean(), fc.constantFrom('traitant', 'oriente', 'hors', 'exempt') as fc.Arbitrary<CareContext['parcours']>)
  .map(([nature, aldRelated, parcours]) => context({ nature, aldRelated, parcours, ...(nature === 'at' ? { atNumber: '123456789' } : {}) }));

const scenario = fc
  .constantFrom('01', '03', '24', '26')
  .chain((spec) =>
    fc.record({
      spec: fc.constant(spec),
      convention: fc.constantFrom('1', '2'),
      days: fc.uniqueArray(fc.tuple(date, GROUPS[spec]!), { minLength: 1, maxLength: 4, selector: ([d]) => d }),
      excess: fc.integer({ min: 0, max: 5000 }),
      ctx,
      ben: beneficiary,
    }),
  )
  .map((s) => {
    const acts: ActInput[] = s.days.flatMap(([d, group]) => group.map((a) => ({ ...a, date: d })));
    if (s.convention === '2' && s.excess > 0) acts[0]!.excess = s.excess;
    return { ...s, acts, practitioner: practitioner(s.spec, s.convention) };
  });

function invariants(p: Pricing): void {
  const keys = ['charged', 'base', 'amo', 'amc', 'patient'] as const;
  for (const l of p.lines) {
    for (const k of keys) {
      expect(Number.isSafeInteger(l[k])).toBe(true);
      expect(l[k]).toBeGreaterThanOrEqual(0);
    }
    expect(l.amo + l.amc + l.patient).toBe(l.charged);
    expect([30, 60, 70, 100]).toContain(l.rate);
  }
  for (const k of keys) expect(p.totals[k]).toBe(p.lines.reduce((s, l) => s + l[k], 0));
  expect(p.totals.amo + p.totals.amc + p.totals.patient).toBe(p.totals.charged);
  expect(Number.isSafeInteger(p.totals.participation) && p.totals.participation >= 0).toBe(true);
}

describe('tariff properties', () => {
  it('amo + amc + patient == charged on every line and in totals; amounts are non-negative integers', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        invariants(priceActs({ acts: s.acts, context: s.ctx, beneficiary: s.ben, practitioner: s.practitioner }));
      }),
      { numRuns: 400 },
    );
  });

  it('rate is 100 % for ALD-related acts (with ALD rights), maternité and AT', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const p = priceActs({ acts: s.acts, context: s.ctx, beneficiary: s.ben, practitioner: s.practitioner });
        const full = s.ctx.nature !== 'maladie' || (s.ctx.aldRelated && s.ben.rights.ald);
        for (const l of p.lines) {
          if (full) expect(l.rate).toBe(100);
          else expect(l.rate).toBe(s.spec === '24' || s.spec === '26' ? 60 : s.ctx.parcours === 'hors' ? 30 : 70);
        }
        if (s.ctx.nature !== 'maladie') expect(p.totals.participation).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('the AMC never pays the participation: its part is the same with or without it', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const input = { acts: s.acts, context: s.ctx, practitioner: s.practitioner };
        const grownUp = priceActs({ ...input, beneficiary: { ...s.ben, birthDate: '19600101' } });
        const child = priceActs({ ...input, beneficiary: { ...s.ben, birthDate: '20200101' } });
        expect(child.totals.participation).toBe(0);
        expect(grownUp.totals.amc).toBe(child.totals.amc);
        expect(child.totals.amo - grownUp.totals.amo).toBe(grownUp.totals.participation);
        expect(grownUp.totals.patient - child.totals.patient).toBe(grownUp.totals.participation);
        // And the AMC part is exactly the ticket modérateur (+ the excess for a contract 03).
        grownUp.lines.forEach((l) => {
          const a = s.ben.amc && s.ben.amc.start <= l.date && l.date <= s.ben.amc.end ? s.ben.amc : undefined;
          const tm = l.base - Math.floor((2 * l.base * l.rate + 100) / 200);
          expect(l.amc).toBe(a ? tm + (a.contractType === '03' ? l.charged - l.base : 0) : 0);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a daily limit is never exceeded by an accepted series; any refusal is a TariffError', () => {
    const CODES: Record<string, string[]> = { '01': ['G', 'VG', 'MD', 'MCG', 'DEQP003'], '24': ['AMI', 'AMI', 'IFD', 'MCI'], '26': ['AMK', 'AMS'] };
    const series = fc.constantFrom('01', '24', '26').chain((spec) =>
      fc.tuple(
        fc.constant(spec),
        fc.array(fc.tuple(fc.constantFrom('2025-03-10', '2025-03-11', '2025-03-12'), fc.constantFrom(...CODES[spec]!), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 8 }),
      ),
    );
    let accepted = 0, refused = 0;
    fc.assert(
      fc.property(series, ([spec, raw]) => {
        const acts: ActInput[] = raw.map(([d, code, q]) => ({ date: d, code, ...(code === 'AMK' || code === 'AMS' || code === 'AMI' ? { coefficient: 2 } : {}), ...(q === 8 ? { quantity: 2 } : {}) }));
        let p: Pricing;
        try {
          p = priceActs({ acts, context: context(), beneficiary: adult(), practitioner: practitioner(spec) });
        } catch (e) {
          expect(e).toBeInstanceOf(TariffError);
          refused++;
          return;
        }
        accepted++;
        invariants(p);
        const counts = new Map<string, number>();
        for (const l of p.lines) counts.set(`${l.date} ${l.code}`, (counts.get(`${l.date} ${l.code}`) ?? 0) + l.quantity);
        for (const [key, n] of counts) {
          const [d, code] = key.split(' ') as [string, string];
          const t = tableFor(d);
          const max = (t.ngap[code] ?? t.ccam[code])?.maxPerDay;
          if (max !== undefined) expect(n).toBeLessThanOrEqual(max);
        }
      }),
      { numRuns: 600 },
    );
    // Both sides of the property were exercised, not only refusals.
    expect(accepted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
  });
});
