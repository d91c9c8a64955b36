import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addDays, addWorkingDays, ageAt, compareIso, easterSunday, frenchHolidays, fromAammjj, isIsoDate, isWorkingDay, toAammjj, workingDaysBetween,
} from '../../../applets/sesam-vitale/rules/dates.js';

const isoDate = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2060-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

describe('ISO and AAMMJJ dates', () => {
  it('accepts real calendar dates only', () => {
    expect(isIsoDate('2024-02-29')).toBe(true);
    expect(isIsoDate('2023-02-29')).toBe(false);
    expect(isIsoDate('2024-13-01')).toBe(false);
    expect(isIsoDate('2024-1-01')).toBe(false);
    expect(isIsoDate(20240101)).toBe(false);
  });

  it('converts to and from AAMMJJ, the century from a number or a reference date', () => {
    expect(toAammjj('2025-03-09')).toBe('250309');
    expect(fromAammjj('250309')).toBe('2025-03-09');
    expect(fromAammjj('850512', 19)).toBe('1985-05-12');
    expect(fromAammjj('991231', '2026-11-30')).toBe('1999-12-31');
    expect(fromAammjj('010101', '2099-06-01')).toBe('2101-01-01');
    expect(() => fromAammjj('250230')).toThrow(RangeError);
    expect(() => fromAammjj('2503')).toThrow(RangeError);
    expect(() => toAammjj('2025-02-30')).toThrow(RangeError);
  });

  it('property: AAMMJJ round trip with the century hint', () => {
    fc.assert(
      fc.property(isoDate, (d) => {
        expect(fromAammjj(toAammjj(d), Number(d.slice(0, 2)))).toBe(d);
      }),
    );
  });

  it('compares', () => {
    expect(compareIso('2024-01-02', '2024-01-10')).toBe(-1);
    expect(compareIso('2024-01-10', '2024-01-10')).toBe(0);
    expect(compareIso('2025-01-01', '2024-12-31')).toBe(1);
  });
});

describe('French public holidays', () => {
  it('computes Easter Sunday for several years (published dates)', () => {
    const known: Record<number, string> = {
      2000: '2000-04-23', 2019: '2019-04-21', 2023: '2023-04-09', 2024: '2024-03-31', 2025: '2025-04-20',
      2026: '2026-04-05', 2027: '2027-03-28', 2038: '2038-04-25', 2285: '2285-03-22',
    };
    for (const [y, d] of Object.entries(known)) expect(easterSunday(Number(y))).toBe(d);
  });

  it('lists the 11 holidays with the Easter-based ones', () => {
    expect(frenchHolidays(2024)).toEqual([
      '2024-01-01', '2024-04-01', '2024-05-01', '2024-05-08', '2024-05-09', '2024-05-20',
      '2024-07-14', '2024-08-15', '2024-11-01', '2024-11-11', '2024-12-25',
    ]);
    const h2025 = frenchHolidays(2025);
    expect(h2025).toHaveLength(11);
    expect(h2025).toEqual(expect.arrayContaining(['2025-04-21', '2025-05-29', '2025-06-09']));
    // 2008: Ascension fell on 1 May; the list keeps both entries (same day).
    expect(frenchHolidays(2008).filter((d) => d === '2008-05-01')).toHaveLength(2);
    expect(frenchHolidays(2026)).toEqual(expect.arrayContaining(['2026-04-06', '2026-05-14', '2026-05-25']));
  });
});

describe('working days', () => {
  it('skips weekends and holidays', () => {
    // Fri 20 Dec 2024 + 3: Mon 23, Tue 24, (Wed 25 Christmas) Thu 26.
    expect(addWorkingDays('2024-12-20', 3)).toBe('2024-12-26');
    // Thu 8 May 2025 is a holiday: from Wed 7 May, +1 is Fri 9 May.
    expect(addWorkingDays('2025-05-07', 1)).toBe('2025-05-09');
    // Care on Saturday 19 Apr 2025, + 8: Easter Monday 21 Apr and 1 May skipped.
    expect(addWorkingDays('2025-04-19', 8)).toBe('2025-05-02');
    expect(addWorkingDays('2025-04-19', 0)).toBe('2025-04-19');
    expect(workingDaysBetween('2024-12-20', '2024-12-26')).toBe(3);
    expect(workingDaysBetween('2024-12-26', '2024-12-20')).toBe(-3);
    expect(isWorkingDay('2025-07-14')).toBe(false);
    expect(() => addWorkingDays('2025-01-01', -1)).toThrow(RangeError);
  });

  it('property: deadlines are working days, 3 or 8 working days after the care date', () => {
    fc.assert(
      fc.property(isoDate, fc.constantFrom(3, 8), (care, n) => {
        const deadline = addWorkingDays(care, n);
        expect(isWorkingDay(deadline)).toBe(true);
        const weekday = new Date(`${deadline}T00:00:00Z`).getUTCDay();
        expect(weekday === 0 || weekday === 6).toBe(false);
        expect(frenchHolidays(Number(deadline.slice(0, 4)))).not.toContain(deadline);
        expect(workingDaysBetween(care, deadline)).toBe(n);
        // Nothing earlier would do: the day before the deadline is one working day short.
        expect(workingDaysBetween(care, addDays(deadline, -1))).toBe(n - 1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ageAt', () => {
  it('counts whole years, the birthday included', () => {
    expect(ageAt('20070310', '2025-03-09')).toBe(17);
    expect(ageAt('20070310', '2025-03-10')).toBe(18);
    expect(ageAt('20080229', '2026-02-28')).toBe(17);
    expect(ageAt('20080229', '2026-03-01')).toBe(18);
  });

  it('lunar dates: unknown month counts as 1 July, unknown day as the 1st', () => {
    expect(ageAt('19480000', '2025-06-30')).toBe(76);
    expect(ageAt('19480000', '2025-07-01')).toBe(77);
    expect(ageAt('20070300', '2025-03-01')).toBe(18);
    expect(ageAt('20070300', '2025-02-28')).toBe(17);
    expect(() => ageAt('2007031', '2025-01-01')).toThrow(RangeError);
    expect(() => ageAt('20300101', '2025-01-01')).toThrow(RangeError);
  });
});
