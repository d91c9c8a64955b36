/** What the payment terminal says, in French, as a French payment terminal says it. No card data here but the masked PAN. */
import { formatAmount } from './util.js';

const TITLE = 'Paiement';

async function show(lines: string[], keys?: string[]): Promise<void> {
  await platform.ui.show({ title: TITLE, lines: lines.map((l) => l.slice(0, 64)).slice(0, 12), ...(keys ? { keys } : {}) });
}

export const screens = {
  insertCard: (amount: number) => show([`Montant : ${formatAmount(amount)}`, 'Insérez la carte'], ['Annuler']),
  amountRefused: (why: string) => show(['Montant refusé', why]),
  reading: (amount: number) => show([`Montant : ${formatAmount(amount)}`, 'Lecture de la carte', 'Ne retirez pas la carte']),
  processing: (amount: number, label: string) => show([`Montant : ${formatAmount(amount)}`, label, 'Traitement en cours']),
  wrongPin: (triesLeft: number | null) => show([triesLeft === null ? 'Code faux' : wrongPinText(triesLeft)]),
  cardBlocked: () => show(['Code bloqué', 'Carte bloquée']),
  signature: () => show(['Signature du porteur', 'sur le ticket commerçant']),
  online: (amount: number) => show([`Montant : ${formatAmount(amount)}`, 'Demande d\'autorisation', 'Patientez']),
  approved: (amount: number, authCode?: string) => show([`Montant : ${formatAmount(amount)}`, 'Paiement accepté', ...(authCode ? [`N° autorisation : ${authCode}`] : []), 'Retirez la carte']),
  declined: (amount: number, why?: string) => show([`Montant : ${formatAmount(amount)}`, 'Paiement refusé', ...(why ? [why] : []), 'Retirez la carte']),
  cancelled: (why: string) => show(['Paiement annulé', why]),
  error: (why: string) => show(['Paiement impossible', why, 'Retirez la carte']),
  message: (lines: string[]) => show(lines),
};

export function wrongPinText(triesLeft: number): string {
  return triesLeft === 1 ? 'Code faux, il reste 1 essai' : `Code faux, il reste ${triesLeft} essais`;
}

export const PIN_PROMPT = 'Code confidentiel';
