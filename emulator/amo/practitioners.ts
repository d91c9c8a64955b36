/**
 * The caisse's file of practitioners: who holds which billing number. The AMO needs it to accept a
 * lot that the titulaire signs for invoices a remplaçant made under the titulaire's billing number.
 * In the emulator the file is made from the CPS profiles (the cards the practitioners carry).
 */
import { listProfiles, loadProfile } from '../cards/registry.js';
import { billingNumberKey, nationalId, type IdType } from '../cards/models/cps/data.js';

interface CpsProfileJson {
  holder: { idType: IdType; id: string };
  situations: Array<{ billingNumber: string; remplacant?: boolean }>;
}

/** Billing number (9 digits) -> national identifier of the practitioner who holds it (not a remplaçant). */
export type PractitionerFile = ReadonlyMap<string, string>;

export function practitionerFileFromProfiles(): PractitionerFile {
  const out = new Map<string, string>();
  for (const p of listProfiles().filter((x) => x.kind === 'cps')) {
    const json = loadProfile(p.name).data as CpsProfileJson;
    for (const s of json.situations) {
      if (s.remplacant) continue;
      const billing = s.billingNumber.length === 8 ? `${s.billingNumber}${billingNumberKey(s.billingNumber)}` : s.billingNumber;
      out.set(billing, nationalId(json.holder.idType, json.holder.id));
    }
  }
  return out;
}
