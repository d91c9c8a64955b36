/**
 * The emulated acquirer / issuer host: the other end of the kernel's 'acquirer' transport. It
 * checks ARQCs with the emulator's test issuer keys (the issuer's knowledge, never handed to an
 * applet), decides by rules kept as data (rules.ts), answers ARC + ARPC (method 1) + tag 91 data,
 * handles reversals and end-of-day batches, and journals everything (journal.ts). Protocol:
 * docs/acquirer.md. A malformed message gets `{ type: 'error' }`; a client whose byte stream is
 * not frames is disconnected; nothing a client sends can stop the server.
 */
import { createServer, type Socket } from 'node:net';
import { createHash, randomInt } from 'node:crypto';
import { encodeFrame, FrameDecoder } from '../../platform/wire/frames.js';
import type { WireValue } from '../../platform/wire/messages.js';
import { fromHex } from '../../platform/sdk/hex.js';
import { emvCaPublicKeys, loadEmvIssuerKeys } from '../cards/models/emv/keys.js';
import { generateArpc, issuerAuthenticationData, verifyArqc } from '../cards/models/emv/crypto.js';
import { applyRules, defaultRules, issuerUnavailable, type AcquirerRules, type ResponseCode } from './rules.js';
import { Journal, maskPan, type AuthorizationEntry, type Entry } from './journal.js';

export type { Entry } from './journal.js';
export { defaultRules, parseRules, type AcquirerRules } from './rules.js';

export const DEFAULT_ACQUIRER_PORT = 8583;
/** Largest request frame body; the biggest legitimate request (a batch of refs) is far below. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Requests queued on one connection before it is dropped (one request, one reply: a client waits). */
const MAX_PENDING_PER_CONNECTION = 32;
const IDLE_TIMEOUT_MS = 120_000;
const MAX_CONNECTIONS = 64;
const MAX_BATCH_REFS = 10_000;

export interface AcquirerOptions {
  port?: number;
  host?: string;
  /** Emulator key directory: the same one the cards were made with, or no ARQC verifies. */
  keyDir: string;
  /** JSON Lines journal; null keeps it in memory only. */
  journalPath: string | null;
  rules?: AcquirerRules;
}

export interface AcquirerServer {
  port: number;
  close(): Promise<void>;
  journal(): Entry[];
}

class BadRequest extends Error {}

type Obj = { [k: string]: unknown };

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const REF = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

function refField(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !REF.test(v)) throw new BadRequest(`${k} must be 1 to 64 letters, digits or . _ : / -`);
  return v;
}

function intField(o: Obj, k: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new BadRequest(`${k} must be an integer ${min}..${max}`);
  return v;
}

function bytesField(o: Obj, k: string, min: number, max = min): Uint8Array {
  const v = o[k];
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) {
    throw new BadRequest(min === max ? `${k} must be ${min} bytes` : `${k} must be ${min} to ${max} bytes`);
  }
  return v;
}

