/**
 * The practice computer fetches the AMO's returns about what IT sent, from the practice's POP3
 * mailbox (the same one the device reads): ARL per lot, RSP payments. The device leaves these on the
 * server (applets/sesam-vitale/pipeline/returns.ts); this is the other half.
 *
 * Each message is decided from its subject, then parsed strictly with the applet's own formats
 * (classifyReturn, decodeArl, decodeRsp):
 * - an ARL about a lot this computer sent (lot and file numbered from 500000, known in its store) is
 *   applied (the lot's ARL, its invoices accepted or rejected with the reason); an RSP wholly about
 *   invoices it sent is applied (paid amount and date, or rejection). Both are recorded under their
 *   POP3 uid IN THE SAME TRANSACTION, and deleted from the server only after that commit: a cut in
 *   between re-reads the message next time, and the uid recorded makes it a no-op (deleted again);
 * - an RSP naming also the device's invoices (one RSP per billing number and destination) is applied
 *   for this computer's invoices only, recorded as 'shared', and LEFT on the server: the device
 *   applies its part and leaves it too (it records it as `sharedWithHost`); a later fetch skips it;
 * - anything about the device's own files (numbers below 500000), about invoices this computer does
 *   not transmit, about lots it does not know, or not a return at all: left on the server untouched,
 *   not recorded;
 * - a return that claims (by its subject) to be about this computer's files but does not decode, or
 *   does not match what it sent: kept in the store with its error and bounded raw bytes, and left on
 *   the server (nothing deleted); a later fetch skips it.
 *
 * The POP3 client is the kernel's (platform/kernel/transports/pop3.ts), used directly: it needs no
 * kernel, only an endpoint and the mailbox credentials, and opens one connection per call.
 */
import { createHash } from 'node:crypto';
import { Pop3Transport } from '../platform/kernel/transports/pop3.js';
import type { NetworkEndpoint } from '../platform/kernel/policy/types.js';
import type { WireValue } from '../platform/wire/messages.js';
import { classifyReturn, type MailReceived } from '../applets/sesam-vitale/formats/mail.js';
import { decodeArl, type ArlReport } from '../applets/sesam-vitale/formats/arl.js';
import { decodeRsp, type RspReport } from '../applets/sesam-vitale/formats/rsp.js';
import { HOST_NUMBER_BASE, type InvoiceReturnInput, type LotArlInput, type NewReturn, type TlaStore } from './store.js';

/** The emulated AMO's mailbox (emulator/amo, platform/kernel/config.ts `mailbox`). */
export const DEFAULT_POP3 = { host: '127.0.0.1', port: 1110, user: 'cabinet' } as const;
export const POP3_PASSWORD_ENV = 'DI_TLA_POP3_PASSWORD';
export const DEFAULT_POP3_PASSWORD = 'cabinet-test';
/** How much of a corrupt return is kept (its size and SHA-256 are kept whole), as on the device. */
export const MAX_KEPT_RETURN_BYTES = 256 * 1024;
export const POP3_TIMEOUT_MS = 30_000;

export interface Pop3Account {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface FetchReturnsOptions {
  pop3: Pop3Account;
  timeoutMs?: number;
  now?: () => number;
  /**
   * Called after every commit and before the DELE of the returns applied (tests: a throw here is a
   * crash between the two; it propagates and nothing is deleted).
   */
  beforeDelete?: (uids: string[]) => void | Promise<void>;
}

export interface ReturnReject {
  billingNumber: string;
  invoiceNo: number;
  code: string;
  text: string;
  source: 'ARL' | 'RSP';
}

export interface FetchReturnsReport {
  ok: boolean;
  /** Messages in the mailbox when listed. */
  listed: number;
  /** ARL applied in this fetch (a repeated ARL for a lot that has one counts, and changes nothing). */
  arl: number;
  /** RSP applied in this fetch (wholly this computer's, or its part of a shared one). */
  rsp: number;
  arlSeen: Array<{ billingNumber: string; lotNo: number; status: 'positive' | 'negative'; reason?: string }>;
  paid: number;
  rejects: ReturnReject[];
  /** RSPs also naming the device's invoices: this computer's part applied (now or before), left on the server. */
  shared: number;
  /** Not this computer's (the device's own, unknown, not a return): left untouched. */
  leftUntouched: number;
  /** Set aside in this fetch: claims to be this computer's, does not decode or match. Left on the server. */
  corrupt: Array<{ uid: string; error: string }>;
  /** Set aside by an earlier fetch, still on the server. */
  corruptKept: number;
  /** Recorded by an earlier fetch whose DELE did not happen (a cut): deleted now, nothing re-applied. */
  alreadyApplied: number;
  /** Messages the client could not read (not RFC 822, too large): left on the server, not recorded. */
  unreadable: Array<{ uid: string; error: string }>;
  /** Messages removed from the server (the DELE count). */
  deleted: number;
  error?: string;
}

/** The kernel's POP3 client without a kernel: one endpoint, the mailbox credentials. */
export class Pop3Mailbox {
  private readonly transport: Pop3Transport;
  private readonly endpoint: NetworkEndpoint;

