import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PolicyError,
  POLICY_SCHEMA,
  checkPolicySet,
  loadPolicyDir,
  loadPolicyFile,
  nothingPolicy,
  validatePolicy,
} from '../../../platform/kernel/policy/loader.js';
import { DEFAULT_LIMITS, type Policy } from '../../../platform/kernel/policy/types.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'di-policy-'));
});

type Json = Record<string, unknown>;

function basePolicy(overrides: Json = {}): Json {
  return {
    schemaVersion: 1,
    domain: 'test-domain',
    applet: { id: 'test-applet' },
    cardClasses: [
      {
        name: 'testcard',
        atr: { value: '3b8f000180', mask: 'ffff00ffff' },
        aids: ['a000000001'],
        apdu: [{ cla: '00', ins: 'a4', name: 'SELECT' }],
        pinReferences: [],
      },
    ],
    store: { quotaBytes: 1024 },
    network: { endpoints: [] },
    intents: { request: [], handle: [] },
    ui: { foreground: false, pinEntry: false },
    ...overrides,
  };
}

let counter = 0;
function writePolicy(content: string | Json, name = `p${counter++}.json`): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

function catchPolicyError(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError, but nothing was thrown');
}

function expectError(fn: () => unknown, file: string, field: string, reason: RegExp): PolicyError {
  const err = catchPolicyError(fn);
  expect(err.file).toBe(file);
  expect(err.field).toBe(field);
  expect(err.reason).toMatch(reason);
  expect(err.message).toBe(`${file}: ${field || '/'}: ${err.reason}`);
  return err;
}

function withClass(patch: Json): Json {
  const p = basePolicy();
  const classes = p.cardClasses as Json[];
  classes[0] = { ...classes[0], ...patch };
  return p;
}

describe('default policies', () => {
  it('policies/ loads as one consistent set', () => {
    const { policies } = loadPolicyDir('policies');
    expect(policies.map((p) => p.domain).sort()).toEqual(['payment', 'sesam-vitale']);
    const sv = policies.find((p) => p.domain === 'sesam-vitale')!;
    const pay = policies.find((p) => p.domain === 'payment')!;
    expect(sv.cardClasses.map((c) => c.name)).toEqual(['vitale', 'cps']);
    expect(sv.cardClasses[0]!.aids).toEqual(['D250000002564954414C45', 'D2500000024D465F564954414C45']);
    expect(sv.cardClasses[1]!.aids).toEqual(['E828BD080F8025000001FF0010']);
    expect(sv.cardClasses[1]!.pinReferences.length).toBeGreaterThan(0);
    expect(sv.intents.request).toEqual([{ target: 'payment', actions: ['charge'] }]);
    expect(sv.network.endpoints.map((e) => e.kind).sort()).toEqual(['pop3', 'smtp']);
    expect(sv.network.endpoints.every((e) => e.host === '127.0.0.1')).toBe(true);
    const emv = pay.cardClasses[0]!;
    expect(emv.name).toBe('emv');
    expect(emv.aids).toContain('315041592E5359532E4444463031');
    expect(emv.pinReferences).toEqual([0x80]);
    expect(pay.intents.handle).toEqual([
      { action: 'charge', result: { status: 'string', transactionRef: 'string', authCode: 'string' } },
    ]);
    expect(pay.network.endpoints.map((e) => e.name)).toEqual(['acquirer']);
    // No VERIFY anywhere: PIN entry is the kernel's.
    for (const p of policies) for (const c of p.cardClasses) expect(c.apdu.some((r) => r.ins === '20')).toBe(false);
  });

  it('the schema file is not taken for a policy and only names domains once', () => {
    const { policies } = loadPolicyDir('policies');
    expect(new Set(policies.map((p) => p.domain)).size).toBe(policies.length);
  });

  it('schema defaults mirror DEFAULT_LIMITS', () => {
    const props = (POLICY_SCHEMA as { properties: { limits: { properties: Record<string, { default: number }> } } }).properties.limits
      .properties;
    const defaults = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.default]));
    expect(defaults).toEqual(DEFAULT_LIMITS);
  });
});

