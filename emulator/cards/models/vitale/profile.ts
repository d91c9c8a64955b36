/**
 * Vitale 2 profiles: people and rights as JSON (never hex), checked by a JSON schema and then by
 * the rules a schema cannot express (NIR keys, calendar dates, twins told apart by rank). Every
 * refusal names the file and the JSON pointer of the field, because profiles are edited by hand.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { CardProfileError } from '../../registry.js';
import { checkNir } from './nir.js';

export const VITALE_KIND = 'vitale-2';

/** Qualité du bénéficiaire (public SESAM-Vitale codes). */
export const VITALE_QUALITIES = {
  '00': 'assuré',
  '01': 'ascendant, descendant, collatéral ou allié',
  '02': 'conjoint',
  '03': 'conjoint divorcé',
  '04': 'concubin',
  '05': 'conjoint séparé',
  '06': 'enfant',
  '08': 'conjoint veuf',
  '09': 'autre ayant droit',
} as const;
export type VitaleQuality = keyof typeof VITALE_QUALITIES;

export interface VitaleRights {
  /** AAAAMMJJ. */
  start: string;
  /** AAAAMMJJ; absent: open-ended. */
  end?: string;
  /** Affection de longue durée. Default false. */
  ald?: boolean;
  /** Code de justification d'exonération du ticket modérateur, one character. Default "0" (none). */
  exoneration?: string;
}

export interface VitaleAmc {
  /** Numéro d'organisme complémentaire, 8 to 10 digits. */
  number: string;
  /** Type de contrat, 2 digits (codes invented here, see docs/cards/vitale.md). */
  contractType: string;
  tiersPayant: boolean;
  start: string;
  end: string;
  name?: string;
}

export interface VitaleBeneficiary {
  surname: string;
  usualName?: string;
  firstName: string;
  /** AAAAMMJJ, "lunar" dates allowed (month 00..12, day 00..31, no calendar check). */
  birthDate: string;
  /** Rang gémellaire: 1 for a single birth, 1, 2, ... for twins in birth order. */
  birthRank: number;
  quality: VitaleQuality;
  /** 15 characters with key; for qualité 00, defaults to the insured's NIR. */
  nir?: string;
  /** ISO 3166-1 alpha-3. */
  nationality: string;
  rights: VitaleRights;
  amc?: VitaleAmc;
}

export interface VitaleProfile {
  kind: typeof VITALE_KIND;
  description: string;
  protocol?: 'T=0' | 'T=1';
  /** Negative-test cards only: keep NIRs whose key is wrong (refused otherwise). */
  allowInvalidNir?: boolean;
  timing?: { commandMs?: number; signatureMs?: number };
  card: { serialNumber: string; issueDate: string; issuer: string };
  insured: { nir: string; regime: string; caisse: string; centre: string; codeGestion: string };
  beneficiaries: VitaleBeneficiary[];
}

const CALENDAR_DATE = '^[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$';
/** Lunar birth dates exist (unknown or impossible day/month recorded as such): no calendar check. */
const BIRTH_DATE = '^[0-9]{4}(0[0-9]|1[0-2])([0-2][0-9]|3[01])$';
/** Shape only; the key is checked after the schema so the error can say which key was expected. */
const NIR15 = '^[0-9]{5}([0-9]{2}|2[AB])[0-9]{8}$';
const NAME = { type: 'string', minLength: 1, maxLength: 27, pattern: "^[A-Z][A-Z '-]*$" } as const;
const DATE = { type: 'string', pattern: CALENDAR_DATE } as const;

const RIGHTS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['start'],
  properties: {
    start: DATE,
    end: DATE,
    ald: { type: 'boolean' },
    exoneration: { type: 'string', pattern: '^[0-9A-Z]$' },
  },
} as const;

const AMC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['number', 'contractType', 'tiersPayant', 'start', 'end'],
  properties: {
    number: { type: 'string', pattern: '^[0-9]{8,10}$' },
    contractType: { type: 'string', pattern: '^[0-9]{2}$' },
    tiersPayant: { type: 'boolean' },
    start: DATE,
    end: DATE,
    name: { type: 'string', minLength: 1, maxLength: 32, pattern: "^[A-Z0-9][A-Z0-9 '-]*$" },
  },
} as const;

const BENEFICIARY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['surname', 'firstName', 'birthDate', 'birthRank', 'quality', 'nationality', 'rights'],
  properties: {
    surname: NAME,
    usualName: NAME,
    firstName: NAME,
    birthDate: { type: 'string', pattern: BIRTH_DATE },
    birthRank: { type: 'integer', minimum: 1, maximum: 9 },
    quality: { enum: Object.keys(VITALE_QUALITIES) },
    nir: { type: 'string', pattern: NIR15 },
    nationality: { type: 'string', pattern: '^[A-Z]{3}$' },
    rights: RIGHTS_SCHEMA,
    amc: AMC_SCHEMA,
  },
} as const;

