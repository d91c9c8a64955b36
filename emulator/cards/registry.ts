/**
 * Card models and their profiles. A profile is a JSON file in emulator/cards/profiles/ whose
 * `kind` names a registered model; the model's JSON schema validates it (errors name the file and
 * the field) and its factory builds the card. Models that need keys made on first use (CPS, EMV)
 * create cards asynchronously: use `loadCard`; `createCard` serves the synchronous ones.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { CardModel } from './card.js';

export interface ModelContext {
  /** Where models keep keys and certificates they make on first use (shared by all cards of a run). */
  keyDir: string;
}

export interface CardModelDefinition {
  kind: string;
  describe: string;
  /** JSON Schema of the profile (draft-07); `kind` and `description` are always allowed. */
  schema: object;
  /** Synchronous factory, when the model needs nothing made on first use. */
  create?(profile: unknown, source: string): CardModel;
  createAsync?(profile: unknown, source: string, ctx: ModelContext): Promise<CardModel>;
}

export class CardProfileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`card profile ${file}: ${field}: ${reason}`);
    this.name = 'CardProfileError';
  }
}

const models = new Map<string, { def: CardModelDefinition; validate: ValidateFunction }>();
const ajv = new Ajv({ allErrors: false, strict: false });

export function registerModel(def: CardModelDefinition): void {
  if (models.has(def.kind)) throw new Error(`card model ${def.kind} registered twice`);
  models.set(def.kind, { def, validate: ajv.compile(def.schema) });
}

/** The profiles directory, from sources or from the dist/ bundle. */
export function profilesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const cand of [join(dir, 'profiles'), join(dir, 'emulator', 'cards', 'profiles')]) {
      if (existsSync(join(cand, 'test-card.json'))) return cand;
    }
    dir = dirname(dir);
  }
  throw new Error('card profiles directory (emulator/cards/profiles) not found');
}

function profileFiles(): string[] {
  const root = profilesDir();
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.json') && !e.name.endsWith('.schema.json')) out.push(join(d, e.name));
    }
  };
  walk(root);
  return out.sort();
}

export interface LoadedProfile {
  name: string;
  kind: string;
  description: string;
  file: string;
  data: unknown;
}

export function loadProfile(name: string): LoadedProfile {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) throw new CardProfileError(name, '/', 'a profile name is lowercase letters, digits and dashes');
  const file = profileFiles().find((f) => basename(f, '.json') === name);
  if (!file) throw new Error(`unknown card profile ${JSON.stringify(name)}; known: ${listProfiles().map((p) => p.name).join(', ')}`);
  return readProfile(file);
}

function readProfile(file: string): LoadedProfile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CardProfileError(file, '/', `not valid JSON (${(e as Error).message})`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new CardProfileError(file, '/', 'must be an object');
  const kind = (data as { kind?: unknown }).kind;
  if (typeof kind !== 'string') throw new CardProfileError(file, '/kind', 'missing: the card model this profile is for');
  const m = models.get(kind);
  if (!m) throw new CardProfileError(file, '/kind', `unknown card model ${JSON.stringify(kind)} (known: ${[...models.keys()].join(', ')})`);
  if (!m.validate(data)) {
    const e = m.validate.errors?.[0];
    throw new CardProfileError(file, e?.instancePath || '/', `${e?.message ?? 'invalid'}${e?.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  }
  const description = (data as { description?: unknown }).description;
  return { name: basename(file, '.json'), kind, description: typeof description === 'string' ? description : '', file, data };
}

export function listProfiles(): Array<{ name: string; kind: string; description: string }> {
  return profileFiles().flatMap((f) => {
    try {
      const p = readProfile(f);
      return [{ name: p.name, kind: p.kind, description: p.description }];
    } catch {
      return [];
    }
  });
}

/** Validates every profile; returns the errors (a broken profile never hides among good ones). */
export function checkAllProfiles(): CardProfileError[] {
  const errors: CardProfileError[] = [];
  for (const f of profileFiles()) {
    try {
      readProfile(f);
    } catch (e) {
      errors.push(e instanceof CardProfileError ? e : new CardProfileError(f, '/', (e as Error).message));
    }
  }
  return errors;
}

export function createCardSync(name: string): CardModel {
  const p = loadProfile(name);
  const def = models.get(p.kind)?.def;
  if (!def?.create) throw new Error(`card profile ${name} (${p.kind}) is made asynchronously: use loadCard()`);
  return def.create(p.data, p.file);
}

export async function loadCard(name: string, ctx: ModelContext): Promise<CardModel> {
  const p = loadProfile(name);
  const def = models.get(p.kind)?.def as CardModelDefinition;
  if (def.createAsync) return def.createAsync(p.data, p.file, ctx);
  if (def.create) return def.create(p.data, p.file);
  throw new Error(`card model ${p.kind} has no factory`);
}
