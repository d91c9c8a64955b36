/** Hex helpers for the broker: policies carry bytes as uppercase hex, events carry ATRs as hex. */

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

export function byteHex(n: number): string {
  return (n & 0xff).toString(16).toUpperCase().padStart(2, '0');
}

/** Strict: an odd length or a non-hex digit throws, naming `what` so a policy error points at its field. */
export function fromHex(hex: string, what: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`${what}: "${hex}" is not an even-length hex string`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function hexByte(hex: string, what: string): number {
  const b = fromHex(hex, what);
  if (b.length !== 1) throw new TypeError(`${what}: "${hex}" must be exactly one byte (2 hex digits)`);
  return b[0]!;
}
