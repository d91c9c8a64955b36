/**
 * FSE and DRE creation and securing. The order is what makes a crash harmless:
 *   1. ONE transaction: invoice counter + 1 and the record in state 'created' with its encoding;
 *   2. Vitale INTERNAL AUTHENTICATE over SHA-256(record) (not in degraded mode);
 *   3. CPS CMS signature (detached) over the record; the DRE, if any, encoded and signed too;
 *   4. ONE transaction: FSE 'secured' + the DRE (its own number, allocated here) 'secured'.
 * A crash before 1 leaves nothing; between 1 and 4 an invoice 'created' that onStart lists as
 * "à sécuriser" (it is never sent unsigned); after 4 the result is the acknowledgement.
 * Callers hold the lock (pipeline/lock.ts).
 */
import type { ActInput, InvoiceData, InvoiceRecord, InvoiceState, IsoDate, Totals } from '../model.js';
import { buildDre, buildInvoice, InvoiceError } from '../invoice/build.js';
import { TariffError } from '../tariff/errors.js';
import type { InvoiceInput } from '../invoice/validate.js';
import { encodeInvoice } from '../formats/invoice.js';
import { ActionError, cpsSignCms, readyCps, vitaleAuth } from '../session.js';
import { euros, frBirth, frDate } from '../screens.js';
import { getAs, keys, put } from './keys.js';
import { allocate, counterOp, readCounters } from './numbering.js';

export interface IssueLike {
  field: string;
  code: string;
  message: string;
}

/** Validation refusals (InvoiceError carries the issues; a TariffError escaping is one issue). */
export class InvalidInvoice extends Error {
  constructor(readonly issues: IssueLike[]) {
    super(issues[0]?.message ?? 'facture invalide');
    this.name = 'InvalidInvoice';
  }
}

function asIssues(err: unknown): IssueLike[] | null {
  if (err instanceof InvoiceError) return err.issues.map((i) => ({ field: i.field, code: i.code, message: i.message }));
  if (err instanceof TariffError) return [{ field: err.field, code: err.code, message: err.message }];
  return null;
}

/** What the patient pays at the desk: everything not under tiers payant. */
export function patientToPay(d: InvoiceData): number {
  const t: Totals = d.pricing.totals;
  return t.charged - (d.context.tiersPayantAmo ? t.amo : 0) - (d.context.tiersPayantAmc ? t.amc : 0);
}

export function withState(r: InvoiceRecord, state: InvoiceState, at: number, note?: string): InvoiceRecord {
  return { ...r, state, history: [...r.history, note ? { state, at, note } : { state, at }] };
}

/** Held for the practice computer: unloaded over the host link (tla/unload.ts), not yet erased. */
export function isHeld(r: InvoiceRecord): boolean {
  return r.state === 'secured' && r.hostHeldAt !== undefined;
}

/** Secured, not replaced and not held: the device puts it in a lot of its own. */
export function awaitsDeviceLot(r: InvoiceRecord): boolean {
  return r.state === 'secured' && r.replacedBy === undefined && r.hostHeldAt === undefined;
}

export async function loadInvoice(billing: string, no: number): Promise<InvoiceRecord | undefined> {
  return getAs<InvoiceRecord>(keys.invoice(billing, no));
}

export interface Secured {
  invoiceNo: number;
  dreNo?: number;
  totals: Totals;
  deadline: IsoDate;
  patientToPay: number;
  degraded: boolean;
}

export async function createAndSecure(o: { input: InvoiceInput; today: IsoDate; correctedFrom?: number; vitaleSerial?: string }): Promise<Secured> {
  const billing = o.input.practitioner.billingNumber;
  const now = await platform.clock.now();
  const c = await readCounters(billing);
  const invoiceNo = allocate(c, 'invoice');
  let built: ReturnType<typeof buildInvoice>;
  try {
    built = buildInvoice(o.input, o.correctedFrom !== undefined ? { invoiceNo, correctedFrom: o.correctedFrom } : { invoiceNo }, o.today);
  } catch (err) {
    const issues = asIssues(err);
    if (issues) throw new InvalidInvoice(issues);
    throw err;
  }
  const data: InvoiceData = { ...built.data };
  // The invoice carries the serial of the card that authenticates it (buildInvoice cannot know it).
  if (!data.degraded && o.vitaleSerial !== undefined) data.vitaleSerial = o.vitaleSerial;
  const record = encodeInvoice(data);
  let rec: InvoiceRecord = { data, state: 'created', history: [{ state: 'created', at: now }], destination: built.destination, deadline: built.deadline, record };
  const ops = [counterOp(billing, c), put(keys.invoice(billing, invoiceNo), rec)];
  if (o.correctedFrom !== undefined) {
    const old = await loadInvoice(billing, o.correctedFrom);
    if (!old) throw new ActionError('E_UNKNOWN', `Facture n° ${o.correctedFrom} inconnue`, 'invoiceNo');
    // Marked in the same transaction: a second correction of the same invoice is refused from now on.
    ops.push(put(keys.invoice(billing, o.correctedFrom), { ...old, replacedBy: invoiceNo }));
  }
  // The CPS must be able to sign before a number is spent (a blocked card would leave one behind).
  await readyCps();
  await platform.store.transaction(ops);
  return secureStored(billing, rec);
}

/**
 * Steps 2 to 4 for a stored 'created' record: also how an invoice a crash left unsigned is secured
 * later (fse.secure), with the same number and bytes, by the same Vitale card.
 */
