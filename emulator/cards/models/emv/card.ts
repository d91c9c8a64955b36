/**
 * An EMV contact card (EMV Books 1–3): PSE directory, applications selected by full or partial AID,
 * GET PROCESSING OPTIONS with PDOL, AFL-driven records with SDA/DDA data made from the emulator's
 * test PKI, offline plaintext PIN, GET DATA, INTERNAL AUTHENTICATE and GENERATE AC with a real
 * 3DES cryptogram. The card's behaviour (approve offline, go online, decline) is profile data.
 *
 * The PAN and track 2 live in records only: toString/inspect/toJSON never show them.
 */
import { inspect } from 'node:util';
import { concatBytes, fromHex, toHex } from '../../../../platform/sdk/hex.js';
import { encodeTlv, parseTlv } from '../../../../platform/sdk/tlv.js';
import type { CommandApdu } from '../../framework/apdu.js';
import { IsoCard, ok, status, type CardResponse } from '../../framework/iso-card.js';
import type { DfSpec, FileSpec } from '../../framework/filesystem.js';
import { SW } from '../../framework/status.js';
import {
  EMV_CVN,
  EMV_DKI,
  checkArpc,
  deriveAcSessionKey,
  deriveIccMasterKey,
  makeIccCertificate,
  makeIssuerCertificate,
  makeSignedDynamicData,
  makeSignedStaticData,
  retailMac,
  sha1,
} from './crypto.js';
import { dolLength, dolValues, type DolEntry } from './dol.js';
import { EMV_CA_INDEX, type EmvIssuerKeys, type RsaKeyPair } from './keys.js';
import { DEFAULT_ATR, DEFAULT_CVM_LIST, DEFAULT_CDOL1, DEFAULT_CDOL2, type CheckedProfile, type EmvProfile } from './profile.js';

export const PSE_NAME = '1PAY.SYS.DDF01';
export const EMV_PIN_REFERENCE = 0x80;
export const EMV_DDOL = '9F3704';

const AC_AAC = 0x00;
const AC_TC = 0x40;
const AC_ARQC = 0x80;
type AcType = typeof AC_AAC | typeof AC_TC | typeof AC_ARQC;
const RANK: Record<AcType, number> = { [AC_AAC]: 0, [AC_ARQC]: 1, [AC_TC]: 2 };

const SFI_DATA = 1;
const SFI_CERTS = 2;
/** An SFI above 10, so the ODA rule "record template included" (Book 3 §10.3) is exercised. */
const SFI_EXTRA = 11;

