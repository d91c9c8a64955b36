/**
 * The emulated multi-slot reader as a driver sees it. The slot broker's `emulated` driver adapts it;
 * nothing else in the platform talks to it.
 */
import type { CardModel } from '../cards/card.js';

export type ReaderEvent =
  | { type: 'insert'; slot: number; atr: Uint8Array }
  | { type: 'remove'; slot: number };

export interface TimingModel {
  /** Bits per second on the I/O line; 9600 by default, higher after PPS. */
  baudRate: number;
  /** Multiply card processing times (0 disables card-side delays). */
  processingScale: number;
  /** When false, no delay is applied at all (default: false for tests, true for demos). */
  enabled: boolean;
}

export class ReaderError extends Error {
  constructor(
    readonly code: 'E_NO_CARD' | 'E_CARD_REMOVED' | 'E_MUTE' | 'E_SLOT' | 'E_RESPONSE_TOO_LONG',
    message: string,
  ) {
    super(message);
    this.name = 'ReaderError';
  }
}

export interface Reader {
  readonly slotCount: number;
  insert(slot: number, card: CardModel): void;
  remove(slot: number): void;
  /** Present cards, by slot. */
  present(slot: number): boolean;
  /** Power-on/reset; resolves to the ATR. Rejects with ReaderError E_NO_CARD / E_MUTE. */
  reset(slot: number): Promise<Uint8Array>;
  /** One APDU exchange at the transport level (no 61xx/6Cxx handling here). */
  transmit(slot: number, apdu: Uint8Array): Promise<Uint8Array>;
  on(event: 'event', listener: (e: ReaderEvent) => void): void;
  off(event: 'event', listener: (e: ReaderEvent) => void): void;
  /** Card time accumulated by the timing model (ms), for the benchmark's "card time beside platform time". */
  readonly cardTimeMs: number;
}
