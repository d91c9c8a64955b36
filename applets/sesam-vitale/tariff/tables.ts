/**
 * The bundled tariff tables: a real subset of NGAP and CCAM (métropole, secteur 1 / OPTAM), dated.
 * Each table is the previous one plus the changes published for its start date, so a revaluation
 * is one small dated delta and the dating mechanism is exercised by real history:
 *   2023-11-01  G/GS/VG 26,50 €, APC 56,50 € (règlement arbitral 2023); participation forfaitaire 1 €
 *   2024-01-28  IFD 2,50 € → 2,75 € (avenant 10 infirmiers, in force 28 Jan 2024)
 *   2024-02-22  AMK/AMS 2,15 € → 2,21 € (avenant 7 kinésithérapeutes, +3 %)
 *   2024-05-15  participation forfaitaire 1 € → 2 € (décret 2024-113)
 *   2024-12-22  G/GS/VG 30 €, APC 60 €, ECG DEQP003 14,52 € (convention médicale 2024, ameli.fr, Nov 2024)
 * Values were read from public sources (ameli.fr, professional unions' notices) as of 2024-12; the
 * official tables replace these through loadTariffTable (docs/tariff.md).
 */
import type { IsoDate } from '../model.js';
import { addDays } from '../rules/dates.js';
import { TariffError } from './errors.js';
import { checkTableSet, loadTariffTable } from './load.js';
import type { CcamEntry, NgapEntry, TariffTable } from './types.js';

export type { CcamEntry, ModifierEntry, NgapEntry, NgapKind, TariffTable } from './types.js';
export { loadTariffTable, checkTableSet, TariffTableError } from './load.js';

/** Assurance Maladie specialty codes (a subset). */
export const GENERALISTES = ['01', '22', '23'];
export const SPECIALISTES = ['02', '03', '04', '05', '06', '07', '08', '09', '11', '12', '13', '14', '15', '17', '32'];
export const MEDECINS = [...GENERALISTES, ...SPECIALISTES];
export const INFIRMIER = '24';
export const MASSEUR_KINE = '26';
const CARDIO = ['03'];

const CONSULTATION_MODIFIERS = ['F'];
const NURSE_ACTS = ['AMI', 'AMX', 'AIS'];

const NGAP_2023: Record<string, NgapEntry> = {
  G: { label: 'Consultation de référence du médecin généraliste', unit: 2650, professions: GENERALISTES, maxPerDay: 1, kind: 'consultation', modifiers: CONSULTATION_MODIFIERS },
  GS: { label: 'Consultation du spécialiste en médecine générale', unit: 2650, professions: GENERALISTES, maxPerDay: 1, kind: 'consultation', modifiers: CONSULTATION_MODIFIERS },
  VG: { label: 'Visite du médecin généraliste', unit: 2650, professions: GENERALISTES, maxPerDay: 1, kind: 'visite', modifiers: CONSULTATION_MODIFIERS },
  C: { label: 'Consultation au cabinet (secteur 2 avec dépassement)', unit: 2300, professions: GENERALISTES, maxPerDay: 1, kind: 'consultation', modifiers: CONSULTATION_MODIFIERS },
  CS: { label: 'Consultation du médecin spécialiste', unit: 2300, professions: SPECIALISTES, maxPerDay: 1, kind: 'consultation', modifiers: CONSULTATION_MODIFIERS },
  APC: { label: 'Avis ponctuel de consultant', unit: 5650, professions: SPECIALISTES, maxPerDay: 1, kind: 'consultation' },
  MCG: { label: 'Majoration de coordination généraliste', unit: 500, professions: GENERALISTES, maxPerDay: 1, kind: 'majoration', requires: ['G', 'GS', 'VG', 'C'] },
  MD: { label: 'Majoration de déplacement (visite)', unit: 1000, professions: MEDECINS, maxPerDay: 1, kind: 'majoration', requires: ['VG'] },
  IK: {
    label: 'Indemnité kilométrique (plaine, par km)',
    unit: 61,
    unitBySpecialty: { [INFIRMIER]: 35 },
    professions: [...MEDECINS, INFIRMIER],
    kind: 'deplacement',
    maxQuantity: 299,
    requires: ['VG', 'IFD'],
  },
  AMI: { label: 'Acte médico-infirmier', unit: 315, professions: [INFIRMIER], kind: 'acte', coefficient: { min: 0.5, max: 30 } },
  AMX: { label: 'Acte médico-infirmier (patient dépendant)', unit: 315, professions: [INFIRMIER], kind: 'acte', coefficient: { min: 0.5, max: 30 } },
  AIS: { label: 'Acte infirmier de soins', unit: 265, professions: [INFIRMIER], kind: 'acte', coefficient: { min: 1, max: 16 } },
  IFD: { label: 'Indemnité forfaitaire de déplacement infirmier', unit: 250, professions: [INFIRMIER], maxPerDay: 4, kind: 'deplacement', requires: NURSE_ACTS },
  MCI: { label: 'Majoration de coordination infirmier', unit: 500, professions: [INFIRMIER], maxPerDay: 1, kind: 'majoration', requires: NURSE_ACTS },
  AMK: { label: 'Acte de masso-kinésithérapie', unit: 215, professions: [MASSEUR_KINE], maxPerDay: 2, kind: 'acte', coefficient: { min: 1, max: 30 } },
  AMS: { label: 'Rééducation orthopédique et rhumatologique (MK)', unit: 215, professions: [MASSEUR_KINE], maxPerDay: 2, kind: 'acte', coefficient: { min: 1, max: 30 } },
};

