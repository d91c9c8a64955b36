/**
 * Everything checked before an invoice is numbered: identities (NIR keys, Corsica included), dates
 * (délai de prescription of 2 years, series within their prescription), rights and AMC at every act
 * date, the CPS situation's right to sign, amounts, and the tariff itself. Returns all issues found
 * (not only the first) so the practitioner fixes everything at once; messages are French.
 */
import type { ActInput, Beneficiary, CareContext, CpsSituation, Insured, IsoDate, PractitionerRef, SeriesInput } from '../model.js';
import { addYears, isIsoDate } from '../rules/dates.js';
import { checkNir } from '../rules/nir.js';
import { TariffError } from '../tariff/errors.js';
import { priceActs } from '../tariff/price.js';
import type { TariffTable } from '../tariff/types.js';
import { amcAt, CSS_CONTRACT } from '../tariff/rates.js';
import type { Issue } from './errors.js';
import { billingEntity } from '../rules/billing.js';

export type { Issue } from './errors.js';

export interface InvoiceInput {
  practitioner: PractitionerRef;
  situation: CpsSituation;
  insured: Insured;
  beneficiary: Beneficiary;
  context: CareContext;
  acts: ActInput[];
  series?: SeriesInput;
  degraded: boolean;
  /** The Vitale card's serial number, carried into the invoice (absent in degraded mode). */
  vitaleSerial?: string;
  /** Tariff tables to price with (a table loaded by the practice computer first); default the bundled ones. */
  tables?: readonly TariffTable[];
}

export const MAX_LINES = 999;
/** Délai de prescription: an act older than this many years can no longer be billed. */
export const PRESCRIPTION_YEARS = 2;
/** Project rule: the sessions of a series take place within one year of the prescription. */
export const SERIES_VALIDITY_YEARS = 1;

function checkIdentity(input: InvoiceInput, out: Issue[]): void {
  const { insured, beneficiary, degraded } = input;
  const add = (field: string, code: string, message: string): number => out.push({ field, code, message });
  const nir = checkNir(insured.nir);
  if (!nir.ok) add('insured.nir', 'nir-invalid', `NIR de l'assuré invalide : ${nir.reason}. Vérifiez la carte Vitale ou la saisie.`);
  if (beneficiary.nir !== undefined) {
    const b = checkNir(beneficiary.nir);
    if (!b.ok) add('beneficiary.nir', 'nir-invalid', `NIR du bénéficiaire invalide : ${b.reason}. Corrigez la saisie.`);
  }
  if (!/^[0-9]{2}$/.test(insured.regime) || !/^[0-9]{3}$/.test(insured.caisse) || !/^[0-9]{4}$/.test(insured.centre)) {
    add('insured.regime', 'organism-invalid', "Organisme d'affiliation illisible (régime 2 chiffres, caisse 3, centre 4) : vérifiez la saisie.");
  }
  if (!/^[0-9]{8}$/.test(beneficiary.birthDate)) add('beneficiary.birthDate', 'birth-date-invalid', 'Date de naissance du bénéficiaire illisible (AAAAMMJJ attendu).');
  if (degraded) {
    // Without the card, the caisse identifies the patient from what was typed in: the NIR above all.
    if (beneficiary.nir === undefined) add('beneficiary.nir', 'degraded-nir-required', 'Mode dégradé : saisissez le NIR du bénéficiaire (carte Vitale absente).');
    if (!beneficiary.surname?.trim() || !beneficiary.firstName?.trim()) add('beneficiary.surname', 'degraded-name-required', 'Mode dégradé : saisissez le nom et le prénom du bénéficiaire.');
  }
}

function checkDates(input: InvoiceInput, today: IsoDate, out: Issue[]): IsoDate[] {
  const { acts, series } = input;
  const add = (field: string, code: string, message: string): number => out.push({ field, code, message });
  const oldest = addYears(today, -PRESCRIPTION_YEARS);
  const dates: IsoDate[] = [];
  acts.forEach((a, i) => {
    if (!isIsoDate(a?.date)) {
      add(`acts[${i}].date`, 'date-invalid', `Ligne ${i + 1} : date d'acte invalide, saisissez-la au format AAAA-MM-JJ.`);
      return;
    }
    dates.push(a.date);
    if (a.date > today) add(`acts[${i}].date`, 'date-future', `Ligne ${i + 1} : l'acte du ${a.date} est postérieur à aujourd'hui (${today}).`);
    if (a.date < oldest) add(`acts[${i}].date`, 'date-prescribed', `Ligne ${i + 1} : l'acte du ${a.date} a plus de ${PRESCRIPTION_YEARS} ans (délai de prescription), il ne peut plus être facturé.`);
  });
  if (!series) {
    if (new Set(dates).size > 1) add('acts', 'dates-multiple', "Une facture d'actes isolés ne porte qu'une date : faites une facture par jour, ou déclarez une série.");
  } else {
    if (typeof series.prescriberId !== 'string' || !/^[0-9]{9,11}$/.test(series.prescriberId)) {
      add('series.prescriberId', 'prescriber-invalid', 'Série : identifiant du prescripteur invalide (RPPS 11 chiffres ou ADELI 9 chiffres).');
    }
    if (!isIsoDate(series.prescriptionDate)) {
      add('series.prescriptionDate', 'date-invalid', 'Série : date de prescription invalide (AAAA-MM-JJ).');
    } else {
      const until = addYears(series.prescriptionDate, SERIES_VALIDITY_YEARS);
      if (series.prescriptionDate > today) add('series.prescriptionDate', 'date-future', 'Série : la date de prescription est dans le futur.');
      acts.forEach((a, i) => {
        if (!isIsoDate(a?.date)) return;
        if (a.date < series.prescriptionDate) add(`acts[${i}].date`, 'series-before-prescription', `Ligne ${i + 1} : séance du ${a.date} antérieure à la prescription du ${series.prescriptionDate}.`);
        else if (a.date > until) add(`acts[${i}].date`, 'series-expired', `Ligne ${i + 1} : séance du ${a.date} au-delà de la validité de la prescription (${until}) : une nouvelle prescription est nécessaire.`);
      });
    }
  }
  return [...new Set(dates)].sort();
}

