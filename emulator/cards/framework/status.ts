/**
 * ISO/IEC 7816-4 status words used by the card framework. Kept as numbers (SW1 << 8 | SW2) so
 * handlers compare and compose them cheaply; `describeSw` is for test failures and logs.
 */
export const SW = {
  OK: 0x9000,
  /** End of file or record reached before reading Ne bytes. */
  END_OF_DATA: 0x6282,
  WRONG_LENGTH: 0x6700,
  INCOMPATIBLE_FILE: 0x6981,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  WRONG_P1P2: 0x6a86,
  REFERENCE_NOT_FOUND: 0x6a88,
  WRONG_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

/** 61xx: xx more bytes available through GET RESPONSE (00 means 256 or more). */
export function swBytesAvailable(n: number): number {
  return 0x6100 | (Math.min(n, 256) & 0xff);
}

/** 6Cxx: wrong Le, re-send with Le = xx (00 means 256). */
export function swWrongLe(n: number): number {
  return 0x6c00 | (Math.min(n, 256) & 0xff);
}

/** 63Cx: verification failed, x tries left (capped at 15 by the encoding). */
export function swTriesLeft(n: number): number {
  return 0x63c0 | Math.max(0, Math.min(n, 15));
}

const NAMES: Record<number, string> = {
  0x9000: 'OK',
  0x6282: 'end of data before Ne bytes',
  0x6700: 'wrong length',
  0x6981: 'command incompatible with file structure',
  0x6982: 'security status not satisfied',
  0x6983: 'authentication method blocked',
  0x6985: 'conditions of use not satisfied',
  0x6986: 'command not allowed (no current EF)',
  0x6a80: 'incorrect data',
  0x6a82: 'file or application not found',
  0x6a83: 'record not found',
  0x6a86: 'incorrect P1-P2',
  0x6a88: 'referenced data not found',
  0x6b00: 'wrong parameters (offset outside the EF)',
  0x6d00: 'INS not supported',
  0x6e00: 'CLA not supported',
  0x6f00: 'no precise diagnosis',
};

export function describeSw(sw: number): string {
  const hex = sw.toString(16).toUpperCase().padStart(4, '0');
  const sw1 = sw >> 8;
  if (sw1 === 0x61) return `${hex} (${sw & 0xff || 256} bytes available)`;
  if (sw1 === 0x6c) return `${hex} (wrong Le, exact length ${sw & 0xff || 256})`;
  if ((sw & 0xfff0) === 0x63c0) return `${hex} (verification failed, ${sw & 0x0f} tries left)`;
  const name = NAMES[sw];
  return name ? `${hex} (${name})` : hex;
}
