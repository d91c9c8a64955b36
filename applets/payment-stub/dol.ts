/**
 * Data Object Lists (PDOL, CDOL1/2, DDOL): a list of tag + length the card asks the terminal to fill
 * (EMV Book 3 §5.4). The terminal sends the values concatenated, each formatted to the asked length.
 */
import { cardError } from './errors.js';

export interface DolEntry {
  tag: number;
  length: number;
}

/** Numeric (n) data is right-justified with leading zeros and cut on the left. */
const NUMERIC = new Set([0x9f02, 0x9f03, 0x9f1a, 0x5f2a, 0x9a, 0x9c, 0x9f21, 0x5f36, 0x9f15, 0x9f01, 0x9f41]);
/** Compressed numeric (cn) is padded with F on the right. */
const COMPRESSED = new Set([0x5a]);

export function parseDol(bytes: Uint8Array, what: string): DolEntry[] {
  const out: DolEntry[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const first = bytes[pos]!;
    let tag = first;
    pos++;
    if ((first & 0x1f) === 0x1f) {
      let n = 0;
      for (;;) {
        if (pos >= bytes.length || ++n > 2) throw cardError(`${what}: malformed tag in the data object list`);
        const b = bytes[pos++]!;
        tag = tag * 256 + b;
        if ((b & 0x80) === 0) break;
      }
    }
    if (pos >= bytes.length) throw cardError(`${what}: tag without a length in the data object list`);
    const length = bytes[pos++]!;
    if (length > 0x7f) throw cardError(`${what}: length field ${length} in a data object list`);
    out.push({ tag, length });
  }
  if (out.length > 64) throw cardError(`${what}: more than 64 entries`);
  return out;
}

export function dolLength(dol: readonly DolEntry[]): number {
  return dol.reduce((s, e) => s + e.length, 0);
}

/** Book 3 §5.4: format each value to the requested length; unknown data is sent as zeros. */
export function formatForDol(tag: number, value: Uint8Array | undefined, length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (COMPRESSED.has(tag)) out.fill(0xff);
  if (!value) return out.fill(0);
  if (NUMERIC.has(tag)) {
    if (value.length >= length) out.set(value.subarray(value.length - length));
    else out.set(value, length - value.length);
  } else {
    out.set(value.subarray(0, Math.min(length, value.length)));
  }
  return out;
}

export function buildDolData(dol: readonly DolEntry[], lookup: (tag: number) => Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(dolLength(dol));
  let pos = 0;
  for (const e of dol) {
    out.set(formatForDol(e.tag, lookup(e.tag), e.length), pos);
    pos += e.length;
  }
  return out;
}
