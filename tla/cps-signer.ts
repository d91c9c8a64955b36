/**
 * The practitioner's CPS in the practice computer's reader. In the emulator this is a CPS card model
 * from emulator/cards profiles, driven by the same APDUs the device's applet sends
 * (applets/sesam-vitale/cards/cps.ts: read the card, VERIFY the PIN, MSE SET / PSO HASH / PSO CDS),
 * and lots are signed exactly as the device signs them (formats/cms.ts signCms, attached).
 *
 * The PIN is given by the caller (an option or DI_TLA_CPS_PIN); it goes to the card in one VERIFY
 * and is never kept, logged or put in an error message.
 */
import { createHash } from 'node:crypto';
import type { Bytes, Lease } from '../platform/sdk/api.js';
import type { CardModel } from '../emulator/cards/card.js';
import { loadCard, emulatorKeyDir } from '../emulator/cards/profiles.js';
import { cpsSignHash, readCps, selectCps, CPS_PIN_REFERENCE } from '../applets/sesam-vitale/cards/cps.js';
import { signCms } from '../applets/sesam-vitale/formats/cms.js';
import type { CpsRead } from '../applets/sesam-vitale/model.js';
import { billingEntity } from '../applets/sesam-vitale/rules/billing.js';
import { TlaError } from './client.js';
import { buildVerify } from '../platform/kernel/pin-block.js';

export const CPS_PIN_ENV = 'DI_TLA_CPS_PIN';

/** A lease over a card model in this process's own reader: what cards/cps.ts needs to talk to it. */
class LocalReaderLease implements Lease {
  readonly slot = 0;
  readonly token = 'tla-local-reader';
  readonly cardClass = 'cps';
  atr: string;
  constructor(private readonly card: CardModel) {
    this.atr = Buffer.from(card.reset()).toString('hex').toUpperCase();
  }
  async transmit(apdu: Bytes): Promise<Bytes> {
    const r = this.card.process(apdu);
    if (r === null) throw Object.assign(new Error('la carte CPS ne répond pas'), { code: 'E_TIMEOUT' });
    return r;
  }
  async reset(): Promise<Bytes> {
    const atr = this.card.reset();
    this.atr = Buffer.from(atr).toString('hex').toUpperCase();
    return atr;
  }
  async release(): Promise<void> {
    // The card stays in the computer's reader.
  }
}

export interface CpsSigner {
  readonly read: CpsRead;
  /** "RPPS"/"ADELI" national identifier of the holder (what the AMO checks against the invoices). */
  readonly nationalId: string;
  /** Whether one of the card's situations may sign lots for `billingNumber`. */
  maySignLotsFor(billingNumber: string): boolean;
  /** Attached CMS SignedData over `body`, by the card's signature key. */
  signLot(body: Uint8Array, signingTime: Date): Promise<Uint8Array>;
}

/** Reads the CPS and verifies its PIN; refuses with a message that never contains the PIN. */
export async function openCps(o: { profile: string; pin: string; keyDir?: string }): Promise<CpsSigner> {
  if (!/^[0-9]{4,8}$/.test(o.pin)) throw new TlaError('E_ARGS', `code porteur CPS absent ou mal formé (4 à 8 chiffres ; variable ${CPS_PIN_ENV})`, undefined, 'pin');
  let card: CardModel;
  try {
    card = await loadCard(o.profile, o.keyDir ?? emulatorKeyDir());
  } catch (err) {
    throw new TlaError('E_ARGS', `carte CPS ${JSON.stringify(o.profile)} introuvable : ${(err as Error).message.slice(0, 200)} (voir di cards list)`, undefined, 'cps');
  }
  if (card.kind !== 'cps') throw new TlaError('E_ARGS', `le profil ${JSON.stringify(o.profile)} n'est pas une carte CPS (${card.kind})`, undefined, 'cps');
  const lease = new LocalReaderLease(card);
  let read: CpsRead;
  try {
    read = await readCps(lease);
  } catch (err) {
    throw new TlaError('E_ARGS', `lecture de la carte CPS impossible : ${(err as Error).message.slice(0, 200)}`, undefined, 'cps');
  }
  // VERIFY on the CPS application (readCps leaves it selected), PIN block ascii-ff.
  await selectCps(lease);
  const digits = Uint8Array.from(o.pin, (c) => c.charCodeAt(0) - 0x30);
  const verify = buildVerify(CPS_PIN_REFERENCE, 'ascii-ff', digits, digits.length);
  digits.fill(0);
  let r: Uint8Array;
  try {
    r = await lease.transmit(verify);
  } finally {
    verify.fill(0);
  }
  const sw = ((r[r.length - 2] ?? 0) << 8) | (r[r.length - 1] ?? 0);
  if (sw === 0x6983) throw new TlaError('E_ARGS', 'carte CPS bloquée : débloquez-la (code PUK) avant de signer', undefined, 'pin');
  if ((sw & 0xfff0) === 0x63c0) throw new TlaError('E_ARGS', `code porteur CPS faux (essais restants : ${sw & 0x0f})`, undefined, 'pin');
  if (sw !== 0x9000) throw new TlaError('E_ARGS', `carte CPS : vérification du code refusée (${sw.toString(16).toUpperCase()})`, undefined, 'pin');

  return {
    read,
    nationalId: read.holder.nationalId,
    maySignLotsFor: (billing) => read.situations.some((s) => s.canSignLot && billingEntity(s) === billing),
    signLot: (body, signingTime) =>
      signCms({
        content: body,
        detached: false,
        signerCertDer: read.signCertDer,
        chainDer: [read.caCertDer],
        signingTime,
        digest: async (b) => new Uint8Array(createHash('sha256').update(b).digest()),
        signHash: async (h) => cpsSignHash(lease, h),
      }),
  };
}
