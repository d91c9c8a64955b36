/**
 * Policy loading and validation (DESIGN §7): JSON syntax, schema (policies/policy.schema.json),
 * then the rules a schema cannot express. Whatever goes wrong becomes a PolicyError naming the
 * file, the JSON pointer of the field and the reason, so a manufacturer can fix the file without
 * reading kernel code. The policies handed back are normalized (uppercase hex, defaults filled)
 * and deep-frozen: the kernel's own copy cannot be changed after boot.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../../../policies/policy.schema.json' with { type: 'json' };
import { parseStrictJson, JsonSyntaxError } from './strict-json.js';
import type { DomainHostOp } from '../../wire/hostlink.js';
import {
  DEFAULT_LIMITS,
  type ApduRule,
  type CardClass,
  type DomainLimits,
  type IntentGrant,
  type IntentHandle,
  type NetworkEndpoint,
  type Policy,
  type TimerGrant,
} from './types.js';

export class PolicyError extends Error {
  constructor(
    /** The policy file (or package path, or built-in name) the error is about. */
    readonly file: string,
    /** JSON pointer of the offending field; '' for the whole document. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}: ${field === '' ? '/' : field}: ${reason}`);
    this.name = 'PolicyError';
  }
}

/** Policy files larger than this are refused before parsing: a real policy is a few kilobytes. */
export const MAX_POLICY_BYTES = 1024 * 1024;

/** Instructions whose data field carries PIN or PUK digits: only the kernel's secure PIN entry may send them. */
const PIN_INSTRUCTIONS: Readonly<Record<string, string>> = {
  '20': 'VERIFY',
  '21': 'VERIFY (odd INS)',
  '24': 'CHANGE REFERENCE DATA',
  '25': 'CHANGE REFERENCE DATA (odd INS)',
  '2C': 'RESET RETRY COUNTER',
  '2D': 'RESET RETRY COUNTER (odd INS)',
};

const DEFAULT_MAX_RESPONSE_BYTES = 4096;

// ---------------------------------------------------------------------------------------------
// Schema

const ajv = new Ajv({ allErrors: false, strict: true, verbose: true });
const validateSchema: ValidateFunction = ajv.compile(schema);

/** The schema itself, for tools that want to show or export it. */
export const POLICY_SCHEMA: unknown = schema;

const PATTERN_HINTS: Record<string, string> = {
  '^[a-z][a-z0-9-]{1,31}$':
    'must be a domain id: 2 to 32 characters, lowercase letters, digits and "-", starting with a letter',
  '^[a-z][a-z0-9._-]{1,63}$':
    'must be an applet id: 2 to 64 characters, lowercase letters, digits, ".", "_" and "-", starting with a letter',
  '^[a-z][a-z0-9_-]{0,31}$':
    'must be a name: 1 to 32 characters, lowercase letters, digits, "_" and "-", starting with a letter',
  '^[0-9A-Fa-f]{2}$': 'must be one byte written as 2 hex digits, e.g. "A4"',
  '^([0-9A-Fa-f]{2}){1,33}$': 'must be 1 to 33 bytes written as an even number of hex digits, e.g. "3B8F80"',
  '^([0-9A-Fa-f]{2}){5,16}$': 'must be an AID: 5 to 16 bytes written as an even number of hex digits (10 to 32)',
  '^[A-Za-z][A-Za-z0-9_]{0,31}$': 'must be a field name: a letter then up to 31 letters, digits or "_"',
  '^[a-z][a-z0-9.-]{0,47}$': 'must be an action name: 1 to 48 characters, lowercase letters, digits, "." and "-", starting with a letter',
};

