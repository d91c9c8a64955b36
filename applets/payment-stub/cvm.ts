/**
 * Cardholder verification (EMV Book 3 §10.5): walk the CVM list (8E), condition by condition, with
 * what this terminal supports: offline plaintext PIN (through the kernel's secure PIN entry, which
 * builds and sends VERIFY itself), signature, and "no CVM required". Sets 9F34 and the TVR bits.
 */
import { bytesEqual, fromHex } from '../../platform/sdk/hex.js';
import { parseCardTlv } from './card.js';
import type { Tx } from './context.js';
import { TxError } from './errors.js';
import { PIN_PROMPT, screens, wrongPinText } from './screens.js';
import { CURRENCY_CODE, PIN_REFERENCE } from './terminal.js';
import { formatAmount } from './util.js';

interface Rule {
  code: number;
  next: boolean;
  condition: number;
  byte1: number;
}

/** CVM codes this terminal performs (Book 3 annex C3). */
const SUPPORTED = new Set([0x01, 0x1e, 0x1f, 0x03]);
/** Codes EMV defines (others are "unrecognised"). */
const KNOWN = new Set([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x1e, 0x1f]);

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function conditionMet(tx: Tx, condition: number, x: number, y: number): boolean | null {
  const appCurrency = tx.card.get(0x9f42);
  const sameCurrency = appCurrency !== undefined && bytesEqual(appCurrency, fromHex(CURRENCY_CODE));
  switch (condition) {
    case 0x00:
      return true;
    case 0x01: // unattended cash
    case 0x04: // manual cash
    case 0x05: // purchase with cashback
      return false;
    case 0x02: // not unattended cash, not manual cash, not cashback
    case 0x03: // terminal supports the CVM
      return true;
    case 0x06:
      return sameCurrency ? tx.amount < x : false;
    case 0x07:
      return sameCurrency ? tx.amount > x : false;
    case 0x08:
      return sameCurrency ? tx.amount < y : false;
    case 0x09:
      return sameCurrency ? tx.amount > y : false;
    default:
      return null;
  }
}

type PinOutcome = 'ok' | 'failed' | 'blocked' | 'bypassed';

/** Offline plaintext PIN (Book 3 §10.5.1): the try counter first, then PIN entry until right or blocked. */
async function offlinePin(tx: Tx): Promise<PinOutcome> {
  const gd = await tx.channel.send(0x80, 0xca, 0x9f, 0x17);
  if (gd.sw === 0x9000) {
    try {
      const n = parseCardTlv(gd.data, 'PIN try counter');
      const v = n[0]?.tag === 0x9f17 ? n[0].value : undefined;
      if (v && v.length === 1 && v[0] === 0) {
        tx.tvr.set('pinTryLimitExceeded');
        await screens.cardBlocked();
        return 'blocked';
      }
    } catch {
      // An unreadable counter is not a reason to refuse PIN entry: the card counts anyway.
    }
  }
  // The kernel's PIN screen shows only the prompt: the cardholder must see the amount there.
  let prompt = `${PIN_PROMPT} (${formatAmount(tx.amount)})`;
  for (let attempt = 0; attempt < 16; attempt++) {
    let r;
    try {
      r = await platform.pin.verify(tx.channel.lease, { reference: PIN_REFERENCE, format: 'emv-plaintext', prompt });
    } catch (err) {
      if (tx.channel.removed) throw new TxError('removed', 'Carte retirée', 'card removed during PIN entry');
      throw err;
    }
    if (r.ok) return 'ok';
    if (r.aborted === 'cancelled') throw new TxError('cancelled', 'Annulé par le porteur', 'PIN entry cancelled');
    if (r.aborted === 'timeout') {
      tx.tvr.set('pinNotEntered');
      return 'bypassed';
    }
    if (r.blocked || r.triesLeft === 0) {
      tx.tvr.set('pinTryLimitExceeded');
      await screens.cardBlocked();
      return 'blocked';
    }
    await screens.wrongPin(r.triesLeft);
    prompt = `${r.triesLeft === null ? 'Code faux' : wrongPinText(r.triesLeft)} (${formatAmount(tx.amount)})`;
  }
  return 'failed';
}

export async function cardholderVerification(tx: Tx, aip: Uint8Array): Promise<void> {
  if ((aip[0]! & 0x10) === 0) {
    tx.cvmResults = Uint8Array.of(0x3f, 0x00, 0x00);
    return;
  }
  tx.tsi.set('cvmPerformed');
  const list = tx.card.get(0x8e);
  if (!list || list.length < 10 || list.length % 2 !== 0) {
    tx.tvr.set('iccDataMissing');
    tx.tvr.set('cvmFailed');
    tx.cvmResults = Uint8Array.of(0x3f, 0x00, 0x01);
    return;
  }
  const x = u32(list, 0);
  const y = u32(list, 4);
  const rules: Rule[] = [];
  for (let i = 8; i < list.length; i += 2) rules.push({ byte1: list[i]!, code: list[i]! & 0x3f, next: (list[i]! & 0x40) !== 0, condition: list[i + 1]! });
  let last: Rule | undefined;
  for (const rule of rules) {
    const met = conditionMet(tx, rule.condition, x, y);
    if (met !== true) continue; // unknown conditions are skipped (Book 3 §10.5)
    last = rule;
    if (!KNOWN.has(rule.code)) {
      tx.tvr.set('unrecognisedCvm');
      if (rule.next) continue;
      break;
    }
    if (rule.code === 0x00) break; // "fail CVM processing"
    if (!SUPPORTED.has(rule.code)) {
      if (rule.next) continue;
      break;
    }
    if (rule.code === 0x1f) {
      tx.cvmResults = Uint8Array.of(rule.byte1, rule.condition, 0x02);
      return;
    }
    if (rule.code === 0x1e) {
      tx.signatureRequired = true;
      tx.cvmResults = Uint8Array.of(rule.byte1, rule.condition, 0x00);
      return;
    }
    const pin = await offlinePin(tx);
    if (pin === 'ok') {
      if (rule.code === 0x03) tx.signatureRequired = true;
      tx.cvmResults = Uint8Array.of(rule.byte1, rule.condition, rule.code === 0x03 ? 0x00 : 0x02);
      return;
    }
    if (rule.next) continue;
    break;
  }
  tx.tvr.set('cvmFailed');
  tx.cvmResults = last ? Uint8Array.of(last.byte1, last.condition, 0x01) : Uint8Array.of(0x3f, 0x00, 0x01);
}