  constructor(account: Pop3Account, timeoutMs = POP3_TIMEOUT_MS) {
    this.transport = new Pop3Transport({ user: account.user, password: account.password }, { timeoutMs });
    this.endpoint = { name: 'tla-returns', kind: 'pop3', host: account.host, port: account.port };
  }

  private call(request: WireValue): Promise<WireValue> {
    return this.transport.fetch(this.endpoint, request, new AbortController().signal);
  }

  async list(): Promise<Array<{ uid: string; size: number }>> {
    const v = await this.call({ type: 'list' });
    if (!isObj(v) || v.type !== 'list' || !Array.isArray(v.messages)) throw new Error('POP3 : liste inattendue');
    return v.messages.flatMap((m) => (isObj(m) && typeof m.uid === 'string' && typeof m.size === 'number' ? [{ uid: m.uid, size: m.size }] : []));
  }

  async retrieve(uid: string): Promise<MailReceived> {
    return asMail(await this.call({ type: 'retrieve', uid }), uid);
  }

  async delete(uids: string[]): Promise<number> {
    const v = await this.call({ type: 'delete', uids });
    return isObj(v) && typeof v.count === 'number' ? v.count : 0;
  }

  close(): void {
    this.transport.close();
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function asMail(v: unknown, uid: string): MailReceived {
  if (!isObj(v) || v.type !== 'message' || !Array.isArray(v.attachments)) throw new Error('POP3 : message inattendu');
  const attachments = v.attachments.flatMap((a) =>
    isObj(a) && typeof a.filename === 'string' && typeof a.contentType === 'string' && a.content instanceof Uint8Array ? [{ filename: a.filename, contentType: a.contentType, content: a.content }] : [],
  );
  const str = (k: string): string => (typeof v[k] === 'string' ? (v[k] as string) : '');
  return { uid, messageId: str('messageId'), from: str('from'), subject: str('subject'), date: typeof v.date === 'number' ? v.date : 0, text: str('text'), attachments };
}

/** What a subject says a message is (the same patterns as classifyReturn). */
type Claim = { kind: 'ARL'; fileId: string; billingNumber: string; fileNo: number; lotNo: number } | { kind: 'RSP'; billingNumber: string; seq: number };

function claimOf(subject: string): Claim | null {
  const s = subject.trim();
  const arl = /^DI-SV ARL (F([0-9]{9})([0-9]{6})) L([0-9]{1,6})$/.exec(s);
  if (arl) return { kind: 'ARL', fileId: arl[1]!, billingNumber: arl[2]!, fileNo: Number(arl[3]), lotNo: Number(arl[4]) };
  const rsp = /^DI-SV RSP ([0-9]{9}) ([0-9]{6})$/.exec(s);
  if (rsp) return { kind: 'RSP', billingNumber: rsp[1]!, seq: Number(rsp[2]) };
  return null;
}

/** Is the claimed return about this computer's files (ARL) or invoices (RSP)? */
function claimsOurs(store: TlaStore, c: Claim): boolean {
  if (c.kind === 'ARL') {
    return (c.fileNo >= HOST_NUMBER_BASE && store.fileById(c.fileId) !== undefined) || (c.lotNo >= HOST_NUMBER_BASE && store.lot(c.billingNumber, c.lotNo) !== undefined);
  }
  return store.hostInvoiceNos(c.billingNumber).size > 0;
}

/** A return claiming to be ours that cannot be applied: set aside. */
class Corrupt extends Error {}

type Decision =
  | { action: 'leave' }
  | { action: 'apply'; outcome: 'applied' | 'shared'; ret: Omit<NewReturn, 'uid' | 'at' | 'outcome' | 'subject'>; lotArl?: LotArlInput; invoices: InvoiceReturnInput[]; report: (r: FetchReturnsReport) => void };

function decideArl(store: TlaStore, c: Extract<Claim, { kind: 'ARL' }>, r: ArlReport): Decision {
  if (r.fileId !== c.fileId || r.lotNo !== c.lotNo) throw new Corrupt(`ARL : le contenu (${r.fileId} lot ${r.lotNo}) ne correspond pas à l'objet (${c.fileId} lot ${c.lotNo})`);
  const b = r.billingNumber;
  if (b !== c.billingNumber) throw new Corrupt(`ARL : numéro de facturation ${b} différent de celui du fichier ${c.fileId}`);
  const lot = store.lot(b, r.lotNo);
  const file = store.fileById(r.fileId);
  if (!lot || lot.fileNo === null || !file || file.fileNo !== lot.fileNo || !file.lotNos.includes(r.lotNo)) throw new Corrupt(`ARL pour un lot que cet ordinateur n'a pas envoyé dans ce fichier (${r.fileId} lot ${r.lotNo})`);
  if (r.destination !== lot.destination) throw new Corrupt(`ARL : destinataire ${r.destination} différent de celui du lot (${lot.destination})`);
  for (const i of r.invoices) if (!lot.invoiceNos.includes(i.invoiceNo)) throw new Corrupt(`ARL pour une facture absente du lot ${r.lotNo} (${i.invoiceNo})`);
  const ret = { kind: 'ARL' as const, fileId: r.fileId, lotNo: r.lotNo, billingNumber: b };
  // Seen before (a re-sent file gets the same ARL again under a new uid): recorded, nothing changes.
  if (store.lotArl(b, r.lotNo) !== undefined) return { action: 'apply', outcome: 'applied', ret, invoices: [], report: (x) => x.arl++ };
  const invoices: InvoiceReturnInput[] = [];
  const rejects: ReturnReject[] = [];
  for (const no of lot.invoiceNos) {
    const prev = store.invoiceReturn(b, no);
    if (prev && (prev.state === 'paid' || prev.state === 'rejected')) continue;
    const line = r.invoices.find((i) => i.invoiceNo === no);
    const rejected = line ? line.status === 'rejected' : r.status === 'negative';
    if (rejected) {
      const reject = { code: line?.code ?? r.lotReason?.code ?? 'ARL', text: line?.text ?? r.lotReason?.text ?? 'Rejet sans motif', source: 'ARL' as const };
      invoices.push({ billingNumber: b, invoiceNo: no, state: 'arl-negative', arl: r.status, reject, paid: null, rspSeq: null });
      rejects.push({ billingNumber: b, invoiceNo: no, ...reject });
    } else {
      invoices.push({ billingNumber: b, invoiceNo: no, state: 'arl-positive', arl: r.status, reject: null, paid: null, rspSeq: null });
    }
  }
  return {
    action: 'apply',
    outcome: 'applied',
    ret,
    lotArl: { billingNumber: b, lotNo: r.lotNo, fileId: r.fileId, status: r.status, reason: r.lotReason ?? null, date: r.date },
    invoices,
    report: (x) => {
      x.arl++;
      x.arlSeen.push(r.status === 'negative' && r.lotReason ? { billingNumber: b, lotNo: r.lotNo, status: r.status, reason: r.lotReason.text } : { billingNumber: b, lotNo: r.lotNo, status: r.status });
      x.rejects.push(...rejects);
    },
  };
}

function decideRsp(store: TlaStore, c: Extract<Claim, { kind: 'RSP' }>, r: RspReport): Decision {
  if (r.billingNumber !== c.billingNumber || r.seq !== c.seq) throw new Corrupt(`RSP : le contenu (${r.billingNumber} n° ${r.seq}) ne correspond pas à l'objet (${c.billingNumber} n° ${c.seq})`);
  const b = r.billingNumber;
  const ours = store.hostInvoiceNos(b);
  const mine = r.payments.filter((p) => ours.has(p.invoiceNo));
  // Wholly the device's (or empty): its to apply and delete.
  if (mine.length === 0) return { action: 'leave' };
  const shared = mine.length < r.payments.length;
  const invoices: InvoiceReturnInput[] = [];
  const rejects: ReturnReject[] = [];
  let paid = 0;
  const done = new Set<number>();
  for (const p of mine) {
    if (done.has(p.invoiceNo)) continue;
    const prev = store.invoiceReturn(b, p.invoiceNo);
    if (prev && (prev.state === 'paid' || prev.state === 'rejected')) continue;
    done.add(p.invoiceNo);
    const arl = prev?.arl ?? null;
    if (p.status === 'paid') {
      invoices.push({ billingNumber: b, invoiceNo: p.invoiceNo, state: 'paid', arl, reject: null, paid: { amount: p.paid, date: p.paymentDate }, rspSeq: r.seq });
      paid++;
    } else {
      const reject = { code: p.code ?? 'RSP', text: p.text ?? 'Rejet sans motif', source: 'RSP' as const };
      invoices.push({ billingNumber: b, invoiceNo: p.invoiceNo, state: 'rejected', arl, reject, paid: null, rspSeq: r.seq });
      rejects.push({ billingNumber: b, invoiceNo: p.invoiceNo, ...reject });
    }
  }
  return {
    action: 'apply',
    outcome: shared ? 'shared' : 'applied',
    ret: { kind: 'RSP', billingNumber: b, seq: r.seq },
    invoices,
    report: (x) => {
      x.rsp++;
      x.paid += paid;
      x.rejects.push(...rejects);
      if (shared) x.shared++;
    },
  };
}

/** A failure of the mailbox itself (connection, protocol): stop the fetch. A message the client cannot read: skip it. */
function unreadableMessage(err: unknown): boolean {
  const m = err instanceof Error ? err.message : '';
  return /is not a readable RFC 822 message|bytes, larger than/.test(m);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function fetchReturns(store: TlaStore, o: FetchReturnsOptions): Promise<FetchReturnsReport> {
  const now = o.now ?? Date.now;
  const res: FetchReturnsReport = { ok: true, listed: 0, arl: 0, rsp: 0, arlSeen: [], paid: 0, rejects: [], shared: 0, leftUntouched: 0, corrupt: [], corruptKept: 0, alreadyApplied: 0, unreadable: [], deleted: 0 };
  const box = new Pop3Mailbox(o.pop3, o.timeoutMs);
  const done: string[] = [];
  try {
    try {
      const listing = await box.list();
      res.listed = listing.length;
      for (const { uid } of listing) {
        const known = store.returnOf(uid);
        if (known) {
          if (known.outcome === 'applied') {
            // Applied by an earlier fetch cut before its DELE: delete it now, apply nothing.
            res.alreadyApplied++;
            done.push(uid);
          } else if (known.outcome === 'shared') res.shared++;
          else res.corruptKept++;
          continue;
        }
        let mail: MailReceived;
        try {
          mail = await box.retrieve(uid);
        } catch (err) {
          if (!unreadableMessage(err)) throw err;
          res.unreadable.push({ uid, error: (err as Error).message.slice(0, 300) });
          continue;
        }
        const claim = claimOf(mail.subject);
        if (!claim || !claimsOurs(store, claim)) {
          res.leftUntouched++;
          continue;
        }
        let raw: Uint8Array = new Uint8Array(0);
        let decision: Decision;
        try {
          const c = classifyReturn(mail);
          if (c.kind === 'unknown') throw new Corrupt(`message non reconnu : ${c.reason}`);
          if (c.kind !== claim.kind) throw new Corrupt(`${c.kind} sous l'objet d'un ${claim.kind}`);
          raw = c.attachment.content;
          decision = claim.kind === 'ARL' ? decideArl(store, claim, decodeArl(raw)) : decideRsp(store, claim, decodeRsp(raw));
        } catch (err) {
          if (!(err instanceof Corrupt) && (err as Error | null)?.name !== 'FormatError') throw err;
          const error = (err as Error).message;
          const kept = raw.length > MAX_KEPT_RETURN_BYTES ? raw.slice(0, MAX_KEPT_RETURN_BYTES) : raw;
          const base = claim.kind === 'ARL' ? { fileId: claim.fileId, lotNo: claim.lotNo, billingNumber: claim.billingNumber } : { billingNumber: claim.billingNumber, seq: claim.seq };
          store.recordReturn({ uid, kind: claim.kind, outcome: 'corrupt', subject: mail.subject, at: now(), ...base, error, raw: kept, size: raw.length, sha256: sha256(raw), truncated: kept.length < raw.length });
          res.corrupt.push({ uid, error });
          continue;
        }
        if (decision.action === 'leave') {
          res.leftUntouched++;
          continue;
        }
        store.recordReturn({ uid, outcome: decision.outcome, subject: mail.subject, at: now(), ...decision.ret }, { ...(decision.lotArl ? { lotArl: decision.lotArl } : {}), invoices: decision.invoices });
        decision.report(res);
        if (decision.outcome === 'applied') done.push(uid);
      }
    } catch (err) {
      res.ok = false;
      res.error = `relève interrompue : ${(err as Error).message.slice(0, 300)}`;
    }
    if (done.length > 0) {
      // After the commits only. A throw here (a crash) leaves them on the server: the uids recorded
      // make the next fetch delete them without applying anything again.
      await o.beforeDelete?.(done);
      try {
        res.deleted = await box.delete(done);
      } catch (err) {
        res.ok = false;
        res.error = `${res.error ? `${res.error} ; ` : ''}suppression sur le serveur impossible (elle sera refaite) : ${(err as Error).message.slice(0, 300)}`;
      }
    }
  } finally {
    box.close();
  }
  return res;
}
