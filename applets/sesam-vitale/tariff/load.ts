/**
 * Strict loading of a tariff table given as JSON (the official tables, converted to the shape of
 * types.ts): every field is checked, unknown fields are refused, amounts are integer centimes and every
 * modifier or required code an entry names exists. Errors say where (`ngap.AMI.unit`) and why, so a bad
 * table fails at load and never prices an act.
 */
import { isIsoDate } from '../rules/dates.js';
import type { CcamEntry, ModifierEntry, NgapEntry, NgapKind, TariffTable } from './types.js';

export class TariffTableError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`table tarifaire, ${path} : ${reason}`);
    this.name = 'TariffTableError';
  }
}

type Obj = Record<string, unknown>;
const KINDS: readonly NgapKind[] = ['consultation', 'visite', 'acte', 'majoration', 'deplacement'];
const CODE = /^[A-Z0-9]{1,8}$/;
const SPECIALTY = /^[0-9]{2}$/;

function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TariffTableError(path, 'objet attendu');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new TariffTableError(`${path}.${k}`, 'champ inconnu');
  return v as Obj;
}

function str(v: unknown, path: string, re?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0) throw new TariffTableError(path, 'texte non vide attendu');
  if (re && !re.test(v)) throw new TariffTableError(path, `${JSON.stringify(v)} ne respecte pas ${re.source}`);
  return v;
}

function cents(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TariffTableError(path, 'montant en centimes entier positif attendu');
  return v;
}

function posInt(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TariffTableError(path, 'entier ≥ 1 attendu');
  return v;
}

function strList(v: unknown, path: string, re: RegExp): string[] {
  if (!Array.isArray(v)) throw new TariffTableError(path, 'liste attendue');
  const out = v.map((x, i) => str(x, `${path}[${i}]`, re));
  if (new Set(out).size !== out.length) throw new TariffTableError(path, 'doublon');
  return out;
}

function record<T>(v: unknown, path: string, each: (x: unknown, p: string) => T, keyRe: RegExp): Record<string, T> {
  const o = obj(v, path, Object.keys(v ?? {}));
  const out: Record<string, T> = {};
  for (const [k, x] of Object.entries(o)) {
    if (!keyRe.test(k)) throw new TariffTableError(`${path}.${k}`, 'code invalide');
    out[k] = each(x, `${path}.${k}`);
  }
  return out;
}

function coefficient(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || Math.round(v * 100) !== v * 100) throw new TariffTableError(path, 'coefficient > 0 à 2 décimales au plus attendu');
  return v;
}

function ngapEntry(v: unknown, p: string): NgapEntry {
  const o = obj(v, p, ['label', 'unit', 'unitBySpecialty', 'professions', 'maxPerDay', 'kind', 'coefficient', 'maxQuantity', 'modifiers', 'requires']);
  const e: NgapEntry = { label: str(o.label, `${p}.label`), unit: cents(o.unit, `${p}.unit`), professions: strList(o.professions, `${p}.professions`, SPECIALTY) };
  if (e.professions.length === 0) throw new TariffTableError(`${p}.professions`, 'au moins une spécialité');
  if (o.unitBySpecialty !== undefined) e.unitBySpecialty = record(o.unitBySpecialty, `${p}.unitBySpecialty`, cents, SPECIALTY);
  if (o.maxPerDay !== undefined) e.maxPerDay = posInt(o.maxPerDay, `${p}.maxPerDay`);
  if (o.kind !== undefined) {
    if (!KINDS.includes(o.kind as NgapKind)) throw new TariffTableError(`${p}.kind`, `une de ${KINDS.join(', ')}`);
    e.kind = o.kind as NgapKind;
  }
  if (o.coefficient !== undefined) {
    const c = obj(o.coefficient, `${p}.coefficient`, ['min', 'max']);
    e.coefficient = { min: coefficient(c.min, `${p}.coefficient.min`), max: coefficient(c.max, `${p}.coefficient.max`) };
    if (e.coefficient.min > e.coefficient.max) throw new TariffTableError(`${p}.coefficient`, 'min > max');
  }
  if (o.maxQuantity !== undefined) e.maxQuantity = posInt(o.maxQuantity, `${p}.maxQuantity`);
  if (o.modifiers !== undefined) e.modifiers = strList(o.modifiers, `${p}.modifiers`, CODE);
  if (o.requires !== undefined) e.requires = strList(o.requires, `${p}.requires`, CODE);
  return e;
}

