/**
 * The acquirer, through the kernel's `acquirer` endpoint (protocol in the issue 5 brief): CA key
 * download, authorization, reversal and the daily batch. Replies are untrusted: each one is checked
 * field by field and anything else counts as "no answer".
 */
import { bytesEqual, toHex } from '../../platform/sdk/hex.js';
import type { Transferable } from '../../platform/sdk/api.js';
import type { CaKey } from './oda.js';
import type { ClearingRecord } from './journal.js';
import { CURRENCY_NUMERIC, TERMINAL_ID } from './terminal.js';

export const ENDPOINT = 'acquirer';

type Obj = { [k: string]: Transferable };

function isObj(v: Transferable | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bytes(v: Transferable | undefined, len?: number): v is Uint8Array {
  return v instanceof Uint8Array && (len === undefined || v.length === len);
}

async function send(message: Obj): Promise<Obj | null> {
  try {
    const reply = await platform.net.send(ENDPOINT, message);
    return isObj(reply) ? reply : null;
  } catch {
    return null;
  }
}

const CA_STORE_KEY = 'ca-keys';

/** Terminal parameter download: fetched once, checked against their SHA-1 checksums, cached in the store. */
export async function loadCaKeys(): Promise<CaKey[]> {
  const cached = await platform.store.get(CA_STORE_KEY);
  if (isObj(cached) && Array.isArray(cached.keys) && cached.keys.length > 0) return decodeKeys(cached.keys, false);
  const reply = await send({ type: 'ca-keys' });
  if (!reply || reply.type !== 'ca-keys' || !Array.isArray(reply.keys)) return [];
  const keys = await decodeKeys(reply.keys, true);
  if (keys.length > 0) {
    await platform.store.put(CA_STORE_KEY, { keys: keys.map((k) => ({ rid: k.rid, index: k.index, modulus: k.modulus, exponent: k.exponent })) });
  }
  return keys;
}

async function decodeKeys(list: Transferable[], checkSum: boolean): Promise<CaKey[]> {
  const out: CaKey[] = [];
  for (const k of list) {
    if (!isObj(k)) continue;
    const rid = k.rid;
    const idx = k.index;
    const mod = k.modulus;
    const exp = k.exponent;
    const rb = typeof rid === 'string' ? rid : bytes(rid, 5) ? toHex(rid) : null;
    if (rb === null || typeof idx !== 'number' || !bytes(mod) || !bytes(exp) || mod.length < 64 || mod.length > 248 || exp.length < 1 || exp.length > 3) continue;
    if (checkSum) {
      const sum = k.checksum;
      if (!bytes(sum, 20) || !bytes(rid, 5)) continue;
      const data = new Uint8Array(5 + 1 + mod.length + exp.length);
      data.set(rid, 0);
      data[5] = idx;
      data.set(mod, 6);
      data.set(exp, 6 + mod.length);
      if (!bytesEqual(await platform.crypto.digest('SHA-1', data), sum)) continue;
    }
    out.push({ rid: rb, index: idx, modulus: mod, exponent: exp });
  }
  return out;
}

export interface AuthorizeRequest {
  ref: string;
  amount: number;
  date: string;
  pan: string;
  psn: number;
  atc: Uint8Array;
  arqc: Uint8Array;
  acInput: Uint8Array;
  cvmResults: Uint8Array;
  tvr: Uint8Array;
  /** 5F24 YYMMDD: the acquirer's optional `expiry` extension (docs/acquirer.md). */
  expiry: string;
}

export interface Authorization {
  responseCode: string;
  authCode?: string;
  arc: Uint8Array;
  issuerAuthData?: Uint8Array;
}

const RESPONSE_CODE = /^[0-9A-Z]{2}$/;

/** null: the acquirer could not be reached or answered nonsense ("unable to go online"). */
export async function authorize(req: AuthorizeRequest): Promise<Authorization | null> {
  const reply = await send({
    type: 'authorize',
    ref: req.ref,
    terminalId: TERMINAL_ID,
    amount: req.amount,
    currency: CURRENCY_NUMERIC,
    date: req.date,
    pan: req.pan,
    psn: req.psn,
    atc: req.atc,
    arqc: req.arqc,
    acInput: req.acInput,
    cvmResults: req.cvmResults,
    tvr: req.tvr,
    panSequence: req.psn,
    expiry: req.expiry,
  });
  if (!reply || reply.type !== 'authorization' || reply.ref !== req.ref) return null;
  const code = reply.responseCode;
  if (typeof code !== 'string' || !RESPONSE_CODE.test(code)) return null;
  const arc = bytes(reply.arc, 2) ? reply.arc : Uint8Array.of(code.charCodeAt(0), code.charCodeAt(1));
  const out: Authorization = { responseCode: code, arc };
  if (typeof reply.authCode === 'string' && /^[0-9A-Z]{1,6}$/.test(reply.authCode)) out.authCode = reply.authCode;
  if (bytes(reply.issuerAuthData) && reply.issuerAuthData.length >= 8 && reply.issuerAuthData.length <= 16) out.issuerAuthData = reply.issuerAuthData;
  else if (bytes(reply.arpc, 8)) out.issuerAuthData = new Uint8Array([...reply.arpc, ...arc]);
  return out;
}

export async function sendReversal(ref: string, originalRef: string, amount: number): Promise<{ accepted: boolean; reason?: string } | null> {
  const reply = await send({ type: 'reversal', ref, originalRef, amount });
  if (!reply || reply.type !== 'reversal' || typeof reply.accepted !== 'boolean') return null;
  return { accepted: reply.accepted, ...(typeof reply.reason === 'string' ? { reason: reply.reason.slice(0, 120) } : {}) };
}

export interface BatchReply {
  accepted: boolean;
  acquirerCount: number;
  acquirerTotal: number;
  differences: string[];
}

/** An offline approval handed over at the batch, so the acquirer can check its TC and settle it. */
export interface OfflineItem extends ClearingRecord {
  ref: string;
}

export async function sendBatch(date: string, count: number, total: number, refs: string[], offline: OfflineItem[] = []): Promise<BatchReply | null> {
  const reply = await send({ type: 'batch', terminalId: TERMINAL_ID, date, count, total, refs, offline: offline.map((o) => ({ ...o })) });
  if (!reply || reply.type !== 'batch' || typeof reply.accepted !== 'boolean') return null;
  const differences = Array.isArray(reply.differences) ? reply.differences.filter((d): d is string => typeof d === 'string').slice(0, 100) : [];
  return {
    accepted: reply.accepted,
    acquirerCount: typeof reply.acquirerCount === 'number' ? reply.acquirerCount : -1,
    acquirerTotal: typeof reply.acquirerTotal === 'number' ? reply.acquirerTotal : -1,
    differences,
  };
}
