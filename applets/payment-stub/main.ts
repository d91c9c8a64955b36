/**
 * Payment applet: an EMV contact kernel (Books 1–4) for the payment domain.
 *
 * - onIntent({ action: 'charge', payload: { amount, currency, reference } }) runs one transaction
 *   and returns only { status, transactionRef, authCode? } (the policy's result fields).
 * - main() runs a merchant command left in the store under `command`: { action: 'reversal' } cancels
 *   the last approved payment, { action: 'batch' } sends the day's total, { action: 'recover' }
 *   closes transactions a crash interrupted (also done at start); the policy lets other domains
 *   ask for `charge` only.
 * Receipts and the journal stay in this domain's store (`tx/<ref>`, `receipt/last`).
 */
import type { IntentRequest, Transferable } from '../../platform/sdk/api.js';
import { batch, recoverInterrupted, reverseLast, type CommandResult } from './commands.js';
import { active, charge, type ChargeResult } from './transaction.js';

async function onStart(): Promise<void> {
  // No idle screen of its own: this domain is reached through intents and draws while it holds the
  // screen. An idle screen drawn at start would race the health applet's home screen for the display
  // (whichever domain started last won it).
  // A restart after a crash: close (and reverse) what was left mid-authorization.
  await recoverInterrupted();
}

async function onCardRemoved(e: { slot: number }): Promise<void> {
  if (active.channel && active.slot === e.slot) active.channel.removed = true;
}

async function onIntent(req: IntentRequest): Promise<ChargeResult> {
  if (req.action !== 'charge') return { status: 'error', transactionRef: '' };
  return charge(req.payload);
}

const COMMAND_KEY = 'command';

async function main(): Promise<Transferable> {
  const cmd = await platform.store.get(COMMAND_KEY);
  const action = typeof cmd === 'object' && cmd !== null && !Array.isArray(cmd) && !(cmd instanceof Uint8Array) ? cmd.action : undefined;
  if (action === undefined) return { status: 'idle' };
  await platform.store.delete(COMMAND_KEY);
  let r: CommandResult;
  if (action === 'reversal') r = await reverseLast();
  else if (action === 'batch') r = await batch();
  else if (action === 'recover') r = await recoverInterrupted();
  else r = { status: 'error', reason: 'unknown command' };
  return r;
}

Object.assign(globalThis, { onStart, onCardRemoved, onIntent, main });
