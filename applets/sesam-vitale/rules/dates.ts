/**
 * Calendar rules on ISO dates (`YYYY-MM-DD`): validity, the AAMMJJ form of the formats, French public
 * holidays and working days (deadlines: 3 or 8 working days), ages (participation forfaitaire).
 * All arithmetic is on UTC day numbers so no time zone or DST can move a date.
 */
import type { IsoDate } from '../model.js';

const DAY_MS = 86_400_000;
const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isIsoDate(s: unknown): s is IsoDate {
  if (typeof s !== 'string') return false;
  const m = ISO.exec(s);
  if (!m) return false;
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

function assertIso(s: string, what = 'date'): void {
  if (!isIsoDate(s)) throw new RangeError(`${what} ${JSON.stringify(s)} n'est pas une date AAAA-MM-JJ valide`);
}

/** Day number since 1970-01-01 (UTC). */
export function dayNumber(iso: IsoDate): number {
  assertIso(iso);
  return Math.round(Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10))) / DAY_MS);
}

export function fromDayNumber(n: number): IsoDate {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(iso: IsoDate, n: number): IsoDate {
  return fromDayNumber(dayNumber(iso) + n);
}

/** Same day `n` years later (29 Feb falls back to 28 Feb). */
export function addYears(iso: IsoDate, n: number): IsoDate {
  assertIso(iso);
  const y = Number(iso.slice(0, 4)) + n, mo = Number(iso.slice(5, 7));
  const d = Math.min(Number(iso.slice(8, 10)), daysInMonth(y, mo));
  return `${String(y).padStart(4, '0')}-${iso.slice(5, 7)}-${String(d).padStart(2, '0')}`;
}

export function toAammjj(iso: IsoDate): string {
  assertIso(iso);
  return iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10);
}

/**
 * AAMMJJ → ISO. The century comes from `hint`: a number is the century's leading digits (20 → 20xx);
 * an ISO date picks the century putting the year nearest to it (care dates near today). Default 20xx.
 */
export function fromAammjj(s: string, hint: number | IsoDate = 20): IsoDate {
  if (typeof s !== 'string' || !/^[0-9]{6}$/.test(s)) throw new RangeError(`date AAMMJJ ${JSON.stringify(s)} malformée`);
  const yy = Number(s.slice(0, 2));
  let year: number;
  if (typeof hint === 'number') {
    if (!Number.isInteger(hint) || hint < 0 || hint > 99) throw new RangeError(`siècle ${hint} invalide`);
    year = hint * 100 + yy;
  } else {
    assertIso(hint, 'date de référence');
    const ref = Number(hint.slice(0, 4));
    const base = Math.floor(ref / 100) * 100 + yy;
    year = [base - 100, base, base + 100].reduce((best, y) => (Math.abs(y - ref) < Math.abs(best - ref) ? y : best));
  }
  const iso = `${String(year).padStart(4, '0')}-${s.slice(2, 4)}-${s.slice(4, 6)}`;
  assertIso(iso);
  return iso;
}

export function compareIso(a: IsoDate, b: IsoDate): -1 | 0 | 1 {
  assertIso(a);
  assertIso(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Easter Sunday (Gregorian, anonymous algorithm of Meeus/Jones/Butcher). */
export function easterSunday(year: number): IsoDate {
  const a = year % 19, b = Math.floor(year / 100), c = year % 100;
  const d = Math.floor(b / 4), e = b % 4, f = Math.floor((b + 8) / 25), g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4), k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const holidayCache = new Map<number, IsoDate[]>();

/** The 11 national public holidays of metropolitan France (Alsace-Moselle's extra days are not counted). */
export function frenchHolidays(year: number): IsoDate[] {
  if (!Number.isInteger(year) || year < 1583 || year > 9999) throw new RangeError(`année ${year} hors du calendrier grégorien`);
  const cached = holidayCache.get(year);
  if (cached) return [...cached];
  const y = String(year).padStart(4, '0');
  const easter = easterSunday(year);
  const list = [
    `${y}-01-01`, addDays(easter, 1), `${y}-05-01`, `${y}-05-08`, addDays(easter, 39), addDays(easter, 50),
    `${y}-07-14`, `${y}-08-15`, `${y}-11-01`, `${y}-11-11`, `${y}-12-25`,
  ].sort();
  holidayCache.set(year, list);
  return [...list];
}

export function isWorkingDay(iso: IsoDate): boolean {
  const weekday = new Date(dayNumber(iso) * DAY_MS).getUTCDay();
  if (weekday === 0 || weekday === 6) return false;
  return !frenchHolidays(Number(iso.slice(0, 4))).includes(iso);
}

/** The n-th working day after `date` (n ≥ 0; n = 0 returns `date` itself). */
export function addWorkingDays(date: IsoDate, n: number): IsoDate {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`nombre de jours ouvrés ${n} invalide`);
  let day = dayNumber(date);
  for (let left = n; left > 0; ) {
    day += 1;
    if (isWorkingDay(fromDayNumber(day))) left -= 1;
  }
  return fromDayNumber(day);
}

/** Working days d with a < d ≤ b (negative when b < a): workingDaysBetween(a, addWorkingDays(a, n)) === n. */
export function workingDaysBetween(a: IsoDate, b: IsoDate): number {
  const from = dayNumber(a), to = dayNumber(b);
  if (to < from) return -workingDaysBetween(b, a);
  let count = 0;
  for (let day = from + 1; day <= to; day++) if (isWorkingDay(fromDayNumber(day))) count++;
  return count;
}

/**
 * Age in whole years at `isoDate` of someone born on `birth` (AAAAMMJJ as on the Vitale card).
 * Lunar dates (unknown parts, written 00 or out of range): an unknown month counts as 1 July (mid-year,
 * so the error is at most six months either way) and an unknown day as the 1st of the month.
 */
export function ageAt(birth: string, isoDate: IsoDate): number {
  if (typeof birth !== 'string' || !/^[0-9]{8}$/.test(birth)) throw new RangeError(`date de naissance ${JSON.stringify(birth)} malformée (AAAAMMJJ attendu)`);
  assertIso(isoDate);
  const year = Number(birth.slice(0, 4));
  let month = Number(birth.slice(4, 6));
  let day = Number(birth.slice(6, 8));
  if (month < 1 || month > 12) {
    month = 7;
    day = 1;
  } else if (day < 1 || day > daysInMonth(year, month)) {
    day = 1;
  }
  const y = Number(isoDate.slice(0, 4)), m = Number(isoDate.slice(5, 7)), d = Number(isoDate.slice(8, 10));
  const age = y - year - (m < month || (m === month && d < day) ? 1 : 0);
  if (age < 0) throw new RangeError(`date de naissance ${birth} postérieure au ${isoDate}`);
  return age;
}
