/** The AMO's rules as data: parsing with errors that name the JSON path, and matching. */
import { describe, expect, it } from 'vitest';
import { applyAmoRules, defaultAmoRules, parseAmoRules } from '../../../emulator/amo/rules.js';
import { fse } from './fixtures.js';

describe('AMO rules', () => {
  it('parses the documented example and rejects a matching invoice only', () => {
    const rules = parseAmoRules({ reject: [{ when: { code: 'G', specialite: '01' }, reason: { code: 'R01', text: 'Consultation refusée (test)' } }] });
    expect(applyAmoRules(rules, fse(1))).toEqual({ code: 'R01', text: 'Consultation refusée (test)' });
    expect(applyAmoRules(parseAmoRules({ reject: [{ when: { code: 'MCG', specialite: '24' }, reason: { code: 'F99', text: 'MCG' } }] }), fse(1))).toBeNull();
    expect(applyAmoRules(parseAmoRules({ reject: [{ when: { code: 'G', chargedAbove: 100_000 }, reason: { code: 'R02', text: 'TROP CHER' } }] }), fse(1))).toBeNull();
    expect(applyAmoRules(defaultAmoRules(), fse(1))).toBeNull();
  });

  it.each([
    [null, '/'],
    [{ rejects: [] }, '/rejects'],
    [{ reject: {} }, '/reject'],
    [{ reject: [{ when: {}, reason: { code: 'R01', text: 'X' } }] }, '/reject/0/when'],
    [{ reject: [{ when: { colour: 'red' }, reason: { code: 'R01', text: 'X' } }] }, '/reject/0/when/colour'],
    [{ reject: [{ when: { specialite: '1' }, reason: { code: 'R01', text: 'X' } }] }, '/reject/0/when/specialite'],
    [{ reject: [{ when: { kind: 'FSE' }, reason: { code: 'F02', text: 'X' } }] }, '/reject/0/reason/code'],
    [{ reject: [{ when: { kind: 'FSE' }, reason: { code: 'R01', text: 'emoji \u{1F600}' } }] }, '/reject/0/reason/text'],
    [{ reject: [{ when: { kind: 'FSE' }, reason: { code: 'R01', text: 'X'.repeat(91) } }] }, '/reject/0/reason/text'],
  ])('refuses %j naming %s', (v, path) => {
    expect(() => parseAmoRules(v)).toThrow(`AMO rules ${path}:`);
  });
});
