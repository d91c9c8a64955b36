/** The EMV contact card model (DESIGN §11): registration with the card registry. */
import { basename } from 'node:path';
import type { CardModelDefinition } from '../../registry.js';
import { buildEmvCard } from './card.js';
import { loadEmvIssuerKeys, loadIccKey } from './keys.js';
import { checkEmvProfile, EMV_PROFILE_SCHEMA } from './profile.js';

export { EmvCard, buildEmvCard, PSE_NAME, EMV_PIN_REFERENCE, EMV_DDOL } from './card.js';
export { loadEmvIssuerKeys, loadIccKey, emvCaPublicKeys, EMV_CA_INDEX, EMV_RIDS, type CaPublicKeyEntry, type EmvIssuerKeys } from './keys.js';
export { EMV_PROFILE_SCHEMA, type EmvProfile } from './profile.js';

export const emvModel: CardModelDefinition = {
  kind: 'emv',
  describe: 'EMV contact payment card: PSE, AIDs with priorities, GPO/AFL, SDA/DDA with a test PKI, offline PIN, GENERATE AC with a 3DES cryptogram',
  schema: EMV_PROFILE_SCHEMA,
  async createAsync(profile, source, ctx) {
    const checked = checkEmvProfile(profile, source);
    const profileName = basename(source, '.json');
    const keys = await loadEmvIssuerKeys(ctx.keyDir);
    const iccKey = await loadIccKey(ctx.keyDir, profileName);
    return buildEmvCard({ checked, profileName, keys, iccKey });
  },
};
