/**
 * Pricing of the acts of one invoice: each line gets its unit price from the table in force on its
 * date, its base, the AMO rate, the AMC part and what is left for the patient. Everything is integer
 * centimes; the only roundings are half-up, per line: the per-unit value (unit × coefficient, and a
 * percentage modifier) and the AMO gross part (base × rate). Totals are sums of lines, so
 * amo + amc + patient === charged holds on every line and in the totals.
 */
import type { ActInput, Beneficiary, CareContext, IsoDate, PricedLine, PractitionerRef, Pricing, SeriesInput } from '../model.js';
import { isIsoDate } from '../rules/dates.js';
import { TariffError } from './errors.js';
import { amcAt, amoRate, NON_RESPONSABLE_CONTRACT, participationApplies, roundHalfUp } from './rates.js';
import { TARIFF_TABLES, tableFor } from './tables.js';
import type { CcamEntry, NgapEntry, TariffTable } from './types.js';

export interface PriceInput {
  acts: ActInput[];
  context: CareContext;
  beneficiary: Beneficiary;
  practitioner: PractitionerRef;
  series?: SeriesInput;
}

type Entry = { kind: 'NGAP'; e: NgapEntry } | { kind: 'CCAM'; e: CcamEntry };

interface Work {
  line: PricedLine;
  entry: Entry;
  /** AMO part before the participation forfaitaire. */
  amoGross: number;
  table: TariffTable;
}

const fail = (code: string, field: string, message: string): never => {
  throw new TariffError(code, field, message);
};

function hundredths(v: unknown, field: string, code: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail('coefficient-out-of-range', field, `Acte ${code} : le coefficient doit être un nombre positif.`);
  const h = Math.round((v as number) * 100);
  if (Math.abs(h - (v as number) * 100) > 1e-6) fail('coefficient-out-of-range', field, `Acte ${code} : le coefficient ${v} a plus de 2 décimales.`);
  return h;
}

function priceLine(act: ActInput, i: number, practitioner: PractitionerRef, tables: readonly TariffTable[]): Omit<Work, 'amoGross'> {
  const at = `acts[${i}]`;
  if (typeof act !== 'object' || act === null) fail('act-invalid', at, `Ligne ${i + 1} : acte illisible.`);
  if (!isIsoDate(act.date)) fail('date-invalid', `${at}.date`, `Ligne ${i + 1} : la date ${JSON.stringify(act.date)} n'est pas une date valide.`);
  if (typeof act.code !== 'string') fail('unknown-code', `${at}.code`, `Ligne ${i + 1} : code d'acte absent.`);
  const code = act.code;
  let table: TariffTable;
  try {
    table = tableFor(act.date, tables);
  } catch (e) {
    throw e instanceof TariffError ? new TariffError(e.code, `${at}.date`, `Acte ${code} : ${e.message}`) : e;
  }
  const ngap = Object.hasOwn(table.ngap, code) ? table.ngap[code] : undefined;
  const ccam = Object.hasOwn(table.ccam, code) ? table.ccam[code] : undefined;
  if (!ngap && !ccam) fail('unknown-code', `${at}.code`, `Acte ${code} inconnu de la table ${table.version} (NGAP et CCAM).`);
  const entry: Entry = ngap ? { kind: 'NGAP', e: ngap } : { kind: 'CCAM', e: ccam! };
  const spec = practitioner.specialite;
  if (!entry.e.professions.includes(spec)) fail('specialty-not-allowed', `${at}.code`, `Acte ${code} non autorisé pour la spécialité ${spec}.`);

  const quantity = act.quantity ?? 1;
  const maxQuantity = entry.kind === 'NGAP' ? entry.e.maxQuantity ?? 1 : 1;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > maxQuantity) {
    fail('quantity-out-of-range', `${at}.quantity`, `Acte ${code} : quantité ${String(quantity)} hors limites (1 à ${maxQuantity}).`);
  }
  const coefficient = act.coefficient ?? 1;
  const coefH = hundredths(coefficient, `${at}.coefficient`, code);
  const range = entry.kind === 'NGAP' ? entry.e.coefficient ?? { min: 1, max: 1 } : { min: 1, max: 1 };
  if (coefH < Math.round(range.min * 100) || coefH > Math.round(range.max * 100)) {
    fail('coefficient-out-of-range', `${at}.coefficient`, `Acte ${code} : coefficient ${coefficient} hors limites (${range.min} à ${range.max}).`);
  }
  const excess = act.excess ?? 0;
  if (typeof excess !== 'number' || !Number.isSafeInteger(excess) || excess < 0) fail('excess-invalid', `${at}.excess`, `Acte ${code} : le dépassement doit être un montant en centimes positif ou nul.`);

  const modifiers = act.modifiers ?? [];
  if (!Array.isArray(modifiers) || new Set(modifiers).size !== modifiers.length) fail('modifier-not-allowed', `${at}.modifiers`, `Acte ${code} : modificateurs en double ou illisibles.`);
  const allowed = entry.kind === 'NGAP' ? entry.e.modifiers ?? [] : entry.e.modifiers;
  const modifierCode = entry.kind === 'CCAM' ? 'ccam-modifier' : 'modifier-not-allowed';
  for (const m of modifiers) {
    if (typeof m !== 'string' || !allowed.includes(m) || !Object.hasOwn(table.modifiers, m)) fail(modifierCode, `${at}.modifiers`, `Acte ${code} : modificateur ${String(m)} non autorisé sur cet acte.`);
  }

  let unitPrice: number;
  let activity: string | undefined;
  let phase: string | undefined;
  if (entry.kind === 'NGAP') {
    if (act.activity !== undefined || act.phase !== undefined) fail('ngap-activity', `${at}.activity`, `Acte ${code} : un acte NGAP n'a ni activité ni phase.`);
    unitPrice = entry.e.unitBySpecialty?.[spec] ?? entry.e.unit;
  } else {
    activity = act.activity ?? '1';
    phase = act.phase ?? '0';
    const price = activity === '1' ? entry.e.price : entry.e.activityPrices?.[activity];
    if (!entry.e.activities.includes(activity) || price === undefined) fail('ccam-activity', `${at}.activity`, `Acte CCAM ${code} : activité ${activity} non autorisée (${entry.e.activities.join(', ')}).`);
    if (!entry.e.phases.includes(phase)) fail('ccam-phase', `${at}.phase`, `Acte CCAM ${code} : phase ${phase} non autorisée (${entry.e.phases.join(', ')}).`);
    unitPrice = price!;
  }

  const perUnit = roundHalfUp(unitPrice * coefH, 100);
  let extra = 0;
  for (const m of modifiers) {
    const mod = table.modifiers[m]!;
    extra += mod.amount ?? roundHalfUp(perUnit * (mod.percent ?? 0), 100);
  }
  const base = (perUnit + extra) * quantity;
  const line: PricedLine = {
    date: act.date, code, kind: entry.kind, coefficient, quantity, modifiers: [...modifiers],
    unitPrice, charged: base + excess, base, rate: 0, amo: 0, amc: 0, patient: 0,
  };
  if (activity !== undefined) line.activity = activity;
  if (phase !== undefined) line.phase = phase;
  return { line, entry, table };
}