function describeType(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'an array';
  if (typeof data === 'object') return 'an object';
  if (typeof data === 'string') return `a string (${JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}…` : data)})`;
  if (typeof data === 'number') return Number.isInteger(data) ? `the integer ${data}` : `the number ${data}`;
  return `${typeof data} ${String(data)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function schemaErrorToPolicyError(source: string, e: ErrorObject): PolicyError {
  const at = e.instancePath;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return new PolicyError(source, `${at}/${String(p.missingProperty)}`, 'is required but missing');
    case 'additionalProperties': {
      const extra = String(p.additionalProperty);
      const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
      const allowed = parent?.properties ? Object.keys(parent.properties).filter((k) => k !== '$schema') : [];
      return new PolicyError(
        source,
        `${at}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        `unknown field "${extra}"${allowed.length ? ` (allowed here: ${allowed.join(', ')})` : ''}`,
      );
    }
    case 'type':
      return new PolicyError(source, at, `must be ${TYPE_WORDS[String(p.type)] ?? String(p.type)}, not ${describeType(e.data)}`);
    case 'pattern': {
      const hint = PATTERN_HINTS[String(p.pattern)] ?? `must match the pattern ${String(p.pattern)}`;
      return new PolicyError(source, at, `${hint}; got ${describeType(e.data)}`);
    }
    case 'const':
      return at === '/schemaVersion'
        ? new PolicyError(source, at, `must be 1 (the only policy schema version this kernel reads), not ${describeType(e.data)}`)
        : new PolicyError(source, at, `must be ${JSON.stringify(p.allowedValue)}`);
    case 'enum':
      return new PolicyError(
        source,
        at,
        `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}; got ${describeType(e.data)}`,
      );
    case 'minimum':
    case 'maximum':
      return new PolicyError(
        source,
        at,
        `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(p.limit)}, not ${String(e.data)}`,
      );
    case 'minItems':
    case 'maxItems':
      return new PolicyError(source, at, `must have ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(p.limit)} items`);
    case 'minLength':
    case 'maxLength':
      return new PolicyError(source, at, `must be ${e.keyword === 'minLength' ? 'at least' : 'at most'} ${String(p.limit)} characters long`);
    case 'uniqueItems':
      return new PolicyError(source, `${at}/${String(p.i)}`, `repeats the item at ${at}/${String(p.j)}; list each one once`);
    case 'maxProperties':
      return new PolicyError(source, at, `must have at most ${String(p.limit)} fields`);
    case 'propertyNames':
      return new PolicyError(
        source,
        `${at}/${String(p.propertyName).replace(/~/g, '~0').replace(/\//g, '~1')}`,
        `${PATTERN_HINTS['^[A-Za-z][A-Za-z0-9_]{0,31}$']}`,
      );
    default:
      return new PolicyError(source, at, e.message ?? `fails the schema rule "${e.keyword}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Normalization

/** The JSON after the schema accepted it: same shape as Policy, with limits partial and hex any case. */
interface RawPolicy {
  schemaVersion: 1;
  domain: string;
  description?: string;
  applet: { id: string };
  limits?: Partial<DomainLimits>;
  cardClasses: CardClass[];
  store: { quotaBytes: number };
  network: { endpoints: NetworkEndpoint[] };
  intents: { request: IntentGrant[]; handle: IntentHandle[] };
  timers?: TimerGrant[];
  hostLink?: { ops: DomainHostOp[] };
  ui: { foreground: boolean; pinEntry: boolean; actions?: string[] };
}

function normalizeRule(r: ApduRule): ApduRule {
  const out: ApduRule = { cla: r.cla.toUpperCase(), ins: r.ins.toUpperCase() };
  if (r.p1 !== undefined) out.p1 = r.p1.toUpperCase();
  if (r.p2 !== undefined) out.p2 = r.p2.toUpperCase();
  out.claMask = (r.claMask ?? 'FF').toUpperCase();
  if (r.name !== undefined) out.name = r.name;
  return out;
}

function normalize(raw: RawPolicy): Policy {
  const limits: DomainLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof DomainLimits>) {
    const v = raw.limits?.[key];
    if (v !== undefined) limits[key] = v;
  }
  const policy: Policy = {
    schemaVersion: 1,
    domain: raw.domain,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    applet: { id: raw.applet.id },
    limits,
    cardClasses: raw.cardClasses.map((c) => ({
      name: c.name,
      atr: { value: c.atr.value.toUpperCase(), mask: c.atr.mask.toUpperCase() },
      aids: c.aids.map((a) => a.toUpperCase()),
      apdu: c.apdu.map(normalizeRule),
      pinReferences: [...c.pinReferences],
      maxResponseBytes: c.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      ...(c.lease !== undefined ? { lease: { idleMs: c.lease.idleMs, maxMs: c.lease.maxMs } } : {}),
    })),
    store: { quotaBytes: raw.store.quotaBytes },
    network: { endpoints: raw.network.endpoints.map((e) => ({ name: e.name, kind: e.kind, host: e.host, port: e.port })) },
    intents: {
      request: raw.intents.request.map((g) => ({ target: g.target, actions: [...g.actions] })),
      handle: raw.intents.handle.map((h) => ({ action: h.action, result: { ...h.result } })),
    },
    ...(raw.timers !== undefined ? { timers: raw.timers.map((t) => ({ name: t.name, everyMs: t.everyMs })) } : {}),
    ...(raw.hostLink !== undefined ? { hostLink: { ops: [...raw.hostLink.ops] } } : {}),
    ui: { foreground: raw.ui.foreground, pinEntry: raw.ui.pinEntry, ...(raw.ui.actions !== undefined ? { actions: [...raw.ui.actions] } : {}) },
  };
  return policy;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

const hexBytes = (hex: string): number[] => {
  const out: number[] = [];
  for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  return out;
};
const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** ATR patterns are compared on their common prefix: if no masked bit differs there, one card could match both. */
function atrPatternsOverlap(a: CardClass['atr'], b: CardClass['atr']): boolean {
  const av = hexBytes(a.value);
  const am = hexBytes(a.mask);
  const bv = hexBytes(b.value);
  const bm = hexBytes(b.mask);
  const n = Math.min(av.length, bv.length);
  for (let i = 0; i < n; i++) {
    if (((av[i]! ^ bv[i]!) & am[i]! & bm[i]!) !== 0) return false;
  }
  return true;
}

function checkCardClass(source: string, c: CardClass, at: string): void {
  const value = hexBytes(c.atr.value);
  const mask = hexBytes(c.atr.mask);
  if (value.length !== mask.length) {
    throw new PolicyError(
      source,
      `${at}/atr/mask`,
      `must be the same length as value (${value.length} byte${value.length === 1 ? '' : 's'}), but is ${mask.length} byte${mask.length === 1 ? '' : 's'}`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    if ((value[i]! & ~mask[i]!) !== 0) {
      throw new PolicyError(
        source,
        `${at}/atr/value`,
        `has bits outside the mask at byte ${i} (value ${hex2(value[i]!)}, mask ${hex2(mask[i]!)}): no card's ATR could ever match; clear those bits or widen the mask`,
      );
    }
  }
  if (c.lease !== undefined && c.lease.maxMs < c.lease.idleMs) {
    throw new PolicyError(source, `${at}/lease/maxMs`, `must be at least idleMs (${c.lease.idleMs}): a lease cannot end before it may first go idle`);
  }
  const seenAids = new Map<string, number>();
  c.aids.forEach((aid, j) => {
    const prev = seenAids.get(aid);
    if (prev !== undefined) throw new PolicyError(source, `${at}/aids/${j}`, `duplicates AID ${aid} already listed at ${at}/aids/${prev}`);
    seenAids.set(aid, j);
  });
  const seenRules = new Map<string, number>();
  c.apdu.forEach((r, j) => {
    const ra = `${at}/apdu/${j}`;
    const pin = PIN_INSTRUCTIONS[r.ins];
    if (pin !== undefined) {
      throw new PolicyError(
        source,
        `${ra}/ins`,
        `INS ${r.ins} (${pin}) carries PIN digits and may not be allowlisted: PIN entry is a kernel function (platform.pin.verify with a reference from pinReferences)`,
      );
    }
    const insHigh = parseInt(r.ins, 16) & 0xf0;
    if (insHigh === 0x60 || insHigh === 0x90) {
      throw new PolicyError(source, `${ra}/ins`, `INS ${r.ins} is not a valid instruction code (6X and 9X are reserved by ISO 7816-3)`);
    }
    if (r.cla === 'FF') {
      throw new PolicyError(source, `${ra}/cla`, 'CLA FF is reserved (PPS and reader pseudo-APDUs) and never reaches a card application');
    }
    const mask = r.claMask ?? 'FF';
    if ((parseInt(r.cla, 16) & ~parseInt(mask, 16)) !== 0) {
      throw new PolicyError(
        source,
        `${ra}/cla`,
        `has bits outside claMask ${mask} (CLA ${r.cla}): the rule could never match; clear those bits or widen claMask`,
      );
    }
    const key = [r.cla, mask, r.ins, r.p1 ?? '*', r.p2 ?? '*'].join(' ');
    const prev = seenRules.get(key);
    if (prev !== undefined) throw new PolicyError(source, ra, `duplicates the rule at ${at}/apdu/${prev}`);
    seenRules.set(key, j);
  });
  const seenRefs = new Set<number>();
  c.pinReferences.forEach((ref, j) => {
    if (seenRefs.has(ref)) throw new PolicyError(source, `${at}/pinReferences/${j}`, `duplicates PIN reference ${ref} (0x${hex2(ref)})`);
    seenRefs.add(ref);
  });
}

