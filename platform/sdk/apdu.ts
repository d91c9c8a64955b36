/**
 * ISO/IEC 7816-4 command and response APDU codec.
 *
 * Bundled into applets (so it must stay free of Node APIs) and used by the slot broker to decide
 * whether an applet's command is well-formed. Parsing is deliberately strict: a command the card
 * might read differently from the broker (ambiguous lengths, trailing bytes) is refused outright,
 * because the broker's allowlist decision is only as good as its agreement with the card on what
 * the command is.
 */

export class ApduError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ApduError';
  }
}

export interface CommandApduFields {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Nc bytes); absent or empty means no Lc field. */
  data?: Uint8Array;
  /**
   * Ne, the maximum number of response data bytes expected. Absent or 0 means no Le field
   * (as in javax.smartcardio); 1..256 in short form (256 is encoded 00), up to 65536 in extended form.
   */
  le?: number;
  /** Force the extended length form even when the lengths would fit in short form. */
  extended?: boolean;
}

export type ApduCase = 1 | 2 | 3 | 4;

export interface ParsedCommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** A copy of the command data (empty for cases 1 and 2). */
  data: Uint8Array;
  /** Ne decoded from the Le field (00 → 256 short, 0000 → 65536 extended); null when absent. */
  le: number | null;
  case: ApduCase;
  extended: boolean;
}

export interface ParsedResponseApdu {
  data: Uint8Array;
  sw: number;
  sw1: number;
  sw2: number;
}

const MAX_SHORT_NC = 255;
const MAX_SHORT_NE = 256;
const MAX_EXTENDED_NC = 65_535;
const MAX_EXTENDED_NE = 65_536;

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

function checkByte(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) {
    throw new ApduError(`${name} must be an integer 0..255, got ${String(v)}`);
  }
}

/**
 * ISO 7816-4 §5.4.1 marks CLA FF invalid (it introduces PPS in ISO 7816-3) and INS 6X / 9X invalid
 * (on T=0 they would be read as procedure bytes), so a command carrying them cannot be sent safely.
 */
function checkHeaderValues(cla: number, ins: number): void {
  if (cla === 0xff) throw new ApduError('CLA FF is invalid (reserved for PPS by ISO 7816-3)');
  const hi = ins & 0xf0;
  if (hi === 0x60 || hi === 0x90) {
    throw new ApduError(`INS ${hex2(ins)} is invalid (INS 6X and 9X are T=0 procedure bytes)`);
  }
}

/** Encode a command APDU, choosing case 1–4 from the presence of data and Le, and short or extended form. */
export function buildApdu(fields: CommandApduFields): Uint8Array {
  const { cla, ins, p1, p2 } = fields;
  checkByte('CLA', cla);
  checkByte('INS', ins);
  checkByte('P1', p1);
  checkByte('P2', p2);
  checkHeaderValues(cla, ins);
  const data = fields.data ?? new Uint8Array(0);
  if (!(data instanceof Uint8Array)) throw new ApduError('data must be a Uint8Array');
  const nc = data.length;
  const ne = fields.le ?? 0;
  if (!Number.isInteger(ne) || ne < 0 || ne > MAX_EXTENDED_NE) {
    throw new ApduError(`Le (Ne) must be an integer 0..65536, got ${String(fields.le)}`);
  }
  if (nc > MAX_EXTENDED_NC) {
    throw new ApduError(`command data is ${nc} bytes; at most 65535 fit even in extended form`);
  }
  const extended = fields.extended === true || nc > MAX_SHORT_NC || ne > MAX_SHORT_NE;

  const header = [cla, ins, p1, p2];
  if (nc === 0 && ne === 0) return Uint8Array.from(header);

  if (!extended) {
    const out = new Uint8Array(4 + (nc > 0 ? 1 + nc : 0) + (ne > 0 ? 1 : 0));
    out.set(header, 0);
    let at = 4;
    if (nc > 0) {
      out[at++] = nc;
      out.set(data, at);
      at += nc;
    }
    if (ne > 0) out[at] = ne === MAX_SHORT_NE ? 0 : ne;
    return out;
  }

  // Extended form: a single 00 marker, then 2-byte Lc and/or 2-byte Le (the marker is not repeated before Le).
  const out = new Uint8Array(4 + 1 + (nc > 0 ? 2 + nc : 0) + (ne > 0 ? 2 : 0));
  out.set(header, 0);
  out[4] = 0;
  let at = 5;
  if (nc > 0) {
    out[at++] = nc >> 8;
    out[at++] = nc & 0xff;
    out.set(data, at);
    at += nc;
  }
  if (ne > 0) {
    const enc = ne === MAX_EXTENDED_NE ? 0 : ne;
    out[at++] = enc >> 8;
    out[at] = enc & 0xff;
  }
  return out;
}