describe('normalization', () => {
  it('uppercases hex, fills defaults and deep-freezes', () => {
    const p = loadPolicyFile(writePolicy(basePolicy({ limits: { memoryMb: 96 } })));
    expect(p.cardClasses[0]!.atr).toEqual({ value: '3B8F000180', mask: 'FFFF00FFFF' });
    expect(p.cardClasses[0]!.aids).toEqual(['A000000001']);
    expect(p.cardClasses[0]!.apdu[0]).toEqual({ cla: '00', ins: 'A4', claMask: 'FF', name: 'SELECT' });
    expect(p.cardClasses[0]!.maxResponseBytes).toBe(4096);
    expect(p.limits).toEqual({ ...DEFAULT_LIMITS, memoryMb: 96 });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.cardClasses[0]!.atr)).toBe(true);
    expect(Object.isFrozen(p.limits)).toBe(true);
    expect(() => {
      (p.cardClasses as CardClassArray).push({} as never);
    }).toThrow(TypeError);
  });

  it('does not share structure with the input', () => {
    const input = basePolicy();
    const p = validatePolicy(input, 'inline');
    ((input.cardClasses as Json[])[0] as Json).name = 'changed';
    expect(p.cardClasses[0]!.name).toBe('testcard');
  });

  it('nothingPolicy grants nothing', () => {
    const p = nothingPolicy('eval-1');
    expect(p.domain).toBe('eval-1');
    expect(p.cardClasses).toEqual([]);
    expect(p.network.endpoints).toEqual([]);
    expect(p.intents).toEqual({ request: [], handle: [] });
    expect(p.ui).toEqual({ foreground: false, pinEntry: false });
    expect(p.store.quotaBytes).toBe(0);
    expect(Object.isFrozen(p)).toBe(true);
    expect(() => nothingPolicy('Bad Domain')).toThrow(PolicyError);
  });
});

type CardClassArray = Policy['cardClasses'] & unknown[];

