/**
 * Processing restrictions (EMV Book 3 §10.4): application version, Application Usage Control for a
 * purchase at a non-ATM terminal, domestic or international, effective and expiry dates. Results
 * are TVR bits only; terminal action analysis decides what they mean.
 */
import { toHex } from '../../platform/sdk/hex.js';
import type { Tx } from './context.js';
import { TERMINAL_COUNTRY } from './terminal.js';
import { bcdDigits, dateKey } from './util.js';

export function processingRestrictions(tx: Tx, expiry: string): void {
  const cardVersion = tx.card.get(0x9f08);
  if (cardVersion && toHex(cardVersion) !== tx.app!.terminal.version) tx.tvr.set('versionMismatch');

  const auc = tx.card.get(0x9f07);
  if (auc && auc.length >= 2) {
    const country = tx.card.get(0x5f28);
    const domestic = country !== undefined && toHex(country) === TERMINAL_COUNTRY;
    // Byte 1: 20 domestic goods, 10 international goods, 01 valid at terminals other than ATMs.
    const goods = domestic ? 0x20 : 0x10;
    if ((auc[0]! & 0x01) === 0 || (auc[0]! & goods) === 0) tx.tvr.set('serviceNotAllowed');
  }

  const eff = tx.card.get(0x5f25);
  if (eff) {
    const d = bcdDigits(eff);
    if (d !== null && dateKey(tx.date) < dateKey(d)) tx.tvr.set('notYetEffective');
  }
  if (dateKey(tx.date) > dateKey(expiry)) tx.tvr.set('expired');
}
