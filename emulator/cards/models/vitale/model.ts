/**
 * The vitale-2 model as the registry sees it: profile schema, and a factory that takes the card's
 * key and certificate from the emulator PKI (Vitale CA), cached under ctx.keyDir.
 */
import { loadOrCreatePki, type IssuedIdentity } from '../../pki/index.js';
import type { CardModelDefinition, ModelContext } from '../../registry.js';
import { createVitaleCard, type VitaleCard } from './card.js';
import { parseVitaleProfile, VITALE_KIND, VITALE_PROFILE_SCHEMA, type VitaleProfile } from './profile.js';

/** PKI cache id of a card: the serial number names the card, so one serial is one key. */
export function vitaleIdentityId(profile: VitaleProfile): string {
  return `vitale:${profile.card.serialNumber}:auth`;
}

/** The card's identity from the PKI (made on first use, then read from the cache). */
export async function issueVitaleIdentity(profile: VitaleProfile, ctx: ModelContext): Promise<IssuedIdentity> {
  const pki = await loadOrCreatePki(ctx.keyDir);
  const serial = profile.card.serialNumber;
  // Valid from the card's issue date, so care dated before the key cache was made still verifies.
  const notBefore = new Date(`${profile.card.issueDate.slice(0, 4)}-${profile.card.issueDate.slice(4, 6)}-${profile.card.issueDate.slice(6, 8)}T00:00:00Z`);
  const notAfter = new Date(Date.UTC(notBefore.getUTCFullYear() + 10, notBefore.getUTCMonth(), notBefore.getUTCDate()));
  return pki.issue({ id: vitaleIdentityId(profile), ca: 'vitale', subject: { commonName: `CARTE VITALE TEST ${serial}`, serialNumber: serial }, usage: 'auth', notBefore, notAfter });
}

export async function createVitaleCardFromJson(json: unknown, source: string, ctx: ModelContext): Promise<VitaleCard> {
  const profile = parseVitaleProfile(json, source);
  const identity = await issueVitaleIdentity(profile, ctx);
  return createVitaleCard(profile, identity, { source });
}

export const vitaleModel: CardModelDefinition = {
  kind: VITALE_KIND,
  describe: 'Vitale 2 health insurance card (insured, beneficiaries, rights, AMC; certificate and INTERNAL AUTHENTICATE)',
  schema: VITALE_PROFILE_SCHEMA,
  createAsync: createVitaleCardFromJson,
};
