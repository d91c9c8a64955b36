/**
 * `di tla load --sample`: a day's data to try the link with, made of the emulator's fictitious
 * people (the CPS profile cps-medecin-generaliste and the Vitale profiles vitale-assure-seul and
 * vitale-famille-jumeaux). No tariff table: the device keeps its bundled ones.
 */
import type { DayDataArgs } from '../platform/wire/hostlink.js';

export function sampleDay(day: string = new Date().toISOString().slice(0, 10)): DayDataArgs {
  return {
    day,
    situations: [{ billingNumber: '751990011', situationNumber: 1, label: 'Cabinet principal (fictif)' }],
    patients: [
      {
        insured: { nir: '180017599900137', regime: '01', caisse: '751', centre: '9999', codeGestion: '10' },
        beneficiaries: [
          {
            surname: 'TESTDUPONT',
            firstName: 'JEAN',
            birthDate: '19800115',
            birthRank: 1,
            quality: '00',
            nationality: 'FRA',
            rights: { start: '2023-01-01', ald: false, exoneration: '0' },
          },
        ],
      },
    ],
  };
}
