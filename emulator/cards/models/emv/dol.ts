/**
 * Data Object Lists (EMV Book 3 §5.4): a DOL is a list of tag + length pairs with no values; the
 * terminal answers with the concatenated values. The card reads its own DOLs (PDOL, CDOL1, CDOL2)
 * to check the length of what it receives and to find the values its logic needs.
 */
export interface DolEntry {
  tag: number;
  length: number;
}

export function parseDol(bytes: Uint8Array): DolEntry[] {
  const out: DolEntry[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    let tag = bytes[pos++]!;
    if ((tag & 0x1f) === 0x1f) {
      let more = true;
      while (more) {
        if (pos >= bytes.length) throw new Error(`DOL: tag at offset ${start} is truncated`);
        if (pos - start >= 3) throw new Error(`DOL: tag at offset ${start} is longer than 3 bytes`);
        const b = bytes[pos++]!;
        tag = tag * 256 + b;
        more = (b & 0x80) !== 0;
      }
    }
    if (pos >= bytes.length) throw new Error(`DOL: tag at offset ${start} has no length`);
    const length = bytes[pos++]!;
    if (length >= 0x80) throw new Error(`DOL: length ${length} at offset ${pos - 1} is not a one-byte length`);
    out.push({ tag, length });
  }
  return out;
}

export function dolLength(entries: readonly DolEntry[]): number {
  return entries.reduce((n, e) => n + e.length, 0);
}

/** Split DOL-related data into values by tag; the caller has checked the total length. */
export function dolValues(entries: readonly DolEntry[], data: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let pos = 0;
  for (const e of entries) {
    out.set(e.tag, data.slice(pos, pos + e.length));
    pos += e.length;
  }
  return out;
}
