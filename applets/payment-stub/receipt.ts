/**
 * Receipts (tickets), merchant and cardholder copies, in French as a CB terminal prints them. The
 * PAN is masked 6/4; nothing else from the card but the AID, label and the cryptogram-free facts.
 * They stay in this domain: stored with the journal entry and under `receipt/last` for the terminal UI.
 */
import { formatAmount } from './util.js';
import { MERCHANT_ID, MERCHANT_NAME, TERMINAL_ID } from './terminal.js';

export interface ReceiptFacts {
  ref: string;
  dateText: string;
  timeText: string;
  maskedPan: string;
  aid: string;
  label: string;
  amount: number;
  status: 'approved' | 'declined' | 'cancelled' | 'error';
  authCode?: string;
  online: boolean;
  signature: boolean;
  reason?: string;
  kind?: 'debit' | 'annulation';
}

function center(s: string, width = 32): string {
  const pad = Math.max(0, Math.floor((width - s.length) / 2));
  return ' '.repeat(pad) + s;
}

const STATUS_TEXT: Record<ReceiptFacts['status'], string> = {
  approved: 'PAIEMENT ACCEPTE',
  declined: 'PAIEMENT REFUSE',
  cancelled: 'PAIEMENT ANNULE',
  error: 'PAIEMENT NON ABOUTI',
};

export function buildReceipt(f: ReceiptFacts, copy: 'merchant' | 'cardholder'): string[] {
  const lines = [
    center(f.label.toUpperCase()),
    `A${f.aid}`,
    `LE ${f.dateText} A ${f.timeText}`,
    MERCHANT_NAME,
    `COMMERCANT ${MERCHANT_ID}`,
    `TERMINAL ${TERMINAL_ID}`,
    f.maskedPan,
    f.kind === 'annulation' ? 'ANNULATION' : 'DEBIT',
    `MONTANT = ${formatAmount(f.amount)}`,
    STATUS_TEXT[f.status],
  ];
  if (f.reason && f.status !== 'approved') lines.push(f.reason.toUpperCase().slice(0, 40));
  if (f.authCode) lines.push(`N° AUTO : ${f.authCode}`);
  lines.push(f.online ? 'AUTORISATION EN LIGNE' : 'AUTORISATION HORS LIGNE');
  lines.push(`REF : ${f.ref}`);
  if (copy === 'merchant') {
    lines.push('TICKET COMMERCANT');
    if (f.signature && f.status === 'approved') lines.push('SIGNATURE DU PORTEUR :', '', '');
  } else {
    lines.push('TICKET CLIENT');
    lines.push('CONSERVEZ CE TICKET');
  }
  return lines;
}