interface LocatedClass {
  policy: Policy;
  index: number;
  cls: CardClass;
}

/** Card-class rules that hold across any set of classes, whether from one policy or several. */
function checkClassesTogether(classes: LocatedClass[], sourceOf: (p: Policy) => string): void {
  const byName = new Map<string, LocatedClass>();
  const byAid = new Map<string, { at: LocatedClass; j: number }>();
  for (const lc of classes) {
    const at = `/cardClasses/${lc.index}`;
    const where = (o: LocatedClass): string =>
      o.policy === lc.policy ? `/cardClasses/${o.index} of the same policy` : `domain "${o.policy.domain}" (${sourceOf(o.policy)})`;
    const prev = byName.get(lc.cls.name);
    if (prev) {
      throw new PolicyError(
        sourceOf(lc.policy),
        `${at}/name`,
        `card class "${lc.cls.name}" is already defined by ${where(prev)}; a card class belongs to exactly one domain`,
      );
    }
    byName.set(lc.cls.name, lc);
    lc.cls.aids.forEach((aid, j) => {
      const other = byAid.get(aid);
      if (other) {
        throw new PolicyError(
          sourceOf(lc.policy),
          `${at}/aids/${j}`,
          `AID ${aid} is already claimed by card class "${other.at.cls.name}" of ${where(other.at)}; the broker could not tell which class a card belongs to`,
        );
      }
      byAid.set(aid, { at: lc, j });
    });
  }
  // Overlapping ATR patterns are fine (that is how one generic ATR covers Vitale, CPS and EMV),
  // but only if the broker can fall back to AID probing for both sides.
  for (let i = 0; i < classes.length; i++) {
    for (let k = 0; k < i; k++) {
      const a = classes[i]!;
      const b = classes[k]!;
      if (!atrPatternsOverlap(a.cls.atr, b.cls.atr)) continue;
      if (a.cls.aids.length === 0 || b.cls.aids.length === 0) {
        const bare = a.cls.aids.length === 0 ? a : b;
        const other = bare === a ? b : a;
        throw new PolicyError(
          sourceOf(bare.policy),
          `/cardClasses/${bare.index}/aids`,
          `card class "${bare.cls.name}" lists no AIDs, but its ATR pattern overlaps that of card class "${other.cls.name}" (domain "${other.policy.domain}"); list AIDs so the broker can tell them apart, or make the ATR patterns disjoint`,
        );
      }
    }
  }
}