/** JSON Schema (draft-07) of a vitale-2 profile, as given to the model registry. */
export const VITALE_PROFILE_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'description', 'card', 'insured', 'beneficiaries'],
  properties: {
    kind: { const: VITALE_KIND },
    description: { type: 'string', minLength: 1 },
    protocol: { enum: ['T=0', 'T=1'] },
    allowInvalidNir: { type: 'boolean' },
    timing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        commandMs: { type: 'number', minimum: 0, maximum: 10000 },
        signatureMs: { type: 'number', minimum: 0, maximum: 10000 },
      },
    },
    card: {
      type: 'object',
      additionalProperties: false,
      required: ['serialNumber', 'issueDate', 'issuer'],
      properties: {
        serialNumber: { type: 'string', pattern: '^[0-9]{10}$' },
        issueDate: DATE,
        issuer: { type: 'string', minLength: 1, maxLength: 32, pattern: "^[A-Z0-9][A-Z0-9 '-]*$" },
      },
    },
    insured: {
      type: 'object',
      additionalProperties: false,
      required: ['nir', 'regime', 'caisse', 'centre', 'codeGestion'],
      properties: {
        nir: { type: 'string', pattern: NIR15 },
        regime: { type: 'string', pattern: '^[0-9]{2}$' },
        caisse: { type: 'string', pattern: '^[0-9]{3}$' },
        centre: { type: 'string', pattern: '^[0-9]{4}$' },
        codeGestion: { type: 'string', pattern: '^[0-9]{2}$' },
      },
    },
    beneficiaries: { type: 'array', minItems: 1, maxItems: 16, items: BENEFICIARY_SCHEMA },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validate = ajv.compile(VITALE_PROFILE_SCHEMA);

function schemaError(file: string, e: ErrorObject | undefined): CardProfileError {
  if (!e) return new CardProfileError(file, '/', 'does not match the vitale-2 schema');
  const params = e.params as Record<string, unknown>;
  // Point at the missing or unexpected property itself, not at the object holding it.
  const child = typeof params.missingProperty === 'string' ? params.missingProperty : typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
  const field = child !== undefined ? `${e.instancePath}/${child}` : e.instancePath || '/';
  const reason = child !== undefined && e.keyword === 'additionalProperties' ? 'is not a vitale-2 profile field' : e.message ?? 'invalid';
  return new CardProfileError(file, field, reason);
}

function isCalendarDate(d: string): boolean {
  const y = Number(d.slice(0, 4));
  const m = Number(d.slice(4, 6));
  const day = Number(d.slice(6, 8));
  const t = new Date(Date.UTC(y, m - 1, day));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
}

/**
 * Validate a parsed JSON profile and return it typed. `file` is the profile's path (or any name
 * the caller wants errors to carry). Throws CardProfileError(file, field, reason).
 */
export function parseVitaleProfile(json: unknown, file: string): VitaleProfile {
  if (!validate(json)) throw schemaError(file, validate.errors?.[0]);
  const p = json as unknown as VitaleProfile;
  const fail = (field: string, reason: string): never => {
    throw new CardProfileError(file, field, reason);
  };
  const dates: Array<[string, string | undefined]> = [['/card/issueDate', p.card.issueDate]];
  p.beneficiaries.forEach((b, i) => {
    dates.push([`/beneficiaries/${i}/rights/start`, b.rights.start], [`/beneficiaries/${i}/rights/end`, b.rights.end]);
    if (b.amc) dates.push([`/beneficiaries/${i}/amc/start`, b.amc.start], [`/beneficiaries/${i}/amc/end`, b.amc.end]);
  });
  for (const [field, d] of dates) if (d !== undefined && !isCalendarDate(d)) fail(field, `${d} is not a calendar date`);

  let invalidNirs = 0;
  const nirs: Array<[string, string | undefined]> = [['/insured/nir', p.insured.nir], ...p.beneficiaries.map((b, i): [string, string | undefined] => [`/beneficiaries/${i}/nir`, b.nir])];
  for (const [field, nir] of nirs) {
    if (nir === undefined) continue;
    const check = checkNir(nir);
    if (check.ok) continue;
    if (!p.allowInvalidNir) fail(field, `invalid NIR: ${check.reason ?? 'unknown reason'} (set allowInvalidNir for a negative-test card)`);
    invalidNirs++;
  }
  // A stale flag would let a typo through on the next edit: it must describe the card.
  if (p.allowInvalidNir && invalidNirs === 0) fail('/allowInvalidNir', 'is true but every NIR on the card is valid');

  const assures = p.beneficiaries.map((b, i) => [b, i] as const).filter(([b]) => b.quality === '00');
  if (assures.length > 1) fail(`/beneficiaries/${assures[1]![1]}/quality`, 'a card holds at most one beneficiary of qualité 00 (the insured)');
  for (const [b, i] of assures) {
    if (b.nir !== undefined && b.nir !== p.insured.nir) fail(`/beneficiaries/${i}/nir`, `qualité 00 is the insured: NIR must be the insured's ${p.insured.nir} or absent`);
  }
  const seen = new Map<string, number>();
  p.beneficiaries.forEach((b, i) => {
    // Twins share a birth date; the rank is what tells them apart, so it must differ.
    const key = `${b.birthDate}/${b.birthRank}`;
    const prev = seen.get(key);
    if (prev !== undefined) fail(`/beneficiaries/${i}/birthRank`, `same birth date ${b.birthDate} and rank ${b.birthRank} as /beneficiaries/${prev}: twins need distinct ranks`);
    seen.set(key, i);
    if (b.rights.end !== undefined && b.rights.end < b.rights.start) fail(`/beneficiaries/${i}/rights/end`, `${b.rights.end} is before the start ${b.rights.start}`);
    if (b.amc && b.amc.end < b.amc.start) fail(`/beneficiaries/${i}/amc/end`, `${b.amc.end} is before the start ${b.amc.start}`);
  });
  return p;
}
