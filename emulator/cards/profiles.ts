/**
 * Card profiles by name, as `di eval --card`, `di start`'s console, the bench and tests insert them.
 * Profiles are data (emulator/cards/profiles/*.json); models are code (emulator/cards/models/).
 */
import { join } from 'node:path';
import type { CardModel } from './card.js';
import { registerAllModels } from './models/index.js';
import { createCardSync, listProfiles, loadCard as loadCardWith } from './registry.js';
import { repoRoot } from '../../platform/kernel/paths.js';

registerAllModels();

export function cardProfiles(): Array<{ name: string; describe: string; kind: string }> {
  return listProfiles().map((p) => ({ name: p.name, kind: p.kind, describe: p.description }));
}

/** Cards whose model needs nothing made on first use (the test cards). */
export function createCard(name: string): CardModel {
  return createCardSync(name);
}

/** Where the emulator's cards, PKI and acquirer keep the keys they make on first use. */
export function emulatorKeyDir(): string {
  return process.env.DI_EMULATOR_KEYS ?? join(repoRoot(), '.di-data', 'emulator-keys');
}

/** Any card; keys and certificates the models make are kept under `keyDir` (default emulatorKeyDir()). */
export function loadCard(name: string, keyDir = emulatorKeyDir()): Promise<CardModel> {
  return loadCardWith(name, { keyDir });
}
