/** The generic test card as a registered model, and its protocol variant (same data, other ATR). */
import type { CardModelDefinition } from '../registry.js';
import { createTestCard, loadTestCardProfile } from '../test-card.js';
import { cardConfigFromProfile, type CardProfile } from '../framework/profile.js';

export const testCardModel: CardModelDefinition = {
  kind: 'test-card',
  describe: 'generic ISO 7816-4 test card (file system, PIN, echo command)',
  schema: { type: 'object', required: ['kind', 'atr', 'fileSystem'] },
  create(profile, source) {
    // The framework's own profile checker names the bad field; run it before building.
    cardConfigFromProfile(profile, source);
    return createTestCard({ profile: profile as CardProfile });
  },
};

export const testCardVariantModel: CardModelDefinition = {
  kind: 'test-card-variant',
  describe: 'a test card profile with another transmission protocol',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'base', 'protocol'],
    properties: { kind: { const: 'test-card-variant' }, description: { type: 'string' }, base: { type: 'string', pattern: '^[a-z0-9-]+$' }, protocol: { enum: ['T=0', 'T=1'] } },
  },
  create(profile) {
    const p = profile as { base: string; protocol: 'T=0' | 'T=1' };
    return createTestCard({ profile: loadTestCardProfile(p.base), protocol: p.protocol });
  },
};
