import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkNir, nirKey } from '../../../applets/sesam-vitale/rules/nir.js';
import * as emulator from '../../../emulator/cards/models/vitale/nir.js';

const digit = fc.constantFrom(...'0123456789'.split(''));
const digits = (n: number): fc.Arbitrary<string> => fc.array(digit, { minLength: n, maxLength: n }).map((a) => a.join(''));
/** A well-formed 13-character NIR body, Corsica included. */
const nir13 = fc
  .tuple(fc.constantFrom('1', '2', '3', '4', '7', '8'), digits(4), fc.oneof(digits(2), fc.constantFrom('2A', '2B')), digits(6))
  .map(([s, ym, dept, rest]) => s + ym + dept + rest);

describe('nirKey / checkNir', () => {
  it('computes 97 − (N mod 97) on a hand-checked NIR', () => {
    // Independent computation with BigInt.
    expect(nirKey('1850575123456')).toBe('73');
    expect(Number(1850575123456n % 97n)).toBe(97 - Number(nirKey('1850575123456')));
    expect(checkNir(`1850575123456${nirKey('1850575123456')}`)).toEqual({ ok: true });
  });

  it('replaces 2A by 19 and 2B by 18 for the computation only', () => {
    expect(nirKey('269052A001001')).toBe(nirKey('2690519001001'));
    expect(nirKey('269052B001001')).toBe(nirKey('2690518001001'));
    expect(nirKey('269052A001001')).not.toBe(nirKey('269052B001001'));
    const key = nirKey('269052A001001');
    expect(checkNir(`269052A001001${key}`).ok).toBe(true);
    // The literal 2A is kept in the NIR: the same digits with 19 are another person.
    expect(checkNir(`269052a001001${key}`).ok).toBe(false);
  });

  it('refuses malformed input with a RangeError (nirKey) or a French reason (checkNir)', () => {
    for (const bad of ['', '185057512345', '18505751234567', '5850575123456', '18505X5123456', '185052C123456']) {
      expect(() => nirKey(bad)).toThrow(RangeError);
    }
    const r = checkNir('18505751234');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/15 caractères/);
    const wrongKey = checkNir('185057512345600');
    expect(wrongKey.ok).toBe(false);
    if (!wrongKey.ok) expect(wrongKey.reason).toMatch(/clé 00 incorrecte/);
    expect(checkNir(42 as unknown as string).ok).toBe(false);
  });

  it('property: a NIR with its computed key checks ok, the key is 2 digits in 01..97', () => {
    fc.assert(
      fc.property(nir13, (body) => {
        const key = nirKey(body);
        expect(key).toMatch(/^[0-9]{2}$/);
        expect(Number(key)).toBeGreaterThanOrEqual(1);
        expect(Number(key)).toBeLessThanOrEqual(97);
        expect(checkNir(body + key)).toEqual({ ok: true });
      }),
      { numRuns: 500 },
    );
  });

  it('property: any single-digit change (body or key) is caught', () => {
    fc.assert(
      fc.property(nir13, fc.nat(14), fc.integer({ min: 1, max: 9 }), (body, pos, delta) => {
        const nir = body + nirKey(body);
        const c = nir[pos]!;
        fc.pre(c >= '0' && c <= '9');
        const changed = nir.slice(0, pos) + String((Number(c) + delta) % 10) + nir.slice(pos + 1);
        expect(checkNir(changed).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: agrees with the emulator copy on generated NIRs, valid or not', () => {
    const anyNir = fc.oneof(
      nir13.map((b) => b + nirKey(b)),
      fc.tuple(nir13, digits(2)).map(([b, k]) => b + k),
      fc.string({ minLength: 13, maxLength: 15, unit: fc.constantFrom(...'0123456789AB'.split('')) }),
    );
    fc.assert(
      fc.property(anyNir, (nir) => {
        expect(checkNir(nir).ok).toBe(emulator.checkNir(nir).ok);
        const body = nir.slice(0, 13);
        let mine: string | Error, theirs: string | Error;
        try { mine = nirKey(body); } catch (e) { mine = e as Error; }
        try { theirs = emulator.nirKey(body); } catch (e) { theirs = e as Error; }
        if (typeof mine === 'string' || typeof theirs === 'string') expect(mine).toBe(theirs);
        else expect(mine).toBeInstanceOf(RangeError);
      }),
      { numRuns: 1000 },
    );
  });
});
