/**
 * A generic ISO 7816-4 test card: one application with public, record and PIN-protected EFs, a
 * PIN, and an echo command for the benchmark. Its content is the JSON profile
 * profiles/test-card.json, so other fixtures can be added as data next to it.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from '../../platform/sdk/hex.js';
import { buildAtr, parseAtr, type Protocol } from './framework/atr.js';
import { IsoCard, ok, status, type IsoCardConfig } from './framework/iso-card.js';
import { cardConfigFromProfile, ProfileError, type CardProfile } from './framework/profile.js';
import { SW } from './framework/status.js';

export const TEST_CARD_AID = fromHex('F0 44 49 54 45 53 54 01');
export const TEST_CARD_PIN_REFERENCE = 0x01;
/** CLA and INS of the echo command (case 4: 80 EE 00 00 Lc data Le). */
export const TEST_CARD_ECHO = { cla: 0x80, ins: 0xee } as const;

const PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Where profiles live. From source this file sits beside profiles/; once bundled into dist/ it does
 * not, so walk up to the checkout's emulator/cards/profiles.
 */
function profileDirs(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [join(here, 'profiles')];
  let cur = here;
  for (let i = 0; i < 6; i++) {
    dirs.push(join(cur, 'emulator', 'cards', 'profiles'));
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return dirs;
}

/** Read and validate profiles/<name>.json. */
export function loadTestCardProfile(name = 'test-card'): CardProfile {
  if (!PROFILE_NAME.test(name)) {
    throw new ProfileError(name, '$', 'profile name must be lowercase letters, digits and dashes (no paths)');
  }
  const dirs = profileDirs();
  const file = dirs.map((d) => resolve(d, `${name}.json`)).find((f) => existsSync(f));
  if (!file) throw new ProfileError(name, '$', `no ${name}.json in ${dirs.join(', ')}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ProfileError(file, '$', `not valid JSON: ${(e as Error).message}`);
  }
  // Validate now so a broken profile fails at load time, not at the first command.
  cardConfigFromProfile(json, file);
  return json as CardProfile;
}

export interface TestCardOptions {
  /** A profile name under profiles/ or an already loaded profile. Default "test-card". */
  profile?: string | CardProfile;
  /** Rebuild the profile's ATR for this protocol (to exercise T=0 61xx/6Cxx). */
  protocol?: Protocol;
  /** Replace the ATR entirely; the card's protocol follows it unless `protocol` is also given. */
  atr?: Uint8Array;
  /** Start the PIN with this many tries left. */
  pinTriesLeft?: number;
  random?: (n: number) => Uint8Array;
}

export class TestCard extends IsoCard {
  constructor(config: IsoCardConfig) {
    super(config);
    this.register({ cla: TEST_CARD_ECHO.cla, ins: TEST_CARD_ECHO.ins, name: 'ECHO', handler: (c) => {
      if (c.p1 !== 0 || c.p2 !== 0) return status(SW.WRONG_P1P2);
      if (c.data.length === 0) return status(SW.WRONG_LENGTH);
      return ok(c.data);
    } });
  }
}

export function createTestCard(options: TestCardOptions = {}): TestCard {
  const profile = typeof options.profile === 'object' ? options.profile : loadTestCardProfile(options.profile ?? 'test-card');
  const config = cardConfigFromProfile(profile, typeof options.profile === 'string' ? options.profile : profile.kind);
  if (options.atr) {
    config.atr = options.atr;
  } else if (options.protocol) {
    if (config.atr instanceof Uint8Array) {
      // A raw ATR cannot be re-targeted field by field; keep its historical bytes at least.
      config.atr = buildAtr({ protocol: options.protocol, historical: parseAtr(config.atr).historical });
    } else {
      config.atr = { ...config.atr, protocol: options.protocol };
    }
  }
  if (options.protocol) config.protocol = options.protocol;
  if (options.pinTriesLeft !== undefined) {
    const pin = config.pins?.find((p) => p.reference === TEST_CARD_PIN_REFERENCE);
    if (!pin) throw new Error(`createTestCard: profile has no PIN reference ${TEST_CARD_PIN_REFERENCE} for pinTriesLeft`);
    pin.triesLeft = options.pinTriesLeft;
  }
  if (options.random) config.random = options.random;
  return new TestCard(config);
}