/**
 * Decode a command APDU exactly as ISO 7816-4 §5.1 lays out cases 1, 2S, 3S, 4S, 2E, 3E and 4E.
 * Anything else (short Lc of 00, extended Lc of 0000, body length that matches no case) throws ApduError.
 */
export function parseCommandApdu(bytes: Uint8Array): ParsedCommandApdu {
  if (!(bytes instanceof Uint8Array)) throw new ApduError('command APDU must be a Uint8Array');
  if (bytes.length < 4) {
    throw new ApduError(`command APDU is ${bytes.length} bytes; the header CLA INS P1 P2 needs 4`);
  }
  const cla = bytes[0]!;
  const ins = bytes[1]!;
  const p1 = bytes[2]!;
  const p2 = bytes[3]!;
  checkHeaderValues(cla, ins);
  const head = { cla, ins, p1, p2 };
  const bodyLen = bytes.length - 4;
  const empty = new Uint8Array(0);

  if (bodyLen === 0) return { ...head, data: empty, le: null, case: 1, extended: false };

  const b0 = bytes[4]!;
  if (bodyLen === 1) {
    return { ...head, data: empty, le: b0 === 0 ? MAX_SHORT_NE : b0, case: 2, extended: false };
  }

  if (b0 !== 0) {
    // Short Lc: the body is Lc + data (case 3S) or Lc + data + Le (case 4S), nothing else.
    const nc = b0;
    if (bodyLen === 1 + nc) {
      return { ...head, data: bytes.slice(5, 5 + nc), le: null, case: 3, extended: false };
    }
    if (bodyLen === 2 + nc) {
      const le = bytes[5 + nc]!;
      return { ...head, data: bytes.slice(5, 5 + nc), le: le === 0 ? MAX_SHORT_NE : le, case: 4, extended: false };
    }
    throw new ApduError(
      `short Lc ${hex2(nc)} announces ${nc} data bytes, so the body after the header must be ` +
        `${1 + nc} (case 3S) or ${2 + nc} (case 4S) bytes, but it is ${bodyLen}`,
    );
  }

  // b0 = 00 with more bytes after it: only the extended forms remain.
  if (bodyLen === 2) {
    throw new ApduError('body is 00 followed by one byte: short Lc 00 is invalid and an extended length needs 2 bytes');
  }
  const n = (bytes[5]! << 8) | bytes[6]!;
  if (bodyLen === 3) {
    return { ...head, data: empty, le: n === 0 ? MAX_EXTENDED_NE : n, case: 2, extended: true };
  }
  if (n === 0) {
    throw new ApduError(`extended Lc 0000 is invalid (body of ${bodyLen} bytes after the header)`);
  }
  if (bodyLen === 3 + n) {
    return { ...head, data: bytes.slice(7, 7 + n), le: null, case: 3, extended: true };
  }
  if (bodyLen === 5 + n) {
    const le = (bytes[7 + n]! << 8) | bytes[8 + n]!;
    return {
      ...head,
      data: bytes.slice(7, 7 + n),
      le: le === 0 ? MAX_EXTENDED_NE : le,
      case: 4,
      extended: true,
    };
  }
  throw new ApduError(
    `extended Lc ${n} announces ${n} data bytes, so the body after the header must be ` +
      `${3 + n} (case 3E) or ${5 + n} (case 4E) bytes, but it is ${bodyLen}`,
  );
}