function validDate(s: string): boolean {
  if (!/^[0-9]{6}$/.test(s)) return false;
  const m = Number(s.slice(2, 4));
  const d = Number(s.slice(4, 6));
  return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

function dateField(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !validDate(v)) throw new BadRequest(`${k} must be a date YYMMDD`);
  return v;
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function panField(o: Obj): string {
  const v = o.pan;
  // Never quote the value: it is a card number.
  if (typeof v !== 'string' || !/^[0-9]{12,19}$/.test(v)) throw new BadRequest('pan must be 12 to 19 digits');
  if (!luhn(v)) throw new BadRequest('pan fails the Luhn check');
  return v;
}

/** 12-digit BCD of an amount, as 9F02 carries it. */
function amountBcd(amount: number): Buffer {
  return Buffer.from(String(amount).padStart(12, '0'), 'hex');
}

function fingerprint(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex').slice(0, 16);
}

const AUTH_ALPHABET = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';

function newAuthCode(): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += AUTH_ALPHABET[randomInt(AUTH_ALPHABET.length)];
  return s;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

interface AuthorizeRequest {
  ref: string;
  terminalId: string;
  amount: number;
  date: string;
  pan: string;
  psn: number;
  atc: Uint8Array;
  arqc: Uint8Array;
  acInput: Uint8Array;
  cvmResults: Uint8Array;
  tvr: Uint8Array;
  expiry?: string;
}

function parseAuthorize(o: Obj): AuthorizeRequest {
  const ref = refField(o, 'ref');
  const terminalId = refField(o, 'terminalId');
  const amount = intField(o, 'amount', 1, 999_999_999_999);
  if (o.currency !== 978) throw new BadRequest('currency must be 978 (EUR)');
  const date = dateField(o, 'date');
  const pan = panField(o);
  const psn = intField(o, 'psn', 0, 99);
  if (o.panSequence !== undefined && intField(o, 'panSequence', 0, 99) !== psn) throw new BadRequest('panSequence differs from psn');
  const r: AuthorizeRequest = {
    ref,
    terminalId,
    amount,
    date,
    pan,
    psn,
    atc: bytesField(o, 'atc', 2),
    arqc: bytesField(o, 'arqc', 8),
    // DOL data (at least 9F02) ‖ AIP ‖ ATC ‖ 03 CVR.
    acInput: bytesField(o, 'acInput', 14, 1024),
    cvmResults: bytesField(o, 'cvmResults', 3),
    tvr: bytesField(o, 'tvr', 5),
  };
  if (o.expiry !== undefined) {
    // An extension: the card's 5F24 (YYMMDD) or YYMM, when the terminal sends it.
    if (typeof o.expiry === 'string' && /^[0-9]{4}$/.test(o.expiry)) r.expiry = `${o.expiry}31`;
    else r.expiry = dateField(o, 'expiry');
  }
  return r;
}

/** The cryptogram must cover what the message claims: the same ATC and the same amount. */
function inputMatches(r: AuthorizeRequest): boolean {
  const n = r.acInput.length;
  const input = Buffer.from(r.acInput.buffer, r.acInput.byteOffset, n);
  if (input[n - 6] !== r.atc[0] || input[n - 5] !== r.atc[1] || input[n - 4] !== 0x03) return false;
  return input.subarray(0, n - 8).indexOf(amountBcd(r.amount)) >= 0;
}

export class Acquirer {
  private constructor(
    private readonly imk: Uint8Array,
    private readonly caKeys: WireValue[],
    private readonly rules: AcquirerRules,
    readonly journal: Journal,
  ) {}

  static async create(keyDir: string, journalPath: string | null, rules: AcquirerRules = defaultRules()): Promise<Acquirer> {
    const keys = await loadEmvIssuerKeys(keyDir);
    const ca = (await emvCaPublicKeys(keyDir)).map((k) => ({
      rid: fromHex(k.rid),
      index: k.index,
      modulus: fromHex(k.modulusHex),
      exponent: fromHex(k.exponentHex),
      checksum: fromHex(k.checksumHex),
    }));
    return new Acquirer(keys.imkAc, ca, structuredClone(rules), Journal.open(journalPath));
  }

  /** One request, one reply. Never throws. */
  handle(msg: unknown): WireValue {
    try {
      if (!isObj(msg) || typeof msg.type !== 'string') throw new BadRequest('a message is an object with a string type');
      switch (msg.type) {
        case 'ca-keys':
          this.journal.append({ kind: 'ca-keys', keys: this.caKeys.length });
          return { type: 'ca-keys', keys: this.caKeys };
        case 'authorize':
          return this.authorize(parseAuthorize(msg));
        case 'reversal':
          return this.reversal(refField(msg, 'ref'), refField(msg, 'originalRef'), intField(msg, 'amount', 1, 999_999_999_999));
        case 'batch':
          return this.batch(msg);
        default:
          throw new BadRequest('unknown message type (ca-keys, authorize, reversal, batch)');
      }
    } catch (e) {
      const reason = e instanceof BadRequest ? e.message : 'internal error';
      try {
        this.journal.append({ kind: 'error', reason });
      } catch {
        // A full disk must not take the answer down with it.
      }
      return { type: 'error', reason };
    }
  }

  private authorize(r: AuthorizeRequest): WireValue {
    const fp = fingerprint(r.arqc);
    const prior = this.journal.authorization(r.ref);
    if (prior) {
      // A retransmission (the terminal lost our reply) gets the same answer; anything else reusing the ref is refused.
      if (prior.arqcFingerprint === fp && prior.amount === r.amount && prior.terminalId === r.terminalId) return this.reply(r, prior.responseCode, prior.authCode);
      throw new BadRequest('ref was already used for another authorisation');
    }
    let code: ResponseCode;
    let reason: string;
    if (issuerUnavailable(this.rules, r.pan)) {
      code = '91';
      reason = 'issuer unavailable';
    } else if (!inputMatches(r)) {
      code = 'A1';
      reason = 'the cryptogram input does not carry the ATC and amount of the message';
    } else if (!this.arqcVerifies(r)) {
      code = 'A1';
      reason = 'ARQC does not verify';
    } else {
      const m = applyRules(this.rules, { pan: r.pan, amount: r.amount, date: r.date, expiry: r.expiry, cvmResults: r.cvmResults });
      code = m?.code ?? '00';
      reason = m?.reason ?? 'approved';
    }
    const authCode = code === '00' ? newAuthCode() : undefined;
    const entry: Omit<AuthorizationEntry, 'seq' | 'at'> = {
      kind: 'authorization',
      ref: r.ref,
      terminalId: r.terminalId,
      panMasked: maskPan(r.pan),
      amount: r.amount,
      currency: 978,
      date: r.date,
      atc: Buffer.from(r.atc).toString('hex').toUpperCase(),
      arqcFingerprint: fp,
      responseCode: code,
      reason,
      ...(authCode !== undefined ? { authCode } : {}),
    };
    this.journal.append(entry);
    return this.reply(r, code, authCode);
  }

  private arqcVerifies(r: AuthorizeRequest): boolean {
    try {
      return verifyArqc({ imk: this.imk, pan: r.pan, panSequenceNumber: r.psn, atc: (r.atc[0]! << 8) | r.atc[1]!, input: r.acInput, arqc: r.arqc });
    } catch {
      return false;
    }
  }

  private reply(r: AuthorizeRequest, code: ResponseCode, authCode: string | undefined): WireValue {
    const arc = ascii(code);
    const out: { [k: string]: WireValue } = { type: 'authorization', ref: r.ref, responseCode: code, arc };
    if (authCode !== undefined) out.authCode = authCode;
    // No ARPC when the issuer was not reached or the ARQC is not the card's: the card must not be
    // told a tampered cryptogram was authenticated.
    if (code !== '91' && code !== 'A1') {
      const arpc = generateArpc({ imk: this.imk, pan: r.pan, panSequenceNumber: r.psn, atc: (r.atc[0]! << 8) | r.atc[1]!, arqc: r.arqc, arc });
      out.arpc = arpc;
      out.issuerAuthData = issuerAuthenticationData(arpc, arc);
    }
    return out;
  }

  private reversal(ref: string, originalRef: string, amount: number): WireValue {
    const answer = (accepted: boolean, reason?: string): WireValue => {
      this.journal.append({ kind: 'reversal', ref, originalRef, amount, accepted, ...(reason !== undefined ? { reason } : {}) });
      return reason !== undefined ? { type: 'reversal', ref, accepted, reason } : { type: 'reversal', ref, accepted };
    };
    const orig = this.journal.authorization(originalRef);
    if (!orig) return answer(false, 'unknown original transaction');
    const done = this.journal.reversalOf(originalRef);
    if (done) return done.ref === ref ? { type: 'reversal', ref, accepted: true } : answer(false, 'already reversed');
    if (orig.responseCode !== '00') return answer(false, `original was not approved (${orig.responseCode})`);
    if (orig.amount !== amount) return answer(false, 'amount differs from the original');
    return answer(true);
  }

  private batch(o: Obj): WireValue {
    const terminalId = refField(o, 'terminalId');
    const date = dateField(o, 'date');
    const count = intField(o, 'count', 0, MAX_BATCH_REFS);
    const total = intField(o, 'total', 0, Number.MAX_SAFE_INTEGER);
    const refsRaw = o.refs;
    if (!Array.isArray(refsRaw) || refsRaw.length > MAX_BATCH_REFS) throw new BadRequest(`refs must be an array of at most ${MAX_BATCH_REFS} refs`);
    const refs = refsRaw.map((x, i) => {
      if (typeof x !== 'string' || !REF.test(x)) throw new BadRequest(`refs/${i} is not a ref`);
      return x;
    });
    const differences: string[] = [];
    // Offline approvals (TC) reach the acquirer only now: each one's TC must verify over the data it
    // claims (ATC and amount included) before it is settled like an approved authorization.
    const offlineRaw = o.offline ?? [];
    if (!Array.isArray(offlineRaw) || offlineRaw.length > MAX_BATCH_REFS) throw new BadRequest(`offline must be an array of at most ${MAX_BATCH_REFS} items`);
    offlineRaw.forEach((x, i) => {
      if (x === null || typeof x !== 'object' || Array.isArray(x) || x instanceof Uint8Array) throw new BadRequest(`offline/${i} must be an object`);
      const item = x as Obj;
      const r: AuthorizeRequest = {
        ref: refField(item, 'ref'),
        terminalId,
        amount: intField(item, 'amount', 1, Number.MAX_SAFE_INTEGER),
        date,
        pan: panField(item),
        psn: intField(item, 'psn', 0, 99),
        atc: bytesField(item, 'atc', 2),
        arqc: bytesField(item, 'tc', 8),
        acInput: bytesField(item, 'acInput', 8, 1024),
        cvmResults: new Uint8Array(3),
        tvr: new Uint8Array(5),
      };
      if (this.journal.authorization(r.ref)) return; // already settled by an earlier batch
      if (!inputMatches(r) || !this.arqcVerifies(r)) {
        differences.push(`${r.ref}: offline TC does not verify`);
        return;
      }
      this.journal.append({
        kind: 'authorization',
        ref: r.ref,
        terminalId,
        panMasked: maskPan(r.pan),
        amount: r.amount,
        currency: 978,
        date,
        atc: Buffer.from(r.atc).toString('hex').toUpperCase(),
        arqcFingerprint: fingerprint(r.arqc),
        responseCode: '00',
        reason: 'offline approval (TC verified at the batch)',
      });
    });
    const settled = this.journal.settled(terminalId, date);
    const mine = new Set(settled.map((e) => e.ref));
    const theirs = new Set<string>();
    for (const ref of refs) {
      if (theirs.has(ref)) {
        differences.push(`${ref}: listed twice`);
        continue;
      }
      theirs.add(ref);
      if (mine.has(ref)) continue;
      const a = this.journal.authorization(ref);
      if (!a) differences.push(`${ref}: unknown to the acquirer`);
      else if (a.terminalId !== terminalId || a.date !== date) differences.push(`${ref}: not of this terminal and date`);
      else if (a.responseCode !== '00') differences.push(`${ref}: declined by the acquirer (${a.responseCode})`);
      else differences.push(`${ref}: reversed`);
    }
    for (const e of settled) if (!theirs.has(e.ref)) differences.push(`${e.ref}: approved by the acquirer, missing from the terminal's batch`);
    const acquirerCount = settled.length;
    const acquirerTotal = settled.reduce((s, e) => s + e.amount, 0);
    if (count !== acquirerCount) differences.push(`count: terminal ${count}, acquirer ${acquirerCount}`);
    if (total !== acquirerTotal) differences.push(`total: terminal ${total}, acquirer ${acquirerTotal}`);
    const accepted = differences.length === 0;
    this.journal.append({ kind: 'batch', terminalId, date, count, total, acquirerCount, acquirerTotal, accepted, differences, ...(accepted ? { refs } : {}) });
    return { type: 'batch', accepted, acquirerCount, acquirerTotal, differences };
  }
}

function serveConnection(acquirer: Acquirer, socket: Socket): void {
  const decoder = new FrameDecoder(MAX_REQUEST_BYTES);
  let pending = 0;
  let dead = false;
  let chain = Promise.resolve();
  socket.setNoDelay(true);
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const drop = (reason: string) => {
    if (dead) return;
    dead = true;
    try {
      // The attempt is journalled, none of its bytes.
      acquirer.journal.append({ kind: 'error', reason });
    } catch {
      // A full disk must not keep a hostile client connected.
    }
    let frame: Buffer | null = null;
    try {
      frame = encodeFrame({ type: 'error', reason });
    } catch {
      frame = null;
    }
    socket.pause();
    socket.removeAllListeners('data');
    if (frame) socket.end(frame, () => socket.destroy());
    else socket.destroy();
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  socket.on('data', (chunk: Buffer) => {
    if (dead) return;
    let msgs: unknown[];
    try {
      msgs = decoder.push(chunk);
    } catch {
      drop('malformed frame: disconnected');
      return;
    }
    for (const m of msgs) {
      if (++pending > MAX_PENDING_PER_CONNECTION) {
        drop('too many requests in flight: disconnected');
        return;
      }
      chain = chain.then(() => {
        pending--;
        if (dead || socket.destroyed) return;
        let frame: Buffer;
        try {
          frame = encodeFrame(acquirer.handle(m));
        } catch {
          frame = encodeFrame({ type: 'error', reason: 'internal error' });
        }
        socket.write(frame);
      });
    }
  });
}

export async function startAcquirer(opts: AcquirerOptions): Promise<AcquirerServer> {
  const acquirer = await Acquirer.create(opts.keyDir, opts.journalPath, opts.rules);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(acquirer, socket);
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_ACQUIRER_PORT, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const addr = server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : (opts.port ?? DEFAULT_ACQUIRER_PORT);
  let closed: Promise<void> | null = null;
  return {
    port,
    journal: () => acquirer.journal.all(),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          acquirer.journal.close();
          resolve();
        });
      });
      return closed;
    },
  };
}