function checkDailyRules(work: Omit<Work, 'amoGross'>[]): void {
  const perDay = new Map<string, number>();
  const codesOn = new Map<IsoDate, Set<string>>();
  for (const { line } of work) {
    const set = codesOn.get(line.date) ?? new Set<string>();
    set.add(line.code);
    codesOn.set(line.date, set);
  }
  work.forEach(({ line, entry }, i) => {
    const key = `${line.date} ${line.code}`;
    const count = (perDay.get(key) ?? 0) + line.quantity;
    perDay.set(key, count);
    const max = entry.e.maxPerDay;
    if (max !== undefined && count > max) {
      fail('daily-limit', `acts[${i}].code`, `Acte ${line.code} : limite de ${max} par jour dépassée le ${line.date}.`);
    }
    const requires = entry.kind === 'NGAP' ? entry.e.requires : undefined;
    if (requires && !requires.some((r) => codesOn.get(line.date)!.has(r))) {
      fail('requires-act', `acts[${i}].code`, `Acte ${line.code} : ne se facture qu'avec ${requires.join(' ou ')} le même jour (${line.date}).`);
    }
  });
}

/** Price the acts. Throws TariffError (code, field, French message) on the first rule broken. */
export function priceActs(input: PriceInput, tables: readonly TariffTable[] = TARIFF_TABLES): Pricing {
  const { acts, context, beneficiary, practitioner } = input;
  if (!Array.isArray(acts) || acts.length === 0) fail('no-acts', 'acts', 'Aucun acte à facturer.');
  const priced = acts.map((a, i) => priceLine(a, i, practitioner, tables));
  checkDailyRules(priced);

  const spec = practitioner.specialite;
  const rate = amoRate(context, beneficiary, spec);
  const work: Work[] = priced.map((w) => ({ ...w, amoGross: roundHalfUp(w.line.base * rate, 100) }));
  for (const w of work) {
    const amc = amcAt(beneficiary, w.line.date);
    w.line.rate = rate;
    w.line.amo = w.amoGross;
    w.line.amc = amc ? w.line.base - w.amoGross + (amc.contractType === NON_RESPONSABLE_CONTRACT ? w.line.charged - w.line.base : 0) : 0;
  }

  // One participation per date (this invoice is one practitioner's), taken from the AMO part of the
  // eligible line with the largest AMO part and never beyond it, so no amount goes negative.
  let participation = 0;
  for (const date of new Set(work.map((w) => w.line.date))) {
    let applies: boolean;
    try {
      applies = participationApplies(context, beneficiary, spec, date);
    } catch {
      throw new TariffError('birth-date-invalid', 'beneficiary.birthDate', `Date de naissance ${beneficiary.birthDate} illisible : âge au ${date} inconnu.`);
    }
    if (!applies) continue;
    const eligible = work.filter((w) => w.line.date === date && (w.entry.kind === 'CCAM' || w.entry.e.kind === 'consultation' || w.entry.e.kind === 'visite'));
    const target = eligible.reduce<Work | undefined>((best, w) => (!best || w.amoGross > best.amoGross ? w : best), undefined);
    if (!target) continue;
    const amount = Math.min(target.table.participation, target.line.amo);
    target.line.amo -= amount;
    participation += amount;
  }

  const lines = work.map((w) => {
    w.line.patient = w.line.charged - w.line.amo - w.line.amc;
    return w.line;
  });
  const sum = (f: (l: PricedLine) => number): number => lines.reduce((s, l) => s + f(l), 0);
  const lastDate = lines.reduce((d, l) => (l.date > d ? l.date : d), lines[0]!.date);
  return {
    lines,
    totals: { charged: sum((l) => l.charged), base: sum((l) => l.base), amo: sum((l) => l.amo), amc: sum((l) => l.amc), patient: sum((l) => l.patient), participation },
    tableVersion: tableFor(lastDate, tables).version,
  };
}
