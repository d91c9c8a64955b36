/**
 * The catalogue is data; this keeps it honest: enough attacks, every family present, every entry run
 * by a test tagged with its ID, no tag without an entry, and docs/EVALUATORS.md's table in sync.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, FAMILIES } from './catalogue.js';
import { catalogueTable, mapResults } from './runner.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}
const TAG = /\bit\(\s*[`'"]\[([A-Z]+-\d+)\]/g;
const IDS_MAP = /'([A-Z]+-\d+)'/g;

describe('the attack catalogue', () => {
  it('has at least 40 attacks with unique IDs, in every family', () => {
    expect(CATALOGUE.filter((a) => !a.optional).length).toBeGreaterThanOrEqual(40);
    const ids = CATALOGUE.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of Object.keys(FAMILIES)) expect(CATALOGUE.some((a) => a.family === f), f).toBe(true);
    for (const a of CATALOGUE) for (const k of ['attack', 'expected', 'anchor', 'test'] as const) expect(a[k].length, `${a.id}.${k}`).toBeGreaterThan(5);
  });

  it('every entry is run by a test whose title starts with its ID, and every tag has an entry', () => {
    const tagged = new Map<string, string[]>();
    for (const f of testFiles('test/security')) {
      const text = readFileSync(f, 'utf8');
      // Direct titles, and IDs given to parameterised tests through a map ({ sync: 'DOS-01', ... }).
      const found = [...text.matchAll(TAG)].map((m) => m[1]!);
      if (/it\(`\[\$\{ids\[/.test(text)) found.push(...[...text.matchAll(IDS_MAP)].map((m) => m[1]!));
      for (const id of found) tagged.set(id, [...(tagged.get(id) ?? []), f]);
    }
    for (const a of CATALOGUE) {
      if (a.optional && !existsSync(a.test)) continue;
      if (a.wholeFile) {
        expect(existsSync(a.test), a.test).toBe(true);
        continue;
      }
      expect(tagged.get(a.id), `${a.id} has no test`).toBeDefined();
      expect(tagged.get(a.id), `${a.id} is not in ${a.test}`).toContain(a.test);
    }
    const known = new Set(CATALOGUE.map((a) => a.id));
    expect([...tagged.keys()].filter((id) => !known.has(id))).toEqual([]);
  });

  it('docs/EVALUATORS.md carries the catalogue table generated from the data', () => {
    const doc = readFileSync('docs/EVALUATORS.md', 'utf8');
    const m = /<!-- catalogue:begin -->\n([\s\S]*?)\n<!-- catalogue:end -->/.exec(doc);
    expect(m, 'catalogue markers in docs/EVALUATORS.md').not.toBeNull();
    expect(m![1]).toBe(catalogueTable());
  });

  it('the runner maps results by ID: a failed or missing test fails its attack, optional absent ones are not counted', () => {
    const json = {
      testResults: [{ name: '/r/test/security/x.test.ts', assertionResults: [
        { title: '[ESC-01] a', status: 'passed' as const, duration: 3, meta: { evidence: { k: 1 } } },
        { title: '[ESC-02] b', status: 'failed' as const, duration: 3, failureMessages: ['boom'] },
        { title: 'untagged', status: 'passed' as const, duration: 1 },
      ] }],
    };
    const cat = [
      { id: 'ESC-01', family: 'escape' as const, attack: 'a', expected: 'e', anchor: 'x', test: 't' },
      { id: 'ESC-02', family: 'escape' as const, attack: 'a', expected: 'e', anchor: 'x', test: 't' },
      { id: 'DOS-01', family: 'dos' as const, attack: 'a', expected: 'e', anchor: 'x', test: 't' },
      { id: 'XDOM-11', family: 'confidentiality' as const, attack: 'a', expected: 'e', anchor: 'x', test: 't', optional: true },
    ];
    const r = mapResults(json, '/r', cat);
    expect(r.summary).toEqual({ total: 3, passed: 1, failed: 2, families: { escape: { total: 2, passed: 1 }, dos: { total: 1, passed: 0 } } });
    expect(r.attacks[0]?.tests[0]?.evidence).toEqual({ k: 1 });
    expect(r.untagged.map((t) => t.title)).toEqual(['untagged']);
  });
});
