/**
 * Returns from the AMO by POP3 through the kernel: ARL (per lot) and RSP (payments). Each message
 * is applied in ONE transaction that also writes `ret/<uid>`; only after it are the uids deleted on
 * the server, so a crash in between re-reads a message that the `ret/` key then makes a no-op.
 * A return that does not decode strictly, or that names a file, lot or invoice we never sent, is
 * kept under `ret-bad/<uid>` with its raw bytes and the reason, for inspection. Callers hold the lock.
 *
 * Returns of the practice computer (host link) stay on the server for it to fetch: an ARL about a file
 * or lot numbered from DEVICE_NUMBER_LIMIT up (the computer's numbers), an RSP about invoices
 * unloaded to it. Those are neither applied, nor recorded, nor set aside, nor deleted. An RSP that
 * mixes the device's invoices and the computer's (one RSP per billing number and destination) is
 * applied for the device's ones, recorded as shared, and left on the server too.
 */
import type { InvoiceRecord } from '../model.js';
import type { StoreOp, Transferable } from '../../../platform/sdk/api.js';
import { classifyReturn, type MailReceived } from '../formats/mail.js';
import { decodeArl, type ArlReport } from '../formats/arl.js';
import { decodeRsp, type RspReport } from '../formats/rsp.js';
import { toHex } from '../../../platform/sdk/hex.js';
import { isObj } from '../invoice/payload.js';
import { isHeld, withState } from './invoices.js';
import { getAs, keys, put } from './keys.js';
import { DEVICE_NUMBER_LIMIT } from './numbering.js';
import type { StoredFile, StoredLot } from './lots.js';

export interface Reject {
  invoiceNo: number;
  code: string;
  text: string;
  source: 'ARL' | 'RSP';
}

export interface ReturnsResult {
  ok: boolean;
  arl: number;
  rsp: number;
  corrupt: Array<{ uid: string; error: string }>;
  rejects: Reject[];
  /** For the screen: the ARL seen in this fetch. */
  arlSeen: Array<{ lotNo: number; status: 'positive' | 'negative'; reason?: string }>;
  paid: number;
  /** Returns left on the server for the practice computer (wholly or partly its own). */
  leftForHost: number;
  error?: string;
}

/** An ARL about a file or lot numbered in the practice computer's range (fileId: `F` + 9-digit billing number + 6-digit file number). */
function computerArl(fileId: string, lotNo: number): boolean {
  const m = /^F[0-9]{9}([0-9]{6})$/.exec(fileId);
  return lotNo >= DEVICE_NUMBER_LIMIT || (m !== null && Number(m[1]) >= DEVICE_NUMBER_LIMIT);
}

/** An invoice the practice computer transmits: unloaded to it (erased here, or still held). */
function hostsInvoice(inv: InvoiceRecord | undefined): boolean {
  return inv !== undefined && (inv.state === 'unloaded' || isHeld(inv));
}

/** Why a decoded return belongs to the practice computer: 'all' (leave untouched), 'some' (RSP shared), or null. */
async function hostShare(c: { kind: 'ARL'; report: ArlReport } | { kind: 'RSP'; report: RspReport }): Promise<'all' | 'some' | null> {
  if (c.kind === 'ARL') return computerArl(c.report.fileId, c.report.lotNo) ? 'all' : null;
  let host = 0;
  for (const p of c.report.payments) if (hostsInvoice(await getAs<InvoiceRecord>(keys.invoice(c.report.billingNumber, p.invoiceNo)))) host++;
  return host === 0 ? null : host === c.report.payments.length ? 'all' : 'some';
}

/** A return we cannot apply: it goes to ret-bad. */
class BadReturn extends Error {}

function asMail(v: unknown, uid: string): MailReceived {
  if (!isObj(v) || v.type !== 'message' || !Array.isArray(v.attachments)) throw new BadReturn('réponse POP3 inattendue');
  const atts = v.attachments.map((a) => {
    if (!isObj(a) || typeof a.filename !== 'string' || typeof a.contentType !== 'string' || !(a.content instanceof Uint8Array)) throw new BadReturn('pièce jointe illisible');
    return { filename: a.filename, contentType: a.contentType, content: a.content };
  });
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : '');
  return { uid, messageId: str('messageId'), from: str('from'), subject: str('subject'), date: typeof v.date === 'number' ? v.date : 0, text: str('text'), attachments: atts };
}

function finalState(s: InvoiceRecord['state']): boolean {
  return s === 'paid' || s === 'rejected';
}

