/**
 * Terminal Verification Results (95, 5 bytes) and Transaction Status Information (9B, 2 bytes),
 * EMV Book 3 annex C5/C6. The bits are data: name → [byte index, mask], so the journal can list
 * which ones were set by name and a test can read them back.
 */
import { toHex } from '../../platform/sdk/hex.js';

export const TVR_BITS = {
  odaNotPerformed: [0, 0x80],
  sdaFailed: [0, 0x40],
  iccDataMissing: [0, 0x20],
  exceptionFile: [0, 0x10],
  ddaFailed: [0, 0x08],
  cdaFailed: [0, 0x04],
  sdaSelected: [0, 0x02],
  versionMismatch: [1, 0x80],
  expired: [1, 0x40],
  notYetEffective: [1, 0x20],
  serviceNotAllowed: [1, 0x10],
  newCard: [1, 0x08],
  cvmFailed: [2, 0x80],
  unrecognisedCvm: [2, 0x40],
  pinTryLimitExceeded: [2, 0x20],
  pinPadMissing: [2, 0x10],
  pinNotEntered: [2, 0x08],
  onlinePinEntered: [2, 0x04],
  floorLimitExceeded: [3, 0x80],
  lowerConsecutiveExceeded: [3, 0x40],
  upperConsecutiveExceeded: [3, 0x20],
  randomlySelected: [3, 0x10],
  merchantForcedOnline: [3, 0x08],
  defaultTdolUsed: [4, 0x80],
  issuerAuthFailed: [4, 0x40],
  scriptFailedBefore: [4, 0x20],
  scriptFailedAfter: [4, 0x10],
} as const satisfies Record<string, readonly [number, number]>;

export const TSI_BITS = {
  odaPerformed: [0, 0x80],
  cvmPerformed: [0, 0x40],
  cardRiskPerformed: [0, 0x20],
  issuerAuthPerformed: [0, 0x10],
  terminalRiskPerformed: [0, 0x08],
  scriptPerformed: [0, 0x04],
} as const satisfies Record<string, readonly [number, number]>;

export type TvrBit = keyof typeof TVR_BITS;
export type TsiBit = keyof typeof TSI_BITS;

class BitField<K extends string> {
  readonly bytes: Uint8Array;
  constructor(
    private readonly defs: Record<K, readonly [number, number]>,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }
  set(bit: K): void {
    const [i, m] = this.defs[bit];
    this.bytes[i] = this.bytes[i]! | m;
  }
  has(bit: K): boolean {
    const [i, m] = this.defs[bit];
    return (this.bytes[i]! & m) !== 0;
  }
  names(): K[] {
    return (Object.keys(this.defs) as K[]).filter((k) => this.has(k));
  }
  hex(): string {
    return toHex(this.bytes);
  }
}

export class Tvr extends BitField<TvrBit> {
  constructor() {
    super(TVR_BITS, 5);
  }
}

export class Tsi extends BitField<TsiBit> {
  constructor() {
    super(TSI_BITS, 2);
  }
}

/** Any bit in both? (terminal action analysis compares TVR with TACs and IACs this way). */
export function intersects(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if ((a[i]! & b[i]!) !== 0) return true;
  return false;
}
