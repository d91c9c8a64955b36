/**
 * `erase` (host link): what the practice computer has stored durably. Only what it unloaded can be
 * erased: a held invoice becomes 'unloaded' (terminal for the device: the computer transmits it) and
 * loses its bytes (record, signatures, card certificate), keeping its data for the status; a held
 * Vitale read is deleted, leaving a tombstone. Anything erased before counts in `already` (a
 * repeated erase after a cut); anything else is refused with the reason. All in ONE transaction.
 * Callers hold the lock.
 */
import type { EraseResult } from '../../../platform/wire/hostlink.js';
import type { StoreOp } from '../../../platform/sdk/api.js';
import type { InvoiceRecord } from '../model.js';
import { bad, obj, type Obj } from '../invoice/payload.js';
import { isHeld, withState } from '../pipeline/invoices.js';
import { getAs, keys, put } from '../pipeline/keys.js';
import { INVOICE_REF, invoiceKeyOfRef, SEEN_REF, type SeenEntry } from './unload.js';

export const MAX_ERASE_REFS = 1000;

function refs(o: Obj, k: string, re: RegExp): string[] {
  const v = o[k];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_ERASE_REFS) bad(k, `${k} : liste de ${MAX_ERASE_REFS} références au plus attendue`);
  v.forEach((x, i) => {
    if (typeof x !== 'string' || !re.test(x)) bad(`${k}[${i}]`, `${k}[${i}] : référence invalide`);
  });
  return [...new Set(v as string[])];
}

/** A held invoice as erased: state 'unloaded', no bytes, a history note. */
export function erased(r: InvoiceRecord, at: number): InvoiceRecord {
  const out: InvoiceRecord = withState(r, 'unloaded', at, 'effacée de l’appareil : transmise par l’ordinateur du cabinet');
  delete out.record;
  delete out.cpsSignature;
  delete out.vitaleAuth;
  delete out.vitaleCertDer;
  return out;
}

export async function erase(args: Obj): Promise<EraseResult> {
  const o = obj(args, '', ['invoices', 'beneficiaries']);
  const invoices = refs(o, 'invoices', INVOICE_REF);
  const bens = refs(o, 'beneficiaries', SEEN_REF);
  const now = await platform.clock.now();
  const out: EraseResult = { erased: { invoices: 0, beneficiaries: 0 }, already: { invoices: 0, beneficiaries: 0 }, refused: [] };
  const ops: StoreOp[] = [];
  for (const ref of invoices) {
    const key = invoiceKeyOfRef(ref);
    const r = key === null ? undefined : await getAs<InvoiceRecord>(key);
    if (key === null || !r) out.refused.push({ ref, reason: 'facture inconnue sur cet appareil' });
    else if (r.state === 'unloaded') out.already.invoices++;
    else if (isHeld(r)) {
      ops.push(put(key, erased(r, now)));
      out.erased.invoices++;
    } else out.refused.push({ ref, reason: r.state === 'secured' ? 'facture jamais déchargée : déchargez-la d’abord' : `facture dans l’état « ${r.state} » : elle n’est pas à l’ordinateur` });
  }
  for (const ref of bens) {
    const e = await getAs<SeenEntry>(keys.seen(ref));
    if (e === undefined) {
      if ((await platform.store.get(keys.seenErased(ref))) !== undefined) out.already.beneficiaries++;
      else out.refused.push({ ref, reason: 'lecture Vitale inconnue sur cet appareil (ou purgée après 30 jours)' });
    } else if (e.hostHeldAt === undefined) out.refused.push({ ref, reason: 'lecture Vitale jamais déchargée : déchargez-la d’abord' });
    else {
      ops.push({ op: 'delete', key: keys.seen(ref) }, put(keys.seenErased(ref), { readAt: e.readAt, erasedAt: now }));
      out.erased.beneficiaries++;
    }
  }
  if (ops.length > 0) await platform.store.transaction(ops);
  return out;
}
