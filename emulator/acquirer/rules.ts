/**
 * The emulated issuer's decisions, kept as data so a test or `di acquirer --rules FILE` can change
 * them without touching code. The cryptogram check is not a rule: an ARQC that does not verify is
 * always answered A1, whatever the rules say.
 */

/** Response codes of the acquirer protocol (docs/acquirer.md). */
export type ResponseCode = '00' | '05' | '51' | '54' | '55' | '91' | 'A1';
export const RESPONSE_CODES: readonly ResponseCode[] = ['00', '05', '51', '54', '55', '91', 'A1'];

/** Codes a rule may give: '00' is the absence of a matching rule, 'A1' belongs to the cryptogram check. */
export type RuleCode = Exclude<ResponseCode, '00' | 'A1'>;

export type Rule =
  /** Amount (centimes) strictly above `limit`. */
  | { kind: 'amount-above'; limit: number; code: RuleCode }
  /** The PAN is one of `pans` (e.g. accounts without funds). */
  | { kind: 'pan-in'; pans: string[]; code: RuleCode }
  /** The PAN starts with one of `prefixes` (a BIN range). */
  | { kind: 'bin-in'; prefixes: string[]; code: RuleCode }
  /** The request carries the card's expiry (`expiry`, YYMMDD or YYMM) and the transaction date is after it. */
  | { kind: 'expired'; code: RuleCode }
  /** The CVM results say an offline PIN was the CVM performed and it failed. */
  | { kind: 'pin-failed'; code: RuleCode };

export interface AcquirerRules {
  /**
   * BIN prefixes whose issuer is "unreachable": answered 91 before the cryptogram is looked at (the
   * issuer holds the keys, so an unreachable issuer cannot check it).
   */
  issuerUnavailable: string[];
  /** Checked in order after the cryptogram verified; the first match decides. */
  rules: Rule[];
}

/** 1 500,00 EUR: above it the emulated issuer does not honour the payment. */
export const DEFAULT_AMOUNT_LIMIT = 150_000;

export function defaultRules(): AcquirerRules {
  return {
    issuerUnavailable: [],
    rules: [
      { kind: 'expired', code: '54' },
      { kind: 'pin-failed', code: '55' },
      { kind: 'pan-in', pans: [], code: '51' },
      { kind: 'amount-above', limit: DEFAULT_AMOUNT_LIMIT, code: '05' },
    ],
  };
}

/** What the rules look at, already validated by the server. */
export interface DecisionFacts {
  pan: string;
  amount: number;
  /** Transaction date YYMMDD. */
  date: string;
  /** Card expiry YYMMDD when the request carried it. */
  expiry?: string;
  cvmResults: Uint8Array;
}

export interface RuleMatch {
  code: RuleCode;
  /** Why, for the journal; never quotes the PAN. */
  reason: string;
}

/** CVM codes (EMV Book 3 C3, low 6 bits) that are an offline PIN checked by the card. */
const OFFLINE_PIN_CVMS = new Set([0x01, 0x03, 0x04, 0x05]);

export function issuerUnavailable(rules: AcquirerRules, pan: string): boolean {
  return rules.issuerUnavailable.some((p) => pan.startsWith(p));
}

export function applyRules(rules: AcquirerRules, f: DecisionFacts): RuleMatch | null {
  for (const r of rules.rules) {
    switch (r.kind) {
      case 'amount-above':
        if (f.amount > r.limit) return { code: r.code, reason: `amount ${f.amount} above the limit ${r.limit}` };
        break;
      case 'pan-in':
        if (r.pans.includes(f.pan)) return { code: r.code, reason: 'account listed' };
        break;
      case 'bin-in':
        if (r.prefixes.some((p) => f.pan.startsWith(p))) return { code: r.code, reason: 'BIN range listed' };
        break;
      case 'expired':
        if (f.expiry !== undefined && f.date > f.expiry) return { code: r.code, reason: `card expired (${f.expiry.slice(0, 4)})` };
        break;
      case 'pin-failed':
        if (OFFLINE_PIN_CVMS.has(f.cvmResults[0]! & 0x3f) && f.cvmResults[2] === 0x01) return { code: r.code, reason: 'offline PIN failed' };
        break;
    }
  }
  return null;
}

/** Validates rules read from a file; errors name the JSON path. */
export function parseRules(v: unknown): AcquirerRules {
  const fail = (path: string, why: string): never => {
    throw new Error(`acquirer rules ${path}: ${why}`);
  };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('/', 'must be an object');
  const o = v as Record<string, unknown>;
  const digitsList = (x: unknown, path: string): string[] => {
    if (!Array.isArray(x)) return fail(path, 'must be an array of digit strings');
    return x.map((s, i) => (typeof s === 'string' && /^[0-9]{1,19}$/.test(s) ? s : fail(`${path}/${i}`, 'must be 1 to 19 digits')));
  };
  const issuer = o.issuerUnavailable === undefined ? [] : digitsList(o.issuerUnavailable, '/issuerUnavailable');
  if (!Array.isArray(o.rules)) fail('/rules', 'must be an array');
  const rules = (o.rules as unknown[]).map((r, i): Rule => {
    const path = `/rules/${i}`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return fail(path, 'must be an object');
    const x = r as Record<string, unknown>;
    const code = x.code;
    if (typeof code !== 'string' || !RESPONSE_CODES.includes(code as ResponseCode) || code === '00' || code === 'A1') {
      return fail(`${path}/code`, 'must be one of 05 51 54 55 91');
    }
    const c = code as RuleCode;
    switch (x.kind) {
      case 'amount-above':
        if (typeof x.limit !== 'number' || !Number.isSafeInteger(x.limit) || x.limit < 0) return fail(`${path}/limit`, 'must be a non-negative integer (centimes)');
        return { kind: 'amount-above', limit: x.limit, code: c };
      case 'pan-in':
        return { kind: 'pan-in', pans: digitsList(x.pans, `${path}/pans`), code: c };
      case 'bin-in':
        return { kind: 'bin-in', prefixes: digitsList(x.prefixes, `${path}/prefixes`), code: c };
      case 'expired':
        return { kind: 'expired', code: c };
      case 'pin-failed':
        return { kind: 'pin-failed', code: c };
      default:
        return fail(`${path}/kind`, 'must be one of amount-above pan-in bin-in expired pin-failed');
    }
  });
  return { issuerUnavailable: issuer, rules };
}
