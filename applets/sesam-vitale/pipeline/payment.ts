/**
 * The patient's share paid by card: an intent to the payment domain, which alone sees the card.
 * The outcome is stored under `pay/<billing>/<no>`; an approved payment is never asked twice. A
 * `pending` record is written before the card is asked, so a payment cut by a crash is not asked
 * again blindly: the practitioner checks the payment journal first and confirms the retry.
 * Callers hold the lock.
 */
import type { InvoiceRecord } from '../model.js';
import { ActionError } from '../session.js';
import { patientToPay } from './invoices.js';
import { getAs, keys, pad, put } from './keys.js';

export interface PaymentRecord {
  invoiceNo: number;
  amount: number;
  status: string;
  transactionRef: string;
  at: number;
}

export async function payInvoice(billing: string, invoiceNo: number, confirmRetry = false): Promise<PaymentRecord> {
  const inv = await getAs<InvoiceRecord>(keys.invoice(billing, invoiceNo));
  if (!inv || inv.data.kind !== 'FSE') throw new ActionError('E_UNKNOWN', `FSE n° ${invoiceNo} inconnue`, 'invoiceNo');
  if (inv.state === 'created') throw new ActionError('E_STATE', `FSE n° ${invoiceNo} pas encore sécurisée`, 'invoiceNo');
  if (inv.replacedBy !== undefined) throw new ActionError('E_STATE', `FSE n° ${invoiceNo} remplacée par la n° ${inv.replacedBy} : encaissez celle-ci`, 'invoiceNo');
  const previous = await getAs<PaymentRecord>(keys.pay(billing, invoiceNo));
  if (previous?.status === 'approved') throw new ActionError('E_PAID', `FSE n° ${invoiceNo} déjà réglée par carte`, 'invoiceNo');
  // One care, one payment: a correction is the same care under a new number.
  for (let no = inv.data.correctedFrom; no !== undefined; ) {
    if ((await getAs<PaymentRecord>(keys.pay(billing, no)))?.status === 'approved') {
      throw new ActionError('E_PAID', `Soins déjà réglés par carte sur la FSE n° ${no}, que la n° ${invoiceNo} corrige`, 'invoiceNo');
    }
    no = (await getAs<InvoiceRecord>(keys.invoice(billing, no)))?.data.correctedFrom;
  }
  if (previous?.status === 'pending' && !confirmRetry) {
    throw new ActionError('E_STATE', `Paiement de la FSE n° ${invoiceNo} interrompu : vérifiez le journal du paiement, puis relancez en confirmant`, 'confirmRetry');
  }
  const amount = patientToPay(inv.data);
  if (amount <= 0) throw new ActionError('E_AMOUNT', 'Rien à régler par le patient pour cette FSE', 'invoiceNo');
  const reference = `FSE${billing}${pad(invoiceNo, 9)}`;
  await platform.store.transaction([put(keys.pay(billing, invoiceNo), { invoiceNo, amount, status: 'pending', transactionRef: '', at: await platform.clock.now() })]);
  let status = 'error';
  let transactionRef = '';
  try {
    const r = await platform.intents.request('payment', { action: 'charge', amount, currency: 978, reference });
    const o = r as { status?: unknown; transactionRef?: unknown } | null;
    if (o && typeof o.status === 'string') status = o.status;
    if (o && typeof o.transactionRef === 'string') transactionRef = o.transactionRef;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    status = typeof code === 'string' ? `error:${code}` : 'error';
  }
  const rec: PaymentRecord = { invoiceNo, amount, status, transactionRef, at: await platform.clock.now() };
  await platform.store.transaction([put(keys.pay(billing, invoiceNo), rec)]);
  return rec;
}
