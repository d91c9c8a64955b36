/**
 * Card profiles by name, as `di eval --card`, the bench and tests insert them. Each name maps to a
 * card model plus its data; the Vitale, CPS and EMV models register here as they arrive.
 */
import type { CardModel } from './card.js';
import { createTestCard } from './test-card.js';

const FACTORIES: Record<string, { describe: string; create: () => CardModel }> = {
  'test-card': { describe: 'generic ISO 7816 test card, T=1 (application F0444954455354 01, PIN 1234)', create: () => createTestCard() },
  'test-card-t0': { describe: 'the same test card speaking T=0 (61xx / 6Cxx behaviours)', create: () => createTestCard({ protocol: 'T=0' }) },
};

export function cardProfiles(): Array<{ name: string; describe: string }> {
  return Object.entries(FACTORIES).map(([name, f]) => ({ name, describe: f.describe }));
}

export function createCard(name: string): CardModel {
  const f = FACTORIES[name];
  if (!f) throw new Error(`unknown card profile ${JSON.stringify(name)}; known: ${Object.keys(FACTORIES).join(', ')}`);
  return f.create();
}
