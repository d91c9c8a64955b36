/**
 * Terminal data (EMV Book 4 §4, Book 3 annex A): what this terminal is, which applications it
 * accepts and the parameters the acquirer would download. Kept as data so a parameter change is an
 * edit here (or a `terminal-params` key in the store), not a change in the kernel's logic.
 */
import { fromHex } from '../../platform/sdk/hex.js';

export interface TerminalAid {
  aid: string;
  name: string;
  /** Application Selection Indicator: may the card's DF name be longer than this AID? */
  partialMatch: boolean;
  /** 9F09: application version number the terminal knows. */
  version: string;
  tacDenial: string;
  tacOnline: string;
  tacDefault: string;
  /** Default DDOL when the card gives none (Book 3 §6.5.9). */
  ddol: string;
}

export interface RiskParams {
  /** 9F1B, in centimes: at or above it, the transaction goes online (Book 3 §10.6.1). */
  floorLimit: number;
  /** Random selection (Book 3 §10.6.2): below the threshold, `targetPercent`; up to the floor, interpolated to `maxTargetPercent`. */
  randomThreshold: number;
  targetPercent: number;
  maxTargetPercent: number;
}

export interface TerminalParams extends RiskParams {
  /** The charge limits of this terminal (centimes). */
  minAmount: number;
  maxAmount: number;
  /** How long a charge waits for a card (ms). */
  cardWaitMs: number;
}

export const TERMINAL_ID = 'DI000001';
export const MERCHANT_NAME = 'CABINET MEDICAL';
export const MERCHANT_ID = '1234567';
/** 9F1A: France. */
export const TERMINAL_COUNTRY = '0250';
/** 5F2A: euro. */
export const CURRENCY_NUMERIC = 978;
export const CURRENCY_CODE = '0978';
export const CURRENCY_EXPONENT = 2;
/** 9F35: attended, offline with online capability, operated by the merchant. */
export const TERMINAL_TYPE = '22';
/**
 * 9F33 (Book 4 annex A2): byte 1 20 = IC with contacts; byte 2 A8 = plaintext PIN for ICC
 * verification (80) + signature (20) + no CVM required (08); byte 3 C0 = SDA (80) + DDA (40), no CDA.
 */
export const TERMINAL_CAPABILITIES = '20A8C0';
/** 9F40: goods, services; numeric keys; attendant display and printer. */
export const ADDITIONAL_CAPABILITIES = '6000F0A001';
/** 9C: goods and services. */
export const TRANSACTION_TYPE = '00';

// TACs follow the schemes' usual published defaults: deny on nothing the issuer did not ask for,
// go online on failed ODA, expiry, new card, failed CVM, floor limit or random selection.
const TAC = { denial: '0010000000', online: 'D84004F800', default: 'D84000A800' };

export const TERMINAL_AIDS: readonly TerminalAid[] = [
  { aid: 'A0000000421010', name: 'CB', partialMatch: true, version: '0002', tacDenial: TAC.denial, tacOnline: TAC.online, tacDefault: TAC.default, ddol: '9F3704' },
  { aid: 'A0000000031010', name: 'VISA', partialMatch: true, version: '0002', tacDenial: TAC.denial, tacOnline: TAC.online, tacDefault: TAC.default, ddol: '9F3704' },
  { aid: 'A0000000041010', name: 'MASTERCARD', partialMatch: true, version: '0002', tacDenial: TAC.denial, tacOnline: TAC.online, tacDefault: TAC.default, ddol: '9F3704' },
];

export const DEFAULT_PARAMS: TerminalParams = {
  floorLimit: 10_000,
  randomThreshold: 2_000,
  targetPercent: 5,
  maxTargetPercent: 20,
  minAmount: 1,
  maxAmount: 150_000,
  cardWaitMs: 60_000,
};

export const PSE_NAME = fromHex('315041592E5359532E4444463031');
export const PIN_REFERENCE = 0x80;
