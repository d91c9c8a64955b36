/**
 * Sending files. The mail is rebuilt from stored bytes only (manifest fields fixed in the file
 * record, signed lots as stored), so a re-send after a crash or a failure is byte-identical and
 * carries the same fileId and Message-ID: the AMO deduplicates on them. A failed file waits (back-off
 * 30 s × 2^attempts, at most 1 h; at most 50 s when the failure is "no network", E_NET) and is tried
 * again by the policy's retry timer, the next transmit, returns.fetch or onStart. Files go strictly
 * in order: one that waits holds back those behind it. Callers hold the lock.
 */
import type { InvoiceRecord, IsoDate } from '../model.js';
import type { StoreOp } from '../../../platform/sdk/api.js';
import { storedFileMail, type MailMessage } from '../formats/mail.js';
import { billingEntity, currentSituation, cpsSignCms, session } from '../session.js';
import { awaitsDeviceLot, withState } from './invoices.js';
import { billingOfKey, getAs, keys, listAs, put } from './keys.js';
import { buildFiles, buildLots, securedInvoices, unsignedLots, type StoredFile, type StoredLot } from './lots.js';

export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_MAX_MS = 60 * 60 * 1000;

export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** attempts, BACKOFF_MAX_MS);
}

export async function fileMessage(file: StoredFile): Promise<MailMessage> {
  const lots: StoredLot[] = [];
  for (const n of file.lotNos) {
    const l = await getAs<StoredLot>(keys.lot(file.billingNumber, n));
    if (!l || l.signed.length === 0) throw new Error(`lot ${n} of file ${file.fileId} missing or unsigned`);
    lots.push(l);
  }
  return storedFileMail(file, lots);
}

/** Kernel error codes only: an E_NET message may name the endpoint, never the content. */
function netError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as { message?: unknown } | null)?.message;
  const c = typeof code === 'string' ? code : 'erreur';
  return typeof message === 'string' && c === 'E_NET' ? `${c}: ${message.slice(0, 160)}` : c;
}

export interface SendOutcome {
  sent: string[];
  waiting: Array<{ fileId: string; attempts: number; nextAttemptAt: number; lastError?: string }>;
  errors: string[];
}

/**
 * Whether a failure is "no network" (connection refused, unreachable, device offline): kernel code
 * E_NET. The kernel says E_NET too when the server was reached and answered with an SMTP refusal
 * ("server replied 550 ..."): the network works then, and the server's refusal is not one to retry
 * every minute nor to show as "hors réseau".
 */
export function isNetFailure(lastError: string | undefined): boolean {
  return lastError !== undefined && lastError.startsWith('E_NET') && !/server replied [0-9]{3}/.test(lastError);
}

/**
 * Back-off after a failure. Without network (E_NET) it never exceeds NET_RETRY_MAX_MS, under the
 * policy's 60 s retry timer: every tick tries the oldest waiting file again, so once the network is
 * back everything goes within a minute. A server's refusal keeps the exponential back-off.
 */
export const NET_RETRY_MAX_MS = 50_000;

export function nextDelayMs(attempts: number, lastError: string): number {
  const b = backoffMs(attempts);
  return isNetFailure(lastError) ? Math.min(b, NET_RETRY_MAX_MS) : b;
}

function waitingOf(f: StoredFile): SendOutcome['waiting'][number] {
  return { fileId: f.fileId, attempts: f.attempts, nextAttemptAt: f.nextAttemptAt, ...(f.lastError ? { lastError: f.lastError } : {}) };
}

/**
 * Sends the 'ready' files strictly in key order (billing number, then file number), one at a time;
 * the first one that cannot go (back-off not over, failure) stops the run, and the files behind it
 * wait behind it: the AMO receives them in the order they were built, each once.
 */
