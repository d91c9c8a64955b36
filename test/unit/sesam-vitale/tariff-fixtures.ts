/** Shared inputs for the tariff, invoice and property tests (fictitious people and numbers). */
import type { Beneficiary, CareContext, CpsSituation, Insured, PractitionerRef } from '../../../applets/sesam-vitale/model.js';
import { nirKey } from '../../../applets/sesam-vitale/rules/nir.js';
import type { InvoiceInput } from '../../../applets/sesam-vitale/invoice/validate.js';

export const withKey = (nir13: string): string => nir13 + nirKey(nir13);

export function practitioner(specialite = '01', conventionCode = '1'): PractitionerRef {
  return {
    nationalId: '819999000011', nom: 'FICTIF', prenom: 'ALICE', specialite, billingNumber: '019999999',
    situationNumber: 1, conventionCode, tariffZone: '10', remplacant: false,
  };
}

export function situation(p: PractitionerRef, canSignFse = true): CpsSituation {
  return {
    number: p.situationNumber, mode: 'L', billingNumber: p.billingNumber, conventionCode: p.conventionCode, tariffZone: p.tariffZone,
    specialite: p.specialite, canSignFse, canSignLot: true, remplacant: false,
  };
}

export function insured(): Insured {
  return { nir: withKey('1850575123456'), regime: '01', caisse: '751', centre: '9999', codeGestion: '10' };
}

export function adult(extra: Partial<Beneficiary> = {}): Beneficiary {
  return {
    surname: 'TESTMARTIN', firstName: 'PAUL', birthDate: '19850512', birthRank: 1, quality: '00', nationality: 'FRA',
    rights: { start: '2023-01-01', ald: false, exoneration: '0' }, ...extra,
  };
}

export function context(extra: Partial<CareContext> = {}): CareContext {
  return { nature: 'maladie', aldRelated: false, parcours: 'traitant', tiersPayantAmo: false, tiersPayantAmc: false, ...extra };
}

export const AMC_01 = { number: '99999901', contractType: '01', tiersPayant: true, start: '2024-01-01', end: '2099-12-31', name: 'MUTUELLE TEST DI' };

export function invoiceInput(extra: Partial<InvoiceInput> = {}): InvoiceInput {
  const p = extra.practitioner ?? practitioner();
  return {
    practitioner: p, situation: situation(p), insured: insured(), beneficiary: adult(), context: context(),
    acts: [{ date: '2025-03-10', code: 'G' }], degraded: false, ...extra,
  };
}
