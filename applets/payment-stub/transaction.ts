/**
 * One charge, end to end (EMV Book 3 §10 order): wait for the card, selection, GPO and records,
 * ODA, processing restrictions, cardholder verification, terminal risk management, terminal action
 * analysis, first GENERATE AC, online authorization and second GENERATE AC, completion. Every
 * failure becomes a status and a journal reason; the result carries no card data.
 */
import { toHex } from '../../platform/sdk/hex.js';
import type { Transferable } from '../../platform/sdk/api.js';
import { CardChannel } from './card.js';
import type { Tx } from './context.js';
import { cardholderVerification } from './cvm.js';
import { errorCode, TxError } from './errors.js';
import { saveClearing } from './journal.js';
import { acMacInput, defaultActionAnalysis, firstGenerateAc, secondGenerateAc, terminalActionAnalysis, type AcResponse } from './generate-ac.js';
import { checkMandatory, getProcessingOptions, parseAfl, readRecords } from './gpo-records.js';
import { nextRef, writeEntry, type JournalEntry, type TxStatus } from './journal.js';
import { loadCaKeys, authorize, sendReversal, type Authorization } from './online.js';
import { offlineDataAuthentication, type CaKey } from './oda.js';
import { buildReceipt } from './receipt.js';
import { processingRestrictions } from './restrictions.js';
import { terminalRiskManagement } from './risk.js';
import { screens } from './screens.js';
import { buildCandidates, choose, finalSelect, type Candidate } from './selection.js';
import { DEFAULT_PARAMS, type TerminalParams } from './terminal.js';
import { Tsi, Tvr } from './tvr.js';
import { formatAmount, localTime, maskPan } from './util.js';

export interface ChargeResult {
  status: TxStatus;
  transactionRef: string;
  authCode?: string;
}

/** The running transaction's card channel, so onCardRemoved can mark it. */
export const active: { channel: CardChannel | null; slot: number | null; busy: boolean } = { channel: null, slot: null, busy: false };

const PARAMS_KEY = 'terminal-params';

/** Terminal parameters: the defaults, overridden field by field by the store key `terminal-params`. */
export async function loadParams(): Promise<TerminalParams> {
  const p: TerminalParams = { ...DEFAULT_PARAMS };
  const v = await platform.store.get(PARAMS_KEY);
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    for (const k of Object.keys(p) as Array<keyof TerminalParams>) {
      const x = (v as { [k: string]: Transferable })[k];
      if (typeof x === 'number' && Number.isFinite(x) && x >= 0) p[k] = x;
    }
  }
  return p;
}

const RESPONSE_TEXT: Record<string, string> = {
  '05': 'Refusé par la banque',
  '51': 'Provision insuffisante',
  '54': 'Carte expirée',
  '55': 'Code faux',
  '91': 'Banque injoignable',
  A1: 'Cryptogramme invalide',
};

function validateRequest(payload: { [k: string]: Transferable }, params: TerminalParams): { amount: number; reference: string } | string {
  const { amount, currency, reference } = payload;
  if (currency !== 'EUR' && currency !== 978) return 'Devise non acceptée';
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) return 'Montant invalide';
  if (amount < params.minAmount) return `Montant minimum ${formatAmount(params.minAmount)}`;
  if (amount > params.maxAmount) return `Montant maximum ${formatAmount(params.maxAmount)}`;
  if (reference !== undefined && (typeof reference !== 'string' || reference.length > 64)) return 'Référence invalide';
  return { amount, reference: typeof reference === 'string' ? reference : '' };
}

type Waited = { slot: number } | 'cancelled' | 'timeout';

/** A card routed to this domain, polling between short "Annuler" questions. */
async function waitForCard(amount: number, waitMs: number): Promise<Waited> {
  const start = await platform.clock.now();
  for (;;) {
    const cards = await platform.slots.list();
    const card = cards.find((c) => c.cardClass === 'emv') ?? cards[0];
    if (card) return { slot: card.slot };
    const t0 = await platform.clock.now();
    if (t0 - start > waitMs) return 'timeout';
    const a = await platform.ui.ask({ title: 'Paiement', text: `Montant : ${formatAmount(amount)} - Insérez la carte`, choices: ['Annuler'], timeoutMs: 2000 });
    if (a.choice === 0) return 'cancelled';
    // The keypad's ANNULER key answers -1, like a timeout: tell them apart by how soon it came.
    if (a.choice < 0 && (await platform.clock.now()) - t0 < 1500) return 'cancelled';
  }
}