async function applyArl(r: ArlReport, uid: string, now: number, res: ReturnsResult): Promise<StoreOp[]> {
  const b = r.billingNumber;
  const lot = await getAs<StoredLot>(keys.lot(b, r.lotNo));
  if (!lot || lot.fileNo === undefined) throw new BadReturn(`ARL pour un lot inconnu (${r.fileId} lot ${r.lotNo})`);
  const file = await getAs<StoredFile>(keys.file(b, lot.fileNo));
  if (!file || file.fileId !== r.fileId) throw new BadReturn(`ARL pour un fichier inconnu (${r.fileId} lot ${r.lotNo})`);
  for (const i of r.invoices) if (!lot.invoiceNos.includes(i.invoiceNo)) throw new BadReturn(`ARL pour une facture absente du lot (${i.invoiceNo})`);
  const ops: StoreOp[] = [put(keys.ret(uid), { kind: 'ARL', fileId: r.fileId, lotNo: r.lotNo, status: r.status, at: now })];
  res.arl++;
  // Seen before (a re-sent file gets the same ARL again): nothing changes.
  if (lot.arl !== undefined) return ops;
  res.arlSeen.push(r.status === 'negative' && r.lotReason ? { lotNo: r.lotNo, status: r.status, reason: r.lotReason.text } : { lotNo: r.lotNo, status: r.status });
  ops.push(put(keys.lot(b, r.lotNo), { ...lot, arl: r.status }));
  for (const no of lot.invoiceNos) {
    const inv = await getAs<InvoiceRecord>(keys.invoice(b, no));
    if (!inv || finalState(inv.state)) continue;
    const line = r.invoices.find((i) => i.invoiceNo === no);
    const rejected = line ? line.status === 'rejected' : r.status === 'negative';
    if (rejected) {
      const reject = { code: line?.code ?? r.lotReason?.code ?? 'ARL', text: line?.text ?? r.lotReason?.text ?? 'Rejet sans motif', source: 'ARL' as const };
      ops.push(put(keys.invoice(b, no), { ...withState(inv, 'arl-negative', now, reject.code), reject }));
      res.rejects.push({ invoiceNo: no, ...reject });
    } else {
      ops.push(put(keys.invoice(b, no), withState(inv, 'arl-positive', now)));
    }
  }
  // The file is acknowledged once every one of its lots has its ARL (this one included).
  let all = true;
  for (const n of file.lotNos) {
    if (n === r.lotNo) continue;
    const other = await getAs<StoredLot>(keys.lot(b, n));
    if (other?.arl === undefined) all = false;
  }
  if (all || file.state === 'ready') ops.push(put(keys.file(b, file.fileNo), { ...file, state: all ? 'acknowledged' : 'sent', ...(file.sentAt === undefined ? { sentAt: now } : {}) }));
  return ops;
}

/** `shared`: hostShare said 'some' (the caller asked it once, before applying). */
async function applyRsp(r: RspReport, uid: string, now: number, res: ReturnsResult, shared: boolean): Promise<StoreOp[]> {
  const b = r.billingNumber;
  const ops: StoreOp[] = [put(keys.ret(uid), { kind: 'RSP', seq: r.seq, billingNumber: b, at: now, ...(shared ? { sharedWithHost: true } : {}) })];
  const seen = new Map<number, InvoiceRecord>();
  for (const p of r.payments) {
    const inv = seen.get(p.invoiceNo) ?? (await getAs<InvoiceRecord>(keys.invoice(b, p.invoiceNo)));
    // The practice computer's part of a shared RSP: its own to apply.
    if (hostsInvoice(inv)) continue;
    if (!inv || inv.state === 'created' || inv.state === 'secured') throw new BadReturn(`RSP pour une facture non transmise (${p.invoiceNo})`);
    if (finalState(inv.state)) continue;
    let next: InvoiceRecord;
    if (p.status === 'paid') {
      next = { ...withState(inv, 'paid', now), paid: { amount: p.paid, date: p.paymentDate } };
      res.paid++;
    } else {
      const reject = { code: p.code ?? 'RSP', text: p.text ?? 'Rejet sans motif', source: 'RSP' as const };
      next = { ...withState(inv, 'rejected', now, reject.code), reject };
      res.rejects.push({ invoiceNo: p.invoiceNo, ...reject });
    }
    seen.set(p.invoiceNo, next);
    ops.push(put(keys.invoice(b, p.invoiceNo), next));
  }
  res.rsp++;
  return ops;
}

