/**
 * Extra rejections the emulated AMO applies after its fixed checks, kept as data so a test or
 * `di amo --rules FILE` can make an otherwise valid invoice fail (e.g. MCG billed by a nurse) without
 * touching code. Fixed checks (signatures, NIR, dates, rights, amounts) are not rules: they always apply.
 *
 * File format: `{ "reject": [{ "when": { "code": "MCG", "specialite": "24" }, "reason": { "code": "R01",
 * "text": "MCG NON AUTORISE" } }] }`. Every condition of `when` must hold; the first matching rule wins.
 */
import type { InvoiceData, InvoiceKind, Nature } from '../../applets/sesam-vitale/model.js';
import { transliterate } from '../../applets/sesam-vitale/formats/records.js';
import { RULE_CODE_RE, type Reason } from './reasons.js';

export interface RuleCondition {
  /** Some act line has this code. */
  code?: string;
  /** The practitioner's specialty. */
  specialite?: string;
  billingNumber?: string;
  kind?: InvoiceKind;
  nature?: Nature;
  degraded?: boolean;
  /** Total charged strictly above this many centimes. */
  chargedAbove?: number;
}

export interface RejectRule {
  when: RuleCondition;
  reason: Reason;
}

export interface AmoRules {
  reject: RejectRule[];
}

/** None by default: the fixed checks are the emulated caisse's whole policy unless a test adds some. */
export function defaultAmoRules(): AmoRules {
  return { reject: [] };
}

export function applyAmoRules(rules: AmoRules, d: InvoiceData): Reason | null {
  for (const r of rules.reject) {
    const w = r.when;
    if (w.code !== undefined && !d.pricing.lines.some((l) => l.code === w.code)) continue;
    if (w.specialite !== undefined && d.practitioner.specialite !== w.specialite) continue;
    if (w.billingNumber !== undefined && d.practitioner.billingNumber !== w.billingNumber) continue;
    if (w.kind !== undefined && d.kind !== w.kind) continue;
    if (w.nature !== undefined && d.context.nature !== w.nature) continue;
    if (w.degraded !== undefined && d.degraded !== w.degraded) continue;
    if (w.chargedAbove !== undefined && !(d.pricing.totals.charged > w.chargedAbove)) continue;
    return r.reason;
  }
  return null;
}

const CONDITION_KEYS = ['code', 'specialite', 'billingNumber', 'kind', 'nature', 'degraded', 'chargedAbove'] as const;
/** The ARL invoice text field (formats/arl.ts). */
const TEXT_WIDTH = 90;

/** Validates rules read from a file; errors name the JSON path. */
export function parseAmoRules(v: unknown): AmoRules {
  const fail = (path: string, why: string): never => {
    throw new Error(`AMO rules ${path}: ${why}`);
  };
  const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isObj(v)) return fail('/', 'must be an object');
  for (const k of Object.keys(v)) if (k !== 'reject') fail(`/${k}`, 'unknown field (only "reject")');
  if (!Array.isArray(v.reject)) return fail('/reject', 'must be an array');
  const reject = v.reject.map((r: unknown, i: number): RejectRule => {
    const at = `/reject/${i}`;
    if (!isObj(r)) return fail(at, 'must be an object');
    for (const k of Object.keys(r)) if (k !== 'when' && k !== 'reason') fail(`${at}/${k}`, 'unknown field (only "when" and "reason")');
    const w = r.when;
    if (!isObj(w)) return fail(`${at}/when`, 'must be an object');
    const when: RuleCondition = {};
    for (const k of Object.keys(w)) {
      const p = `${at}/when/${k}`;
      const x = w[k];
      switch (k as (typeof CONDITION_KEYS)[number]) {
        case 'code':
          if (typeof x !== 'string' || !/^[A-Z0-9]{1,8}$/.test(x)) fail(p, 'must be an act code (uppercase letters and digits, 1 to 8)');
          when.code = x as string;
          break;
        case 'specialite':
          if (typeof x !== 'string' || !/^[0-9]{2}$/.test(x)) fail(p, 'must be a two-digit specialty code');
          when.specialite = x as string;
          break;
        case 'billingNumber':
          if (typeof x !== 'string' || !/^[0-9]{9}$/.test(x)) fail(p, 'must be a nine-digit billing number');
          when.billingNumber = x as string;
          break;
        case 'kind':
          if (x !== 'FSE' && x !== 'DRE') fail(p, 'must be "FSE" or "DRE"');
          when.kind = x as InvoiceKind;
          break;
        case 'nature':
          if (x !== 'maladie' && x !== 'maternite' && x !== 'at') fail(p, 'must be "maladie", "maternite" or "at"');
          when.nature = x as Nature;
          break;
        case 'degraded':
          if (typeof x !== 'boolean') fail(p, 'must be a boolean');
          when.degraded = x as boolean;
          break;
        case 'chargedAbove':
          if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(p, 'must be a non-negative integer (centimes)');
          when.chargedAbove = x as number;
          break;
        default:
          fail(p, `unknown condition (one of ${CONDITION_KEYS.join(', ')})`);
      }
    }
    if (Object.keys(when).length === 0) fail(`${at}/when`, 'needs at least one condition (a rule matching everything is surely a mistake)');
    const reason = r.reason;
    if (!isObj(reason)) return fail(`${at}/reason`, 'must be an object { code, text }');
    for (const k of Object.keys(reason)) if (k !== 'code' && k !== 'text') fail(`${at}/reason/${k}`, 'unknown field (only "code" and "text")');
    if (typeof reason.code !== 'string' || !RULE_CODE_RE.test(reason.code)) fail(`${at}/reason/code`, 'must be F99 or R followed by two digits (R01…): the other L and F codes belong to the fixed checks');
    const t = typeof reason.text === 'string' ? transliterate(reason.text) : undefined;
    if (t === undefined || t === '' || t.length > TEXT_WIDTH) fail(`${at}/reason/text`, `must be 1 to ${TEXT_WIDTH} characters the ARL can carry (letters, accented or not, digits, space and ' - . / , : ( ) + % &)`);
    return { when, reason: { code: reason.code as string, text: reason.text as string } };
  });
  return { reject };
}
