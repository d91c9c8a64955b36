/** Hex helpers for the broker: policies carry bytes as uppercase hex, events carry ATRs as hex. */
import { fromHex as sdkFromHex, toHex } from '../sdk/hex.js';

export { toHex };

export function byteHex(n: number): string {
  return (n & 0xff).toString(16).toUpperCase().padStart(2, '0');
}

/** Strict: an odd length or a non-hex digit throws, naming `what` so a policy error points at its field. */
export function fromHex(hex: string, what: string): Uint8Array {
  try {
    return sdkFromHex(hex);
  } catch {
    throw new TypeError(`${what}: "${hex}" is not an even-length hex string`);
  }
}

export function hexByte(hex: string, what: string): number {
  const b = fromHex(hex, what);
  if (b.length !== 1) throw new TypeError(`${what}: "${hex}" must be exactly one byte (2 hex digits)`);
  return b[0]!;
}
