/**
 * Which ARL reason the emulated AMO gives for each failure. The codes and their French texts live in
 * ONE place, formats/arl.ts ARL_REASONS (docs/formats.md prints them); this module only says which
 * check maps to which code. Texts are cut to the ARL field widths (lot reason 50, invoice 90).
 */
import { ARL_REASONS, type ArlReasonCode } from '../../applets/sesam-vitale/formats/arl.js';

export interface Reason {
  code: string;
  text: string;
}

/** Width of the lot reason text in the ARL header record (formats/arl.ts). */
const LOT_TEXT_WIDTH = 50;
const INVOICE_TEXT_WIDTH = 90;

function reason(code: ArlReasonCode, width: number): Reason {
  return { code, text: ARL_REASONS[code].slice(0, width).trim() };
}

/** Lot level: every invoice of the lot is rejected with this reason. */
export const LOT_REASONS = {
  /** Envelope (subject, Message-ID, sender, attachments), lot attachment missing, body unreadable. */
  structure: reason('L01', LOT_TEXT_WIDTH),
  signature: reason('L02', LOT_TEXT_WIDTH),
  /** Not issued by the health CA, or not valid at the signing time. */
  certificate: reason('L03', LOT_TEXT_WIDTH),
  /** Lot header or manifest billing number not the sender's / signer's. */
  billing: reason('L04', LOT_TEXT_WIDTH),
  destination: reason('L05', LOT_TEXT_WIDTH),
  /** Invoice count differs from the manifest, or out of 1..MAX_INVOICES_PER_LOT. */
  count: reason('L06', LOT_TEXT_WIDTH),
} as const satisfies Record<string, Reason>;

/** Invoice level. */
export const INVOICE_REASONS = {
  format: reason('F01', INVOICE_TEXT_WIDTH),
  /** Detached CPS signature invalid, or signed by another practitioner than the invoice's. */
  signature: reason('F02', INVOICE_TEXT_WIDTH),
  vitale: reason('F03', INVOICE_TEXT_WIDTH),
  nir: reason('F04', INVOICE_TEXT_WIDTH),
  dates: reason('F05', INVOICE_TEXT_WIDTH),
  rights: reason('F06', INVOICE_TEXT_WIDTH),
  amounts: reason('F07', INVOICE_TEXT_WIDTH),
  /** Number already received (same content: duplicate; other content: reuse). */
  duplicate: reason('F08', INVOICE_TEXT_WIDTH),
  specialty: reason('F09', INVOICE_TEXT_WIDTH),
  situation: reason('F10', INVOICE_TEXT_WIDTH),
  amc: reason('F11', INVOICE_TEXT_WIDTH),
  rule: reason('F99', INVOICE_TEXT_WIDTH),
} as const satisfies Record<string, Reason>;

/** Codes a rules file may give: F99 (the generic rule rejection) or R01..R99, this emulator's own. */
export const RULE_CODE_RE = /^(F99|R[0-9]{2})$/;