export async function sendFiles(force: boolean): Promise<SendOutcome> {
  const out: SendOutcome = { sent: [], waiting: [], errors: [] };
  const files = (await listAs<StoredFile>(keys.files())).map((x) => x.value).filter((f) => f.state === 'ready');
  let blocked = false;
  for (const f of files) {
    if (blocked) {
      out.waiting.push(waitingOf(f));
      continue;
    }
    const now = await platform.clock.now();
    // A wait longer than any back-off this device sets means its clock was set back since (date.set
    // from the practice computer, or by hand): the file is due now, not after the difference.
    const longestWait = isNetFailure(f.lastError) ? NET_RETRY_MAX_MS : BACKOFF_MAX_MS;
    if (!force && f.nextAttemptAt > now && f.nextAttemptAt - now <= longestWait) {
      out.waiting.push(waitingOf(f));
      blocked = true;
      continue;
    }
    let mail: MailMessage;
    try {
      mail = await fileMessage(f);
    } catch (err) {
      out.errors.push(`Fichier ${f.fileId} : construction impossible (${err instanceof Error ? err.message : 'erreur'})`);
      out.waiting.push(waitingOf(f));
      blocked = true;
      continue;
    }
    let reply: unknown;
    let failure: string | null = null;
    try {
      reply = await platform.net.send('amo-smtp', mail as never);
      const r = reply as { type?: unknown; accepted?: unknown };
      if (r?.type !== 'sent' || !Array.isArray(r.accepted) || r.accepted.length === 0) failure = 'destinataire refusé par le serveur';
    } catch (err) {
      failure = netError(err);
    }
    const at = await platform.clock.now();
    if (failure !== null) {
      const next = at + nextDelayMs(f.attempts, failure);
      const upd: StoredFile = { ...f, attempts: f.attempts + 1, nextAttemptAt: next, lastError: failure };
      if (isNetFailure(failure)) upd.offlineSince = f.offlineSince !== undefined && isNetFailure(f.lastError) ? f.offlineSince : at;
      else delete upd.offlineSince;
      await platform.store.transaction([put(keys.file(f.billingNumber, f.fileNo), upd)]);
      out.waiting.push(waitingOf(upd));
      blocked = true;
      continue;
    }
    const ops: StoreOp[] = [put(keys.file(f.billingNumber, f.fileNo), { ...f, state: 'sent', sentAt: at, attempts: f.attempts + 1 })];
    for (const n of f.lotNos) {
      const l = await getAs<StoredLot>(keys.lot(f.billingNumber, n));
      for (const no of l?.invoiceNos ?? []) {
        const r = await getAs<InvoiceRecord>(keys.invoice(f.billingNumber, no));
        // An ARL may already have arrived (a crash after the SMTP send): never move an invoice back.
        if (r && r.state === 'in-lot') ops.push(put(keys.invoice(f.billingNumber, no), withState(r, 'sent', at, f.fileId)));
      }
    }
    await platform.store.transaction(ops);
    out.sent.push(f.fileId);
  }
  return out;
}

export interface TransmitResult {
  ok: boolean;
  lotsBuilt: number;
  filesSent: string[];
  filesWaiting: SendOutcome['waiting'];
  errors: string[];
}

/** (1) lots for the current situation's billing number, (2) files, (3) send what is due. */
export async function transmit(force: boolean, today: IsoDate): Promise<TransmitResult> {
  const errors: string[] = [];
  let lotsBuilt = 0;
  const s = currentSituation();
  const billings = new Set<string>();
  for (const k of await platform.store.list({ prefix: 'lot/' })) billings.add(billingOfKey(k));
  if (s) {
    const billing = billingEntity(s);
    billings.add(billing);
    const pending = (await securedInvoices(billing)).length + (await unsignedLots(billing)).length;
    if (pending > 0) {
      if (!s.canSignLot) errors.push('Situation sans droit de signer les lots : transmission des factures impossible');
      else if (!session.cps) errors.push('Insérez la carte CPS pour signer les lots');
      else {
        try {
          lotsBuilt = await buildLots(billing, today, (body) => cpsSignCms(body, false));
        } catch (err) {
          errors.push(err instanceof Error ? err.message : 'signature des lots impossible');
        }
      }
    }
  } else if ((await listAs<InvoiceRecord>(keys.invoices())).some((x) => awaitsDeviceLot(x.value))) {
    errors.push('Insérez la carte CPS pour constituer les lots des factures sécurisées');
  }
  for (const b of billings) {
    try {
      await buildFiles(b, today);
    } catch (err) {
      // A numbering limit (pipeline/numbering.ts) or a format error: said, and the rest still goes.
      errors.push(err instanceof Error ? err.message : 'constitution des fichiers impossible');
    }
  }
  const sent = await sendFiles(force);
  return { ok: errors.length === 0 && sent.errors.length === 0, lotsBuilt, filesSent: sent.sent, filesWaiting: sent.waiting, errors: [...errors, ...sent.errors] };
}