function checkCoverage(input: InvoiceInput, dates: IsoDate[], out: Issue[]): void {
  const { beneficiary, context } = input;
  const add = (field: string, code: string, message: string): number => out.push({ field, code, message });
  const r = beneficiary.rights;
  for (const d of dates) {
    if (d < r.start || (r.end !== undefined && d > r.end)) {
      add('beneficiary.rights', 'rights-closed', `Droits AMO fermés le ${d} (ouverts du ${r.start} au ${r.end ?? '—'}) : mettez la carte Vitale à jour ou facturez hors tiers payant après vérification.`);
    }
  }
  if (context.tiersPayantAmc) {
    const amc = beneficiary.amc;
    if (!amc) add('context.tiersPayantAmc', 'amc-missing', "Tiers payant AMC demandé mais le bénéficiaire n'a pas de complémentaire : retirez le tiers payant AMC.");
    else if (!amc.tiersPayant) add('context.tiersPayantAmc', 'amc-no-tiers-payant', `La complémentaire ${amc.number} n'accepte pas le tiers payant : retirez le tiers payant AMC.`);
    else for (const d of dates) if (!amcAt(beneficiary, d)) add('beneficiary.amc', 'amc-not-valid', `Complémentaire ${amc.number} non valide le ${d} (du ${amc.start} au ${amc.end}).`);
  }
  if (context.nature === 'at' && !(typeof context.atNumber === 'string' && /^[0-9A-Z]{1,9}$/.test(context.atNumber))) {
    add('context.atNumber', 'at-number-required', "Accident du travail : saisissez le numéro de l'accident (9 caractères alphanumériques au plus).");
  }
  if (context.parcours === 'oriente' && !context.orientingPractitioner?.trim()) {
    add('context.orientingPractitioner', 'orienting-required', "Parcours orienté : saisissez l'identifiant du médecin qui oriente le patient.");
  }
}

function checkPractitionerAndAmounts(input: InvoiceInput, out: Issue[]): void {
  const { situation, practitioner, acts, beneficiary } = input;
  const add = (field: string, code: string, message: string): number => out.push({ field, code, message });
  if (!situation.canSignFse) add('situation', 'situation-cannot-sign', `La situation ${situation.number} de la CPS n'a pas le droit de signer des FSE : choisissez une autre situation.`);
  // A remplaçant invoices under the billing number of the practitioner replaced.
  const entity = billingEntity(situation);
  if (entity !== practitioner.billingNumber) add('practitioner.billingNumber', 'situation-mismatch', 'Le numéro de facturation ne correspond pas à la situation choisie sur la CPS.');
  if (acts.length < 1 || acts.length > MAX_LINES) add('acts', 'lines-count', `Une facture porte de 1 à ${MAX_LINES} lignes (${acts.length} saisies).`);
  const secteur2 = situation.conventionCode === '2' || situation.conventionCode === '3';
  acts.forEach((a, i) => {
    const excess = a?.excess;
    if (excess === undefined || excess === 0) return;
    if (typeof excess !== 'number' || !Number.isSafeInteger(excess) || excess < 0) add(`acts[${i}].excess`, 'excess-invalid', `Ligne ${i + 1} : le dépassement doit être un montant positif en centimes.`);
    else if (!secteur2) add(`acts[${i}].excess`, 'excess-not-allowed', `Ligne ${i + 1} : dépassement interdit en convention ${situation.conventionCode} (secteur 2 seulement).`);
    else if (isIsoDate(a.date) && amcAt(beneficiary, a.date)?.contractType === CSS_CONTRACT) add(`acts[${i}].excess`, 'excess-css', `Ligne ${i + 1} : dépassement interdit pour un bénéficiaire de la complémentaire santé solidaire.`);
  });
}

/** All issues of an invoice input at `today` (empty: the invoice can be built). */
export function validateInvoice(input: InvoiceInput, today: IsoDate): Issue[] {
  const out: Issue[] = [];
  if (!Array.isArray(input.acts)) return [{ field: 'acts', code: 'lines-count', message: 'Aucun acte saisi.' }];
  checkIdentity(input, out);
  const dates = checkDates(input, today, out);
  checkCoverage(input, dates, out);
  checkPractitionerAndAmounts(input, out);
  if (input.acts.length > 0 && input.acts.length <= MAX_LINES) {
    try {
      priceActs({ acts: input.acts, context: input.context, beneficiary: input.beneficiary, practitioner: input.practitioner, ...(input.series ? { series: input.series } : {}) }, input.tables);
    } catch (e) {
      if (!(e instanceof TariffError)) throw e;
      // The amounts checks above already said it in the practitioner's terms.
      if (!out.some((x) => x.field === e.field)) out.push({ field: e.field, code: e.code, message: e.message });
    }
  }
  return out;
}
