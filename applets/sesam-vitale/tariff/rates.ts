/**
 * Who pays what: the AMO rate of a line, whether the participation forfaitaire applies, and what the
 * AMC covers. Simplified from the public rules (docs/tariff.md says where and why):
 * - 100 % for maternité, accident du travail, and acts related to the beneficiary's ALD;
 * - auxiliaires médicaux (infirmier, MK…) 60 %;
 * - médecins 70 %, 30 % hors parcours de soins.
 */
import type { Amc, Beneficiary, CareContext, IsoDate } from '../model.js';
import { ageAt } from '../rules/dates.js';
import { MEDECINS } from './tables.js';

/** Auxiliaires médicaux: infirmier 24, masseur-kinésithérapeute 26, pédicure 27, orthophoniste 28, orthoptiste 29. */
export const AUXILIAIRES = ['24', '26', '27', '28', '29'];
/** AMC contract type of the complémentaire santé solidaire (exempt from the participation, no excess). */
export const CSS_CONTRACT = '89';
/** Contrat non responsable: also pays the excess (responsible contracts do not, in this model). */
export const NON_RESPONSABLE_CONTRACT = '03';

export function isMedecin(specialite: string): boolean {
  return MEDECINS.includes(specialite);
}

export function isFullRate(context: CareContext, beneficiary: Beneficiary): boolean {
  return context.nature === 'maternite' || context.nature === 'at' || (context.aldRelated && beneficiary.rights.ald);
}

/** AMO rate in percent for a line billed by `specialite`. */
export function amoRate(context: CareContext, beneficiary: Beneficiary, specialite: string): number {
  if (isFullRate(context, beneficiary)) return 100;
  if (AUXILIAIRES.includes(specialite)) return 60;
  return context.parcours === 'hors' ? 30 : 70;
}

/** The AMC when it is valid on `date`. */
export function amcAt(beneficiary: Beneficiary, date: IsoDate): Amc | undefined {
  const amc = beneficiary.amc;
  return amc && amc.start <= date && date <= amc.end ? amc : undefined;
}

/**
 * Participation forfaitaire: médecins only; not under 18 on the care date, nor for maternité, AT, or a
 * beneficiary of the complémentaire santé solidaire (AMC contract 89 valid on the date).
 */
export function participationApplies(context: CareContext, beneficiary: Beneficiary, specialite: string, date: IsoDate): boolean {
  if (!isMedecin(specialite)) return false;
  if (context.nature === 'maternite' || context.nature === 'at') return false;
  if (amcAt(beneficiary, date)?.contractType === CSS_CONTRACT) return false;
  return ageAt(beneficiary.birthDate, date) >= 18;
}

/** Half-up rounding of num/den for non-negative integers: exact, no floating point. */
export function roundHalfUp(num: number, den: number): number {
  return Math.floor((2 * num + den) / (2 * den));
}
