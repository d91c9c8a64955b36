/**
 * The practitioner's overview: invoices by state, what is left to secure, lots and files pending,
 * deadlines (late first), rejects to redo and payments received. "Today" is the UTC date of
 * platform.clock.now(): the device has no time zone setting, so near midnight in France the date
 * can be one day off (documented; deadlines are counted in whole working days anyway).
 */
import type { InvoiceRecord, InvoiceState, IsoDate } from '../model.js';
import { addDays } from '../rules/dates.js';
import { getAs, keys, listAs } from './keys.js';
import type { StoredFile, StoredLot } from './lots.js';
import { isNetFailure } from './transmit.js';
import { awaitsDeviceLot, isHeld } from './invoices.js';
import type { PaymentRecord } from './payment.js';

export const STATES: InvoiceState[] = ['created', 'secured', 'in-lot', 'sent', 'arl-positive', 'arl-negative', 'paid', 'rejected', 'unloaded'];
/** Not yet gone to the AMO: the transmission deadline still applies. */
const UNSENT: ReadonlySet<InvoiceState> = new Set(['created', 'secured', 'in-lot']);
export const DUE_SOON_DAYS = 2;

export function todayUtc(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface StatusResult {
  ok: true;
  today: IsoDate;
  byState: Record<InvoiceState, number>;
  toSecure: number[];
  lotsPending: number;
  filesWaiting: Array<{ fileId: string; attempts: number; lastError?: string; nextAttemptAt: number }>;
  late: Array<{ invoiceNo: number; deadline: IsoDate }>;
  dueToday: Array<{ invoiceNo: number; deadline: IsoDate }>;
  dueSoon: Array<{ invoiceNo: number; deadline: IsoDate }>;
  rejectsToRedo: Array<{ invoiceNo: number; code: string; text: string; source: 'ARL' | 'RSP' }>;
  paid: { count: number; amount: number };
  /** Patient parts taken by card (fse.pay), by outcome; `pending` ones were cut by a crash. */
  payments: { approved: number; declined: number; pending: number; amount: number };
  /** Portable mode: what waits on the device for the network, and the nearest deadline among it. */
  portable: PortableStatus;
  /** Host link: secured invoices unloaded by the practice computer, not yet erased (it transmits them). */
  heldForHost: number;
}

export interface PortableStatus {
  /** The oldest waiting file's last failure was "no network" (E_NET). */
  offline: boolean;
  /** Clock ms of the first failure for want of network, when offline. */
  since?: number;
  /** Files built and not yet sent. */
  filesWaiting: number;
  /** Invoices the device still has to send: secured (not held for the computer) or in a lot not yet sent. */
  invoicesWaiting: number;
  /** The earliest transmission deadline among them (may be past: late), or null. */
  nextDeadline: IsoDate | null;
}

/** A waiting file whose last attempt failed for want of network (the first waiting one says "offline"). */
export function failedForNetwork(f: { attempts: number; lastError?: string }): boolean {
  return f.attempts > 0 && isNetFailure(f.lastError);
}

/**
 * Whether the device is out of network (portable mode), from the files only: cheaper than
 * computeStatus for callers that need the invoices' deadlines only when it is (the home screen).
 */
export async function deviceOffline(): Promise<boolean> {
  for (const key of await platform.store.list({ prefix: keys.files() })) {
    const f = await getAs<StoredFile>(key);
    if (f?.state === 'ready') return failedForNetwork(f);
  }
  return false;
}

export async function computeStatus(today: IsoDate): Promise<StatusResult> {
  const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<InvoiceState, number>;
  const out: StatusResult = { ok: true, today, byState, toSecure: [], lotsPending: 0, filesWaiting: [], late: [], dueToday: [], dueSoon: [], rejectsToRedo: [], paid: { count: 0, amount: 0 }, payments: { approved: 0, declined: 0, pending: 0, amount: 0 }, portable: { offline: false, filesWaiting: 0, invoicesWaiting: 0, nextDeadline: null }, heldForHost: 0 };
  const soon = addDays(today, DUE_SOON_DAYS);
  for (const { value: r } of await listAs<InvoiceRecord>(keys.invoices())) {
    byState[r.state] = (byState[r.state] ?? 0) + 1;
    const no = r.data.invoiceNo;
    if (r.state === 'created') out.toSecure.push(no);
    if (isHeld(r)) out.heldForHost++;
    if (awaitsDeviceLot(r) || r.state === 'in-lot') {
      out.portable.invoicesWaiting++;
      if (out.portable.nextDeadline === null || r.deadline < out.portable.nextDeadline) out.portable.nextDeadline = r.deadline;
    }
    if (UNSENT.has(r.state)) {
      if (r.deadline < today) out.late.push({ invoiceNo: no, deadline: r.deadline });
      else if (r.deadline === today) out.dueToday.push({ invoiceNo: no, deadline: r.deadline });
      else if (r.deadline <= soon) out.dueSoon.push({ invoiceNo: no, deadline: r.deadline });
    }
    if ((r.state === 'arl-negative' || r.state === 'rejected') && r.replacedBy === undefined && r.reject) out.rejectsToRedo.push({ invoiceNo: no, ...r.reject });
    if (r.state === 'paid' && r.paid) {
      out.paid.count++;
      out.paid.amount += r.paid.amount;
    }
  }
  out.late.sort((a, b) => (a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : a.invoiceNo - b.invoiceNo));
  for (const { value: l } of await listAs<StoredLot>(keys.lots())) if (l.signed.length === 0 || l.fileNo === undefined) out.lotsPending++;
  for (const { value: f } of await listAs<StoredFile>(keys.files())) {
    if (f.state !== 'ready') continue;
    // Files go in order: the first waiting one says whether the device is out of network.
    if (out.portable.filesWaiting === 0 && failedForNetwork(f)) {
      out.portable.offline = true;
      out.portable.since = f.offlineSince ?? f.nextAttemptAt;
    }
    out.portable.filesWaiting++;
    out.filesWaiting.push({ fileId: f.fileId, attempts: f.attempts, nextAttemptAt: f.nextAttemptAt, ...(f.lastError ? { lastError: f.lastError } : {}) });
  }
  for (const { value: p } of await listAs<PaymentRecord>(keys.pays())) {
    if (p.status === 'approved') {
      out.payments.approved++;
      out.payments.amount += p.amount;
    } else if (p.status === 'pending') out.payments.pending++;
    else out.payments.declined++;
  }
  return out;
}
