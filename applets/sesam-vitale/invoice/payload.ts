/**
 * Strict checks of what crosses a trust boundary into the applet: the practitioner's action payloads
 * (actions.ts) and the practice computer's day data over the host link (tla/day-data.ts) share them,
 * so an insured or a beneficiary is held to the same rules wherever it comes from. Unknown fields,
 * wrong types and out-of-range values throw PayloadError naming the field (`patients[2].insured.nir`).
 * Pure: no platform call.
 */
import type { Amc, Beneficiary, Insured, Rights } from '../model.js';
import { isIsoDate } from '../rules/dates.js';

export type Obj = Record<string, unknown>;

/** A refused payload: `field` is the path of the faulty value, `message` says what is expected (French). */
export class PayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PayloadError';
  }
}

export function bad(field: string, message: string): never {
  throw new PayloadError(field, message);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function obj(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (!isObj(v)) bad(field, `${field || 'la requête'} : objet attendu`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) bad(field ? `${field}.${k}` : k, `champ inconnu « ${k} »`);
  return v;
}

export function str(o: Obj, k: string, field: string, re: RegExp, what: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) bad(`${field}${k}`, `${what} invalide`);
  return v;
}

export function optStr(o: Obj, k: string, field: string, re: RegExp, what: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, field, re, what);
}

export function bool(o: Obj, k: string, field: string): boolean {
  if (typeof o[k] !== 'boolean') bad(`${field}${k}`, `${k} : vrai ou faux attendu`);
  return o[k] as boolean;
}

export function int(o: Obj, k: string, field: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(`${field}${k}`, `${k} : entier de ${min} à ${max} attendu`);
  return v;
}

export function optInt(o: Obj, k: string, field: string, min: number, max: number): number | undefined {
  return o[k] === undefined ? undefined : int(o, k, field, min, max);
}

export function date(o: Obj, k: string, field: string): string {
  const v = o[k];
  if (!isIsoDate(v)) bad(`${field}${k}`, `${k} : date AAAA-MM-JJ attendue`);
  return v as string;
}

export const NIR = /^[0-9]{5}([0-9]{2}|2[AB])[0-9]{8}$/;
export const NAME = /^[A-Z0-9][A-Z0-9 '-]{0,26}$/;

/** An insured as the Vitale card gives it. `prefix` is the path of the value's parent (`patients[0].`). */
export function insured(v: unknown, prefix = ''): Insured {
  const o = obj(v, `${prefix}insured`, ['nir', 'regime', 'caisse', 'centre', 'codeGestion']);
  const f = `${prefix}insured.`;
  return {
    nir: str(o, 'nir', f, NIR, 'NIR'),
    regime: str(o, 'regime', f, /^[0-9]{2}$/, 'régime'),
    caisse: str(o, 'caisse', f, /^[0-9]{3}$/, 'caisse'),
    centre: str(o, 'centre', f, /^[0-9]{4}$/, 'centre'),
    codeGestion: str(o, 'codeGestion', f, /^[0-9]{2}$/, 'code gestion'),
  };
}

/** A beneficiary as the Vitale card gives it; `name` is the value's own path (`beneficiary`, `patients[0].beneficiaries[1]`). */
export function beneficiary(v: unknown, name = 'beneficiary'): Beneficiary {
  const o = obj(v, name, ['surname', 'usualName', 'firstName', 'birthDate', 'birthRank', 'quality', 'nir', 'nationality', 'rights', 'amc']);
  const f = `${name}.`;
  const ro = obj(o.rights, `${name}.rights`, ['start', 'end', 'ald', 'exoneration']);
  const rights: Rights = { start: date(ro, 'start', `${f}rights.`), ald: bool(ro, 'ald', `${f}rights.`), exoneration: str(ro, 'exoneration', `${f}rights.`, /^[0-9A-Z]$/, 'exonération') };
  if (ro.end !== undefined) rights.end = date(ro, 'end', `${f}rights.`);
  const b: Beneficiary = {
    surname: str(o, 'surname', f, NAME, 'nom'),
    firstName: str(o, 'firstName', f, NAME, 'prénom'),
    birthDate: str(o, 'birthDate', f, /^[0-9]{4}(0[0-9]|1[0-2])([0-2][0-9]|3[01])$/, 'date de naissance AAAAMMJJ'),
    birthRank: int(o, 'birthRank', f, 1, 9),
    quality: str(o, 'quality', f, /^[0-9]{2}$/, 'qualité'),
    nationality: str(o, 'nationality', f, /^[A-Z]{3}$/, 'nationalité'),
    rights,
  };
  const un = optStr(o, 'usualName', f, NAME, 'nom d’usage');
  if (un !== undefined) b.usualName = un;
  const nir = optStr(o, 'nir', f, NIR, 'NIR');
  if (nir !== undefined) b.nir = nir;
  if (o.amc !== undefined) {
    const ao = obj(o.amc, `${name}.amc`, ['number', 'contractType', 'tiersPayant', 'start', 'end', 'name']);
    const af = `${f}amc.`;
    const amc: Amc = {
      number: str(ao, 'number', af, /^[0-9]{8,10}$/, 'numéro AMC'),
      contractType: str(ao, 'contractType', af, /^[0-9]{2}$/, 'type de contrat'),
      tiersPayant: bool(ao, 'tiersPayant', af),
      start: date(ao, 'start', af),
      end: date(ao, 'end', af),
    };
    const an = optStr(ao, 'name', af, /^.{1,40}$/, 'nom de l’AMC');
    if (an !== undefined) amc.name = an;
    b.amc = amc;
  }
  return b;
}
