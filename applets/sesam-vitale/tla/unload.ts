/**
 * `fse.unload` and `beneficiaries.unload` (host link): pages, in key order, of what the device holds
 * for the practice computer. The invoices listed are the 'secured' ones (signed, not in a lot, not
 * replaced) and those already held; the newly listed ones are marked `hostHeldAt` in ONE transaction
 * before the answer goes, so from then on they never go in a device lot. A cut after the answer is
 * harmless: the next unload lists them again (same bytes, no new state) until `erase`.
 * Vitale reads (`seen/…`) page the same way. Callers hold the lock.
 */
import type { BeneficiaryUnloadResult, HostLinkValue, InvoiceUnloadResult, UnloadedBeneficiaries, UnloadedInvoice } from '../../../platform/wire/hostlink.js';
import type { StoreOp } from '../../../platform/sdk/api.js';
import type { Beneficiary, Insured, InvoiceRecord } from '../model.js';
import { bad, int, obj, str, type Obj } from '../invoice/payload.js';
import { isHeld, withState } from '../pipeline/invoices.js';
import { keys, listAs, pad, put, toStored } from '../pipeline/keys.js';

export const PAGE_DEFAULT = 20;
export const PAGE_MAX = 50;
/** Bytes of signed content per page, well under the link's 4 MiB frame. */
export const PAGE_MAX_BYTES = 600 * 1024;
const ITEM_OVERHEAD_BYTES = 512;

export const INVOICE_REF = /^([0-9]{9})\/([0-9]{1,9})$/;
export const SEEN_REF = /^[0-9]{15}-[0-9A-Za-z]{1,32}$/;

/** `<billingNumber>/<invoiceNo>` -> the invoice's store key, or null when the ref is malformed. */
export function invoiceKeyOfRef(ref: string): string | null {
  const m = INVOICE_REF.exec(ref);
  if (!m) return null;
  const no = Number(m[2]);
  return no >= 1 ? keys.invoice(m[1]!, no) : null;
}

export function refOfInvoice(r: InvoiceRecord): string {
  return `${r.data.practitioner.billingNumber}/${r.data.invoiceNo}`;
}

/** The ref of a Vitale read (the part of its key after `seen/`). */
export function seenRef(readAt: number, serial: string): string {
  return `${pad(readAt, 15)}-${serial.replace(/[^0-9A-Za-z]/g, '').slice(0, 32) || '0'}`;
}

export interface SeenEntry {
  readAt: number;
  vitaleSerial: string;
  insured: Insured;
  beneficiaries: Beneficiary[];
  hostHeldAt?: number;
}

interface PageArgs {
  after?: string;
  max: number;
}

function pageArgs(args: Obj, ref: RegExp, what: string): PageArgs {
  const o = obj(args, '', ['after', 'max']);
  const out: PageArgs = { max: o.max === undefined ? PAGE_DEFAULT : int(o, 'max', '', 1, PAGE_MAX) };
  if (o.after !== undefined) out.after = str(o, 'after', '', ref, `after (${what})`);
  return out;
}

/** Unloadable: secured, signed, not in a lot, not replaced (held or not yet). */
export function unloadable(r: InvoiceRecord): boolean {
  return r.state === 'secured' && r.replacedBy === undefined && r.record !== undefined && r.cpsSignature !== undefined;
}

function invoiceItem(r: InvoiceRecord): UnloadedInvoice {
  const d = r.data;
  const it: UnloadedInvoice = {
    ref: refOfInvoice(r),
    billingNumber: d.practitioner.billingNumber,
    invoiceNo: d.invoiceNo,
    kind: d.kind,
    destination: r.destination,
    careDate: d.careDate,
    createdAt: d.createdAt,
    deadline: r.deadline,
    amo: d.pricing.totals.amo,
    amc: d.pricing.totals.amc,
    record: r.record!,
    cpsSignature: r.cpsSignature!,
  };
  if (r.vitaleAuth) it.vitaleAuth = r.vitaleAuth;
  if (r.vitaleCertDer) it.vitaleCertDer = r.vitaleCertDer;
  return it;
}