export async function charge(payload: { [k: string]: Transferable }): Promise<ChargeResult> {
  const params = await loadParams();
  const lt = localTime(await platform.clock.now());
  const ref = await nextRef(lt.date);
  const entry: JournalEntry = { ref, kind: 'debit', reference: '', amount: 0, currency: 978, date: lt.date, time: lt.time, stage: 'started', updatedAt: 0 };
  const valid = validateRequest(payload, params);
  if (typeof valid === 'string') {
    entry.amount = typeof payload.amount === 'number' && Number.isFinite(payload.amount) ? payload.amount : 0;
    Object.assign(entry, { stage: 'done', status: 'error', reason: valid });
    await writeEntry(entry);
    await screens.amountRefused(valid);
    await platform.log('info', 'charge refused before the card', { ref, reason: valid });
    return { status: 'error', transactionRef: ref };
  }
  if (active.busy) {
    Object.assign(entry, { amount: valid.amount, stage: 'done', status: 'error', reason: 'Terminal occupé' });
    await writeEntry(entry);
    return { status: 'error', transactionRef: ref };
  }
  active.busy = true;
  try {
    entry.amount = valid.amount;
    entry.reference = valid.reference;
    await writeEntry(entry);
    return await chargeWithCard(entry, params, lt);
  } finally {
    active.busy = false;
  }
}

async function chargeWithCard(entry: JournalEntry, params: TerminalParams, lt: ReturnType<typeof localTime>): Promise<ChargeResult> {
  const { ref, amount } = entry;
  await screens.insertCard(amount);
  const waited = await waitForCard(amount, params.cardWaitMs);
  if (waited === 'cancelled' || waited === 'timeout') {
    const reason = waited === 'cancelled' ? 'Annulé' : 'Pas de carte';
    await finish(entry, 'cancelled', reason, null);
    await screens.cancelled(reason);
    return { status: 'cancelled', transactionRef: ref };
  }
  let channel: CardChannel;
  try {
    channel = new CardChannel(await platform.slots.acquire(waited.slot, { timeoutMs: 5000 }));
  } catch (err) {
    await finish(entry, 'error', 'Carte indisponible', null);
    await screens.error('Carte indisponible');
    await platform.log('warn', 'card lease refused', { ref, code: errorCode(err) });
    return { status: 'error', transactionRef: ref };
  }
  active.channel = channel;
  active.slot = waited.slot;
  const tx: Tx = {
    ref,
    amount,
    date: lt.date,
    time: lt.time,
    params,
    channel,
    tvr: new Tvr(),
    tsi: new Tsi(),
    unpredictable: await platform.crypto.random(4),
    card: new Map(),
    odaRecords: [],
    odaDataBroken: false,
    cvmResults: Uint8Array.of(0x3f, 0x00, 0x00),
    signatureRequired: false,
    authorizationSent: false,
    extra: new Map(),
  };
  const state: RunState = { pan: null, auth: null };
  try {
    const r = await runEmv(tx, entry, state);
    return r;
  } catch (err) {
    return await failed(tx, entry, state, err);
  } finally {
    active.channel = null;
    active.slot = null;
    try {
      await channel.lease.release();
    } catch {
      // The card may be gone already; the lease ends with it.
    }
  }
}

interface RunState {
  pan: string | null;
  auth: Authorization | null;
}

