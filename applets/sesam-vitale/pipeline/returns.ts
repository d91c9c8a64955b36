/**
 * Returns from the AMO by POP3 through the kernel: ARL (per lot) and RSP (payments). Each message
 * is applied in ONE transaction that also writes `ret/<uid>`; only after it are the uids deleted on
 * the server, so a crash in between re-reads a message that the `ret/` key then makes a no-op.
 * A return that does not decode strictly, or that names a file, lot or invoice we never sent, is
 * kept under `ret-bad/<uid>` with its raw bytes and the reason, for inspection. Callers hold the lock.
 */
import type { InvoiceRecord } from '../model.js';
import type { StoreOp, Transferable } from '../../../platform/sdk/api.js';
import { classifyReturn, type MailReceived } from '../formats/mail.js';
import { decodeArl, type ArlReport } from '../formats/arl.js';
import { decodeRsp, type RspReport } from '../formats/rsp.js';
import { toHex } from '../../../platform/sdk/hex.js';
import { withState } from './invoices.js';
import { getAs, keys, put } from './keys.js';
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
  error?: string;
}

/** A return we cannot apply: it goes to ret-bad. */
class BadReturn extends Error {}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

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

async function applyRsp(r: RspReport, uid: string, now: number, res: ReturnsResult): Promise<StoreOp[]> {
  const b = r.billingNumber;
  const ops: StoreOp[] = [put(keys.ret(uid), { kind: 'RSP', seq: r.seq, billingNumber: b, at: now })];
  const seen = new Map<number, InvoiceRecord>();
  for (const p of r.payments) {
    const inv = seen.get(p.invoiceNo) ?? (await getAs<InvoiceRecord>(keys.invoice(b, p.invoiceNo)));
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

/** How much of a corrupt return is kept for inspection (its size and SHA-256 are kept whole). */
export const MAX_KEPT_RETURN_BYTES = 256 * 1024;

export async function fetchReturns(): Promise<ReturnsResult> {
  const res: ReturnsResult = { ok: true, arl: 0, rsp: 0, corrupt: [], rejects: [], arlSeen: [], paid: 0 };
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
      if ((await platform.store.get(keys.ret(uid))) !== undefined || (await platform.store.get(keys.retBad(uid))) !== undefined) {
        done.push(uid);
        continue;
      }
      let raw: Uint8Array = new Uint8Array(0);
      let subject = '';
      const now = await platform.clock.now();
      try {
        const mail = asMail(await platform.net.fetch('amo-pop3', { type: 'retrieve', uid }), uid);
        subject = mail.subject;
        const c = classifyReturn(mail);
        if (c.kind === 'unknown') throw new BadReturn(`message non reconnu : ${c.reason}`);
        raw = c.attachment.content;
        const ops = c.kind === 'ARL' ? await applyArl(decodeArl(raw), uid, now, res) : await applyRsp(decodeRsp(raw), uid, now, res);
        await platform.store.transaction(ops);
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
