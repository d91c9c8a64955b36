/**
 * The APDU filter: what an applet may send to a card of a given class. A command must be a
 * well-formed ISO 7816-4 command (so the broker and the card agree on what it is), fit under the
 * length cap, and match one (CLA, INS[, P1, P2]) rule of the card class.
 *
 * PIN-carrying commands are never forwarded for applets, whatever a policy says: PIN digits must not
 * pass through applet code, so PIN presentation is the kernel's secure PIN entry (transmitPinVerify).
 */
import { ApduError, parseCommandApdu, type ParsedCommandApdu } from '../sdk/apdu.js';
import type { CardClass } from '../kernel/policy/types.js';
import { BrokerError } from './types.js';
import { byteHex, hexByte, toHex } from './hex.js';

export interface CompiledRule {
  cla: number;
  claMask: number;
  ins: number;
  p1: number | null;
  p2: number | null;
  name: string | null;
}

/** What the filter needs to know about a card class, parsed once from the policy. */
export interface FilterClass {
  name: string;
  rules: readonly CompiledRule[];
  pinReferences: ReadonlySet<number>;
  /**
   * The class's applications (policy `aids`): a SELECT by DF name must name one of them (or a longer
   * name they start, as EMV partial selection does), so an applet cannot reach another application
   * a multi-application card may carry. Absent: names are not checked (fuzzing the rules alone).
   */
  aids?: readonly Uint8Array[];
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/**
 * INS codes that carry reference data (PINs, PUKs) in ISO 7816-4: VERIFY (20, 21), CHANGE REFERENCE
 * DATA (24, 25) and RESET RETRY COUNTER (2C, 2D). Letting an applet send any of them would let it
 * handle PIN digits, which only the kernel's secure PIN entry may do.
 */
const PIN_INS: ReadonlyMap<number, string> = new Map([
  [0x20, 'VERIFY'],
  [0x21, 'VERIFY'],
  [0x24, 'CHANGE REFERENCE DATA'],
  [0x25, 'CHANGE REFERENCE DATA'],
  [0x2c, 'RESET RETRY COUNTER'],
  [0x2d, 'RESET RETRY COUNTER'],
]);

export function compileRules(cardClass: CardClass, where: string): CompiledRule[] {
  return cardClass.apdu.map((r, i) => {
    const at = `${where} apdu[${i}]`;
    return {
      cla: hexByte(r.cla, `${at}.cla`),
      claMask: r.claMask === undefined ? 0xff : hexByte(r.claMask, `${at}.claMask`),
      ins: hexByte(r.ins, `${at}.ins`),
      p1: r.p1 === undefined ? null : hexByte(r.p1, `${at}.p1`),
      p2: r.p2 === undefined ? null : hexByte(r.p2, `${at}.p2`),
      name: r.name ?? null,
    };
  });
}

export function describeHeader(cla: number, ins: number, p1: number, p2: number): string {
  return `CLA ${byteHex(cla)} INS ${byteHex(ins)} P1 ${byteHex(p1)} P2 ${byteHex(p2)}`;
}

function ruleMatches(rule: CompiledRule, c: ParsedCommandApdu): boolean {
  return (
    (c.cla & rule.claMask) === (rule.cla & rule.claMask) &&
    c.ins === rule.ins &&
    (rule.p1 === null || c.p1 === rule.p1) &&
    (rule.p2 === null || c.p2 === rule.p2)
  );
}

function parseOrRefuse(apdu: Uint8Array, cls: FilterClass, maxCommandBytes: number, who: string): ParsedCommandApdu {
  if (!(apdu instanceof Uint8Array)) {
    throw new BrokerError('E_APDU_MALFORMED', `${who}: the command for card class "${cls.name}" is not a byte array`);
  }
  if (apdu.length > maxCommandBytes) {
    throw new BrokerError(
      'E_APDU_MALFORMED',
      `${who}: command of ${apdu.length} bytes for card class "${cls.name}" exceeds the cap of ${maxCommandBytes} bytes`,
    );
  }
  try {
    return parseCommandApdu(apdu);
  } catch (e) {
    if (e instanceof ApduError) {
      // Only the header is named: the data may be anything, including a PIN block.
      const head =
        apdu.length >= 4 ? ` (${describeHeader(apdu[0]!, apdu[1]!, apdu[2]!, apdu[3]!)}, ${apdu.length} bytes)` : '';
      throw new BrokerError(
        'E_APDU_MALFORMED',
        `${who}: malformed command for card class "${cls.name}"${head}: ${e.reason}`,
      );
    }
    throw e;
  }
}

/** Check an applet's command; returns it parsed, or throws E_APDU_MALFORMED / E_APDU_DENIED. */
export function checkAppletApdu(apdu: Uint8Array, cls: FilterClass, maxCommandBytes: number): ParsedCommandApdu {
  const c = parseOrRefuse(apdu, cls, maxCommandBytes, 'applet APDU refused');
  const pinCommand = PIN_INS.get(c.ins);
  if (pinCommand !== undefined) {
    throw new BrokerError(
      'E_APDU_DENIED',
      `applet APDU refused: ${pinCommand} (INS ${byteHex(c.ins)}) to card class "${cls.name}" is never allowed ` +
        `from an applet, whatever the policy lists; PIN entry is a kernel function (use platform.pin.verify)`,
    );
  }
  if (!cls.rules.some((r) => ruleMatches(r, c))) {
    throw new BrokerError(
      'E_APDU_DENIED',
      `applet APDU refused: ${describeHeader(c.cla, c.ins, c.p1, c.p2)} is not in the allowlist of card class "${cls.name}"`,
    );
  }
  // SELECT by DF name (P1 000001xx): only the class's own applications.
  if (cls.aids !== undefined && c.ins === 0xa4 && (c.p1 & 0xfc) === 0x04 && !cls.aids.some((aid) => startsWith(c.data, aid))) {
    throw new BrokerError(
      'E_APDU_DENIED',
      `applet APDU refused: SELECT of application ${toHex(c.data) || '(empty name)'} is not an application of card class "${cls.name}" (policy aids)`,
    );
  }
  return c;
}

/**
 * Check a kernel-built VERIFY: exactly 00 20 00 P2 with P2 one of the class's PIN references, with
 * the PIN block as data (case 3) or without data (case 1, asking for the remaining tries).
 */
export function checkPinVerify(apdu: Uint8Array, cls: FilterClass, maxCommandBytes: number): ParsedCommandApdu {
  const c = parseOrRefuse(apdu, cls, maxCommandBytes, 'PIN VERIFY refused');
  const head = describeHeader(c.cla, c.ins, c.p1, c.p2);
  if (c.cla !== 0x00 || c.ins !== 0x20 || c.p1 !== 0x00) {
    c.data.fill(0);
    throw new BrokerError('E_APDU_DENIED', `PIN VERIFY refused: ${head} is not 00 20 00 P2 (card class "${cls.name}")`);
  }
  if (!cls.pinReferences.has(c.p2)) {
    c.data.fill(0);
    const refs = [...cls.pinReferences].map(byteHex).join(', ') || 'none';
    throw new BrokerError(
      'E_APDU_DENIED',
      `PIN VERIFY refused: reference P2 ${byteHex(c.p2)} is not a PIN reference of card class "${cls.name}" (allowed: ${refs})`,
    );
  }
  if (c.case !== 1 && c.case !== 3) {
    c.data.fill(0);
    throw new BrokerError(
      'E_APDU_DENIED',
      `PIN VERIFY refused: ${head} is case ${c.case}; VERIFY carries no Le (case 1 or 3 only) (card class "${cls.name}")`,
    );
  }
  return c;
}
