/**
 * EMV card profiles: the JSON schema the registry checks, and the semantic checks a schema cannot
 * express (Luhn digit, dates, DOL syntax, tags the card logic needs). Errors name the field; a PAN
 * or PIN is never quoted.
 */
import { CardProfileError } from '../../registry.js';
import { fromHex } from '../../../../platform/sdk/hex.js';
import { parseDol, type DolEntry } from './dol.js';

export type EmvDecision = 'approve-offline' | 'online' | 'decline';

export interface EmvApplicationProfile {
  aid: string;
  label: string;
  preferredName?: string;
  /** 1 (highest) .. 15, tag 87 bits 4–1. */
  priority: number;
  /** Tag 87 bit 8: the cardholder must confirm this application. */
  confirmationRequired?: boolean;
  /** PDOL (tag 9F38), hex; empty or absent: no PDOL, GPO data is 83 00. */
  pdolHex?: string;
}

export interface EmvProfile {
  kind: 'emv';
  description: string;
  atrHex?: string;
  /** Whether the card carries the PSE 1PAY.SYS.DDF01. */
  pse: boolean;
  /** Language preference (5F2D), e.g. "fren". */
  language?: string;
  cardholder: {
    name: string;
    pan: string;
    panSequenceNumber: number;
    /** YYYY-MM: the application expires at the end of this month. */
    expiry: string;
    /** YYYY-MM: effective from the first day of this month. */
    effective: string;
    serviceCode: string;
    /** ISO 3166 numeric, 4 digits (5F28). */
    issuerCountryCode: string;
    /** ISO 4217 numeric, 4 digits (9F42). */
    currencyCode: string;
  };
  pin: { value: string; maxTries: number; triesLeft?: number };
  applications: EmvApplicationProfile[];
  /** CVM list (8E) hex; default: offline plaintext PIN, then signature. */
  cvmListHex?: string;
  /** Application Usage Control (9F07), 2 bytes hex. */
  aucHex?: string;
  iac: { defaultHex: string; denialHex: string; onlineHex: string };
  oda: Array<'sda' | 'dda'>;
  /** 1: GPO, GENERATE AC, INTERNAL AUTHENTICATE answer in format 1 (tag 80); 2: in template 77. */
  responseFormat?: 1 | 2;
  cdol1Hex?: string;
  cdol2Hex?: string;
  risk: {
    decision: EmvDecision;
    /** For approve-offline: TC up to this amount (minor units), ARQC above. */
    offlineLimit?: number;
    /** AAC when the offline PIN has not been verified in this transaction. */
    requirePinVerified?: boolean;
    /** AAC when the transaction date (9A in CDOL1) is after the expiry date. */
    declineIfExpired?: boolean;
    /** Second GENERATE AC: TC with ARC Y3 (unable to go online). */
    approveWhenUnableOnline?: boolean;
    /** Second GENERATE AC: AAC unless a valid ARPC came in tag 91. Default true. */
    requireIssuerAuthentication?: boolean;
  };
  /** Initial ATC (default 0). */
  atc?: number;
  processingMs?: { default?: number; byIns?: Record<string, number> };
}

const hexString = { type: 'string', pattern: '^([0-9A-Fa-f]{2} ?)*$' };
const hexBytes = (n: number) => ({ type: 'string', pattern: `^([0-9A-Fa-f]{2} ?){${n}}$` });

export const EMV_PROFILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'description', 'pse', 'cardholder', 'pin', 'applications', 'iac', 'oda', 'risk'],
  properties: {
    kind: { const: 'emv' },
    description: { type: 'string', minLength: 1 },
    atrHex: { type: 'string', pattern: '^3[Bb]( ?[0-9A-Fa-f]{2}){1,32}$' },
    pse: { type: 'boolean' },
    language: { type: 'string', pattern: '^([a-z]{2}){1,4}$' },
    cardholder: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'pan', 'panSequenceNumber', 'expiry', 'effective', 'serviceCode', 'issuerCountryCode', 'currencyCode'],
      properties: {
        name: { type: 'string', pattern: '^[A-Z0-9 /.-]{2,26}$' },
        pan: { type: 'string', pattern: '^[0-9]{12,19}$' },
        panSequenceNumber: { type: 'integer', minimum: 0, maximum: 99 },
        expiry: { type: 'string', pattern: '^20[0-9]{2}-(0[1-9]|1[0-2])$' },
        effective: { type: 'string', pattern: '^20[0-9]{2}-(0[1-9]|1[0-2])$' },
        serviceCode: { type: 'string', pattern: '^[0-9]{3}$' },
        issuerCountryCode: { type: 'string', pattern: '^[0-9]{4}$' },
        currencyCode: { type: 'string', pattern: '^[0-9]{4}$' },
      },
    },
    pin: {
      type: 'object',
      additionalProperties: false,
      required: ['value', 'maxTries'],
      properties: {
        value: { type: 'string', pattern: '^[0-9]{4,12}$' },
        maxTries: { type: 'integer', minimum: 1, maximum: 15 },
        triesLeft: { type: 'integer', minimum: 0, maximum: 15 },
      },
    },
    applications: {
      type: 'array',
      minItems: 1,
      maxItems: 8,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['aid', 'label', 'priority'],
        properties: {
          aid: { type: 'string', pattern: '^([0-9A-Fa-f]{2}){5,16}$' },
          label: { type: 'string', pattern: '^[\\x20-\\x7e]{1,16}$' },
          preferredName: { type: 'string', pattern: '^[\\x20-\\x7e]{1,16}$' },
          priority: { type: 'integer', minimum: 1, maximum: 15 },
          confirmationRequired: { type: 'boolean' },
          pdolHex: hexString,
        },
      },
    },
    cvmListHex: hexString,
    aucHex: hexBytes(2),
    iac: {
      type: 'object',
      additionalProperties: false,
      required: ['defaultHex', 'denialHex', 'onlineHex'],
      properties: { defaultHex: hexBytes(5), denialHex: hexBytes(5), onlineHex: hexBytes(5) },
    },
    oda: { type: 'array', uniqueItems: true, items: { enum: ['sda', 'dda'] } },
    responseFormat: { enum: [1, 2] },
    cdol1Hex: hexString,
    cdol2Hex: hexString,
    risk: {
      type: 'object',
      additionalProperties: false,
      required: ['decision'],
      properties: {
        decision: { enum: ['approve-offline', 'online', 'decline'] },
        offlineLimit: { type: 'integer', minimum: 0, maximum: 999999999999 },
        requirePinVerified: { type: 'boolean' },
        declineIfExpired: { type: 'boolean' },
        approveWhenUnableOnline: { type: 'boolean' },
        requireIssuerAuthentication: { type: 'boolean' },
      },
    },
    atc: { type: 'integer', minimum: 0, maximum: 65534 },
    processingMs: {
      type: 'object',
      additionalProperties: false,
      properties: {
        default: { type: 'integer', minimum: 0, maximum: 60000 },
        byIns: { type: 'object', patternProperties: { '^[0-9A-Fa-f]{2}$': { type: 'integer', minimum: 0, maximum: 60000 } }, additionalProperties: false },
      },
    },
  },
} as const;

