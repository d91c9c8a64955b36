/**
 * `data.load` (host link): the day's data the practice computer loads before a round of visits —
 * the practitioner situations expected, the known patients (insured + beneficiaries, held to the same
 * strict checks as a degraded FSE's payload) and a tariff table (checked by tariff/load.ts). It
 * replaces the previous load as a whole, in one store value (`day/current`), written in one
 * transaction: a cut leaves the old load or the new one, never a mix.
 * Used by: CPS reading (a loaded situation is chosen without asking), fse.degraded (`patient`),
 * visits.list, and pricing (the loaded table takes precedence for the dates it covers).
 */
import type { DayDataResult } from '../../../platform/wire/hostlink.js';
import type { Beneficiary, Insured } from '../model.js';
import { bad, beneficiary, insured, obj, optInt, str, type Obj } from '../invoice/payload.js';
import { checkNir } from '../rules/nir.js';
import { loadTariffTable, TariffTableError } from '../tariff/load.js';
import { TARIFF_TABLES } from '../tariff/tables.js';
import type { TariffTable } from '../tariff/types.js';
import { isIsoDate } from '../rules/dates.js';
import { getAs, keys, put } from '../pipeline/keys.js';
import { utf8Encode } from '../../../platform/sdk/text.js';

export interface DaySituation {
  billingNumber: string;
  situationNumber?: number;
  label?: string;
}

export interface DayPatient {
  insured: Insured;
  beneficiaries: Beneficiary[];
}

export interface DayData {
  day: string;
  loadedAt: number;
  situations: DaySituation[];
  patients: DayPatient[];
  tariff: TariffTable | null;
}

export const MAX_SITUATIONS = 16;
export const MAX_PATIENTS = 500;
export const MAX_BENEFICIARIES = 16;
/**
 * The store keeps at most 1 MiB per value (MessagePack, strings in UTF-8): the JSON's UTF-8 size is a
 * safe upper bound of the stored size (its length in characters is not: a tariff label's "é" is 2 bytes).
 */
const MAX_DAY_BYTES = 900 * 1024;

function list(v: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) bad(field, `${field} : liste de ${max} éléments au plus attendue`);
  return v;
}

function situation(v: unknown, i: number): DaySituation {
  const f = `situations[${i}]`;
  const o = obj(v, f, ['billingNumber', 'situationNumber', 'label']);
  const s: DaySituation = { billingNumber: str(o, 'billingNumber', `${f}.`, /^[0-9]{9}$/, 'numéro de facturation (9 chiffres)') };
  const n = optInt(o, 'situationNumber', `${f}.`, 1, 99);
  if (n !== undefined) s.situationNumber = n;
  if (o.label !== undefined) s.label = str(o, 'label', `${f}.`, /^[^\x00-\x1f\x7f]{1,64}$/, 'libellé (1 à 64 caractères)');
  return s;
}

function patient(v: unknown, i: number): DayPatient {
  const f = `patients[${i}]`;
  const o = obj(v, f, ['insured', 'beneficiaries']);
  const ins = insured(o.insured, `${f}.`);
  const nir = checkNir(ins.nir);
  if (!nir.ok) bad(`${f}.insured.nir`, `NIR de l’assuré invalide (${nir.reason})`);
  const bl = list(o.beneficiaries, `${f}.beneficiaries`, MAX_BENEFICIARIES);
  if (bl.length === 0) bad(`${f}.beneficiaries`, `${f}.beneficiaries : au moins un bénéficiaire attendu`);
  const bens = bl.map((b, j) => beneficiary(b, `${f}.beneficiaries[${j}]`));
  bens.forEach((b, j) => {
    if (b.nir === undefined) return;
    const c = checkNir(b.nir);
    if (!c.ok) bad(`${f}.beneficiaries[${j}].nir`, `NIR du bénéficiaire invalide (${c.reason})`);
  });
  return { insured: ins, beneficiaries: bens };
}

/** Validates the host's arguments (throws PayloadError naming the field). Pure. */
export function parseDayData(args: Obj, loadedAt: number): DayData {
  const o = obj(args, '', ['day', 'situations', 'patients', 'tariff']);
  if (!isIsoDate(o.day)) bad('day', 'day : date AAAA-MM-JJ attendue');
  const situations = o.situations === undefined ? [] : list(o.situations, 'situations', MAX_SITUATIONS).map(situation);
  const patients = o.patients === undefined ? [] : list(o.patients, 'patients', MAX_PATIENTS).map(patient);
  const seen = new Set<string>();
  patients.forEach((p, i) => {
    if (seen.has(p.insured.nir)) bad(`patients[${i}].insured.nir`, 'assuré présent deux fois dans les données du jour');
    seen.add(p.insured.nir);
  });
  let tariff: TariffTable | null = null;
  if (o.tariff !== undefined) {
    try {
      tariff = loadTariffTable(o.tariff);
    } catch (err) {
      if (err instanceof TariffTableError) bad(`tariff.${err.path}`, err.message);
      throw err;
    }
  }
  const data: DayData = { day: o.day as string, loadedAt, situations, patients, tariff };
  if (utf8Encode(JSON.stringify(data)).length > MAX_DAY_BYTES) bad('patients', `données du jour trop volumineuses (plus de ${MAX_DAY_BYTES} octets) : chargez moins de patients`);
  return data;
}

export function dayDataResult(d: DayData): DayDataResult {
  return { day: d.day, situations: d.situations.length, patients: d.patients.length, beneficiaries: d.patients.reduce((n, p) => n + p.beneficiaries.length, 0), tariff: d.tariff?.version ?? null };
}

/** data.load: validate, then replace the day's data in one transaction. Caller holds the lock. */
export async function loadDayData(args: Obj): Promise<DayDataResult> {
  const data = parseDayData(args, await platform.clock.now());
  await platform.store.transaction([put(keys.day(), data)]);
  return dayDataResult(data);
}

export async function currentDayData(): Promise<DayData | undefined> {
  return getAs<DayData>(keys.day());
}

/** The tables to price with: the loaded one first (it wins for the dates it covers), then the bundled ones. */
export async function pricingTables(): Promise<readonly TariffTable[] | undefined> {
  const d = await currentDayData();
  return d?.tariff ? [d.tariff, ...TARIFF_TABLES] : undefined;
}

/** The index of the card's situation a load names (billing number, and number when given), or -1. */
export function loadedSituationIndex(d: DayData | undefined, today: string, cardSituations: ReadonlyArray<{ number: number; billingNumber: string }>): number {
  if (!d || d.day !== today) return -1;
  for (const s of d.situations) {
    const i = cardSituations.findIndex((c) => c.billingNumber === s.billingNumber && (s.situationNumber === undefined || c.number === s.situationNumber));
    if (i >= 0) return i;
  }
  return -1;
}

/** A loaded patient by the insured's NIR or by its index in the day's list. */
export function findPatient(d: DayData | undefined, ref: { nir?: string; index?: number }): DayPatient | undefined {
  if (!d) return undefined;
  if (ref.index !== undefined) return d.patients[ref.index];
  return d.patients.find((p) => p.insured.nir === ref.nir);
}

