/**
 * Hex and byte helpers shared by the SDK, the kernel and the emulator.
 * Bundled into applets, so nothing here may touch Node APIs (no Buffer).
 */

const HEX_DIGITS = '0123456789ABCDEF';

export class HexError extends Error {
  constructor(
    readonly input: string,
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'HexError';
  }
}

/** Uppercase, no separators: the form used in logs, policies and ATR strings. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out += HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 0x0f]!;
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/** Quote user input in an error without flooding the log with a megabyte of hex. */
function excerpt(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 61)}...` : s);
}

/**
 * Strict hex decoding. Whitespace may separate groups ("3F00 A0 00") but never split a byte
 * ("3 F00"): a byte half-typed in a profile or policy is a mistake worth reporting.
 */
export function fromHex(s: string): Uint8Array {
  if (typeof s !== 'string') {
    throw new HexError(String(s), 0, `fromHex: expected a string, got ${typeof s}`);
  }
  const out = new Uint8Array(s.length >> 1);
  let n = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const hi = hexValue(c);
    if (hi < 0) {
      throw new HexError(s, i, `fromHex: invalid hex character ${JSON.stringify(s[i])} at offset ${i} in ${excerpt(s)}`);
    }
    if (i + 1 >= s.length || isSpace(s.charCodeAt(i + 1))) {
      throw new HexError(s, i, `fromHex: odd number of hex digits (lone digit at offset ${i}) in ${excerpt(s)}`);
    }
    const lo = hexValue(s.charCodeAt(i + 1));
    if (lo < 0) {
      throw new HexError(
        s,
        i + 1,
        `fromHex: invalid hex character ${JSON.stringify(s[i + 1])} at offset ${i + 1} in ${excerpt(s)}`,
      );
    }
    out[n++] = (hi << 4) | lo;
    i += 2;
  }
  return out.slice(0, n);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Plain equality; not constant-time, so never use it to compare secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}
