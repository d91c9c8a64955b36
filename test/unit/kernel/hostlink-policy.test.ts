/** The policy's optional hostLink grant: listed ops only, non-empty, unique, one policy per set. */
import { describe, expect, it } from 'vitest';
import { checkPolicySet, PolicyError, validatePolicy, loadPolicyFile } from '../../../platform/kernel/policy/loader.js';
import { DOMAIN_HOST_OPS } from '../../../platform/wire/hostlink.js';
import schema from '../../../policies/policy.schema.json' with { type: 'json' };
import { join } from 'node:path';
import { repoRoot } from '../../../platform/kernel/paths.js';

function raw(domain: string, extra: Record<string, unknown> = {}, foreground = true): Record<string, unknown> {
  return {
    schemaVersion: 1,
    domain,
    applet: { id: domain },
    cardClasses: [],
    store: { quotaBytes: 0 },
    network: { endpoints: [] },
    intents: { request: [], handle: [] },
    ui: { foreground, pinEntry: false },
    ...extra,
  };
}

function refusal(f: () => unknown): PolicyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('policy hostLink', () => {
  it('is kept only when the file lists it', () => {
    expect(validatePolicy(raw('alpha'), 't')).not.toHaveProperty('hostLink');
    expect(validatePolicy(raw('alpha', { hostLink: { ops: ['fse.unload', 'erase'] } }), 't').hostLink).toEqual({ ops: ['fse.unload', 'erase'] });
  });

  it('refuses unknown, repeated or no operations, and a policy without the screen', () => {
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: { ops: ['pair'] } }), 't')).field).toBe('/hostLink/ops/0');
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: { ops: ['erase', 'erase'] } }), 't')).field).toMatch(/^\/hostLink\/ops\//);
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: { ops: [] } }), 't')).field).toBe('/hostLink/ops');
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: {} }), 't')).field).toBe('/hostLink/ops');
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: { ops: ['erase'], extra: 1 } }), 't')).field).toBe('/hostLink/extra');
    expect(refusal(() => validatePolicy(raw('alpha', { hostLink: { ops: ['erase'] } }, false), 't')).field).toBe('/ui/foreground');
  });

  it('the schema lists exactly the domain operations of wire/hostlink.ts', () => {
    const ops = (schema as { properties: { hostLink: { properties: { ops: { items: { enum: string[] } } } } } }).properties.hostLink.properties.ops.items.enum;
    expect(ops).toEqual([...DOMAIN_HOST_OPS]);
  });

  it('at most one policy of a set holds it; the error names both domains', () => {
    const a = validatePolicy(raw('alpha', { hostLink: { ops: ['erase'] } }), 'a.json');
    const b = validatePolicy(raw('beta', { hostLink: { ops: ['data.load'] } }), 'b.json');
    const c = validatePolicy(raw('gamma'), 'c.json');
    expect(() => checkPolicySet([a, c])).not.toThrow();
    const e = refusal(() => checkPolicySet([a, c, b]));
    expect(e.file).toBe('b.json');
    expect(e.field).toBe('/hostLink');
    expect(e.message).toContain('"alpha"');
    expect(e.message).toContain('"beta"');
  });

  it('the installed policies still load', () => {
    expect(() => loadPolicyFile(join(repoRoot(), 'policies', 'sesam-vitale.json'))).not.toThrow();
  });
});
