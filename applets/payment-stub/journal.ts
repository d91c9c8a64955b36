/**
 * The transaction journal in the domain store: one key per transaction (`tx/<ref>`), written before
 * the authorization leaves and updated after, so an acknowledged payment survives a crash of the
 * applet or the host. Entries hold only what the receipts show (masked PAN), never the PAN, track 2,
 * cryptograms or the PIN; an offline approval's clearing record (PAN, TC) is kept apart under
 * `clearing/<ref>` until the batch hands it to the acquirer, then deleted.
 */
import type { Transferable } from '../../platform/sdk/api.js';
import { TERMINAL_ID } from './terminal.js';

export type TxStatus = 'approved' | 'declined' | 'cancelled' | 'error';

export interface JournalEntry {
  ref: string;
  kind: 'debit' | 'reversal';
  /** The merchant's reference from the charge intent. */
  reference: string;
  amount: number;
  currency: number;
  date: string;
  time: string;
  /** Where the transaction stands: 'started' → ... → 'done'. An entry left at 'authorizing' was interrupted. */
  stage: string;
  status?: TxStatus;
  reason?: string;
  maskedPan?: string;
  aid?: string;
  label?: string;
  authCode?: string;
  responseCode?: string;
  online?: boolean;
  tvr?: string;
  tsi?: string;
  cvmResults?: string;
  cryptogramType?: string;
  oda?: string;
  originalRef?: string;
  reversed?: boolean;
  batched?: boolean;
  receipts?: { merchant: string[]; cardholder: string[] };
  updatedAt: number;
}

const TX_PREFIX = 'tx/';
const LAST_KEY = 'journal/last';
const SEQ_KEY = 'journal/seq';
export const RECEIPT_KEY = 'receipt/last';

export async function nextRef(date: string): Promise<string> {
  const cur = await platform.store.get(SEQ_KEY);
  const seq = (typeof cur === 'number' ? cur : 0) + 1;
  await platform.store.put(SEQ_KEY, seq);
  return `${TERMINAL_ID}-${date}-${String(seq).padStart(6, '0')}`;
}

function toStored(e: JournalEntry): Transferable {
  const out: { [k: string]: Transferable } = {};
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v as Transferable;
  return out;
}

export async function writeEntry(e: JournalEntry): Promise<void> {
  e.updatedAt = await platform.clock.now();
  const ops: Array<{ op: 'put'; key: string; value: Transferable }> = [{ op: 'put', key: TX_PREFIX + e.ref, value: toStored(e) }];
  if (e.kind === 'debit') ops.push({ op: 'put', key: LAST_KEY, value: e.ref });
  if (e.receipts) ops.push({ op: 'put', key: RECEIPT_KEY, value: { ref: e.ref, merchant: e.receipts.merchant, cardholder: e.receipts.cardholder } });
  await platform.store.transaction(ops);
}

export async function readEntry(ref: string): Promise<JournalEntry | undefined> {
  const v = await platform.store.get(TX_PREFIX + ref);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  return v as unknown as JournalEntry;
}

export async function lastDebitRef(): Promise<string | undefined> {
  const v = await platform.store.get(LAST_KEY);
  return typeof v === 'string' ? v : undefined;
}

export async function allEntries(): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  let keys = await platform.store.list({ prefix: TX_PREFIX, limit: 10_000 });
  keys = keys.sort();
  for (const k of keys) {
    const e = await readEntry(k.slice(TX_PREFIX.length));
    if (e) out.push(e);
  }
  return out;
}

/** What the acquirer needs to settle an offline approval: the TC and the data it was computed over. */
export interface ClearingRecord {
  amount: number;
  pan: string;
  psn: number;
  atc: Uint8Array;
  tc: Uint8Array;
  acInput: Uint8Array;
}

const CLEARING_PREFIX = 'clearing/';

export async function saveClearing(ref: string, r: ClearingRecord): Promise<void> {
  await platform.store.put(CLEARING_PREFIX + ref, { ...r });
}

export async function loadClearing(ref: string): Promise<ClearingRecord | null> {
  const v = await platform.store.get(CLEARING_PREFIX + ref);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return null;
  const o = v as { [k: string]: Transferable };
  if (typeof o.amount !== 'number' || typeof o.pan !== 'string' || typeof o.psn !== 'number') return null;
  if (!(o.atc instanceof Uint8Array) || !(o.tc instanceof Uint8Array) || !(o.acInput instanceof Uint8Array)) return null;
  return { amount: o.amount, pan: o.pan, psn: o.psn, atc: o.atc, tc: o.tc, acInput: o.acInput };
}

/** Once the acquirer has the offline approval, the terminal keeps no card data for it. */
export async function dropClearing(ref: string): Promise<void> {
  await platform.store.delete(CLEARING_PREFIX + ref);
}
