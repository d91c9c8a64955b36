/**
 * A slot driver: the only code that talks to card hardware (or its emulation).
 * One driver per reader technology (emulated, pcsc), in the way OpenSC keeps one driver per card.
 */
export type DriverEvent =
  | { type: 'insert'; slot: number; atr: Uint8Array }
  | { type: 'remove'; slot: number };

export class DriverError extends Error {
  constructor(
    /** E_NO_CARD: slot empty; E_CARD_REMOVED: removed mid-exchange; E_MUTE: no answer; E_IO: anything else. */
    readonly code: 'E_NO_CARD' | 'E_CARD_REMOVED' | 'E_MUTE' | 'E_IO' | 'E_SLOT',
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

export interface SlotDriver {
  readonly name: string;
  readonly slotCount: number;
  /** Begin reporting events; insert events are emitted for cards already present. */
  start(onEvent: (e: DriverEvent) => void): Promise<void>;
  /** Reset (warm) the card; resolves to the ATR. */
  reset(slot: number): Promise<Uint8Array>;
  /** Exchange one APDU at transport level; no T=0 GET RESPONSE handling here (the broker does it). */
  transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array>;
  stop(): Promise<void>;
}
