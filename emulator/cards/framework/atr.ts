/**
 * Answer-To-Reset construction and parsing (ISO/IEC 7816-3 §8). The builder only produces the
 * direct convention and the common shapes (T=0 alone, or T=1 with IFSC/BWI/CWI); the parser reads
 * any well-formed ATR so tests and the broker's routing can inspect what a card announced.
 */

export type Protocol = 'T=0' | 'T=1';

export interface AtrOptions {
  protocol: Protocol;
  /** Historical bytes, at most 15. */
  historical: Uint8Array;
  /** TA1 (Fi/Di): announces faster rates the card accepts through PPS; omitted means 372/1. */
  ta1?: number;
  /** TC1: extra guard time N. */
  tc1?: number;
  /** T=1 only: information field size of the card (TA3), default FE. */
  ifsc?: number;
  /** T=1 only: BWI in the high nibble, CWI in the low one (TB3), default 45. */
  bwiCwi?: number;
}

export class AtrError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'AtrError';
  }
}

function checkByte(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xff)) {
    throw new RangeError(`buildAtr: ${name} must be a byte, got ${String(v)}`);
  }
}

export function buildAtr(options: AtrOptions): Uint8Array {
  const { protocol, historical, ta1, tc1 } = options;
  if (protocol !== 'T=0' && protocol !== 'T=1') {
    throw new RangeError(`buildAtr: protocol must be 'T=0' or 'T=1', got ${String(protocol)}`);
  }
  if (historical.length > 15) {
    throw new RangeError(`buildAtr: ${historical.length} historical bytes, at most 15 fit in T0`);
  }
  checkByte('ta1', ta1);
  checkByte('tc1', tc1);
  checkByte('ifsc', options.ifsc);
  checkByte('bwiCwi', options.bwiCwi);
  if (protocol === 'T=0' && (options.ifsc !== undefined || options.bwiCwi !== undefined)) {
    throw new RangeError('buildAtr: ifsc and bwiCwi are T=1 parameters but protocol is T=0');
  }
  const out: number[] = [0x3b];
  const t1 = protocol === 'T=1';
  out.push((ta1 !== undefined ? 0x10 : 0) | (tc1 !== undefined ? 0x40 : 0) | (t1 ? 0x80 : 0) | historical.length);
  if (ta1 !== undefined) out.push(ta1);
  if (tc1 !== undefined) out.push(tc1);
  if (t1) {
    // TD1: T=1, TD2 follows; TD2: T=1 again, carrying the T=1 specific TA3 and TB3.
    out.push(0x81, 0x31, options.ifsc ?? 0xfe, options.bwiCwi ?? 0x45);
  }
  out.push(...historical);
  if (t1) {
    let tck = 0;
    for (let i = 1; i < out.length; i++) tck ^= out[i]!;
    out.push(tck);
  }
  return Uint8Array.from(out);
}

export interface ParsedAtr {
  convention: 'direct' | 'inverse';
  /** Interface bytes by index i (1-based as in the standard; index 0 unused). */
  ta: Array<number | undefined>;
  tb: Array<number | undefined>;
  tc: Array<number | undefined>;
  td: Array<number | undefined>;
  /** Protocols announced in TD bytes, in order and deduplicated; [0] when none is announced. */
  protocols: number[];
  historical: Uint8Array;
  tck?: number;
}

export function parseAtr(atr: Uint8Array): ParsedAtr {
  if (atr.length < 2) throw new AtrError(atr.length, `ATR of ${atr.length} bytes is shorter than TS T0`);
  if (atr.length > 33) throw new AtrError(33, `ATR of ${atr.length} bytes exceeds the 33-byte maximum`);
  const ts = atr[0]!;
  if (ts !== 0x3b && ts !== 0x3f) {
    throw new AtrError(0, `TS ${ts.toString(16).toUpperCase()} is neither 3B (direct) nor 3F (inverse)`);
  }
  const t0 = atr[1]!;
  const k = t0 & 0x0f;
  const result: ParsedAtr = {
    convention: ts === 0x3b ? 'direct' : 'inverse',
    ta: [],
    tb: [],
    tc: [],
    td: [],
    protocols: [],
    historical: new Uint8Array(0),
  };
  let y = t0 >> 4;
  let pos = 2;
  let i = 1;
  let tckNeeded = false;
  const take = (what: string): number => {
    if (pos >= atr.length) throw new AtrError(pos, `ATR ends before ${what}${i}`);
    return atr[pos++]!;
  };
  for (;;) {
    if (y & 0x1) result.ta[i] = take('TA');
    if (y & 0x2) result.tb[i] = take('TB');
    if (y & 0x4) result.tc[i] = take('TC');
    if (!(y & 0x8)) break;
    const td = take('TD');
    result.td[i] = td;
    const t = td & 0x0f;
    if (t !== 0) tckNeeded = true;
    if (!result.protocols.includes(t)) result.protocols.push(t);
    y = td >> 4;
    i++;
  }
  if (result.protocols.length === 0) result.protocols.push(0);
  if (pos + k > atr.length) throw new AtrError(pos, `ATR announces ${k} historical bytes but only ${atr.length - pos} remain`);
  result.historical = atr.slice(pos, pos + k);
  pos += k;
  if (tckNeeded) {
    if (pos >= atr.length) throw new AtrError(pos, 'ATR announces a protocol other than T=0 but has no TCK');
    result.tck = atr[pos++]!;
    let x = 0;
    for (let j = 1; j < pos; j++) x ^= atr[j]!;
    if (x !== 0) throw new AtrError(pos - 1, `ATR TCK ${result.tck.toString(16).toUpperCase()} is wrong (XOR T0..TCK = ${x.toString(16).toUpperCase()})`);
  }
  if (pos !== atr.length) throw new AtrError(pos, `ATR has ${atr.length - pos} unexpected bytes after the historical bytes`);
  return result;
}

/** The first protocol the card announces, as the reader would use it without PPS. */
export function atrProtocol(atr: Uint8Array): Protocol {
  const first = parseAtr(atr).protocols[0];
  if (first === 0) return 'T=0';
  if (first === 1) return 'T=1';
  throw new AtrError(0, `ATR announces T=${String(first)} first; the emulator only models T=0 and T=1`);
}