/** Split a response APDU into data and SW1 SW2. The data is a copy. */
export function parseResponse(bytes: Uint8Array): ParsedResponseApdu {
  if (!(bytes instanceof Uint8Array)) throw new ApduError('response APDU must be a Uint8Array');
  if (bytes.length < 2) {
    throw new ApduError(`response APDU is ${bytes.length} bytes; it needs at least SW1 SW2`);
  }
  const sw1 = bytes[bytes.length - 2]!;
  const sw2 = bytes[bytes.length - 1]!;
  return { data: bytes.slice(0, bytes.length - 2), sw: (sw1 << 8) | sw2, sw1, sw2 };
}

const SW_TEXT: Readonly<Record<number, string>> = {
  0x9000: 'success',
  0x6281: 'part of returned data may be corrupted',
  0x6282: 'end of file or record reached before reading Ne bytes',
  0x6283: 'selected file deactivated',
  0x6284: 'file control information not formatted as expected',
  0x6300: 'verification failed',
  0x6581: 'memory failure',
  0x6700: 'wrong length',
  0x6881: 'logical channel not supported',
  0x6882: 'secure messaging not supported',
  0x6883: 'last command of the chain expected',
  0x6884: 'command chaining not supported',
  0x6981: 'command incompatible with file structure',
  0x6982: 'security status not satisfied',
  0x6983: 'authentication method blocked',
  0x6984: 'reference data not usable',
  0x6985: 'conditions of use not satisfied',
  0x6986: 'command not allowed (no current EF)',
  0x6987: 'expected secure messaging data objects missing',
  0x6988: 'incorrect secure messaging data objects',
  0x6a80: 'incorrect parameters in the command data field',
  0x6a81: 'function not supported',
  0x6a82: 'file or application not found',
  0x6a83: 'record not found',
  0x6a84: 'not enough memory space in the file',
  0x6a86: 'incorrect parameters P1-P2',
  0x6a87: 'Nc inconsistent with parameters P1-P2',
  0x6a88: 'referenced data or reference data not found',
  0x6a89: 'file already exists',
  0x6a8a: 'DF name already exists',
  0x6b00: 'wrong parameters P1-P2',
  0x6d00: 'instruction code not supported or invalid',
  0x6e00: 'class not supported',
  0x6f00: 'no precise diagnosis',
};

/** A short English description of a status word, e.g. swText(0x6982) → "security status not satisfied". */
export function swText(sw: number): string {
  const known = SW_TEXT[sw];
  if (known !== undefined) return known;
  const sw1 = (sw >> 8) & 0xff;
  const sw2 = sw & 0xff;
  switch (sw1) {
    case 0x61:
      return sw2 === 0 ? 'more response data available (256 or more bytes)' : `${sw2} more response bytes available`;
    case 0x6c:
      return `wrong Le; the card has exactly ${sw2 === 0 ? 256 : sw2} bytes`;
    case 0x63:
      if ((sw2 & 0xf0) === 0xc0) return `verification failed, ${sw2 & 0x0f} tries left`;
      return 'warning: state of non-volatile memory changed';
    case 0x62:
      return 'warning: state of non-volatile memory unchanged';
    case 0x64:
      return 'execution error: state of non-volatile memory unchanged';
    case 0x65:
      return 'execution error: state of non-volatile memory changed';
    case 0x67:
      return 'wrong length';
    case 0x68:
      return 'functions in CLA not supported';
    case 0x69:
      return 'command not allowed';
    case 0x6a:
      return 'wrong parameters P1-P2';
    default:
      return `unknown status ${hex2(sw1)}${hex2(sw2)}`;
  }
}