async function secureStored(billing: string, created: InvoiceRecord): Promise<Secured> {
  const data = created.data;
  const record = created.record;
  if (!record) throw new ActionError('E_STATE', `Facture n° ${data.invoiceNo} sans contenu : elle ne peut pas être sécurisée`, 'invoiceNo');
  let rec = created;
  if (!data.degraded) {
    const a = await vitaleAuth(await platform.crypto.digest('SHA-256', record), data.vitaleSerial);
    rec = { ...rec, vitaleAuth: a.auth, vitaleCertDer: a.certDer };
  }
  rec = { ...rec, cpsSignature: await cpsSignCms(record, true) };

  const ops = [];
  let dreNo: number | undefined;
  // Counters are read again: other invoices may have been numbered since this one.
  const c = await readCounters(billing);
  // A correction keeps the AMC part already on its way (one care, one DRE); a DRE not yet in a lot,
  // or rejected, is replaced by the new one. One held by the practice computer (unloaded, not yet
  // erased) is on its way too: the computer sends it, so a new one would be a second DRE.
  const previousDre = data.correctedFrom !== undefined ? await dreOf(billing, data.correctedFrom) : undefined;
  const keepPrevious =
    previousDre !== undefined && (isHeld(previousDre) || !['created', 'secured', 'arl-negative', 'rejected'].includes(previousDre.state));
  const dre = keepPrevious ? null : buildDre(data, c.invoice + 1);
  if (dre) {
    dreNo = allocate(c, 'invoice');
    const dreRecord = encodeInvoice(dre.data);
    const dreSig = await cpsSignCms(dreRecord, true);
    const at = await platform.clock.now();
    const dreRec: InvoiceRecord = {
      data: dre.data,
      state: 'secured',
      history: [{ state: 'created', at }, { state: 'secured', at }],
      destination: dre.destination,
      deadline: dre.deadline,
      record: dreRecord,
      cpsSignature: dreSig,
    };
    ops.push(counterOp(billing, c), put(keys.invoice(billing, dreNo), dreRec));
    if (previousDre) ops.push(put(keys.invoice(billing, previousDre.data.invoiceNo), { ...previousDre, replacedBy: dreNo }));
  }
  rec = withState(rec, 'secured', await platform.clock.now());
  // The FSE names its DRE (a kept one after a correction), so a later correction finds it in one read.
  const linkedDre = dreNo ?? (keepPrevious ? previousDre.data.invoiceNo : undefined);
  if (linkedDre !== undefined) rec = { ...rec, dreNo: linkedDre };
  ops.push(put(keys.invoice(billing, data.invoiceNo), rec));
  await platform.store.transaction(ops);
  const out: Secured = { invoiceNo: data.invoiceNo, totals: data.pricing.totals, deadline: rec.deadline, patientToPay: patientToPay(data), degraded: data.degraded };
  if (dreNo !== undefined) out.dreNo = dreNo;
  return out;
}

/** The live DRE split from FSE n° `fseNo`, if any (the FSE record names it). */
async function dreOf(billing: string, fseNo: number): Promise<InvoiceRecord | undefined> {
  const dreNo = (await loadInvoice(billing, fseNo))?.dreNo;
  const dre = dreNo === undefined ? undefined : await loadInvoice(billing, dreNo);
  return dre?.replacedBy === undefined ? dre : undefined;
}

/** fse.secure: an invoice left 'created' (numbered, never signed) by a crash or a removed card. */
export async function secureCreated(billing: string, invoiceNo: number): Promise<Secured> {
  const rec = await loadInvoice(billing, invoiceNo);
  if (!rec) throw new ActionError('E_UNKNOWN', `Facture n° ${invoiceNo} inconnue`, 'invoiceNo');
  if (rec.state !== 'created') throw new ActionError('E_STATE', `Facture n° ${invoiceNo} déjà sécurisée`, 'invoiceNo');
  return secureStored(billing, rec);
}


/** The paper duplicate of an invoice (printable, French); the NIR is printed in full, as on the form. */
export function duplicateLines(r: InvoiceRecord): string[] {
  const d = r.data;
  const p = d.practitioner;
  const b = d.beneficiary;
  const t = d.pricing.totals;
  const lines = [
    d.degraded ? 'DUPLICATA DE FEUILLE DE SOINS (SESAM DÉGRADÉ)' : `DUPLICATA ${d.kind} n° ${d.invoiceNo}`,
    `${d.kind} n° ${d.invoiceNo} du ${frDate(d.createdAt)}${d.correctedFrom ? ` (remplace n° ${d.correctedFrom})` : ''}`,
    `Praticien : ${p.prenom} ${p.nom}, n° de facturation ${p.billingNumber}`,
    `Assuré : NIR ${d.insured.nir}, régime ${d.insured.regime} caisse ${d.insured.caisse} centre ${d.insured.centre}`,
    `Bénéficiaire : ${b.usualName ?? b.surname} ${b.firstName}, né(e) le ${frBirth(b.birthDate)}, rang ${b.birthRank}`,
    `Nature : ${d.context.nature}${d.context.atNumber ? ` n° ${d.context.atNumber}` : ''}, parcours : ${d.context.parcours}`,
    ...d.pricing.lines.map(
      (l) => `${frDate(l.date)} ${l.code}${l.coefficient !== 1 ? ` x${l.coefficient}` : ''}${l.quantity !== 1 ? ` (${l.quantity})` : ''} : ${euros(l.charged)} (base ${euros(l.base)}, taux ${l.rate} %)`,
    ),
    `Total : ${euros(t.charged)} ; AMO ${euros(t.amo)} ; AMC ${euros(t.amc)} ; reste ${euros(t.patient)}`,
    `Participation forfaitaire : ${euros(t.participation)}`,
    `Tiers payant : AMO ${d.context.tiersPayantAmo ? 'oui' : 'non'}, AMC ${d.context.tiersPayantAmc ? 'oui' : 'non'}`,
    `Barème : ${d.pricing.tableVersion}`,
    'Signature de l’assuré :',
  ];
  return lines;
}