async function runEmv(tx: Tx, entry: JournalEntry, state: RunState): Promise<ChargeResult> {
  await screens.reading(tx.amount);
  let { candidates } = await buildCandidates(tx.channel);
  let gpo: { aip: Uint8Array; afl: Uint8Array } | null = null;
  while (!gpo) {
    const c: Candidate = await choose(candidates);
    const sel = await finalSelect(tx.channel, c);
    candidates = candidates.filter((x) => x !== c);
    if (!sel) continue;
    tx.app = { terminal: c.terminal, adf: c.adf, label: c.label, ...(c.preferredName ? { preferredName: c.preferredName } : {}), fci: sel.fci };
    entry.aid = toHex(c.adf);
    entry.label = c.preferredName ?? c.label;
    gpo = await getProcessingOptions(tx);
  }
  const { aip } = gpo;
  tx.card.set(0x82, aip);
  await readRecords(tx, parseAfl(gpo.afl));
  const { pan, psn, expiry } = checkMandatory(tx);
  state.pan = pan;
  entry.maskedPan = maskPan(pan);
  entry.stage = 'read';
  await screens.processing(tx.amount, entry.label ?? '');

  let caCache: CaKey[] | null = null;
  const oda = await offlineDataAuthentication(tx, aip, pan, async () => (caCache ??= await loadCaKeys()));
  entry.oda = `${oda.method}:${oda.ok ? 'ok' : 'failed'}${oda.reason ? ` (${oda.reason})` : ''}`;
  processingRestrictions(tx, expiry);
  await cardholderVerification(tx, aip);
  if (tx.signatureRequired) await screens.signature();
  await terminalRiskManagement(tx);
  const decision = terminalActionAnalysis(tx);
  await screens.processing(tx.amount, entry.label ?? '');
  const first = await firstGenerateAc(tx, decision);
  entry.cryptogramType = first.type;

  if (first.type === 'TC') {
    // An offline approval is settled at the batch: the clearing record (PAN and TC, which never leave
    // this domain except to the acquirer) is kept until the acquirer has accepted it.
    await saveClearing(entry.ref, { amount: tx.amount, pan, psn, atc: first.atc, tc: first.cryptogram, acInput: acMacInput(first, aip) });
    return complete(tx, entry, 'approved', undefined, false);
  }
  if (first.type === 'AAC') return complete(tx, entry, 'declined', declineReason(tx, first), false);

  // ARQC: online authorization. The journal says so before the message leaves.
  entry.stage = 'authorizing';
  entry.online = true;
  snapshot(tx, entry);
  await writeEntry(entry);
  await screens.online(tx.amount);
  tx.authorizationSent = true;
  const auth = await authorize({
    ref: tx.ref,
    amount: tx.amount,
    date: tx.date,
    pan,
    psn,
    atc: first.atc,
    arqc: first.cryptogram,
    acInput: acMacInput(first, aip),
    cvmResults: tx.cvmResults,
    tvr: tx.tvr.bytes.slice(),
    expiry,
  });
  state.auth = auth;
  let requested: 'TC' | 'AAC';
  if (auth) {
    entry.responseCode = auth.responseCode;
    if (auth.authCode && auth.responseCode === '00') entry.authCode = auth.authCode;
    entry.stage = 'authorized';
    await writeEntry(entry);
    tx.extra.set(0x8a, auth.arc);
    if (auth.issuerAuthData) {
      tx.extra.set(0x91, auth.issuerAuthData);
      tx.tsi.set('issuerAuthPerformed');
    }
    requested = auth.responseCode === '00' ? 'TC' : 'AAC';
  } else {
    entry.stage = 'unable-online';
    await writeEntry(entry);
    requested = defaultActionAnalysis(tx);
    tx.extra.set(0x8a, Uint8Array.from(requested === 'TC' ? 'Y3' : 'Z3', (c) => c.charCodeAt(0)));
  }
  const second = await secondGenerateAc(tx, requested);
  entry.cryptogramType = `${first.type}/${second.type}`;
  if (second.reason === 3) tx.tvr.set('issuerAuthFailed');
  if (second.type === 'TC') return complete(tx, entry, 'approved', undefined, true);
  let why: string;
  if (!auth) why = 'Autorisation impossible';
  else if (auth.responseCode !== '00') why = RESPONSE_TEXT[auth.responseCode] ?? `Refusé (${auth.responseCode})`;
  else {
    // The issuer said yes, the card said no (e.g. issuer authentication failed): undo at the acquirer.
    why = 'Refusé par la carte';
    await autoReversal(entry);
  }
  delete entry.authCode;
  return complete(tx, entry, 'declined', why, true);
}

