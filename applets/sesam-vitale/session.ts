/**
 * In-isolate memory of who is at the desk: the CPS lease (kept while the card is in, because the
 * broker resets the card when a lease ends and the CPS would forget its verified PIN), what was
 * read, the chosen situation and whether the PIN is verified; the last Vitale read and the chosen
 * beneficiary (the Vitale lease is released after reading and taken again to authenticate).
 * Nothing here is durable: a restart asks for the cards again.
 */
import type { Lease } from '../../platform/sdk/api.js';
import type { CpsRead, CpsSituation, PractitionerRef, VitaleRead } from './model.js';
import { cpsSignHash, selectCps, verifyCpsPin } from './cards/cps.js';
import { vitaleAuthenticate } from './cards/vitale.js';
import { CardError, isCardRemoved } from './cards/errors.js';
import { signCms } from './formats/cms.js';
import { screens } from './screens.js';
import { billingEntity } from './rules/billing.js';

export interface CpsSession {
  slot: number;
  /** Null once the lease ended (expired, card reset): the next signature takes it again with the PIN. */
  lease: Lease | null;
  read: CpsRead;
  situationIndex: number;
  pinVerified: boolean;
}

export interface VitaleSession {
  slot: number;
  read: VitaleRead;
  selected: number;
}

export const session: { cps: CpsSession | null; vitale: VitaleSession | null } = { cps: null, vitale: null };

/** A refusal the practitioner can act on; actions turn it into `{ ok: false, error }`. */
export class ActionError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field = '',
  ) {
    super(message);
    this.name = 'ActionError';
  }
}

export function currentSituation(): CpsSituation | null {
  const c = session.cps;
  return c ? (c.read.situations[c.situationIndex] ?? null) : null;
}

// The billing entity of a situation (rules/billing.ts), re-exported for the applet's modules.
export { billingEntity };

export function practitionerRef(read: CpsRead, s: CpsSituation): PractitionerRef {
  const p: PractitionerRef = {
    nationalId: read.holder.nationalId,
    nom: read.holder.nom,
    prenom: read.holder.prenom,
    specialite: s.specialite,
    billingNumber: billingEntity(s),
    situationNumber: s.number,
    conventionCode: s.conventionCode,
    tariffZone: s.tariffZone,
    remplacant: s.remplacant,
  };
  if (s.replacedBillingNumber !== undefined) p.replacedBillingNumber = s.replacedBillingNumber;
  return p;
}

export async function releaseQuietly(lease: Lease | null): Promise<void> {
  if (!lease) return;
  try {
    await lease.release();
  } catch {
    // The lease may already be gone with the card: nothing to release.
  }
}

export function forgetCps(): void {
  const c = session.cps;
  session.cps = null;
  void releaseQuietly(c?.lease ?? null);
}

export function forgetVitale(): void {
  session.vitale = null;
}

/**
 * Secure PIN entry until it is verified, the card is blocked, the practitioner cancels or the tries
 * run out. Screens show tries left, never a digit.
 */
export async function enterPin(lease: Lease): Promise<boolean> {
  let prompt = 'Code porteur CPS puis OK';
  for (let round = 0; round < 3; round++) {
    const r = await verifyCpsPin(lease, prompt);
    if (r.ok) {
      await platform.ui.show(screens.pinOk());
      return true;
    }
    if (r.aborted) {
      await platform.ui.show(screens.pinAborted(r.aborted));
      return false;
    }
    if (r.blocked || r.triesLeft === 0) {
      await platform.ui.show(screens.cpsBlocked());
      return false;
    }
    await platform.ui.show(screens.wrongPin(r.triesLeft));
    // The kernel's PIN screen replaces ours at once: the next prompt carries the tries left.
    prompt = r.triesLeft === null ? 'Code faux : recommencez puis OK' : `Code faux (essais restants : ${r.triesLeft}) : recommencez puis OK`;
  }
  return false;
}

/** The CPS lease with a verified PIN: taken again (and the PIN asked again) after it was lost. */
export async function readyCps(): Promise<{ lease: Lease; cps: CpsSession }> {
  const c = session.cps;
  if (!c) throw new ActionError('E_CPS', 'Insérez la carte CPS du praticien', 'cps');
  if (!c.lease) {
    try {
      c.lease = await platform.slots.acquire(c.slot, { timeoutMs: 5000 });
    } catch {
      forgetCps();
      throw new ActionError('E_CPS', 'Carte CPS indisponible : retirez-la et insérez-la de nouveau', 'cps');
    }
    c.pinVerified = false;
  }
  if (!c.pinVerified) {
    await selectCps(c.lease);
    c.pinVerified = await enterPin(c.lease);
    if (!c.pinVerified) throw new ActionError('E_PIN', 'Code porteur CPS non vérifié : signature impossible', 'cps');
  }
  return { lease: c.lease, cps: c };
}

/** The lease ended or the card forgot its PIN (reset): mark it so the next try takes it again. */
function dropLease(c: CpsSession, err: unknown): void {
  if (isCardRemoved(err)) {
    void releaseQuietly(c.lease);
    c.lease = null;
  }
  c.pinVerified = false;
}

/**
 * CMS SignedData by the CPS over `content`. One retry after a lost lease or a forgotten PIN
 * (6982): the practitioner types the PIN again, nothing else is repeated.
 */
export async function cpsSignCms(content: Uint8Array, detached: boolean): Promise<Uint8Array> {
  for (let attempt = 0; ; attempt++) {
    const { lease, cps } = await readyCps();
    try {
      return await signCms({
        content,
        detached,
        signerCertDer: cps.read.signCertDer,
        chainDer: [cps.read.caCertDer],
        signingTime: new Date(await platform.clock.now()),
        digest: async (b) => platform.crypto.digest('SHA-256', b),
        signHash: async (h) => cpsSignHash(lease, h),
      });
    } catch (err) {
      const retry = isCardRemoved(err) || (err instanceof CardError && err.sw === 0x6982);
      if (!retry || attempt >= 1) throw err;
      dropLease(cps, err);
    }
  }
}

/** INTERNAL AUTHENTICATE on the Vitale card still in its slot; the lease is taken only for it. */
/** INTERNAL AUTHENTICATE by the Vitale card in the reader, which must be the invoice's card when it names one. */
export async function vitaleAuth(challenge: Uint8Array, expectedSerial?: string): Promise<{ auth: Uint8Array; certDer: Uint8Array; serial: string }> {
  const v = session.vitale;
  if (!v) throw new ActionError('E_VITALE', 'Insérez la carte Vitale du patient', 'vitale');
  if (expectedSerial !== undefined && v.read.serialNumber !== expectedSerial) {
    throw new ActionError('E_VITALE', `Ce n’est pas la carte Vitale de cette facture : insérez la carte n° ${expectedSerial}`, 'vitale');
  }
  let lease: Lease;
  try {
    lease = await platform.slots.acquire(v.slot, { timeoutMs: 5000 });
  } catch {
    forgetVitale();
    throw new ActionError('E_VITALE', 'Carte Vitale retirée : insérez-la de nouveau', 'vitale');
  }
  try {
    return { auth: await vitaleAuthenticate(lease, challenge), certDer: v.read.certDer, serial: v.read.serialNumber };
  } catch (err) {
    if (isCardRemoved(err)) forgetVitale();
    throw err;
  } finally {
    await releaseQuietly(lease);
  }
}