function tlv(tag: number, value: Uint8Array | string): Uint8Array {
  return encodeTlv(tag, typeof value === 'string' ? fromHex(value) : value);
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function bcd(digits: string): Uint8Array {
  return fromHex(digits.length % 2 ? `0${digits}` : digits);
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

function allZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/** BCD digits, or null when a nibble is not a decimal digit. */
function bcdDigits(b: Uint8Array): string | null {
  let s = '';
  for (const x of b) {
    const hi = x >> 4;
    const lo = x & 0x0f;
    if (hi > 9 || lo > 9) return null;
    s += `${hi}${lo}`;
  }
  return s;
}

/** EMV dates carry YY only; terminals read 00–49 as 20YY and 50–99 as 19YY. */
function withCentury(yymmdd: string): string {
  return `${Number(yymmdd.slice(0, 2)) < 50 ? '20' : '19'}${yymmdd}`;
}

function ym(s: string): { year: number; month: number } {
  return { year: Number(s.slice(0, 4)), month: Number(s.slice(5, 7)) };
}

function lastDay(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function yymmdd(year: number, month: number, day: number): string {
  return `${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
}

/** Track 2 equivalent (57): PAN D YYMM service-code discretionary, F-padded to whole bytes. */
function track2(pan: string, expiry: { year: number; month: number }, serviceCode: string): Uint8Array {
  let s = `${pan}D${String(expiry.year % 100).padStart(2, '0')}${String(expiry.month).padStart(2, '0')}${serviceCode}0000000000000`;
  if (s.length % 2) s += 'F';
  return fromHex(s);
}

interface AppState {
  aid: Uint8Array;
  df: DfSpec;
  pdol: DolEntry[];
  atc: number;
  lastOnlineAtc: number;
  lastOnlineNotCompleted: boolean;
  lastIssuerAuthFailed: boolean;
}

interface Transaction {
  app: AppState;
  phase: 'selected' | 'initiated' | 'online' | 'done';
  pinTried: boolean;
  pinOk: boolean;
  pinLimitExceeded: boolean;
  first?: { type: AcType; arqc: Uint8Array; sessionKey: Uint8Array; atc: number; cvr: Uint8Array };
}

/** Everything the card computes once from its profile and keys. */
export interface EmvCardData {
  profile: EmvProfile;
  profileName: string;
  aip: Uint8Array;
  afl: Uint8Array;
  cdol1: DolEntry[];
  cdol2: DolEntry[];
  pdols: DolEntry[][];
  iccMasterKey: Uint8Array;
  iccKey?: RsaKeyPair;
  fileSystem: DfSpec;
  /** YYMMDD of the last valid day. */
  expiryYymmdd: string;
}

export class EmvCard extends IsoCard {
  readonly #d: EmvCardData;
  readonly #apps: AppState[];
  readonly #pse: DfSpec | undefined;
  #tx: Transaction | null = null;

  constructor(d: EmvCardData) {
    const p = d.profile;
    const byIns: Record<number, number> = { 0xa4: 8, 0xb2: 6, 0xa8: 12, 0xae: 45, 0x88: 180, 0x20: 25, 0xca: 4, 0x84: 4 };
    for (const [k, v] of Object.entries(p.processingMs?.byIns ?? {})) byIns[parseInt(k, 16)] = v;
    super({
      kind: 'emv',
      atr: fromHex(p.atrHex ?? DEFAULT_ATR),
      fileSystem: d.fileSystem,
      pins: [{ reference: EMV_PIN_REFERENCE, value: p.pin.value, format: 'emv-plaintext', maxTries: p.pin.maxTries, ...(p.pin.triesLeft !== undefined ? { triesLeft: p.pin.triesLeft } : {}) }],
      processing: { defaultMs: p.processingMs?.default ?? 5, byIns },
    });
    this.#d = d;
    const children = this.fs.mf.children ?? [];
    this.#pse = children.find((c): c is DfSpec => c.type === 'df' && c.aid !== undefined && startsWith(c.aid, ascii(PSE_NAME)) && c.aid.length === PSE_NAME.length);
    this.#apps = p.applications.map((a, i) => {
      const aid = fromHex(a.aid);
      const df = this.fs.findByAid(aid);
      if (!df) throw new Error(`emv card ${d.profileName}: application ${i} missing from the file system`);
      return { aid, df, pdol: d.pdols[i] ?? [], atc: p.atc ?? 0, lastOnlineAtc: 0, lastOnlineNotCompleted: false, lastIssuerAuthFailed: false };
    });
    this.register({ cla: 0x80, ins: 0xa8, name: 'GET PROCESSING OPTIONS', handler: (c) => this.#gpo(c) });
    this.register({ cla: 0x80, ins: 0xae, name: 'GENERATE AC', handler: (c) => this.#generateAc(c) });
    this.register({ cla: 0x80, ins: 0xca, name: 'GET DATA', handler: (c) => this.#getData(c) });
    this.register({ cla: 0x00, ins: 0x88, name: 'INTERNAL AUTHENTICATE', handler: (c) => this.#internalAuthenticate(c) });
  }

  /** The card's ATC for an application (tests and demos; not reachable by APDU except GET DATA). */
  atcOf(aidHex: string): number | undefined {
    return this.#apps.find((a) => toHex(a.aid) === aidHex.toUpperCase())?.atc;
  }

  protected override onReset(): void {
    this.#tx = null;
  }

  // ---- SELECT -----------------------------------------------------------------------------------

  protected override select(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0x04) return super.select(cmd);
    // EMV Book 1 §11.3.2: P2 00 first or only occurrence, 02 next occurrence; FCI returned.
    if (cmd.p2 !== 0x00 && cmd.p2 !== 0x02) return status(SW.WRONG_P1P2);
    if (cmd.data.length < 1 || cmd.data.length > 16) return status(SW.WRONG_LENGTH);
    const candidates: DfSpec[] = [];
    if (this.#pse?.aid && startsWith(this.#pse.aid, cmd.data)) candidates.push(this.#pse);
    for (const a of this.#apps) if (startsWith(a.aid, cmd.data)) candidates.push(a.df);
    let target: DfSpec | undefined;
    if (cmd.p2 === 0x00) {
      target = candidates[0];
    } else {
      const current = this.#tx?.app.df ?? (this.currentDf === this.#pse ? this.#pse : undefined);
      const at = current ? candidates.indexOf(current) : -1;
      target = candidates[at + 1];
    }
    if (!target) return status(SW.FILE_NOT_FOUND);
    this.selectNode(target);
    // A new SELECT starts a new transaction: the PIN status of the previous one does not carry over.
    this.setVerified(EMV_PIN_REFERENCE, false);
    const app = this.#apps.find((a) => a.df === target);
    this.#tx = app ? { app, phase: 'selected', pinTried: false, pinOk: false, pinLimitExceeded: false } : null;
    return ok(this.fs.fci(target));
  }

  // ---- GET PROCESSING OPTIONS --------------------------------------------------------------------

  #gpo(cmd: CommandApdu): CardResponse {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return status(SW.WRONG_P1P2);
    const tx = this.#tx;
    if (!tx || tx.phase !== 'selected') return status(SW.CONDITIONS_NOT_SATISFIED);
    let nodes;
    try {
      nodes = parseTlv(cmd.data);
    } catch {
      return status(SW.WRONG_DATA);
    }
    const cmdData = nodes[0];
    if (nodes.length !== 1 || cmdData?.tag !== 0x83) return status(SW.WRONG_DATA);
    if (cmdData.value.length !== dolLength(tx.app.pdol)) return status(SW.WRONG_LENGTH);
    tx.phase = 'initiated';
    const { aip, afl } = this.#d;
    return ok(this.#format() === 1 ? tlv(0x80, concatBytes(aip, afl)) : tlv(0x77, concatBytes(tlv(0x82, aip), tlv(0x94, afl))));
  }

  #format(): 1 | 2 {
    return this.#d.profile.responseFormat ?? 2;
  }

  // ---- VERIFY (offline plaintext PIN) ------------------------------------------------------------

  protected override verify(cmd: CommandApdu): CardResponse {
    const tx = this.#tx;
    if (!tx) return status(SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.p1 === 0x00 && cmd.p2 === EMV_PIN_REFERENCE && cmd.data.length > 0) {
      if (!plaintextPinBlockWellFormed(cmd.data)) return status(SW.WRONG_DATA);
      const res = super.verify(cmd);
      tx.pinTried = true;
      tx.pinOk = res.sw === SW.OK;
      if (res.sw === SW.AUTH_BLOCKED || res.sw === 0x63c0) tx.pinLimitExceeded = true;
      return res;
    }
    return super.verify(cmd);
  }

  // ---- GET DATA ----------------------------------------------------------------------------------

  #getData(cmd: CommandApdu): CardResponse {
    const tx = this.#tx;
    if (!tx) return status(SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.data.length > 0) return status(SW.WRONG_LENGTH);
    const tag = (cmd.p1 << 8) | cmd.p2;
    switch (tag) {
      case 0x9f17:
        return ok(tlv(0x9f17, Uint8Array.of(this.pins.get(EMV_PIN_REFERENCE)?.triesLeft ?? 0)));
      case 0x9f36:
        return ok(tlv(0x9f36, u16(tx.app.atc)));
      case 0x9f13:
        return ok(tlv(0x9f13, u16(tx.app.lastOnlineAtc)));
      default:
        return status(SW.REFERENCE_NOT_FOUND);
    }
  }

  // ---- INTERNAL AUTHENTICATE (DDA) ---------------------------------------------------------------

  #internalAuthenticate(cmd: CommandApdu): CardResponse {
    const icc = this.#d.iccKey;
    if (!icc) return status(SW.INS_NOT_SUPPORTED);
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return status(SW.WRONG_P1P2);
    const tx = this.#tx;
    if (!tx || tx.phase === 'selected') return status(SW.CONDITIONS_NOT_SATISFIED);
    if (cmd.data.length === 0 || cmd.data.length > 128) return status(SW.WRONG_LENGTH);
    const dynamicNumber = this.random(8);
    const sdad = makeSignedDynamicData(icc.privateKey, icc.modulus.length, concatBytes(Uint8Array.of(dynamicNumber.length), dynamicNumber), cmd.data);
    return ok(this.#format() === 1 ? tlv(0x80, sdad) : tlv(0x77, tlv(0x9f4b, sdad)));
  }

  // ---- GENERATE AC -------------------------------------------------------------------------------

  #generateAc(cmd: CommandApdu): CardResponse {
    if (cmd.p2 !== 0x00) return status(SW.WRONG_P1P2);
    // Bits 8-7: AC type (11 is RFU); bit 5 asks for CDA, which this card does not offer.
    const requested = cmd.p1 & 0xc0;
    if (requested === 0xc0 || (cmd.p1 & 0x3f) !== 0) return status(SW.WRONG_P1P2);
    const tx = this.#tx;
    if (tx?.phase === 'initiated') return this.#firstAc(tx, requested as AcType, cmd.data);
    if (tx?.phase === 'online') return this.#secondAc(tx, requested as AcType, cmd.data);
    return status(SW.CONDITIONS_NOT_SATISFIED);
  }

  #firstAc(tx: Transaction, requested: AcType, data: Uint8Array): CardResponse {
    const d = this.#d;
    if (data.length !== dolLength(d.cdol1)) return status(SW.WRONG_LENGTH);
    const app = tx.app;
    // The ATC is a 2-byte counter that must never wrap: an exhausted card is out of service.
    if (app.atc >= 0xffff) return status(SW.CONDITIONS_NOT_SATISFIED);
    app.atc++;
    const values = dolValues(d.cdol1, data);
    const { want, reason } = this.#cardDecision(tx, values);
    const type = RANK[requested] < RANK[want] ? requested : want;
    const pin = this.pins.get(EMV_PIN_REFERENCE);
    const pinLimit = tx.pinLimitExceeded || (pin?.blocked ?? false);
    const cvr = Uint8Array.of(
      0x80 | (type === AC_TC ? 0x10 : type === AC_ARQC ? 0x20 : 0) | (tx.pinTried ? 0x04 : 0) | (tx.pinTried && !tx.pinOk ? 0x02 : 0),
      (app.lastOnlineNotCompleted ? 0x80 : 0) | (pinLimit ? 0x40 : 0) | (app.lastOnlineAtc === 0 ? 0x10 : 0) | (app.lastIssuerAuthFailed ? 0x08 : 0),
      0x00,
    );
    const sessionKey = deriveAcSessionKey(d.iccMasterKey, app.atc);
    const iad = issuerApplicationData(cvr);
    const ac = retailMac(sessionKey, concatBytes(data, d.aip, u16(app.atc), iad.subarray(3, 7)));
    tx.first = { type, arqc: ac, sessionKey, atc: app.atc, cvr };
    if (type === AC_ARQC) {
      tx.phase = 'online';
      app.lastOnlineNotCompleted = true;
    } else {
      tx.phase = 'done';
    }
    return ok(this.#acResponse(type | (type === AC_AAC ? reason : 0), app.atc, ac, iad));
  }

  #cardDecision(tx: Transaction, values: Map<number, Uint8Array>): { want: AcType; reason: number } {
    const risk = this.#d.profile.risk;
    if (risk.decision === 'decline') return { want: AC_AAC, reason: 0x01 };
    const date = bcdDigits(values.get(0x9a) ?? new Uint8Array(0));
    if (risk.declineIfExpired && date !== null && date.length === 6 && withCentury(date) > withCentury(this.#d.expiryYymmdd)) return { want: AC_AAC, reason: 0x01 };
    if (risk.requirePinVerified && !tx.pinOk) {
      const blocked = tx.pinLimitExceeded || (this.pins.get(EMV_PIN_REFERENCE)?.blocked ?? false);
      return { want: AC_AAC, reason: blocked ? 0x02 : 0x00 };
    }
    if (risk.decision === 'online') return { want: AC_ARQC, reason: 0 };
    const amount = bcdDigits(values.get(0x9f02) ?? new Uint8Array(0));
    if (amount === null || Number(amount) > (risk.offlineLimit ?? 0)) return { want: AC_ARQC, reason: 0 };
    return { want: AC_TC, reason: 0 };
  }

  #secondAc(tx: Transaction, requested: AcType, data: Uint8Array): CardResponse {
    const d = this.#d;
    const first = tx.first;
    if (!first) return status(SW.CONDITIONS_NOT_SATISFIED);
    if (requested === AC_ARQC) return status(SW.WRONG_P1P2);
    if (data.length !== dolLength(d.cdol2)) return status(SW.WRONG_LENGTH);
    const app = tx.app;
    const values = dolValues(d.cdol2, data);
    const arc = values.get(0x8a) ?? new Uint8Array(2);
    const arcText = String.fromCharCode(...arc);
    const unableOnline = arcText === 'Y3' || arcText === 'Z3';
    const iad91 = values.get(0x91);
    let issuerAuth: 'ok' | 'failed' | 'none' = 'none';
    if (iad91 && iad91.length >= 10 && !allZero(iad91)) {
      const arcIn91 = iad91.subarray(8, 10);
      const good = checkArpc(first.sessionKey, first.arqc, arcIn91, iad91.subarray(0, 8)) && arcIn91[0] === arc[0] && arcIn91[1] === arc[1];
      issuerAuth = good ? 'ok' : 'failed';
    }
    const risk = d.profile.risk;
    let approved: boolean;
    if (unableOnline) approved = arcText === 'Y3' && risk.approveWhenUnableOnline === true;
    else approved = arcText === '00' && (issuerAuth === 'ok' || (issuerAuth === 'none' && risk.requireIssuerAuthentication === false));
    const type: AcType = requested === AC_TC && approved ? AC_TC : AC_AAC;
    app.lastOnlineNotCompleted = false;
    if (issuerAuth === 'failed') app.lastIssuerAuthFailed = true;
    if (issuerAuth === 'ok') {
      app.lastIssuerAuthFailed = false;
      app.lastOnlineAtc = first.atc;
    }
    const cvr = Uint8Array.of(
      (first.cvr[0]! & 0x3f) | (type === AC_TC ? 0x40 : 0) | (issuerAuth === 'failed' ? 0x08 : 0) | (unableOnline ? 0x01 : 0),
      (first.cvr[1]! & 0x7f) | (issuerAuth === 'none' && !unableOnline ? 0x04 : 0),
      first.cvr[2]!,
    );
    const iad = issuerApplicationData(cvr);
    const ac = retailMac(first.sessionKey, concatBytes(data, d.aip, u16(first.atc), iad.subarray(3, 7)));
    tx.phase = 'done';
    return ok(this.#acResponse(type | (type === AC_AAC && issuerAuth === 'failed' ? 0x03 : 0), first.atc, ac, iad));
  }

  #acResponse(cid: number, atc: number, ac: Uint8Array, iad: Uint8Array): Uint8Array {
    if (this.#format() === 1) return tlv(0x80, concatBytes(Uint8Array.of(cid), u16(atc), ac, iad));
    return tlv(0x77, concatBytes(tlv(0x9f27, Uint8Array.of(cid)), tlv(0x9f36, u16(atc)), tlv(0x9f26, ac), tlv(0x9f10, iad)));
  }

  // ---- no secrets in logs ------------------------------------------------------------------------

  override toString(): string {
    return `emv card ${this.#d.profileName} (${this.#apps.length} application(s), ${this.protocol})`;
  }

  toJSON(): { kind: string; profile: string; applications: number } {
    return { kind: this.kind, profile: this.#d.profileName, applications: this.#apps.length };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

/** IAD (9F10): 06 ‖ DKI ‖ CVN ‖ 03 ‖ CVR — the Visa-style layout, with this emulator's CVN. */
function issuerApplicationData(cvr: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0x06, EMV_DKI, EMV_CVN, 0x03), cvr);
}

/** EMV Book 3 §6.5.12: control 2, length 4..C, BCD digits, F filler. */
function plaintextPinBlockWellFormed(block: Uint8Array): boolean {
  if (block.length !== 8 || block[0]! >> 4 !== 0x2) return false;
  const n = block[0]! & 0x0f;
  if (n < 4 || n > 12) return false;
  for (let i = 0; i < 14; i++) {
    const byte = block[1 + (i >> 1)]!;
    const nib = i % 2 === 0 ? byte >> 4 : byte & 0x0f;
    if (i < n ? nib > 9 : nib !== 0x0f) return false;
  }
  return true;
}

// ---- building the card from its profile ----------------------------------------------------------

function templateValue(rec: Uint8Array): Uint8Array {
  return parseTlv(rec)[0]!.value;
}

function record(...items: Uint8Array[]): Uint8Array {
  return tlv(0x70, concatBytes(...items));
}

/** Records of the PSE directory: application templates 61 packed into records of at most ~240 bytes. */
function directoryRecords(p: EmvProfile): Uint8Array[] {
  const entries = p.applications.map((a) =>
    tlv(
      0x61,
      concatBytes(
        tlv(0x4f, a.aid),
        tlv(0x50, ascii(a.label)),
        ...(a.preferredName ? [tlv(0x9f12, ascii(a.preferredName))] : []),
        tlv(0x87, Uint8Array.of((a.confirmationRequired ? 0x80 : 0) | a.priority)),
      ),
    ),
  );
  const records: Uint8Array[] = [];
  let cur: Uint8Array[] = [];
  let size = 0;
  for (const e of entries) {
    if (size + e.length > 240 && cur.length > 0) {
      records.push(record(...cur));
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += e.length;
  }
  if (cur.length) records.push(record(...cur));
  return records;
}

export interface BuildInput {
  checked: CheckedProfile;
  profileName: string;
  keys: EmvIssuerKeys;
  iccKey: RsaKeyPair;
}

/** Serial numbers and DAC: stable per card, derived from what identifies it. */
function derived(label: string, pan: string, n: number): Uint8Array {
  return sha1(ascii(`${label}:${pan}`)).slice(0, n);
}

export function buildEmvCard(input: BuildInput): EmvCard {
  const { checked, keys, iccKey, profileName } = input;
  const p = checked.profile;
  const ch = p.cardholder;
  const exp = ym(ch.expiry);
  const eff = ym(ch.effective);
  const expiryYymmdd = yymmdd(exp.year, exp.month, lastDay(exp.year, exp.month));
  const sda = p.oda.includes('sda');
  const dda = p.oda.includes('dda');
  const aip = Uint8Array.of((sda ? 0x40 : 0) | (dda ? 0x20 : 0) | 0x10 | 0x08, 0x00);
  const lang = p.language ?? 'fren';

  const rec1 = record(tlv(0x57, track2(ch.pan, exp, ch.serviceCode)), tlv(0x5f20, ascii(ch.name)), tlv(0x5f30, bcd(ch.serviceCode)));
  const rec2 = record(
    tlv(0x5a, fromHex(ch.pan.length % 2 ? `${ch.pan}F` : ch.pan)),
    tlv(0x5f24, fromHex(expiryYymmdd)),
    tlv(0x5f25, fromHex(yymmdd(eff.year, eff.month, 1))),
    tlv(0x5f28, fromHex(ch.issuerCountryCode)),
    tlv(0x5f34, bcd(String(ch.panSequenceNumber).padStart(2, '0'))),
    tlv(0x9f07, p.aucHex ?? 'FF00'),
    tlv(0x8e, p.cvmListHex ?? DEFAULT_CVM_LIST),
    tlv(0x9f0d, p.iac.defaultHex),
    tlv(0x9f0e, p.iac.denialHex),
    tlv(0x9f0f, p.iac.onlineHex),
    tlv(0x8c, p.cdol1Hex ?? DEFAULT_CDOL1),
    tlv(0x8d, p.cdol2Hex ?? DEFAULT_CDOL2),
    tlv(0x9f08, '0002'),
    ...(sda || dda ? [tlv(0x9f4a, '82')] : []),
  );
  // No 9F14/9F23: without them terminals skip velocity checking (Book 3 §10.6.3), which would
  // otherwise send every transaction of a fresh test card online.
  const rec11 = record(tlv(0x9f42, fromHex(ch.currencyCode)), tlv(0x9f44, '02'));
  // EMV Book 3 §10.3: SFI 1–10 records count without their 70 template, SFI 11–30 with it; then the
  // values of the SDA Tag List (only the AIP is allowed there).
  const staticData = concatBytes(templateValue(rec1), templateValue(rec2), rec11, ...(sda || dda ? [aip] : []));

  const certRecords: Uint8Array[] = [];
  if (sda || dda) {
    const issuerCert = makeIssuerCertificate({
      caPrivateKey: keys.ca.privateKey,
      caModulusLength: keys.ca.modulus.length,
      issuerKey: keys.issuer,
      issuerIdentifier: ch.pan.slice(0, 6),
      expiry: { year: 2049, month: 12 },
      serial: derived('issuer-serial', ch.pan.slice(0, 6), 3),
    });
    certRecords.push(
      record(
        tlv(0x8f, Uint8Array.of(EMV_CA_INDEX)),
        tlv(0x90, issuerCert.certificate),
        tlv(0x9f32, keys.issuer.exponent),
        ...(issuerCert.remainder.length ? [tlv(0x92, issuerCert.remainder)] : []),
      ),
    );
    if (sda) {
      certRecords.push(record(tlv(0x93, makeSignedStaticData(keys.issuer.privateKey, keys.issuer.modulus.length, derived('dac', ch.pan, 2), staticData))));
    }
    if (dda) {
      const iccCert = makeIccCertificate({
        issuerPrivateKey: keys.issuer.privateKey,
        issuerModulusLength: keys.issuer.modulus.length,
        iccKey,
        pan: ch.pan,
        expiry: exp,
        serial: derived('icc-serial', ch.pan, 3),
        staticData,
      });
      certRecords.push(
        record(
          tlv(0x9f46, iccCert.certificate),
          tlv(0x9f47, iccKey.exponent),
          ...(iccCert.remainder.length ? [tlv(0x9f48, iccCert.remainder)] : []),
          tlv(0x9f49, EMV_DDOL),
        ),
      );
    }
  }
  const afl = concatBytes(
    Uint8Array.of(SFI_DATA << 3, 1, 2, 2),
    ...(certRecords.length ? [Uint8Array.of(SFI_CERTS << 3, 1, certRecords.length, 0)] : []),
    Uint8Array.of(SFI_EXTRA << 3, 1, 1, 1),
  );

  const appEfs = (): FileSpec[] => [
    { type: 'records', fid: 0x1001, sfi: SFI_DATA, records: [rec1, rec2] },
    ...(certRecords.length ? [{ type: 'records' as const, fid: 0x1002, sfi: SFI_CERTS, records: certRecords }] : []),
    { type: 'records', fid: 0x100b, sfi: SFI_EXTRA, records: [rec11] },
  ];
  const children: FileSpec[] = [];
  if (p.pse) {
    children.push({
      type: 'df',
      aid: ascii(PSE_NAME),
      label: 'PSE',
      fci: tlv(0x6f, concatBytes(tlv(0x84, ascii(PSE_NAME)), tlv(0xa5, concatBytes(tlv(0x88, '01'), tlv(0x5f2d, ascii(lang)))))),
      children: [{ type: 'records', fid: 0x0101, sfi: 1, label: 'directory', records: directoryRecords(p) }],
    });
  }
  p.applications.forEach((a, i) => {
    const pdol = fromHex(a.pdolHex ?? '');
    const prop = concatBytes(
      tlv(0x50, ascii(a.label)),
      tlv(0x87, Uint8Array.of((a.confirmationRequired ? 0x80 : 0) | a.priority)),
      ...(pdol.length ? [tlv(0x9f38, pdol)] : []),
      tlv(0x5f2d, ascii(lang)),
      ...(a.preferredName ? [tlv(0x9f11, '01'), tlv(0x9f12, ascii(a.preferredName))] : []),
    );
    children.push({ type: 'df', aid: fromHex(a.aid), label: `application ${i}`, fci: tlv(0x6f, concatBytes(tlv(0x84, a.aid), tlv(0xa5, prop))), children: appEfs() });
  });

  return new EmvCard({
    profile: p,
    profileName,
    aip,
    afl,
    cdol1: checked.cdol1,
    cdol2: checked.cdol2,
    pdols: checked.pdols,
    iccMasterKey: deriveIccMasterKey(keys.imkAc, ch.pan, ch.panSequenceNumber),
    ...(dda ? { iccKey } : {}),
    fileSystem: { type: 'df', children },
    expiryYymmdd,
  });
}
