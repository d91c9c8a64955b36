/**
 * Who invoices: a remplaçant bills under the number of the practitioner replaced, everyone else
 * under the situation's own. Pure, shared by the applet (session, validation) and the practice
 * computer (tla/cps-signer.ts), which signs lots for the same billing numbers.
 */
import type { CpsSituation } from '../model.js';

export function billingEntity(s: Pick<CpsSituation, 'billingNumber' | 'remplacant' | 'replacedBillingNumber'>): string {
  return s.remplacant && s.replacedBillingNumber !== undefined ? s.replacedBillingNumber : s.billingNumber;
}