function checkPolicySemantics(source: string, p: Policy): void {
  p.cardClasses.forEach((c, i) => checkCardClass(source, c, `/cardClasses/${i}`));
  checkClassesTogether(
    p.cardClasses.map((cls, index) => ({ policy: p, index, cls })),
    () => source,
  );

  const withPins = p.cardClasses.findIndex((c) => c.pinReferences.length > 0);
  const timerNames = (p.timers ?? []).map((t) => t.name);
  const twice = timerNames.findIndex((n, i) => timerNames.indexOf(n) !== i);
  if (twice >= 0) throw new PolicyError(source, `/timers/${twice}/name`, `"${timerNames[twice]}" is already the name of another timer`);
  if ((p.ui.actions?.length ?? 0) > 0 && !p.ui.foreground) {
    throw new PolicyError(source, '/ui/foreground', 'must be true: the policy lists ui.actions, and an action runs with the screen held for the domain');
  }
  // hostLink.ops is non-empty, unique and within DOMAIN_HOST_OPS by the schema (minItems, uniqueItems, enum).
  if (p.hostLink !== undefined && !p.ui.foreground) {
    throw new PolicyError(source, '/ui/foreground', 'must be true: the policy grants hostLink, and a host request runs with the screen held for the domain');
  }
  if (withPins >= 0 && !p.ui.pinEntry) {
    throw new PolicyError(
      source,
      '/ui/pinEntry',
      `must be true: card class "${p.cardClasses[withPins]!.name}" lists pinReferences, which only the kernel's secure PIN entry can use`,
    );
  }

  if (p.limits.cpuMsPerCall > p.limits.wallMsPerCall) {
    throw new PolicyError(
      source,
      '/limits/cpuMsPerCall',
      `(${p.limits.cpuMsPerCall} ms) exceeds wallMsPerCall (${p.limits.wallMsPerCall} ms); CPU time cannot exceed wall time, so the CPU budget would never apply`,
    );
  }
  if (p.limits.handlerDeadlineMs < p.limits.wallMsPerCall) {
    throw new PolicyError(
      source,
      '/limits/handlerDeadlineMs',
      `(${p.limits.handlerDeadlineMs} ms) is shorter than wallMsPerCall (${p.limits.wallMsPerCall} ms); the deadline covers the whole call and must be at least as long`,
    );
  }

  const endpoints = new Map<string, number>();
  p.network.endpoints.forEach((e, i) => {
    const prev = endpoints.get(e.name);
    if (prev !== undefined) {
      throw new PolicyError(source, `/network/endpoints/${i}/name`, `endpoint name "${e.name}" is already used by /network/endpoints/${prev}`);
    }
    endpoints.set(e.name, i);
  });

  const targets = new Map<string, number>();
  p.intents.request.forEach((g, i) => {
    if (g.target === p.domain) {
      throw new PolicyError(source, `/intents/request/${i}/target`, `a domain cannot request intents from itself ("${g.target}")`);
    }
    const prev = targets.get(g.target);
    if (prev !== undefined) {
      throw new PolicyError(source, `/intents/request/${i}/target`, `target "${g.target}" is already granted at /intents/request/${prev}; merge the actions`);
    }
    targets.set(g.target, i);
    const actions = new Set<string>();
    g.actions.forEach((a, j) => {
      if (actions.has(a)) throw new PolicyError(source, `/intents/request/${i}/actions/${j}`, `duplicates action "${a}"`);
      actions.add(a);
    });
  });
  const handled = new Map<string, number>();
  p.intents.handle.forEach((h, i) => {
    const prev = handled.get(h.action);
    if (prev !== undefined) {
      throw new PolicyError(source, `/intents/handle/${i}/action`, `action "${h.action}" is already handled at /intents/handle/${prev}`);
    }
    handled.set(h.action, i);
  });
}

