/**
 * An ISO/IEC 7816-4 card: command dispatch by (CLA mask, INS), the file system commands, VERIFY,
 * GET CHALLENGE and the transport behaviours of T=0 (61xx / GET RESPONSE, 6Cxx) and T=1.
 *
 * Card models (Vitale, CPS, EMV, the test card) are configurations of this class, optionally with
 * extra handlers registered in a subclass constructor or through `config.handlers`. Handlers see a
 * decoded command and return data + SW; the shaping of that answer to the protocol and to Le is
 * done once, here, so every model gets the same transport behaviour.
 */
import { randomBytes } from 'node:crypto';
import type { CardModel } from '../card.js';
import { decodeCommandApdu, type CommandApdu } from './apdu.js';
import { atrProtocol, buildAtr, type AtrOptions, type Protocol } from './atr.js';
import { FileSystem, type AccessCondition, type DfSpec, type EfSpec, type FileSpec } from './filesystem.js';
import { PinObject, type PinSpec } from './pin.js';
import { SW, swBytesAvailable, swTriesLeft, swWrongLe } from './status.js';

export interface CardResponse {
  sw: number;
  data?: Uint8Array;
}

export type CommandHandler = (command: CommandApdu, card: IsoCard) => CardResponse;

export interface HandlerRegistration {
  /** The command matches when (CLA & claMask) === (cla & claMask). */
  cla: number;
  /** Default FF (exact CLA). */
  claMask?: number;
  ins: number;
  /** For logs and error messages, e.g. "SELECT". */
  name?: string;
  handler: CommandHandler;
}

export interface ProcessingTimes {
  /** Card-side time for a command without a specific entry, in ms. */
  defaultMs?: number;
  /** By INS. */
  byIns?: Record<number, number>;
}

export interface IsoCardConfig {
  kind: string;
  /** Raw ATR, or options to build one. */
  atr: Uint8Array | AtrOptions;
  /** Defaults to the first protocol the ATR announces. */
  protocol?: Protocol;
  /** The MF; its FID is forced to 3F00. */
  fileSystem: DfSpec;
  pins?: PinSpec[];
  processing?: ProcessingTimes;
  /** Source of GET CHALLENGE bytes; node:crypto by default. Injected for deterministic tests. */
  random?: (n: number) => Uint8Array;
  handlers?: HandlerRegistration[];
}

interface PendingResponse {
  data: Uint8Array;
  sw: number;
}

const EMPTY = new Uint8Array(0);

