import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkNir, nirKey } from '../../../emulator/cards/models/vitale/nir.js';
import { profilesDir } from '../../../emulator/cards/registry.js';

/** Independent formulation of the Corsica rule: 2A is "20" minus 1 000 000, 2B is "20" minus 2 000 000. */
function keyByOffset(nir13: string): string {
  const dept = nir13.slice(5, 7);
  const offset = dept === '2A' ? 1_000_000n : dept === '2B' ? 2_000_000n : 0n;
  const n = BigInt(offset ? `${nir13.slice(0, 5)}20${nir13.slice(7)}` : nir13) - offset;
  return String(97n - (n % 97n)).padStart(2, '0');
}

describe('NIR key', () => {
  it('matches the published example 2 55 08 14 168 025 -> 38', () => {
    expect(nirKey('2550814168025')).toBe('38');
    expect(checkNir('255081416802538')).toEqual({ ok: true });
  });

  it('substitutes 19 for 2A and 18 for 2B', () => {
    expect(nirKey('185032A999002')).toBe('74');
    expect(nirKey('287072B999003')).toBe('16');
    expect(nirKey('185032A999002')).toBe(keyByOffset('185032A999002'));
    expect(nirKey('287072B999003')).toBe(keyByOffset('287072B999003'));
    // Same digits, other Corsican département: another key.
    expect(nirKey('185032B999002')).not.toBe(nirKey('185032A999002'));
    expect(checkNir('185032A99900274').ok).toBe(true);
  });

  it('pads keys below 10 to two digits', () => {
    expect(nirKey('1482099352005')).toBe('06');
  });

  it('agrees with an independent computation on random NIRs, and refuses every other key', () => {
    const body = fc
      .tuple(fc.constantFrom('1', '2', '3', '4', '7', '8'), fc.stringMatching(/^[0-9]{4}$/), fc.constantFrom('75', '2A', '2B', '99', '01'), fc.stringMatching(/^[0-9]{6}$/))
      .map(([s, a, d, b]) => `${s}${a}${d}${b}`);
    fc.assert(
      fc.property(body, fc.integer({ min: 0, max: 99 }), (nir13, other) => {
        const key = nirKey(nir13);
        expect(key).toBe(keyByOffset(nir13));
        expect(checkNir(nir13 + key).ok).toBe(true);
        const wrong = String(other).padStart(2, '0');
        if (wrong !== key) expect(checkNir(nir13 + wrong).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses malformed NIRs with a reason', () => {
    expect(() => nirKey('180017599900')).toThrow(/13 characters, got 12/);
    expect(() => nirKey('18001759990X1')).toThrow(/not digits/);
    expect(() => nirKey('185032C999002')).toThrow(/not digits/);
    expect(() => nirKey('580017599900 ')).toThrow(RangeError);
    expect(() => nirKey('5800175999001')).toThrow(/sex code/);
    expect(checkNir('18001759990013')).toMatchObject({ ok: false, reason: expect.stringMatching(/15 characters, got 14/) });
    expect(checkNir('1800175999001AB')).toMatchObject({ ok: false, reason: expect.stringMatching(/not 2 digits/) });
    expect(checkNir('180017599900138')).toMatchObject({ ok: false, reason: 'key 38 does not match 1800175999001 (expected 37)' });
    expect(checkNir(42 as unknown as string).ok).toBe(false);
  });

  it('detects the invalid-NIR profile and accepts every other Vitale profile', () => {
    const nirsOf = (name: string): string[] => {
      const p = JSON.parse(readFileSync(join(profilesDir(), `${name}.json`), 'utf8')) as { insured: { nir: string }; beneficiaries: Array<{ nir?: string }> };
      return [p.insured.nir, ...p.beneficiaries.flatMap((b) => (b.nir ? [b.nir] : []))];
    };
    const bad = checkNir(nirsOf('vitale-nir-invalide')[0]!);
    expect(bad.ok).toBe(false);
    expect(bad.reason).toMatch(/key 33 .*expected 32/);
    for (const name of ['vitale-assure-seul', 'vitale-famille-jumeaux', 'vitale-droits-expires', 'vitale-ald', 'vitale-amc-tiers-payant']) {
      for (const nir of nirsOf(name)) expect(checkNir(nir), `${name}: ${nir}`).toEqual({ ok: true });
    }
  });
});
