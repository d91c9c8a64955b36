/**
 * What a card model is to the reader: a power-on answer and a command processor.
 * Models are synchronous and deterministic given their state; timing is the reader's business.
 */
export interface CardModel {
  /** Short name for logs and profiles, e.g. "test-card", "vitale-2". */
  readonly kind: string;
  /** Cold or warm reset: restores the card's volatile state (selected files, security status) and returns the ATR. */
  reset(): Uint8Array;
  /**
   * Process one command APDU as received over T=0/T=1 and return response data + SW1 SW2.
   * Never throws for bad input: answers with the ISO 7816-4 status word a card would give.
   * May return `null` for a mute card (no answer: the reader reports a timeout).
   */
  process(apdu: Uint8Array): Uint8Array | null;
  /** Card-side processing time for this command in ms (for the reader's timing model). Default 0. */
  processingMs?(apdu: Uint8Array): number;
}