/** Visa-style minimum CDOL1 (EMV Book 2 table 26 data): amount, other amount, country, TVR, currency, date, type, UN. */
export const DEFAULT_CDOL1 = '9F0206 9F0306 9F1A02 9505 5F2A02 9A03 9C01 9F3704';
/** Issuer Authentication Data (ARPC ‖ ARC), ARC, TVR, UN. */
export const DEFAULT_CDOL2 = '910A 8A02 9505 9F3704';
/** X = Y = 0; plaintext PIN by ICC if supported (next rule on failure), then signature if supported. */
export const DEFAULT_CVM_LIST = '00000000 00000000 4103 1E03';
export const DEFAULT_ATR = '3B 65 00 00 44 49 45 4D 56';

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 0x30;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export interface CheckedProfile {
  profile: EmvProfile;
  cdol1: DolEntry[];
  cdol2: DolEntry[];
  pdols: DolEntry[][];
}

function dol(source: string, field: string, hex: string, required: number[]): DolEntry[] {
  let entries: DolEntry[];
  try {
    entries = parseDol(fromHex(hex));
  } catch (e) {
    throw new CardProfileError(source, field, (e as Error).message);
  }
  for (const tag of required) {
    if (!entries.some((d) => d.tag === tag)) throw new CardProfileError(source, field, `must contain tag ${tag.toString(16).toUpperCase()} (the card logic reads it)`);
  }
  return entries;
}

/** Checks beyond the schema. The registry has already run the schema. */
export function checkEmvProfile(data: unknown, source: string): CheckedProfile {
  const p = data as EmvProfile;
  const ch = p.cardholder;
  if (!luhnValid(ch.pan)) throw new CardProfileError(source, '/cardholder/pan', 'Luhn check digit is wrong');
  if (ch.effective > ch.expiry) throw new CardProfileError(source, '/cardholder/effective', 'is after the expiry');
  if (p.pin.triesLeft !== undefined && p.pin.triesLeft > p.pin.maxTries) {
    throw new CardProfileError(source, '/pin/triesLeft', `exceeds maxTries ${p.pin.maxTries}`);
  }
  const seen = new Set<string>();
  p.applications.forEach((a, i) => {
    const aid = a.aid.toUpperCase();
    if (seen.has(aid)) throw new CardProfileError(source, `/applications/${i}/aid`, 'used twice');
    seen.add(aid);
  });
  if (p.risk.decision === 'approve-offline' && p.risk.offlineLimit === undefined) {
    throw new CardProfileError(source, '/risk/offlineLimit', 'required when decision is approve-offline');
  }
  if (p.cvmListHex !== undefined) {
    const n = fromHex(p.cvmListHex).length;
    if (n < 10 || n % 2 !== 0) throw new CardProfileError(source, '/cvmListHex', `X, Y (8 bytes) then 2-byte rules; got ${n} bytes`);
  }
  const cdol1 = dol(source, '/cdol1Hex', p.cdol1Hex ?? DEFAULT_CDOL1, [0x9f02, 0x9a]);
  const cdol2 = dol(source, '/cdol2Hex', p.cdol2Hex ?? DEFAULT_CDOL2, [0x8a]);
  const pdols = p.applications.map((a, i) => dol(source, `/applications/${i}/pdolHex`, a.pdolHex ?? '', []));
  return { profile: p, cdol1, cdol2, pdols };
}
