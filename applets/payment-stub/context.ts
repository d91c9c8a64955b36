/** The state of one EMV transaction, shared by the steps (selection → completion). */
import { fromHex } from '../../platform/sdk/hex.js';
import type { CardChannel } from './card.js';
import { ADDITIONAL_CAPABILITIES, CURRENCY_CODE, CURRENCY_EXPONENT, MERCHANT_ID, MERCHANT_NAME, TERMINAL_CAPABILITIES, TERMINAL_COUNTRY, TERMINAL_ID, TERMINAL_TYPE, TRANSACTION_TYPE, type TerminalAid, type TerminalParams } from './terminal.js';
import { Tsi, Tvr } from './tvr.js';
import { amountBcd } from './util.js';

export interface Tx {
  ref: string;
  amount: number;
  /** YYMMDD and HHMMSS, terminal local time. */
  date: string;
  time: string;
  params: TerminalParams;
  channel: CardChannel;
  tvr: Tvr;
  tsi: Tsi;
  /** 9F37, fresh for this transaction. */
  unpredictable: Uint8Array;
  /** Chosen application (after final selection). */
  app?: { terminal: TerminalAid; adf: Uint8Array; label: string; preferredName?: string; fci: Map<number, Uint8Array> };
  /** Card data from GPO and the records, by tag (each tag at most once). */
  card: Map<number, Uint8Array>;
  /** Records to authenticate, in AFL order (Book 3 §10.3). */
  odaRecords: Uint8Array[];
  /** A record marked for ODA was not a 70 template: ODA fails. */
  odaDataBroken: boolean;
  /** 9F34 */
  cvmResults: Uint8Array;
  signatureRequired: boolean;
  /** Set once the authorization message has left: after that, a removal may need a reversal. */
  authorizationSent: boolean;
  /** Extra terminal data set on the way (8A, 91, 9F45, 9F4C). */
  extra: Map<number, Uint8Array>;
}

/** The terminal's side of every DOL (Book 3 annex A): what the terminal can answer with. */
export function terminalValue(tx: Tx, tag: number): Uint8Array | undefined {
  switch (tag) {
    case 0x9f02:
      return amountBcd(tx.amount);
    case 0x9f03:
      return amountBcd(0);
    case 0x9f1a:
      return fromHex(TERMINAL_COUNTRY);
    case 0x5f2a:
      return fromHex(CURRENCY_CODE);
    case 0x5f36:
      return Uint8Array.of(CURRENCY_EXPONENT);
    case 0x9a:
      return fromHex(tx.date);
    case 0x9f21:
      return fromHex(tx.time);
    case 0x9c:
      return fromHex(TRANSACTION_TYPE);
    case 0x9f37:
      return tx.unpredictable;
    case 0x9f35:
      return fromHex(TERMINAL_TYPE);
    case 0x9f33:
      return fromHex(TERMINAL_CAPABILITIES);
    case 0x9f40:
      return fromHex(ADDITIONAL_CAPABILITIES);
    case 0x95:
      return tx.tvr.bytes.slice();
    case 0x9b:
      return tx.tsi.bytes.slice();
    case 0x9f34:
      return tx.cvmResults;
    case 0x9f09:
      return tx.app ? fromHex(tx.app.terminal.version) : undefined;
    case 0x9f1b: {
      const f = tx.params.floorLimit;
      return Uint8Array.of((f >>> 24) & 0xff, (f >>> 16) & 0xff, (f >>> 8) & 0xff, f & 0xff);
    }
    case 0x9f1c:
      return Uint8Array.from(TERMINAL_ID, (c) => c.charCodeAt(0));
    case 0x9f16:
      return Uint8Array.from(MERCHANT_ID.padEnd(15, ' '), (c) => c.charCodeAt(0));
    case 0x9f4e:
      return Uint8Array.from(MERCHANT_NAME, (c) => c.charCodeAt(0));
    case 0x9f15:
      return fromHex('8011');
    case 0x9f06:
      return tx.app?.adf;
    default:
      return tx.extra.get(tag) ?? tx.card.get(tag);
  }
}