function declineReason(tx: Tx, ac: AcResponse): string {
  if (ac.reason === 2 || tx.tvr.has('pinTryLimitExceeded')) return 'Carte bloquée';
  if (tx.tvr.has('expired')) return 'Carte expirée';
  return 'Refusé par la carte';
}

function snapshot(tx: Tx, entry: JournalEntry): void {
  entry.tvr = tx.tvr.hex();
  entry.tsi = tx.tsi.hex();
  entry.cvmResults = toHex(tx.cvmResults);
}

async function complete(tx: Tx, entry: JournalEntry, status: 'approved' | 'declined', reason: string | undefined, online: boolean): Promise<ChargeResult> {
  entry.online = online;
  snapshot(tx, entry);
  await finish(entry, status, reason, tx);
  if (status === 'approved') await screens.approved(tx.amount, entry.authCode);
  else await screens.declined(tx.amount, reason);
  await platform.log('info', 'charge done', { ref: entry.ref, status, online, cryptogram: entry.cryptogramType ?? '', tvr: entry.tvr ?? '' });
  return { status, transactionRef: entry.ref, ...(entry.authCode ? { authCode: entry.authCode } : {}) };
}

async function finish(entry: JournalEntry, status: TxStatus, reason: string | undefined, tx: Tx | null): Promise<void> {
  entry.status = status;
  entry.stage = 'done';
  if (reason) entry.reason = reason;
  if (entry.maskedPan) {
    const facts = {
      ref: entry.ref,
      dateText: `${entry.date.slice(4, 6)}/${entry.date.slice(2, 4)}/${entry.date.slice(0, 2)}`,
      timeText: `${entry.time.slice(0, 2)}:${entry.time.slice(2, 4)}:${entry.time.slice(4, 6)}`,
      maskedPan: entry.maskedPan,
      aid: entry.aid ?? '',
      label: entry.label ?? '',
      amount: entry.amount,
      status,
      online: entry.online === true,
      signature: tx?.signatureRequired === true,
      ...(entry.authCode ? { authCode: entry.authCode } : {}),
      ...(reason ? { reason } : {}),
    };
    entry.receipts = { merchant: buildReceipt(facts, 'merchant'), cardholder: buildReceipt(facts, 'cardholder') };
  }
  await writeEntry(entry);
}

async function autoReversal(entry: JournalEntry): Promise<void> {
  const r = await sendReversal(`${entry.ref}-R`, entry.ref, entry.amount);
  entry.reversed = r?.accepted === true;
  await platform.log('warn', 'authorization reversed after the card declined', { ref: entry.ref, accepted: r?.accepted ?? false });
}

async function failed(tx: Tx, entry: JournalEntry, state: RunState, err: unknown): Promise<ChargeResult> {
  let kind = err instanceof TxError ? err.kind : 'terminal';
  let screen = err instanceof TxError ? err.screen : 'Erreur du terminal';
  let detail = err instanceof TxError ? err.detail : `unexpected failure (${errorCode(err)})`;
  if (!(err instanceof TxError) && tx.channel.removed) {
    kind = 'removed';
    screen = 'Carte retirée';
    detail = 'card removed during the transaction';
  }
  // Cancelled until an authorization left; after that, the acquirer may hold an approval to undo.
  const status: TxStatus = (kind === 'removed' || kind === 'cancelled') && !tx.authorizationSent ? 'cancelled' : 'error';
  if (tx.authorizationSent && state.auth?.responseCode === '00') await autoReversal(entry);
  delete entry.authCode;
  snapshot(tx, entry);
  entry.reason = screen;
  await finish(entry, status, screen, tx);
  await platform.log(status === 'error' ? 'warn' : 'info', 'charge ended early', { ref: entry.ref, kind, detail: detail.slice(0, 200) });
  if (status === 'cancelled') await screens.cancelled(screen);
  else await screens.error(screen);
  return { status, transactionRef: entry.ref };
}

export type { Transferable };
