/**
 * NIR (numéro d'inscription au répertoire, "numéro de sécurité sociale"): 13 characters and a
 * 2-digit key, key = 97 − (N mod 97). Corsica's départements 2A and 2B are not numbers: for the
 * computation only, 2A counts as 19 and 2B as 18 (the published rule).
 *
 * This copy serves the emulator and its tests; applets carry their own (they cannot import it).
 */

/** sex, year, month, département (2 digits, or 2A/2B), commune or country (3), order (3). */
const NIR13 = /^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}$/;
/** 1/2 = man/woman; 3/4 = foreigners being registered; 7/8 = temporary numbers (NIA). */
const SEX_DIGITS = new Set(['1', '2', '3', '4', '7', '8']);

function numericValue(nir13: string): number {
  // Safe as a Number: 13 digits stay far below 2^53.
  const dept = nir13.slice(5, 7);
  const digits = dept === '2A' ? `${nir13.slice(0, 5)}19${nir13.slice(7)}` : dept === '2B' ? `${nir13.slice(0, 5)}18${nir13.slice(7)}` : nir13;
  return Number(digits);
}

function formatProblem(nir13: string): string | undefined {
  if (nir13.length !== 13) return `the NIR without key must be 13 characters, got ${nir13.length}`;
  if (!NIR13.test(nir13)) return `${JSON.stringify(nir13)} is not digits (with 2A or 2B as département)`;
  if (!SEX_DIGITS.has(nir13[0]!)) return `first digit ${nir13[0]!} is not a sex code (1, 2, 3, 4, 7 or 8)`;
  return undefined;
}

/** The 2-digit key of a 13-character NIR. Throws RangeError saying what is wrong with a malformed one. */
export function nirKey(nir13: string): string {
  const problem = formatProblem(nir13);
  if (problem) throw new RangeError(`nirKey: ${problem}`);
  return String(97 - (numericValue(nir13) % 97)).padStart(2, '0');
}

export interface NirCheck {
  ok: boolean;
  /** Present when !ok: what is wrong, in words. */
  reason?: string;
}

/** Check a 15-character NIR (13 + key). Never throws. */
export function checkNir(nir15: string): NirCheck {
  if (typeof nir15 !== 'string') return { ok: false, reason: 'the NIR must be a string' };
  if (nir15.length !== 15) return { ok: false, reason: `a NIR with its key is 15 characters, got ${nir15.length}` };
  const body = nir15.slice(0, 13);
  const key = nir15.slice(13);
  const problem = formatProblem(body);
  if (problem) return { ok: false, reason: problem };
  if (!/^[0-9]{2}$/.test(key)) return { ok: false, reason: `key ${JSON.stringify(key)} is not 2 digits` };
  const expected = nirKey(body);
  if (key !== expected) return { ok: false, reason: `key ${key} does not match ${body} (expected ${expected})` };
  return { ok: true };
}
