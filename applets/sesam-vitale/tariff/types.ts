/**
 * The shape of a dated tariff table. The bundled tables (tables.ts) and an official table delivered
 * as JSON (load.ts) share it, so replacing the subset with the real nomenclature is a data change.
 */
import type { Cents, IsoDate } from '../model.js';

/** What an NGAP code is, for the rules that depend on it (participation forfaitaire, "requires"). */
export type NgapKind = 'consultation' | 'visite' | 'acte' | 'majoration' | 'deplacement';

export interface NgapEntry {
  label: string;
  /** Value of the letter key (coefficient 1), centimes. */
  unit: Cents;
  /** Same code, another value for some specialties (IK: médecin 0,61 €, infirmier 0,35 €). */
  unitBySpecialty?: Record<string, Cents>;
  /** Assurance Maladie specialty codes allowed to bill the code. */
  professions: string[];
  /** Most units (sum of quantities) of the code on one date for one patient. */
  maxPerDay?: number;
  kind?: NgapKind;
  /** Allowed coefficients (2 decimals at most). Absent: exactly 1. */
  coefficient?: { min: number; max: number };
  /** Largest quantity on a line (IK: kilometres). Absent: 1. */
  maxQuantity?: number;
  /** Modifiers (majorations) the act may carry. */
  modifiers?: string[];
  /** One of these codes must be billed on the same date (a majoration needs its act). */
  requires?: string[];
}

export interface CcamEntry {
  label: string;
  /** Price of activity 1, centimes. */
  price: Cents;
  activities: string[];
  /** Prices of the other activities (anesthesia…), when they exist. */
  activityPrices?: Record<string, Cents>;
  phases: string[];
  /** Modifiers allowed on the act. */
  modifiers: string[];
  professions: string[];
  maxPerDay?: number;
}

export interface ModifierEntry {
  label: string;
  /** Fixed amount added per act, centimes. */
  amount?: Cents;
  /** Percentage of the act's price added. */
  percent?: number;
}

export interface TariffTable {
  /** e.g. `NGAP-2024-12-22`: what Pricing.tableVersion carries. */
  version: string;
  from: IsoDate;
  /** Last day in force; absent: still in force. */
  to?: IsoDate;
  /** Where the values come from and the date of that source. */
  source: string;
  /** Participation forfaitaire per eligible act of a médecin, centimes. */
  participation: Cents;
  ngap: Record<string, NgapEntry>;
  ccam: Record<string, CcamEntry>;
  modifiers: Record<string, ModifierEntry>;
}
