/**
 * SESAM-Vitale applet: reads the CPS (PIN by the kernel's secure entry) and the Vitale card, makes
 * FSE/DRE secured by both cards, groups them in lots signed by the CPS, sends files to the AMO by
 * SMTP and reads ARL/RSP returns by POP3, all through the platform API. The practitioner's commands
 * arrive as actions (actions.ts); card events drive the session (session.ts).
 */
import './formats/text-shim.js';
import type { ActionRequest, CardEvent, HostLinkRequest, Screen, Transferable } from '../../platform/sdk/api.js';
import type { InvoiceRecord } from './model.js';
import { readCps } from './cards/cps.js';
import { readVitale } from './cards/vitale.js';
import { CardError } from './cards/errors.js';
import { checkNir } from './rules/nir.js';
import { dispatch } from './actions.js';
import { beneficiaryLabel, maskNir, screens, situationLabel } from './screens.js';
import { enterPin, forgetCps, forgetVitale, releaseQuietly, session } from './session.js';
import { withLock } from './pipeline/lock.js';
import { keys, listAs } from './pipeline/keys.js';
import { sendFiles } from './pipeline/transmit.js';
import { computeStatus, deviceOffline, todayUtc } from './pipeline/status.js';
import { handleHostRequest } from './tla/requests.js';
import { currentDayData, loadedSituationIndex } from './tla/day-data.js';
import { purgeSeen, recordVitaleRead } from './tla/seen.js';

/** The home screen, with the portable-mode lines when files wait for the network. */
async function homeScreen(toSecure: number[] = []): Promise<Screen> {
  // The files say whether the device is out of network; only then are all invoices read (deadlines).
  if (!(await deviceOffline())) return screens.home(toSecure);
  const today = todayUtc(await platform.clock.now());
  const s = await computeStatus(today);
  return s.portable.offline ? screens.home(toSecure, { status: s.portable, late: s.late.length, today }) : screens.home(toSecure);
}

async function purgeQuietly(): Promise<void> {
  try {
    await purgeSeen();
  } catch (err) {
    await platform.log('warn', 'purge of Vitale reads failed', { error: (err as { code?: string } | null)?.code ?? 'error' });
  }
}

async function onStart(): Promise<void> {
  await withLock(async () => {
    // Resume: invoices a crash left between numbering and signature are listed, never sent unsigned.
    const toSecure = (await listAs<InvoiceRecord>(keys.invoices())).filter((x) => x.value.state === 'created').map((x) => x.value.data.invoiceNo);
    await platform.ui.show(await homeScreen(toSecure));
    await purgeQuietly();
    // Files waiting for a retry are tried now (then every minute by the policy's retry timer).
    try {
      const sent = await sendFiles(false);
      // The home screen again when the attempt changed what it says (sent, or out of network now).
      if (sent.sent.length > 0 || sent.waiting.length > 0) await platform.ui.show(await homeScreen(toSecure));
    } catch (err) {
      await platform.log('warn', 'retry at start failed', { error: (err as { code?: string } | null)?.code ?? 'error' });
    }
  });
}

async function choose(title: string, text: string, choices: string[]): Promise<number> {
  if (choices.length <= 1) return 0;
  const a = await platform.ui.ask({ title, text, choices: choices.map((c) => c.slice(0, 64)), timeoutMs: 120_000 });
  return a.choice >= 0 && a.choice < choices.length ? a.choice : 0;
}