// ---------------------------------------------------------------------------------------------
// Public API

const sources = new WeakMap<Policy, string>();

/** Where a validated policy came from (file, package path or built-in name), for error messages. */
export function policySource(policy: Policy): string {
  return sources.get(policy) ?? `policy of domain "${policy.domain}"`;
}

/**
 * Validate already-parsed JSON as a policy. `source` names it in errors (usually the file path).
 * Returns a normalized, deep-frozen Policy; throws PolicyError on anything wrong.
 */
export function validatePolicy(json: unknown, source: string): Policy {
  let ok: boolean;
  try {
    ok = validateSchema(json) as boolean;
  } catch (err) {
    // Only non-JSON input (getters that throw, exotic objects) can get here.
    throw new PolicyError(source, '', `is not plain JSON data (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!ok) {
    const first = validateSchema.errors?.[0];
    throw first ? schemaErrorToPolicyError(source, first) : new PolicyError(source, '', 'does not match the policy schema');
  }
  const policy = normalize(json as RawPolicy);
  checkPolicySemantics(source, policy);
  deepFreeze(policy);
  sources.set(policy, source);
  return policy;
}

/** Parse and validate policy bytes (UTF-8 JSON), as read from a file or a package. */
export function parsePolicyBytes(bytes: Uint8Array, source: string): Policy {
  if (bytes.byteLength > MAX_POLICY_BYTES) {
    throw new PolicyError(source, '', `is ${bytes.byteLength} bytes; policies are limited to ${MAX_POLICY_BYTES} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new PolicyError(source, '', 'is not valid UTF-8 text');
  }
  let json: unknown;
  try {
    json = parseStrictJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new PolicyError(source, err.pointer, err.message);
    throw err;
  }
  return validatePolicy(json, source);
}

export function loadPolicyFile(path: string): Policy {
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new PolicyError(path, '', 'is not a regular file');
    if (st.size > MAX_POLICY_BYTES) {
      throw new PolicyError(path, '', `is ${st.size} bytes; policies are limited to ${MAX_POLICY_BYTES} bytes`);
    }
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyError(path, '', code === 'ENOENT' ? 'cannot be read: no such file' : `cannot be read (${code ?? String(err)})`);
  }
  return parsePolicyBytes(bytes, path);
}