describe('policy errors name file, field and reason', () => {
  it('broken JSON, with line and column', () => {
    const path = writePolicy('{\n  "schemaVersion": 1,\n  "domain": "x",,\n}');
    const err = expectError(() => loadPolicyFile(path), path, '', /line 3, column 17: expected a property name/);
    expect(err.reason).toMatch(/invalid JSON/);
  });

  it('duplicate keys in JSON', () => {
    const path = writePolicy('{"schemaVersion": 1, "domain": "aa", "domain": "bb"}');
    expectError(() => loadPolicyFile(path), path, '/domain', /duplicate key "domain"/);
  });

  it('missing file', () => {
    const path = join(dir, 'does-not-exist.json');
    expectError(() => loadPolicyFile(path), path, '', /no such file/);
  });

  it('unknown field, at the top and deep down', () => {
    const path = writePolicy(basePolicy({ grantEverything: true }));
    expectError(() => loadPolicyFile(path), path, '/grantEverything', /unknown field "grantEverything" \(allowed here: .*domain/);
    const path2 = writePolicy(withClass({ atr: { value: '3B', mask: 'FF', wildcard: true } }));
    expectError(() => loadPolicyFile(path2), path2, '/cardClasses/0/atr/wildcard', /unknown field "wildcard"/);
  });

  it('"__proto__" is an unknown field, not a prototype change', () => {
    const path = writePolicy(JSON.stringify(basePolicy()).replace('{', '{"__proto__": {"x": 1},'));
    expectError(() => loadPolicyFile(path), path, '/__proto__', /unknown field "__proto__"/);
  });

  it('wrong type', () => {
    const path = writePolicy(basePolicy({ store: { quotaBytes: '1024' } }));
    expectError(() => loadPolicyFile(path), path, '/store/quotaBytes', /must be an integer, not a string \("1024"\)/);
  });

  it('missing required field', () => {
    const p = basePolicy();
    delete p.ui;
    const path = writePolicy(p);
    expectError(() => loadPolicyFile(path), path, '/ui', /is required/);
  });

  it('limits out of range', () => {
    const path = writePolicy(basePolicy({ limits: { memoryMb: 4 } }));
    expectError(() => loadPolicyFile(path), path, '/limits/memoryMb', /at least 8, not 4/);
  });

  it('bad hex: odd length ATR, non-hex AID, short AID, 3-digit INS', () => {
    let path = writePolicy(withClass({ atr: { value: '3B8', mask: 'FFF' } }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/atr/value', /even number of hex digits/);
    path = writePolicy(withClass({ aids: ['A0000000G1'] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/aids/0', /AID: 5 to 16 bytes/);
    path = writePolicy(withClass({ aids: ['A000000001'.slice(0, 8)] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/aids/0', /AID/);
    path = writePolicy(withClass({ apdu: [{ cla: '00', ins: 'A40' }] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/apdu/0/ins', /one byte written as 2 hex digits/);
  });

  it('bad domain id', () => {
    const path = writePolicy(basePolicy({ domain: 'Payment' }));
    expectError(() => loadPolicyFile(path), path, '/domain', /must be a domain id/);
  });

  it('ATR mask length differs from value', () => {
    const path = writePolicy(withClass({ atr: { value: '3B8F80018001', mask: 'FFFF' } }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/atr/mask', /^must be the same length as value \(6 bytes\)/);
  });

  it('ATR value has bits outside the mask', () => {
    const path = writePolicy(withClass({ atr: { value: '3B8F', mask: 'FF0F' } }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/atr/value', /bits outside the mask at byte 1 \(value 8F, mask 0F\)/);
  });

  it('VERIFY (INS 20) in an allowlist', () => {
    const path = writePolicy(withClass({ apdu: [{ cla: '00', ins: 'a4' }, { cla: '00', ins: '20', p2: '80' }] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/apdu/1/ins', /INS 20 \(VERIFY\).*PIN entry is a kernel function/);
  });

  it('other PIN-carrying instructions are refused as well', () => {
    const path = writePolicy(withClass({ apdu: [{ cla: '00', ins: '2C' }] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/apdu/0/ins', /RESET RETRY COUNTER/);
  });

  it('CLA bits outside claMask', () => {
    const path = writePolicy(withClass({ apdu: [{ cla: '0C', ins: 'B0', claMask: 'F0' }] }));
    expectError(() => loadPolicyFile(path), path, '/cardClasses/0/apdu/0/cla', /outside claMask F0/);
  });

  it('duplicate card class within a policy', () => {
    const p = basePolicy();
    const c = (p.cardClasses as Json[])[0]!;
    (p.cardClasses as Json[]).push({ ...c, aids: ['A000000002'] });
    const path = writePolicy(p);
    expectError(() => loadPolicyFile(path), path, '/cardClasses/1/name', /"testcard" is already defined by \/cardClasses\/0/);
  });

  it('overlapping ATR patterns need AIDs on both sides', () => {
    const p = basePolicy();
    (p.cardClasses as Json[]).push({ name: 'other', atr: { value: '3B', mask: 'FF' }, aids: [], apdu: [], pinReferences: [] });
    const path = writePolicy(p);
    expectError(() => loadPolicyFile(path), path, '/cardClasses/1/aids', /lists no AIDs, but its ATR pattern overlaps that of card class "testcard"/);
  });

  it('pinReferences require ui.pinEntry', () => {
    const path = writePolicy(withClass({ pinReferences: [0x81] }));
    expectError(() => loadPolicyFile(path), path, '/ui/pinEntry', /must be true: card class "testcard" lists pinReferences/);
  });

  it('duplicate endpoint names', () => {
    const ep = { name: 'amo', kind: 'smtp', host: '127.0.0.1', port: 25 };
    const path = writePolicy(basePolicy({ network: { endpoints: [ep, { ...ep, port: 26 }] } }));
    expectError(() => loadPolicyFile(path), path, '/network/endpoints/1/name', /"amo" is already used by \/network\/endpoints\/0/);
  });

  it('intent request to itself', () => {
    const path = writePolicy(basePolicy({ intents: { request: [{ target: 'test-domain', actions: ['x'] }], handle: [] } }));
    expectError(() => loadPolicyFile(path), path, '/intents/request/0/target', /from itself/);
  });
});

describe('policy sets', () => {
  function setDir(policies: Record<string, Json>): string {
    const d = mkdtempSync(join(tmpdir(), 'di-policyset-'));
    for (const [name, p] of Object.entries(policies)) writeFileSync(join(d, name), JSON.stringify(p));
    return d;
  }

  it('duplicate card class across policies names both', () => {
    const d = setDir({
      'a.json': basePolicy({ domain: 'aaa', applet: { id: 'aaa' } }),
      'b.json': basePolicy({ domain: 'bbb', applet: { id: 'bbb' } }),
    });
    const err = expectError(() => loadPolicyDir(d), join(d, 'b.json'), '/cardClasses/0/name', /already defined by domain "aaa"/);
    expect(err.reason).toContain(join(d, 'a.json'));
    expect(err.reason).toMatch(/belongs to exactly one domain/);
  });

  it('same AID claimed by two domains', () => {
    const b = basePolicy({ domain: 'bbb', applet: { id: 'bbb' } });
    ((b.cardClasses as Json[])[0] as Json).name = 'other';
    const d = setDir({ 'a.json': basePolicy({ domain: 'aaa', applet: { id: 'aaa' } }), 'b.json': b });
    expectError(() => loadPolicyDir(d), join(d, 'b.json'), '/cardClasses/0/aids/0', /AID A000000001 is already claimed by card class "testcard"/);
  });

  it('duplicate domain ids', () => {
    const b = basePolicy();
    b.cardClasses = [];
    const d = setDir({ 'a.json': basePolicy(), 'b.json': b });
    expectError(() => loadPolicyDir(d), join(d, 'b.json'), '/domain', /domain "test-domain" is already defined by .*a\.json/);
  });

  it('intent to an unknown target', () => {
    const d = setDir({ 'a.json': basePolicy({ intents: { request: [{ target: 'bank', actions: ['charge'] }], handle: [] } }) });
    expectError(() => loadPolicyDir(d), join(d, 'a.json'), '/intents/request/0/target', /no policy for domain "bank" is loaded/);
  });

  it('intent action the target does not handle', () => {
    const d = mkdtempSync(join(tmpdir(), 'di-policyset-'));
    copyFileSync('policies/payment.json', join(d, 'payment.json'));
    const sv = JSON.parse(readFileSync('policies/sesam-vitale.json', 'utf8')) as Json;
    sv.intents = { request: [{ target: 'payment', actions: ['charge', 'refund'] }], handle: [] };
    writeFileSync(join(d, 'sesam-vitale.json'), JSON.stringify(sv));
    expectError(
      () => loadPolicyDir(d),
      join(d, 'sesam-vitale.json'),
      '/intents/request/0/actions/1',
      /domain "payment" does not handle action "refund" \(its policy .*payment\.json handles: charge\)/,
    );
  });

  it('checkPolicySet works on policies validated elsewhere (e.g. from packages)', () => {
    const a = validatePolicy(basePolicy({ domain: 'aaa', applet: { id: 'aaa' } }), 'pkg-a/policy.json');
    const b = validatePolicy(basePolicy({ domain: 'bbb', applet: { id: 'bbb' } }), 'pkg-b/policy.json');
    expectError(() => checkPolicySet([a, b]), 'pkg-b/policy.json', '/cardClasses/0/name', /already defined by domain "aaa" \(pkg-a\/policy\.json\)/);
  });

  it('a missing directory is a clear error', () => {
    const d = join(dir, 'nope');
    expectError(() => loadPolicyDir(d), d, '', /does not exist/);
  });

  it('an empty directory yields no policies', () => {
    const d = join(dir, 'empty');
    mkdirSync(d);
    expect(loadPolicyDir(d).policies).toEqual([]);
  });
});

describe('per-class lease durations', () => {
  const withLease = (lease: unknown): Json => {
    const p = basePolicy();
    (p.cardClasses as Json[])[0]!.lease = lease;
    return p;
  };

  it('are kept when given, and absent otherwise (the broker defaults apply)', () => {
    expect(validatePolicy(withLease({ idleMs: 1_800_000, maxMs: 43_200_000 }), 'l.json').cardClasses[0]!.lease).toEqual({ idleMs: 1_800_000, maxMs: 43_200_000 });
    expect(validatePolicy(basePolicy(), 'l.json').cardClasses[0]!.lease).toBeUndefined();
  });

  it('refuse a lease that would end before it may go idle, or beyond 12 hours, naming the field', () => {
    expect(catchPolicyError(() => validatePolicy(withLease({ idleMs: 60_000, maxMs: 30_000 }), 'l.json')).message).toMatch(/\/cardClasses\/0\/lease\/maxMs.*at least idleMs/);
    expect(catchPolicyError(() => validatePolicy(withLease({ idleMs: 60_000, maxMs: 86_400_000 }), 'l.json')).message).toMatch(/\/cardClasses\/0\/lease\/maxMs/);
    expect(catchPolicyError(() => validatePolicy(withLease({ idleMs: 60_000 }), 'l.json')).message).toMatch(/\/cardClasses\/0\/lease/);
  });
});

describe('terminal actions', () => {
  it('need the screen: a policy listing ui.actions without ui.foreground is refused, naming the field', () => {
    const p = basePolicy({ ui: { foreground: false, pinEntry: false, actions: ['status'] } });
    expect(catchPolicyError(() => validatePolicy(p, 'a.json')).message).toMatch(/\/ui\/foreground: must be true: the policy lists ui\.actions/);
    expect(validatePolicy(basePolicy({ ui: { foreground: true, pinEntry: false, actions: ['status'] } }), 'a.json').ui.actions).toEqual(['status']);
  });
});

describe('timers', () => {
  it('are kept when granted, refused below one second or twice under one name', () => {
    expect(validatePolicy(basePolicy({ timers: [{ name: 'retry', everyMs: 60_000 }] }), 't.json').timers).toEqual([{ name: 'retry', everyMs: 60_000 }]);
    expect(validatePolicy(basePolicy(), 't.json').timers).toBeUndefined();
    expect(catchPolicyError(() => validatePolicy(basePolicy({ timers: [{ name: 'retry', everyMs: 10 }] }), 't.json')).message).toMatch(/\/timers\/0\/everyMs/);
    expect(catchPolicyError(() => validatePolicy(basePolicy({ timers: [{ name: 'a', everyMs: 1000 }, { name: 'a', everyMs: 2000 }] }), 't.json')).message).toMatch(/\/timers\/1\/name.*already/);
  });
});