function itemBytes(r: InvoiceRecord): number {
  return (r.record?.length ?? 0) + (r.cpsSignature?.length ?? 0) + (r.vitaleAuth?.length ?? 0) + (r.vitaleCertDer?.length ?? 0) + ITEM_OVERHEAD_BYTES;
}

/** How one kind of unloaded value is paged and marked held. */
interface Unloadable<T> {
  eligible: (v: T) => boolean;
  bytes: (v: T) => number;
  held: (v: T) => boolean;
  /** The value as held from `now` on. */
  mark: (v: T, now: number) => T;
}

/**
 * One page, in key order after `afterKey`, of the values under `prefix`, all read once: eligible
 * values until `max` or the byte budget, whether another eligible one follows, and how many are
 * held once this page's new ones are marked (in ONE transaction, before the answer leaves).
 */
async function unloadPage<T>(prefix: string, afterKey: string | null, max: number, u: Unloadable<T>): Promise<{ items: Array<{ key: string; value: T }>; more: boolean; held: number }> {
  const all = await listAs<T>(prefix);
  const items: Array<{ key: string; value: T }> = [];
  let used = 0;
  let more = false;
  for (const x of all) {
    if ((afterKey !== null && x.key <= afterKey) || !u.eligible(x.value)) continue;
    const b = u.bytes(x.value);
    if (items.length >= max || (items.length > 0 && used + b > PAGE_MAX_BYTES)) {
      more = true;
      break;
    }
    items.push(x);
    used += b;
  }
  const now = await platform.clock.now();
  const ops: StoreOp[] = items.filter((x) => !u.held(x.value)).map((x) => put(x.key, u.mark(x.value, now)));
  if (ops.length > 0) await platform.store.transaction(ops);
  return { items, more, held: all.filter((x) => u.held(x.value)).length + ops.length };
}

export async function unloadInvoices(args: Obj): Promise<InvoiceUnloadResult> {
  const a = pageArgs(args, INVOICE_REF, 'référence <facturation>/<n° de facture>');
  const afterKey = a.after === undefined ? null : invoiceKeyOfRef(a.after);
  if (a.after !== undefined && afterKey === null) bad('after', 'after : référence de facture invalide');
  // Marked before the answer leaves: from now on these never go in a device lot.
  const { items, more, held } = await unloadPage<InvoiceRecord>(keys.invoices(), afterKey, a.max, {
    eligible: unloadable,
    bytes: itemBytes,
    held: isHeld,
    mark: (r, now) => ({ ...withState(r, 'secured', now, 'déchargée vers l’ordinateur du cabinet'), hostHeldAt: now }),
  });
  const list = items.map((x) => invoiceItem(x.value));
  return { items: list, next: more && list.length > 0 ? list[list.length - 1]!.ref : null, held };
}

function seenBytes(e: SeenEntry): number {
  return JSON.stringify(e).length + ITEM_OVERHEAD_BYTES;
}

export async function unloadBeneficiaries(args: Obj): Promise<BeneficiaryUnloadResult> {
  const a = pageArgs(args, SEEN_REF, 'référence de lecture Vitale');
  const afterKey = a.after === undefined ? null : keys.seen(a.after);
  const { items, more, held } = await unloadPage<SeenEntry>(keys.seens(), afterKey, a.max, {
    eligible: () => true,
    bytes: seenBytes,
    held: (e) => e.hostHeldAt !== undefined,
    mark: (e, now) => ({ ...e, hostHeldAt: now }),
  });
  const list: UnloadedBeneficiaries[] = items.map((x) => ({
    ref: x.key.slice(keys.seens().length),
    readAt: x.value.readAt,
    vitaleSerial: x.value.vitaleSerial,
    insured: toStored(x.value.insured) as { [k: string]: HostLinkValue },
    beneficiaries: x.value.beneficiaries.map((b) => toStored(b) as { [k: string]: HostLinkValue }),
  }));
  return { items: list, next: more && list.length > 0 ? list[list.length - 1]!.ref : null, held };
}