/**
 * Rules across a set of policies that will run together: unique domains, card classes and AIDs
 * owned by one domain, ATR overlaps resolvable by AID, and every intent request answerable.
 */
export function checkPolicySet(policies: readonly Policy[]): void {
  const byDomain = new Map<string, Policy>();
  for (const p of policies) {
    const prev = byDomain.get(p.domain);
    if (prev) {
      throw new PolicyError(policySource(p), '/domain', `domain "${p.domain}" is already defined by ${policySource(prev)}; domain ids must be unique`);
    }
    byDomain.set(p.domain, p);
  }
  checkClassesTogether(
    policies.flatMap((policy) => policy.cardClasses.map((cls, index) => ({ policy, index, cls }))),
    policySource,
  );
  // The host link serves one domain: two policies claiming it would leave the kernel to guess.
  const withHostLink = policies.filter((p) => p.hostLink !== undefined);
  if (withHostLink.length > 1) {
    const [first, second] = withHostLink as [Policy, Policy];
    throw new PolicyError(
      policySource(second),
      '/hostLink',
      `domain "${second.domain}" claims the host link, but domain "${first.domain}" (${policySource(first)}) already holds it; only one domain may serve the practice computer — remove hostLink from one of the two policies`,
    );
  }
  for (const p of policies) {
    p.intents.request.forEach((g, i) => {
      const target = byDomain.get(g.target);
      if (!target) {
        throw new PolicyError(
          policySource(p),
          `/intents/request/${i}/target`,
          `no policy for domain "${g.target}" is loaded (loaded: ${[...byDomain.keys()].join(', ') || 'none'})`,
        );
      }
      const handles = new Set(target.intents.handle.map((h) => h.action));
      g.actions.forEach((a, j) => {
        if (!handles.has(a)) {
          throw new PolicyError(
            policySource(p),
            `/intents/request/${i}/actions/${j}`,
            `domain "${g.target}" does not handle action "${a}" (its policy ${policySource(target)} handles: ${[...handles].join(', ') || 'nothing'})`,
          );
        }
      });
    });
  }
}

/** Load every *.json policy in a directory (except the schema) and check them as one set. */
export function loadPolicyDir(dir: string): { policies: Policy[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyError(dir, '', code === 'ENOENT' ? 'policy directory does not exist' : `policy directory cannot be read (${code ?? String(err)})`);
  }
  const files = names.filter((n) => n.endsWith('.json') && n !== 'policy.schema.json').sort();
  const policies = files.map((n) => loadPolicyFile(join(dir, n)));
  checkPolicySet(policies);
  return { policies };
}

/**
 * The policy that grants nothing, for `di eval` and for applets run without a policy: no cards,
 * no network, no intents, no UI, no store, default (small) limits.
 */
export function nothingPolicy(domain: string): Policy {
  return validatePolicy(
    {
      schemaVersion: 1,
      domain,
      description: 'Built-in policy that grants nothing.',
      applet: { id: domain },
      cardClasses: [],
      store: { quotaBytes: 0 },
      network: { endpoints: [] },
      intents: { request: [], handle: [] },
      ui: { foreground: false, pinEntry: false },
    },
    `built-in nothing policy for "${domain}"`,
  );
}