function ccamEntry(v: unknown, p: string): CcamEntry {
  const o = obj(v, p, ['label', 'price', 'activities', 'activityPrices', 'phases', 'modifiers', 'professions', 'maxPerDay']);
  const e: CcamEntry = {
    label: str(o.label, `${p}.label`),
    price: cents(o.price, `${p}.price`),
    activities: strList(o.activities, `${p}.activities`, /^[1-8]$/),
    phases: strList(o.phases, `${p}.phases`, /^[0-9]$/),
    modifiers: strList(o.modifiers, `${p}.modifiers`, CODE),
    professions: strList(o.professions, `${p}.professions`, SPECIALTY),
  };
  if (!e.activities.includes('1') || e.phases.length === 0 || e.professions.length === 0) throw new TariffTableError(p, 'activité 1, au moins une phase et une spécialité attendues');
  if (o.activityPrices !== undefined) {
    e.activityPrices = record(o.activityPrices, `${p}.activityPrices`, cents, /^[1-8]$/);
    for (const a of Object.keys(e.activityPrices)) if (!e.activities.includes(a)) throw new TariffTableError(`${p}.activityPrices.${a}`, 'activité non déclarée');
  }
  if (o.maxPerDay !== undefined) e.maxPerDay = posInt(o.maxPerDay, `${p}.maxPerDay`);
  return e;
}

function modifierEntry(v: unknown, p: string): ModifierEntry {
  const o = obj(v, p, ['label', 'amount', 'percent']);
  const e: ModifierEntry = { label: str(o.label, `${p}.label`) };
  if (o.amount !== undefined) e.amount = cents(o.amount, `${p}.amount`);
  if (o.percent !== undefined) {
    if (typeof o.percent !== 'number' || !Number.isInteger(o.percent) || o.percent <= 0 || o.percent > 100) throw new TariffTableError(`${p}.percent`, 'pourcentage entier de 1 à 100 attendu');
    e.percent = o.percent;
  }
  if ((e.amount === undefined) === (e.percent === undefined)) throw new TariffTableError(p, 'exactement un de amount ou percent');
  return e;
}

/** Validate and copy a table given as JSON. Throws TariffTableError naming the faulty field. */
export function loadTariffTable(json: unknown): TariffTable {
  const o = obj(json, 'table', ['version', 'from', 'to', 'source', 'participation', 'ngap', 'ccam', 'modifiers']);
  const date = (v: unknown, p: string): string => {
    if (!isIsoDate(v)) throw new TariffTableError(p, 'date AAAA-MM-JJ attendue');
    return v;
  };
  const t: TariffTable = {
    version: str(o.version, 'version', /^[A-Z0-9][A-Z0-9-]{0,19}$/),
    from: date(o.from, 'from'),
    source: str(o.source, 'source'),
    participation: cents(o.participation, 'participation'),
    ngap: record(o.ngap, 'ngap', ngapEntry, CODE),
    ccam: record(o.ccam, 'ccam', ccamEntry, /^[A-Z]{4}[0-9]{3}$/),
    modifiers: record(o.modifiers, 'modifiers', modifierEntry, /^[A-Z0-9]$/),
  };
  if (o.to !== undefined) {
    t.to = date(o.to, 'to');
    if (t.to < t.from) throw new TariffTableError('to', 'antérieure à from');
  }
  for (const [code, e] of Object.entries(t.ngap)) {
    for (const m of e.modifiers ?? []) if (!t.modifiers[m]) throw new TariffTableError(`ngap.${code}.modifiers`, `modificateur ${m} absent de la table`);
    for (const r of e.requires ?? []) if (!t.ngap[r] && !t.ccam[r]) throw new TariffTableError(`ngap.${code}.requires`, `code ${r} absent de la table`);
  }
  for (const [code, e] of Object.entries(t.ccam)) {
    if (t.ngap[code]) throw new TariffTableError(`ccam.${code}`, 'code aussi présent en NGAP');
    for (const m of e.modifiers) if (!t.modifiers[m]) throw new TariffTableError(`ccam.${code}.modifiers`, `modificateur ${m} absent de la table`);
  }
  return t;
}

/** A set of tables must be sorted and must not overlap (one table per date). */
export function checkTableSet(tables: readonly TariffTable[]): void {
  for (let i = 1; i < tables.length; i++) {
    const prev = tables[i - 1]!, cur = tables[i]!;
    if (prev.to === undefined || prev.to >= cur.from) throw new TariffTableError(`${cur.version}.from`, `chevauche ${prev.version}`);
  }
}
