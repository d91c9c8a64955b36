/**
 * NIR (numéro d'inscription au répertoire): 13 characters and a 2-digit key, key = 97 − (N mod 97).
 * Corsica's départements 2A and 2B are not numbers: for the computation only, 2A counts as 19 and
 * 2B as 18 (the published rule). The applet cannot import the emulator's copy
 * (emulator/cards/models/vitale/nir.ts), so this one must agree with it: test/unit/sesam-vitale/nir.test.ts
 * checks that on generated NIRs. Messages are French because they reach the practitioner's screen.
 */

/** sex, year, month, département (2 digits, or 2A/2B), commune or country (3), order (3). */
const NIR13 = /^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}$/;
/** 1/2 = man/woman; 3/4 = foreigners being registered; 7/8 = temporary numbers (NIA). */
const SEX_DIGITS = new Set(['1', '2', '3', '4', '7', '8']);

function numericValue(nir13: string): number {
  // 13 digits stay far below 2^53, so a Number is exact.
  const dept = nir13.slice(5, 7);
  const digits = dept === '2A' ? `${nir13.slice(0, 5)}19${nir13.slice(7)}` : dept === '2B' ? `${nir13.slice(0, 5)}18${nir13.slice(7)}` : nir13;
  return Number(digits);
}

function formatProblem(nir13: string): string | undefined {
  if (nir13.length !== 13) return `le NIR sans clé doit compter 13 caractères (${nir13.length} reçus)`;
  if (!NIR13.test(nir13)) return 'le NIR doit être composé de chiffres (département 2A ou 2B admis)';
  if (!SEX_DIGITS.has(nir13[0]!)) return `le premier chiffre ${nir13[0]!} n'est pas un code sexe (1, 2, 3, 4, 7 ou 8)`;
  return undefined;
}

/** The 2-digit key of a 13-character NIR. Throws RangeError on a malformed one. */
export function nirKey(nir13: string): string {
  if (typeof nir13 !== 'string') throw new RangeError('nirKey: le NIR doit être une chaîne');
  const problem = formatProblem(nir13);
  if (problem) throw new RangeError(`nirKey: ${problem}`);
  return String(97 - (numericValue(nir13) % 97)).padStart(2, '0');
}

/** Check a 15-character NIR (13 + key). Never throws. */
export function checkNir(nir15: string): { ok: true } | { ok: false; reason: string } {
  if (typeof nir15 !== 'string') return { ok: false, reason: 'le NIR doit être une chaîne' };
  if (nir15.length !== 15) return { ok: false, reason: `un NIR avec sa clé compte 15 caractères (${nir15.length} reçus)` };
  const body = nir15.slice(0, 13);
  const key = nir15.slice(13);
  const problem = formatProblem(body);
  if (problem) return { ok: false, reason: problem };
  if (!/^[0-9]{2}$/.test(key)) return { ok: false, reason: 'la clé du NIR doit compter 2 chiffres' };
  const expected = nirKey(body);
  // The expected key is not a secret but saying it would invite typing it in instead of re-reading the card.
  if (key !== expected) return { ok: false, reason: `clé ${key} incorrecte pour le NIR ${body}` };
  return { ok: true };
}
