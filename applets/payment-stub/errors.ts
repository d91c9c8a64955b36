/**
 * How a transaction stops early. Every failure the card, the acquirer or the cardholder can cause
 * becomes a TxError carrying a French reason for the screen and a journal detail free of card data,
 * so the kernel never sees a raw exception from the EMV flow.
 */
export type TxErrorKind =
  /** The card left the reader (or its lease was revoked): "Carte retirée". */
  | 'removed'
  /** The cardholder or the merchant cancelled. */
  | 'cancelled'
  /** The card answered something EMV does not allow (bad TLV, inconsistent AFL, missing data...). */
  | 'card'
  /** No application this terminal supports. */
  | 'no-application'
  /** The request itself was invalid (amount, currency). */
  | 'request'
  /** Anything else the terminal could not complete. */
  | 'terminal';

export class TxError extends Error {
  constructor(
    readonly kind: TxErrorKind,
    /** What the screen says (French, no card data). */
    readonly screen: string,
    /** What the journal keeps (English or French, no PAN, track 2, cryptogram or PIN). */
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'TxError';
  }
}

export function cardError(detail: string, screen = 'Carte illisible'): TxError {
  return new TxError('card', screen, detail);
}

/** Kernel error codes that mean the card is gone (platform/slot-broker). */
const REMOVAL_CODES = new Set(['E_NO_CARD', 'E_CARD_REMOVED', 'E_LEASE', 'E_NOT_ROUTED']);

export function isRemoval(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && REMOVAL_CODES.has(code);
}

/** Kernel errors carry a `code`; keep it and not the message (which could quote data). */
export function errorCode(err: unknown): string {
  if (err instanceof TxError) return err.kind;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'unknown';
}
