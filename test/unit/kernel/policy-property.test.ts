import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { PolicyError, parsePolicyBytes, validatePolicy } from '../../../platform/kernel/policy/loader.js';

const base = JSON.parse(readFileSync('policies/sesam-vitale.json', 'utf8')) as unknown;
const baseText = readFileSync('policies/payment.json', 'utf8');

type Path = Array<string | number>;

function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

function setAt(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = replacement;
  return copy;
}

const allPaths = paths(base);

/** Only PolicyError may escape: anything else would be a loader crash a manufacturer cannot act on. */
function outcome(run: () => unknown): 'ok' | 'policy-error' {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (err instanceof PolicyError) {
      expect(err.file).toBe('fuzz.json');
      expect(err.field === '' || err.field.startsWith('/')).toBe(true);
      expect(err.reason.length).toBeGreaterThan(0);
      return 'policy-error';
    }
    throw err;
  }
}

describe('loader robustness', () => {
  it('random value replacement anywhere in a valid policy yields a Policy or a PolicyError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...allPaths), fc.jsonValue(), (path, value) => {
        outcome(() => validatePolicy(setAt(base, path, value), 'fuzz.json'));
      }),
      { numRuns: 400 },
    );
  });

  it('random byte edits of a policy file yield a Policy or a PolicyError', () => {
    const bytes = new TextEncoder().encode(baseText);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          let b = Array.from(bytes);
          for (const [pos, byte, op] of edits) {
            const at = Math.min(pos, b.length);
            if (op === 'set') b[at] = byte;
            else if (op === 'insert') b.splice(at, 0, byte);
            else b.splice(at, 1);
          }
          outcome(() => parsePolicyBytes(new Uint8Array(b), 'fuzz.json'));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('arbitrary JSON values yield a PolicyError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(outcome(() => validatePolicy(value, 'fuzz.json'))).toBe('policy-error');
      }),
      { numRuns: 200 },
    );
  });

  it('non-JSON inputs (undefined, functions, cycles) yield a PolicyError', () => {
    const cyclic: Record<string, unknown> = { schemaVersion: 1 };
    cyclic.self = cyclic;
    for (const v of [undefined, () => 1, Symbol('x'), 10n, cyclic, new Map()]) {
      expect(outcome(() => validatePolicy(v, 'fuzz.json'))).toBe('policy-error');
    }
  });
});
