/**
 * PIN objects with retry counters. The reference value lives in a private field and is never
 * part of a message, toString, JSON or inspect output: card models are logged and snapshotted
 * by tests and demos, and a PIN in a log is exactly what DESIGN §2 forbids.
 */
import { inspect } from 'node:util';

export type PinFormat = 'ascii-ff' | 'bcd-ff' | 'emv-plaintext';

export const PIN_FORMATS: readonly PinFormat[] = ['ascii-ff', 'bcd-ff', 'emv-plaintext'];

const BLOCK_LENGTH = 8;

/**
 * The 8-byte block a terminal sends in VERIFY for `digits`:
 * - ascii-ff: ASCII digits padded with FF (IAS-ECC style);
 * - bcd-ff: packed BCD padded with F nibbles;
 * - emv-plaintext: EMV Book 3 plaintext PIN block, 2N then BCD digits then F nibbles.
 */
export function encodePinBlock(digits: string, format: PinFormat): Uint8Array {
  if (!/^[0-9]{4,12}$/.test(digits)) {
    // The value itself is deliberately not quoted.
    throw new RangeError(`PIN must be 4 to 12 decimal digits (got ${digits.length} characters)`);
  }
  const block = new Uint8Array(BLOCK_LENGTH).fill(0xff);
  const nibbles: number[] = [];
  switch (format) {
    case 'ascii-ff':
      for (let i = 0; i < digits.length; i++) {
        if (i >= BLOCK_LENGTH) throw new RangeError(`PIN of ${digits.length} digits does not fit an ascii-ff block of 8 bytes`);
        block[i] = digits.charCodeAt(i);
      }
      return block;
    case 'bcd-ff':
      for (const ch of digits) nibbles.push(ch.charCodeAt(0) - 0x30);
      break;
    case 'emv-plaintext':
      nibbles.push(0x2, digits.length);
      for (const ch of digits) nibbles.push(ch.charCodeAt(0) - 0x30);
      break;
    default:
      throw new RangeError(`unknown PIN format ${String(format)}; expected one of ${PIN_FORMATS.join(', ')}`);
  }
  for (let i = 0; i < nibbles.length; i++) {
    const byte = i >> 1;
    const cur = block[byte]!;
    block[byte] = i % 2 === 0 ? (nibbles[i]! << 4) | (cur & 0x0f) : (cur & 0xf0) | nibbles[i]!;
  }
  return block;
}

export type PinCheck = 'ok' | 'wrong' | 'blocked' | 'wrong-length';

export interface PinSpec {
  /** P2 of VERIFY. */
  reference: number;
  /** Digits; encoded once into the card's reference block. */
  value: string;
  format: PinFormat;
  maxTries: number;
  /** Start with fewer tries than max (profiles of half-used or blocked cards). */
  triesLeft?: number;
}

export class PinObject {
  readonly reference: number;
  readonly format: PinFormat;
  readonly maxTries: number;
  #block: Uint8Array;
  #tries: number;

  constructor(spec: PinSpec) {
    if (!Number.isInteger(spec.reference) || spec.reference < 0 || spec.reference > 0xff) {
      throw new RangeError(`PIN reference must be a byte (P2 of VERIFY), got ${String(spec.reference)}`);
    }
    if (!Number.isInteger(spec.maxTries) || spec.maxTries < 1 || spec.maxTries > 15) {
      throw new RangeError(`PIN reference ${spec.reference}: maxTries must be 1..15 (63Cx), got ${String(spec.maxTries)}`);
    }
    const tries = spec.triesLeft ?? spec.maxTries;
    if (!Number.isInteger(tries) || tries < 0 || tries > spec.maxTries) {
      throw new RangeError(`PIN reference ${spec.reference}: triesLeft must be 0..${spec.maxTries}, got ${String(spec.triesLeft)}`);
    }
    this.reference = spec.reference;
    this.format = spec.format;
    this.maxTries = spec.maxTries;
    this.#block = encodePinBlock(spec.value, spec.format);
    this.#tries = tries;
  }

  get triesLeft(): number {
    return this.#tries;
  }

  get blocked(): boolean {
    return this.#tries === 0;
  }

  /** Compare in constant time; a wrong length is refused without spending a try. */
  check(candidate: Uint8Array): PinCheck {
    if (this.#tries === 0) return 'blocked';
    if (candidate.length !== this.#block.length) return 'wrong-length';
    let diff = 0;
    for (let i = 0; i < candidate.length; i++) diff |= candidate[i]! ^ this.#block[i]!;
    if (diff === 0) {
      this.#tries = this.maxTries;
      return 'ok';
    }
    this.#tries--;
    return 'wrong';
  }

  /** Unblock (as after a PUK) and optionally set a new value. */
  resetRetryCounter(newValue?: string): void {
    if (newValue !== undefined) this.#block = encodePinBlock(newValue, this.format);
    this.#tries = this.maxTries;
  }

  change(newValue: string): void {
    this.#block = encodePinBlock(newValue, this.format);
  }

  toString(): string {
    return `PIN ref ${this.reference.toString(16).toUpperCase().padStart(2, '0')} (${this.format}, ${this.#tries}/${this.maxTries} tries)`;
  }

  toJSON(): { reference: number; format: PinFormat; maxTries: number; triesLeft: number } {
    return { reference: this.reference, format: this.format, maxTries: this.maxTries, triesLeft: this.#tries };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