function withSw(data: Uint8Array, sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export function status(sw: number): CardResponse {
  return { sw };
}

export function ok(data?: Uint8Array): CardResponse {
  return data ? { sw: SW.OK, data } : { sw: SW.OK };
}

export class IsoCard implements CardModel {
  readonly kind: string;
  readonly protocol: Protocol;
  readonly fs: FileSystem;
  readonly pins = new Map<number, PinObject>();
  readonly #atr: Uint8Array;
  readonly #handlers: Array<HandlerRegistration & { claMask: number }> = [];
  readonly #processing: ProcessingTimes;
  readonly #random: (n: number) => Uint8Array;
  readonly #verified = new Set<number>();
  #currentDf: DfSpec;
  #currentEf: EfSpec | null = null;
  #pending: PendingResponse | null = null;

  constructor(config: IsoCardConfig) {
    this.kind = config.kind;
    this.#atr = config.atr instanceof Uint8Array ? config.atr.slice() : buildAtr(config.atr);
    const announced = atrProtocol(this.#atr);
    this.protocol = config.protocol ?? announced;
    this.fs = new FileSystem(config.fileSystem);
    this.#currentDf = this.fs.mf;
    for (const spec of config.pins ?? []) {
      if (this.pins.has(spec.reference)) throw new Error(`${config.kind}: PIN reference ${spec.reference} defined twice`);
      this.pins.set(spec.reference, new PinObject(spec));
    }
    this.#processing = config.processing ?? {};
    this.#random = config.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.register({ cla: 0x00, ins: 0xa4, name: 'SELECT', handler: (c) => this.select(c) });
    this.register({ cla: 0x00, ins: 0xb0, name: 'READ BINARY', handler: (c) => this.readBinary(c) });
    this.register({ cla: 0x00, ins: 0xb2, name: 'READ RECORD', handler: (c) => this.readRecord(c) });
    this.register({ cla: 0x00, ins: 0x20, name: 'VERIFY', handler: (c) => this.verify(c) });
    this.register({ cla: 0x00, ins: 0x84, name: 'GET CHALLENGE', handler: (c) => this.getChallenge(c) });
    for (const h of config.handlers ?? []) this.register(h);
  }

  /** Later registrations win, so a model can replace a default command as well as add one. */
  register(registration: HandlerRegistration): this {
    const claMask = registration.claMask ?? 0xff;
    for (const [field, v] of [['cla', registration.cla], ['claMask', claMask], ['ins', registration.ins]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xff) {
        throw new RangeError(`${this.kind}: handler ${registration.name ?? '?'} has ${field} ${String(v)}, not a byte`);
      }
    }
    this.#handlers.unshift({ ...registration, claMask });
    return this;
  }

  // ---- state visible to handlers -------------------------------------------------------------

  get currentDf(): DfSpec {
    return this.#currentDf;
  }

  get currentEf(): EfSpec | null {
    return this.#currentEf;
  }

  isVerified(reference: number): boolean {
    return this.#verified.has(reference);
  }

  /** For models with other authentication paths (e.g. a PUK flow) that grant the same status. */
  setVerified(reference: number, verified: boolean): void {
    if (verified) this.#verified.add(reference);
    else this.#verified.delete(reference);
  }

  canRead(condition: AccessCondition | undefined): boolean {
    const c = condition ?? 'always';
    if (c === 'always') return true;
    if (c === 'never') return false;
    return this.#verified.has(c.pin);
  }

  random(n: number): Uint8Array {
    return this.#random(n);
  }

  /** Make `node` current; leaving the current application drops its security status. */
  selectNode(node: FileSpec): void {
    const before = this.fs.applicationOf(this.#currentDf);
    if (node.type === 'df') {
      this.#currentDf = node;
      this.#currentEf = null;
    } else {
      const parent = this.fs.parentOf(node);
      if (!parent) throw new Error(`${this.kind}: EF ${node.fid.toString(16)} is not in this card's file system`);
      this.#currentDf = parent;
      this.#currentEf = node;
    }
    if (this.fs.applicationOf(this.#currentDf) !== before) this.#verified.clear();
  }

  // ---- CardModel --------------------------------------------------------------------------------

  get atr(): Uint8Array {
    return this.#atr.slice();
  }

  reset(): Uint8Array {
    this.#currentDf = this.fs.mf;
    this.#currentEf = null;
    this.#verified.clear();
    this.#pending = null;
    this.onReset();
    return this.#atr.slice();
  }

  /** Hook for models with more volatile state (MSE environment, GENERATE AC sequence, ...). */
  protected onReset(): void {}

  processingMs(apdu: Uint8Array): number {
    const ins = apdu[1];
    const byIns = ins !== undefined ? this.#processing.byIns?.[ins] : undefined;
    return byIns ?? this.#processing.defaultMs ?? 0;
  }

  process(apdu: Uint8Array): Uint8Array | null {
    try {
      return this.#process(apdu);
    } catch {
      // A bug in a handler must look like a card error, not crash the reader: the contract says never throw.
      this.#pending = null;
      return withSw(EMPTY, SW.NO_PRECISE_DIAGNOSIS);
    }
  }

  #process(apdu: Uint8Array): Uint8Array {
    const pending = this.#pending;
    this.#pending = null;
    const decoded = decodeCommandApdu(apdu);
    if (!decoded.ok) return withSw(EMPTY, SW.WRONG_LENGTH);
    const cmd = decoded.command;
    // T=0 carries no extended lengths; a T=0 card only ever sees ENVELOPE for them.
    if (cmd.extended && this.protocol === 'T=0') return withSw(EMPTY, SW.WRONG_LENGTH);
    // GET RESPONSE is transport, not application: it must see the previous command's leftover.
    if (cmd.cla === 0x00 && cmd.ins === 0xc0) return this.#getResponse(cmd, pending);
    let claKnown = false;
    for (const h of this.#handlers) {
      if ((cmd.cla & h.claMask) !== (h.cla & h.claMask)) continue;
      claKnown = true;
      if (h.ins !== cmd.ins) continue;
      return this.#shape(cmd, h.handler(cmd, this));
    }
    return withSw(EMPTY, claKnown ? SW.INS_NOT_SUPPORTED : SW.CLA_NOT_SUPPORTED);
  }

  /** Fit a handler's answer to the protocol and to Ne. */
  #shape(cmd: CommandApdu, res: CardResponse): Uint8Array {
    const data = res.data ?? EMPTY;
    if (data.length === 0) return withSw(EMPTY, res.sw);
    if (this.protocol === 'T=1') {
      // Cases 1 and 3 announce that no data is expected: a T=1 card sends none.
      if (cmd.ne === null) return withSw(EMPTY, res.sw);
      return this.#deliver(data, cmd.ne, res.sw);
    }
    if (cmd.isoCase === 2) {
      // In T=0 P3 is exactly the number of bytes the reader will clock in: a mismatch cannot be served.
      if (data.length === cmd.ne) return withSw(data, res.sw);
      if (data.length > 256 && cmd.neIsMax) return this.#deliver(data, 256, res.sw);
      return withSw(EMPTY, swWrongLe(data.length));
    }
    // Cases 1, 3 and 4: a T=0 TPDU cannot carry data both ways, so the data waits for GET RESPONSE.
    this.#pending = { data, sw: res.sw };
    return withSw(EMPTY, swBytesAvailable(data.length));
  }

  #deliver(data: Uint8Array, ne: number, sw: number): Uint8Array {
    if (data.length <= ne) return withSw(data, sw);
    const rest = data.slice(ne);
    this.#pending = { data: rest, sw };
    return withSw(data.subarray(0, ne), swBytesAvailable(rest.length));
  }

  #getResponse(cmd: CommandApdu, pending: PendingResponse | null): Uint8Array {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return withSw(EMPTY, SW.WRONG_P1P2);
    if (!pending) return withSw(EMPTY, SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) {
      this.#pending = pending;
      return withSw(EMPTY, SW.WRONG_LENGTH);
    }
    const available = pending.data.length;
    if (this.protocol === 'T=0' && cmd.ne > available && !cmd.neIsMax) {
      this.#pending = pending;
      return withSw(EMPTY, swWrongLe(available));
    }
    return this.#deliver(pending.data, cmd.ne, pending.sw);
  }

  // ---- default commands -------------------------------------------------------------------------

  protected select(cmd: CommandApdu): CardResponse {
    const { p1, p2, data } = cmd;
    // Only "first or only occurrence" (b2 b1 = 00); the answer kind is in b4 b3.
    if ((p2 & 0x03) !== 0) return status(SW.WRONG_P1P2);
    const answer = p2 & 0xfc;
    if (answer !== 0x00 && answer !== 0x04 && answer !== 0x0c) return status(SW.WRONG_P1P2);
    let target: FileSpec | undefined;
    const fid = data.length === 2 ? (data[0]! << 8) | data[1]! : -1;
    switch (p1) {
      case 0x00:
        if (data.length === 0) target = this.fs.mf;
        else if (data.length !== 2) return status(SW.WRONG_LENGTH);
        else target = this.fs.resolveFid(this.#currentDf, fid);
        break;
      case 0x01:
      case 0x02: {
        if (data.length !== 2) return status(SW.WRONG_LENGTH);
        const child = this.fs.child(this.#currentDf, fid);
        if (child && (child.type === 'df') === (p1 === 0x01)) target = child;
        break;
      }
      case 0x03:
        if (data.length !== 0) return status(SW.WRONG_LENGTH);
        target = this.fs.parentOf(this.#currentDf);
        break;
      case 0x04:
        if (data.length < 1 || data.length > 16) return status(SW.WRONG_LENGTH);
        target = this.fs.findByAid(data);
        break;
      default:
        return status(SW.WRONG_P1P2);
    }
    if (!target) return status(SW.FILE_NOT_FOUND);
    this.selectNode(target);
    if (answer === 0x0c) return status(SW.OK);
    return ok(answer === 0x04 ? this.fs.fcp(target) : this.fs.fci(target));
  }

  protected readBinary(cmd: CommandApdu): CardResponse {
    let ef: EfSpec | null | undefined;
    let offset: number;
    if (cmd.p1 & 0x80) {
      if (cmd.p1 & 0x60) return status(SW.WRONG_P1P2);
      const sfi = cmd.p1 & 0x1f;
      if (sfi === 0 || sfi === 31) return status(SW.WRONG_P1P2);
      ef = this.fs.efBySfi(this.#currentDf, sfi);
      if (!ef) return status(SW.FILE_NOT_FOUND);
      offset = cmd.p2;
    } else {
      ef = this.#currentEf;
      if (!ef) return status(SW.NO_CURRENT_EF);
      offset = (cmd.p1 << 8) | cmd.p2;
    }
    if (ef.type !== 'transparent') return status(SW.INCOMPATIBLE_FILE);
    if (!this.canRead(ef.read)) return status(SW.SECURITY_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    if (offset > 0 && offset >= ef.data.length) return status(SW.WRONG_OFFSET);
    this.selectNode(ef);
    const chunk = ef.data.slice(offset, offset + cmd.ne);
    return { sw: chunk.length < cmd.ne && !cmd.neIsMax ? SW.END_OF_DATA : SW.OK, data: chunk };
  }

  protected readRecord(cmd: CommandApdu): CardResponse {
    const sfi = cmd.p2 >> 3;
    // Only "read record P1" (mode 100); P1=00 (current record) is not modelled.
    if ((cmd.p2 & 0x07) !== 0x04 || cmd.p1 === 0 || cmd.p1 === 0xff || sfi === 31) return status(SW.WRONG_P1P2);
    let ef: EfSpec | null | undefined;
    if (sfi === 0) {
      ef = this.#currentEf;
      if (!ef) return status(SW.NO_CURRENT_EF);
    } else {
      ef = this.fs.efBySfi(this.#currentDf, sfi);
      if (!ef) return status(SW.FILE_NOT_FOUND);
    }
    if (ef.type !== 'records') return status(SW.INCOMPATIBLE_FILE);
    if (!this.canRead(ef.read)) return status(SW.SECURITY_NOT_SATISFIED);
    if (cmd.ne === null || cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    this.selectNode(ef);
    const record = ef.records[cmd.p1 - 1];
    if (!record) return status(SW.RECORD_NOT_FOUND);
    return { sw: record.length < cmd.ne && !cmd.neIsMax ? SW.END_OF_DATA : SW.OK, data: record.slice() };
  }

  protected verify(cmd: CommandApdu): CardResponse {
    if (cmd.ne !== null) return status(SW.WRONG_LENGTH);
    const pin = this.pins.get(cmd.p2);
    if (cmd.p1 === 0xff) {
      // ISO 7816-4:2013: P1=FF resets the verification status of this reference.
      if (!pin) return status(SW.REFERENCE_NOT_FOUND);
      if (cmd.data.length > 0) return status(SW.WRONG_LENGTH);
      this.#verified.delete(cmd.p2);
      return status(SW.OK);
    }
    if (cmd.p1 !== 0x00) return status(SW.WRONG_P1P2);
    if (!pin) return status(SW.REFERENCE_NOT_FOUND);
    if (cmd.data.length === 0) {
      if (pin.blocked) return status(SW.AUTH_BLOCKED);
      return status(this.#verified.has(pin.reference) ? SW.OK : swTriesLeft(pin.triesLeft));
    }
    switch (pin.check(cmd.data)) {
      case 'ok':
        this.#verified.add(pin.reference);
        return status(SW.OK);
      case 'wrong':
        this.#verified.delete(pin.reference);
        return status(swTriesLeft(pin.triesLeft));
      case 'blocked':
        this.#verified.delete(pin.reference);
        return status(SW.AUTH_BLOCKED);
      case 'wrong-length':
        return status(SW.WRONG_LENGTH);
    }
  }

  protected getChallenge(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return status(SW.WRONG_P1P2);
    if (cmd.ne === null || cmd.data.length > 0 || cmd.ne > 256) return status(SW.WRONG_LENGTH);
    return ok(this.random(cmd.ne));
  }

  toString(): string {
    return `${this.kind} (${this.protocol}, ${this.pins.size} PIN reference(s))`;
  }
}