/** An ARL whose subject names a file or lot numbered in the practice computer's range. */
function computerArlSubject(subject: string): boolean {
  const m = /^DI-SV ARL (F[0-9]{15}) L([0-9]{1,6})$/.exec(subject);
  return m !== null && computerArl(m[1]!, Number(m[2]));
}

/** How much of a corrupt return is kept for inspection (its size and SHA-256 are kept whole). */
export const MAX_KEPT_RETURN_BYTES = 256 * 1024;

export async function fetchReturns(): Promise<ReturnsResult> {
  const res: ReturnsResult = { ok: true, arl: 0, rsp: 0, corrupt: [], rejects: [], arlSeen: [], paid: 0, leftForHost: 0 };
  let listing: unknown;
  try {
    listing = await platform.net.fetch('amo-pop3', { type: 'list' });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    return { ...res, ok: false, error: `Relève impossible (${typeof code === 'string' ? code : 'erreur'})` };
  }
  if (!isObj(listing) || listing.type !== 'list' || !Array.isArray(listing.messages)) return { ...res, ok: false, error: 'Relève : réponse POP3 inattendue' };
  const done: string[] = [];
  try {
    for (const m of listing.messages) {
      if (!isObj(m) || typeof m.uid !== 'string' || !/^[\x21-\x7e]{1,70}$/.test(m.uid)) continue;
      const uid = m.uid;
      const applied = await platform.store.get(keys.ret(uid));
      if (isObj(applied) && applied.sharedWithHost === true) {
        // Applied for the device's invoices; the rest is the computer's: left on the server for it.
        res.leftForHost++;
        continue;
      }
      if (applied !== undefined || (await platform.store.get(keys.retBad(uid))) !== undefined) {
        done.push(uid);
        continue;
      }
      let raw: Uint8Array = new Uint8Array(0);
      let subject = '';
      const now = await platform.clock.now();
      try {
        const mail = asMail(await platform.net.fetch('amo-pop3', { type: 'retrieve', uid }), uid);
        subject = mail.subject;
        if (computerArlSubject(subject)) {
          // Named for the computer's range: its own, even when it does not decode (the computer keeps
          // a corrupt one for inspection); set aside here, it would be deleted before the computer sees it.
          res.leftForHost++;
          continue;
        }
        const c = classifyReturn(mail);
        if (c.kind === 'unknown') throw new BadReturn(`message non reconnu : ${c.reason}`);
        raw = c.attachment.content;
        const decoded = c.kind === 'ARL' ? { kind: 'ARL' as const, report: decodeArl(raw) } : { kind: 'RSP' as const, report: decodeRsp(raw) };
        const share = await hostShare(decoded);
        if (share === 'all') {
          // The practice computer's return: not applied, not recorded, not set aside, NOT in `done`
          // (so never deleted): it stays on the server for the computer to fetch.
          res.leftForHost++;
          continue;
        }
        const ops = decoded.kind === 'ARL' ? await applyArl(decoded.report, uid, now, res) : await applyRsp(decoded.report, uid, now, res, share === 'some');
        await platform.store.transaction(ops);
        if (share === 'some') {
          res.leftForHost++;
          continue;
        }
      } catch (err) {
        const netFailure = (err as { code?: unknown } | null)?.code;
        if (typeof netFailure === 'string') throw err; // E_NET etc.: stop, retry on the next fetch
        const error = err instanceof Error ? err.message : 'erreur';
        // Kept for inspection, bounded: a store value holds at most 1 MiB, and a return one could not
        // keep must still be set aside, or it would stop every fetch behind it.
        const kept = raw.length > MAX_KEPT_RETURN_BYTES ? raw.slice(0, MAX_KEPT_RETURN_BYTES) : raw;
        const sha256 = toHex(await platform.crypto.digest('SHA-256', raw));
        const bad: { [k: string]: Transferable } = { uid, subject: subject.slice(0, 200), error: error.slice(0, 500), raw: kept, size: raw.length, truncated: kept.length < raw.length, sha256, at: now };
        await platform.store.transaction([put(keys.retBad(uid), bad)]);
        res.corrupt.push({ uid, error });
      }
      done.push(uid);
    }
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    res.ok = false;
    res.error = `Relève interrompue (${typeof code === 'string' ? code : 'erreur'})`;
  }
  if (done.length > 0) {
    try {
      await platform.net.fetch('amo-pop3', { type: 'delete', uids: done });
    } catch {
      // Left on the server: the ret/ keys make the next fetch skip them and delete them again.
    }
  }
  return res;
}
