/**
 * The reader's timing model (DESIGN §9). A character on the I/O line is 12 etu (start bit, 8 data
 * bits, parity, 2 guard etu), so at 9600 bps one byte costs 12/9600 s = 1.25 ms. Card processing
 * time comes from the card model, scaled. The model only computes; the reader decides whether to wait.
 */
import type { TimingModel } from './types.js';

export const ETU_PER_BYTE = 12;
export const DEFAULT_BAUD_RATE = 9600;

/** Rates reachable by PPS from the default Fi/Di that the emulated reader accepts. */
export const ISO_BAUD_RATES: readonly number[] = [9600, 19200, 38400, 57600, 115200];

export const DEFAULT_TIMING: Readonly<TimingModel> = Object.freeze({
  baudRate: DEFAULT_BAUD_RATE,
  processingScale: 1,
  enabled: false,
});

export function isIsoBaudRate(bps: number): boolean {
  return ISO_BAUD_RATES.includes(bps);
}

/** Validate and complete a partial timing model; errors name the field. */
export function makeTimingModel(partial: Partial<TimingModel> = {}): TimingModel {
  const model: TimingModel = { ...DEFAULT_TIMING, ...partial };
  if (!isIsoBaudRate(model.baudRate)) {
    throw new RangeError(`timing.baudRate ${String(model.baudRate)} is not one of ${ISO_BAUD_RATES.join(', ')} bps`);
  }
  if (typeof model.processingScale !== 'number' || !Number.isFinite(model.processingScale) || model.processingScale < 0) {
    throw new RangeError(`timing.processingScale must be a finite number >= 0, got ${String(model.processingScale)}`);
  }
  if (typeof model.enabled !== 'boolean') {
    throw new RangeError(`timing.enabled must be a boolean, got ${String(model.enabled)}`);
  }
  return model;
}

/** Time to clock `bytes` characters over the line at `baudRate`, in ms. */
export function transferMs(bytes: number, baudRate: number): number {
  return (bytes * ETU_PER_BYTE * 1000) / baudRate;
}

export interface ExchangeTiming {
  /** Command bytes on the line. */
  commandMs: number;
  /** Card processing, already scaled. */
  processingMs: number;
  /** Response bytes on the line. */
  responseMs: number;
  totalMs: number;
}

export function exchangeTiming(
  commandBytes: number,
  responseBytes: number,
  cardProcessingMs: number,
  baudRate: number,
  processingScale: number,
): ExchangeTiming {
  const commandMs = transferMs(commandBytes, baudRate);
  const processingMs = Math.max(0, cardProcessingMs) * processingScale;
  const responseMs = transferMs(responseBytes, baudRate);
  return { commandMs, processingMs, responseMs, totalMs: commandMs + processingMs + responseMs };
}

/** The ATR always comes at the default rate: PPS happens after it. */
export function atrMs(atrBytes: number): number {
  return transferMs(atrBytes, DEFAULT_BAUD_RATE);
}
