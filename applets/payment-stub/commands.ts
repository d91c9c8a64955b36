/**
 * Merchant operations outside a charge: cancel (reversal) of the last transaction and the daily
 * total sent to the acquirer (télécollecte). The payment policy only lets other domains ask for
 * `charge`, so these run from `main()` on a command left in the store by the terminal's own UI.
 */
import { allEntries, dropClearing, lastDebitRef, loadClearing, nextRef, readEntry, writeEntry, type JournalEntry } from './journal.js';
import { sendBatch, sendReversal, type OfflineItem } from './online.js';
import { buildReceipt } from './receipt.js';
import { screens } from './screens.js';
import { active } from './transaction.js';
import { formatAmount, localTime } from './util.js';

export interface CommandResult {
  [k: string]: string | number | boolean | string[];
  status: string;
}

/** Cancels the last approved debit at the acquirer (it was captured by the card as a TC already). */
export async function reverseLast(): Promise<CommandResult> {
  const last = await lastDebitRef();
  const original = last ? await readEntry(last) : undefined;
  if (!original || original.status !== 'approved') {
    await screens.message(['Annulation impossible', 'Pas de paiement accepté à annuler']);
    return { status: 'refused', reason: 'no approved last transaction' };
  }
  if (original.reversed) {
    await screens.message(['Annulation impossible', 'Paiement déjà annulé']);
    return { status: 'refused', reason: 'already reversed', originalRef: original.ref };
  }
  const lt = localTime(await platform.clock.now());
  const ref = await nextRef(lt.date);
  const entry: JournalEntry = { ref, kind: 'reversal', reference: original.reference, amount: original.amount, currency: 978, date: lt.date, time: lt.time, stage: 'sending', originalRef: original.ref, updatedAt: 0 };
  await writeEntry(entry);
  const reply = await sendReversal(ref, original.ref, original.amount);
  entry.stage = 'done';
  if (!reply) {
    Object.assign(entry, { status: 'error', reason: 'Acquéreur injoignable' });
    await writeEntry(entry);
    await screens.message(['Annulation impossible', 'Acquéreur injoignable']);
    return { status: 'error', transactionRef: ref, originalRef: original.ref };
  }
  entry.status = reply.accepted ? 'approved' : 'declined';
  if (reply.reason) entry.reason = reply.reason;
  if (reply.accepted) {
    original.reversed = true;
    const facts = {
      ref,
      dateText: `${lt.date.slice(4, 6)}/${lt.date.slice(2, 4)}/${lt.date.slice(0, 2)}`,
      timeText: `${lt.timeText}`,
      maskedPan: original.maskedPan ?? '',
      aid: original.aid ?? '',
      label: original.label ?? '',
      amount: original.amount,
      status: 'approved' as const,
      online: true,
      signature: false,
      kind: 'annulation' as const,
    };
    entry.maskedPan = original.maskedPan ?? '';
    entry.receipts = { merchant: buildReceipt(facts, 'merchant'), cardholder: buildReceipt(facts, 'cardholder') };
    await writeEntry(original);
  }
  await writeEntry(entry);
  await screens.message(reply.accepted ? ['Annulation acceptée', formatAmount(original.amount)] : ['Annulation refusée']);
  return { status: reply.accepted ? 'accepted' : 'refused', transactionRef: ref, originalRef: original.ref };
}

/**
 * The approved, not reversed, not yet collected debits, one batch per transaction date (the acquirer
 * settles per terminal and date). The result is that of the last batch sent, with every date listed.
 */
export async function batch(): Promise<CommandResult> {
  const pending = (await allEntries()).filter((e) => e.kind === 'debit' && e.status === 'approved' && !e.reversed && !e.batched);
  const today = localTime(await platform.clock.now()).date;
  const dates = [...new Set([...pending.map((e) => e.date), today])].sort();
  let result: CommandResult = { status: 'accepted', count: 0, total: 0 };
  const outcomes: string[] = [];
  for (const date of dates) {
    const entries = pending.filter((e) => e.date === date);
    if (entries.length === 0 && date !== today) continue;
    const count = entries.length;
    const total = entries.reduce((s, e) => s + e.amount, 0);
    const refs = entries.map((e) => e.ref);
    const offline: OfflineItem[] = [];
    for (const e of entries) {
      if (e.online) continue;
      const c = await loadClearing(e.ref);
      if (c) offline.push({ ref: e.ref, ...c });
    }
    const reply = await sendBatch(date, count, total, refs, offline);
    if (!reply) {
      await screens.message(['Télécollecte impossible', 'Acquéreur injoignable']);
      return { status: 'error', count, total, dates: outcomes };
    }
    if (reply.accepted) {
      for (const e of entries) {
        e.batched = true;
        await writeEntry(e);
        if (!e.online) await dropClearing(e.ref);
      }
    }
    await platform.store.put(`batch/${date}-${String(await platform.clock.now())}`, { date, count, total, refs, accepted: reply.accepted, acquirerCount: reply.acquirerCount, acquirerTotal: reply.acquirerTotal, differences: reply.differences });
    outcomes.push(`${date}:${reply.accepted ? 'accepted' : 'refused'}`);
    result = { status: reply.accepted ? 'accepted' : 'refused', count, total, acquirerCount: reply.acquirerCount, acquirerTotal: reply.acquirerTotal, differences: reply.differences };
    await screens.message([reply.accepted ? 'Télécollecte acceptée' : 'Télécollecte refusée', `${count} paiement(s)`, `Total : ${formatAmount(total)}`]);
  }
  return { ...result, dates: outcomes };
}

/**
 * After a crash or restart: a debit left between "authorization sent" and "done" may be approved at
 * the acquirer while the card never completed it. Such entries are closed as errors and reversed
 * (Book 4 §12: a terminal that cannot complete an authorized transaction sends a reversal).
 */
export async function recoverInterrupted(): Promise<CommandResult> {
  if (active.busy) return { status: 'busy', count: 0 };
  const stuck = (await allEntries()).filter((e) => e.kind === 'debit' && e.stage !== 'done' && e.stage !== 'reversal-pending');
  const pendingReversal = (await allEntries()).filter((e) => e.kind === 'debit' && e.stage === 'reversal-pending');
  const refs: string[] = [];
  for (const e of [...stuck, ...pendingReversal]) {
    const sent = e.stage === 'authorizing' || e.stage === 'authorized' || e.stage === 'unable-online' || e.stage === 'reversal-pending';
    e.status = 'error';
    e.reason = 'Transaction interrompue';
    if (sent) {
      const r = await sendReversal(`${e.ref}-R`, e.ref, e.amount);
      e.stage = r ? 'done' : 'reversal-pending';
      if (r?.accepted) e.reversed = true;
    } else {
      e.stage = 'done';
    }
    delete e.authCode;
    await writeEntry(e);
    refs.push(e.ref);
  }
  if (refs.length > 0) await platform.log('warn', 'interrupted transactions closed', { count: refs.length });
  return { status: 'recovered', count: refs.length, refs };
}