async function insertedCps(slot: number): Promise<void> {
  if (session.cps) forgetCps();
  const lease = await platform.slots.acquire(slot, { timeoutMs: 5000 });
  try {
    const read = await readCps(lease);
    // The situation the practice computer loaded for today is chosen without asking.
    const loaded = loadedSituationIndex(await currentDayData(), todayUtc(await platform.clock.now()), read.situations);
    const index = loaded >= 0 ? loaded : await choose('Carte CPS', 'Choisissez la situation d’exercice', read.situations.map(situationLabel));
    session.cps = { slot, lease, read, situationIndex: index, pinVerified: false };
    await platform.ui.show(screens.cpsRead(read, read.situations[index] ?? null));
    session.cps.pinVerified = await enterPin(lease);
    if (session.cps?.pinVerified) await platform.ui.show(screens.cpsRead(read, read.situations[index] ?? null));
  } catch (err) {
    if (session.cps?.lease === lease) session.cps = null;
    await releaseQuietly(lease);
    throw err;
  }
}

async function insertedVitale(slot: number): Promise<void> {
  forgetVitale();
  const lease = await platform.slots.acquire(slot, { timeoutMs: 5000 });
  let read;
  try {
    read = await readVitale(lease);
  } finally {
    await releaseQuietly(lease);
  }
  for (const nir of [read.insured.nir, ...read.beneficiaries.map((b) => b.nir).filter((n): n is string => n !== undefined)]) {
    const c = checkNir(nir);
    if (!c.ok) {
      // The reason quotes the NIR: the screen names it masked, like every summary screen.
      await platform.ui.show(screens.badNir(maskNir(nir)));
      return;
    }
  }
  try {
    // Kept for the practice computer (beneficiaries.unload); NIRs never go to the log.
    await recordVitaleRead(read);
  } catch (err) {
    await platform.log('warn', 'Vitale read not recorded', { error: (err as { code?: string } | null)?.code ?? 'error' });
  }
  const day = todayUtc(await platform.clock.now());
  const selected = await choose('Carte Vitale', 'Choisissez le bénéficiaire', read.beneficiaries.map(beneficiaryLabel));
  session.vitale = { slot, read, selected };
  const b = read.beneficiaries[selected]!;
  const open = b.rights.start <= day && (b.rights.end === undefined || day <= b.rights.end);
  await platform.ui.show(open ? screens.vitaleRead(read.beneficiaries, maskNir(read.insured.nir), selected, true) : screens.rightsClosed(b, day));
}

async function onCardInserted(e: CardEvent): Promise<void> {
  await withLock(async () => {
    try {
      if (e.cardClass === 'cps') await insertedCps(e.slot);
      else if (e.cardClass === 'vitale') await insertedVitale(e.slot);
    } catch (err) {
      const message = err instanceof CardError ? err.message : `Carte illisible (${(err as { code?: string } | null)?.code ?? 'erreur'})`;
      await platform.ui.show(screens.cardError(message));
      await platform.log('warn', 'card read failed', { cardClass: e.cardClass, error: err instanceof CardError ? `${err.kind}` : String((err as { code?: string } | null)?.code ?? 'error') });
    }
  });
}

async function onCardRemoved(e: { slot: number }): Promise<void> {
  // No lock: a removal must reach the session even while an action waits on the card.
  if (session.cps?.slot === e.slot) {
    forgetCps();
    await platform.ui.show(await homeScreen());
  }
  if (session.vitale?.slot === e.slot) forgetVitale();
}

async function onAction(req: ActionRequest): Promise<Transferable> {
  return dispatch(req);
}

/** The policy's `retry` timer: files waiting for a retry go when their back-off is over, unasked. */
async function onTimer(e: { name: string }): Promise<void> {
  if (e.name !== 'retry') return;
  await withLock(async () => {
    await purgeQuietly();
    try {
      await sendFiles(false);
    } catch (err) {
      await platform.log('warn', 'timed retry failed', { error: (err as { code?: string } | null)?.code ?? 'error' });
    }
  });
}

/** The practice computer over the TLA host link (tla/requests.ts): data.load, fse.unload, beneficiaries.unload, erase. */
async function onHostRequest(req: HostLinkRequest): Promise<Transferable> {
  return handleHostRequest(req);
}

Object.assign(globalThis, { onStart, onCardInserted, onCardRemoved, onAction, onTimer, onHostRequest });