const CCAM_2023: Record<string, CcamEntry> = {
  DEQP003: { label: 'Électrocardiographie sur au moins 12 dérivations', price: 1426, activities: ['1'], phases: ['0'], modifiers: ['F', 'P', 'S', 'U'], professions: MEDECINS, maxPerDay: 1 },
  DEQP005: { label: 'Électrocardiographie continue ≥ 24 heures (Holter)', price: 7701, activities: ['1'], phases: ['0'], modifiers: [], professions: CARDIO, maxPerDay: 1 },
  DKRP004: { label: "Épreuve d'effort avec électrocardiographie discontinue", price: 7680, activities: ['1'], phases: ['0'], modifiers: [], professions: CARDIO, maxPerDay: 1 },
  DEMP002: { label: "Contrôle et réglage transcutanés secondaires d'un stimulateur cardiaque", price: 6041, activities: ['1'], phases: ['0'], modifiers: ['F', 'U'], professions: CARDIO, maxPerDay: 1 },
};

const BASE: TariffTable = {
  version: 'NGAP-2023-11-01',
  from: '2023-11-01',
  source: 'ameli.fr et avis des syndicats, tarifs au 1er novembre 2023 (règlement arbitral)',
  participation: 100,
  ngap: NGAP_2023,
  ccam: CCAM_2023,
  modifiers: {
    F: { label: 'Dimanche et jour férié', amount: 1906 },
    P: { label: 'Urgence de nuit 20h-0h et 6h-8h (généraliste, pédiatre)', amount: 3500 },
    S: { label: 'Urgence de nuit 0h-6h (généraliste, pédiatre)', amount: 4000 },
    U: { label: 'Urgence de nuit 20h-8h', amount: 2515 },
  },
};

interface Delta {
  version: string;
  from: IsoDate;
  source: string;
  participation?: number;
  ngap?: Record<string, Partial<NgapEntry>>;
  ccam?: Record<string, Partial<CcamEntry>>;
}

// structuredClone is a host API, absent from the applet's isolate: plain JSON data clones through JSON.
function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function derive(prev: TariffTable, d: Delta): TariffTable {
  const ngap = clone(prev.ngap);
  for (const [code, change] of Object.entries(d.ngap ?? {})) ngap[code] = { ...ngap[code]!, ...change };
  const ccam = clone(prev.ccam);
  for (const [code, change] of Object.entries(d.ccam ?? {})) ccam[code] = { ...ccam[code]!, ...change };
  return {
    version: d.version,
    from: d.from,
    source: d.source,
    participation: d.participation ?? prev.participation,
    ngap,
    ccam,
    modifiers: clone(prev.modifiers),
  };
}

const DELTAS: Delta[] = [
  { version: 'NGAP-2024-01-28', from: '2024-01-28', source: 'avenant 10 infirmiers (FNI, janvier 2024)', ngap: { IFD: { unit: 275 } } },
  { version: 'NGAP-2024-02-22', from: '2024-02-22', source: 'avenant 7 kinésithérapeutes (JO 25 août 2023), lettres clés +3 %', ngap: { AMK: { unit: 221 }, AMS: { unit: 221 } } },
  { version: 'NGAP-2024-05-15', from: '2024-05-15', source: 'participation forfaitaire portée à 2 € (décret 2024-113)', participation: 200 },
  {
    version: 'NGAP-2024-12-22',
    from: '2024-12-22',
    source: 'convention médicale 2024, ameli.fr (28 novembre 2024), mémo facturation du 22 décembre 2024',
    ngap: { G: { unit: 3000 }, GS: { unit: 3000 }, VG: { unit: 3000 }, APC: { unit: 6000 } },
    ccam: { DEQP003: { price: 1452 } },
  },
];

function buildTables(): TariffTable[] {
  const tables = [BASE];
  for (const d of DELTAS) tables.push(derive(tables[tables.length - 1]!, d));
  for (let i = 0; i + 1 < tables.length; i++) tables[i]!.to = addDays(tables[i + 1]!.from, -1);
  // Through the same strict loader as an official table: a typo in the data fails at bundle load.
  const loaded = tables.map((t) => loadTariffTable(clone(t) as unknown));
  checkTableSet(loaded);
  return loaded;
}

export const TARIFF_TABLES: readonly TariffTable[] = deepFreeze(buildTables());

/** The table in force on `date`. Throws TariffError when no table covers it. */
export function tableFor(date: IsoDate, tables: readonly TariffTable[] = TARIFF_TABLES): TariffTable {
  const t = tables.find((x) => x.from <= date && (x.to === undefined || date <= x.to));
  if (!t) throw new TariffError('no-table', 'acts.date', `Aucune table tarifaire en vigueur le ${date} : la date de l'acte est hors des tables chargées.`);
  return t;
}
