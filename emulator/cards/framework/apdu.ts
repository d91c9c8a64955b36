/**
 * Command APDU decoding on the card side (ISO/IEC 7816-4 §5.1, short and extended cases).
 * A malformed APDU is not an exception: the card answers 6700, so decoding returns a result.
 */

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Nc bytes), empty for cases 1 and 2. */
  data: Uint8Array;
  /** Ne, the maximum response length expected; null when no Le field was sent (cases 1 and 3). */
  ne: number | null;
  /** Le was all zeros: "as much as available" (256 short, 65536 extended). */
  neIsMax: boolean;
  isoCase: 1 | 2 | 3 | 4;
  extended: boolean;
}

export type ApduDecodeResult = { ok: true; command: CommandApdu } | { ok: false; reason: string };

export function decodeCommandApdu(apdu: Uint8Array): ApduDecodeResult {
  const n = apdu.length;
  if (n < 4) return { ok: false, reason: `APDU of ${n} bytes is shorter than the 4-byte header` };
  const base = { cla: apdu[0]!, ins: apdu[1]!, p1: apdu[2]!, p2: apdu[3]! };
  const empty = new Uint8Array(0);
  if (n === 4) return { ok: true, command: { ...base, data: empty, ne: null, neIsMax: false, isoCase: 1, extended: false } };
  const b4 = apdu[4]!;
  if (n === 5) {
    return { ok: true, command: { ...base, data: empty, ne: b4 === 0 ? 256 : b4, neIsMax: b4 === 0, isoCase: 2, extended: false } };
  }
  if (b4 !== 0) {
    const lc = b4;
    if (n === 5 + lc) {
      return { ok: true, command: { ...base, data: apdu.slice(5), ne: null, neIsMax: false, isoCase: 3, extended: false } };
    }
    if (n === 6 + lc) {
      const le = apdu[n - 1]!;
      return {
        ok: true,
        command: { ...base, data: apdu.slice(5, 5 + lc), ne: le === 0 ? 256 : le, neIsMax: le === 0, isoCase: 4, extended: false },
      };
    }
    return { ok: false, reason: `short Lc ${lc} does not match the ${n - 5} bytes after the header` };
  }
  if (n < 7) return { ok: false, reason: `extended APDU of ${n} bytes is too short for its 3-byte length field` };
  const l16 = (apdu[5]! << 8) | apdu[6]!;
  if (n === 7) {
    return {
      ok: true,
      command: { ...base, data: empty, ne: l16 === 0 ? 65536 : l16, neIsMax: l16 === 0, isoCase: 2, extended: true },
    };
  }
  const lc = l16;
  if (lc === 0) return { ok: false, reason: 'extended Lc is 0000 but data follows' };
  if (n === 7 + lc) {
    return { ok: true, command: { ...base, data: apdu.slice(7), ne: null, neIsMax: false, isoCase: 3, extended: true } };
  }
  if (n === 9 + lc) {
    const le = (apdu[n - 2]! << 8) | apdu[n - 1]!;
    return {
      ok: true,
      command: { ...base, data: apdu.slice(7, 7 + lc), ne: le === 0 ? 65536 : le, neIsMax: le === 0, isoCase: 4, extended: true },
    };
  }
  return { ok: false, reason: `extended Lc ${lc} does not match the ${n - 7} bytes after the length field` };
}
